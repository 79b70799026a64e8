package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/logline/logline/internal/lll/check"
)

// checkValidators checks the validators section of a small run: every
// tenant's ingest filled in with the same bodies, the ratios computed
// from the rates. No timed assertion.
func checkValidators(t *testing.T, v Validators, cfg Config) {
	t.Helper()
	if v.Skipped != "" || v.Error != "" {
		t.Fatalf("validators: skipped %q, error %q", v.Skipped, v.Error)
	}
	for _, in := range []Throughput{v.None, v.Default, v.Full} {
		if in.Spans != valRounds*valRunSpans(cfg.Spans) || in.SpansPerSec <= 0 || in.Bytes <= 0 || in.Seconds <= 0 || in.Partial || in.Error != "" {
			t.Errorf("validators ingest %q: %+v", in.Name, in)
		}
	}
	if v.None.Bytes != v.Full.Bytes || v.None.Bytes != v.Default.Bytes {
		t.Errorf("the tenants were sent different bodies: %d, %d, %d bytes", v.None.Bytes, v.Default.Bytes, v.Full.Bytes)
	}
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }
	if !near(v.Share, v.Full.SpansPerSec/v.None.SpansPerSec) || !near(v.Cost, 1-v.Share) ||
		!near(v.DefaultShare, v.Default.SpansPerSec/v.None.SpansPerSec) {
		t.Errorf("share %v cost %v default share %v, not from the rates %+v", v.Share, v.Cost, v.DefaultShare, v)
	}
	if !near(v.WallMicros, 1e6/v.Full.SpansPerSec-1e6/v.None.SpansPerSec) {
		t.Errorf("wall µs per span %v, not from the rates", v.WallMicros)
	}
	if len(v.Rounds) != valRounds {
		t.Fatalf("%d rounds, want %d", len(v.Rounds), valRounds)
	}
	for i, r := range v.Rounds {
		if !slices.Equal(r.Order, valOrders[i][:]) || r.NonePerSec <= 0 || r.DefaultPerSec <= 0 || r.FullPerSec <= 0 || !near(r.Share, r.FullPerSec/r.NonePerSec) {
			t.Errorf("round %d: %+v", i+1, r)
		}
	}
	if runs := 3 * valRounds; v.SettleSeconds < 0.99*float64(runs)*valIdleWindow.Seconds() || v.SettleSeconds > float64(runs)*(valSettleMax.Seconds()+1) {
		t.Errorf("settled %v s after %d runs", v.SettleSeconds, runs)
	}
	if v.OtherCPUShare < -1 || v.OtherCPUShare > 1 || v.PredictedCost < 0 || v.PredictedCost >= 1 {
		t.Errorf("other CPU share %v, predicted cost %v", v.OtherCPUShare, v.PredictedCost)
	}
	if len(v.PairShares) != valRounds/2 {
		t.Fatalf("%d pair shares, want %d", len(v.PairShares), valRounds/2)
	}
	for i, ps := range v.PairShares {
		if !near(ps, math.Sqrt(v.Rounds[2*i].Share*v.Rounds[2*i+1].Share)) {
			t.Errorf("pair %d: share %v from rounds %+v and %+v", i+1, ps, v.Rounds[2*i], v.Rounds[2*i+1])
		}
	}
	if lo, hi := slices.Min(v.PairShares), slices.Max(v.PairShares); v.MedianPairShare < lo || v.MedianPairShare > hi {
		t.Errorf("median pair share %v outside [%v, %v]", v.MedianPairShare, lo, hi)
	}
	if v.EvalCalls != valRounds*valRunSpans(cfg.Spans) || v.EvalMicrosNone <= 0 || v.EvalMicrosDefault <= 0 || v.EvalMicrosFull <= 0 {
		t.Errorf("Validate alone: %d calls, none %v µs, default %v µs, full %v µs", v.EvalCalls, v.EvalMicrosNone, v.EvalMicrosDefault, v.EvalMicrosFull)
	}
	want := []string{check.CanonicalContractName}
	for _, r := range valRules {
		want = append(want, r.name)
	}
	if !slices.Equal(v.Validators, want) {
		t.Errorf("validators %v, want %v", v.Validators, want)
	}
	if v.Corpus.Spans == 0 || len(v.Corpus.Applied) != len(valRules) {
		t.Errorf("corpus: %+v", v.Corpus)
	}
}

