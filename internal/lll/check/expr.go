package check

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/logline/logline/internal/lll/ir"
	"github.com/logline/logline/internal/lll/syntax"
)

// opKind says what an operand is while an expression is being checked.
// Constants, span paths and the roots span, policy and features are kept
// symbolic so that selectors can extend them (data.a.b is one path,
// policy.q.min_score one constant); a node is made when one is needed.
type opKind uint8

const (
	oBad        opKind = iota // an error was reported; stay quiet
	oNode                     // a node
	oConst                    // a constant (val)
	oPath                     // a span field path (path)
	oSpan                     // span
	oPolicyRoot               // policy
	oPolicy                   // policy.NAME (name)
	oFeatures                 // features
)

type operand struct {
	kind opKind
	t    ir.Type // static type
	elem ir.Type // element type of a list
	node int32
	val  ir.Value
	path ir.Path
	name string
	pos  syntax.Pos
}

var bad = operand{kind: oBad}

func constOp(v ir.Value, pos syntax.Pos) operand {
	o := operand{kind: oConst, t: v.Type, val: v, pos: pos}
	if v.Type == ir.TList {
		o.elem = elemType(v.Elems)
	}
	return o
}

// elemType is the common type of constant elements, TAny if mixed.
func elemType(vs []ir.Value) ir.Type {
	if len(vs) == 0 {
		return ir.TAny
	}
	t := vs[0].Type
	for _, v := range vs[1:] {
		if v.Type != t {
			return ir.TAny
		}
	}
	return t
}

func nodeOp(n int32, t ir.Type, pos syntax.Pos) operand {
	if n < 0 {
		return bad
	}
	return operand{kind: oNode, t: t, node: n, pos: pos}
}

// pathType is the static type of the value at a path.
func pathType(p ir.Path) (t, elem ir.Type) {
	if len(p.Steps) > 0 {
		return ir.TAny, ir.TAny
	}
	f, _ := ir.LookupSpanField(p.Field)
	return f.Type, ir.ListElem(p.Field)
}

// toNode makes a node of o; -1 after reporting why it cannot be one.
func (c *checker) toNode(o operand) int32 {
	switch o.kind {
	case oNode:
		return o.node
	case oConst:
		return c.addNode(ir.Node{Op: ir.OpConst, Type: o.t, A: c.constIndex(o.val)}, o.pos)
	case oPath:
		t, _ := pathType(o.path)
		return c.addNode(ir.Node{Op: ir.OpField, Type: t, A: c.pathIndex(o.path)}, o.pos)
	case oSpan:
		c.errorf(o.pos, "span is the whole span: use one of its fields (span.who, span.when, span.data.total)")
	case oPolicyRoot:
		c.errorf(o.pos, "policy needs a policy and a key: policy.NAME.KEY")
	case oPolicy:
		c.errorf(o.pos, "policy.%s needs a key: policy.%s.KEY", o.name, o.name)
	case oFeatures:
		c.errorf(o.pos, "features needs a flag: features.trajectory or features.diamond")
	}
	return -1
}

// value checks o is a value (not a root such as span) and settles it.
func (c *checker) value(o operand) operand {
	switch o.kind {
	case oSpan, oPolicyRoot, oPolicy, oFeatures:
		c.toNode(o)
		return bad
	}
	return o
}

// expr checks e in the current scope.
func (c *checker) expr(e syntax.Expr) operand {
	switch e := e.(type) {
	case nil:
		return bad
	case *syntax.Paren:
		o := c.expr(e.X)
		if o.kind != oBad {
			o.pos = e.LParen
		}
		return o
	case *syntax.StringLit:
		return constOp(ir.String(e.Value), e.ValuePos)
	case *syntax.NumberLit:
		return constOp(ir.Number(e.Value), e.ValuePos)
	case *syntax.DurationLit:
		return constOp(ir.Duration(e.Nanos), e.ValuePos)
	case *syntax.BoolLit:
		return constOp(ir.Bool(e.Value), e.ValuePos)
	case *syntax.NullLit:
		return constOp(ir.Null(), e.ValuePos)
	case *syntax.ListLit:
		return c.list(e)
	case *syntax.MapLit:
		return c.mapLit(e)
	case *syntax.Ident:
		return c.ident(e)
	case *syntax.Selector:
		return c.selector(e)
	case *syntax.Index:
		return c.index(e)
	case *syntax.Call:
		return c.call(e)
	case *syntax.Unary:
		return c.unary(e)
	case *syntax.Binary:
		return c.binary(e)
	}
	c.errorf(e.Pos(), "unexpected expression %T", e)
	return bad
}

