package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/logline/logline/internal/auth/tenantcfg"
	"github.com/logline/logline/internal/dataplane"
	"github.com/logline/logline/internal/derive"
	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/ledger/pgstore"
	"github.com/logline/logline/internal/ledger/segment"
	"github.com/logline/logline/internal/lll/eval"
	"github.com/logline/logline/internal/lll/ir"
	"github.com/logline/logline/internal/span"
	"github.com/logline/logline/internal/tlog"
)

type replayOptions struct {
	data     string
	store    string // a PostgreSQL ledger instead of the embedded one
	state    string // the worker's saved state; DATA/derive/state.json when ""
	policy   string // replaces every tenant's program
	tenant   string // replay this tenant only
	from     uint64
	verify   bool
	backfill bool // append the derived spans the data plane shed
	json     bool
	examples int
	budget   int // bytes of re-derived spans held (replayBudget when 0; tests)
}

func (a *app) newReplay() *cobra.Command {
	var o replayOptions
	cmd := &cobra.Command{
		Use:   "replay [--data DIR | --store URL --data DIR] [--from INDEX] [--policy P.lll|P.yaml] [--tenant T] --verify [--backfill]",
		Short: "Re-derive the data plane from the ledger and compare with the derived spans stored in it",
		Long: `Re-derive trajectories, scores and candidates (docs/quality.md) from the
ledger and compare them with the derived spans stored in it: the v8
shadow run. A fresh engine applies every entry in log order — clock spans
included, so timeout closes happen where they happened — and closes
nothing at the end (a server never reaches an end of input). Each
tenant's entries are derived with the policy the data plane recorded in
the ledger for them (its derivation_policy records: the feature flags
and the program, embedded, or named by its SHA-256 when larger than
40,000 bytes encoded); entries before a tenant's first record, with its
programs and feature flags loaded from DIR/cfg/tenants as 'logline
serve' loads them. A re-derived span and a stored one (who
system:trajectory) are the same when they have the same id and the same
content: the stored entry is the re-derived span's canonical form,
curr_hash included, with its server fields.

--verify reports, per tenant, with the first ids of each kind:
  missing    re-derived but not stored, though the server's data plane
             has passed the span that causes it;
  extra      stored but not re-derived;
  different  stored with the same id and other content.
The divergence is their sum. Re-derived spans whose cause lies at or
after the cursor of the data plane's saved state (DIR/derive/state.json,
or --state FILE; the worker saves it only once the derived spans before
the cursor are durable) are "not derived yet": the server derives them
when it runs next; they are not divergence, nor are the spans it shed
under derived_events_perf, as its derivation_shed records say ("shed").
The saved state itself is compared with the re-derived engine's state at
its cursor (a restart resumes from it): a tenant's open trajectories,
watermark or score history that differ fail like divergence; counters
alone do not. Exit 0 when the divergence is 0 and the state agrees, 1
otherwise. A record that names its program by its hash only, when the
tenant's program now has another, cannot be verified: the report names
the tenant, the log index range and the hash, the tenant's derived
spans from there on are not compared ("not verifiable"), and replay
exits 2 (unless it found divergence: 1) — put that program back in
cfg/tenants/T to verify them.

--policy P.lll|P.yaml replaces every tenant's programs for the run,
and the records are ignored; the feature flags come from tenant.yaml (a tenant with
features.trajectory off derives nothing: see 'logline quality simulate'
for it). The same report then says what the policy would change: the
derived spans it would add, those it would no longer derive and those
it would change. Exit 0 unless the policy does not compile (2).

--from INDEX still re-derives from log index 0 — the state at INDEX
depends on every entry before it, and replay does not trust the saved
state it checks — but compares only the derived spans caused by entries
at log index INDEX or later (a stored derived span's cause is the span
its related_to names).

--backfill (with --verify, on a data directory) then appends the shed
spans, re-derived, to the ledger — signed into its log as serve signs —
so that the derived data is whole; what is missing for another reason is
left alone and still reported.

The data directory must not be in use by a running server (stop it, or
replay a restored backup). With --store postgres://USER@HOST/DB the ledger
in PostgreSQL is replayed, servers running or not, up to its size when
replay starts; --data DIR is then the data directory of the node that
runs the data plane (its cfg/tenants and derive/state.json).

The report goes to standard output, as JSON with --json; a progress bar
is drawn on standard error when it is a terminal.

Exit codes: 0 no divergence (or --policy); 1 divergence; 2 a bad flag,
data directory, state file or policy, or derived spans not verifiable
(the program their record names is not at hand); 3 an I/O error.`,
		Example: `  logline replay --data ./data --verify
  logline replay --data ./data --verify --json
  logline replay --data ./data --verify --from 1200000
  logline replay --data ./data --verify --backfill
  logline replay --data ./data --policy examples/quality/tuned/receipt.yaml
  logline replay --store postgres://postgres@localhost/logline --data ./data --verify`,
		Args: noArgs,
		RunE: run(func(cmd *cobra.Command, _ []string) error {
			return a.replay(cmd.Context(), o)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&o.data, "data", DefaultData, "data directory: the embedded store (stopped), its cfg/tenants and derive/state.json")
	f.StringVar(&o.store, "store", "", "replay the ledger in this PostgreSQL database (postgres://user@host/db); --data is the data-plane node's directory")
	f.BoolVar(&o.verify, "verify", false, "report the divergence from the stored derived spans; exit 1 unless it is 0")
	f.BoolVar(&o.backfill, "backfill", false, "with --verify: append the derived spans the data plane shed (derived_events_perf), re-derived")
	f.StringVar(&o.policy, "policy", "", "replace every tenant's programs with this .lll program or YAML policy file and show what would change")
	f.Uint64Var(&o.from, "from", 0, "compare only the derived spans caused at this log index or later (replay still starts at 0)")
	f.StringVar(&o.tenant, "tenant", "", "replay this tenant only")
	f.StringVar(&o.state, "state", "", "the data plane's saved state (default DIR/derive/state.json)")
	f.BoolVar(&o.json, "json", false, "print the report as JSON")
	f.IntVar(&o.examples, "examples", 5, "ids listed per kind of divergence and tenant")
	_ = cmd.MarkFlagDirname("data")
	_ = cmd.MarkFlagFilename("policy", "lll", "yaml", "yml")
	_ = cmd.MarkFlagFilename("state", "json")
	return cmd
}

// Kinds of divergence, as the report names them.
const (
	replayMissing   = "missing"
	replayExtra     = "extra"
	replayDifferent = "different"
)

// replayResult is the report of replay (its JSON form with --json).
type replayResult struct {
	OK     bool   `json:"ok"`
	Mode   string `json:"mode"` // "verify", or "policy": what would change
	Data   string `json:"data"`
	Store  string `json:"store,omitempty"` // the URL, password hidden
	Policy string `json:"policy,omitempty"`
	Tenant string `json:"tenant,omitempty"`
	From   uint64 `json:"from"`
	// Entries is how many ledger entries were applied (log indexes 0 to
	// Entries-1).
	Entries uint64 `json:"entries"`
	// Cursor is the cursor of the data plane's saved state (null: none).
	Cursor    *uint64 `json:"worker_cursor"`
	StateFile string  `json:"state_file"`
	// State: "identical" (the saved state equals the re-derived one at
	// its cursor), "different", or "not checked: why".
	State      string `json:"state"`
	StateDiff  string `json:"state_diff,omitempty"` // where, when different
	Replayed   int64  `json:"replayed"`             // re-derived spans compared
	Stored     int64  `json:"stored"`               // stored derived spans compared
	Identical  int64  `json:"identical"`
	Missing    int64  `json:"missing"`
	Extra      int64  `json:"extra"`
	Different  int64  `json:"different"`
	NotYet     int64  `json:"not_derived_yet"`
	Shed       int64  `json:"shed"`                 // not stored: shed under derived_events_perf, as recorded
	Backfilled *int64 `json:"backfilled,omitempty"` // with --backfill: shed spans appended (new)
	Divergence int64  `json:"divergence"`           // missing + extra + different
	// PolicyRecords counts the derivation_policy records replay derived
	// with, every tenant's (superseded ones aside); NotVerifiable the stored derived
	// spans it could not verify, in the Unverifiable ranges: derived with
	// a program the ledger names by its hash only, which is not the
	// tenant's program now.
	PolicyRecords int                  `json:"policy_records"`
	NotVerifiable int64                `json:"not_verifiable"`
	Unverifiable  []replayUnverifiable `json:"unverifiable,omitempty"`
	// Parsed counts the stored derived spans parsed in full to be
	// compared; the others matched their re-derived copy as stored.
	Parsed   int64          `json:"parsed"`
	Tenants  []replayTenant `json:"tenants"`
	Warnings []string       `json:"warnings,omitempty"`
	// OpenSeconds is the time the store took to open (the embedded
	// store checks its segments); Seconds the replay's, after it.
	OpenSeconds float64 `json:"open_seconds"`
	Seconds     float64 `json:"seconds"`
	PerSecond   float64 `json:"entries_per_second"`
}

// replayTenant is one tenant's part of the report.
type replayTenant struct {
	Tenant     string `json:"tenant"`
	Trajectory bool   `json:"trajectory"`
	Diamond    bool   `json:"diamond"`
	Programs   string `json:"programs"` // where its policies come from
	Replayed   int64  `json:"replayed"`
	Stored     int64  `json:"stored"`
	Identical  int64  `json:"identical"`
	Missing    int64  `json:"missing"`
	Extra      int64  `json:"extra"`
	Different  int64  `json:"different"`
	NotYet     int64  `json:"not_derived_yet"`
	Shed       int64  `json:"shed"`
	// Records is how many derivation_policy records of the tenant replay
	// derived with (0: its programs and flags now, as before records).
	Records       int             `json:"policy_records"`
	NotVerifiable int64           `json:"not_verifiable"`
	Examples      []replayExample `json:"examples,omitempty"`
}

// replayUnverifiable is a range of a tenant's entries whose derived
// spans replay cannot verify: its record names the program by its hash
// only, and the tenant's program now has another. The derived spans of
// the tenant caused from From on are not compared — also after To: what
// the tenant's open trajectories and scores were at To depends on what
// that program derived.
type replayUnverifiable struct {
	Tenant  string `json:"tenant"`
	From    uint64 `json:"from_log_index"`
	To      uint64 `json:"to_log_index"`
	Program string `json:"program_sha256"`
	Reason  string `json:"reason"`
}

// replayExample names one divergent derived span.
type replayExample struct {
	Kind       string  `json:"kind"` // missing, extra or different
	ID         string  `json:"id"`
	Type       string  `json:"entity_type"`
	LogIndex   *uint64 `json:"log_index,omitempty"`   // where it is stored
	CauseIndex *uint64 `json:"cause_index,omitempty"` // the entry that causes the re-derived span
	// Stored is the stored entry, Replayed the re-derived span (absent
	// when replay kept too many spans waiting for their stored copy to
	// keep their bytes).
	Stored   json.RawMessage `json:"stored,omitempty"`
	Replayed json.RawMessage `json:"replayed,omitempty"`
}

func (a *app) replay(ctx context.Context, o replayOptions) error {
	if o.backfill {
		switch {
		case !o.verify || o.policy != "":
			return cmdlineErrorf("replay: --backfill appends what the tenants' own programs derive: it needs --verify, not --policy")
		case o.store != "":
			return cmdlineErrorf("replay: --backfill writes to the embedded store only, not --store")
		case o.from > 0:
			return cmdlineErrorf("replay: --backfill compares every derived span: not with --from")
		}
	}
	if !o.verify && o.policy == "" {
		return cmdlineErrorf("replay: say what to do: --verify (compare with the stored derived spans) or --policy P (show what P would change)")
	}
	if o.examples < 0 {
		return cmdlineErrorf("replay: --examples %d: want a count ≥ 0", o.examples)
	}
	if o.tenant != "" && !span.ValidTenant(o.tenant) {
		return usageErrorf("replay: --tenant %q: want [a-z0-9_-]{1,64}", o.tenant)
	}
	if o.store != "" {
		if err := checkStoreURL(o.store); err != nil {
			return err
		}
		if err := checkDir(o.data); err != nil {
			return err
		}
	} else if err := checkDataDir(o.data); err != nil {
		return err
	}
	var policyProg *ir.Program
	if o.policy != "" {
		var err error
		if policyProg, err = a.simulationProgram(o.policy); err != nil {
			return err
		}
	}
	statePath, explicit := o.state, o.state != ""
	if !explicit {
		statePath = filepath.Join(o.data, dataplane.StateFile)
	}
	// The state is read before the ledger's size: every derived span
	// caused before its cursor was durable when it was saved.
	saved, err := readWorkerState(statePath, explicit)
	if err != nil {
		return err
	}
	// Tenants' configuration and programs, as serve loads them (without
	// its logs: problems are reported below).
	quiet := slog.New(slog.DiscardHandler)
	tenants, err := tenantcfg.New(ctx, tenantcfg.Config{DataDir: o.data, ValidTenant: span.ValidTenant, Logger: quiet})
	if err != nil {
		return ioErrorf("replay: tenant configuration: %w", err)
	}
	res := replayResult{Mode: "verify", Data: o.data, Policy: o.policy, Tenant: o.tenant, From: o.from, StateFile: statePath}
	if o.store != "" {
		res.Store = redactURL(o.store)
	}
	for _, p := range tenants.Status().Problems() {
		res.Warnings = append(res.Warnings, fmt.Sprintf("%v (the tenant runs with defaults: trajectories off)", p))
	}
	pol := &replayPolicies{features: tenantFeatures(tenants), only: o.tenant, cache: map[string]*replayPolicy{}}
	if policyProg != nil {
		res.Mode = "policy"
		pol.program = func(string) *ir.Program { return policyProg }
		pol.source = func(string) string { return o.policy }
	} else {
		set, err := openPrograms(ctx, o.data, tenants, quiet)
		if err != nil {
			return err
		}
		own := map[string]string{}
		for _, st := range set.Status() {
			if st.Err != "" {
				res.Warnings = append(res.Warnings, fmt.Sprintf("tenant %s: its programs are refused (%s); replay runs what a server started now would: %s", st.Tenant, st.Err, programsName(relativeTo(o.data, st.Files))))
			}
			if len(st.Files) > 0 {
				own[st.Tenant] = programsName(relativeTo(o.data, st.Files))
			}
		}
		pol.program = set.Program
		pol.source = func(t string) string {
			if s, ok := own[t]; ok {
				return s
			}
			return programsName(nil)
		}
	}

	log, err := a.quietLogger()
	if err != nil {
		return err
	}
	opened := time.Now()
	store, closeStore, err := a.openReplayStore(ctx, o, log)
	if err != nil {
		return err
	}
	defer closeStore()
	res.OpenSeconds = time.Since(opened).Seconds()
	size := store.Size()
	if saved != nil && saved.Cursor > size {
		return usageErrorf("replay: %s is at log index %d but the ledger holds %d entries: it belongs to another ledger", statePath, saved.Cursor, size)
	}
	if o.from > size {
		return usageErrorf("replay: --from %d: the ledger holds %d entries (log indexes 0 to %d)", o.from, size, int64(size)-1)
	}

	start := time.Now()
	if policyProg == nil {
		// The policies the data plane recorded, read before the entries
		// they govern are (each is stored after its from_log_index).
		recs, warns, err := readPolicyRecords(ctx, store, size)
		if err != nil {
			return replayError(ctx, err)
		}
		res.Warnings = append(res.Warnings, warns...)
		pol.useRecords(recs, size)
	}
	r := newReplayer(o, pol, saved)
	bar := newProgress(a.io.Err, a.io.ErrTTY, int64(size), "replay", false)
	err = r.run(ctx, store, size, func(n uint64) { bar.set(int64(n)) })
	bar.done()
	if err != nil {
		return replayError(ctx, err)
	}
	r.finish(&res)
	if o.backfill {
		n, err := a.backfill(ctx, store, r)
		if err != nil {
			return err
		}
		res.Backfilled = &n
	}
	res.Entries = size
	res.Seconds = time.Since(start).Seconds()
	if res.Seconds > 0 {
		res.PerSecond = float64(size) / res.Seconds
	}
	res.Warnings = append(res.Warnings, pol.warnings...)
	res.Unverifiable = pol.unverifiable
	failed := res.Divergence > 0 || res.State == "different"
	res.OK = !failed && len(res.Unverifiable) == 0
	if o.json {
		if err := writeJSON(a.io.Out, res); err != nil {
			return err
		}
	} else {
		printReplay(a.io.Out, res)
	}
	switch {
	case res.OK || res.Mode != "verify":
		return nil
	case failed:
		return silentFail(ExitFailed)
	}
	// Nothing wrong found, but not everything could be checked: not a
	// "no" (1); the input lacks what the check needs (the program).
	return silentFail(ExitUsage)
}

// replayError is the exit error of a replay that stopped on err.
func replayError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return err
	}
	if errors.Is(err, ledger.ErrCorrupt) {
		return failErrorf("replay: %v\n  run 'logline verify' on the ledger for a full report", err)
	}
	return ioErrorf("replay: %w", err)
}

