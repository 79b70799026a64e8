package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/logline/logline/internal/lll/check"
)

// checkValidators checks the validators section of a small run: its
// rounds (checkRounds), the default tenant's share, Validate alone and
// the full tenant's validators. No timed assertion.
func checkValidators(t *testing.T, v Validators, cfg Config) {
	t.Helper()
	var rounds []roundSeen
	for _, r := range v.Rounds {
		rounds = append(rounds, roundSeen{r.Order, []float64{r.NonePerSec, r.DefaultPerSec, r.FullPerSec}, r.FullPerSec, r.NonePerSec, r.Share})
	}
	checkRounds(t, roundsSeen{
		section: "validators", skipped: v.Skipped, err: v.Error, orders: valOrders[:], rounds: rounds,
		ingests: []Throughput{v.None, v.Default, v.Full}, perRun: valRunSpans(cfg.Spans),
		num: v.Full, den: v.None, share: v.Share, cost: v.Cost, wallMicros: v.WallMicros,
		settleSeconds: v.SettleSeconds, otherCPUShare: v.OtherCPUShare, pairShares: v.PairShares, medianPairShare: v.MedianPairShare,
	})
	if !near(v.DefaultShare, v.Default.SpansPerSec/v.None.SpansPerSec) || !near(v.DefaultWallMicros, 1e6/v.Default.SpansPerSec-1e6/v.None.SpansPerSec) {
		t.Errorf("default share %v, wall %v µs per span, not from the rates %+v", v.DefaultShare, v.DefaultWallMicros, v)
	}
	if v.PredictedCost < 0 || v.PredictedCost >= 1 {
		t.Errorf("predicted cost %v", v.PredictedCost)
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
	testSectionAlone(t, sectionAlone{
		section: SectionValidators, heading: "VALIDATORS",
		checkName: "5 rules", checkTarget: "≤ 10%",
		table:  []string{"canonical_contract_v1 + 5 rules", "Machine.Validate alone", "rules apply to"},
		report: func(rep Report) (string, int) { return rep.Validators.Skipped, rep.Validators.Full.Spans },
		check:  func(t *testing.T, rep Report, cfg Config) { checkValidators(t, rep.Validators, cfg) },
	})
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
			checkCostCheck(t, validatorsChecks(&tc.v), tc.checks, tc.met, []string{"≤ 10%"}, []string{"cost"})
		})
	}
}

// TestValOrders: every server runs at every place of a round equally
// often, and in each pair of rounds none and full swap places.
func TestValOrders(t *testing.T) {
	checkOrders(t, valOrders[:], valVariants, "none", "full")
}