func (c *checker) list(e *syntax.ListLit) operand {
	elems := make([]operand, 0, len(e.Elems))
	allConst, isBad := true, false
	for _, x := range e.Elems {
		o := c.value(c.expr(x))
		elems = append(elems, o)
		isBad = isBad || o.kind == oBad
		allConst = allConst && o.kind == oConst
	}
	if isBad {
		return bad
	}
	elem := ir.TAny
	for i, o := range elems {
		if i == 0 {
			elem = o.t
		} else if o.t != elem {
			elem = ir.TAny
		}
	}
	if allConst {
		vs := make([]ir.Value, len(elems))
		for i, o := range elems {
			vs[i] = o.val
		}
		o := constOp(ir.List(vs...), e.LBrack)
		return o
	}
	args := make([]int32, len(elems))
	for i, o := range elems {
		if args[i] = c.toNode(o); args[i] < 0 {
			return bad
		}
	}
	o := nodeOp(c.addNode(ir.Node{Op: ir.OpList, Type: ir.TList, Args: args}, e.LBrack), ir.TList, e.LBrack)
	o.elem = elem
	return o
}

func (c *checker) mapLit(e *syntax.MapLit) operand {
	type kv struct {
		key string
		o   operand
	}
	var entries []kv
	seen := map[string]syntax.Pos{}
	allConst, isBad := true, false
	for _, me := range e.Entries {
		var key string
		switch k := me.Key.(type) {
		case *syntax.Ident:
			key = k.Name
		case *syntax.StringLit:
			key = k.Value
		default:
			c.errorf(me.Key.Pos(), "a map key is a name or a string")
			isBad = true
			continue
		}
		if prev, dup := seen[key]; dup {
			c.errorf(me.Key.Pos(), "duplicate map key %q (first at %s)", key, prev)
			isBad = true
			continue
		}
		seen[key] = me.Key.Pos()
		o := c.value(c.expr(me.Value))
		isBad = isBad || o.kind == oBad
		allConst = allConst && o.kind == oConst
		entries = append(entries, kv{key, o})
	}
	if isBad {
		return bad
	}
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].key < entries[j].key })
	keys := make([]string, len(entries))
	for i, en := range entries {
		keys[i] = en.key
	}
	if allConst {
		vals := make([]ir.Value, len(entries))
		for i, en := range entries {
			vals[i] = en.o.val
		}
		return constOp(ir.Map(keys, vals), e.LBrace)
	}
	args := make([]int32, len(entries))
	keyVals := make([]ir.Value, len(entries))
	for i, en := range entries {
		if args[i] = c.toNode(en.o); args[i] < 0 {
			return bad
		}
		keyVals[i] = ir.String(en.key)
	}
	n := c.addNode(ir.Node{Op: ir.OpMap, Type: ir.TMap, B: c.constIndex(ir.List(keyVals...)), Args: args}, e.LBrace)
	return nodeOp(n, ir.TMap, e.LBrace)
}

func (c *checker) ident(e *syntax.Ident) operand {
	name := e.Name
	if c.scope == scopeConst {
		if _, ok := ir.LookupBuiltin(name); ok {
			c.errorf(e.NamePos, "%s is a builtin function; entries hold constants", name)
		} else {
			c.errorf(e.NamePos, "%s: entries hold constants (strings, numbers, durations, lists, maps), not names", name)
		}
		return bad
	}
	switch name {
	case "span":
		return operand{kind: oSpan, pos: e.NamePos}
	case "policy":
		return operand{kind: oPolicyRoot, pos: e.NamePos}
	case "features":
		return operand{kind: oFeatures, pos: e.NamePos}
	}
	if f, ok := ir.LookupSpanField(name); ok {
		if f.Server {
			c.errorf(e.NamePos, "%s is assigned by the server when the span is appended; programs never see it", name)
			return bad
		}
		p := ir.Path{Field: name}
		t, elem := pathType(p)
		return operand{kind: oPath, t: t, elem: elem, path: p, pos: e.NamePos}
	}
	if _, ok := ir.LookupBuiltin(name); ok {
		c.errorf(e.NamePos, "%s is a builtin function: call it, %s(…)", name, name)
		return bad
	}
	c.errorf(e.NamePos, "unknown name %s (names: span, its fields (who, did, this, data, …), features, policy; a member of data is data.%s)", name, name)
	return bad
}