// checkDir rejects a --data that is not a directory.
func checkDir(dir string) error {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return usageErrorf("--data %s: no such directory", dir)
	case err != nil:
		return ioErrorf("--data %s: %w", dir, err)
	case !st.IsDir():
		return usageErrorf("--data %s: not a directory", dir)
	}
	return nil
}

// programsName describes where a tenant's policies come from.
func programsName(files []string) string {
	if len(files) == 0 {
		return "the default program"
	}
	return strings.Join(files, ", ")
}

// relativeTo names files relative to dir when they are under it.
func relativeTo(dir string, files []string) []string {
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = f
		if rel, err := filepath.Rel(dir, f); err == nil && !strings.HasPrefix(rel, "..") {
			out[i] = rel
		}
	}
	return out
}

// openReplayStore opens the ledger to replay: the embedded store in
// --data (refused while a server holds it), or PostgreSQL.
func (a *app) openReplayStore(ctx context.Context, o replayOptions, log *slog.Logger) (ledger.Store, func(), error) {
	if o.store != "" {
		st, err := pgstore.Open(ctx, pgstore.Config{URL: o.store, Logger: log, Node: "replay", MaxConns: 2})
		if err != nil {
			return nil, nil, pgError("replay: open the ledger", o.store, err)
		}
		return st, func() { _ = st.Close() }, nil
	}
	if err := ledgerInUse(o.data); err != nil {
		return nil, nil, usageErrorf("replay: %v\n  stop the server first, or replay a restored backup of it", err)
	}
	if o.backfill {
		// Appending: opened as serve opens it, its checkpoints signed.
		keysDir := filepath.Join(o.data, keysDirName)
		if _, err := tlog.KeysOrigin(keysDir); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, nil, usageErrorf("replay --backfill: --data %s has no log key (%s): a server never ran on it", o.data, keysDir)
			}
			return nil, nil, failErrorf("replay --backfill: %w", err)
		}
		led, err := openLedger(ctx, o.data, "", 16<<20, nil, log)
		if err != nil {
			return nil, nil, err
		}
		return led.store, func() { _ = led.close() }, nil
	}
	st, err := segment.Open(ctx, segment.Config{Dir: o.data, Logger: log, IndexCacheBytes: 16 << 20})
	if err != nil {
		if errors.Is(err, ledger.ErrCorrupt) {
			return nil, nil, failErrorf("replay: %v\n  run 'logline verify --data %s' for a full report", err, o.data)
		}
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		return nil, nil, ioErrorf("replay: open the ledger in %s: %w", o.data, err)
	}
	return st, func() { _ = st.Close() }, nil
}

