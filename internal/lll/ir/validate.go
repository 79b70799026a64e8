package ir

import (
	"fmt"
	"math"
	"strings"
	"unicode/utf8"
)

// MaxDepth bounds the depth of an expression tree (the evaluator
// recurses that deep).
const MaxDepth = 200

// MaxNodes bounds the nodes of a program.
const MaxNodes = 1 << 22

// Validate checks that p is well formed: what Decode guarantees of every
// program it returns, and what internal/lll/eval relies on to never index
// out of range or recurse without bound. It does not re-check types:
// evaluation checks the kinds of the values it meets.
func (p *Program) Validate() error {
	v := validator{p: p}
	v.all()
	return v.err
}

type validator struct {
	p   *Program
	err error
}

func (v *validator) fail(format string, args ...any) {
	if v.err == nil {
		v.err = fmt.Errorf(format, args...)
	}
}

func (v *validator) str(what, s string) {
	if !utf8.ValidString(s) {
		v.fail("%s: invalid UTF-8", what)
	}
}

func (v *validator) name(what, s string) {
	if s == "" {
		v.fail("%s: empty name", what)
	}
	v.str(what, s)
}

func (v *validator) pos(what string, p Pos) {
	if p == (Pos{}) {
		return
	}
	if p.Line <= 0 || p.Col <= 0 || p.File < 0 || int(p.File) >= len(v.p.Files) {
		v.fail("%s: bad position %d:%d:%d", what, p.File, p.Line, p.Col)
	}
}

func (v *validator) node(what string, n int32) {
	if n < 0 || int(n) >= len(v.p.Nodes) {
		v.fail("%s: node %d out of range", what, n)
	}
}

func (v *validator) optNode(what string, n int32) {
	if n != -1 {
		v.node(what, n)
	}
}

func (v *validator) pathRef(what string, n int32) {
	if n < 0 || int(n) >= len(v.p.Paths) {
		v.fail("%s: path %d out of range", what, n)
	}
}

func (v *validator) constRef(what string, n int32, want Type) {
	if n < 0 || int(n) >= len(v.p.Consts) {
		v.fail("%s: constant %d out of range", what, n)
		return
	}
	if got := v.p.Consts[n].Type; got != want {
		v.fail("%s: constant %d is a %s, want %s", what, n, got, want)
	}
}

func (v *validator) value(what string, x Value, depth int) {
	if depth > maxValueDepth {
		v.fail("%s: constant nested deeper than %d", what, maxValueDepth)
		return
	}
	switch x.Type {
	case TNull, TBool:
	case TNumber:
		if math.IsNaN(x.Num) || math.IsInf(x.Num, 0) {
			v.fail("%s: number not finite", what)
		}
	case TPercentile:
		if !(x.Num > 0 && x.Num <= 100) {
			v.fail("%s: percentile %v out of (0, 100]", what, x.Num)
		}
	case TString:
		v.str(what, x.Str)
	case TDuration:
	case TTime:
		if x.Nsec < 0 || x.Nsec >= 1e9 {
			v.fail("%s: time nanoseconds %d out of range", what, x.Nsec)
		}
	case TList:
		if x.Keys != nil {
			v.fail("%s: list with keys", what)
		}
		for _, e := range x.Elems {
			v.value(what, e, depth+1)
		}
	case TMap:
		if len(x.Keys) != len(x.Elems) {
			v.fail("%s: map with %d keys and %d values", what, len(x.Keys), len(x.Elems))
			return
		}
		for i, k := range x.Keys {
			v.str(what, k)
			if i > 0 && x.Keys[i-1] >= k {
				v.fail("%s: map keys not sorted and distinct", what)
			}
			v.value(what, x.Elems[i], depth+1)
		}
	default:
		v.fail("%s: bad constant type %d", what, x.Type)
	}
	if x.Type != TBool && x.Bool || x.Type != TNumber && x.Type != TPercentile && x.Num != 0 ||
		x.Type != TDuration && x.Type != TTime && x.Int != 0 || x.Type != TTime && x.Nsec != 0 ||
		x.Type != TString && x.Str != "" || x.Type != TList && x.Type != TMap && x.Elems != nil || x.Type != TMap && x.Keys != nil {
		v.fail("%s: %s constant with stray fields", what, x.Type)
	}
}

func (v *validator) inputs(what string, in []string) {
	for _, s := range in {
		v.name(what+" input", s)
	}
}