// TestValidatorsSection runs the benchmark with only the validators
// section (and the ingest that always runs), and with it skipped.
func TestValidatorsSection(t *testing.T) {
	for _, tc := range []struct {
		name string
		skip bool
	}{
		{"runs", false},
		{"skipped", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			skip := []string{SectionLatency, SectionReads, SectionStream, SectionAuth, SectionDataPlane, SectionMemory, SectionRecovery, SectionExport, SectionPG, SectionPGStore}
			if tc.skip {
				skip = append(skip, SectionValidators)
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
				if strings.Contains(c.Name, "5 rules") {
					checked = true
					if !strings.Contains(c.Target, "≤ 10%") {
						t.Errorf("check %+v does not state the target", c)
					}
				}
			}
			var table bytes.Buffer
			if err := WriteTable(&table, rep); err != nil {
				t.Fatal(err)
			}
			if tc.skip {
				if rep.Validators.Skipped != "skipped" || checked || rep.Validators.Full.Spans != 0 {
					t.Errorf("skipped section: %+v, checked %v", rep.Validators, checked)
				}
				if !strings.Contains(table.String(), "VALIDATORS") {
					t.Errorf("table without the skipped section:\n%s", table.String())
				}
				return
			}
			checkValidators(t, rep.Validators, cfg)
			if !checked {
				t.Errorf("no validators check in %+v", rep.Checks)
			}
			for _, want := range []string{"canonical_contract_v1 + 5 rules", "Machine.Validate alone", "rules apply to"} {
				if !strings.Contains(table.String(), want) {
					t.Errorf("table has no %q:\n%s", want, table.String())
				}
			}
		})
	}
}

// TestValRulesCorpus: the five rules accept every span of the generated
// corpus and of the receipt corpus (when found), and each applies to
// some of them; a span that breaks a rejecting rule is refused before
// anything is timed.
func TestValRulesCorpus(t *testing.T) {
	ctx := context.Background()
	full, err := compileVal("full.lll", append(append([]byte(valPolicy), check.CanonicalContractSource()...), valRulesSource()...))
	if err != nil {
		t.Fatal(err)
	}
	corpora := []struct {
		name  string
		path  string
		apply []string // rules that must apply to some spans
	}{
		{"generated", "", []string{"receipt_data", "confirmed_known_channel", "case_subject"}},
		{"receipt", findCorpus(), []string{"receipt_data", "confirmed_known_channel", "case_subject", "responsible_named", "receipt_seen"}},
	}
	for _, tc := range corpora {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "receipt" && tc.path == "" {
				t.Skip("corpus " + DefaultCorpus + " not found")
			}
			c, err := loadCorpus(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			spans, err := c.decodeAll()
			if err != nil {
				t.Fatal(err)
			}
			res, err := checkValCorpus(ctx, full, spans)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Warned) != 0 {
				t.Errorf("warnings on the corpus: %v", res.Warned)
			}
			for _, r := range tc.apply {
				if n := res.Applied[r]; n <= 0 || n > len(spans) {
					t.Errorf("rule %s applies to %d of %d spans", r, n, len(spans))
				}
			}
		})
	}

	// Spans a rejecting rule refuses: the section stops before timing.
	for _, bad := range []struct {
		span, validator, rule string
	}{
		{`{"tenant":"t","who":"w","did":"d","this":"case:1","when":"2026-01-01T00:00:00Z","status":"confirmed","confirmed_by":[],"data":{"department":"General"}}`,
			"receipt_data", `require field "data.channel" as "string"`},
		{`{"tenant":"t","who":"w","did":"d","this":"order:1","when":"2026-01-01T00:00:00Z","status":"confirmed","confirmed_by":[],"data":{"channel":"Desk"}}`,
			"case_subject", `require this matches "case:*"`},
		{`{"tenant":"t","who":"w","did":"d","this":"case:1","when":"2026-01-01T00:00:00Z","status":"confirmed","data":{"channel":"Desk"}}`,
			"confirmed_known_channel", `require field "confirmed_by" as "array"`},
		{`{"tenant":"t","who":"w","did":"Confirmation of receipt","this":"case:1","when":"2026-01-01T00:00:00Z","status":"confirmed","confirmed_by":[],"data":{"channel":"Desk"}}`,
			"receipt_seen", `require field "data.department" as "string"`},
	} {
		tm, err := newTemplate([]byte(bad.span))
		if err != nil {
			t.Fatal(err)
		}
		spans, err := (&corpus{tmpl: []template{tm}}).decodeAll()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := checkValCorpus(ctx, full, spans); err == nil || !strings.Contains(err.Error(), "validator "+bad.validator+", "+bad.rule+":") {
			t.Errorf("%s: got %v, want a rejection by %s, %s", bad.span, err, bad.validator, bad.rule)
		}
	}
	// responsible_named only warns.
	warn, err := newTemplate([]byte(`{"tenant":"t","who":"w","did":"d","this":"case:1","when":"2026-01-01T00:00:00Z","status":"confirmed","confirmed_by":[],"data":{"channel":"Desk","department":"General"}}`))
	if err != nil {
		t.Fatal(err)
	}
	spans, err := (&corpus{tmpl: []template{warn}}).decodeAll()
	if err != nil {
		t.Fatal(err)
	}
	res, err := checkValCorpus(ctx, full, spans)
	if err != nil || res.Warned[`responsible_named: require field "data.responsible" as "string"`] != 1 {
		t.Errorf("a span without data.responsible: %+v, %v", res, err)
	}
}