// backfill appends the shed spans r re-derived.
func (a *app) backfill(ctx context.Context, store ledger.Store, r *replayer) (int64, error) {
	var (
		added int64
		batch []*span.Span
	)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		outs, err := store.Append(ctx, batch)
		if err != nil {
			return ioErrorf("replay --backfill: append: %w", err)
		}
		for i, o := range outs {
			switch {
			case o.Err != nil:
				return failErrorf("replay --backfill: append %s: %v", batch[i].ID, o.Err)
			case !o.Result.Duplicate:
				added++
			}
		}
		batch = batch[:0]
		return nil
	}
	for _, canon := range r.shedSpans() {
		sp, err := span.Decode(canon, span.DecodeOptions{})
		if err != nil {
			return added, failErrorf("replay --backfill: a re-derived span does not decode: %v", err)
		}
		if batch = append(batch, sp); len(batch) == 4096 {
			if err := flush(); err != nil {
				return added, err
			}
		}
	}
	return added, flush()
}

// workerState is what replay reads of the data plane's saved state
// (internal/dataplane, StateFile).
type workerState struct {
	Version int             `json:"version"`
	Cursor  uint64          `json:"cursor"`
	Engine  json.RawMessage `json:"engine"`
}

// readWorkerState reads the saved state at path; nil when there is none
// (an error when the file was named with --state).
func readWorkerState(path string, explicit bool) (*workerState, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && !explicit {
		return nil, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, usageErrorf("replay: --state %s: no such file", path)
	}
	if err != nil {
		return nil, ioErrorf("replay: read the data plane's state: %w", err)
	}
	var st workerState
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, usageErrorf("replay: %s is not a data plane state: %v", path, err)
	}
	if st.Version != 1 {
		return nil, usageErrorf("replay: %s: state version %d, this build reads version 1", path, st.Version)
	}
	return &st, nil
}

