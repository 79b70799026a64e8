package quota

import (
	"encoding/json"
	"testing"
	"time"
)

// FuzzLimiter drives a tenant with a tenant-scope and a role-scope limit
// through charges at fuzzed times and checks what a token bucket promises:
// no scope admits more than its burst plus its rate times the time passed
// (plus what one oversized charge may borrow), a refusal names a bucket
// and a wait, and waiting that long lets the same charge through.
func FuzzLimiter(f *testing.F) {
	f.Add(uint16(10), uint16(5), uint16(3), uint16(2), []byte{0, 1, 0, 0, 1, 1, 10, 3, 2, 200, 9, 0})
	f.Add(uint16(999), uint16(1), uint16(1), uint16(499), []byte{1, 255, 1, 0, 255, 3, 255, 1, 2})
	f.Fuzz(func(t *testing.T, rateT, burstT, rateR, burstR uint16, ops []byte) {
		tl := Limit{PerSecond: float64(rateT%1000+1) / 3, Burst: int64(burstT%500 + 1)}
		rl := Limit{PerSecond: float64(rateR%1000+1) / 7, Burst: int64(burstR%500 + 1)}
		clk := newFakeClock()
		l := newTestLimiter(t, clk, Config{MaxTenants: 16})
		mustSet(t, l, "t", Limits{Spans: tl}, map[string]Limits{"r": {Spans: rl}})
		start := clk.Now()
		var admittedT, admittedR, maxT, maxR float64
		check := func() {
			el := clk.Now().Sub(start).Seconds()
			if limit := float64(tl.Burst) + tl.PerSecond*el + max(0, maxT-float64(tl.Burst)); admittedT > limit+1e-6 {
				t.Fatalf("tenant scope admitted %v spans in %vs, more than %v", admittedT, el, limit)
			}
			if limit := float64(rl.Burst) + rl.PerSecond*el + max(0, maxR-float64(rl.Burst)); admittedR > limit+1e-6 {
				t.Fatalf("role scope admitted %v spans in %vs, more than %v", admittedR, el, limit)
			}
		}
		for len(ops) >= 3 {
			dt, n, flags := time.Duration(ops[0])*time.Millisecond, int64(ops[1]), ops[2]
			ops = ops[3:]
			clk.Advance(dt)
			role := ""
			if flags&1 != 0 {
				role = "r"
			}
			c := Cost{Spans: n}
			admit := func() {
				admittedT += float64(n)
				maxT = max(maxT, float64(n))
				if role == "r" {
					admittedR += float64(n)
					maxR = max(maxR, float64(n))
				}
			}
			d := l.Allow("t", role, c)
			switch {
			case d.OK:
				admit()
			case d.RetryAfter <= 0 || d.Dimension != DimSpans || (d.Scope != ScopeTenant && d.Scope != ScopeRole):
				t.Fatalf("refusal %+v does not name a bucket and a wait", d)
			case flags&2 != 0:
				clk.Advance(d.RetryAfter)
				if d2 := l.Allow("t", role, c); !d2.OK {
					t.Fatalf("after waiting %v, charge %d refused again: %+v", d.RetryAfter, n, d2)
				}
				admit()
			}
			check()
		}
	})
}

// FuzzCountersJSON: UnmarshalJSON never panics, and what it accepts
// marshals and reads back to the same counters.
func FuzzCountersJSON(f *testing.F) {
	f.Add([]byte(`{"ingest_spans_count":120,"derived_spans_count":14,"exports_gb":0.25,"ws_minutes":1.5}`))
	f.Add([]byte(`{"exports_gb":1e300}`))
	f.Add([]byte(`{"ws_minutes":-1}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, in []byte) {
		var c Counters
		if err := json.Unmarshal(in, &c); err != nil {
			return
		}
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("Marshal(%+v): %v", c, err)
		}
		var back Counters
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("Unmarshal(%s) of our own output: %v", b, err)
		}
		if back.IngestSpans != c.IngestSpans || back.DerivedSpans != c.DerivedSpans {
			t.Fatalf("counts changed in a round trip: %+v → %+v", c, back)
		}
		if diff := int64(back.ExportBytes - c.ExportBytes); diff > int64(c.ExportBytes>>40)+1 || -diff > int64(c.ExportBytes>>40)+1 {
			t.Fatalf("export bytes drifted in a round trip: %d → %d", c.ExportBytes, back.ExportBytes)
		}
	})
}
