package eval

import (
	"math"
	"strings"

	"github.com/logline/logline/internal/lll/ir"
	"github.com/logline/logline/internal/span"
)

// eval evaluates node n. A non-nil error is either st.fatal (the budget
// or the context: stop) or a run-time error of the expression.
//
// eval is the hot loop: it keeps a small stack frame by leaving every
// less common operation and every error message to other functions.
func (st *state) eval(n int32) (value, error) {
	st.steps++
	if st.steps >= st.check {
		if err := st.slowStep(); err != nil {
			return nullV, err
		}
	}
	nd := &st.m.nodes[n]
	switch nd.op {
	case ir.OpConst, ir.OpEnv, ir.OpFeature:
		return nd.v, nil
	case ir.OpField:
		return st.field(n, nd)
	case ir.OpHas:
		_, _, ok := st.lookup(nd.a)
		return boolV(ok), nil
	case ir.OpAnd, ir.OpOr:
		x, err := st.eval(nd.a)
		if err != nil {
			return nullV, err
		}
		if x.k() != kBool {
			return nullV, st.opError(n, nd.a, x)
		}
		if x.b() == (nd.op == ir.OpOr) {
			return x, nil
		}
		y, err := st.eval(nd.b)
		if err != nil {
			return nullV, err
		}
		if y.k() != kBool {
			return nullV, st.opError(n, nd.b, y)
		}
		return y, nil
	case ir.OpNot:
		x, err := st.eval(nd.a)
		if err != nil {
			return nullV, err
		}
		if x.k() != kBool {
			return nullV, st.opError(n, nd.a, x)
		}
		return boolV(!x.b()), nil
	case ir.OpEq, ir.OpNe, ir.OpLt, ir.OpLe, ir.OpGt, ir.OpGe, ir.OpIn, ir.OpMatches,
		ir.OpAdd, ir.OpSub, ir.OpMul, ir.OpDiv, ir.OpMod:
		x, err := st.eval(nd.a)
		if err != nil {
			return nullV, err
		}
		var y value
		if b := &st.m.nodes[nd.b]; b.op == ir.OpConst {
			// A constant operand, the common case, costs its step
			// without a call (the next call checks the budget).
			st.steps++
			y = b.v
		} else if y, err = st.eval(nd.b); err != nil {
			return nullV, err
		}
		return st.binary(n, nd, x, y)
	case ir.OpCall:
		return st.call(n, nd)
	}
	return st.evalOther(n, nd)
}

// opError reports that operand a of node n has the wrong type.
//
//go:noinline
func (st *state) opError(n, a int32, x value) error {
	op := st.m.nodes[n].op
	switch op {
	case ir.OpNot:
		return st.errorf(n, "not needs a bool, got %s", st.what(a, x))
	case ir.OpAnd, ir.OpOr:
		return st.errorf(n, "%s needs bools, got %s", op, st.what(a, x))
	}
	return st.errorf(n, "%s: wrong operand %s", op, st.what(a, x))
}