func (v *validator) conds(what string, cs []Cond) {
	for _, c := range cs {
		v.node(what, c.Node)
		v.str(what, c.Text)
		v.pos(what, c.Pos)
	}
}

func (v *validator) rules(what string, rs []FieldRule) {
	for _, r := range rs {
		v.pathRef(what, r.Path)
		if r.Type >= numFieldTypes {
			v.fail("%s: bad field type %d", what, r.Type)
		}
		if r.Path >= 0 && int(r.Path) < len(v.p.Paths) {
			for _, s := range v.p.Paths[r.Path].Steps {
				if s.Index >= 0 {
					v.fail("%s: field rule path with an index", what)
				}
			}
		}
		v.str(what, r.Text)
		v.pos(what, r.Pos)
	}
}

type uniq map[string]bool

func (v *validator) unique(seen uniq, kind, name string) {
	if seen[name] {
		v.fail("duplicate %s %q", kind, name)
	}
	seen[name] = true
}

func (v *validator) all() {
	p := v.p
	for _, f := range p.Files {
		v.str("file name", f)
	}
	for i, c := range p.Consts {
		v.value(fmt.Sprintf("constant %d", i), c, 0)
	}
	for i, pa := range p.Paths {
		what := fmt.Sprintf("path %d", i)
		f, ok := LookupSpanField(pa.Field)
		if !ok || f.Server {
			v.fail("%s: %q is not a span field", what, pa.Field)
		}
		for _, s := range pa.Steps {
			if s.Index < -1 || s.Index >= 0 && s.Key != "" {
				v.fail("%s: bad step", what)
			}
			v.str(what, s.Key)
		}
	}
	if len(p.Nodes) > MaxNodes {
		v.fail("%d nodes, at most %d", len(p.Nodes), MaxNodes)
		return
	}
	depth := make([]int32, len(p.Nodes))
	for i := range p.Nodes {
		v.nodeAt(int32(i), depth)
		if v.err != nil {
			return
		}
	}
	seen := uniq{}
	for i := range p.Policies {
		pol := &p.Policies[i]
		what := "policy " + pol.Name
		v.name("policy", pol.Name)
		v.unique(seen, "policy", pol.Name)
		if _, known := KnownPolicy(pol.Name); known != pol.Known {
			v.fail("%s: known flag wrong", what)
		}
		for j, e := range pol.Entries {
			v.name(what+" key", e.Key)
			if j > 0 && pol.Entries[j-1].Key >= e.Key {
				v.fail("%s: keys not sorted and distinct", what)
			}
			v.value(what+"."+e.Key, e.Value, 0)
			v.pos(what, e.Pos)
		}
		v.pos(what, pol.Pos)
	}
	seen = uniq{}
	for i := range p.Validators {
		x := &p.Validators[i]
		what := "validator " + x.Name
		v.name("validator", x.Name)
		v.unique(seen, "validator", x.Name)
		v.str(what, x.Description)
		v.inputs(what, x.Input)
		v.conds(what, x.When)
		v.rules(what, x.Rules)
		v.conds(what+" require", x.Requires)
		if x.OnFail != ActionReject && x.OnFail != ActionWarn {
			v.fail("%s: bad on_fail %d", what, x.OnFail)
		}
		for _, e := range x.Emits {
			v.name(what+" emit", e.Type)
			v.optNode(what+" emit", e.With)
			v.pos(what, e.Pos)
		}
		v.pos(what, x.Pos)
	}
	seen = uniq{}
	for i := range p.Routers {
		x := &p.Routers[i]
		what := "router " + x.Name
		v.name("router", x.Name)
		v.unique(seen, "router", x.Name)
		v.str(what, x.Description)
		v.inputs(what, x.Input)
		v.conds(what, x.When)
		for _, r := range x.Routes {
			v.name(what+" route", r.Target)
			v.optNode(what+" route", r.When)
			v.pos(what, r.Pos)
		}
		v.pos(what, x.Pos)
	}
	seen = uniq{}
	for i := range p.Pipelines {
		x := &p.Pipelines[i]
		what := "pipeline " + x.Name
		v.name("pipeline", x.Name)
		v.unique(seen, "pipeline", x.Name)
		v.str(what, x.Description)
		v.str(what, x.PolicyRef)
		v.inputs(what, x.Input)
		v.conds(what, x.When)
		for _, d := range x.Derives {
			v.name(what+" derive", d.Type)
			info := d.Builtin.Info()
			if !info.DataPlane {
				v.fail("%s: derive on %s, not a data-plane builtin", what, d.Builtin)
			} else if len(d.Args) > info.Arity || len(d.Args) < info.Arity-info.Optional {
				v.fail("%s: %s takes %d arguments, has %d", what, d.Builtin, info.Arity, len(d.Args))
			}
			for _, a := range d.Args {
				v.node(what+" derive", a)
			}
			v.pos(what, d.Pos)
		}
		v.pos(what, x.Pos)
	}
	seen = uniq{}
	for i := range p.Schemas {
		x := &p.Schemas[i]
		what := "schema " + x.Name
		v.name("schema", x.Name)
		v.unique(seen, "schema", x.Name)
		v.str(what, x.Description)
		v.str(what, x.EntityType)
		v.rules(what, x.Fields)
		v.pos(what, x.Pos)
	}
	seen = uniq{}
	for i := range p.Alarms {
		x := &p.Alarms[i]
		what := "alarm " + x.Name
		v.name("alarm", x.Name)
		v.unique(seen, "alarm", x.Name)
		v.str(what, x.Description)
		v.str(what, x.Message)
		v.inputs(what, x.Input)
		if x.Severity < SeverityInfo || x.Severity > SeverityCritical {
			v.fail("%s: bad severity %d", what, x.Severity)
		}
		v.conds(what, x.When)
		if x.For < 0 || (x.For > 0 && !x.Metric) {
			v.fail("%s: for %d on an alarm that is not over metrics", what, x.For)
		}
		v.pos(what, x.Pos)
	}
}