func (c *checker) selector(e *syntax.Selector) operand {
	x := c.expr(e.X)
	return c.member(x, e.Name.Name, e.Name.NamePos, e.Name.NamePos)
}

// member is x.name (or x["name"]); pos is where the member is named.
func (c *checker) member(x operand, name string, pos, namePos syntax.Pos) operand {
	switch x.kind {
	case oBad:
		return bad
	case oSpan:
		f, ok := ir.LookupSpanField(name)
		if !ok {
			c.errorf(namePos, "span has no field %s (fields: %s)", name, spanFieldList())
			return bad
		}
		if f.Server {
			c.errorf(namePos, "%s is assigned by the server when the span is appended; programs never see it", name)
			return bad
		}
		p := ir.Path{Field: name}
		t, elem := pathType(p)
		return operand{kind: oPath, t: t, elem: elem, path: p, pos: x.pos}
	case oPath:
		if x.t != ir.TMap && x.t != ir.TAny {
			c.errorf(namePos, "%s is a %s; it has no member %s", x.path, x.t, name)
			return bad
		}
		p := x.path
		p.Steps = append(append([]ir.Step(nil), p.Steps...), ir.Step{Key: name, Index: -1})
		return operand{kind: oPath, t: ir.TAny, elem: ir.TAny, path: p, pos: x.pos}
	case oPolicyRoot:
		if c.pols[name] == nil {
			if _, known := ir.KnownPolicy(name); !known {
				c.errorf(namePos, "unknown policy %s (declare it: policy %s { … })", name, name)
				return bad
			}
		}
		return operand{kind: oPolicy, name: name, pos: x.pos}
	case oPolicy:
		v, ok := c.policyValue(x.name, name, namePos)
		if !ok {
			return bad
		}
		o := constOp(v, x.pos)
		return o
	case oFeatures:
		f, ok := ir.LookupFeature(name)
		if !ok {
			c.errorf(namePos, "unknown feature %s (features: trajectory, diamond)", name)
			return bad
		}
		return nodeOp(c.addNode(ir.Node{Op: ir.OpFeature, Type: ir.TBool, A: int32(f)}, x.pos), ir.TBool, x.pos)
	case oConst:
		if x.val.Type != ir.TMap {
			c.errorf(namePos, "%s is a %s; it has no member %s", x.val, x.t, name)
			return bad
		}
		v, ok := x.val.Get(name)
		if !ok {
			c.errorf(namePos, "the map has no key %s (keys: %s)", name, strings.Join(x.val.Keys, ", "))
			return bad
		}
		return constOp(v, x.pos)
	case oNode:
		if x.t != ir.TMap && x.t != ir.TAny {
			c.errorf(namePos, "a %s has no member %s", x.t, name)
			return bad
		}
		n := c.addNode(ir.Node{Op: ir.OpSelect, Type: ir.TAny, A: x.node, B: c.constIndex(ir.String(name))}, x.pos)
		return nodeOp(n, ir.TAny, x.pos)
	}
	return bad
}

