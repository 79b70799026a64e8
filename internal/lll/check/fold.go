package check

import (
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/logline/logline/internal/lll/ir"
)

// Constant folding: the operations of internal/lll/eval on constants,
// with the same results (a test in eval compares the two). An empty
// message means success; otherwise the message is a compile error (a
// constant expression that would always fail at run time).

func valEqual(x, y ir.Value) bool {
	if x.Type != y.Type {
		return false
	}
	switch x.Type {
	case ir.TNull:
		return true
	case ir.TBool:
		return x.Bool == y.Bool
	case ir.TNumber, ir.TPercentile:
		return x.Num == y.Num
	case ir.TString:
		return x.Str == y.Str
	case ir.TDuration:
		return x.Int == y.Int
	case ir.TTime:
		return x.Int == y.Int && x.Nsec == y.Nsec
	case ir.TList, ir.TMap:
		if len(x.Elems) != len(y.Elems) || len(x.Keys) != len(y.Keys) {
			return false
		}
		for i := range x.Keys {
			if x.Keys[i] != y.Keys[i] {
				return false
			}
		}
		for i := range x.Elems {
			if !valEqual(x.Elems[i], y.Elems[i]) {
				return false
			}
		}
		return true
	}
	return false
}

func valCompare(x, y ir.Value) (int, bool) {
	if x.Type != y.Type {
		return 0, false
	}
	ci := func(a, b int64) int {
		switch {
		case a < b:
			return -1
		case a > b:
			return 1
		}
		return 0
	}
	switch x.Type {
	case ir.TNumber, ir.TPercentile:
		switch {
		case x.Num < y.Num:
			return -1, true
		case x.Num > y.Num:
			return 1, true
		}
		return 0, true
	case ir.TString:
		return strings.Compare(x.Str, y.Str), true
	case ir.TDuration:
		return ci(x.Int, y.Int), true
	case ir.TTime:
		if r := ci(x.Int, y.Int); r != 0 {
			return r, true
		}
		return ci(int64(x.Nsec), int64(y.Nsec)), true
	}
	return 0, false
}