// evalOther evaluates the less common operations.
func (st *state) evalOther(n int32, nd *rnode) (value, error) {
	switch nd.op {
	case ir.OpNeg:
		x, err := st.eval(nd.a)
		if err != nil {
			return nullV, err
		}
		switch x.k() {
		case kNum:
			return numV(-x.f()), nil
		case kDur:
			if x.i == math.MinInt64 {
				return nullV, st.errorf(n, "duration overflow")
			}
			return durV(-x.i), nil
		}
		return nullV, st.errorf(n, "- needs a number or a duration, got %s", st.what(nd.a, x))
	case ir.OpSelect:
		x, err := st.eval(nd.a)
		if err != nil {
			return nullV, err
		}
		switch {
		case x.k() == kNull:
			return nullV, nil
		case x.k().isMap():
			return st.get(x, nd.v.s), nil
		}
		return nullV, st.errorf(n, ".%s needs a map, got %s", nd.v.s, st.what(nd.a, x))
	case ir.OpIndex:
		x, err := st.eval(nd.a)
		if err != nil {
			return nullV, err
		}
		i, err := st.eval(nd.b)
		if err != nil {
			return nullV, err
		}
		switch {
		case x.k() == kNull:
			return nullV, nil
		case x.k().isMap() && i.k() == kStr:
			return st.get(x, i.s), nil
		case x.k().isList() && i.k() == kNum:
			if i.f() != math.Trunc(i.f()) {
				return nullV, st.errorf(n, "list index %s is not an integer", describe(i))
			}
			if i.f() < 0 || i.f() > math.MaxInt32 {
				return nullV, nil
			}
			return st.at(x, int(i.f())), nil
		}
		return nullV, st.errorf(n, "cannot index %s with %s", st.what(nd.a, x), st.what(nd.b, i))
	case ir.OpList:
		comp := &composite{elems: make([]value, len(nd.args))}
		for i, a := range nd.args {
			v, err := st.eval(a)
			if err != nil {
				return nullV, err
			}
			comp.elems[i] = v
		}
		return st.comps.add(kList, comp), nil
	case ir.OpMap:
		keys := st.comps.get(nd.v).elems
		comp := &composite{keys: make([]string, len(keys)), elems: make([]value, len(nd.args))}
		for i, a := range nd.args {
			v, err := st.eval(a)
			if err != nil {
				return nullV, err
			}
			comp.keys[i] = keys[i].s
			comp.elems[i] = v
		}
		return st.comps.add(kMap, comp), nil
	}
	return nullV, st.errorf(n, "cannot evaluate %s", nd.op)
}

// what describes operand node n's value v for a message: a span field by
// its path ("data.total (null)"), other values by themselves.
func (st *state) what(n int32, v value) string {
	nd := &st.m.nodes[n]
	if nd.op == ir.OpField {
		d := describe(v)
		if v.k() == kNull {
			d = "null: missing"
		}
		return st.m.prog.Paths[nd.a].String() + " (" + d + ")"
	}
	return describe(v)
}

// field reads a span field path.
func (st *state) field(n int32, nd *rnode) (value, error) {
	raw, f, ok := st.lookup(nd.a)
	if f != fastNone {
		return st.fastValue(f, raw), nil
	}
	if !ok {
		p := &st.m.paths[nd.a]
		if p.field == span.FieldEntityType && len(p.steps) == 0 {
			return strV(st.etype), nil
		}
		return nullV, nil
	}
	v, ok := fromJSON(raw)
	if !ok {
		return nullV, st.errorf(n, "%s is not valid JSON", st.m.prog.Paths[nd.a].String())
	}
	if nd.typ == ir.TTime && v.k() == kStr {
		sec, ns, ok := ir.ParseRFC3339(v.s)
		if !ok {
			return nullV, st.errorf(n, "%s is not an RFC 3339 time: %s", st.m.prog.Paths[nd.a].String(), describe(v))
		}
		return timeV(sec, ns), nil
	}
	return v, nil
}

func (st *state) binary(n int32, nd *rnode, x, y value) (value, error) {
	switch nd.op {
	case ir.OpEq:
		return boolV(st.equal(x, y)), nil
	case ir.OpNe:
		return boolV(!st.equal(x, y)), nil
	case ir.OpLt, ir.OpLe, ir.OpGt, ir.OpGe:
		c, ok := compare(x, y)
		if !ok {
			return nullV, st.binError(n, "cannot compare", x, y)
		}
		switch nd.op {
		case ir.OpLt:
			return boolV(c < 0), nil
		case ir.OpLe:
			return boolV(c <= 0), nil
		case ir.OpGt:
			return boolV(c > 0), nil
		}
		return boolV(c >= 0), nil
	case ir.OpIn:
		return st.in(n, x, y)
	case ir.OpMatches:
		if x.k() != kStr || y.k() != kStr {
			return nullV, st.binError(n, "matches needs strings, got", x, y)
		}
		if nd.glob.kind != globDynamic {
			return boolV(nd.glob.match(x.s)), nil
		}
		return boolV(ir.MatchGlob(y.s, x.s)), nil
	}
	return st.arith(n, nd, x, y)
}