// ndLine is one result line of an NDJSON ingest response.
type ndLine struct {
	Line  int  `json:"line"`
	OK    bool `json:"ok"`
	Error *struct {
		Status int    `json:"status"`
		Code   string `json:"code"`
		Detail string `json:"detail"`
	} `json:"error"`
	Summary *struct {
		Lines, Accepted, Rejected int
	} `json:"summary"`
}

// TestValidatorsRejected: a tenant whose rule rejects some spans gets
// 422 validation_failed naming the rule for those lines (and for a
// single POST), and nothing of them is stored; the other lines are.
// Not timed.
func TestValidatorsRejected(t *testing.T) {
	ctx := context.Background()
	const tenant = "bench-val-reject"
	rule := `validator needs_fax {
  when data.amount > 500
  require field "data.fax" as "string"
}
`
	srv, err := startValServer(ctx, t.TempDir(), map[string]map[string][]byte{tenant: {"rules.lll": []byte(rule)}}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := srv.Close(); err != nil {
			t.Error(err)
		}
	}()
	gen, err := loadCorpus("") // data.amount = 100 + 37 i
	if err != nil {
		t.Fatal(err)
	}
	c, err := gen.retenant(tenant)
	if err != nil {
		t.Fatal(err)
	}
	const n = 100
	d := newIDs()
	var body bytes.Buffer
	rejected := map[int]bool{} // line numbers, from 1
	for i, l := range c.lines(d, "r", n) {
		body.Write(l)
		body.WriteByte('\n')
		if 100+37*(i%len(c.tmpl)) > 500 {
			rejected[i+1] = true
		}
	}
	if len(rejected) == 0 || len(rejected) == n {
		t.Fatalf("%d of %d lines to reject: the test needs both kinds", len(rejected), n)
	}
	tg := &target{base: srv.url, hc: newHTTPClient()}
	defer tg.hc.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.url+"/ingest", &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := tg.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /ingest: %s", resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	seen := 0
	for sc.Scan() {
		var l ndLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("result line %q: %v", sc.Text(), err)
		}
		if s := l.Summary; s != nil {
			if s.Lines != n || s.Rejected != len(rejected) || s.Accepted != n-len(rejected) {
				t.Errorf("summary %+v, want %d rejected of %d", *s, len(rejected), n)
			}
			continue
		}
		seen++
		switch {
		case rejected[l.Line]:
			if l.OK || l.Error == nil || l.Error.Status != http.StatusUnprocessableEntity || l.Error.Code != "validation_failed" ||
				!strings.Contains(l.Error.Detail, "needs_fax") || !strings.Contains(l.Error.Detail, `require field "data.fax"`) {
				t.Errorf("line %d: %s", l.Line, sc.Text())
			}
		case !l.OK:
			t.Errorf("line %d refused: %s", l.Line, sc.Text())
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if seen != n {
		t.Errorf("%d result lines, want %d", seen, n)
	}

	// Nothing of the rejected lines is stored; every other line is.
	var r Reads
	if err := queryPages(ctx, tg, tenant, 1000, 10, time.Now().Add(time.Minute), &r); err != nil {
		t.Fatal(err)
	}
	if r.PageSpans != n-len(rejected) {
		t.Errorf("tenant %s holds %d spans, want %d", tenant, r.PageSpans, n-len(rejected))
	}
	for line := range rejected {
		status, b, err := tg.getStatus(ctx, "/spans/"+d.id("r", line-1)+"?tenant="+tenant)
		if err != nil || status != http.StatusNotFound {
			t.Errorf("rejected line %d: GET %d %s %v", line, status, b, err)
		}
	}

	// A single POST of a rejected span: 422.
	first := 0
	for i := range c.tmpl {
		if rejected[i+1] {
			first = i
			break
		}
	}
	status, b, err := tg.postSingle(ctx, c.appendLine(nil, d.id("s", 0), first))
	if err != nil || status != http.StatusUnprocessableEntity || !strings.Contains(string(b), "validation_failed") {
		t.Errorf("single POST of a rejected span: %d %s %v", status, b, err)
	}
}

// getStatus GETs path and returns the status and the start of the body.
func (t *target) getStatus(ctx context.Context, path string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.base+path, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := t.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, err = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.Bytes(), err
}

// TestValidatorsChecks: the target line says the target and whether it
// was met; a section skipped or failed gives none.
func TestValidatorsChecks(t *testing.T) {
	ok := func(full float64) Validators {
		v := Validators{
			None: Throughput{Spans: 10, SpansPerSec: 100_000},
			Full: Throughput{Spans: 10, SpansPerSec: full},
		}
		v.Share = full / 100_000
		v.Cost = 1 - v.Share
		v.WallMicros = 1e6/full - 1e6/100_000
		return v
	}
	for _, tc := range []struct {
		name   string
		v      Validators
		checks int
		met    bool
	}{
		{"met", ok(95_000), 1, true},
		{"exactly 10%", ok(90_000), 1, true},
		{"missed", ok(85_000), 1, false},
		{"skipped", Validators{Skipped: "skipped"}, 0, false},
		{"failed", func() Validators { v := ok(95_000); v.Full.Error = "boom"; return v }(), 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := validatorsChecks(&tc.v)
			if len(cs) != tc.checks {
				t.Fatalf("%d checks, want %d: %+v", len(cs), tc.checks, cs)
			}
			if tc.checks == 0 {
				return
			}
			c := cs[0]
			if c.OK != tc.met || !strings.Contains(c.Target, "≤ 10%") || !strings.Contains(c.Got, "cost") {
				t.Errorf("check %+v, want met=%v", c, tc.met)
			}
		})
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

// TestValOrders: every server runs at every place of a round equally
// often, and in each pair of rounds none and full swap places.
func TestValOrders(t *testing.T) {
	places := map[string][3]int{}
	for _, o := range valOrders {
		for i, k := range o {
			p := places[k]
			p[i]++
			places[k] = p
		}
	}
	for _, k := range valVariants {
		if p := places[k]; p[0] != p[1] || p[1] != p[2] || p[0] == 0 {
			t.Errorf("%s runs at places %v", k, p)
		}
	}
	for i := 0; i+1 < len(valOrders); i += 2 {
		a, b := valOrders[i], valOrders[i+1]
		pa, pb := slices.Index(a[:], "none"), slices.Index(b[:], "none")
		fa, fb := slices.Index(a[:], "full"), slices.Index(b[:], "full")
		if pa != fb || fa != pb || slices.Index(a[:], "default") != slices.Index(b[:], "default") {
			t.Errorf("rounds %d and %d (%v, %v): none and full do not swap places", i+1, i+2, a, b)
		}
	}
}
