// Package ledgertest is the conformance suite every ledger.Store passes:
// the same tests, run against each backend.
package ledgertest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/span"
)

// Backend opens stores for the suite.
type Backend struct {
	// Open returns a new, empty store. The suite closes it.
	Open func(t *testing.T) ledger.Store
	// Reopen closes s and opens the same ledger again.
	Reopen func(t *testing.T, s ledger.Store) ledger.Store
}

// Run runs the whole suite.
func Run(t *testing.T, b Backend) {
	tests := []struct {
		name string
		fn   func(*testing.T, Backend)
	}{
		{"AppendAndGet", testAppendAndGet},
		{"Versions", testVersions},
		{"Idempotency", testIdempotency},
		{"TenantChain", testTenantChain},
		{"TenantlessGet", testTenantlessGet},
		{"Query", testQuery},
		{"QueryPaging", testQueryPaging},
		{"ReadRaw", testReadRaw},
		{"Wait", testWait},
		{"Reopen", testReopen},
		{"ConcurrentAppends", testConcurrentAppends},
		{"Closed", testClosed},
		{"Proofs", testProofs},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, b) })
	}
}

// MustSpan decodes a span from JSON or fails the test.
func MustSpan(t testing.TB, js string) *span.Span {
	t.Helper()
	s, err := span.Decode([]byte(js), span.DecodeOptions{NewID: func() string { return "generated" }})
	if err != nil {
		t.Fatalf("decode %s: %v", js, err)
	}
	return s
}

// Simple builds a valid span for tests.
func Simple(tenant, id string, seq int, this string, when time.Time) string {
	return fmt.Sprintf(`{"id":%q,"seq":%d,"tenant":%q,"who":"user:ana","did":"baked","this":%q,"when":%q}`,
		id, seq, tenant, this, when.Format(time.RFC3339Nano))
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func appendOK(t *testing.T, s ledger.Store, spans ...*span.Span) []ledger.Result {
	t.Helper()
	outs, err := s.Append(context.Background(), spans)
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	res := make([]ledger.Result, len(outs))
	for i, o := range outs {
		if o.Err != nil {
			t.Fatalf("append span %d: %v", i, o.Err)
		}
		res[i] = o.Result
	}
	return res
}

func testAppendAndGet(t *testing.T, b Backend) {
	s := b.Open(t)
	defer s.Close()
	sp := MustSpan(t, Simple("acme", "a1", 0, "order:1", t0))
	res := appendOK(t, s, sp)
	if res[0].LogIndex != 0 || res[0].Duplicate || res[0].Hash != sp.Hash || res[0].PrevHash != span.ZeroHash {
		t.Fatalf("got result %+v, want log index 0, zero prev hash, hash %s", res[0], sp.Hash)
	}
	if got := s.Size(); got != 1 {
		t.Fatalf("got size %d, want 1", got)
	}
	e, err := s.Get(context.Background(), "acme", "a1", -1)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if e.Hash != sp.Hash || e.LogIndex != 0 || e.This != "order:1" || !e.ReceivedAt.Equal(res[0].ReceivedAt) {
		t.Fatalf("got entry %+v, want the appended span", e)
	}
	want := sp.AppendEntry(nil, 0, span.ZeroHash, res[0].ReceivedAt)
	if string(e.Line) != string(want) {
		t.Fatalf("got line %s, want %s", e.Line, want)
	}
	if _, err := s.Get(context.Background(), "acme", "missing", -1); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("get missing: got %v, want ErrNotFound", err)
	}
	if _, err := s.Get(context.Background(), "other", "a1", -1); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("get in other tenant: got %v, want ErrNotFound", err)
	}
}