// replayPolicies is the engine's policy source: for each tenant, the
// policies its derivation_policy records name (verify mode), and before
// its first record — or for a ledger without records, or with --policy
// — its program and flags now, read once (a replay sees one
// configuration).
type replayPolicies struct {
	program  func(tenant string) *ir.Program
	features func(tenant string) eval.Features
	source   func(tenant string) string
	only     string
	cache    map[string]*replayPolicy
	warnings []string

	// records are, by tenant, the policies its records name in the order
	// they govern (useRecords); cur is the log index of the entry the
	// engine applies, set by the engine stage, which picks the record in
	// force. Both only in the engine stage.
	records map[string]*tenantRecords
	cur     uint64
	// unverified is, by tenant, the log index from which its derived
	// spans cannot be verified; unverifiable says why. Set before the
	// replay starts, read-only after (every stage reads it).
	unverified   map[string]uint64
	unverifiable []replayUnverifiable
}

// tenantRecords are the policies a tenant's records name, ascending by
// from_log_index; next is the first whose from_log_index is after the
// entry being applied.
type tenantRecords struct {
	recs []recordedPolicy
	next int
}

type recordedPolicy struct {
	from   uint64
	policy *derive.Policy // nil: nothing derived
}

type replayPolicy struct {
	feats  eval.Features
	source string
	policy *derive.Policy // nil: nothing derived
}

