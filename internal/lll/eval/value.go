package eval

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/logline/logline/internal/lll/ir"
)

// kind is the run-time type of a value.
type kind uint8

const (
	kNull kind = iota
	kBool
	kNum
	kStr
	kDur
	kTime
	kPct
	kList    // c holds the elements
	kMap     // c holds keys (sorted) and values
	kRawList // s holds a JSON array from the span
	kRawMap  // s holds a JSON object from the span
)

var kindNames = [...]string{"null", "bool", "number", "string", "duration", "time", "percentile", "list", "map", "list", "map"}

func (k kind) String() string { return kindNames[k] }

func (k kind) isList() bool { return k == kList || k == kRawList }
func (k kind) isMap() bool  { return k == kMap || k == kRawMap }

// value is a run-time value. Span data stays JSON text until used.
//
// It has three fields and 32 bytes, so the compiler keeps values in
// registers (a larger struct is copied through memory at every return,
// which stalls the CPU): the kind, a bool and a time's nanoseconds share
// h; a number's float64 is kept as its bits in i; a list or map built
// from constants or at run time is a reference in i to a composite held
// by the Machine (i ≥ 0) or by the call's state (i < 0).
type value struct {
	h uint64 // kind (bits 0–7), bool (bit 8), kTime: nanoseconds (bits 32–63)
	i int64  // kNum, kPct: math.Float64bits; kDur: nanoseconds; kTime: Unix seconds; kList, kMap: composite reference
	s string // kStr; kRawList, kRawMap: JSON text
}

func (v value) k() kind    { return kind(v.h) }
func (v value) b() bool    { return v.h&(1<<8) != 0 }
func (v value) ns() int32  { return int32(uint32(v.h >> 32)) }
func (v value) f() float64 { return math.Float64frombits(uint64(v.i)) }

func numV(f float64) value { return value{h: uint64(kNum), i: int64(math.Float64bits(f))} }
func pctV(f float64) value { return value{h: uint64(kPct), i: int64(math.Float64bits(f))} }
func strV(s string) value  { return value{h: uint64(kStr), s: s} }
func durV(d int64) value   { return value{h: uint64(kDur), i: d} }
func timeV(sec int64, ns int32) value {
	return value{h: uint64(kTime) | uint64(uint32(ns))<<32, i: sec}
}
func rawV(k kind, json string) value { return value{h: uint64(k), s: json} }

type composite struct {
	keys  []string // kMap, sorted
	elems []value
}

var (
	nullV  = value{}
	trueV  = value{h: uint64(kBool) | 1<<8}
	falseV = value{h: uint64(kBool)}
)

func boolV(b bool) value {
	if b {
		return trueV
	}
	return falseV
}

// comps holds the composites values refer to: the Machine's (constants,
// read-only) and the call's (built while evaluating).
type comps struct {
	machine []*composite
	call    []*composite
}

func (cs *comps) get(v value) *composite {
	if v.i >= 0 {
		return cs.machine[v.i]
	}
	return cs.call[-v.i-1]
}

// add returns a value of kind k (kList or kMap) referring to c, held by
// the call.
func (cs *comps) add(k kind, c *composite) value {
	cs.call = append(cs.call, c)
	return value{h: uint64(k), i: -int64(len(cs.call))}
}

// fromConst converts a constant of the program, adding its composites to
// the Machine's.
func (m *Machine) fromConst(c ir.Value) value {
	switch c.Type {
	case ir.TBool:
		return boolV(c.Bool)
	case ir.TNumber:
		return numV(c.Num)
	case ir.TPercentile:
		return pctV(c.Num)
	case ir.TString:
		return strV(c.Str)
	case ir.TDuration:
		return durV(c.Int)
	case ir.TTime:
		return timeV(c.Int, c.Nsec)
	case ir.TList, ir.TMap:
		comp := &composite{elems: make([]value, len(c.Elems))}
		for i, e := range c.Elems {
			comp.elems[i] = m.fromConst(e)
		}
		k := kList
		if c.Type == ir.TMap {
			k, comp.keys = kMap, c.Keys
		}
		m.comps = append(m.comps, comp)
		return value{h: uint64(k), i: int64(len(m.comps) - 1)}
	}
	return nullV
}

