// Package dataplane runs LogLine's data plane in the server
// (ARCHITECTURE.md §6): a Worker follows the ledger in log order,
// derives trajectories, scores and candidates with internal/derive, and
// appends the derived spans to the same ledger. Ingest never waits for
// it: the worker is a consumer of the log, its backlog the distance from
// its cursor to the head.
//
// Durability: the worker's state (the engine's state and the cursor,
// the log index of the next entry to apply) is saved only after the
// derived spans of every entry before the cursor are durable. After a
// crash it resumes from the saved state and re-derives the entries after
// the cursor; derived spans are deterministic (same ids, same bytes), so
// the ones already stored come back as duplicates and nothing is
// appended twice.
//
// Time: event time advances only through the ledger. For a tenant with
// open trajectories and no spans of its own for ClockIdle of wall time,
// the worker appends a clock span (entity_type "clock", who
// "system:clock", when = now) when one of them is past its deadline, so
// that idle trajectories close.
package dataplane

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"encoding/json"

	"github.com/logline/logline/internal/derive"
	"github.com/logline/logline/internal/durable"
	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/lll/eval"
	"github.com/logline/logline/internal/lll/ir"
	"github.com/logline/logline/internal/span"
)

// Defaults of Config.
const (
	DefaultClockIdle = time.Minute
	DefaultTick      = 5 * time.Second
	DefaultSaveEvery = 50_000
	DefaultChunk     = 4096
)

// StateFile is the worker's state, under the data directory.
const StateFile = "derive/state.json"

// Config configures a Worker.
type Config struct {
	Store ledger.Store
	// Program and Features give a tenant's program in force and its
	// feature flags (from programs.Set and tenant.yaml).
	Program  func(tenant string) *ir.Program
	Features func(tenant string) eval.Features
	// StatePath is where the state is saved (DATA/derive/state.json).
	StatePath string
	Logger    *slog.Logger
	Now       func() time.Time // wall clock, for clock spans; time.Now when nil
	ClockIdle time.Duration    // DefaultClockIdle when 0
	Tick      time.Duration    // how often idle tenants and saves are looked at; DefaultTick when 0
	SaveEvery uint64           // entries applied between saves; DefaultSaveEvery when 0
	Chunk     uint64           // entries read per batch; DefaultChunk when 0
	// MaxBacklog bounds the derivation queue (entries not yet applied);
	// past it, tenants' derived_events_perf policies act. DefaultMaxBacklog when 0.
	MaxBacklog uint64
	// Requests gives the figures of metric(…) over each tenant's requests
	// to the gateway (gateway.status_5xx_rate, auth.jwt_invalid_rate);
	// nil: they have no value.
	Requests RequestFigures
	// Derived counts the derived spans stored for a tenant (new ones, not
	// duplicates): the usage counter derived_spans_count. Called from the
	// worker's goroutine; nil: not counted.
	Derived func(tenant string, n uint64)
	// DefaultAlarms run for every tenant besides its own alarm blocks (a
	// tenant alarm of the same name replaces one); nil: none.
	DefaultAlarms *DefaultAlarms
}

// Status is what the worker reports.
type Status struct {
	Cursor     uint64 // entries before it are applied, and what they derived is stored
	Head       uint64 // the ledger's size when last looked at
	Derived    int64  // derived spans appended (new, not duplicates) since start
	Duplicates int64  // derived spans found already stored (after a restart)
	Conflicts  int64  // derived spans stored with other content (a policy changed under a restart)
	Clocks     int64  // clock spans appended since start
	Shed       int64  // derived spans shed (derived_events_perf shed_derived) since start
	Alerts     int64  // alert spans of alarms over metric(…) (fired or resolved) since start
	Skipped    int64  // spans this worker appended, skipped unread when it reached them
	Policies   int64  // derivation_policy records appended (new, not duplicates) since start
	Open       int    // open trajectories, all tenants
	// CloseLatency is how long trajectory_closed spans took to be
	// stored after the ledger received the entry that closed them.
	CloseLatency LatencyHistogram
	Saved        time.Time
	Err          string // the last error met ("" when none)
}

