package dataplane

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logline/logline/internal/lll/eval"
	"github.com/logline/logline/internal/lll/ir"
	"github.com/logline/logline/internal/span"
)

// TestSpanAlarms: a tenant's alarm blocks raise one alert span per
// matching span of its own — whatever its feature flags — with the
// alarm's severity and message; a second worker over the same ledger
// stores none twice.
func TestSpanAlarms(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	defer s.Close()
	spans := corpusSpans(t, 3000)
	appendAll(t, s, spans)
	want := 0
	for _, sp := range spans {
		if sp.Did == "T06 Determine necessity of stop advice" || sp.Did == "T10 Determine necessity to stop indication" {
			want++
		}
	}
	if want == 0 {
		t.Fatal("no stop decisions in the corpus sample")
	}
	prog := compile(t, `alarm stop_advice {
  when did in ["T06 Determine necessity of stop advice", "T10 Determine necessity to stop indication"]
  severity: "info"
  message: "a case reached a stop decision"
}
`)
	off := func(string) eval.Features { return eval.Features{} }
	cfg := Config{Store: s, Program: func(string) *ir.Program { return prog }, Features: off,
		StatePath: filepath.Join(dir, StateFile), ClockIdle: time.Hour}
	for round := range 2 {
		if round == 1 {
			// Derive again from the start: the alerts are found stored.
			cfg.StatePath = filepath.Join(dir, "other-state.json")
		}
		w, err := Open(cfg)
		if err != nil {
			t.Fatal(err)
		}
		runUntil(t, w, s, func(Status) bool { return true })
		var alerts []*span.Entry
		_ = s.Read(context.Background(), 0, s.Size(), func(e *span.Entry) error {
			if e.EntityType == "alert" {
				c := *e
				alerts = append(alerts, &c)
			}
			return nil
		})
		if len(alerts) != want {
			t.Fatalf("round %d: %d alert spans, want %d", round, len(alerts), want)
		}
		a := alerts[0]
		data, _ := a.FieldString("data")
		if a.Who != AlarmWho || a.This != "stop_advice" || !strings.Contains(data, `"severity":"info"`) || !strings.Contains(data, `"message":"a case reached a stop decision"`) {
			t.Errorf("alert %s by %s about %s: %s", a.ID, a.Who, a.This, data)
		}
	}
}

// TestMetricAlarms: an alarm over metric(…) fires once its conditions
// have held for its `for`, and resolves when they stop holding — here the
// trajectories open (the corpus opens some), then a clock span closes
// them all.
func TestMetricAlarms(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	defer s.Close()
	appendAll(t, s, corpusSpans(t, 300))
	prog := compile(t, `alarm many_open {
  when metric("trajectory.active") >= 1
  for: 10m
  severity: "warning"
  message: "trajectories are open"
}
`)
	start := time.Date(2011, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := &fixedClock{t: start}
	w, err := Open(Config{Store: s, Program: func(string) *ir.Program { return prog }, Features: on,
		StatePath: filepath.Join(dir, StateFile), Now: clock.Now, ClockIdle: time.Hour, Tick: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	alerts := func() []string {
		var out []string
		_ = s.Read(context.Background(), 0, s.Size(), func(e *span.Entry) error {
			if e.EntityType == "alert" {
				out = append(out, e.Did)
			}
			return nil
		})
		return out
	}
	runUntil(t, w, s, func(st Status) bool { return st.Open > 0 })
	time.Sleep(20 * time.Millisecond) // a few ticks: holding, not yet for 10 min
	if got := alerts(); len(got) != 0 {
		t.Fatalf("alerts before the 10 minutes: %v", got)
	}
	clock.Set(start.Add(11 * time.Minute))
	runUntil(t, w, s, func(st Status) bool { return st.Alerts == 1 })
	if got := alerts(); len(got) != 1 || got[0] != "fire" {
		t.Fatalf("alerts %v, want [fire]", got)
	}
	// Idle for an hour and more: a clock span closes every trajectory,
	// and the alarm resolves.
	clock.Set(start.Add(3 * time.Hour))
	runUntil(t, w, s, func(st Status) bool { return st.Alerts == 2 && st.Open == 0 })
	if got := alerts(); len(got) != 2 || got[1] != "resolve" {
		t.Fatalf("alerts %v, want [fire resolve]", got)
	}
}
