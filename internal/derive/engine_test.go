package derive

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/logline/logline/internal/lll/eval"
	"github.com/logline/logline/internal/lll/ir"
	"github.com/logline/logline/internal/span"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// defaultPolicy is the defaults of ARCHITECTURE.md §6, trajectories on.
func defaultPolicy() *Policy {
	return &Policy{
		Trajectory: true, Diamond: true,
		Linker: ir.TrajectoryLinker{KeyFields: []string{"this"}, Window: 24 * time.Hour, CloseTimeout: 6 * time.Hour},
		Meter: ir.QualityMeter{Mass: 0.4, Persistence: 0.3, Verification: 0.3, MassSaturation: 32,
			PercentileTarget: 96, MinScore: 60, MinSamples: 100},
	}
}

// in is a span of tenant "t" about this at t0 + at.
func in(id, this string, at time.Duration) *Input {
	when := t0.Add(at)
	return &Input{Tenant: "t", ID: id, Who: "w", This: this, When: when, WhenText: when.Format(time.RFC3339Nano),
		Fields: eval.RawSpan(fmt.Sprintf(`{"id":%q,"this":%q}`, id, this))}
}

// run applies inputs under p and returns one line per derived span:
// "type trajectory-id-suffix details".
func run(t *testing.T, p *Policy, inputs []*Input, finish bool) []string {
	t.Helper()
	e := New(func(string) *Policy { return p })
	var out []string
	ids := map[string]string{} // trajectory id → T1, T2, … in order of appearance
	name := func(id string) string {
		if n, ok := ids[id]; ok {
			return n
		}
		ids[id] = fmt.Sprintf("T%d", len(ids)+1)
		return ids[id]
	}
	emit := func(d *Derived) {
		var s string
		switch d.Type {
		case TypeEdge:
			s = fmt.Sprintf("edge %s #%d %s", name(d.TrajectoryID), d.Position, d.SrcSpanID)
		case TypeClosed:
			s = fmt.Sprintf("closed %s %s n=%d by %s", name(d.TrajectoryID), d.Reason, d.Spans, d.CauseID)
		case TypeQuality:
			s = fmt.Sprintf("quality %s %d %d+%d+%d", name(d.TrajectoryID), d.Score, d.Components.Mass, d.Components.Persistence, d.Components.Verification)
		case TypeCandidate:
			s = fmt.Sprintf("candidate %s %d ≥ %d", name(d.TrajectoryID), d.Score, d.Threshold)
		}
		out = append(out, s)
	}
	for _, x := range inputs {
		if err := e.Apply(x, emit); err != nil {
			t.Fatal(err)
		}
	}
	if finish {
		e.Finish(emit)
	}
	return out
}