func testVersions(t *testing.T, b Backend) {
	s := b.Open(t)
	defer s.Close()
	ctx := context.Background()
	appendOK(t, s, MustSpan(t, Simple("acme", "v", 0, "x", t0)))
	// seq 1 and 2 in the same call, in order, are fine.
	appendOK(t, s, MustSpan(t, Simple("acme", "v", 1, "x", t0.Add(time.Second))), MustSpan(t, Simple("acme", "v", 2, "x", t0.Add(2*time.Second))))
	cases := []struct {
		name string
		seq  int
	}{
		{"gap", 4},
		{"far gap", 100},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := s.Size()
			outs, err := s.Append(ctx, []*span.Span{MustSpan(t, Simple("acme", "v", tc.seq, "x", t0))})
			if err != nil {
				t.Fatal(err)
			}
			if !errors.Is(outs[0].Err, ledger.ErrConflict) {
				t.Fatalf("got %v, want ErrConflict", outs[0].Err)
			}
			if s.Size() != before {
				t.Fatalf("size changed from %d to %d on a rejected span", before, s.Size())
			}
		})
	}
	t.Run("first version must be 0", func(t *testing.T) {
		outs, err := s.Append(ctx, []*span.Span{MustSpan(t, Simple("acme", "new", 1, "x", t0))})
		if err != nil {
			t.Fatal(err)
		}
		if !errors.Is(outs[0].Err, ledger.ErrConflict) {
			t.Fatalf("got %v, want ErrConflict", outs[0].Err)
		}
	})
	t.Run("gap inside one call", func(t *testing.T) {
		outs, err := s.Append(ctx, []*span.Span{
			MustSpan(t, Simple("acme", "w", 0, "x", t0)),
			MustSpan(t, Simple("acme", "w", 2, "x", t0)),
			MustSpan(t, Simple("acme", "w", 1, "x", t0)),
		})
		if err != nil {
			t.Fatal(err)
		}
		if outs[0].Err != nil || !errors.Is(outs[1].Err, ledger.ErrConflict) || outs[2].Err != nil {
			t.Fatalf("got errors %v, %v, %v; want nil, ErrConflict, nil", outs[0].Err, outs[1].Err, outs[2].Err)
		}
	})
	e, err := s.Get(ctx, "acme", "v", -1)
	if err != nil || e.Seq != 2 {
		t.Fatalf("latest: got %+v, %v; want seq 2", e, err)
	}
	e, err = s.Get(ctx, "acme", "v", 1)
	if err != nil || e.Seq != 1 {
		t.Fatalf("seq 1: got %+v, %v; want seq 1", e, err)
	}
	if _, err := s.Get(ctx, "acme", "v", 7); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("seq 7: got %v, want ErrNotFound", err)
	}
}