// fromJSON turns span JSON text into a value: scalars decoded, strings
// without escapes used in place, containers left as text.
func fromJSON(raw string) (value, bool) {
	if raw == "" {
		return nullV, false
	}
	switch c := raw[0]; {
	case c == '"':
		if len(raw) < 2 || raw[len(raw)-1] != '"' {
			return nullV, false
		}
		return strV(unquote(raw)), true
	case c == '{':
		return rawV(kRawMap, raw), true
	case c == '[':
		return rawV(kRawList, raw), true
	case raw == "true":
		return trueV, true
	case raw == "false":
		return falseV, true
	case raw == "null":
		return nullV, true
	case c == '-' || c >= '0' && c <= '9':
		f, err := strconv.ParseFloat(raw, 64)
		if err != nil || math.IsInf(f, 0) {
			return nullV, false
		}
		return numV(f), true
	}
	return nullV, false
}

// length returns the length of a string (in characters), list or map.
func (st *state) length(v value) (int, bool) {
	switch v.k() {
	case kStr:
		return utf8.RuneCountInString(v.s), true
	case kList, kMap:
		return len(st.comps.get(v).elems), true
	case kRawList, kRawMap:
		return count(v.s), true
	}
	return 0, false
}

// get returns key of a map (null when absent).
func (st *state) get(v value, key string) value {
	switch v.k() {
	case kMap:
		c := st.comps.get(v)
		lo, hi := 0, len(c.keys)
		for lo < hi {
			m := int(uint(lo+hi) >> 1)
			switch r := strings.Compare(c.keys[m], key); {
			case r == 0:
				return c.elems[m]
			case r < 0:
				lo = m + 1
			default:
				hi = m
			}
		}
	case kRawMap:
		if raw, ok := member(v.s, key); ok {
			x, _ := fromJSON(raw)
			return x
		}
	}
	return nullV
}

// at returns element i of a list (null when out of range).
func (st *state) at(v value, i int) value {
	switch v.k() {
	case kList:
		c := st.comps.get(v)
		if i >= 0 && i < len(c.elems) {
			return c.elems[i]
		}
	case kRawList:
		if raw, ok := element(v.s, i); ok {
			x, _ := fromJSON(raw)
			return x
		}
	}
	return nullV
}

// equal reports whether x and y are the same value. Values of different
// kinds are never equal (a list from the span equals a literal list with
// the same elements).
func (st *state) equal(x, y value) bool {
	xk, yk := x.k(), y.k()
	if xk == kRawList {
		xk = kList
	}
	if xk == kRawMap {
		xk = kMap
	}
	if yk == kRawList {
		yk = kList
	}
	if yk == kRawMap {
		yk = kMap
	}
	if xk != yk {
		return false
	}
	switch xk {
	case kNull:
		return true
	case kBool:
		return x.b() == y.b()
	case kNum, kPct:
		return x.f() == y.f()
	case kStr:
		return x.s == y.s
	case kDur:
		return x.i == y.i
	case kTime:
		return x.i == y.i && x.ns() == y.ns()
	case kList, kMap:
		xs, ys := st.materialize(x), st.materialize(y)
		if len(xs.elems) != len(ys.elems) || len(xs.keys) != len(ys.keys) {
			return false
		}
		for i := range xs.keys {
			if xs.keys[i] != ys.keys[i] {
				return false
			}
		}
		for i := range xs.elems {
			if !st.equal(xs.elems[i], ys.elems[i]) {
				return false
			}
		}
		return true
	}
	return false
}