func (p *replayPolicies) get(tenant string) *replayPolicy {
	if c, ok := p.cache[tenant]; ok {
		return c
	}
	c := &replayPolicy{feats: p.features(tenant), source: p.source(tenant)}
	if c.feats.Trajectory && (p.only == "" || p.only == tenant) {
		pol, err := derive.PolicyOf(p.program(tenant), c.feats.Trajectory, c.feats.Diamond)
		if err != nil {
			// As the server: the tenant derives nothing.
			p.warnings = append(p.warnings, fmt.Sprintf("tenant %s: its program cannot run, nothing is derived for it: %v", tenant, err))
		}
		c.policy = pol
	}
	p.cache[tenant] = c
	return c
}

// policy is the derive.Engine's policy function: the policy of the
// tenant's record in force at the entry being applied, else its
// configuration now.
func (p *replayPolicies) policy(tenant string) *derive.Policy {
	if tr := p.records[tenant]; tr != nil {
		for tr.next < len(tr.recs) && tr.recs[tr.next].from <= p.cur {
			tr.next++
		}
		if tr.next > 0 {
			return tr.recs[tr.next-1].policy
		}
	}
	return p.get(tenant).policy
}

// recordsOf is how many records tenant's policies come from.
func (p *replayPolicies) recordsOf(tenant string) int {
	if tr := p.records[tenant]; tr != nil {
		return len(tr.recs)
	}
	return 0
}