func TestLinker(t *testing.T) {
	h := time.Hour
	tests := []struct {
		name   string
		policy func(*Policy)
		inputs []*Input
		finish bool
		want   []string
	}{
		{"one key, continued", nil, []*Input{in("a", "x", 0), in("b", "x", h), in("c", "x", 2*h)}, true, []string{
			"edge T1 #1 a", "edge T1 #2 b", "edge T1 #3 c",
			"closed T1 end_of_input n=3 by end_of_input", "quality T1 19 16+3+0",
		}},
		{"two keys interleaved", nil, []*Input{in("a", "x", 0), in("b", "y", h), in("c", "x", 2*h)}, false, []string{
			"edge T1 #1 a", "edge T2 #1 b", "edge T1 #2 c",
		}},
		{"idle longer than close_timeout", nil, []*Input{in("a", "x", 0), in("b", "x", h), in("c", "y", 7*h+time.Second), in("d", "x", 8*h)}, false, []string{
			"edge T1 #1 a", "edge T1 #2 b",
			// b + 6h = 7h < 7h1s: closed by c, before c is linked.
			"closed T1 timeout n=2 by c", "quality T1 14 13+1+0",
			"edge T2 #1 c",
			"edge T3 #1 d", // x opens anew
		}},
		{"exactly close_timeout is not longer", nil, []*Input{in("a", "x", 0), in("b", "y", 6*h), in("c", "x", 6*h)}, false, []string{
			"edge T1 #1 a", "edge T2 #1 b", "edge T1 #2 c",
		}},
		{"older than window", func(p *Policy) { p.Linker.CloseTimeout = 10 * h }, []*Input{
			in("a", "x", 0), in("b", "x", 9*h), in("c", "x", 18*h), in("d", "y", 24*h+time.Second),
		}, false, []string{
			// 18h/24h × 30 = 22.5 → 23.
			"edge T1 #1 a", "edge T1 #2 b", "edge T1 #3 c",
			"closed T1 window n=3 by d", "quality T1 39 16+23+0",
			"edge T2 #1 d",
		}},
		{"closes in deadline order", nil, []*Input{
			in("a", "x", 0), in("b", "y", h), in("c", "z", 30*time.Minute), in("d", "w", 20*h),
		}, false, []string{
			"edge T1 #1 a", "edge T2 #1 b", "edge T3 #1 c",
			"closed T1 timeout n=1 by d", "quality T1 8 8+0+0",
			"closed T3 timeout n=1 by d", "quality T3 8 8+0+0",
			"closed T2 timeout n=1 by d", "quality T2 8 8+0+0",
			"edge T4 #1 d",
		}},
		{"out of order continues and widens", nil, []*Input{
			in("a", "x", 5*h), in("b", "x", 2*h), in("c", "y", 11*h+time.Minute),
		}, false, []string{
			// b is earlier: first = 2h, last = 5h; timeout at 11h;
			// 3h/24h × 30 = 3.75 → 4.
			"edge T1 #1 a", "edge T1 #2 b",
			"closed T1 timeout n=2 by c", "quality T1 17 13+4+0",
			"edge T2 #1 c",
		}},
		{"out of order does not move time", nil, []*Input{
			in("a", "x", 10*h), in("b", "y", 0), in("c", "y", 5*h), in("d", "x", 11*h),
		}, false, []string{
			// b is 10h older than the watermark but nothing closes: time
			// only moves forward, and c is within b's close_timeout.
			"edge T1 #1 a", "edge T2 #1 b", "edge T2 #2 c", "edge T1 #2 d",
		}},
		{"a span past its trajectory's deadline closes it", nil, []*Input{
			in("a", "x", 10*h), in("b", "y", 0), in("c", "y", 10*h), in("d", "y", 20*h), in("e", "y", 21*h),
		}, false, []string{
			// b opens T2 below the watermark (10h); its deadline (6h)
			// is behind the watermark, which has not moved since. c is
			// 10h after b: by event time T2 timed out before c, so c
			// closes it and opens T3, as it would have in time order.
			// d moves the watermark past T1 and T3 (both due at 16h:
			// the tie goes by trajectory id), e continues d's.
			"edge T1 #1 a", "edge T2 #1 b",
			"closed T2 timeout n=1 by c", "quality T2 8 8+0+0",
			"edge T3 #1 c",
			"closed T3 timeout n=1 by d", "quality T3 8 8+0+0",
			"closed T1 timeout n=1 by d", "quality T1 8 8+0+0",
			"edge T4 #1 d", "edge T4 #2 e",
		}},
		{"history after a clock span", func(p *Policy) { p.Linker.Window, p.Linker.CloseTimeout = 2*h, 30*time.Minute }, []*Input{
			{Tenant: "t", ID: "tick", Who: "system:clock", EntityType: TypeClock, This: "clock", When: t0.Add(1000 * h), WhenText: "2026-02-11T16:00:00Z"},
			in("a", "k", 0), in("b", "k", 10*h), in("c", "k", 58*h),
		}, false, []string{
			// The clock put the watermark far ahead of the history that
			// follows; each span still closes its key's trajectory by
			// event time (what a run without the clock span gives).
			"edge T1 #1 a",
			"closed T1 timeout n=1 by b", "quality T1 8 8+0+0",
			"edge T2 #1 b",
			"closed T2 timeout n=1 by c", "quality T2 8 8+0+0",
			"edge T3 #1 c",
		}},
		{"a late span past the window", func(p *Policy) { p.Linker.CloseTimeout = 30 * h }, []*Input{
			in("a", "z", 100*h), in("b", "x", 0), in("c", "x", 20*h), in("d", "x", 25*h),
		}, false, []string{
			// x opened at 0h below the watermark (100h): 25h > 0h + 24h;
			// 20h/24h × 30 = 25.
			"edge T1 #1 a", "edge T2 #1 b", "edge T2 #2 c",
			"closed T2 window n=2 by d", "quality T2 38 13+25+0",
			"edge T3 #1 d",
		}},
		{"exceptions", func(p *Policy) { p.Linker.Exceptions = []string{"this:heartbeat-*", "data.kind:noise"} }, []*Input{
			in("a", "heartbeat-1", 0), in("b", "x", 0),
			{Tenant: "t", ID: "c", Who: "w", This: "x", When: t0, WhenText: "2026-01-01T00:00:00Z", Fields: eval.RawSpan(`{"data":{"kind":"noise"}}`)},
		}, false, []string{"edge T1 #1 b"}},
		{"key fields", func(p *Policy) { p.Linker.KeyFields = []string{"this", "data.case"} }, []*Input{
			{Tenant: "t", ID: "a", Who: "w", This: "x", When: t0, WhenText: "2026-01-01T00:00:00Z", Fields: eval.RawSpan(`{"data":{"case":1}}`)},
			{Tenant: "t", ID: "b", Who: "w", This: "x", When: t0, WhenText: "2026-01-01T00:00:00Z", Fields: eval.RawSpan(`{"data":{"case":2}}`)},
			{Tenant: "t", ID: "c", Who: "w", This: "x", When: t0, WhenText: "2026-01-01T00:00:00Z", Fields: eval.RawSpan(`{"data":{"case":1}}`)},
			{Tenant: "t", ID: "d", Who: "w", This: "x", When: t0, WhenText: "2026-01-01T00:00:00Z", Fields: eval.RawSpan(`{"data":{}}`)},
		}, false, []string{"edge T1 #1 a", "edge T2 #1 b", "edge T1 #2 c"}},
		{"the data plane's own spans are not linked", nil, []*Input{
			{Tenant: "t", ID: "a", EntityType: TypeEdge, Who: Who, This: "x", When: t0, WhenText: "2026-01-01T00:00:00Z"},
			{Tenant: "t", ID: "b", Who: "system:clock", EntityType: TypeClock, This: "clock", When: t0, WhenText: "2026-01-01T00:00:00Z"},
			{Tenant: "t", ID: "c", Who: "system:auth", This: "x", When: t0, WhenText: "2026-01-01T00:00:00Z"},
		}, false, nil},
		{"system spans do not move time", nil, []*Input{
			in("a", "x", 0),
			{Tenant: "t", ID: "auth", Who: "system:auth", EntityType: "auth_event", This: "x", When: t0.Add(100 * h), WhenText: "2026-01-05T04:00:00Z"},
			in("b", "x", h),
		}, false, []string{"edge T1 #1 a", "edge T1 #2 b"}},
		{"a clock span moves time", nil, []*Input{
			in("a", "x", 0),
			{Tenant: "t", ID: "tick", Who: "system:clock", EntityType: TypeClock, This: "clock", When: t0.Add(7 * h), WhenText: "2026-01-01T07:00:00Z"},
		}, false, []string{"edge T1 #1 a", "closed T1 timeout n=1 by tick", "quality T1 8 8+0+0"}},
		{"rule close", func(p *Policy) {
			p.CloseRule = func(f eval.Fields) (bool, error) {
				raw, ok := f.Field("id")
				return ok && string(raw) == `"b"`, nil
			}
		}, []*Input{in("a", "x", 0), in("b", "x", h), in("c", "x", 2*h)}, false, []string{
			"edge T1 #1 a", "edge T1 #2 b", "closed T1 rule n=2 by b", "quality T1 14 13+1+0", "edge T2 #1 c",
		}},
		{"trajectories off", func(p *Policy) { p.Trajectory = false }, []*Input{in("a", "x", 0)}, true, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := defaultPolicy()
			if tc.policy != nil {
				tc.policy(p)
			}
			if diff := cmp.Diff(tc.want, run(t, p, tc.inputs, tc.finish)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestScoreArithmetic checks Score against values computed by hand.
func TestScoreArithmetic(t *testing.T) {
	m := defaultPolicy().Meter
	day := 24 * time.Hour
	tests := []struct {
		name                   string
		n                      int
		span                   time.Duration
		signed, confirmed      int
		mass, pers, ver, score int
	}{
		// log2(2)/log2(33) = 0.19825… → 40 × 0.19825 = 7.93 → 8.
		{"one span", 1, 0, 0, 0, 8, 0, 0, 8},
		// log2(4)/log2(33) = 0.39650… → 15.86 → 16; 2h/24h × 30 = 2.5 → 3 (half away from zero).
		{"three spans, 2h", 3, 2 * time.Hour, 0, 0, 16, 3, 0, 19},
		// n = 32 saturates mass; 12h → 15; all confirmed: 0.5 → 15.
		{"saturated", 32, 12 * time.Hour, 0, 32, 40, 15, 15, 70},
		// beyond saturation and window: capped at 1.
		{"capped", 1000, 3 * day, 1000, 1000, 40, 30, 30, 100},
		// log2(5)/log2(33) = 0.46030… → 18.41 → 18; verification:
		// (0.5×2 + 0.5×3)/4 = 0.625 → 18.75 → 19.
		{"mixed verification", 4, 0, 2, 3, 18, 0, 19, 37},
	}
	for _, tc := range tests {
		c := Score(m, day, tc.n, tc.span, tc.signed, tc.confirmed)
		want := Components{Mass: tc.mass, Persistence: tc.pers, Verification: tc.ver, Score: tc.score}
		if c != want {
			t.Errorf("%s: %+v, want %+v", tc.name, c, want)
		}
	}
}

// TestMeter: the rule on crafted distributions, ties included.
func TestMeter(t *testing.T) {
	q := ir.QualityMeter{PercentileTarget: 96, MinScore: 60, MinSamples: 100}
	fill := func(counts map[int]int) *meter {
		m := &meter{}
		for s, n := range counts {
			for range n {
				m.add(t0, s)
			}
		}
		return m
	}
	tests := []struct {
		name   string
		m      *meter
		q      ir.QualityMeter
		want   int
		wantOK bool
	}{
		{"too few samples", fill(map[int]int{50: 99}), q, 0, false},
		// 100 scores 0..99: below(96) = 96 → 96/100 ≥ 0.96.
		{"uniform", func() *meter {
			m := &meter{}
			for s := range 100 {
				m.add(t0, s)
			}
			return m
		}(), q, 96, true},
		// 96 at 50, 4 at 70: below(51) = 96 → threshold 51, raised to 60.
		{"min_score raises it", fill(map[int]int{50: 96, 70: 4}), q, 60, true},
		// 95 at 50, 5 at 80: below(51) = 95 < 96, below(81) = 100 → 81.
		{"ties above", fill(map[int]int{50: 95, 80: 5}), q, 81, true},
		// everything at 100: nothing is ever strictly above 96% of it.
		{"all ties at the top", fill(map[int]int{100: 200}), q, 0, false},
		// p50 of 0..99: below(50) = 50.
		{"p50", func() *meter {
			m := &meter{}
			for s := range 100 {
				m.add(t0, s)
			}
			return m
		}(), ir.QualityMeter{PercentileTarget: 50, MinSamples: 1}, 50, true},
	}
	for _, tc := range tests {
		got, ok := tc.m.threshold(tc.q)
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("%s: threshold %d %v, want %d %v", tc.name, got, ok, tc.want, tc.wantOK)
		}
	}
	m := fill(map[int]int{10: 50, 20: 49, 90: 1})
	for q, want := range map[float64]int{0.5: 10, 0.51: 20, 0.99: 20, 1: 90} {
		if got := m.quantile(q); got != want {
			t.Errorf("quantile(%v) = %d, want %d", q, got, want)
		}
	}
	if (&meter{}).quantile(0.5) != -1 {
		t.Error("quantile of nothing is not -1")
	}
}

// TestMeterHorizon: scores older than the horizon leave the histogram.
func TestMeterHorizon(t *testing.T) {
	m := &meter{}
	m.configure(time.Hour)
	m.add(t0, 10)
	m.add(t0.Add(30*time.Minute), 20)
	m.evict(t0.Add(time.Hour)) // exactly an hour: stays
	if m.n != 2 {
		t.Fatalf("n = %d, want 2", m.n)
	}
	m.evict(t0.Add(time.Hour + time.Second))
	if m.n != 1 || m.hist[10] != 0 || m.hist[20] != 1 {
		t.Fatalf("after evicting: n %d, hist[10] %d, hist[20] %d", m.n, m.hist[10], m.hist[20])
	}
}

// TestCandidates: candidates only after min_samples, only with diamond
// on, and the meter counts scores either way.
func TestCandidates(t *testing.T) {
	p := defaultPolicy()
	p.Meter.MinSamples = 3
	p.Meter.MinScore = 0
	p.Meter.PercentileTarget = 50
	// Trajectories of 1, 1, 1 spans (score 8), then 3 (score 16).
	var inputs []*Input
	for i, n := range []int{1, 1, 1, 3, 1} {
		for j := range n {
			inputs = append(inputs, in(fmt.Sprintf("s%d-%d", i, j), fmt.Sprintf("k%d", i), time.Duration(i)*10*time.Hour))
		}
	}
	got := run(t, p, inputs, true)
	var cands []string
	for _, l := range got {
		if strings.HasPrefix(l, "candidate") {
			cands = append(cands, l)
		}
	}
	// T4 (16) has 3 earlier scores of 8: all below → candidate with
	// threshold 9. T5 (8): 3 of 4 earlier are 8, none below → not.
	if diff := cmp.Diff([]string{"candidate T4 16 ≥ 9"}, cands); diff != "" {
		t.Errorf("(-want +got):\n%s\nall: %q", diff, got)
	}
	p.Diamond = false
	for _, l := range run(t, p, inputs, true) {
		if strings.HasPrefix(l, "candidate") {
			t.Errorf("diamond off, yet %s", l)
		}
	}
}

// TestDerivedJSON: derived spans are valid JSON with the v8 payload, and
// ids depend only on the cause.
func TestDerivedJSON(t *testing.T) {
	p := defaultPolicy()
	e := New(func(string) *Policy { return p })
	var lines []string
	emit := func(d *Derived) { lines = append(lines, string(d.AppendJSON(nil))) }
	x := in("s_1", "case \"1\"\n", 0)
	if err := e.Apply(x, emit); err != nil {
		t.Fatal(err)
	}
	e.Finish(emit)
	if len(lines) != 3 {
		t.Fatalf("lines %q", lines)
	}
	for _, l := range lines {
		var v map[string]any
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("%s: %v", l, err)
		}
	}
	want := `{"id":"` + New(func(string) *Policy { return p }).derivedID(&Derived{Type: TypeEdge, Tenant: "t", CauseID: "s_1", TrajectoryID: e.trajectoryID(x)}) +
		`","tenant":"t","entity_type":"trajectory_edge","who":"system:trajectory","did":"link","this":"case \"1\"\n"` +
		`,"when":"2026-01-01T00:00:00Z","related_to":["s_1"],"trace_id":"` + e.trajectoryID(x) + `","data":{"trajectory_id":"` + e.trajectoryID(x) + `","position":1,"src_span_id":"s_1","this":"case \"1\"\n"}}`
	if lines[0] != want {
		t.Errorf("edge\n got %s\nwant %s", lines[0], want)
	}
	if !strings.Contains(lines[1], `"entity_type":"trajectory_closed"`) || !strings.Contains(lines[1], `"reason":"end_of_input","spans":1}`) ||
		strings.Contains(lines[1], "related_to") {
		t.Errorf("closed: %s", lines[1])
	}
	if !strings.Contains(lines[2], `"score":8,"components":{"mass":8,"persistence":0,"verification":0}}`) {
		t.Errorf("quality: %s", lines[2])
	}
}

func TestAppendString(t *testing.T) {
	for _, s := range []string{"", "plain", `q"uote\`, "tab\tnl\ncr\r\x00\x1f", "é ☃ 😀", "bad \xff utf8", "\u2028", "d_0af3", "t_\"x"} {
		if got, want := appendPlain(nil, s), appendString(nil, s); string(got) != string(want) {
			t.Errorf("appendPlain(%q) = %s, appendString %s", s, got, want)
		}
		got := appendString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Errorf("%q → %s: %v", s, got, err)
			continue
		}
		want := strings.ToValidUTF8(s, "\ufffd")
		if back != want {
			t.Errorf("%q → %s → %q", s, got, back)
		}
	}
}

// TestDerivedAreSpans: every span derived from the corpus is a valid
// span for the ledger (span.Decode accepts it, as the server's append
// will), with the v8 type as entity_type and the trajectory as trace_id.
func TestDerivedAreSpans(t *testing.T) {
	p := defaultPolicy()
	e := New(func(string) *Policy { return p })
	n := 0
	types := map[string]int{}
	var b span.Builder
	emit := func(d *Derived) {
		n++
		types[d.Type]++
		line := d.AppendJSON(nil)
		sp, err := span.Decode(line, span.DecodeOptions{})
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		if sp.EntityType != d.Type || sp.TraceID != d.TrajectoryID || sp.Who != Who || sp.ID != d.ID {
			t.Fatalf("decoded %+v from %s", sp, line)
		}
		// What the server stores (Derived.Span) is what Decode makes of
		// the same span: same canonical bytes, same curr_hash.
		built, err := d.Span(&b)
		if err != nil {
			t.Fatalf("%s: Span: %v", line, err)
		}
		if !reflect.DeepEqual(built, sp) {
			t.Fatalf("Span:\n%s\nDecode:\n%s", built.Canonical(), sp.Canonical())
		}
	}
	var lp LineParser
	for _, l := range corpusLines(t) {
		in, err := lp.Parse(l)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Apply(in, emit); err != nil {
			t.Fatal(err)
		}
	}
	e.Finish(emit)
	if n == 0 {
		t.Fatal("nothing derived")
	}
	// (The default policy finds no candidate in the corpus: the
	// candidate is among the crafted ones below.)
	for _, typ := range []string{TypeEdge, TypeClosed, TypeQuality} {
		if types[typ] == 0 {
			t.Errorf("no %s derived from the corpus: %v", typ, types)
		}
	}
	// Strings a canonical form escapes, and invalid UTF-8 (offline input).
	for _, d := range []Derived{
		{Type: TypeEdge, Tenant: "t", ID: "d_1", TrajectoryID: "t_1", When: "2026-01-01T00:00:00Z", CauseID: "c\"1", This: "q\"uote\\ \n\u2028 \xff", Position: 7, SrcSpanID: "c\"1"},
		{Type: TypeClosed, Tenant: "t", ID: "d_2", TrajectoryID: "t_1", When: "2026-01-01T00:00:00Z", CauseID: "end_of_input", This: "x", Reason: "end_of_input", Spans: 3},
		{Type: TypeQuality, Tenant: "t", ID: "d_3", TrajectoryID: "t_1", When: "2026-01-01T00:00:00Z", This: "x", Score: 71, Components: Components{Mass: 30, Persistence: 21, Verification: 20}},
		{Type: TypeCandidate, Tenant: "t", ID: "d_4", TrajectoryID: "t_1", When: "2026-01-01T00:00:00+02:00", CauseID: "c", This: "x", Score: 90, Threshold: 85},
	} {
		want, err := span.Decode(d.AppendJSON(nil), span.DecodeOptions{})
		if err != nil {
			t.Fatalf("%s: %v", d.AppendJSON(nil), err)
		}
		got, err := d.Span(&b)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: Span = %v\n%s\nwant\n%s", d.Type, err, got.Canonical(), want.Canonical())
		}
	}
}
