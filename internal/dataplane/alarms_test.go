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
