package derive

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestStateRoundTrip: an engine saved halfway through the corpus and
// restored into a new engine derives, for the second half, exactly the
// bytes the uninterrupted engine derives — with a horizon on, so the
// meter's queue is part of the state.
func TestStateRoundTrip(t *testing.T) {
	p := defaultPolicy()
	p.Linker.Window = 30 * 24 * time.Hour
	p.Linker.CloseTimeout = 14 * 24 * time.Hour
	p.Meter.MinSamples = 20
	p.Meter.MinScore = 0
	p.Meter.Horizon = 60 * 24 * time.Hour
	pol := func(string) *Policy { return p }
	lines := corpusLines(t)
	half := len(lines) / 2

	apply := func(e *Engine, from, to int, out *bytes.Buffer) {
		t.Helper()
		var lp LineParser
		emit := func(d *Derived) { out.Write(d.AppendJSON(nil)); out.WriteByte('\n') }
		for _, l := range lines[from:to] {
			in, err := lp.Parse(l)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.Apply(in, emit); err != nil {
				t.Fatal(err)
			}
		}
		if to == len(lines) {
			e.Finish(emit)
		}
	}
	var whole, first, second bytes.Buffer
	apply(New(pol), 0, len(lines), &whole)

	a := New(pol)
	apply(a, 0, half, &first)
	state, err := a.MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	again, _ := a.MarshalState()
	if !bytes.Equal(state, again) {
		t.Fatal("two encodings of one state differ")
	}
	b := New(pol)
	if err := b.UnmarshalState(state); err != nil {
		t.Fatal(err)
	}
	if back, _ := b.MarshalState(); !bytes.Equal(back, state) {
		t.Fatalf("restored state encodes differently:\n%s\n%s", state, back)
	}
	apply(b, half, len(lines), &second)
	if got := first.String() + second.String(); got != whole.String() {
		t.Fatalf("saved and restored: %d bytes derived, uninterrupted %d, and they differ", len(got), whole.Len())
	}
	if b.Stats().Candidates == 0 || b.Stats().Spans != int64(len(lines)) {
		t.Errorf("stats after restore %+v", b.Stats())
	}
}

func TestUnmarshalStateRefuses(t *testing.T) {
	e := New(func(string) *Policy { return defaultPolicy() })
	for _, bad := range []string{
		``, `{}`, `{"version":2}`, `{"version":1,"stats":{"scores":[1]}}`,
		`{"version":1,"stats":{"scores":[` + zeros(101) + `]},"tenants":[{"name":"t","hist":[1],"open":[]}]}`,
		`{"version":1,"stats":{"scores":[` + zeros(101) + `]},"tenants":[{"name":"t","hist":[` + zeros(101) + `],"open":[{"id":"x","key":"k","n":0,"reason":"timeout"}]}]}`,
	} {
		if err := e.UnmarshalState([]byte(bad)); !errors.Is(err, ErrState) {
			t.Errorf("%s: %v, want ErrState", bad, err)
		}
	}
}

func zeros(n int) string {
	var b bytes.Buffer
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('0')
	}
	return b.String()
}

// TestTargetFigure: the quantile at a tenant's percentile target has the
// v8 name quality.p<target>.current.
func TestTargetFigure(t *testing.T) {
	tests := []struct {
		stats   TenantStats
		name    string
		value   float64
		present bool
	}{
		{TenantStats{Target: 96, PTarget: 81}, "quality.p96.current", 81, true},
		{TenantStats{Target: 99.5, PTarget: 90}, "quality.p99.5.current", 90, true},
		{TenantStats{Target: 96, PTarget: -1}, "quality.p96.current", -1, false},
		{TenantStats{P95: 70}, "", 0, false},
	}
	for _, tc := range tests {
		if got := tc.stats.TargetName(); got != tc.name {
			t.Errorf("%+v: TargetName = %q, want %q", tc.stats, got, tc.name)
		}
		if v, ok := tc.stats.Figure(tc.name); v != tc.value || ok != tc.present {
			t.Errorf("%+v: Figure(%q) = %v, %v; want %v, %v", tc.stats, tc.name, v, ok, tc.value, tc.present)
		}
	}
	// Through the engine: a tenant with scores, under the default p96.
	p := defaultPolicy()
	e := New(func(string) *Policy { return p })
	for i := range 10 {
		if err := e.Apply(in(fmt.Sprintf("s%d", i), fmt.Sprintf("k%d", i), time.Duration(i)*7*time.Hour), func(*Derived) {}); err != nil {
			t.Fatal(err)
		}
	}
	ts, _ := e.TenantStats("t")
	if v, ok := ts.Figure("quality.p96.current"); !ok || v != float64(ts.P99) {
		t.Errorf("quality.p96.current = %v, %v over %d scores (p99 %d)", v, ok, ts.Scores, ts.P99)
	}
}