// useRecords makes the engine derive each tenant's entries with the
// policies its records name (recs, as readPolicyRecords returns them;
// the ledger holds size entries). A record's program is the one it
// embeds, or, when it names it by its hash only, the tenant's program
// now if that has the same hash; else the entries it governs are not
// verifiable, and neither is anything the tenant derives after them.
func (p *replayPolicies) useRecords(recs map[string][]dataplane.PolicyRecord, size uint64) {
	p.records, p.unverified = map[string]*tenantRecords{}, map[string]uint64{}
	progs := map[string]*ir.Program{} // by sha256: decoded, or the one in force with that hash
	for _, tenant := range slices.Sorted(maps.Keys(recs)) {
		if p.only != "" && tenant != p.only {
			continue
		}
		list := recs[tenant]
		tr := &tenantRecords{}
		for i, rec := range list {
			prog, why := p.recordProgram(tenant, rec, progs)
			if why != "" {
				to := size - 1
				if i+1 < len(list) {
					to = list[i+1].From - 1
				}
				p.unverifiable = append(p.unverifiable, replayUnverifiable{Tenant: tenant, From: rec.From, To: to, Program: rec.Program, Reason: why})
				if _, ok := p.unverified[tenant]; !ok {
					p.unverified[tenant] = rec.From
				}
				prog = p.program(tenant) // what follows is not compared: any will do
			}
			var pol *derive.Policy
			if rec.Trajectory && prog != nil {
				var err error
				if pol, err = derive.PolicyOf(prog, rec.Trajectory, rec.Diamond); err != nil {
					// As the server: the tenant derives nothing.
					p.warnings = append(p.warnings, fmt.Sprintf("tenant %s: the program its policy record at log index %d names cannot run, nothing is derived under it: %v", tenant, rec.LogIndex, err))
				}
			}
			tr.recs = append(tr.recs, recordedPolicy{from: rec.From, policy: pol})
		}
		p.records[tenant] = tr
	}
}