// binError reports a binary operation on operands of the wrong types.
//
//go:noinline
func (st *state) binError(n int32, what string, x, y value) error {
	nd := &st.m.nodes[n]
	return st.errorf(n, "%s %s %s %s", what, st.what(nd.a, x), nd.op, st.what(nd.b, y))
}

// in evaluates x in y.
func (st *state) in(n int32, x, y value) (value, error) {
	switch yk := y.k(); {
	case yk == kList:
		for _, e := range st.comps.get(y).elems {
			if st.equal(x, e) {
				return trueV, nil
			}
		}
		return falseV, nil
	case yk == kRawList:
		it, _ := newIter(y.s)
		for it.next() {
			e, _ := fromJSON(it.val)
			if st.equal(x, e) {
				return trueV, nil
			}
		}
		return falseV, nil
	case yk == kMap && x.k() == kStr:
		return boolV(hasKey(st.comps.get(y).keys, x.s)), nil
	case yk == kRawMap && x.k() == kStr:
		_, ok := member(y.s, x.s)
		return boolV(ok), nil
	case yk == kStr && x.k() == kStr:
		return boolV(strings.Contains(y.s, x.s)), nil
	}
	nd := &st.m.nodes[n]
	return nullV, st.errorf(n, "cannot test %s in %s", st.what(nd.a, x), st.what(nd.b, y))
}

func hasKey(keys []string, k string) bool {
	for _, x := range keys {
		if x == k {
			return true
		}
	}
	return false
}

// arith evaluates + - * / %.
func (st *state) arith(n int32, nd *rnode, x, y value) (value, error) {
	op := nd.op
	if x.k() == kNum && y.k() == kNum {
		var r float64
		switch op {
		case ir.OpAdd:
			r = x.f() + y.f()
		case ir.OpSub:
			r = x.f() - y.f()
		case ir.OpMul:
			r = x.f() * y.f()
		case ir.OpDiv:
			if y.f() == 0 {
				return nullV, st.errorf(n, "division by zero")
			}
			r = x.f() / y.f()
		case ir.OpMod:
			if y.f() == 0 {
				return nullV, st.errorf(n, "modulo by zero")
			}
			r = math.Mod(x.f(), y.f())
		}
		if math.IsInf(r, 0) || math.IsNaN(r) {
			return nullV, st.errorf(n, "number overflow")
		}
		return numV(r), nil
	}
	switch {
	case op == ir.OpAdd && x.k() == kDur && y.k() == kDur:
		if r, ok := addInt(x.i, y.i); ok {
			return durV(r), nil
		}
		return nullV, st.errorf(n, "duration overflow")
	case op == ir.OpSub && x.k() == kDur && y.k() == kDur:
		if y.i != math.MinInt64 {
			if r, ok := addInt(x.i, -y.i); ok {
				return durV(r), nil
			}
		}
		return nullV, st.errorf(n, "duration overflow")
	case op == ir.OpAdd && x.k() == kTime && y.k() == kDur:
		return addTime(x, y.i), nil
	case op == ir.OpAdd && x.k() == kDur && y.k() == kTime:
		return addTime(y, x.i), nil
	case op == ir.OpSub && x.k() == kTime && y.k() == kDur:
		if y.i == math.MinInt64 {
			return nullV, st.errorf(n, "duration overflow")
		}
		return addTime(x, -y.i), nil
	case op == ir.OpSub && x.k() == kTime && y.k() == kTime:
		// Times from RFC 3339 lie within years 0000–9999: seconds fit,
		// nanoseconds of the difference may not.
		ds := x.i - y.i
		dn := int64(x.ns()) - int64(y.ns())
		if ds > math.MaxInt64/int64(1e9)-1 || ds < math.MinInt64/int64(1e9)+1 {
			return nullV, st.errorf(n, "duration overflow")
		}
		return durV(ds*1e9 + dn), nil
	}
	return nullV, st.errorf(n, "cannot compute %s %s %s", st.what(nd.a, x), op, st.what(nd.b, y))
}

