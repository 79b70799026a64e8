package serviceacct

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// FileError is a problem with one file: the account it holds (if any) is
// not served.
type FileError struct {
	Path string
	Err  error
}

func (e *FileError) Error() string { return e.Path + ": " + e.Err.Error() }
func (e *FileError) Unwrap() error { return e.Err }

// Accounts is every loaded account at one moment, immutable and safe for
// concurrent use. A nil *Accounts holds none.
type Accounts struct {
	byID map[string]Account
}

// Lookup returns the account with id (a copy), enabled or not.
func (s *Accounts) Lookup(id string) (Account, bool) {
	if s == nil {
		return Account{}, false
	}
	a, ok := s.byID[id]
	a.Roles = slices.Clone(a.Roles)
	return a, ok
}

// Tenant returns a tenant's accounts, oldest first.
func (s *Accounts) Tenant(tenant string) []Account {
	var out []Account
	if s == nil {
		return nil
	}
	for _, a := range s.byID {
		if a.Tenant == tenant {
			a.Roles = slices.Clone(a.Roles)
			out = append(out, a)
		}
	}
	sortAccounts(out)
	return out
}

// Len is the number of accounts.
func (s *Accounts) Len() int {
	if s == nil {
		return 0
	}
	return len(s.byID)
}

type cachedRecord struct {
	sum [sha256.Size]byte
	a   Account
	err error
}

type found struct {
	path string
	a    Account
}

// readTenant reads a tenant's account records. Files whose name is not
// <id>.json for the id inside, or that belong to another tenant, are
// errors. Hidden files (durable's temporary files) and other names are
// skipped.
func readTenant(dataDir, tenant string, cache map[string]cachedRecord, visited map[string]bool) ([]found, []error, error) {
	dir := AccountsDir(dataDir, tenant)
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read service accounts: %w", err)
	}
	var out []found
	var errs []error
	for _, e := range ents {
		name := e.Name()
		if strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".json") {
			continue
		}
		path := filepath.Join(dir, name)
		if visited != nil {
			visited[path] = true
		}
		data, err := readLimited(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, &FileError{path, err})
			continue
		}
		sum := sha256.Sum256(data)
		c, ok := cache[path]
		if !ok || c.sum != sum {
			c = cachedRecord{sum: sum}
			c.a, c.err = DecodeAccount(data)
			if c.err == nil && c.a.ID+".json" != name {
				c.err = fmt.Errorf("%w: holds account %s; the file must be named %s.json", ErrInvalidRecord, c.a.ID, c.a.ID)
			}
			if c.err == nil && c.a.Tenant != tenant {
				c.err = fmt.Errorf("%w: holds an account of tenant %q", ErrInvalidRecord, clip(c.a.Tenant))
			}
			if cache != nil {
				cache[path] = c
			}
		}
		if c.err != nil {
			errs = append(errs, &FileError{path, c.err})
			continue
		}
		out = append(out, found{path, c.a})
	}
	return out, errs, nil
}

