package eval

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/logline/logline/internal/lll/check"
	"github.com/logline/logline/internal/lll/ir"
	"github.com/logline/logline/internal/span"
)

func canonical(t testing.TB) *Machine {
	t.Helper()
	p, err := check.CanonicalContract()
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(p, Config{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestCorpusPassesCanonicalContract(t *testing.T) {
	m := canonical(t)
	spans := corpus(t, 0)
	for _, sp := range spans {
		v, err := m.Validate(context.Background(), sp)
		if err != nil || len(v) != 0 {
			t.Fatalf("span %s: verdicts %+v, error %v", sp.ID, v, err)
		}
		// The same span read as raw JSON (no decoded fields) passes too.
		v, err = m.Validate(context.Background(), RawSpan(sp.Canonical()))
		if err != nil || len(v) != 0 {
			t.Fatalf("raw span %s: verdicts %+v, error %v", sp.ID, v, err)
		}
	}
	t.Logf("%d corpus spans pass canonical_contract_v1", len(spans))
}

func TestCanonicalContractFailures(t *testing.T) {
	m := canonical(t)
	const ok = `"id":"s1","who":"w","did":"d","this":"t","when":"2024-05-01T12:00:00Z","tenant":"acme"`
	tests := []struct {
		name string
		json string
		want []string // rule: message
	}{
		{"complete", `{` + ok + `}`, nil},
		{"with confirmations", `{` + ok + `,"confirmed_by":["a"]}`, nil},
		{"missing did", `{"id":"s1","who":"w","this":"t","when":"2024-05-01T12:00:00Z","tenant":"acme"}`,
			[]string{`require field "did": required field "did" is missing`}},
		{"empty object", `{}`, []string{
			`require field "id": required field "id" is missing`,
			`require field "who": required field "who" is missing`,
			`require field "did": required field "did" is missing`,
			`require field "this": required field "this" is missing`,
			`require field "when" as "rfc3339": required field "when" is missing`,
			`require field "tenant": required field "tenant" is missing`,
		}},
		{"bad time", `{"id":"s1","who":"w","did":"d","this":"t","when":"2024-13-01T00:00:00Z","tenant":"acme"}`,
			[]string{`require field "when" as "rfc3339": field "when" must be an RFC 3339 time, got "2024-13-01T00:00:00Z"`}},
		{"time as number", `{"id":"s1","who":"w","did":"d","this":"t","when":1714564800,"tenant":"acme"}`,
			[]string{`require field "when" as "rfc3339": field "when" must be an RFC 3339 time, got 1714564800`}},
		{"confirmed_by a string", `{` + ok + `,"confirmed_by":"a"}`,
			[]string{`allow field "confirmed_by" as "array": field "confirmed_by" must be an array, got "a"`}},
		{"null did", `{"id":"s1","who":"w","did":null,"this":"t","when":"2024-05-01T12:00:00Z","tenant":"acme"}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vs, err := m.Validate(context.Background(), RawSpan(tt.json))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, v := range vs {
				if v.Validator != check.CanonicalContractName || v.Action != ir.ActionReject || !strings.HasPrefix(v.Where, check.CanonicalContractFile+":") {
					t.Errorf("verdict %+v", v)
				}
				got = append(got, v.Rule+": "+v.Message)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("verdicts (-want +got):\n%s", diff)
			}
		})
	}
}

// A decoded span whose entity type is not span may lack did: the
// contract rejects it.
func TestDecodedSpanWithoutDid(t *testing.T) {
	sp, err := span.Decode([]byte(`{"id":"e1","tenant":"acme","entity_type":"order","who":"w","this":"t","when":"2024-05-01T12:00:00+02:00"}`), span.DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	vs, err := canonical(t).Validate(context.Background(), sp)
	if err != nil || len(vs) != 1 || vs[0].Rule != `require field "did"` {
		t.Fatalf("verdicts %+v, %v", vs, err)
	}
}

// evalExpr compiles `emit "x" with {v: EXPR}` and evaluates v over the
// span data (a JSON object, the span's data member); it returns the value
// described, or "error: MESSAGE".
func evalExpr(t *testing.T, expr, data string, cfg Config) string {
	t.Helper()
	src := fmt.Sprintf("validator t {\n  emit \"x\" with {v: %s}\n}\n", expr)
	m := machine(t, src, cfg)
	raw := `{"id":"s1","who":"svc-a","did":"did it","this":"case:1","when":"2024-05-01T12:00:00Z","tenant":"acme","confirmed_by":["a","b"],"status":"ok","data":` + data + `}`
	var st state
	if err := m.begin(&st, context.Background(), RawSpan(raw)); err != nil {
		t.Fatal(err)
	}
	w, err := st.eval(m.prog.Validators[0].Emits[0].With)
	if err != nil {
		return "error: " + err.Error()
	}
	v := st.get(w, "v")
	switch v.k() {
	case kList, kRawList, kMap, kRawMap:
		return string(st.appendJSON(nil, v))
	}
	return describe(v)
}

func TestExpressions(t *testing.T) {
	data := `{"total":120.5,"n":3,"name":"Widget","items":[{"sku":"a1"},{"sku":"b2"}],"tags":["x","y"],"flag":true,"nil":null,"at":"2024-05-01T12:30:00Z","d":"90m","esc":"a\"b"}`
	tests := []struct{ expr, want string }{
		// literals and folding
		{`1 + 2 * 3`, "7"},
		{`(1 + 2) * 3`, "9"},
		{`7 % 4`, "3"},
		{`-data.n`, "-3"},
		{`- 1h`, "-1h"},
		{`1h + 30m`, "1h30m"},
		{`"a" == "a"`, "true"},
		// span fields
		{`who`, `"svc-a"`},
		{`span.who`, `"svc-a"`},
		{`span["did"]`, `"did it"`},
		{`span.when`, "2024-05-01T12:00:00Z"},
		{`span.when + 1h`, "2024-05-01T13:00:00Z"},
		{`span.when - time("2024-05-01T00:00:00Z")`, "12h"},
		{`span.when - 30m`, "2024-05-01T11:30:00Z"},
		{`entity_type`, `"span"`},
		{`status`, `"ok"`},
		{`trace_id`, "null"},
		{`data.total`, "120.5"},
		{`data.items[1].sku`, `"b2"`},
		{`data.items[5].sku`, "null"},
		{`data.missing.deeper`, "null"},
		{`data.nil`, "null"},
		{`data.esc`, `"a\"b"`},
		{`data.tags`, `["x","y"]`},
		{`confirmed_by[0]`, `"a"`},
		// comparisons
		{`data.total > 100`, "true"},
		{`data.total <= 100`, "false"},
		{`data.name < "Z"`, "true"},
		{`data.name == "Widget"`, "true"},
		{`data.name != "Widget"`, "false"},
		{`data.total == "120.5"`, "false"},
		{`data.nil == null`, "true"},
		{`data.missing == null`, "true"},
		{`data.tags == ["x", "y"]`, "true"},
		{`data.items[0] == {sku: "a1"}`, "true"},
		{`time(data.at) > span.when`, "true"},
		{`duration(data.d) == 1h30m`, "true"},
		{`duration(data.d) > "1h"`, "true"},
		// logic
		{`data.flag and data.total > 1`, "true"},
		{`not data.flag or data.n == 3`, "true"},
		{`data.n == 4 and data.nope > 1`, "false"}, // short-circuit: the error is never reached
		{`data.n == 3 or data.nope > 1`, "true"},   // short-circuit
		// in, matches
		{`"x" in data.tags`, "true"},
		{`"z" in data.tags`, "false"},
		{`"a" in confirmed_by`, "true"},
		{`"sku" in data.items[0]`, "true"},
		{`"total" in data`, "true"},
		{`"idg" in data.name`, "true"},
		{`data.n in [1, 2, 3]`, "true"},
		{`who matches "svc-*"`, "true"},
		{`who matches "*-a"`, "true"},
		{`who matches "*c-*"`, "true"},
		{`who matches "s?c-a"`, "true"},
		{`who matches "svc"`, "false"},
		{`this matches data.name`, "false"},
		// builtins
		{`len(data.tags)`, "2"},
		{`len(data.items[0])`, "1"},
		{`len(data.name)`, "6"},
		{`len("héllo")`, "5"},
		{`lower(data.name)`, `"widget"`},
		{`upper(who)`, `"SVC-A"`},
		{`starts_with(this, "case:")`, "true"},
		{`ends_with(this, ":2")`, "false"},
		{`has(data.total)`, "true"},
		{`has("data.nil")`, "true"},
		{`has(data.nope)`, "false"},
		{`has(trace_id)`, "false"},
		{`env("REGION")`, `"eu"`},
		{`env("UNSET")`, "null"},
		{`features.trajectory`, "true"},
		{`features.diamond`, "false"},
		{`policy.quality_meter.percentile_target`, "p96"},
		{`policy.trajectory_linker.window`, "24h"},
		// run-time errors
		{`data.name > 5`, `error: cannot compare data.name ("Widget") > 5 (at test.lll:2:`},
		{`data.nope > 5`, `error: cannot compare data.nope (null: missing) > 5`},
		{`data.total / (data.n - 3)`, "error: division by zero"},
		{`data.name + 1`, `error: cannot compute data.name ("Widget") + 1`},
		{`not data.name`, `error: not needs a bool, got data.name ("Widget")`},
		{`data.name and true`, `error: and needs bools, got data.name ("Widget")`},
		{`time(data.name)`, `error: time: "Widget" is not an RFC 3339 time`},
		{`duration(data.name)`, `error: duration: "Widget" is not a duration`},
		{`len(data.n)`, `error: len needs a string, list or map, got data.n (3)`},
		{`data.tags[data.total]`, `error: list index 120.5 is not an integer`},
		{`data.name.first`, "null"}, // a path through a string finds no member
		{`data.items["x"]`, "null"},
		{`[data.name][0].first`, `error: .first needs a map, got "Widget"`},
		{`[1, 2][data.name]`, `error: cannot index a list with data.name ("Widget")`},
		{`data.n in data.name`, `error: cannot test data.n (3) in data.name ("Widget")`},
		{`data.n matches "x"`, `error: matches needs strings`},
		{`data.total * 1e308 * 10`, `error: number overflow`},
	}
	cfg := Config{Env: map[string]string{"REGION": "eu"}, Features: Features{Trajectory: true}}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			got := evalExpr(t, tt.expr, data, cfg)
			if strings.HasPrefix(tt.want, "error: ") {
				if !strings.HasPrefix(got, tt.want) {
					t.Errorf("%s = %s, want %s…", tt.expr, got, tt.want)
				}
				return
			}
			if got != tt.want {
				t.Errorf("%s = %s, want %s", tt.expr, got, tt.want)
			}
		})
	}
}

// TestFoldMatchesEval evaluates each operation twice: on literals, which
// the checker folds, and on the same values read from span data, which
// the evaluator computes. Both must agree.
func TestFoldMatchesEval(t *testing.T) {
	operands := []struct{ lit, json, fromData string }{
		{`3`, `3`, `data.x`},
		{`-2.5`, `-2.5`, `data.x`},
		{`0`, `0`, `data.x`},
		{`"abc"`, `"abc"`, `data.x`},
		{`"b"`, `"b"`, `data.x`},
		{`true`, `true`, `data.x`},
		{`null`, `null`, `data.x`},
		{`[1, "a"]`, `[1,"a"]`, `data.x`},
		{`{k: 1}`, `{"k":1}`, `data.x`},
		{`90m`, `"90m"`, `duration(data.x)`},
		{`2h`, `"2h"`, `duration(data.x)`},
		{`time("2024-05-01T12:00:00Z")`, `"2024-05-01T12:00:00Z"`, `time(data.x)`},
	}
	ops := []string{"==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "%", "in", "matches", "and", "or"}
	cfg := Config{}
	n := 0
	for _, x := range operands {
		for _, y := range operands {
			for _, op := range ops {
				folded := fmt.Sprintf("%s %s %s", x.lit, op, y.lit)
				runtime := fmt.Sprintf("%s %s %s", strings.ReplaceAll(x.fromData, "data.x", "data.x"), op, strings.ReplaceAll(y.fromData, "data.x", "data.y"))
				// Only expressions the checker accepts on literals.
				f, ok := tryEval(t, folded, `{}`, cfg)
				if !ok {
					continue
				}
				r, _ := tryEval(t, runtime, `{"x":`+x.json+`,"y":`+y.json+`}`, cfg)
				if f != r {
					t.Errorf("%s folds to %s, evaluates to %s", folded, f, r)
				}
				n++
			}
		}
	}
	if n < 100 {
		t.Errorf("only %d comparisons", n)
	}
}

// tryEval is evalExpr that reports a compile error as !ok.
func tryEval(t *testing.T, expr, data string, cfg Config) (string, bool) {
	src := fmt.Sprintf("validator t {\n  emit \"x\" with {v: %s}\n}\n", expr)
	if _, err := compileErr(src); err != nil {
		return "", false
	}
	got := evalExpr(t, expr, data, cfg)
	if strings.HasPrefix(got, "error: ") {
		got = "error"
	}
	return got, true
}

func TestValidateGuardsAndRuntimeErrors(t *testing.T) {
	m := machine(t, `
validator orders {
  input: "order|refund"
  when data.total > 100
  require field "data.approved_by" as "string"
  on_fail "warn"
}
validator everyone {
  allow field "data.total" as "number"
}
validator limits {
  input: "invoice"
  require data.total <= 1000
  require who != this
}
`, Config{})
	tests := []struct {
		name, json string
		want       []string
	}{
		{"not an order", `{"entity_type":"note","data":{"total":500}}`, nil},
		{"small order", `{"entity_type":"order","data":{"total":5}}`, nil},
		{"big order approved", `{"entity_type":"order","data":{"total":500,"approved_by":"ann"}}`, nil},
		{"big order", `{"entity_type":"refund","data":{"total":500}}`,
			[]string{`orders warn require field "data.approved_by" as "string": required field "data.approved_by" is missing`}},
		{"total a string", `{"entity_type":"order","data":{"total":"500"}}`, []string{
			`orders warn when data.total > 100: cannot compare data.total ("500") > 100 (at test.lll:4:19)`,
			`everyone reject allow field "data.total" as "number": field "data.total" must be a number, got "500"`,
		}},
		{"no total", `{"entity_type":"order","data":{}}`, []string{
			`orders warn when data.total > 100: cannot compare data.total (null: missing) > 100 (at test.lll:4:19)`,
		}},
		{"default entity type is span", `{"data":{"total":500}}`, nil},
		{"require false", `{"entity_type":"invoice","who":"x","this":"x","data":{"total":5000}}`, []string{
			`limits reject require data.total <= 1000: the condition is false`,
			`limits reject require who != this: the condition is false`,
		}},
		{"require true", `{"entity_type":"invoice","who":"a","this":"b","data":{"total":5}}`, nil},
		{"require cannot run", `{"entity_type":"invoice","who":"a","this":"b","data":{"total":"5"}}`, []string{
			`everyone reject allow field "data.total" as "number": field "data.total" must be a number, got "5"`,
			`limits reject require data.total <= 1000: cannot compare data.total ("5") <= 1000 (at test.lll:13:22)`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vs, err := m.Validate(context.Background(), RawSpan(tt.json))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, v := range vs {
				got = append(got, v.Validator+" "+v.Action.String()+" "+v.Rule+": "+v.Message)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestRoutesAlarmsEmitsPipelines(t *testing.T) {
	m := machine(t, `
router by_size {
  input: "order"
  route "big" when data.total >= 1000
  route "eu" when data.currency == "EUR"
  route "all"
  route "big"
}
router audit {
  when who matches "admin-*"
  route "audit"
  route "all"
}
alarm huge {
  severity: "critical"
  message: "an order over 1M"
  when data.total > 1000000
}
alarm broken {
  when (data.total > "x") == true
}
validator order_seen {
  input: "order"
  require field "data.total" as "number"
  emit "order_seen" with {total: data.total, who: who, day: span.when + 24h, tags: ["a", who]}
  emit "plain"
}
pipeline linker {
  when features.trajectory
  derive "trajectory_edge" on link_open_or_continue()
}
pipeline orders_only {
  input: "order"
  derive "x" on close_by_timeout_or_rule()
}
`, Config{Features: Features{Trajectory: true}})
	raw := RawSpan(`{"entity_type":"order","who":"admin-1","when":"2024-05-01T12:00:00Z","data":{"total":2000000,"currency":"EUR"}}`)
	res, err := m.Run(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	want := Result{
		Routes: []string{"big", "eu", "all", "audit"},
		Alarms: []Alarm{{Name: "huge", Severity: ir.SeverityCritical, Message: "an order over 1M"}},
		Events: []Event{
			{Validator: "order_seen", Type: "order_seen", Data: []byte(`{"day":"2024-05-02T12:00:00Z","tags":["a","admin-1"],"total":2000000,"who":"admin-1"}`)},
			{Validator: "order_seen", Type: "plain", Data: []byte(`{}`)},
		},
		Pipelines: []string{"linker", "orders_only"},
	}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("Run (-want +got):\n%s", diff)
	}
	// The single-purpose calls agree with Run.
	routes, _ := m.Route(context.Background(), raw)
	alarms, _ := m.Alarms(context.Background(), raw)
	events, _ := m.Emits(context.Background(), raw)
	pipes, _ := m.Pipelines(context.Background(), raw)
	if diff := cmp.Diff(want, Result{Routes: routes, Alarms: alarms, Events: events, Pipelines: pipes}); diff != "" {
		t.Errorf("separate calls (-want +got):\n%s", diff)
	}
	// A failing validator emits nothing; another entity type routes nowhere but audit.
	res, err = m.Run(context.Background(), RawSpan(`{"entity_type":"note","who":"admin-2","data":{"total":"x"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Events) != 0 || !cmp.Equal(res.Routes, []string{"audit", "all"}) || len(res.Alarms) != 0 || !cmp.Equal(res.Pipelines, []string{"linker"}) {
		t.Errorf("note: %+v", res)
	}
}

func TestDeterminism(t *testing.T) {
	spans := corpus(t, 300)
	m := machine(t, fiveRules+`
router r { route "confirmed" when status == "confirmed"  route "dept" when data.department in ["General", "Sales"] }
alarm a { when len(confirmed_by) > 0 and did matches "*receipt*" }
validator e { emit "seen" with {who: who, dept: data.department, at: span.when + 1h, n: len(data)} }
`, Config{})
	run := func() []Result {
		out := make([]Result, len(spans))
		for i, sp := range spans {
			r, err := m.Run(context.Background(), sp)
			if err != nil {
				t.Fatal(err)
			}
			out[i] = r
		}
		return out
	}
	first := run()
	for i := 0; i < 20; i++ {
		if diff := cmp.Diff(first, run()); diff != "" {
			t.Fatalf("run %d differs:\n%s", i, diff)
		}
	}
}

func TestStepBudget(t *testing.T) {
	var b strings.Builder
	b.WriteString("validator many {\n")
	for i := 0; i < 400; i++ {
		fmt.Fprintf(&b, "  when data.n != %d\n", i+1000)
	}
	b.WriteString("  require field \"data.m\"\n}\n")
	src := b.String()
	raw := RawSpan(`{"data":{"n":1}}`)

	m := machine(t, src, Config{})
	vs, err := m.Validate(context.Background(), raw)
	if err != nil || len(vs) != 1 {
		t.Fatalf("default budget: %+v, %v", vs, err)
	}
	m = machine(t, src, Config{StepBudget: 100})
	_, err = m.Validate(context.Background(), raw)
	if !errors.Is(err, ErrStepBudget) || !strings.Contains(err.Error(), "after 100 steps") {
		t.Fatalf("budget 100: got %v, want ErrStepBudget", err)
	}
	if _, err := m.Run(context.Background(), raw); !errors.Is(err, ErrStepBudget) {
		t.Errorf("Run: got %v", err)
	}

	// Cancelled before the call.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := machine(t, src, Config{}).Validate(ctx, raw); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: got %v", err)
	}
	// Cancelled during the call: the first field read cancels; the
	// evaluator notices within 256 steps.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	src2 := &cancelOnRead{Fields: raw, cancel: cancel}
	if _, err := machine(t, src, Config{}).Validate(ctx, src2); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled during the call: got %v", err)
	}
}

type cancelOnRead struct {
	Fields
	cancel func()
}

func (c *cancelOnRead) Field(name string) ([]byte, bool) {
	c.cancel()
	return c.Fields.Field(name)
}

func TestDataPlaneBuiltinsRefused(t *testing.T) {
	// The checker refuses them outside derives; a hand-made program that
	// calls one anyway fails the rule, it does not crash.
	p := &ir.Program{
		Files:  []string{"x.lll"},
		Consts: []ir.Value{ir.Number(50), ir.Percentile(96)},
		Nodes: []ir.Node{
			{Op: ir.OpConst, A: 0},
			{Op: ir.OpCall, A: int32(ir.BuiltinPercentile), Args: []int32{0}, Pos: ir.Pos{Line: 1, Col: 6}},
			{Op: ir.OpConst, A: 1},
			{Op: ir.OpGe, A: 1, B: 2},
		},
		Validators: []ir.Validator{{Name: "v", OnFail: ir.ActionReject, When: []ir.Cond{{Node: 3, Text: "percentile(50) >= p96"}}}},
	}
	m, err := New(p, Config{})
	if err != nil {
		t.Fatal(err)
	}
	vs, err := m.Validate(context.Background(), RawSpan(`{}`))
	if err != nil || len(vs) != 1 || vs[0].Message != "percentile is computed by the data plane and cannot be evaluated here (at x.lll:1:6)" {
		t.Fatalf("got %+v, %v", vs, err)
	}
}

func TestNewRefusesInvalidProgram(t *testing.T) {
	p := &ir.Program{Nodes: []ir.Node{{Op: ir.OpNot, A: 0}}}
	if _, err := New(p, Config{}); err == nil {
		t.Fatal("New accepted a node that is its own operand")
	}
}

func TestRawSpanMalformed(t *testing.T) {
	m := machine(t, `validator v {
  when data.a.b == 1 or len(data) > 2 or "x" in confirmed_by
  require field "data.a"
}`, Config{})
	for _, raw := range []string{``, `{`, `{"data":`, `{"data":{"a":{"b":`, `[1,2]`, `{"data":"x"}`, `{"data":{"a":[1,}}}`, `{"confirmed_by":["a\"]}`} {
		if _, err := m.Validate(context.Background(), RawSpan(raw)); err != nil {
			t.Errorf("%q: %v", raw, err)
		}
	}
}

func FuzzValidateRawSpan(f *testing.F) {
	f.Add(`{"id":"s1","who":"w","did":"d","this":"t","when":"2024-05-01T12:00:00Z","tenant":"acme","data":{"total":5,"items":[{"sku":"a"}]}}`)
	f.Add(`{"data":{"a":"\\\"","b":[[[]]]},"confirmed_by":["x", "y"]}`)
	f.Add(`{"when":"2024-02-30T00:00:00Z","data":null}`)
	m := machine(f, fiveRules+`
validator more {
  when data.total > 1 or data.items[0].sku == "a" or "x" in confirmed_by or len(data) == 2
  require field "when" as "rfc3339"
  allow field "data.items" as "array"
  emit "e" with {t: data.total, i: data.items}
}
router r { route "a" when data.a == data.b }
`, Config{})
	f.Fuzz(func(t *testing.T, raw string) {
		if _, err := m.Run(context.Background(), RawSpan(raw)); err != nil {
			t.Fatal(err)
		}
	})
}

func TestConcurrentUse(t *testing.T) {
	spans := corpus(t, 200)
	m := machine(t, fiveRules+`validator e { emit "seen" with {who: who, tags: ["a", who], d: data} }`, Config{})
	want := make([]Result, len(spans))
	for i, sp := range spans {
		r, err := m.Run(context.Background(), sp)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = r
	}
	errs := make(chan error, 4)
	for g := 0; g < 4; g++ {
		go func() {
			for i, sp := range spans {
				r, err := m.Run(context.Background(), sp)
				if err == nil && !cmp.Equal(r, want[i]) {
					err = fmt.Errorf("span %d: %+v, want %+v", i, r, want[i])
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for g := 0; g < 4; g++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func TestCloses(t *testing.T) {
	src := `
pipeline trajectory_linker {
  when features.trajectory
  derive "trajectory_edge" on link_open_or_continue()
  derive "trajectory_closed" on close_by_timeout_or_rule(did in ["T10 stop", "done"] or status == "complete")
}
pipeline orders {
  input: "order"
  derive "trajectory_closed" on close_by_timeout_or_rule(data.total > 100)
}
`
	on := machine(t, src, Config{Features: Features{Trajectory: true}})
	off := machine(t, src, Config{})
	if !on.HasCloseRules() {
		t.Fatal("HasCloseRules is false")
	}
	tests := []struct {
		json    string
		on, off bool
	}{
		{`{"did":"done"}`, true, false},
		{`{"did":"T10 stop"}`, true, false},
		{`{"did":"start","status":"complete"}`, true, false},
		{`{"did":"start"}`, false, false},
		{`{"entity_type":"order","data":{"total":500}}`, true, true}, // orders has no when
		{`{"entity_type":"order","data":{"total":"x"}}`, false, false},
		{`{"entity_type":"refund","data":{"total":500}}`, false, false},
	}
	for _, tt := range tests {
		for _, c := range []struct {
			m    *Machine
			want bool
		}{{on, tt.on}, {off, tt.off}} {
			got, err := c.m.Closes(context.Background(), RawSpan(tt.json))
			if err != nil || got != c.want {
				t.Errorf("%s: Closes = %v %v, want %v", tt.json, got, err, c.want)
			}
		}
	}
	none := machine(t, `pipeline p {
  derive "trajectory_closed" on close_by_timeout_or_rule()
}
`, Config{Features: Features{Trajectory: true}})
	if none.HasCloseRules() {
		t.Error("close_by_timeout_or_rule() is not a close rule")
	}
	if got, err := none.Closes(context.Background(), RawSpan(`{}`)); got || err != nil {
		t.Errorf("Closes without rules = %v %v", got, err)
	}
}

func TestMetricAlarms(t *testing.T) {
	m := machine(t, `
alarm envelope {
  when metric("quality.score_count") >= 100 and (metric("quality.candidate_share") < 0.005 or metric("quality.candidate_share") > 0.10)
  for: 1h
  severity: "warning"
  message: "diamond candidates outside 0.5–10%"
}
alarm spans {
  when who == "x"
}
`, Config{})
	if !m.HasMetricAlarms() {
		t.Fatal("HasMetricAlarms is false")
	}
	for _, tt := range []struct {
		figures map[string]float64
		holds   bool
	}{
		{map[string]float64{"quality.score_count": 200, "quality.candidate_share": 0.2}, true},
		{map[string]float64{"quality.score_count": 200, "quality.candidate_share": 0.001}, true},
		{map[string]float64{"quality.score_count": 200, "quality.candidate_share": 0.03}, false},
		{map[string]float64{"quality.score_count": 50, "quality.candidate_share": 0.2}, false},
		{map[string]float64{}, false}, // no figures yet
	} {
		got, err := m.MetricAlarms(context.Background(), func(n string) (float64, bool) { v, ok := tt.figures[n]; return v, ok })
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Name != "envelope" || got[0].For != time.Hour || got[0].Holds != tt.holds {
			t.Errorf("%v: %+v, want envelope holding %v", tt.figures, got, tt.holds)
		}
	}
	// Span alarms never evaluate a metric alarm.
	if as, err := m.Alarms(context.Background(), RawSpan(`{"who":"x"}`)); err != nil || len(as) != 1 || as[0].Name != "spans" {
		t.Errorf("span alarms: %+v %v", as, err)
	}
}