func (c *checker) index(e *syntax.Index) operand {
	x := c.expr(e.X)
	i := c.value(c.expr(e.Index))
	if x.kind == oBad || i.kind == oBad {
		return bad
	}
	if i.kind == oConst && i.t == ir.TString && x.kind != oNode && x.kind != oConst {
		return c.member(x, i.val.Str, x.pos, i.pos)
	}
	x = c.value(x)
	if x.kind == oBad {
		return bad
	}
	if i.kind == oConst && i.t == ir.TNumber && x.kind == oPath {
		if x.t != ir.TList && x.t != ir.TAny {
			c.errorf(i.pos, "%s is a %s; it cannot be indexed by a number", x.path, x.t)
			return bad
		}
		n := i.val.Num
		if n != math.Trunc(n) || n < 0 || n > math.MaxInt32 {
			c.errorf(i.pos, "list index %s is not a non-negative integer", i.val)
			return bad
		}
		p := x.path
		p.Steps = append(append([]ir.Step(nil), p.Steps...), ir.Step{Index: int32(n)})
		t := x.elem
		if t == 0 || len(x.path.Steps) > 0 {
			t = ir.TAny
		}
		return operand{kind: oPath, t: t, elem: ir.TAny, path: p, pos: x.pos}
	}
	var t ir.Type
	switch {
	case x.t == ir.TList && (i.t == ir.TNumber || i.t == ir.TAny):
		t = x.elem
	case x.t == ir.TMap && (i.t == ir.TString || i.t == ir.TAny):
		t = ir.TAny
	case x.t == ir.TAny && (i.t == ir.TString || i.t == ir.TNumber || i.t == ir.TAny):
		t = ir.TAny
	default:
		c.errorf(i.pos, "cannot index a %s with a %s", x.t, i.t)
		return bad
	}
	if x.kind == oConst && i.kind == oConst {
		if x.t == ir.TList {
			n := i.val.Num
			if n != math.Trunc(n) || n < 0 || n >= float64(len(x.val.Elems)) {
				c.errorf(i.pos, "index %s out of range (the list has %d elements)", i.val, len(x.val.Elems))
				return bad
			}
			return constOp(x.val.Elems[int(n)], x.pos)
		}
		return c.member(x, i.val.Str, x.pos, i.pos)
	}
	xn, in := c.toNode(x), c.toNode(i)
	if xn < 0 || in < 0 {
		return bad
	}
	return nodeOp(c.addNode(ir.Node{Op: ir.OpIndex, Type: t, A: xn, B: in}, x.pos), t, x.pos)
}

func (c *checker) unary(e *syntax.Unary) operand {
	x := c.value(c.expr(e.X))
	if x.kind == oBad {
		return bad
	}
	switch e.Op {
	case syntax.OpNot:
		if x.t != ir.TBool && x.t != ir.TAny {
			c.errorf(e.OpPos, "not needs a bool, got a %s", x.t)
			return bad
		}
		if x.kind == oConst {
			return constOp(ir.Bool(!x.val.Bool), e.OpPos)
		}
		if n := c.toNode(x); n >= 0 {
			return nodeOp(c.addNode(ir.Node{Op: ir.OpNot, Type: ir.TBool, A: n}, e.OpPos), ir.TBool, e.OpPos)
		}
		return bad
	case syntax.OpNeg:
		switch x.t {
		case ir.TNumber, ir.TDuration, ir.TAny:
		default:
			c.errorf(e.OpPos, "- needs a number or a duration, got a %s", x.t)
			return bad
		}
		if x.kind == oConst {
			if x.t == ir.TNumber {
				return constOp(ir.Number(0-x.val.Num), e.OpPos)
			}
			if x.val.Int == math.MinInt64 {
				c.errorf(e.OpPos, "duration overflow")
				return bad
			}
			return constOp(ir.Duration(-x.val.Int), e.OpPos)
		}
		if n := c.toNode(x); n >= 0 {
			return nodeOp(c.addNode(ir.Node{Op: ir.OpNeg, Type: x.t, A: n}, e.OpPos), x.t, e.OpPos)
		}
		return bad
	}
	c.errorf(e.OpPos, "unknown unary operator %s", e.Op)
	return bad
}

var binOps = map[syntax.Op]ir.Op{
	syntax.OpOr: ir.OpOr, syntax.OpAnd: ir.OpAnd,
	syntax.OpEq: ir.OpEq, syntax.OpNe: ir.OpNe, syntax.OpLt: ir.OpLt, syntax.OpLe: ir.OpLe,
	syntax.OpGt: ir.OpGt, syntax.OpGe: ir.OpGe, syntax.OpIn: ir.OpIn, syntax.OpMatches: ir.OpMatches,
	syntax.OpAdd: ir.OpAdd, syntax.OpSub: ir.OpSub, syntax.OpMul: ir.OpMul, syntax.OpDiv: ir.OpDiv, syntax.OpMod: ir.OpMod,
}

