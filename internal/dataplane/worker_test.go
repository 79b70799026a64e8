package dataplane

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logline/logline/internal/derive"
	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/ledger/segment"
	"github.com/logline/logline/internal/lll/check"
	"github.com/logline/logline/internal/lll/eval"
	"github.com/logline/logline/internal/lll/ir"
	"github.com/logline/logline/internal/span"
)

const corpus = "../../../shared/corpus/receipt.ndjson"

func openStore(t *testing.T, dir string) *segment.Store {
	t.Helper()
	s, err := segment.Open(context.Background(), segment.Config{Dir: dir, IndexCacheBytes: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func corpusSpans(t *testing.T, limit int) []*span.Span {
	t.Helper()
	f, err := os.Open(corpus)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []*span.Span
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() && (limit <= 0 || len(out) < limit) {
		sp, err := span.Decode(sc.Bytes(), span.DecodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, sp)
	}
	return out
}

func appendAll(t *testing.T, s ledger.Store, spans []*span.Span) {
	t.Helper()
	for i := 0; i < len(spans); i += 1000 {
		outs, err := s.Append(context.Background(), spans[i:min(i+1000, len(spans))])
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range outs {
			if o.Err != nil {
				t.Fatal(o.Err)
			}
		}
	}
}

// defaultProgram is what a tenant without programs runs.
func defaultProgram(t *testing.T) *ir.Program {
	t.Helper()
	p, err := check.CanonicalContract()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// offline derives from spans as `quality simulate` does, without the
// end-of-input closes, and returns the derived spans' hashes, sorted.
func offline(t *testing.T, prog *ir.Program, spans []*span.Span) []string {
	t.Helper()
	p, err := derive.PolicyOf(prog, true, true)
	if err != nil {
		t.Fatal(err)
	}
	e := derive.New(func(string) *derive.Policy { return p })
	var out []string
	for _, sp := range spans {
		err := e.Apply(derive.FromSpan(sp), func(d *derive.Derived) {
			ds, err := span.Decode(d.AppendJSON(nil), span.DecodeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, ds.Hash.String())
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	sort.Strings(out)
	return out
}

// stored returns the hashes of the derived spans in the store, sorted,
// and fails on a derived id stored twice.
func stored(t *testing.T, s ledger.Store) []string {
	t.Helper()
	var out []string
	ids := map[string]bool{}
	err := s.Read(context.Background(), 0, s.Size(), func(e *span.Entry) error {
		if e.Who == derive.Who {
			if ids[e.ID] {
				t.Errorf("derived span %s stored twice", e.ID)
			}
			ids[e.ID] = true
			out = append(out, e.Hash.String())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

type fixedClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fixedClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fixedClock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

func on(string) eval.Features { return eval.Features{Trajectory: true, Diamond: true} }

// runUntil runs w until its cursor reaches the store's size (or the
// test's deadline) and stops it.
func runUntil(t *testing.T, w *Worker, s ledger.Store, cond func(Status) bool) Status {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := w.Status()
		if st.Cursor == s.Size() && cond(st) {
			break
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("worker did not finish: %+v (ledger size %d)", st, s.Size())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return w.Status()
}

// TestWorkerDerivesLikeOffline: the worker appends exactly the spans the
// engine derives offline from the same ledger, once each.
func TestWorkerDerivesLikeOffline(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	defer s.Close()
	spans := corpusSpans(t, 3000)
	appendAll(t, s, spans)
	prog := defaultProgram(t)
	clock := &fixedClock{t: time.Date(2011, 1, 1, 0, 0, 0, 0, time.UTC)}
	usage := map[string]uint64{} // written by the worker's goroutine, read once it stopped
	w, err := Open(Config{Store: s, Program: func(string) *ir.Program { return prog }, Features: on,
		StatePath: filepath.Join(dir, StateFile), Now: clock.Now, ClockIdle: time.Hour, Chunk: 500,
		Derived: func(tenant string, n uint64) { usage[strings.Clone(tenant)] += n }})
	if err != nil {
		t.Fatal(err)
	}
	want := offline(t, prog, spans)
	st := runUntil(t, w, s, func(st Status) bool { return st.Derived >= int64(len(want)) })
	got := stored(t, s)
	if len(got) != len(want) || !equal(got, want) {
		t.Fatalf("stored %d derived spans, offline derives %d (equal: %v); status %+v", len(got), len(want), equal(got, want), st)
	}
	if st.Derived != int64(len(want)) || st.Duplicates != 0 || st.Conflicts != 0 || st.Clocks != 0 {
		t.Errorf("status %+v", st)
	}
	if tenant := spans[0].Tenant; len(usage) != 1 || usage[tenant] != uint64(st.Derived) {
		t.Errorf("derived spans counted for usage %v, want %s: %d", usage, tenant, st.Derived)
	}
	// It read back none of its own spans (it knew their indexes: the
	// derived spans and its one policy record), and still counted every
	// entry once, as a replay does.
	if st.Policies != 1 || st.Skipped != st.Derived+st.Policies {
		t.Errorf("skipped %d of its %d derived spans and %d policy records unread, want all and 1 record", st.Skipped, st.Derived, st.Policies)
	}
	if n := w.eng.Stats().Spans; n != int64(s.Size()) {
		t.Errorf("the engine counted %d spans, the ledger holds %d", n, s.Size())
	}
}

// TestWorkerResumes: a worker stopped midway and a new one opened on its
// saved state end with the same derived spans, none stored twice — also
// when the state saved is older than the derived spans stored (a crash
// between append and save).
func TestWorkerResumes(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	defer s.Close()
	spans := corpusSpans(t, 3000)
	prog := defaultProgram(t)
	want := offline(t, prog, spans)
	clock := &fixedClock{t: time.Date(2011, 1, 1, 0, 0, 0, 0, time.UTC)}
	cfg := Config{Store: s, Program: func(string) *ir.Program { return prog }, Features: on,
		StatePath: filepath.Join(dir, StateFile), Now: clock.Now, ClockIdle: time.Hour, Chunk: 300}

	appendAll(t, s, spans[:1500])
	w, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	runUntil(t, w, s, func(Status) bool { return true })
	// A crash after appending more derived spans but before saving: keep
	// the state file of now, derive further, then put it back.
	early, err := os.ReadFile(cfg.StatePath)
	if err != nil {
		t.Fatal(err)
	}
	appendAll(t, s, spans[1500:2200])
	w, err = Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	runUntil(t, w, s, func(Status) bool { return true })
	if err := os.WriteFile(cfg.StatePath, early, 0o644); err != nil {
		t.Fatal(err)
	}
	appendAll(t, s, spans[2200:])
	w, err = Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	st := runUntil(t, w, s, func(Status) bool { return true })
	if st.Duplicates == 0 {
		t.Errorf("resuming from an older state found no duplicates: %+v", st)
	}
	if got := stored(t, s); !equal(got, want) {
		t.Fatalf("stored %d derived spans, offline derives %d", len(got), len(want))
	}
}

// TestWorkerClock: an idle tenant's trajectories close through a clock
// span once past their deadline; a busy tenant gets none.
func TestWorkerClock(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	defer s.Close()
	spans := corpusSpans(t, 200)
	appendAll(t, s, spans)
	prog := defaultProgram(t)
	start := time.Date(2011, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := &fixedClock{t: start}
	w, err := Open(Config{Store: s, Program: func(string) *ir.Program { return prog }, Features: on,
		StatePath: filepath.Join(dir, StateFile), Now: clock.Now, ClockIdle: time.Minute, Tick: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	st := runUntil(t, w, s, func(st Status) bool { return st.Open > 0 })
	if st.Clocks != 0 {
		t.Fatalf("a clock span before the tenant was idle: %+v", st)
	}
	clock.Set(start.Add(2 * time.Minute))
	st = runUntil(t, w, s, func(st Status) bool { return st.Clocks > 0 && st.Open == 0 })
	var clocks int
	_ = s.Read(context.Background(), 0, s.Size(), func(e *span.Entry) error {
		if e.EntityType == derive.TypeClock {
			clocks++
			if e.Who != "system:clock" || !e.When.Equal(start.Add(2*time.Minute)) {
				t.Errorf("clock span %s by %s at %s", e.ID, e.Who, e.When)
			}
		}
		return nil
	})
	if clocks != 1 || st.Open != 0 {
		t.Errorf("%d clock spans, %d open trajectories; status %+v", clocks, st.Open, st)
	}
}

// TestWorkerFeaturesOff: nothing is derived for a tenant without
// features.trajectory, and a bad state file is refused with its path.
func TestWorkerFeaturesOff(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	defer s.Close()
	appendAll(t, s, corpusSpans(t, 500))
	prog := defaultProgram(t)
	cfg := Config{Store: s, Program: func(string) *ir.Program { return prog },
		StatePath: filepath.Join(dir, StateFile), ClockIdle: time.Hour}
	w, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if st := runUntil(t, w, s, func(Status) bool { return true }); st.Derived != 0 || len(stored(t, s)) != 0 {
		t.Fatalf("derived with trajectories off: %+v", st)
	}
	if err := os.WriteFile(cfg.StatePath, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(cfg); err == nil || !bytes.Contains([]byte(err.Error()), []byte(cfg.StatePath)) {
		t.Fatalf("a broken state file: %v", err)
	}
	if err := os.WriteFile(cfg.StatePath, []byte(`{"version":1,"cursor":999999,"engine":{}}`), 0o644); err == nil {
		if _, err := Open(cfg); err == nil || !errors.Is(err, err) || !bytes.Contains([]byte(err.Error()), []byte("another ledger")) {
			t.Fatalf("a state beyond the ledger: %v", err)
		}
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestCloseLatency: every trajectory_closed span the worker stores is
// timed from its cause's received_at to when it was stored, by the
// worker's clock; duplicates (derived again after a restart) are not.
func TestCloseLatency(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	defer s.Close()
	spans := corpusSpans(t, 2000)
	appendAll(t, s, spans)
	prog := defaultProgram(t)
	// Every entry was received before now; the worker's clock says the
	// closes are stored 2 s later than that at least.
	clock := &fixedClock{t: time.Now().Add(2 * time.Second)}
	cfg := Config{Store: s, Program: func(string) *ir.Program { return prog }, Features: on,
		StatePath: filepath.Join(dir, StateFile), Now: clock.Now, ClockIdle: time.Hour, Chunk: 300}
	w, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	st := runUntil(t, w, s, func(Status) bool { return true })
	closed := 0
	if err := s.Read(context.Background(), 0, s.Size(), func(e *span.Entry) error {
		if e.EntityType == derive.TypeClosed {
			closed++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if closed == 0 {
		t.Fatal("no trajectory closed: the test needs closes")
	}
	h := st.CloseLatency
	if h.Count != uint64(closed) {
		t.Fatalf("%d close latencies, %d trajectory_closed spans stored", h.Count, closed)
	}
	// 2 s ≤ each ≤ 2 s + how long the appends took: buckets (1, 2.5]
	// and (2.5, 5].
	bounds := CloseLatencyBounds()
	var sum uint64
	for i, n := range h.Counts {
		if n > 0 && (i == 0 || bounds[i-1] < 1 || bounds[i-1] >= 5) {
			t.Errorf("%d latencies in the bucket ending at %v, want all in (1, 5]", n, bounds[min(i, len(bounds)-1)])
		}
		sum += n
	}
	if sum != h.Count || h.Sum < 2*float64(h.Count) {
		t.Errorf("histogram %+v", h)
	}
	if d, ok := w.LastCloseLatency(spans[0].Tenant); !ok || d < 2*time.Second {
		t.Errorf("LastCloseLatency = %v, %v; want ≥ 2s", d, ok)
	}

	// Derived again from the start: all duplicates, none timed.
	if err := os.Remove(cfg.StatePath); err != nil {
		t.Fatal(err)
	}
	w, err = Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	st = runUntil(t, w, s, func(Status) bool { return true })
	if st.Duplicates == 0 || st.CloseLatency.Count != 0 {
		t.Errorf("after a restart from scratch: %d duplicates, %d close latencies (want some, 0)", st.Duplicates, st.CloseLatency.Count)
	}
}