// Backlog is how many entries the worker has yet to apply.
func (s Status) Backlog() uint64 {
	if s.Head > s.Cursor {
		return s.Head - s.Cursor
	}
	return 0
}

// Worker derives from the ledger. Run it in one goroutine; Status is
// safe from any.
type Worker struct {
	cfg    Config
	eng    *derive.Engine
	cursor uint64
	saved  uint64 // cursor at the last save

	runs     map[string]*tenantRun // by tenant
	lastSeen map[string]time.Time  // wall time a tenant's own span was last applied
	started  time.Time
	pending  []*span.Span
	records  []pendingRecord // shed and policy records waiting for the next append
	// recorded is, by tenant, the policy of the last derivation_policy
	// record queued (stored once the records are: failStep resets it to
	// the saved state's, which save writes only once they are stored).
	recorded map[string]PolicyKey
	// curRun is the tenantRun of the entry being applied (cause), so that
	// the engine, backpressure and the alarms read one policy for all of
	// an entry, the one its record names; nil between entries.
	curRun *tenantRun
	spare  []*span.Span // the last appended pending slice, for reuse
	// inflight carries the result of the append launch started (nil when
	// none runs).
	inflight chan flushResult
	// own are the log indexes, ascending, of spans this worker appended
	// (derived, alerts, shed records; not clock spans) that it has not
	// read back yet: it skips them unread (derive.Engine.Skip). Only a
	// shortcut: a span read before its index is known is applied, which
	// ignores it the same way.
	own      []uint64
	ownHead  int
	builder  span.Builder // builds the derived spans
	curIndex uint64       // log index of the entry being applied
	cause    *derive.Input
	closes   []pendingClose // trajectory_closed spans in pending
	// lastClose is each tenant's latest close latency (under mu).
	lastClose map[string]time.Duration

	alarmStates map[string]alarmState // metric alarms, by tenant and name
	rates       map[string]*rate      // derived spans per tenant per minute
	over        *overloads            // what Admit reads

	mu      sync.Mutex
	status  Status
	figures *Figures // published by publish
}

