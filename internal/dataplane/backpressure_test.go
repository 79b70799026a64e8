package dataplane

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/lll/check"
	"github.com/logline/logline/internal/lll/ir"
	"github.com/logline/logline/internal/lll/syntax"
	"github.com/logline/logline/internal/span"
)

func compile(t *testing.T, src string) *ir.Program {
	t.Helper()
	f, err := syntax.Parse("p.lll", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	p, err := check.Check([]*syntax.File{f}, check.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// shedWorker opens a worker over store (in dir) after appending the
// first 1000 corpus spans to real, under max_per_minute 100, its clock
// fixed in one minute of 2011; cfg adjusts its Config. It returns the
// clock and how many spans the engine derives from those spans.
func shedWorker(t *testing.T, dir string, real, store ledger.Store, cfg func(*Config)) (*Worker, *fixedClock, int) {
	t.Helper()
	spans := corpusSpans(t, 1000)
	appendAll(t, real, spans)
	prog := compile(t, "policy derived_events_perf {\n  max_per_minute: 100\n}\n")
	clock := &fixedClock{t: time.Date(2011, 1, 1, 0, 0, 10, 0, time.UTC)}
	c := Config{Store: store, Program: func(string) *ir.Program { return prog }, Features: on,
		StatePath: filepath.Join(dir, StateFile), Now: clock.Now, ClockIdle: 24 * time.Hour, Tick: time.Millisecond}
	if cfg != nil {
		cfg(&c)
	}
	w, err := Open(c)
	if err != nil {
		t.Fatal(err)
	}
	return w, clock, len(offline(t, prog, spans))
}

// TestShedDerived: over max_per_minute, derived spans are shed (not
// appended), counted, and recorded by a derivation_shed span naming the
// causes' log index range once the minute ends.
func TestShedDerived(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	defer s.Close()
	w, clock, all := shedWorker(t, dir, s, s, nil)
	st := runUntil(t, w, s, func(Status) bool { return true })
	if st.Derived != 100 {
		t.Fatalf("appended %d derived spans in one minute, want 100 (of %d)", st.Derived, all)
	}
	if err := w.Admit(context.Background(), "t_receipt"); err != nil {
		t.Fatalf("shed_derived refused an ingest: %v", err)
	}
	clock.Set(clock.Now().Add(time.Minute))
	st = runUntil(t, w, s, func(st Status) bool { return st.Shed > 0 })
	if st.Shed != int64(all-100) {
		t.Errorf("shed %d, want %d", st.Shed, all-100)
	}
	records := storedSheds(t, s)
	shed := 0
	for _, r := range records {
		shed += r.Shed
		if r.Reason != "max_per_minute" {
			t.Errorf("shed record %+v: reason %q, want max_per_minute", r, r.Reason)
		}
	}
	if shed != all-100 {
		t.Errorf("shed records %+v name %d shed spans, want %d", records, shed, all-100)
	}
}

// storedShed is the data of a stored derivation_shed span.
type storedShed struct {
	Shed   int    `json:"shed"`
	From   uint64 `json:"from_log_index"`
	To     uint64 `json:"to_log_index"`
	Reason string `json:"reason"`
}

// storedSheds returns the shed records stored in s, in log order, and
// checks that no two name the same causes.
func storedSheds(t *testing.T, s ledger.Store) []storedShed {
	t.Helper()
	var out []storedShed
	err := s.Read(context.Background(), 0, s.Size(), func(e *span.Entry) error {
		if e.EntityType != "derivation_shed" {
			return nil
		}
		data, _ := e.Field("data")
		var r storedShed
		if err := json.Unmarshal(data, &r); err != nil {
			return fmt.Errorf("shed record %s: %w", e.ID, err)
		}
		out = append(out, r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(out); i++ {
		if out[i].From <= out[i-1].To {
			t.Errorf("shed records %+v and %+v overlap", out[i-1], out[i])
		}
	}
	return out
}

// TestShedRecordedBeforeSave: a worker that stops within the minute in
// which it shed derived spans records them before it saves its state
// (the saved state is past their causes: without a record they would be
// lost for good, and replay --backfill could not find them), and the
// stored derived spans and the records together account for everything
// the engine derives.
func TestShedRecordedBeforeSave(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	defer s.Close()
	// The clock never leaves its minute: only saving records the sheds.
	w, _, all := shedWorker(t, dir, s, s, func(c *Config) { c.Tick, c.Chunk = 0, 300 })
	st := runUntil(t, w, s, func(Status) bool { return true })
	if st.Derived != 100 {
		t.Fatalf("appended %d derived spans in one minute, want 100 (of %d)", st.Derived, all)
	}
	records := storedSheds(t, s)
	shed := 0
	for _, r := range records {
		shed += r.Shed
	}
	if int(st.Derived)+shed != all {
		t.Fatalf("%d derived spans stored and %d named by shed records %+v, want %d in all", st.Derived, shed, records, all)
	}
	if st.Shed != int64(shed) {
		t.Errorf("status counts %d shed, the records %d", st.Shed, shed)
	}
	// (No state file reads as cursor 0: before every cause.)
	if last, saved := records[len(records)-1], savedCursor(t, filepath.Join(dir, StateFile)); last.To >= saved {
		t.Errorf("state saved at %d, before the last shed cause %d", saved, last.To)
	}
}

// TestRejectAndSlow: reject_429 refuses ingest with a Retry-After until
// the minute ends; slow_ingest holds it until the overload clears.
func TestRejectAndSlow(t *testing.T) {
	for _, action := range []string{Reject429, SlowIngest} {
		t.Run(action, func(t *testing.T) {
			dir := t.TempDir()
			s := openStore(t, dir)
			defer s.Close()
			spans := corpusSpans(t, 500)
			appendAll(t, s, spans)
			prog := compile(t, "policy derived_events_perf {\n  max_per_minute: 50\n  on_overload: \""+action+"\"\n}\n")
			all := len(offline(t, prog, spans))
			clock := &fixedClock{t: time.Date(2011, 1, 1, 0, 0, 10, 0, time.UTC)}
			w, err := Open(Config{Store: s, Program: func(string) *ir.Program { return prog }, Features: on,
				StatePath: filepath.Join(dir, StateFile), Now: clock.Now, ClockIdle: 24 * time.Hour, Tick: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			st := runUntil(t, w, s, func(Status) bool { return true })
			if st.Derived != int64(all) || st.Shed != 0 {
				t.Fatalf("%s: appended %d of %d, shed %d: nothing may be shed", action, st.Derived, all, st.Shed)
			}
			if action == Reject429 {
				err := w.Admit(context.Background(), "t_receipt")
				var oe *OverloadError
				if !errors.As(err, &oe) || oe.RetryAfter < 49*time.Second || oe.RetryAfter > time.Minute || oe.Reason != "max_per_minute" {
					t.Fatalf("Admit = %v, want an overload with Retry-After ≈ 50 s", err)
				}
				if err := w.Admit(context.Background(), "other"); err != nil {
					t.Fatalf("another tenant refused: %v", err)
				}
			} else {
				ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
				err := w.Admit(ctx, "t_receipt")
				cancel()
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("slow_ingest did not hold the ingest: %v", err)
				}
			}
			// The minute ends: the overload clears; a held ingest goes on.
			done := make(chan error, 1)
			go func() { done <- w.Admit(context.Background(), "t_receipt") }()
			clock.Set(clock.Now().Add(time.Minute))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() { _ = w.Run(ctx) }()
			select {
			case err := <-done:
				if action == SlowIngest && err != nil {
					t.Fatalf("held ingest after the minute: %v", err)
				}
			case <-time.After(15 * time.Second):
				t.Fatal("Admit still waiting after the overload cleared")
			}
			deadline := time.Now().Add(5 * time.Second)
			for w.Admit(context.Background(), "t_receipt") != nil {
				if time.Now().After(deadline) {
					t.Fatalf("still refused after the minute: %v", w.Admit(context.Background(), "t_receipt"))
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
}

// TestAdmittingStore: an overloaded tenant's appends are refused whole
// with ledger.ErrOverloaded and a Retry-After; another tenant's pass.
func TestAdmittingStore(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	defer s.Close()
	prog := defaultProgram(t)
	clock := &fixedClock{t: time.Date(2011, 1, 1, 0, 0, 10, 0, time.UTC)}
	w, err := Open(Config{Store: s, Program: func(string) *ir.Program { return prog }, Features: on,
		StatePath: filepath.Join(dir, StateFile), Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	w.over.set("t_receipt", overload{action: Reject429, reason: "max_per_minute", until: clock.Now().Add(30 * time.Second)})
	a := Admitting(s, w)
	spans := corpusSpans(t, 3)
	_, err = a.Append(context.Background(), spans)
	var oe *ledger.OverloadError
	if !errors.Is(err, ledger.ErrOverloaded) || !errors.As(err, &oe) || oe.RetryAfter != 30*time.Second {
		t.Fatalf("Append = %v, want an overload with Retry-After 30s", err)
	}
	if s.Size() != 0 {
		t.Fatalf("%d entries stored", s.Size())
	}
	other, err := span.Decode([]byte(`{"id":"o","tenant":"other","who":"w","did":"d","this":"x","when":"2011-01-01T00:00:00Z"}`), span.DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if outs, err := a.Append(context.Background(), []*span.Span{other}); err != nil || outs[0].Err != nil {
		t.Fatalf("another tenant: %v %v", err, outs)
	}
}

// failingShedStore refuses the first append of a shed record.
type failingShedStore struct {
	ledger.Store
	failed atomic.Bool
}

func (s *failingShedStore) Append(ctx context.Context, spans []*span.Span) ([]ledger.Outcome, error) {
	if len(spans) > 0 && spans[0].EntityType == "derivation_shed" && s.failed.CompareAndSwap(false, true) {
		return nil, errors.New("disk on fire")
	}
	return s.Store.Append(ctx, spans)
}

// TestShedRecordedAgainAfterFailedAppend: when a shed record's append
// fails, the worker goes back to its saved state and derives the causes
// after it again; the sheds are recorded again, once: in the end the
// stored derived spans and the records account for everything derived,
// and no two records name the same cause.
func TestShedRecordedAgainAfterFailedAppend(t *testing.T) {
	dir := t.TempDir()
	real := openStore(t, dir)
	defer real.Close()
	s := &failingShedStore{Store: real}
	w, _, all := shedWorker(t, dir, real, s, nil)
	st := runUntil(t, w, real, func(st Status) bool { return s.failed.Load() && st.Shed > 0 })
	if !s.failed.Load() {
		t.Fatal("the shed record's append never failed")
	}
	shed := 0
	for _, r := range storedSheds(t, real) {
		shed += r.Shed
	}
	if int(st.Derived)+shed != all || st.Shed != int64(shed) {
		t.Errorf("%d derived spans stored, %d named by shed records, status %d shed; want %d in all", st.Derived, shed, st.Shed, all)
	}
}
