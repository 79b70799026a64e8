package derive

import (
	"bytes"
	"errors"
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