// recordProgram is the program a record names, or why replay cannot
// know it. No program is needed when the record derives nothing
// (trajectories off, or no program).
func (p *replayPolicies) recordProgram(tenant string, rec dataplane.PolicyRecord, progs map[string]*ir.Program) (*ir.Program, string) {
	if !rec.Trajectory || rec.Program == "" {
		return nil, ""
	}
	sha := rec.Program
	if prog, ok := progs[sha]; ok {
		return prog, ""
	}
	why := "the record names its program by its hash only (it was over 40,000 bytes encoded), and the tenant's program now is another"
	if rec.Encoded != nil {
		sum := sha256.Sum256(rec.Encoded)
		prog, err := ir.Decode(rec.Encoded)
		switch {
		case hex.EncodeToString(sum[:]) != sha:
			why = fmt.Sprintf("the program the record at log index %d embeds does not have the sha256 it names", rec.LogIndex)
		case err != nil:
			why = fmt.Sprintf("the program the record at log index %d embeds does not decode: %v", rec.LogIndex, err)
		default:
			progs[sha] = prog
			return prog, ""
		}
	}
	if now := p.program(tenant); now != nil && dataplane.ProgramSHA256(now) == sha {
		progs[sha] = now
		return now, ""
	}
	return nil, why
}

func kindOrder(kind string) int {
	switch kind {
	case replayMissing:
		return 0
	case replayExtra:
		return 1
	}
	return 2
}

// replayWords are the report's words for each kind of divergence: what
// is wrong (--verify), or what a policy would do (--policy).
func replayWords(mode string) (missing, extra, different, same string) {
	if mode == "policy" {
		return "added", "dropped", "changed", "unchanged"
	}
	return replayMissing, replayExtra, replayDifferent, "identical"
}