// coerce turns a constant string into the type the other operand has,
// where the language writes such values as strings ("24h", "p96", an
// RFC 3339 time). It reports a malformed string.
func (c *checker) coerce(o operand, to ir.Type) operand {
	if o.kind != oConst || o.t != ir.TString {
		return o
	}
	s := o.val.Str
	switch to {
	case ir.TDuration:
		if d, ok := ir.ParseDuration(s); ok {
			return constOp(ir.Duration(d), o.pos)
		}
		c.errorf(o.pos, "%q is not a duration (such as 24h, 1h30m, 500ms)", s)
	case ir.TPercentile:
		if p, ok := ir.ParsePercentile(s); ok {
			return constOp(ir.Percentile(p), o.pos)
		}
		c.errorf(o.pos, "%q is not a percentile (such as \"p96\")", s)
	case ir.TTime:
		if sec, ns, ok := ir.ParseRFC3339(s); ok {
			return constOp(ir.Time(sec, ns), o.pos)
		}
		c.errorf(o.pos, "%q is not an RFC 3339 time (such as \"2024-05-01T12:00:00Z\")", s)
	default:
		return o
	}
	return bad
}

func (c *checker) binary(e *syntax.Binary) operand {
	op, ok := binOps[e.Op]
	if !ok {
		c.errorf(e.OpPos, "unknown operator %s", e.Op)
		return bad
	}
	x := c.value(c.expr(e.X))
	y := c.value(c.expr(e.Y))
	if x.kind == oBad || y.kind == oBad {
		return bad
	}
	switch op {
	case ir.OpEq, ir.OpNe, ir.OpLt, ir.OpLe, ir.OpGt, ir.OpGe:
		if k := x.t; k == ir.TDuration || k == ir.TPercentile || k == ir.TTime {
			y = c.coerce(y, k)
		} else if k := y.t; k == ir.TDuration || k == ir.TPercentile || k == ir.TTime {
			x = c.coerce(x, k)
		}
		if x.kind == oBad || y.kind == oBad {
			return bad
		}
	}
	t, msg := binaryType(op, x, y)
	if msg != "" {
		c.errorf(e.OpPos, "%s", msg)
		return bad
	}
	if x.kind == oConst && y.kind == oConst {
		v, msg := foldBinary(op, x.val, y.val)
		if msg != "" {
			c.errorf(e.OpPos, "%s", msg)
			return bad
		}
		o := constOp(v, x.pos)
		return o
	}
	xn, yn := c.toNode(x), c.toNode(y)
	if xn < 0 || yn < 0 {
		return bad
	}
	return nodeOp(c.addNode(ir.Node{Op: op, Type: t, A: xn, B: yn}, e.OpPos), t, x.pos)
}

func same(a, b ir.Type) bool { return a == b || a == ir.TAny || b == ir.TAny }

func isAny(ts ...ir.Type) bool {
	for _, t := range ts {
		if t == ir.TAny {
			return true
		}
	}
	return false
}

// binaryType is the static type of x op y, or why it has none.
func binaryType(op ir.Op, x, y operand) (ir.Type, string) {
	a, b := x.t, y.t
	// offending names the operand that is not of type want.
	offending := func(want ir.Type) string {
		if !same(a, want) {
			return "a " + a.String() + " on the left"
		}
		return "a " + b.String() + " on the right"
	}
	switch op {
	case ir.OpAnd, ir.OpOr:
		if !same(a, ir.TBool) || !same(b, ir.TBool) {
			return 0, fmt.Sprintf("%s needs bools, got %s", op, offending(ir.TBool))
		}
		return ir.TBool, ""
	case ir.OpEq, ir.OpNe:
		if !same(a, b) && a != ir.TNull && b != ir.TNull {
			return 0, fmt.Sprintf("%s compares values of one type, got a %s and a %s", op, a, b)
		}
		return ir.TBool, ""
	case ir.OpLt, ir.OpLe, ir.OpGt, ir.OpGe:
		if !same(a, b) {
			return 0, fmt.Sprintf("%s compares values of one type, got a %s and a %s", op, a, b)
		}
		t := a
		if t == ir.TAny {
			t = b
		}
		switch t {
		case ir.TAny, ir.TNumber, ir.TString, ir.TDuration, ir.TTime, ir.TPercentile:
			return ir.TBool, ""
		}
		return 0, fmt.Sprintf("%s orders numbers, strings, durations, times and percentiles, not %ss", op, t)
	case ir.OpIn:
		switch b {
		case ir.TList:
			if !same(a, y.elem) && a != ir.TNull {
				return 0, fmt.Sprintf("in: a %s is never in a list of %ss", a, y.elem)
			}
		case ir.TString, ir.TMap:
			if !same(a, ir.TString) {
				return 0, fmt.Sprintf("in %s needs a string on the left, got a %s", b, a)
			}
		case ir.TAny:
		default:
			return 0, fmt.Sprintf("in needs a list, a string or a map on the right, got a %s", b)
		}
		return ir.TBool, ""
	case ir.OpMatches:
		if !same(a, ir.TString) || !same(b, ir.TString) {
			return 0, fmt.Sprintf("matches needs strings (text matches \"glob*\"), got %s", offending(ir.TString))
		}
		return ir.TBool, ""
	case ir.OpAdd, ir.OpSub:
		switch {
		case a == ir.TNumber && b == ir.TNumber:
			return ir.TNumber, ""
		case a == ir.TDuration && b == ir.TDuration:
			return ir.TDuration, ""
		case a == ir.TTime && b == ir.TDuration, op == ir.OpAdd && a == ir.TDuration && b == ir.TTime:
			return ir.TTime, ""
		case op == ir.OpSub && a == ir.TTime && b == ir.TTime:
			return ir.TDuration, ""
		case isAny(a, b):
			other := a
			if a == ir.TAny {
				other = b
			}
			switch other {
			case ir.TAny, ir.TDuration, ir.TTime:
				return ir.TAny, ""
			case ir.TNumber:
				return ir.TNumber, ""
			}
		}
		return 0, fmt.Sprintf("cannot compute a %s %s a %s (+ and - work on numbers, durations and times)", a, op, b)
	case ir.OpMul, ir.OpDiv, ir.OpMod:
		if !same(a, ir.TNumber) || !same(b, ir.TNumber) {
			return 0, fmt.Sprintf("%s needs numbers, got %s", op, offending(ir.TNumber))
		}
		return ir.TNumber, ""
	}
	return 0, fmt.Sprintf("unknown operator %s", op)
}