func foldBinary(op ir.Op, x, y ir.Value) (ir.Value, string) {
	switch op {
	case ir.OpAnd:
		return ir.Bool(x.Bool && y.Bool), ""
	case ir.OpOr:
		return ir.Bool(x.Bool || y.Bool), ""
	case ir.OpEq:
		return ir.Bool(valEqual(x, y)), ""
	case ir.OpNe:
		return ir.Bool(!valEqual(x, y)), ""
	case ir.OpLt, ir.OpLe, ir.OpGt, ir.OpGe:
		r, ok := valCompare(x, y)
		if !ok {
			return ir.Value{}, fmt.Sprintf("cannot compare %s %s %s", x, op, y)
		}
		switch op {
		case ir.OpLt:
			return ir.Bool(r < 0), ""
		case ir.OpLe:
			return ir.Bool(r <= 0), ""
		case ir.OpGt:
			return ir.Bool(r > 0), ""
		}
		return ir.Bool(r >= 0), ""
	case ir.OpIn:
		switch y.Type {
		case ir.TList:
			for _, e := range y.Elems {
				if valEqual(x, e) {
					return ir.Bool(true), ""
				}
			}
			return ir.Bool(false), ""
		case ir.TMap:
			_, ok := y.Get(x.Str)
			return ir.Bool(ok), ""
		case ir.TString:
			return ir.Bool(strings.Contains(y.Str, x.Str)), ""
		}
	case ir.OpMatches:
		return ir.Bool(ir.MatchGlob(y.Str, x.Str)), ""
	}
	if x.Type == ir.TNumber && y.Type == ir.TNumber {
		var r float64
		switch op {
		case ir.OpAdd:
			r = x.Num + y.Num
		case ir.OpSub:
			r = x.Num - y.Num
		case ir.OpMul:
			r = x.Num * y.Num
		case ir.OpDiv:
			if y.Num == 0 {
				return ir.Value{}, "division by zero"
			}
			r = x.Num / y.Num
		case ir.OpMod:
			if y.Num == 0 {
				return ir.Value{}, "modulo by zero"
			}
			r = math.Mod(x.Num, y.Num)
		}
		if math.IsInf(r, 0) || math.IsNaN(r) {
			return ir.Value{}, "number overflow"
		}
		return ir.Number(r), ""
	}
	add := func(a, b int64) (int64, bool) {
		r := a + b
		if (b > 0 && r < a) || (b < 0 && r > a) {
			return 0, false
		}
		return r, true
	}
	addTime := func(t ir.Value, d int64) ir.Value {
		sec := t.Int + d/1e9
		ns := int64(t.Nsec) + d%1e9
		if ns < 0 {
			ns += 1e9
			sec--
		} else if ns >= 1e9 {
			ns -= 1e9
			sec++
		}
		return ir.Time(sec, int32(ns))
	}
	switch {
	case op == ir.OpAdd && x.Type == ir.TDuration && y.Type == ir.TDuration:
		if r, ok := add(x.Int, y.Int); ok {
			return ir.Duration(r), ""
		}
	case op == ir.OpSub && x.Type == ir.TDuration && y.Type == ir.TDuration:
		if y.Int != math.MinInt64 {
			if r, ok := add(x.Int, -y.Int); ok {
				return ir.Duration(r), ""
			}
		}
	case op == ir.OpAdd && x.Type == ir.TTime && y.Type == ir.TDuration:
		return addTime(x, y.Int), ""
	case op == ir.OpAdd && x.Type == ir.TDuration && y.Type == ir.TTime:
		return addTime(y, x.Int), ""
	case op == ir.OpSub && x.Type == ir.TTime && y.Type == ir.TDuration:
		if y.Int != math.MinInt64 {
			return addTime(x, -y.Int), ""
		}
	case op == ir.OpSub && x.Type == ir.TTime && y.Type == ir.TTime:
		ds := x.Int - y.Int
		if ds <= math.MaxInt64/int64(1e9)-1 && ds >= math.MinInt64/int64(1e9)+1 {
			return ir.Duration(ds*1e9 + int64(x.Nsec) - int64(y.Nsec)), ""
		}
	default:
		return ir.Value{}, fmt.Sprintf("cannot compute %s %s %s", x, op, y)
	}
	return ir.Value{}, "duration overflow"
}

func foldCall(b ir.Builtin, args []operand) (ir.Value, string) {
	x := args[0].val
	switch b {
	case ir.BuiltinLen:
		switch x.Type {
		case ir.TString:
			return ir.Number(float64(utf8.RuneCountInString(x.Str))), ""
		default:
			return ir.Number(float64(len(x.Elems))), ""
		}
	case ir.BuiltinLower:
		return ir.String(strings.ToLower(x.Str)), ""
	case ir.BuiltinUpper:
		return ir.String(strings.ToUpper(x.Str)), ""
	case ir.BuiltinStartsWith:
		return ir.Bool(strings.HasPrefix(x.Str, args[1].val.Str)), ""
	case ir.BuiltinEndsWith:
		return ir.Bool(strings.HasSuffix(x.Str, args[1].val.Str)), ""
	case ir.BuiltinTime:
		if x.Type == ir.TTime {
			return x, ""
		}
		sec, ns, ok := ir.ParseRFC3339(x.Str)
		if !ok {
			return ir.Value{}, fmt.Sprintf("time: %q is not an RFC 3339 time (such as \"2024-05-01T12:00:00Z\")", x.Str)
		}
		return ir.Time(sec, ns), ""
	case ir.BuiltinDuration:
		if x.Type == ir.TDuration {
			return x, ""
		}
		d, ok := ir.ParseDuration(x.Str)
		if !ok {
			return ir.Value{}, fmt.Sprintf("duration: %q is not a duration (such as 24h, 1h30m, 500ms)", x.Str)
		}
		return ir.Duration(d), ""
	}
	return ir.Value{}, fmt.Sprintf("%s cannot be computed here", b)
}