// Open loads the saved state (none: start at the beginning of the
// ledger). A state that cannot be read is an error: deriving again from
// scratch would append nothing new but could take long, so it is the
// operator's call (delete the file).
func Open(cfg Config) (*Worker, error) {
	if cfg.Store == nil || cfg.Program == nil || cfg.StatePath == "" {
		return nil, errors.New("dataplane: Store, Program and StatePath are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Features == nil {
		cfg.Features = func(string) eval.Features { return eval.Features{} }
	}
	if cfg.ClockIdle <= 0 {
		cfg.ClockIdle = DefaultClockIdle
	}
	if cfg.Tick <= 0 {
		cfg.Tick = DefaultTick
	}
	if cfg.SaveEvery == 0 {
		cfg.SaveEvery = DefaultSaveEvery
	}
	if cfg.Chunk == 0 {
		cfg.Chunk = DefaultChunk
	}
	if cfg.MaxBacklog == 0 {
		cfg.MaxBacklog = DefaultMaxBacklog
	}
	w := &Worker{cfg: cfg, runs: map[string]*tenantRun{}, recorded: map[string]PolicyKey{}, lastSeen: map[string]time.Time{}, lastClose: map[string]time.Duration{}, started: cfg.Now(),
		rates: map[string]*rate{}, over: newOverloads(),
		alarmStates: map[string]alarmState{}}
	w.eng = derive.New(w.policy)
	if err := w.load(); err != nil {
		return nil, err
	}
	w.status.Cursor = w.cursor
	w.publish()
	return w, nil
}

// savedState is the state file.
type savedState struct {
	Version int             `json:"version"`
	Cursor  uint64          `json:"cursor"`
	Engine  json.RawMessage `json:"engine"`
	// Policies is, by tenant, the policy of the last derivation_policy
	// record stored before the cursor, so that a restart under the same
	// configuration records nothing new. A state without it (an older
	// build's) makes the worker record each tenant's policy again once:
	// a duplicate of the policy in force, harmless.
	Policies map[string]PolicyKey `json:"policies,omitempty"`
}

func (w *Worker) load() error {
	data, err := os.ReadFile(w.cfg.StatePath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("dataplane: %w", err)
	}
	var st savedState
	if err := json.Unmarshal(data, &st); err != nil || st.Version != 1 {
		return fmt.Errorf("dataplane: %s is not a state this build reads (delete it to derive again from the start): %v", w.cfg.StatePath, err)
	}
	if size := w.cfg.Store.Size(); st.Cursor > size {
		return fmt.Errorf("dataplane: %s is at log index %d but the ledger holds %d entries: it belongs to another ledger (delete it to derive again from the start)", w.cfg.StatePath, st.Cursor, size)
	}
	if err := w.eng.UnmarshalState(st.Engine); err != nil {
		return fmt.Errorf("dataplane: %s: %w", w.cfg.StatePath, err)
	}
	w.cursor, w.saved = st.Cursor, st.Cursor
	for t, k := range st.Policies {
		w.recorded[t] = k
	}
	if err := w.forgetStale(context.Background()); err != nil {
		// Not knowing which tenants have stale records, record every
		// tenant's policy again: a duplicate of the one in force at worst.
		w.cfg.Logger.Warn("data plane: reading the policy records after the saved state; every tenant's policy is recorded again", "err", err)
		clear(w.recorded)
	}
	return nil
}

// reset goes back to the saved state (or the start of the ledger).
func (w *Worker) reset() error {
	w.eng = derive.New(w.policy)
	w.cursor, w.saved = 0, 0
	w.recorded = map[string]PolicyKey{}
	if err := w.load(); err != nil {
		return err
	}
	w.mu.Lock()
	w.status.Cursor = w.cursor
	w.mu.Unlock()
	return nil
}

// save writes the state atomically, once the spans derived so far are
// stored, and the records of the derived spans shed so far too: a state
// saved past causes whose shedding no stored record names would lose
// them for good (a restart starts after them, and replay --backfill
// finds only what records name). The policy records queued so far are
// stored with them: a state is never past an entry whose policy no
// stored record names. Call only with nothing pending.
func (w *Worker) save(ctx context.Context) error {
	w.recordSheds()
	if err := w.flush(ctx); err != nil {
		return w.failStep(fmt.Errorf("dataplane: before saving: %w", err))
	}
	eng, err := w.eng.MarshalState()
	if err != nil {
		return fmt.Errorf("dataplane: encode state: %w", err)
	}
	data, err := json.Marshal(savedState{Version: 1, Cursor: w.cursor, Engine: eng, Policies: w.recorded})
	if err != nil {
		return fmt.Errorf("dataplane: encode state: %w", err)
	}
	if err := durable.MkdirAll(filepath.Dir(w.cfg.StatePath), 0o755); err != nil {
		return fmt.Errorf("dataplane: %w", err)
	}
	if err := durable.WriteFile(w.cfg.StatePath, data, 0o644); err != nil {
		return fmt.Errorf("dataplane: save state: %w", err)
	}
	w.saved = w.cursor
	w.mu.Lock()
	w.status.Saved = w.cfg.Now()
	w.mu.Unlock()
	return nil
}

// tenantRun is what a tenant runs with, from its program in force and
// its flags; cached while neither changes.
type tenantRun struct {
	prog   *ir.Program
	feats  eval.Features
	key    PolicyKey      // what its derivation_policy records name
	policy *derive.Policy // nil: nothing derived (features.trajectory off)
	alarms *eval.Machine  // nil: the program has no alarm blocks (or they cannot run)
}

// run returns tenant's tenantRun, rebuilt when its program or flags
// changed.
func (w *Worker) run(tenant string) *tenantRun {
	prog := w.cfg.Program(tenant)
	feats := w.cfg.Features(tenant)
	if r, ok := w.runs[tenant]; ok && r.prog == prog && r.feats == feats {
		return r
	}
	r := &tenantRun{prog: prog, feats: feats,
		key: PolicyKey{Trajectory: feats.Trajectory, Diamond: feats.Diamond, Program: ProgramSHA256(prog)}}
	if feats.Trajectory && prog != nil {
		p, err := derive.PolicyOf(prog, feats.Trajectory, feats.Diamond)
		if err != nil {
			w.cfg.Logger.Error("data plane: the tenant's program cannot run; nothing is derived for it", "tenant", tenant, "err", err)
		} else {
			r.policy = p
		}
	}
	if prog != nil && len(prog.Alarms) > 0 {
		m, err := eval.New(prog, eval.Config{Features: feats})
		if err != nil {
			w.cfg.Logger.Error("data plane: the tenant's alarms cannot run", "tenant", tenant, "err", err)
		} else {
			r.alarms = m
		}
	}
	w.runs[strings.Clone(tenant)] = r
	return r
}

// runOf is run, but for the tenant of the entry being applied the run
// its policy was recorded for.
func (w *Worker) runOf(tenant string) *tenantRun {
	if w.curRun != nil && tenant == w.cause.Tenant {
		return w.curRun
	}
	return w.run(tenant)
}

// policy is the engine's policy source: nil (nothing derived) when the
// tenant's features.trajectory is off.
func (w *Worker) policy(tenant string) *derive.Policy { return w.runOf(tenant).policy }

// Status reports the worker's progress.
func (w *Worker) Status() Status {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.status
}

// Run follows the ledger until ctx ends (then it saves and returns nil)
// or the store fails.
func (w *Worker) Run(ctx context.Context) error {
	lastTick := time.Now() // the cadence is real time; cfg.Now is the clock spans' wall clock
	for {
		size := w.cfg.Store.Size()
		w.mu.Lock()
		w.status.Head = size
		w.mu.Unlock()
		if w.cursor < size {
			if err := w.step(ctx, min(size, w.cursor+w.cfg.Chunk)); err != nil {
				if ctx.Err() != nil {
					return w.stop(ctx)
				}
				w.fail(err)
				if errors.Is(err, ledger.ErrClosed) {
					return err
				}
				if !sleep(ctx, time.Second) {
					return w.stop(ctx)
				}
				continue
			}
			if w.cursor-w.saved >= w.cfg.SaveEvery {
				if err := w.save(ctx); err != nil {
					w.fail(err)
				}
			}
			if time.Since(lastTick) >= w.cfg.Tick {
				lastTick = time.Now()
				if err := w.tick(ctx); err != nil {
					w.fail(err)
				}
			}
			continue
		}
		// Caught up: the last step's spans stored (they are the next
		// entries: waiting for them would read them back unskipped),
		// wait for more, or for a tick.
		if w.inflight != nil {
			if err := w.settle(); err != nil {
				w.fail(w.failStep(fmt.Errorf("dataplane: %w", err)))
			}
			continue
		}
		wctx, cancel := context.WithTimeout(ctx, w.cfg.Tick)
		_, err := w.cfg.Store.Wait(wctx, w.cursor)
		cancel()
		switch {
		case ctx.Err() != nil:
			return w.stop(ctx)
		case errors.Is(err, ledger.ErrClosed):
			return w.stop(ctx)
		case err != nil && !errors.Is(err, context.DeadlineExceeded):
			w.fail(err)
		}
		if time.Since(lastTick) >= w.cfg.Tick {
			lastTick = time.Now()
			if err := w.tick(ctx); err != nil {
				w.fail(err)
			}
		}
	}
}

// stop saves the state on the way out, once the last step's spans are
// stored (if they could not be, the saved state stays: a restart derives
// them again).
func (w *Worker) stop(ctx context.Context) error {
	if err := w.settle(); err != nil {
		w.fail(w.failStep(fmt.Errorf("dataplane: the last derived spans: %w", err)))
		return nil
	}
	if len(w.pending) == 0 && w.cursor != w.saved {
		if err := w.save(context.WithoutCancel(ctx)); err != nil {
			return err
		}
	}
	return nil
}

func (w *Worker) fail(err error) {
	w.cfg.Logger.Error("data plane", "err", err)
	w.mu.Lock()
	w.status.Err = err.Error()
	w.mu.Unlock()
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// step applies the entries [cursor, to) and appends what they derive.
// On error the worker goes back to its saved state: the entries since
// are applied again, and what they derived before comes back as
// duplicates.
func (w *Worker) step(ctx context.Context, to uint64) error {
	var derr error
	now := w.cfg.Now()
	backlog := w.cfg.Store.Size() - w.cursor
	emit := func(d *derive.Derived) {
		if derr != nil || !w.admitDerived(d.Tenant, w.curIndex, now, backlog) {
			return
		}
		sp, err := d.Span(&w.builder)
		if err != nil {
			derr = fmt.Errorf("derived span %s: %w", d.ID, err)
			return
		}
		w.pending = append(w.pending, sp)
		if d.Type == derive.TypeClosed {
			w.noteClose(sp)
		}
	}
	// The stored lines are read in place (no full parse: the engine reads
	// a few members, and copies what it keeps); every map keyed by a
	// tenant copies the name when it adds it.
	lp := derive.LineParser{Stored: true}
	var skipped int64
	seen := "" // the tenant whose span was applied last
	err := w.cfg.Store.ReadRaw(ctx, w.cursor, to, func(index uint64, line []byte) error {
		w.curIndex = index
		if w.isOwn(index) {
			w.eng.Skip()
			skipped++
			return nil
		}
		in, err := lp.Parse(line)
		if err != nil {
			return fmt.Errorf("entry %d: %w", index, err)
		}
		w.cause = in
		// The policy the entry is derived with, recorded when it is
		// another than the tenant's last recorded one.
		r := w.run(in.Tenant)
		w.curRun = r
		defer func() { w.curRun = nil }()
		if err := w.notePolicy(in.Tenant, index, r); err != nil {
			return err
		}
		if err := w.eng.Apply(in, emit); err != nil {
			return err
		}
		if derr != nil {
			return derr
		}
		if err := w.raiseAlarms(ctx, in, index, now, backlog); err != nil {
			return err
		}
		// A tenant's own span: it was seen now (once per tenant and
		// step: now is the step's; runs of one tenant skip the map).
		if in.Tenant != seen && !strings.HasPrefix(in.Who, "system:") {
			seen = strings.Clone(in.Tenant)
			w.lastSeen[seen] = now
		}
		return nil
	})
	w.cause = nil // it aliases the lines read
	// The previous step's spans must be stored before this step's are
	// appended (log order), and the state saved covers both.
	if serr := w.settle(); err == nil {
		err = serr
	}
	if err != nil {
		return w.failStep(fmt.Errorf("dataplane: entries %d–%d: %w", w.cursor, to-1, err))
	}
	inflight := w.launch(ctx, to)
	w.cursor = to
	open := 0
	for _, t := range w.eng.Tenants() {
		open += w.eng.Open(t)
	}
	w.mu.Lock()
	if !inflight {
		w.status.Cursor = to // else once its spans are stored (settle)
	}
	w.status.Open = open
	w.status.Skipped += skipped
	w.status.Err = ""
	w.mu.Unlock()
	w.publish()
	return nil
}

// failStep forgets what was derived since the saved state and goes back
// to it: the entries after it are applied again, and what they derived
// and was stored comes back as duplicates.
//
// Shed records not stored yet are dropped, and the per-minute counts
// start again: they name causes after the saved state (save stores the
// records of every cause before it), which are derived again, and shed
// again or not. Policy records not stored yet are dropped too, and
// reset forgets what was recorded since the saved state: applying the
// entries again records their policies again.
func (w *Worker) failStep(err error) error {
	_ = w.settle() // nothing in flight survives the reset
	w.pending = w.pending[:0]
	w.closes = w.closes[:0]
	w.records = nil
	clear(w.rates)
	w.own, w.ownHead = w.own[:0], 0
	if rerr := w.reset(); rerr != nil {
		return errors.Join(err, rerr)
	}
	return err
}

// flushResult is what appending one step's spans came to.
type flushResult struct {
	records              []pendingRecord
	spans                []*span.Span
	closes               []pendingClose
	recordOuts, spanOuts []ledger.Outcome
	cursor               uint64 // the step's end: applied, and its spans stored once this settles
	err                  error
}

// launch starts appending the pending shed records and derived spans in
// the background, so that the worker derives the next chunk while they
// are written; settle waits for them. At most one append is in flight.
//
// The append is not cancelled with ctx: a worker stopping waits for it,
// so that it can save its state.
func (w *Worker) launch(ctx context.Context, cursor uint64) bool {
	if len(w.pending) == 0 && len(w.records) == 0 {
		return false
	}
	ctx = context.WithoutCancel(ctx)
	r := flushResult{records: w.records, spans: w.pending, closes: w.closes, cursor: cursor}
	w.records, w.pending, w.closes = nil, w.spare[:0], nil
	w.spare = nil
	ch := make(chan flushResult, 1)
	w.inflight = ch
	store := w.cfg.Store
	go func() {
		if len(r.records) > 0 {
			recs := make([]*span.Span, len(r.records))
			for i, rec := range r.records {
				recs[i] = rec.span
			}
			r.recordOuts, r.err = store.Append(ctx, recs)
		}
		if r.err == nil && len(r.spans) > 0 {
			r.spanOuts, r.err = store.Append(ctx, r.spans)
		}
		ch <- r
	}()
	return true
}

// settle waits for the append in flight, if any, and accounts for it.
// An error means the spans of the step that derived them may not be
// stored: the caller goes back to the saved state.
func (w *Worker) settle() error {
	if w.inflight == nil {
		return nil
	}
	r := <-w.inflight
	w.inflight = nil
	defer func() {
		clear(r.spans)
		w.spare = r.spans[:0]
	}()
	if r.err != nil {
		return r.err
	}
	var shed, policies int64
	for i, o := range r.recordOuts {
		if o.Err != nil {
			return fmt.Errorf("append %s record %s: %w", r.records[i].span.EntityType, r.records[i].span.ID, o.Err)
		}
		w.appended(o)
		if !o.Result.Duplicate {
			shed += int64(r.records[i].shed)
			if r.records[i].policy {
				policies++
			}
		}
	}
	// Config.Derived gets each run of one tenant's new spans at once
	// (also those stored before an error).
	var runTenant string
	var run uint64
	countRun := func() {
		if run > 0 && w.cfg.Derived != nil {
			w.cfg.Derived(runTenant, run)
		}
		run = 0
	}
	defer countRun()
	var added, dups, conflicts int64
	for i, o := range r.spanOuts {
		switch {
		case o.Err == nil && o.Result.Duplicate:
			dups++
		case o.Err == nil:
			added++
			w.appended(o)
			if t := r.spans[i].Tenant; t != runTenant {
				countRun()
				runTenant = t
			}
			run++
		case errors.Is(o.Err, ledger.ErrConflict):
			// Stored with other content: derived before a restart under
			// another policy. The stored span stands; replay --verify
			// reports the difference.
			conflicts++
			w.cfg.Logger.Warn("data plane: a derived span is already stored with other content", "id", r.spans[i].ID, "err", o.Err)
		default:
			return fmt.Errorf("append derived span %s: %w", r.spans[i].ID, o.Err)
		}
	}
	stored := w.cfg.Now()
	w.mu.Lock()
	for _, c := range r.closes {
		if o := r.spanOuts[c.index]; o.Err == nil && !o.Result.Duplicate {
			d := max(stored.Sub(c.received), 0)
			w.status.CloseLatency.observe(d)
			t := r.spans[c.index].Tenant
			if _, ok := w.lastClose[t]; !ok {
				t = strings.Clone(t) // not the span's memory
			}
			w.lastClose[t] = d
		}
	}
	w.status.Derived += added
	w.status.Shed += shed
	w.status.Policies += policies
	w.status.Duplicates += dups
	w.status.Conflicts += conflicts
	if r.cursor > w.status.Cursor {
		w.status.Cursor = r.cursor
	}
	w.mu.Unlock()
	return nil
}

// flush appends the pending derived spans and records and waits for
// them (and for any append in flight before).
func (w *Worker) flush(ctx context.Context) error {
	if err := w.settle(); err != nil {
		return err
	}
	w.launch(ctx, w.cursor)
	return w.settle()
}

// appended notes a span this worker appended, to skip it when read.
func (w *Worker) appended(o ledger.Outcome) {
	if o.Result.Duplicate {
		return // stored earlier: its index is not after the last noted
	}
	if n := len(w.own); n > 0 && o.Result.LogIndex <= w.own[n-1] {
		return
	}
	if w.ownHead >= 1024 && 2*w.ownHead >= len(w.own) {
		n := copy(w.own, w.own[w.ownHead:])
		w.own, w.ownHead = w.own[:n], 0
	}
	w.own = append(w.own, o.Result.LogIndex)
}

// isOwn reports whether the entry at index is a span this worker
// appended, forgetting the indexes before it.
func (w *Worker) isOwn(index uint64) bool {
	for w.ownHead < len(w.own) && w.own[w.ownHead] < index {
		w.ownHead++
	}
	if w.ownHead < len(w.own) && w.own[w.ownHead] == index {
		w.ownHead++
		return true
	}
	return false
}

// tick appends clock spans for idle tenants whose trajectories are past
// their deadline, and saves the state when it moved.
func (w *Worker) tick(ctx context.Context) error {
	now := w.cfg.Now().UTC()
	w.rollMinutes(now, w.cfg.Store.Size()-w.cursor)
	if err := w.flush(ctx); err != nil {
		return w.failStep(fmt.Errorf("dataplane: %w", err))
	}
	var clocks []*span.Span
	for _, t := range w.eng.Tenants() {
		if w.eng.Open(t) == 0 || w.policy(t) == nil {
			continue
		}
		deadline, ok := w.eng.NextDeadline(t)
		if !ok || !now.After(deadline) {
			continue
		}
		seen, ok := w.lastSeen[t]
		if !ok {
			seen = w.started
		}
		if now.Sub(seen) < w.cfg.ClockIdle {
			continue
		}
		if mark, ok := w.eng.Watermark(t); ok && !now.After(mark) {
			continue
		}
		sp, err := clockSpan(t, now)
		if err != nil {
			return err
		}
		clocks = append(clocks, sp)
	}
	alerts, err := w.metricAlarms(ctx, now, w.cfg.Store.Size()-w.cursor)
	if err != nil {
		return fmt.Errorf("dataplane: alarms: %w", err)
	}
	clocks = append(clocks, alerts...)
	if len(clocks) > 0 {
		outs, err := w.cfg.Store.Append(ctx, clocks)
		if err != nil {
			return fmt.Errorf("dataplane: append clock spans: %w", err)
		}
		var n, alerted int64
		for i, o := range outs {
			if o.Err != nil {
				return fmt.Errorf("dataplane: append %s span for %s: %w", clocks[i].EntityType, clocks[i].Tenant, o.Err)
			}
			if clocks[i].EntityType == derive.TypeClock {
				n++
			} else {
				alerted++
			}
		}
		w.mu.Lock()
		w.status.Clocks += n
		w.status.Alerts += alerted
		w.mu.Unlock()
	}
	if w.cursor != w.saved {
		return w.save(ctx)
	}
	return nil
}

// clockSpan is the clock span of tenant at now.
func clockSpan(tenant string, now time.Time) (*span.Span, error) {
	when := now.Format(time.RFC3339Nano)
	line := `{"id":"clock_` + strconv.FormatInt(now.UnixNano(), 10) + `","tenant":` + strconv.Quote(tenant) +
		`,"entity_type":"clock","who":"system:clock","did":"tick","this":"clock","when":"` + when + `"}`
	sp, err := span.Decode([]byte(line), span.DecodeOptions{})
	if err != nil {
		return nil, fmt.Errorf("dataplane: clock span: %w", err)
	}
	return sp, nil
}
