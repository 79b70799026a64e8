package check

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/logline/logline/internal/lll/ir"
	"github.com/logline/logline/internal/lll/syntax"
)

func mustCheck(t *testing.T, files ...string) *ir.Program {
	t.Helper()
	var parsed []*syntax.File
	for i, src := range files {
		f, err := syntax.Parse(fmt.Sprintf("f%d.lll", i+1), []byte(src))
		if err != nil {
			t.Fatalf("parse:\n%s", syntax.FormatErrors(err, []byte(src)))
		}
		parsed = append(parsed, f)
	}
	p, err := Check(parsed, Options{})
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	return p
}

func TestCanonicalContract(t *testing.T) {
	p, err := CanonicalContract()
	if err != nil {
		t.Fatal(syntax.FormatErrors(err, CanonicalContractSource()))
	}
	if len(p.Validators) != 1 || p.Validators[0].Name != CanonicalContractName {
		t.Fatalf("validators = %+v", p.Validators)
	}
	v := p.Validators[0]
	want := []string{
		`require field "id"`, `require field "who"`, `require field "did"`, `require field "this"`,
		`require field "when" as "rfc3339"`, `allow field "confirmed_by" as "array"`, `require field "tenant"`,
	}
	var got []string
	for _, r := range v.Rules {
		got = append(got, r.Text)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rules:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if v.OnFail != ir.ActionReject || len(v.Input) != 0 || len(v.When) != 0 {
		t.Errorf("validator = %+v", v)
	}
	if v.Rules[4].Type != ir.FieldRFC3339 || v.Rules[5].Type != ir.FieldArray || v.Rules[5].Required {
		t.Errorf("rule types: %+v", v.Rules)
	}
}

func TestSeeds(t *testing.T) {
	src, err := os.ReadFile("testdata/seeds.lll")
	if err != nil {
		t.Fatal(err)
	}
	p, err := checkSource("seeds.lll", src)
	if err != nil {
		t.Fatal(syntax.FormatErrors(err, src))
	}
	if len(p.Policies) != 3 || len(p.Validators) != 1 || len(p.Pipelines) != 3 {
		t.Fatalf("got %d policies, %d validators, %d pipelines", len(p.Policies), len(p.Validators), len(p.Pipelines))
	}
	tl := p.TrajectoryLinker()
	if tl.Window != 24*time.Hour || tl.CloseTimeout != 6*time.Hour || tl.Exceptions[0] != "this:heartbeat-*" || tl.KeyFields[0] != "this" {
		t.Errorf("trajectory_linker = %+v", tl)
	}
	q := p.QualityMeter()
	if q.PercentileTarget != 96 || q.MinScore != 60 || q.MinSamples != 100 || q.MassSaturation != 32 || q.Horizon != 0 {
		t.Errorf("quality_meter = %+v", q)
	}
	d := p.Pipelines[0].Derives
	if len(d) != 2 || d[0].Builtin != ir.BuiltinLinkOpenOrContinue || d[1].Builtin != ir.BuiltinCloseByTimeoutOrRule || d[0].Type != "trajectory_edge" {
		t.Errorf("trajectory_linker derives = %+v", d)
	}
	if got := p.Pipelines[1].Derives[0]; got.Builtin != ir.BuiltinComponents || len(got.Args) != 3 {
		t.Errorf("components derive = %+v", got)
	}
	if p.Pipelines[0].PolicyRef != "trajectory_linker" {
		t.Errorf("policy_ref = %q", p.Pipelines[0].PolicyRef)
	}
}

func TestPolicyDefaults(t *testing.T) {
	p := mustCheck(t, `policy quality_meter {
  weights: {mass: 0.5, persistence: 0.5, verification: 0}
  horizon: 30d
}`)
	pol := p.Policy("quality_meter")
	if pol == nil || !pol.Known {
		t.Fatalf("policy = %+v", pol)
	}
	var keys []string
	for _, e := range pol.Entries {
		k := e.Key
		if e.Default {
			k += "(default)"
		}
		keys = append(keys, k)
	}
	if got, want := strings.Join(keys, " "), "horizon mass_saturation(default) min_samples(default) min_score(default) percentile_target(default) weights"; got != want {
		t.Errorf("entries: %s\nwant:    %s", got, want)
	}
	if w, _ := pol.Get("weights"); w.String() != `{"mass": 0.5, "persistence": 0.5, "verification": 0}` {
		t.Errorf("weights = %s", w)
	}
	if h, _ := pol.Get("horizon"); h.Type != ir.TDuration || time.Duration(h.Int) != 30*24*time.Hour {
		t.Errorf("horizon = %s", h)
	}
	// A known policy no program declares still reads its defaults.
	p = mustCheck(t, `validator v { when policy.trajectory_linker.window == 24h and policy.quality_meter.percentile_target == "p96" }`)
	if n := p.Nodes[p.Validators[0].When[0].Node]; n.Op != ir.OpConst || !p.Consts[n.A].Bool {
		t.Errorf("defaults did not fold to true: %+v", n)
	}
}

func TestAcrossFiles(t *testing.T) {
	p := mustCheck(t,
		`validator big { when data.total > policy.limits.max }`,
		`policy limits { max: 100 }`)
	if len(p.Files) != 2 || p.Files[1] != "f2.lll" {
		t.Fatalf("files = %v", p.Files)
	}
	w := p.Validators[0].When[0]
	if w.Text != "data.total > policy.limits.max" || p.Position(w.Pos) != "f1.lll:1:17" {
		t.Errorf("cond = %+v at %s", w, p.Position(w.Pos))
	}
	n := p.Nodes[w.Node]
	if n.Op != ir.OpGt || p.Nodes[n.B].Op != ir.OpConst || p.Consts[p.Nodes[n.B].A].Num != 100 {
		t.Errorf("policy.limits.max did not resolve to the constant 100: %+v", n)
	}

	f1, _ := syntax.Parse("a.lll", []byte("router r { route \"x\" }\n"))
	f2, _ := syntax.Parse("b.lll", []byte("\nrouter r { route \"y\" }\nvalidator v { when nope }\n"))
	_, err := Check([]*syntax.File{f1, f2}, Options{})
	var list syntax.ErrorList
	if !errors.As(err, &list) || len(list) != 2 {
		t.Fatalf("got %v, want 2 errors", err)
	}
	if got := list[0].Error(); got != "b.lll:2:8: duplicate router r (first defined at a.lll:1:8)" {
		t.Errorf("got %q", got)
	}
	if list[1].File != "b.lll" || list[1].Pos.Line != 3 {
		t.Errorf("second error %v", list[1])
	}
}

func TestFoldingAndPaths(t *testing.T) {
	p := mustCheck(t, `validator v {
  when 1 + 2 * 3 == 7 and not false
  when data.items[0].sku == "x" and span["when"] > "2024-01-01T00:00:00Z"
  when span.data.total >= 10 and has(data.total) and has("data.total")
  emit "e" with {a: 1h + 30m, b: [1, -2], c: lower("ABC"), d: who}
}`)
	v := p.Validators[0]
	if n := p.Nodes[v.When[0].Node]; n.Op != ir.OpConst || !p.Consts[n.A].Bool {
		t.Errorf("constant condition not folded: %+v", n)
	}
	var paths []string
	for _, pa := range p.Paths {
		paths = append(paths, pa.String())
	}
	if got, want := strings.Join(paths, " "), "data.items[0].sku when data.total who"; got != want {
		t.Errorf("paths = %s, want %s", got, want)
	}
	// span["when"] is a time compared with a time constant.
	and := p.Nodes[v.When[1].Node]
	gt := p.Nodes[and.B]
	if gt.Op != ir.OpGt || p.Nodes[gt.A].Type != ir.TTime || p.Consts[p.Nodes[gt.B].A].Type != ir.TTime {
		t.Errorf("span[\"when\"] > string: %+v", gt)
	}
	m := p.Nodes[v.Emits[0].With]
	keys := p.Consts[m.B]
	if m.Op != ir.OpMap || keys.String() != `["a", "b", "c", "d"]` {
		t.Fatalf("emit with = %+v keys %s", m, keys)
	}
	for i, want := range []string{"1h30m", "[1, -2]", `"abc"`} {
		a := p.Nodes[m.Args[i]]
		if a.Op != ir.OpConst || p.Consts[a.A].String() != want {
			t.Errorf("map value %d = %+v, want constant %s", i, a, want)
		}
	}
}

func TestSeveralErrorsBounded(t *testing.T) {
	var b bytes.Buffer
	for i := 0; i < 300; i++ {
		fmt.Fprintf(&b, "validator v%d { when nope%d }\n", i, i)
	}
	f, err := syntax.Parse("many.lll", b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	_, err = Check([]*syntax.File{f}, Options{MaxErrors: 10})
	var list syntax.ErrorList
	if !errors.As(err, &list) || len(list) != 10 {
		t.Fatalf("got %d errors, want 10", len(list))
	}
}

func TestDeterministic(t *testing.T) {
	src, err := os.ReadFile("testdata/seeds.lll")
	if err != nil {
		t.Fatal(err)
	}
	var first []byte
	for i := 0; i < 20; i++ {
		p, err := checkSource("seeds.lll", src)
		if err != nil {
			t.Fatal(err)
		}
		b := ir.Encode(p)
		if first == nil {
			first = b
		} else if !bytes.Equal(b, first) {
			t.Fatalf("run %d compiled different bytes", i)
		}
	}
}

// program1000 is a 1,000-line program: 100 validators of 10 lines.
func program1000() []byte {
	var b bytes.Buffer
	b.WriteString("policy limits {\n  max: 100\n  kinds: [\"a\", \"b\", \"c\"]\n}\n")
	for i := 0; b.Len() == 0 || strings.Count(b.String(), "\n") < 1000; i++ {
		fmt.Fprintf(&b, `validator v%d {
  input: "order|refund"
  description: "rule %d"
  when data.total > policy.limits.max * %d and data.kind in policy.limits.kinds
  when who matches "svc-*" or len(confirmed_by) >= 2
  require field "data.total" as "number"
  allow field "data.lines" as "array"
  on_fail "warn"
  emit "seen_%d" with {total: data.total, at: span.when + 1h}
}
`, i, i, i, i)
	}
	return b.Bytes()
}

func BenchmarkCompile1000Lines(b *testing.B) {
	src := program1000()
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		f, err := syntax.Parse("big.lll", src)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Check([]*syntax.File{f}, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestDefaultAlarms: the default alarms compile (as logline check would
// have them), are formatted as logline fmt writes them, and are the
// three of v8 §20, over metric(…) only.
func TestDefaultAlarms(t *testing.T) {
	p, err := DefaultAlarms()
	if err != nil {
		t.Fatal(syntax.FormatErrors(err, DefaultAlarmsSource()))
	}
	f, err := syntax.Parse(DefaultAlarmsFile, DefaultAlarmsSource())
	if err != nil {
		t.Fatal(err)
	}
	if got := syntax.Format(f); string(got) != string(DefaultAlarmsSource()) {
		t.Errorf("%s is not as logline fmt writes it:\n%s", DefaultAlarmsFile, got)
	}
	want := []struct {
		name string
		for_ time.Duration
		sev  ir.Severity
	}{
		{"gateway_5xx_rate", 5 * time.Minute, ir.SeverityCritical},
		{"jwt_invalid_rate", 5 * time.Minute, ir.SeverityWarning},
		{"candidate_envelope", time.Hour, ir.SeverityWarning},
	}
	if len(p.Alarms) != len(want) {
		t.Fatalf("%d alarms, want %d", len(p.Alarms), len(want))
	}
	for i, w := range want {
		a := p.Alarms[i]
		if a.Name != w.name || !a.Metric || time.Duration(a.For) != w.for_ || a.Severity != w.sev || a.Message == "" {
			t.Errorf("alarm %d = %s (metric %v, for %v, severity %v, message %q), want %s over metric(…) for %v, %v",
				i, a.Name, a.Metric, time.Duration(a.For), a.Severity, a.Message, w.name, w.for_, w.sev)
		}
	}
	if len(p.Validators)+len(p.Pipelines)+len(p.Routers)+len(p.Policies)+len(p.Schemas) != 0 {
		t.Errorf("the default alarms define more than alarms: %+v", p)
	}
}

// TestMetricNames: the checker accepts metric("NAME") for every figure
// the server has (the gateway's among them), and only those.
func TestMetricNames(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"gateway.status_5xx_rate", true},
		{"auth.jwt_invalid_rate", true},
		{"quality.candidate_share", true},
		{"dataplane.backlog", true},
		{"gateway.status_4xx_rate", false},
		{"auth.jwt_invalid", false},
	}
	for _, name := range ir.MetricNames() {
		tests = append(tests, struct {
			name string
			ok   bool
		}{name, true})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := fmt.Sprintf("alarm a {\n  when metric(%q) > 0.5\n  for: 5m\n}\n", tt.name)
			f, err := syntax.Parse("a.lll", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			_, err = Check([]*syntax.File{f}, Options{})
			if got := err == nil; got != tt.ok {
				t.Errorf("metric(%q): checks %v (%v), want %v", tt.name, got, err, tt.ok)
			}
		})
	}
}