// materialize returns the composite of a list or map value, decoding
// span JSON text (keys sorted) when needed.
func (st *state) materialize(v value) *composite {
	if k := v.k(); k == kList || k == kMap {
		return st.comps.get(v)
	}
	comp := &composite{}
	it, ok := newIter(v.s)
	if !ok {
		return comp
	}
	for it.next() {
		x, _ := fromJSON(it.val)
		if it.obj {
			comp.keys = append(comp.keys, unquote(it.key))
		}
		comp.elems = append(comp.elems, x)
	}
	if it.obj {
		sortPairs(comp.keys, comp.elems)
	}
	return comp
}

func sortPairs(keys []string, vals []value) {
	// Insertion sort: span objects are canonical (already sorted, by
	// UTF-16 order, which differs from byte order only beyond the BMP).
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j-1] > keys[j]; j-- {
			keys[j-1], keys[j] = keys[j], keys[j-1]
			vals[j-1], vals[j] = vals[j], vals[j-1]
		}
	}
}

// compare orders two values of one orderable kind.
func compare(x, y value) (int, bool) {
	if x.h&0xff != y.h&0xff {
		return 0, false
	}
	switch x.k() {
	case kNum, kPct:
		switch {
		case x.f() < y.f():
			return -1, true
		case x.f() > y.f():
			return 1, true
		}
		return 0, true
	case kStr:
		return strings.Compare(x.s, y.s), true
	case kDur:
		return cmpInt(x.i, y.i), true
	case kTime:
		if c := cmpInt(x.i, y.i); c != 0 {
			return c, true
		}
		return cmpInt(int64(x.ns()), int64(y.ns())), true
	}
	return 0, false
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// describe writes v briefly for messages: a string (quoted, cut), a
// number, "null".
func describe(v value) string {
	switch v.k() {
	case kNull:
		return "null"
	case kBool:
		return strconv.FormatBool(v.b())
	case kNum:
		return ir.FormatNumber(v.f())
	case kPct:
		return "p" + ir.FormatNumber(v.f())
	case kStr:
		s := v.s
		if len(s) > 40 {
			s = s[:40]
			for !utf8.ValidString(s) {
				s = s[:len(s)-1]
			}
			return strconv.Quote(s) + "…"
		}
		return strconv.Quote(s)
	case kDur:
		return ir.FormatDuration(v.i)
	case kTime:
		return ir.FormatTime(v.i, v.ns())
	}
	return "a " + v.k().String()
}

// appendJSON appends v as JSON (an emitted event's data). Durations,
// times and percentiles are written as the strings the language reads.
func (st *state) appendJSON(dst []byte, v value) []byte {
	switch v.k() {
	case kNull:
		return append(dst, "null"...)
	case kBool:
		return strconv.AppendBool(dst, v.b())
	case kNum:
		return strconv.AppendFloat(dst, v.f(), 'g', -1, 64)
	case kStr:
		return appendJSONString(dst, v.s)
	case kDur:
		return appendJSONString(dst, ir.FormatDuration(v.i))
	case kTime:
		return appendJSONString(dst, ir.FormatTime(v.i, v.ns()))
	case kPct:
		return appendJSONString(dst, "p"+ir.FormatNumber(v.f()))
	case kRawList, kRawMap:
		return append(dst, v.s...)
	case kList:
		dst = append(dst, '[')
		for i, e := range st.comps.get(v).elems {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = st.appendJSON(dst, e)
		}
		return append(dst, ']')
	case kMap:
		c := st.comps.get(v)
		dst = append(dst, '{')
		for i, k := range c.keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, k)
			dst = append(dst, ':')
			dst = st.appendJSON(dst, c.elems[i])
		}
		return append(dst, '}')
	}
	return append(dst, "null"...)
}

func appendJSONString(dst []byte, s string) []byte {
	var b bytes.Buffer
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte("0123456789abcdef"[r>>4])
			b.WriteByte("0123456789abcdef"[r&0xf])
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return append(dst, b.Bytes()...)
}