// nodeAt checks node i, whose operands must be earlier nodes, and
// records its depth.
func (v *validator) nodeAt(i int32, depth []int32) {
	n := &v.p.Nodes[i]
	what := fmt.Sprintf("node %d (%s)", i, n.Op)
	if n.Type >= numTypes {
		v.fail("%s: bad type %d", what, n.Type)
	}
	v.pos(what, n.Pos)
	d := int32(0)
	operand := func(r int32) {
		if r < 0 || r >= i {
			v.fail("%s: operand %d is not an earlier node", what, r)
			return
		}
		d = max(d, depth[r])
	}
	noArgs := func() {
		if n.Args != nil {
			v.fail("%s: unexpected arguments", what)
		}
	}
	switch op := n.Op; {
	case op == OpConst:
		if n.A < 0 || int(n.A) >= len(v.p.Consts) {
			v.fail("%s: constant %d out of range", what, n.A)
		}
		noArgs()
	case op == OpField || op == OpHas:
		v.pathRef(what, n.A)
		noArgs()
	case op == OpFeature:
		if n.A < 0 || Feature(n.A) >= NumFeatures {
			v.fail("%s: bad feature %d", what, n.A)
		}
		noArgs()
	case op == OpEnv:
		v.constRef(what, n.A, TString)
		noArgs()
	case op == OpNot || op == OpNeg:
		operand(n.A)
		noArgs()
	case op.IsBinary() || op == OpIndex:
		operand(n.A)
		operand(n.B)
		noArgs()
	case op == OpSelect:
		operand(n.A)
		v.constRef(what, n.B, TString)
		noArgs()
	case op == OpCall:
		b := Builtin(n.A)
		info := b.Info()
		switch {
		case !b.Valid() || b == BuiltinHas || b == BuiltinEnv:
			v.fail("%s: bad builtin %d", what, n.A)
		case len(n.Args) > info.Arity || len(n.Args) < info.Arity-info.Optional:
			v.fail("%s: %s takes %d arguments, has %d", what, b, info.Arity, len(n.Args))
		}
		for _, a := range n.Args {
			operand(a)
		}
	case op == OpList:
		for _, a := range n.Args {
			operand(a)
		}
	case op == OpMap:
		v.constRef(what, n.B, TList)
		if v.err == nil {
			keys := v.p.Consts[n.B]
			if len(keys.Elems) != len(n.Args) {
				v.fail("%s: %d keys for %d values", what, len(keys.Elems), len(n.Args))
			}
			for j, k := range keys.Elems {
				if k.Type != TString || j > 0 && strings.Compare(keys.Elems[j-1].Str, k.Str) >= 0 {
					v.fail("%s: keys not sorted distinct strings", what)
				}
			}
		}
		for _, a := range n.Args {
			operand(a)
		}
	default:
		v.fail("%s: bad operation %d", what, n.Op)
	}
	if d+1 > MaxDepth {
		v.fail("%s: expression deeper than %d", what, MaxDepth)
	}
	depth[i] = d + 1
}
