package bench

import (
	"bytes"
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

// near says a is b but for rounding.
func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

// sectionAlone is a section of interleaved rounds run with only the
// ingest that always runs, and skipped (testSectionAlone).
type sectionAlone struct {
	section string // Section…
	heading string // of its table, run or skipped
	// checkName is part of the name of the section's check, checkTarget
	// part of its target.
	checkName, checkTarget string
	// table are parts of the table of a run.
	table []string
	// report is the section's Skipped and the spans of one of its
	// servers, for a skipped section.
	report func(Report) (skipped string, spans int)
	// check checks the section of a run.
	check func(t *testing.T, rep Report, cfg Config)
}

// testSectionAlone runs the benchmark with only s's section (and the
// ingest that always runs), and with it skipped: a run is checked, has
// its check and its table; a skipped one has neither figures nor check,
// but its heading.
func testSectionAlone(t *testing.T, s sectionAlone) {
	t.Helper()
	for _, tc := range []struct {
		name string
		skip bool
	}{
		{"runs", false},
		{"skipped", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			skip := slices.DeleteFunc(Sections(), func(name string) bool { return name == s.section })
			if tc.skip {
				skip = append(skip, s.section)
			}
			cfg := Config{
				Dir: t.TempDir(), Spans: 1000, Clients: 2, Batch: 250,
				VerifyDuration: 50 * time.Millisecond, PhaseTimeout: 2 * time.Minute,
				Skip: skip, Logger: testLogger(t),
			}
			rep, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			var checked bool
			for _, c := range rep.Checks {
				if strings.Contains(c.Name, s.checkName) {
					checked = true
					if !strings.Contains(c.Target, s.checkTarget) {
						t.Errorf("check %+v does not state the target", c)
					}
				}
			}
			var table bytes.Buffer
			if err := WriteTable(&table, rep); err != nil {
				t.Fatal(err)
			}
			if tc.skip {
				if skipped, spans := s.report(rep); skipped != "skipped" || checked || spans != 0 {
					t.Errorf("skipped section: skipped %q, %d spans, checked %v", skipped, spans, checked)
				}
				if !strings.Contains(table.String(), s.heading) {
					t.Errorf("table without the skipped section:\n%s", table.String())
				}
				return
			}
			s.check(t, rep, cfg)
			if !checked {
				t.Errorf("no %s check in %+v", s.section, rep.Checks)
			}
			for _, want := range append([]string{s.heading}, s.table...) {
				if !strings.Contains(table.String(), want) {
					t.Errorf("table has no %q:\n%s", want, table.String())
				}
			}
		})
	}
}

// roundsSeen is what a section reports of its rounds (checkRounds).
type roundsSeen struct {
	section, skipped, err string
	orders                [][3]string // as run
	rounds                []roundSeen
	// ingests are the servers' ingests, all rounds together, of perRun
	// spans a round each.
	ingests []Throughput
	perRun  int
	// share, cost and wallMicros are the section's, of num's rate to
	// den's (see compare).
	num, den                     Throughput
	share, cost, wallMicros      float64
	settleSeconds, otherCPUShare float64
	pairShares                   []float64
	medianPairShare              float64
}

// roundSeen is a round as a section reports it.
type roundSeen struct {
	order    []string
	perSec   []float64 // the servers' spans/s
	num, den float64   // the spans/s of the round's share
	share    float64
}

// checkRounds checks the figures the rounds give a section of a small
// run: it ran; every server ingested all its spans, the same bodies; the
// section's share, cost and wall µs from its rates; each round ran in its
// order, its share from its rates; the waits for the process to settle;
// the pair shares from the rounds' shares. No timed assertion.
func checkRounds(t *testing.T, s roundsSeen) {
	t.Helper()
	if s.skipped != "" || s.err != "" {
		t.Fatalf("%s: skipped %q, error %q", s.section, s.skipped, s.err)
	}
	for _, in := range s.ingests {
		if in.Spans != len(s.orders)*s.perRun || in.SpansPerSec <= 0 || in.Bytes <= 0 || in.Seconds <= 0 || in.Partial || in.Error != "" {
			t.Errorf("%s ingest %q: %+v", s.section, in.Name, in)
		}
	}
	for _, in := range s.ingests {
		if in.Bytes != s.ingests[0].Bytes {
			t.Errorf("%s: the servers were sent different bodies: %+v", s.section, s.ingests)
			break
		}
	}
	if !near(s.share, s.num.SpansPerSec/s.den.SpansPerSec) || !near(s.cost, 1-s.share) || !near(s.wallMicros, 1e6/s.num.SpansPerSec-1e6/s.den.SpansPerSec) {
		t.Errorf("%s: share %v, cost %v, wall %v µs per span, not from the rates %v and %v", s.section, s.share, s.cost, s.wallMicros, s.num.SpansPerSec, s.den.SpansPerSec)
	}
	if len(s.rounds) != len(s.orders) {
		t.Fatalf("%s: %d rounds, want %d", s.section, len(s.rounds), len(s.orders))
	}
	for i, r := range s.rounds {
		if !slices.Equal(r.order, s.orders[i][:]) || slices.Min(r.perSec) <= 0 || !near(r.share, r.num/r.den) {
			t.Errorf("%s round %d: %+v", s.section, i+1, r)
		}
	}
	if runs := 3 * len(s.orders); s.settleSeconds < 0.99*float64(runs)*valIdleWindow.Seconds() || s.settleSeconds > float64(runs)*(valSettleMax.Seconds()+1) {
		t.Errorf("%s: settled %v s after %d runs", s.section, s.settleSeconds, runs)
	}
	if s.otherCPUShare < -1 || s.otherCPUShare > 1 {
		t.Errorf("%s: other CPU share %v", s.section, s.otherCPUShare)
	}
	if len(s.pairShares) != len(s.orders)/2 {
		t.Fatalf("%s: %d pair shares, want %d", s.section, len(s.pairShares), len(s.orders)/2)
	}
	for i, ps := range s.pairShares {
		if !near(ps, math.Sqrt(s.rounds[2*i].share*s.rounds[2*i+1].share)) {
			t.Errorf("%s pair %d: share %v from rounds %+v and %+v", s.section, i+1, ps, s.rounds[2*i], s.rounds[2*i+1])
		}
	}
	if lo, hi := slices.Min(s.pairShares), slices.Max(s.pairShares); s.medianPairShare < lo || s.medianPairShare > hi {
		t.Errorf("%s: median pair share %v outside [%v, %v]", s.section, s.medianPairShare, lo, hi)
	}
}