func addInt(a, b int64) (int64, bool) {
	r := a + b
	if (b > 0 && r < a) || (b < 0 && r > a) {
		return 0, false
	}
	return r, true
}

func addTime(t value, d int64) value {
	sec := t.i + d/1e9
	ns := int64(t.ns()) + d%1e9
	if ns < 0 {
		ns += 1e9
		sec--
	} else if ns >= 1e9 {
		ns -= 1e9
		sec++
	}
	return timeV(sec, int32(ns))
}

// call evaluates a builtin.
func (st *state) call(n int32, nd *rnode) (value, error) {
	b := ir.Builtin(nd.a)
	if b.Info().DataPlane {
		return nullV, st.errorf(n, "%s is computed by the data plane and cannot be evaluated here", b)
	}
	var args [2]value
	if len(nd.args) > len(args) {
		return nullV, st.errorf(n, "%s: too many arguments", b)
	}
	for i, a := range nd.args {
		v, err := st.eval(a)
		if err != nil {
			return nullV, err
		}
		args[i] = v
	}
	x, y := args[0], args[1]
	str := func(i int, v value) error {
		if v.k() != kStr {
			return st.errorf(n, "%s needs a string, got %s", b, st.what(nd.args[i], v))
		}
		return nil
	}
	switch b {
	case ir.BuiltinLen:
		l, ok := st.length(x)
		if !ok {
			return nullV, st.errorf(n, "len needs a string, list or map, got %s", st.what(nd.args[0], x))
		}
		return numV(float64(l)), nil
	case ir.BuiltinLower, ir.BuiltinUpper:
		if err := str(0, x); err != nil {
			return nullV, err
		}
		if b == ir.BuiltinLower {
			return strV(strings.ToLower(x.s)), nil
		}
		return strV(strings.ToUpper(x.s)), nil
	case ir.BuiltinStartsWith, ir.BuiltinEndsWith:
		if err := str(0, x); err != nil {
			return nullV, err
		}
		if err := str(1, y); err != nil {
			return nullV, err
		}
		if b == ir.BuiltinStartsWith {
			return boolV(strings.HasPrefix(x.s, y.s)), nil
		}
		return boolV(strings.HasSuffix(x.s, y.s)), nil
	case ir.BuiltinTime:
		if x.k() == kTime {
			return x, nil
		}
		if err := str(0, x); err != nil {
			return nullV, err
		}
		sec, ns, ok := ir.ParseRFC3339(x.s)
		if !ok {
			return nullV, st.errorf(n, "time: %s is not an RFC 3339 time", describe(x))
		}
		return timeV(sec, ns), nil
	case ir.BuiltinDuration:
		if x.k() == kDur {
			return x, nil
		}
		if err := str(0, x); err != nil {
			return nullV, err
		}
		d, ok := ir.ParseDuration(x.s)
		if !ok {
			return nullV, st.errorf(n, "duration: %s is not a duration (such as 1h30m)", describe(x))
		}
		return durV(d), nil
	case ir.BuiltinMetric:
		if err := str(0, x); err != nil {
			return nullV, err
		}
		if st.metrics == nil {
			return nullV, st.errorf(n, "metric(%q): no figures here (only the server evaluates alarms over metrics)", x.s)
		}
		v, ok := st.metrics(x.s)
		if !ok {
			return nullV, st.errorf(n, "metric(%q) has no value yet", x.s)
		}
		return numV(v), nil
	}
	return nullV, st.errorf(n, "cannot call %s", b)
}
