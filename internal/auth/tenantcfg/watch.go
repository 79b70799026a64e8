package tenantcfg

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultInterval is how often a Watcher looks for changed files.
const DefaultInterval = 2 * time.Second

// Config configures a Watcher. The zero value watches nothing useful
// (DataDir "" is the current directory) but works.
type Config struct {
	DataDir string // the server's data directory; files are under TenantsDir(DataDir)

	// ValidTenant is the ledger's tenant-name rule (span.ValidTenant);
	// nil accepts any single path element.
	ValidTenant func(string) bool

	Interval time.Duration    // polling period; DefaultInterval if zero
	Logger   *slog.Logger     // changes and problems; discarded if nil
	Now      func() time.Time // time.Now if nil
}

// State says which configuration is in force for a tenant.
type State string

const (
	// StateOK: the tenant's file is valid and in force.
	StateOK State = "ok"
	// StateStale: the file is invalid; the last valid version stays in force.
	StateStale State = "stale"
	// StateInvalid: the file is invalid and was never valid since the
	// Watcher started; the tenant's Defaults apply.
	StateInvalid State = "invalid"
)

// TenantStatus is what a Watcher knows about one tenant's file.
type TenantStatus struct {
	Tenant  string
	File    string
	State   State
	Digest  string    // of the configuration in force; "" under StateInvalid
	Applied time.Time // when the configuration in force was loaded
	Errors  ErrorList // why the file is refused; empty under StateOK
}

// Status is the Watcher's report, for logs, `/readyz` details and an
// admin page.
type Status struct {
	Checked time.Time      // the last reload
	Err     error          // the tenants directory could not be read (the previous Snapshot stays)
	Tenants []TenantStatus // sorted by tenant
}

// Problems returns every error in the status, sorted; empty when all is
// well.
func (s Status) Problems() ErrorList {
	var out ErrorList
	for _, t := range s.Tenants {
		out = append(out, t.Errors...)
	}
	out.Sort()
	return out
}

// Watcher keeps the current Snapshot of every tenant's configuration,
// re-reading the files every Interval. A file that becomes invalid keeps
// its tenant's last valid configuration in force and is reported (slog
// and Status); a new valid file adds its tenant; a removed file removes
// it (Defaults apply again). Current is lock-free; Reload and Run may be
// called from any goroutine.
type Watcher struct {
	cfg Config
	cur atomic.Pointer[Snapshot]

	mu     sync.Mutex // guards loader, status and the reloads themselves
	loader loader
	status Status
}

// New reads the configuration once and returns a Watcher serving it. Only
// an unreadable tenants directory is an error: invalid tenant files are
// logged and reported by Status, so that one tenant's typo cannot stop
// the server. ctx bounds nothing yet and is kept for symmetry with Run.
func New(ctx context.Context, cfg Config) (*Watcher, error) {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	w := &Watcher{cfg: cfg}
	w.loader = loader{dir: TenantsDir(cfg.DataDir), valid: cfg.ValidTenant, cache: map[string]cached{}}
	w.cur.Store(&Snapshot{tenants: map[string]*Tenant{}})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if _, err := w.reload(); err != nil {
		return nil, err
	}
	return w, nil
}

// Current returns the configuration in force. It never blocks; the
// returned Snapshot does not change (a reload publishes a new one).
func (w *Watcher) Current() *Snapshot { return w.cur.Load() }

// Status returns what the last reload found.
func (w *Watcher) Status() Status {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.status
	s.Tenants = slices.Clone(s.Tenants)
	return s
}

// Reload re-reads the files now. It returns the problems found
// (an ErrorList, nil when every file is valid) or the error reading the
// directory; either way the Snapshot in force is the best available.
func (w *Watcher) Reload() error {
	errs, err := w.reload()
	if err != nil {
		return err
	}
	return errs.Err()
}

// Run reloads every Interval until ctx is done, then returns nil.
func (w *Watcher) Run(ctx context.Context) error {
	t := time.NewTicker(w.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			w.reload() // problems are logged and kept in Status
		}
	}
}

func (w *Watcher) reload() (ErrorList, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	log := w.cfg.Logger
	now := w.cfg.Now()
	results, err := w.loader.load()
	w.status.Checked = now
	if err != nil {
		if w.status.Err == nil || w.status.Err.Error() != err.Error() {
			log.Error("tenant configuration: keeping the previous configuration", "err", err)
		}
		w.status.Err = err
		return nil, err
	}
	if w.status.Err != nil {
		log.Info("tenant configuration: directory readable again", "dir", w.loader.dir)
		w.status.Err = nil
	}

	prev := w.cur.Load()
	before := map[string]TenantStatus{}
	for _, ts := range w.status.Tenants {
		before[ts.Tenant] = ts
	}
	next := map[string]*Tenant{}
	var statuses []TenantStatus
	var all ErrorList
	for _, r := range results {
		old, had := prev.Tenant(r.tenant)
		was := before[r.tenant]
		ts := TenantStatus{Tenant: r.tenant, File: r.file}
		switch {
		case r.t != nil:
			next[r.tenant] = r.t
			ts.State, ts.Digest, ts.Applied = StateOK, r.t.digest, was.Applied
			if !had || old.digest != r.t.digest || old.file != r.t.file {
				ts.Applied = now
				msg := "tenant configuration loaded"
				if had {
					msg = "tenant configuration updated"
				}
				log.Info(msg, "tenant", r.tenant, "file", r.file, "digest", short(r.t.digest))
			} else if was.State != StateOK {
				log.Info("tenant configuration valid again", "tenant", r.tenant, "file", r.file)
			}
		case had:
			next[r.tenant] = old
			ts.State, ts.Digest, ts.Applied, ts.Errors = StateStale, old.digest, was.Applied, r.errs
		default:
			ts.State, ts.Errors = StateInvalid, r.errs
		}
		if len(ts.Errors) > 0 {
			all = append(all, ts.Errors...)
			if was.State != ts.State || was.Errors.Lines() != ts.Errors.Lines() {
				keeping := "the tenant's defaults apply"
				if ts.State == StateStale {
					keeping = "keeping its previous configuration"
				}
				log.Warn("tenant configuration invalid; "+keeping, "tenant", r.tenant, "file", r.file, "errors", ts.Errors.Lines())
			}
		}
		statuses = append(statuses, ts)
	}
	for _, name := range prev.Names() {
		if _, ok := next[name]; !ok {
			log.Info("tenant configuration removed; defaults apply", "tenant", name)
		}
	}
	slices.SortFunc(statuses, func(a, b TenantStatus) int { return strings.Compare(a.Tenant, b.Tenant) })
	w.status.Tenants = statuses
	if !sameTenants(prev.tenants, next) {
		w.cur.Store(&Snapshot{tenants: next})
	}
	all.Sort()
	return all, nil
}

func sameTenants(a, b map[string]*Tenant) bool {
	return maps.EqualFunc(a, b, func(x, y *Tenant) bool { return x == y })
}

func short(digest string) string {
	if len(digest) > 12 {
		return digest[:12]
	}
	return digest
}