func testIdempotency(t *testing.T, b Backend) {
	s := b.Open(t)
	defer s.Close()
	ctx := context.Background()
	js := Simple("acme", "i1", 0, "x", t0)
	first := appendOK(t, s, MustSpan(t, js))[0]
	size := s.Size()
	again := appendOK(t, s, MustSpan(t, js))[0]
	if !again.Duplicate || again.LogIndex != first.LogIndex || again.Hash != first.Hash || !again.ReceivedAt.Equal(first.ReceivedAt) || again.PrevHash != first.PrevHash {
		t.Fatalf("re-append: got %+v, want the original result %+v with Duplicate", again, first)
	}
	if s.Size() != size {
		t.Fatalf("re-append grew the log from %d to %d", size, s.Size())
	}
	// Duplicate within one call.
	outs, err := s.Append(ctx, []*span.Span{MustSpan(t, Simple("acme", "i2", 0, "x", t0)), MustSpan(t, Simple("acme", "i2", 0, "x", t0))})
	if err != nil {
		t.Fatal(err)
	}
	if outs[0].Err != nil || outs[1].Err != nil || !outs[1].Result.Duplicate || outs[1].Result.LogIndex != outs[0].Result.LogIndex {
		t.Fatalf("duplicate in one call: got %+v", outs)
	}
	// An older version re-sent in the same call as newer ones.
	outs, err = s.Append(ctx, []*span.Span{
		MustSpan(t, Simple("acme", "i3", 0, "x", t0)),
		MustSpan(t, Simple("acme", "i3", 1, "x", t0)),
		MustSpan(t, Simple("acme", "i3", 0, "x", t0)),
		MustSpan(t, Simple("acme", "i3", 0, "changed", t0)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if outs[0].Err != nil || outs[1].Err != nil || outs[2].Err != nil || !outs[2].Result.Duplicate || outs[2].Result.LogIndex != outs[0].Result.LogIndex || !errors.Is(outs[3].Err, ledger.ErrConflict) {
		t.Fatalf("old version in one call: got %+v", outs)
	}
	// Same (tenant, id, seq), different content.
	outs, err = s.Append(ctx, []*span.Span{MustSpan(t, Simple("acme", "i1", 0, "changed", t0))})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(outs[0].Err, ledger.ErrConflict) {
		t.Fatalf("conflicting re-append: got %v, want ErrConflict", outs[0].Err)
	}
	// An old version re-sent after newer ones is still a duplicate.
	appendOK(t, s, MustSpan(t, Simple("acme", "i1", 1, "x", t0)))
	if r := appendOK(t, s, MustSpan(t, js))[0]; !r.Duplicate || r.LogIndex != first.LogIndex {
		t.Fatalf("old version re-sent: got %+v, want duplicate of %d", r, first.LogIndex)
	}
}

func testTenantChain(t *testing.T, b Backend) {
	s := b.Open(t)
	defer s.Close()
	a1 := appendOK(t, s, MustSpan(t, Simple("a", "1", 0, "x", t0)))[0]
	b1 := appendOK(t, s, MustSpan(t, Simple("b", "1", 0, "x", t0)))[0]
	a2 := appendOK(t, s, MustSpan(t, Simple("a", "2", 0, "x", t0)))[0]
	if a1.PrevHash != span.ZeroHash || b1.PrevHash != span.ZeroHash {
		t.Fatalf("first entries of a tenant: got prev %s and %s, want zeros", a1.PrevHash, b1.PrevHash)
	}
	if a2.PrevHash != a1.Hash {
		t.Fatalf("got prev_hash %s, want the tenant's previous curr_hash %s", a2.PrevHash, a1.Hash)
	}
	if a2.LogIndex != 2 {
		t.Fatalf("got log index %d, want 2 (dense, global)", a2.LogIndex)
	}
}

func testTenantlessGet(t *testing.T, b Backend) {
	s := b.Open(t)
	defer s.Close()
	ctx := context.Background()
	appendOK(t, s, MustSpan(t, Simple("a", "solo", 0, "x", t0)))
	appendOK(t, s, MustSpan(t, Simple("a", "both", 0, "x", t0)), MustSpan(t, Simple("b", "both", 0, "x", t0)))
	if e, err := s.Get(ctx, "", "solo", -1); err != nil || e.Tenant != "a" {
		t.Fatalf("got %v, %v; want the span of tenant a", e, err)
	}
	if _, err := s.Get(ctx, "", "both", -1); !errors.Is(err, ledger.ErrAmbiguous) {
		t.Fatalf("got %v, want ErrAmbiguous", err)
	}
	if _, err := s.Get(ctx, "", "none", -1); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("got %v, want ErrNotFound", err)
	}
}

func testQuery(t *testing.T, b Backend) {
	s := b.Open(t)
	defer s.Close()
	ctx := context.Background()
	spans := []string{
		`{"id":"q0","tenant":"acme","who":"ana","did":"ordered","this":"order:1","when":"2026-01-01T10:00:00Z","trace_id":"tr1"}`,
		`{"id":"q1","tenant":"acme","who":"bob","did":"baked","this":"order:1","when":"2026-01-01T11:00:00+01:00"}`,
		`{"id":"q2","tenant":"acme","who":"ana","did":"shipped","this":"order:2","when":"2026-01-02T10:00:00Z","trace_id":"tr1"}`,
		`{"id":"q3","tenant":"acme","entity_type":"policy","who":"sys","this":"p","when":"2026-01-03T10:00:00Z"}`,
		`{"id":"q4","tenant":"other","who":"ana","did":"ordered","this":"order:1","when":"2026-01-01T10:00:00Z"}`,
	}
	for _, js := range spans {
		appendOK(t, s, MustSpan(t, js))
	}
	ts := func(v string) time.Time {
		tm, err := time.Parse(time.RFC3339, v)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	cases := []struct {
		name string
		q    ledger.Query
		want []string
	}{
		{"tenant", ledger.Query{Tenant: "acme"}, []string{"q0", "q1", "q2", "q3"}},
		{"this", ledger.Query{Tenant: "acme", This: "order:1"}, []string{"q0", "q1"}},
		{"who", ledger.Query{Tenant: "acme", Who: "ana"}, []string{"q0", "q2"}},
		{"did", ledger.Query{Tenant: "acme", Did: "baked"}, []string{"q1"}},
		{"entity type", ledger.Query{Tenant: "acme", EntityType: "policy"}, []string{"q3"}},
		{"default entity type", ledger.Query{Tenant: "acme", EntityType: "span"}, []string{"q0", "q1", "q2"}},
		{"trace", ledger.Query{Tenant: "acme", TraceID: "tr1"}, []string{"q0", "q2"}},
		{"this and who", ledger.Query{Tenant: "acme", This: "order:1", Who: "bob"}, []string{"q1"}},
		// q1's when is 10:00Z written with an offset: time filters use UTC.
		{"since", ledger.Query{Tenant: "acme", Since: ts("2026-01-01T10:00:00Z")}, []string{"q0", "q1", "q2", "q3"}},
		{"until", ledger.Query{Tenant: "acme", Until: ts("2026-01-01T10:00:01Z")}, []string{"q0", "q1"}},
		{"window", ledger.Query{Tenant: "acme", Since: ts("2026-01-02T00:00:00Z"), Until: ts("2026-01-03T00:00:00Z")}, []string{"q2"}},
		{"window with this", ledger.Query{Tenant: "acme", This: "order:2", Since: ts("2026-01-02T00:00:00Z")}, []string{"q2"}},
		{"no match", ledger.Query{Tenant: "acme", This: "nothing"}, nil},
		{"unknown tenant", ledger.Query{Tenant: "nobody"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := queryAll(t, s, tc.q)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	if _, err := s.Query(ctx, ledger.Query{Tenant: "acme", Cursor: "!!not a cursor"}); !errors.Is(err, ledger.ErrBadCursor) {
		t.Fatalf("bad cursor: got %v, want ErrBadCursor", err)
	}
}

func queryAll(t *testing.T, s ledger.Store, q ledger.Query) []string {
	t.Helper()
	var ids []string
	for i := 0; ; i++ {
		p, err := s.Query(context.Background(), q)
		if err != nil {
			t.Fatalf("query %+v: %v", q, err)
		}
		for _, e := range p.Entries {
			ids = append(ids, e.ID)
		}
		if p.Next == "" {
			return ids
		}
		if i > 100000 {
			t.Fatal("query pages never end")
		}
		q.Cursor = p.Next
	}
}

func testQueryPaging(t *testing.T, b Backend) {
	s := b.Open(t)
	defer s.Close()
	var batch []*span.Span
	for i := range 250 {
		this := "even"
		if i%2 == 1 {
			this = "odd"
		}
		batch = append(batch, MustSpan(t, Simple("acme", fmt.Sprintf("p%03d", i), 0, this, t0.Add(time.Duration(250-i)*time.Second))))
	}
	appendOK(t, s, batch...)
	for _, limit := range []int{1, 7, 100, 1000} {
		t.Run(fmt.Sprint("limit ", limit), func(t *testing.T) {
			got := queryAll(t, s, ledger.Query{Tenant: "acme", This: "odd", Limit: limit})
			if len(got) != 125 || got[0] != "p001" || got[124] != "p249" {
				t.Fatalf("got %d results from %v to %v, want 125 from p001 to p249", len(got), got[0], got[len(got)-1])
			}
			all := queryAll(t, s, ledger.Query{Tenant: "acme", Limit: limit})
			if len(all) != 250 {
				t.Fatalf("got %d results, want 250", len(all))
			}
			// Time-only queries come in event-time order.
			byTime := queryAll(t, s, ledger.Query{Tenant: "acme", Since: t0, Limit: limit})
			if len(byTime) != 250 || byTime[0] != "p249" || byTime[249] != "p000" {
				t.Fatalf("time order: got %d results from %v to %v, want 250 from p249 to p000", len(byTime), byTime[0], byTime[len(byTime)-1])
			}
		})
	}
	p, err := s.Query(context.Background(), ledger.Query{Tenant: "acme", Limit: 5000})
	if err != nil || len(p.Entries) != 250 || p.Next != "" {
		t.Fatalf("limit above max: got %d entries, next %q, err %v; want 250, no cursor", len(p.Entries), p.Next, err)
	}
	q := ledger.Query{Tenant: "acme", This: "odd", Limit: 10}
	p, err = s.Query(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	q2 := ledger.Query{Tenant: "acme", This: "even", Cursor: p.Next}
	if _, err := s.Query(context.Background(), q2); !errors.Is(err, ledger.ErrBadCursor) {
		t.Fatalf("cursor of another query: got %v, want ErrBadCursor", err)
	}
}

func testReadRaw(t *testing.T, b Backend) {
	s := b.Open(t)
	defer s.Close()
	var want []string
	for i := range 5 {
		var batch []*span.Span
		for j := range 7 {
			batch = append(batch, MustSpan(t, Simple("acme", fmt.Sprintf("r%d-%d", i, j), 0, "x", t0)))
		}
		for _, r := range appendOK(t, s, batch...) {
			e, err := s.Get(context.Background(), "acme", r.ID, -1)
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, string(e.Line))
		}
	}
	for _, rng := range [][2]uint64{{0, 35}, {3, 9}, {7, 8}, {34, 35}, {10, 1000}, {35, 40}, {20, 10}} {
		var got []string
		next := rng[0]
		err := s.ReadRaw(context.Background(), rng[0], rng[1], func(idx uint64, line []byte) error {
			if idx != next {
				return fmt.Errorf("got index %d, want %d", idx, next)
			}
			next++
			got = append(got, string(line))
			return nil
		})
		if err != nil {
			t.Fatalf("read %v: %v", rng, err)
		}
		lo, hi := min(rng[0], 35), min(rng[1], 35)
		if hi < lo {
			hi = lo
		}
		if fmt.Sprint(got) != fmt.Sprint(want[lo:hi]) {
			t.Fatalf("read %v: got %d lines, want %d", rng, len(got), hi-lo)
		}
	}
	var n int
	err := s.Read(context.Background(), 30, 35, func(e *span.Entry) error {
		if e.LogIndex != uint64(30+n) {
			return fmt.Errorf("got log index %d, want %d", e.LogIndex, 30+n)
		}
		n++
		return nil
	})
	if err != nil || n != 5 {
		t.Fatalf("read parsed: got %d entries, err %v; want 5", n, err)
	}
	stop := errors.New("stop")
	if err := s.ReadRaw(context.Background(), 0, 35, func(uint64, []byte) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("callback error: got %v, want it returned", err)
	}
}

func testWait(t *testing.T, b Backend) {
	s := b.Open(t)
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got := make(chan uint64, 1)
	go func() {
		n, err := s.Wait(ctx, 0)
		if err != nil {
			t.Errorf("wait: %v", err)
		}
		got <- n
	}()
	appendOK(t, s, MustSpan(t, Simple("acme", "w", 0, "x", t0)))
	if n := <-got; n != 1 {
		t.Fatalf("got size %d, want 1", n)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	if _, err := s.Wait(short, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("wait with nothing new: got %v, want DeadlineExceeded", err)
	}
}

func testReopen(t *testing.T, b Backend) {
	s := b.Open(t)
	var lines []string
	for i := range 20 {
		r := appendOK(t, s, MustSpan(t, Simple(fmt.Sprint("t", i%3), fmt.Sprint("id", i), 0, "x", t0)))[0]
		e, err := s.Get(context.Background(), r.Tenant, r.ID, -1)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, string(e.Line))
	}
	s = b.Reopen(t, s)
	defer s.Close()
	if s.Size() != 20 {
		t.Fatalf("after reopen: got size %d, want 20", s.Size())
	}
	i := 0
	err := s.ReadRaw(context.Background(), 0, 20, func(_ uint64, line []byte) error {
		if string(line) != lines[i] {
			return fmt.Errorf("entry %d changed across reopen", i)
		}
		i++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The chain continues where it was.
	r := appendOK(t, s, MustSpan(t, Simple("t0", "after", 0, "x", t0)))[0]
	prev, err := s.Get(context.Background(), "t0", "id18", -1)
	if err != nil {
		t.Fatal(err)
	}
	if r.PrevHash != prev.Hash || r.LogIndex != 20 {
		t.Fatalf("after reopen: got prev %s index %d, want prev %s index 20", r.PrevHash, r.LogIndex, prev.Hash)
	}
	if d := appendOK(t, s, MustSpan(t, Simple("t1", "id1", 0, "x", t0)))[0]; !d.Duplicate {
		t.Fatalf("re-append after reopen: got %+v, want duplicate", d)
	}
}

func testConcurrentAppends(t *testing.T, b Backend) {
	s := b.Open(t)
	defer s.Close()
	const writers, each = 8, 50
	var wg sync.WaitGroup
	results := make(chan ledger.Result, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				sp, err := span.Decode([]byte(Simple(fmt.Sprint("t", w%2), fmt.Sprintf("c%d-%d", w, i), 0, "x", t0)), span.DecodeOptions{NewID: func() string { return "x" }})
				if err != nil {
					t.Error(err)
					return
				}
				outs, err := s.Append(context.Background(), []*span.Span{sp})
				if err != nil || outs[0].Err != nil {
					t.Errorf("append: %v %v", err, outs)
					return
				}
				results <- outs[0].Result
			}
		}()
	}
	// Readers run while appends happen.
	ctx, cancel := context.WithCancel(context.Background())
	var rwg sync.WaitGroup
	rwg.Add(1)
	go func() {
		defer rwg.Done()
		var next uint64
		for next < writers*each {
			n, err := s.Wait(ctx, next)
			if err != nil {
				return
			}
			if err := s.ReadRaw(ctx, next, n, func(idx uint64, _ []byte) error {
				if idx != next {
					return fmt.Errorf("stream skipped from %d to %d", next, idx)
				}
				next++
				return nil
			}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	wg.Wait()
	close(results)
	seen := map[uint64]bool{}
	for r := range results {
		if seen[r.LogIndex] {
			t.Fatalf("log index %d given twice", r.LogIndex)
		}
		seen[r.LogIndex] = true
	}
	if len(seen) != writers*each || s.Size() != writers*each {
		t.Fatalf("got %d results and size %d, want %d", len(seen), s.Size(), writers*each)
	}
	rwg.Wait()
	cancel()
}

func testClosed(t *testing.T, b Backend) {
	s := b.Open(t)
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if _, err := s.Append(context.Background(), []*span.Span{MustSpan(t, Simple("a", "x", 0, "x", t0))}); !errors.Is(err, ledger.ErrClosed) {
		t.Fatalf("append after close: got %v, want ErrClosed", err)
	}
	if _, err := s.Wait(context.Background(), 100); !errors.Is(err, ledger.ErrClosed) {
		t.Fatalf("wait after close: got %v, want ErrClosed", err)
	}
}