// checkOrders checks the orders of a section's rounds: each a permutation
// of variants, every variant at every place of a round equally often,
// and in each pair of rounds a and b swap places (the third keeps its
// own).
func checkOrders(t *testing.T, orders [][3]string, variants []string, a, b string) {
	t.Helper()
	places := map[string][3]int{}
	for _, o := range orders {
		if !slices.Equal(slices.Sorted(slices.Values(o[:])), slices.Sorted(slices.Values(variants))) {
			t.Fatalf("order %v of variants %v", o, variants)
		}
		for i, k := range o {
			p := places[k]
			p[i]++
			places[k] = p
		}
	}
	for _, k := range variants {
		if p := places[k]; p[0] != p[1] || p[1] != p[2] || p[0] == 0 {
			t.Errorf("%s runs at places %v", k, p)
		}
	}
	for i := 0; i+1 < len(orders); i += 2 {
		x, y := orders[i], orders[i+1]
		if slices.Index(x[:], a) != slices.Index(y[:], b) || slices.Index(x[:], b) != slices.Index(y[:], a) {
			t.Errorf("rounds %d and %d (%v, %v): %s and %s do not swap places", i+1, i+2, x, y, a, b)
		}
	}
}

// checkCostCheck checks a section's checks (costCheck): want of them (0
// or 1); the one met as wanted, its Target and its Got with every string
// of target and got.
func checkCostCheck(t *testing.T, cs []Check, want int, met bool, target, got []string) {
	t.Helper()
	if len(cs) != want {
		t.Fatalf("%d checks, want %d: %+v", len(cs), want, cs)
	}
	if want == 0 {
		return
	}
	c := cs[0]
	ok := c.OK == met
	for _, s := range target {
		ok = ok && strings.Contains(c.Target, s)
	}
	for _, s := range got {
		ok = ok && strings.Contains(c.Got, s)
	}
	if !ok {
		t.Errorf("check %+v, want met=%v, target with %q, got with %q", c, met, target, got)
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{0.9, 1.1}, 1},
		{[]float64{1.2, 0.8, 1.0}, 1.0},
		{[]float64{5, 1, 4, 2}, 3},
	} {
		if got := median(slices.Clone(tc.in)); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestPairShares(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []float64
		want []float64
	}{
		{"none", nil, nil},
		{"a round without its pair", []float64{0.9}, nil},
		{"pairs", []float64{0.8, 1.25, 0.5, 0.5}, []float64{1, 0.5}},
		{"the last left out", []float64{4, 1, 2}, []float64{2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := pairShares(tc.in)
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if !near(got[i], tc.want[i]) {
					t.Errorf("got %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func TestCompare(t *testing.T) {
	for _, tc := range []struct {
		name              string
		a, b              float64
		share, cost, wall float64
	}{
		{"slower", 80_000, 100_000, 0.8, 0.2, 2.5},
		{"faster", 125_000, 100_000, 1.25, -0.25, -2},
		{"a unknown", 0, 100_000, 0, 0, 0},
		{"b unknown", 100_000, 0, 0, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			share, cost, wall := compare(tc.a, tc.b)
			if !near(share, tc.share) || !near(cost, tc.cost) || !near(wall, tc.wall) {
				t.Errorf("got share %v, cost %v, wall %v µs; want %v, %v, %v", share, cost, wall, tc.share, tc.cost, tc.wall)
			}
		})
	}
}

// closer is a server whose Close returns err and counts the calls.
type closer struct {
	err    error
	closed *int
}

func (c closer) Close() error { *c.closed++; return c.err }

func TestCloseServers(t *testing.T) {
	var n int
	errB, errC := errors.New("b failed"), errors.New("c failed")
	servers := map[string]closer{"a": {nil, &n}, "b": {errB, &n}, "c": {errC, &n}}
	err := closeServers([]string{"a", "b", "c", "not started"}, servers)
	if !errors.Is(err, errB) || !strings.Contains(err.Error(), "close the b server") {
		t.Errorf("got %v, want the b server's error", err)
	}
	if n != 3 {
		t.Errorf("closed %d servers, want 3", n)
	}
	if err := closeServers([]string{"a"}, map[string]closer{"a": {nil, &n}}); err != nil {
		t.Errorf("got %v, want nil", err)
	}
}

func TestCPUAccount(t *testing.T) {
	c := newCPUAccount()
	c.add("x", cpuTimes{self: 1}, cpuTimes{self: 3}, cpuTimes{self: 4}, true)
	c.add("x", cpuTimes{self: 10}, cpuTimes{self: 11}, cpuTimes{self: 11}, true)
	if c.run["x"] != 3 || c.all["x"] != 4 || !c.known {
		t.Errorf("got run %v, all %v, known %v; want 3, 4, true", c.run["x"], c.all["x"], c.known)
	}
	c.add("y", cpuTimes{}, cpuTimes{}, cpuTimes{}, false)
	if c.known {
		t.Error("a failed reading: still known")
	}
}