func printReplay(w io.Writer, r replayResult) {
	missing, extra, different, same := replayWords(r.Mode)
	where := r.Data
	if r.Store != "" {
		where = r.Store
	}
	fmt.Fprintf(w, "replay      %s: %d entries in %.2fs (%.0f entries/s; the store opened in %.2fs)\n", where, r.Entries, r.Seconds, r.PerSecond, r.OpenSeconds)
	if r.Mode == "policy" {
		fmt.Fprintf(w, "policy      %s for every tenant, flags from tenant.yaml: what would change\n", r.Policy)
	} else if r.PolicyRecords > 0 {
		fmt.Fprintf(w, "policy      as the data plane recorded it in the ledger (%d derivation_policy records); before a tenant's first record, its programs and tenant.yaml flags, as serve loads them\n", r.PolicyRecords)
	} else {
		fmt.Fprintf(w, "policy      each tenant's programs and tenant.yaml flags, as serve loads them\n")
	}
	scope := "every derived span"
	if r.From > 0 {
		scope = fmt.Sprintf("derived spans caused at log index %d or later", r.From)
	}
	if r.Tenant != "" {
		scope += " of tenant " + r.Tenant
	}
	fmt.Fprintf(w, "compared    %s\n", scope)
	if r.Cursor != nil {
		fmt.Fprintf(w, "data plane  saved at log index %d (%s); state %s\n", *r.Cursor, r.StateFile, r.State)
		if r.StateDiff != "" {
			fmt.Fprintf(w, "            %s\n", r.StateDiff)
		}
	} else {
		fmt.Fprintf(w, "data plane  no saved state (%s): every re-derived span not stored counts as not derived yet\n", r.StateFile)
	}
	for _, s := range r.Warnings {
		fmt.Fprintf(w, "warning     %s\n", s)
	}
	for _, t := range r.Tenants {
		flags := "trajectory off"
		if t.Trajectory {
			flags = "trajectory on, diamond off"
			if t.Diamond {
				flags = "trajectory on, diamond on"
			}
		}
		recorded := "" // the flags and programs are the tenant's now
		if t.Records > 0 {
			flags = "now " + flags
		}
		switch {
		case t.Records == 1:
			recorded = "; derived as its policy record says"
		case t.Records > 1:
			recorded = fmt.Sprintf("; derived as its %d policy records say", t.Records)
		}
		fmt.Fprintf(w, "tenant      %s (%s; %s%s)\n", t.Tenant, flags, t.Programs, recorded)
		fmt.Fprintf(w, "            %d re-derived, %d stored: %d %s, %d %s, %d %s, %d %s", t.Replayed, t.Stored,
			t.Identical, same, t.Missing, missing, t.Extra, extra, t.Different, different)
		if t.NotYet > 0 {
			fmt.Fprintf(w, "; %d not derived yet", t.NotYet)
		}
		if t.Shed > 0 {
			fmt.Fprintf(w, "; %d shed (derived_events_perf)", t.Shed)
		}
		if t.NotVerifiable > 0 {
			fmt.Fprintf(w, "; %d not verifiable", t.NotVerifiable)
		}
		fmt.Fprintln(w)
		for _, ex := range t.Examples {
			word := map[string]string{replayMissing: missing, replayExtra: extra, replayDifferent: different}[ex.Kind]
			fmt.Fprintf(w, "  %-9s %s %s", word, ex.ID, ex.Type)
			if ex.LogIndex != nil {
				fmt.Fprintf(w, " at log index %d", *ex.LogIndex)
			}
			if ex.CauseIndex != nil {
				fmt.Fprintf(w, ", caused by log index %d", *ex.CauseIndex)
			}
			fmt.Fprintln(w)
			if ex.Kind == replayDifferent {
				printReplayDiff(w, ex)
			}
		}
	}
	for _, u := range r.Unverifiable {
		fmt.Fprintf(w, "unverifiable tenant %s, log indexes %d–%d: derived with the program of sha256 %s: %s\n", u.Tenant, u.From, u.To, u.Program, u.Reason)
		fmt.Fprintf(w, "            its derived spans caused from log index %d on are not compared; put that program back in cfg/tenants/%s to verify them\n", u.From, u.Tenant)
	}
	if r.Backfilled != nil {
		fmt.Fprintf(w, "backfilled  %d shed derived spans appended to the ledger\n", *r.Backfilled)
	}
	switch {
	case r.Mode == "policy" && r.Divergence == 0:
		fmt.Fprintf(w, "unchanged   %s would derive exactly the stored derived spans\n", r.Policy)
	case r.Mode == "policy":
		fmt.Fprintf(w, "would change %d derived spans (%d added, %d dropped, %d changed)\n", r.Divergence, r.Missing, r.Extra, r.Different)
	case r.OK:
		fmt.Fprintf(w, "OK          divergence 0: every stored derived span is re-derived byte for byte, and nothing else is\n")
	case r.Divergence == 0 && r.State != "different":
		fmt.Fprintf(w, "INCOMPLETE  divergence 0 in what could be verified; %d stored derived spans could not be (unverifiable above)\n", r.NotVerifiable)
	case r.Divergence == 0:
		fmt.Fprintf(w, "FAIL        divergence 0, but the state the data plane saved at log index %d differs from the re-derived one\n", *r.Cursor)
	default:
		fmt.Fprintf(w, "FAIL        divergence %d (%d missing, %d extra, %d different)\n", r.Divergence, r.Missing, r.Extra, r.Different)
	}
}

// replayMembers are the members a derived span's content is compared by
// for people.
var replayMembers = []string{"entity_type", "who", "did", "this", "when", "related_to", "trace_id", "data"}

// printReplayDiff prints the members in which a stored derived span and
// its re-derived copy differ.
func printReplayDiff(w io.Writer, ex replayExample) {
	stored, err := span.ParseEntry(bytes.Clone(ex.Stored))
	if err != nil || ex.Replayed == nil {
		return
	}
	again, err := span.Decode(ex.Replayed, span.DecodeOptions{})
	if err != nil {
		return
	}
	for _, m := range replayMembers {
		s, _ := stored.Field(m)
		g, _ := again.Field(m)
		if !bytes.Equal(s, g) {
			fmt.Fprintf(w, "            %s stored   %s\n", m, orAbsent(s))
			fmt.Fprintf(w, "            %s replayed %s\n", strings.Repeat(" ", len(m)), orAbsent(g))
		}
	}
}

func orAbsent(b []byte) string {
	if b == nil {
		return "(absent)"
	}
	return string(b)
}