// loadAll reads every tenant's accounts. Problems with files come back in
// errs (those accounts are left out); err is for a tenants directory that
// cannot be read.
func loadAll(dataDir string, valid func(string) bool, cache map[string]cachedRecord) (map[string]Account, []error, error) {
	if valid == nil {
		valid = pathSafe
	}
	tenantsDir := filepath.Join(dataDir, "cfg", "tenants")
	ents, err := os.ReadDir(tenantsDir)
	if errors.Is(err, fs.ErrNotExist) {
		clear(cache)
		return map[string]Account{}, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read service accounts: %w", err)
	}
	var errs []error
	paths := map[string][]string{} // id → files
	byID := map[string]Account{}
	visited := map[string]bool{}
	for _, e := range ents {
		tenant := e.Name()
		if strings.HasPrefix(tenant, ".") {
			continue
		}
		if fi, err := os.Stat(filepath.Join(tenantsDir, tenant)); err != nil || !fi.IsDir() {
			continue
		}
		if !valid(tenant) {
			if _, err := os.Stat(AccountsDir(dataDir, tenant)); err == nil {
				errs = append(errs, &FileError{AccountsDir(dataDir, tenant), fmt.Errorf("%w: %q is not a valid tenant name", ErrInvalidRecord, clip(tenant))})
			}
			continue
		}
		accts, ferrs, err := readTenant(dataDir, tenant, cache, visited)
		if err != nil {
			errs = append(errs, &FileError{AccountsDir(dataDir, tenant), err})
			continue
		}
		errs = append(errs, ferrs...)
		for _, f := range accts {
			paths[f.a.ID] = append(paths[f.a.ID], f.path)
			byID[f.a.ID] = f.a
		}
	}
	for id, ps := range paths {
		if len(ps) > 1 {
			delete(byID, id)
			for _, p := range ps {
				errs = append(errs, &FileError{p, fmt.Errorf("%w: account %s is in %d tenants; none of them is served", ErrInvalidRecord, id, len(ps))})
			}
		}
	}
	for p := range cache {
		if !visited[p] {
			delete(cache, p)
		}
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return byID, errs, nil
}

// Load reads every tenant's accounts once. Bad files are left out and
// returned (errors.Join of *FileError) beside the rest; only a tenants
// directory that cannot be read returns a nil *Accounts.
func Load(dataDir string, validTenant func(string) bool) (*Accounts, error) {
	byID, errs, err := loadAll(dataDir, validTenant, nil)
	if err != nil {
		return nil, err
	}
	return &Accounts{byID: byID}, errors.Join(errs...)
}

// DefaultInterval is how often a Registry looks for changed records.
const DefaultInterval = 2 * time.Second

// RegistryConfig configures a Registry; the zero value works.
type RegistryConfig struct {
	DataDir string

	// ValidTenant is the ledger's tenant-name rule (span.ValidTenant);
	// nil accepts any single path element.
	ValidTenant func(string) bool

	Interval time.Duration    // polling period; DefaultInterval if zero
	Logger   *slog.Logger     // changes and problems; discarded if nil
	Now      func() time.Time // time.Now if nil
}

// RegistryStatus is what the last reload found.
type RegistryStatus struct {
	Checked  time.Time
	Accounts int
	Err      error        // the directory could not be read; the previous accounts stay
	Problems []*FileError // files skipped, sorted
}

// Registry serves every tenant's service accounts from
// DATA/cfg/tenants/*/service-accounts/*.json, re-read every Interval. A
// file that turns bad is skipped — its account stops working — and
// reported (slog once per distinct problem, and Status): unlike a
// tenant.yaml, an account record is not kept at its last good version,
// because the edit may have been meant to disable it. Lookup is
// lock-free.
type Registry struct {
	cfg RegistryConfig
	cur atomic.Pointer[Accounts]

	mu     sync.Mutex // guards cache, status and the reloads
	cache  map[string]cachedRecord
	status RegistryStatus
}

// NewRegistry loads the accounts once. Only an unreadable tenants
// directory is an error; bad files are reported by Status.
func NewRegistry(ctx context.Context, cfg RegistryConfig) (*Registry, error) {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r := &Registry{cfg: cfg, cache: map[string]cachedRecord{}}
	r.cur.Store(&Accounts{byID: map[string]Account{}})
	if _, err := r.reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// Current returns the accounts in force.
func (r *Registry) Current() *Accounts { return r.cur.Load() }

// Lookup finds an account by id in the accounts in force.
func (r *Registry) Lookup(id string) (Account, bool) { return r.Current().Lookup(id) }

// Status returns what the last reload found.
func (r *Registry) Status() RegistryStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.status
	s.Problems = slices.Clone(s.Problems)
	return s
}

// Reload re-reads the records now and returns the problems found
// (errors.Join of *FileError, nil if none) or the directory error.
func (r *Registry) Reload() error {
	errs, err := r.reload()
	if err != nil {
		return err
	}
	return errors.Join(errs...)
}

// Run reloads every Interval until ctx is done, then returns nil.
func (r *Registry) Run(ctx context.Context) error {
	t := time.NewTicker(r.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			r.reload()
		}
	}
}

func (r *Registry) reload() ([]error, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	log := r.cfg.Logger
	r.status.Checked = r.cfg.Now()
	byID, errs, err := loadAll(r.cfg.DataDir, r.cfg.ValidTenant, r.cache)
	if err != nil {
		if r.status.Err == nil || r.status.Err.Error() != err.Error() {
			log.Error("service accounts: keeping the accounts loaded before", "err", err)
		}
		r.status.Err = err
		return nil, err
	}
	r.status.Err = nil

	prev := r.cur.Load()
	for id, a := range byID {
		old, had := prev.byID[id]
		switch {
		case !had:
			log.Info("service account loaded", "account", id, "tenant", a.Tenant, "roles", a.Roles, "disabled", a.Disabled)
		case a.Disabled && !old.Disabled:
			log.Info("service account disabled", "account", id, "tenant", a.Tenant)
		case !equalAccounts(old, a):
			log.Info("service account changed", "account", id, "tenant", a.Tenant, "roles", a.Roles, "disabled", a.Disabled)
		}
	}
	for id, old := range prev.byID {
		if _, ok := byID[id]; !ok {
			log.Info("service account no longer served", "account", id, "tenant", old.Tenant)
		}
	}
	before := map[string]string{}
	for _, p := range r.status.Problems {
		before[p.Path] = p.Err.Error()
	}
	problems := make([]*FileError, 0, len(errs))
	for _, e := range errs {
		fe := e.(*FileError)
		problems = append(problems, fe)
		if before[fe.Path] != fe.Err.Error() {
			log.Warn("service account file skipped", "file", fe.Path, "err", fe.Err)
		}
	}
	r.status.Problems = problems
	r.status.Accounts = len(byID)
	if !maps.EqualFunc(prev.byID, byID, equalAccounts) {
		r.cur.Store(&Accounts{byID: byID})
	}
	return errs, nil
}

func equalAccounts(a, b Account) bool {
	return a.ID == b.ID && a.Tenant == b.Tenant && a.Name == b.Name && slices.Equal(a.Roles, b.Roles) &&
		a.KeyID == b.KeyID && a.PublicKey.Equal(b.PublicKey) && a.Created.Equal(b.Created) &&
		a.Disabled == b.Disabled && a.DisabledAt.Equal(b.DisabledAt)
}
