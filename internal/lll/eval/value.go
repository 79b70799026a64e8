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
// It is five words, so that a value and an error are returned in
// registers: a number's float64 is kept as its bits in i.
type value struct {
	k  kind
	b  bool
	ns int32  // kTime
	i  int64  // kNum, kPct: math.Float64bits; kDur: nanoseconds; kTime: Unix seconds
	s  string // kStr; kRawList, kRawMap: JSON text
	c  *composite
}

func numV(f float64) value { return value{k: kNum, i: int64(math.Float64bits(f))} }
func pctV(f float64) value { return value{k: kPct, i: int64(math.Float64bits(f))} }

// f is the float64 of a number or percentile.
func (v value) f() float64 { return math.Float64frombits(uint64(v.i)) }

type composite struct {
	keys  []string // kMap, sorted
	elems []value
}

var (
	nullV  = value{}
	trueV  = value{k: kBool, b: true}
	falseV = value{k: kBool}
)

func boolV(b bool) value {
	if b {
		return trueV
	}
	return falseV
}

// fromConst converts a constant of the program.
func fromConst(c ir.Value) value {
	switch c.Type {
	case ir.TBool:
		return boolV(c.Bool)
	case ir.TNumber:
		return numV(c.Num)
	case ir.TPercentile:
		return pctV(c.Num)
	case ir.TString:
		return value{k: kStr, s: c.Str}
	case ir.TDuration:
		return value{k: kDur, i: c.Int}
	case ir.TTime:
		return value{k: kTime, i: c.Int, ns: c.Nsec}
	case ir.TList:
		comp := &composite{elems: make([]value, len(c.Elems))}
		for i, e := range c.Elems {
			comp.elems[i] = fromConst(e)
		}
		return value{k: kList, c: comp}
	case ir.TMap:
		comp := &composite{keys: c.Keys, elems: make([]value, len(c.Elems))}
		for i, e := range c.Elems {
			comp.elems[i] = fromConst(e)
		}
		return value{k: kMap, c: comp}
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
		return value{k: kStr, s: unquote(raw)}, true
	case c == '{':
		return value{k: kRawMap, s: raw}, true
	case c == '[':
		return value{k: kRawList, s: raw}, true
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
func (v value) length() (int, bool) {
	switch v.k {
	case kStr:
		return utf8.RuneCountInString(v.s), true
	case kList, kMap:
		return len(v.c.elems), true
	case kRawList, kRawMap:
		return count(v.s), true
	}
	return 0, false
}

// get returns key of a map (null when absent).
func (v value) get(key string) value {
	switch v.k {
	case kMap:
		lo, hi := 0, len(v.c.keys)
		for lo < hi {
			m := int(uint(lo+hi) >> 1)
			switch c := strings.Compare(v.c.keys[m], key); {
			case c == 0:
				return v.c.elems[m]
			case c < 0:
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
func (v value) at(i int) value {
	switch v.k {
	case kList:
		if i >= 0 && i < len(v.c.elems) {
			return v.c.elems[i]
		}
	case kRawList:
		if raw, ok := element(v.s, i); ok {
			x, _ := fromJSON(raw)
			return x
		}
	}
	return nullV
}

// each calls fn for every element of a list or every key of a map (as a
// string value), until fn returns false.
func (v value) each(fn func(value) bool) {
	switch v.k {
	case kList:
		for _, e := range v.c.elems {
			if !fn(e) {
				return
			}
		}
	case kMap:
		for _, k := range v.c.keys {
			if !fn(value{k: kStr, s: k}) {
				return
			}
		}
	case kRawList, kRawMap:
		it, _ := newIter(v.s)
		for it.next() {
			var x value
			if it.obj {
				x = value{k: kStr, s: unquote(it.key)}
			} else {
				x, _ = fromJSON(it.val)
			}
			if !fn(x) {
				return
			}
		}
	}
}

// equal reports whether x and y are the same value. Values of different
// kinds are never equal (a list from the span equals a literal list with
// the same elements).
func equal(x, y value) bool {
	if x.k == kRawList {
		x.k = kList
	}
	if x.k == kRawMap {
		x.k = kMap
	}
	if y.k == kRawList {
		y.k = kList
	}
	if y.k == kRawMap {
		y.k = kMap
	}
	if x.k != y.k {
		return false
	}
	switch x.k {
	case kNull:
		return true
	case kBool:
		return x.b == y.b
	case kNum, kPct:
		return x.f() == y.f()
	case kStr:
		return x.s == y.s
	case kDur:
		return x.i == y.i
	case kTime:
		return x.i == y.i && x.ns == y.ns
	case kList:
		xs, ys := materialize(x), materialize(y)
		if len(xs.elems) != len(ys.elems) {
			return false
		}
		for i := range xs.elems {
			if !equal(xs.elems[i], ys.elems[i]) {
				return false
			}
		}
		return true
	case kMap:
		xs, ys := materialize(x), materialize(y)
		if len(xs.keys) != len(ys.keys) {
			return false
		}
		for i := range xs.keys {
			if xs.keys[i] != ys.keys[i] || !equal(xs.elems[i], ys.elems[i]) {
				return false
			}
		}
		return true
	}
	return false
}

// materialize returns the composite of a list or map value, decoding
// span JSON text (keys sorted) when needed.
func materialize(v value) *composite {
	if v.c != nil {
		return v.c
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
	if x.k != y.k {
		return 0, false
	}
	switch x.k {
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
		return cmpInt(int64(x.ns), int64(y.ns)), true
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
	switch v.k {
	case kNull:
		return "null"
	case kBool:
		return strconv.FormatBool(v.b)
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
		return ir.FormatTime(v.i, v.ns)
	}
	return "a " + v.k.String()
}

// appendJSON appends v as JSON (an emitted event's data). Durations,
// times and percentiles are written as the strings the language reads.
func appendJSON(dst []byte, v value) []byte {
	switch v.k {
	case kNull:
		return append(dst, "null"...)
	case kBool:
		return strconv.AppendBool(dst, v.b)
	case kNum:
		return strconv.AppendFloat(dst, v.f(), 'g', -1, 64)
	case kStr:
		return appendJSONString(dst, v.s)
	case kDur:
		return appendJSONString(dst, ir.FormatDuration(v.i))
	case kTime:
		return appendJSONString(dst, ir.FormatTime(v.i, v.ns))
	case kPct:
		return appendJSONString(dst, "p"+ir.FormatNumber(v.f()))
	case kRawList, kRawMap:
		return append(dst, v.s...)
	case kList:
		dst = append(dst, '[')
		for i, e := range v.c.elems {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSON(dst, e)
		}
		return append(dst, ']')
	case kMap:
		dst = append(dst, '{')
		for i, k := range v.c.keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, k)
			dst = append(dst, ':')
			dst = appendJSON(dst, v.c.elems[i])
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