// call checks a builtin call.
func (c *checker) call(e *syntax.Call) operand {
	id, ok := e.Fun.(*syntax.Ident)
	if !ok {
		c.errorf(e.Fun.Pos(), "only builtins can be called (len, lower, upper, starts_with, ends_with, has, time, duration, env)")
		return bad
	}
	b, ok := ir.LookupBuiltin(id.Name)
	if !ok {
		c.errorf(id.NamePos, "unknown function %s (builtins: len, lower, upper, starts_with, ends_with, has, time, duration, env, percentile, components, link_open_or_continue, close_by_timeout_or_rule)", id.Name)
		return bad
	}
	info := b.Info()
	if c.scope == scopeConst {
		c.errorf(id.NamePos, "%s: entries hold constants, not calls", id.Name)
		return bad
	}
	if info.DataPlane && c.scope != scopeTrigger {
		c.errorf(id.NamePos, "%s is computed by the data plane: it can only be the trigger of a pipeline's derive (derive \"TYPE\" on %s(…))", id.Name, id.Name)
		return bad
	}
	if info.Alarm && c.scope != scopeAlarm {
		c.errorf(id.NamePos, "%s reads the server's figures: it can only be in an alarm's when (alarm NAME { when metric(\"quality.candidate_share\") > 0.1 })", id.Name)
		return bad
	}
	if b == ir.BuiltinMetric {
		if len(e.Args) != 1 {
			c.errorf(e.LParen, "metric takes 1 argument, got %d", len(e.Args))
			return bad
		}
		s, ok := e.Args[0].(*syntax.StringLit)
		if !ok || !slices.Contains(ir.MetricNames(), s.Value) {
			c.errorf(e.Args[0].Pos(), "metric needs a figure's name as a string literal: one of %s", strings.Join(ir.MetricNames(), ", "))
			return bad
		}
		arg := c.addNode(ir.Node{Op: ir.OpConst, Type: ir.TString, A: c.constIndex(ir.String(s.Value))}, s.ValuePos)
		n := c.addNode(ir.Node{Op: ir.OpCall, Type: ir.TNumber, A: int32(b), Args: []int32{arg}}, id.NamePos)
		return nodeOp(n, ir.TNumber, id.NamePos)
	}
	if c.scope == scopeTrigger {
		// Arguments of a trigger are ordinary expressions.
		c.scope = scopePipeline
		defer func() { c.scope = scopeTrigger }()
	}
	if n := len(e.Args); n > info.Arity || n < info.Arity-info.Optional {
		if info.Optional > 0 {
			c.errorf(e.LParen, "%s takes %d to %d arguments, got %d", id.Name, info.Arity-info.Optional, info.Arity, n)
		} else {
			c.errorf(e.LParen, "%s takes %d argument%s, got %d", id.Name, info.Arity, plural(info.Arity), n)
		}
		return bad
	}
	switch b {
	case ir.BuiltinHas:
		return c.has(e)
	case ir.BuiltinEnv:
		s, ok := e.Args[0].(*syntax.StringLit)
		if !ok || !validEnvName(s.Value) {
			c.errorf(e.Args[0].Pos(), "env needs the variable's name as a string literal: env(\"NAME\")")
			return bad
		}
		n := c.addNode(ir.Node{Op: ir.OpEnv, Type: ir.TString, A: c.constIndex(ir.String(s.Value))}, id.NamePos)
		return nodeOp(n, ir.TString, id.NamePos)
	}
	args := make([]operand, len(e.Args))
	isBad, allConst := false, true
	for i, a := range e.Args {
		args[i] = c.value(c.expr(a))
		isBad = isBad || args[i].kind == oBad
		allConst = allConst && args[i].kind == oConst
	}
	if isBad {
		return bad
	}
	want := func(i int, ts ...ir.Type) bool {
		t := args[i].t
		if t == ir.TAny {
			return true
		}
		for _, w := range ts {
			if t == w {
				return true
			}
		}
		names := make([]string, len(ts))
		for j, w := range ts {
			names[j] = "a " + w.String()
		}
		c.errorf(args[i].pos, "%s needs %s, got a %s", id.Name, strings.Join(names, " or "), t)
		return false
	}
	result := info.Result
	switch b {
	case ir.BuiltinLen:
		ok = want(0, ir.TString, ir.TList, ir.TMap)
	case ir.BuiltinLower, ir.BuiltinUpper:
		ok = want(0, ir.TString)
	case ir.BuiltinStartsWith, ir.BuiltinEndsWith:
		ok = want(0, ir.TString) && want(1, ir.TString)
	case ir.BuiltinTime:
		ok = want(0, ir.TString, ir.TTime)
	case ir.BuiltinDuration:
		ok = want(0, ir.TString, ir.TDuration)
	case ir.BuiltinPercentile:
		ok = want(0, ir.TNumber)
	case ir.BuiltinComponents:
		ok = want(0, ir.TNumber) && want(1, ir.TNumber) && want(2, ir.TNumber)
	case ir.BuiltinCloseByTimeoutOrRule:
		ok = len(args) == 0 || want(0, ir.TBool)
	}
	if !ok {
		return bad
	}
	if allConst && !info.DataPlane {
		v, msg := foldCall(b, args)
		if msg != "" {
			c.errorf(args[0].pos, "%s", msg)
			return bad
		}
		return constOp(v, id.NamePos)
	}
	refs := make([]int32, len(args))
	for i, a := range args {
		if refs[i] = c.toNode(a); refs[i] < 0 {
			return bad
		}
	}
	n := c.addNode(ir.Node{Op: ir.OpCall, Type: result, A: int32(b), Args: refs}, id.NamePos)
	return nodeOp(n, result, id.NamePos)
}

// has(PATH): PATH is a field path as a string ("data.total") or an
// expression naming one (data.total).
func (c *checker) has(e *syntax.Call) operand {
	var p ir.Path
	switch a := e.Args[0].(type) {
	case *syntax.StringLit:
		var msg string
		if p, msg = parseFieldPath(a.Value); msg != "" {
			c.errorf(a.ValuePos, "has: %s", msg)
			return bad
		}
	default:
		o := c.expr(a)
		if o.kind == oBad {
			return bad
		}
		if o.kind != oPath {
			c.errorf(a.Pos(), "has needs a span field: has(data.total) or has(\"data.total\")")
			return bad
		}
		p = o.path
	}
	n := c.addNode(ir.Node{Op: ir.OpHas, Type: ir.TBool, A: c.pathIndex(p)}, e.Fun.Pos())
	return nodeOp(n, ir.TBool, e.Fun.Pos())
}

func validEnvName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if !(ch == '_' || ch >= 'A' && ch <= 'Z' || ch >= 'a' && ch <= 'z' || i > 0 && ch >= '0' && ch <= '9') {
			return false
		}
	}
	return true
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
