package span

import (
	"encoding/binary"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// This file is LogLine's JSON reader: a recursive-descent parser over []byte
// that validates strictly (RFC 8259 grammar, UTF-8, no duplicate keys,
// bounded depth and number range) and emits the RFC 8785 (JCS) encoding of
// each value in the same pass. There is no intermediate tree: objects write
// their members in document order and reorder them in place when the
// document order is not the JCS order, which is rare for machine-made input.

// kind is the JSON type of a parsed value.
type kind uint8

const (
	kindNull kind = iota + 1
	kindBool
	kindNumber
	kindString
	kindArray
	kindObject
)

func (k kind) String() string {
	switch k {
	case kindNull:
		return "null"
	case kindBool:
		return "boolean"
	case kindNumber:
		return "number"
	case kindString:
		return "string"
	case kindArray:
		return "array"
	case kindObject:
		return "object"
	}
	return "invalid"
}

// maxSafeInteger is 2^53: the largest magnitude an integer literal may have.
// Beyond it float64 (and so every JavaScript client) silently loses
// precision.
const (
	maxSafeInteger       = 1 << 53
	maxSafeIntegerDigits = "9007199254740992"
)

// memberRec records one member of an object being parsed: its decoded key
// (in parser.keys) and its encoded bytes `"key":value` in the output.
type memberRec struct {
	kOff, kEnd int32 // decoded key, in parser.keys
	mOff, mEnd int32 // `"key":value`, in the output buffer
	keyPos     int32 // input offset of the key, for errors
}

// pathElem is one step of the location of the value being parsed.
type pathElem struct {
	kOff, kEnd int32 // object key in parser.keys (when idx < 0)
	idx        int32 // array index, or -1 for an object member
}

// parser holds the state of one parse. It is used by a single goroutine and
// never retained after the call that made it.
type parser struct {
	data     []byte
	pos      int
	maxDepth int

	keys []byte      // decoded keys of the objects being parsed (a stack)
	recs []memberRec // members of the objects being parsed (a stack)
	path []pathElem  // where the parser is, for error pointers
	str  []byte      // decoded content of the last string that had escapes
	tmp  []byte      // scratch for reordering object members

	// Facts about the last scalar value parsed.
	lastStr []byte  // decoded string (aliases data or str)
	lastNum float64 // numeric value
}

// parserScratch is the initial backing of a parser's stacks, one
// allocation that fits typical spans.
type parserScratch struct {
	keys [192]byte
	recs [16]memberRec
	path [12]pathElem
}

// init prepares p to parse data.
func (p *parser) init(data []byte, maxDepth int) {
	sc := new(parserScratch)
	*p = parser{data: data, maxDepth: maxDepth, keys: sc.keys[:0], recs: sc.recs[:0], path: sc.path[:0]}
}

// pointer renders the current path as an RFC 6901 JSON pointer.
func (p *parser) pointer() string {
	return string(p.appendPointer(nil))
}

func (p *parser) appendPointer(b []byte) []byte {
	for _, e := range p.path {
		if e.idx >= 0 {
			b = append(b, '/')
			b = strconv.AppendInt(b, int64(e.idx), 10)
		} else {
			b = appendPointerToken(b, p.keys[e.kOff:e.kEnd])
		}
	}
	return b
}

// errAt builds an *Error located at the current path.
func (p *parser) errAt(code string, off int, detail string) *Error {
	return newError(code, p.pointer(), off, detail)
}

// where is " in <pointer>" for details, or "" at the top level.
func (p *parser) where() string {
	if len(p.path) == 0 {
		return ""
	}
	return " in " + p.pointer()
}

// syntax reports malformed JSON at offset off.
func (p *parser) syntax(off int, what string) *Error {
	return p.errAt(CodeMalformedJSON, off, what+" at byte "+strconv.Itoa(off)+p.where())
}

// unexpected reports the byte at off (or the end of input) as unexpected.
func (p *parser) unexpected(off int, looking string) *Error {
	if off >= len(p.data) {
		return p.syntax(off, "unexpected end of input "+looking)
	}
	c := p.data[off]
	if c >= utf8.RuneSelf {
		if r, size := utf8.DecodeRune(p.data[off:]); r == utf8.RuneError && size == 1 {
			return p.errAt(CodeInvalidUTF8, off, "invalid UTF-8 byte at byte "+strconv.Itoa(off)+p.where())
		}
		r, _ := utf8.DecodeRune(p.data[off:])
		return p.syntax(off, "unexpected character "+strconv.QuoteRune(r)+" "+looking)
	}
	return p.syntax(off, "unexpected character "+strconv.QuoteRune(rune(c))+" "+looking)
}

func (p *parser) skipWS() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// end checks that only whitespace follows the top-level value.
func (p *parser) end() error {
	p.skipWS()
	if p.pos < len(p.data) {
		return p.unexpected(p.pos, "after top-level value")
	}
	return nil
}

// value parses the value at p.pos (after optional whitespace) and appends
// its JCS encoding to dst. depth is the nesting depth of the enclosing
// container (0 at top level).
func (p *parser) value(dst []byte, depth int) ([]byte, kind, error) {
	p.skipWS()
	if p.pos >= len(p.data) {
		return dst, 0, p.unexpected(p.pos, "looking for beginning of value")
	}
	switch c := p.data[p.pos]; c {
	case '{':
		dst, err := p.object(dst, depth+1)
		return dst, kindObject, err
	case '[':
		dst, err := p.array(dst, depth+1, false)
		return dst, kindArray, err
	case '"':
		s, escaped, err := p.string()
		if err != nil {
			return dst, 0, err
		}
		p.lastStr = s
		return appendString(dst, s, escaped), kindString, nil
	case 't':
		return p.literal(dst, "true", kindBool)
	case 'f':
		return p.literal(dst, "false", kindBool)
	case 'n':
		return p.literal(dst, "null", kindNull)
	default:
		if c == '-' || c >= '0' && c <= '9' {
			dst, err := p.number(dst)
			return dst, kindNumber, err
		}
		return dst, 0, p.unexpected(p.pos, "looking for beginning of value")
	}
}

func (p *parser) literal(dst []byte, lit string, k kind) ([]byte, kind, error) {
	for i := 0; i < len(lit); i++ {
		if p.pos+i >= len(p.data) || p.data[p.pos+i] != lit[i] {
			return dst, 0, p.unexpected(p.pos+i, "in literal "+lit)
		}
	}
	p.pos += len(lit)
	return append(dst, lit...), k, nil
}

func (p *parser) tooDeep(off int) *Error {
	return p.errAt(CodeTooDeep, off, "nesting deeper than "+strconv.Itoa(p.maxDepth)+" levels at byte "+strconv.Itoa(off)+p.where())
}

// array parses an array. With onlyStrings, every element must be a string.
func (p *parser) array(dst []byte, depth int, onlyStrings bool) ([]byte, error) {
	if depth > p.maxDepth {
		return dst, p.tooDeep(p.pos)
	}
	p.pos++ // '['
	dst = append(dst, '[')
	p.skipWS()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		return append(dst, ']'), nil
	}
	p.path = append(p.path, pathElem{idx: 0})
	e := &p.path[len(p.path)-1]
	for i := int32(0); ; i++ {
		e.idx = i
		if i > 0 {
			dst = append(dst, ',')
		}
		p.skipWS()
		start := p.pos
		var k kind
		var err error
		if dst, k, err = p.value(dst, depth); err != nil {
			return dst, err
		}
		if onlyStrings && k != kindString {
			return dst, p.errAt(CodeInvalidField, start, p.pointer()+": must be a string, got "+k.String())
		}
		e = &p.path[len(p.path)-1] // p.path may have grown
		p.skipWS()
		if p.pos >= len(p.data) {
			return dst, p.unexpected(p.pos, "in array")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			p.path = p.path[:len(p.path)-1]
			return append(dst, ']'), nil
		default:
			return dst, p.unexpected(p.pos, "after array element")
		}
	}
}

// key parses an object key at p.pos and appends its decoded bytes to p.keys.
func (p *parser) key() (kOff, kEnd int32, escaped bool, err error) {
	if p.pos >= len(p.data) || p.data[p.pos] != '"' {
		return 0, 0, false, p.unexpected(p.pos, "looking for beginning of object key string")
	}
	s, escaped, err := p.string()
	if err != nil {
		return 0, 0, false, err
	}
	kOff = int32(len(p.keys))
	p.keys = append(p.keys, s...)
	return kOff, int32(len(p.keys)), escaped, nil
}

// colon consumes the ':' after an object key.
func (p *parser) colon() error {
	p.skipWS()
	if p.pos >= len(p.data) || p.data[p.pos] != ':' {
		return p.unexpected(p.pos, "after object key")
	}
	p.pos++
	return nil
}

// object parses an object and appends its JCS encoding (members sorted by
// UTF-16 code units).
func (p *parser) object(dst []byte, depth int) ([]byte, error) {
	if depth > p.maxDepth {
		return dst, p.tooDeep(p.pos)
	}
	p.pos++ // '{'
	dst = append(dst, '{')
	p.skipWS()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		return append(dst, '}'), nil
	}
	objStart := len(dst)
	recBase, keyBase := len(p.recs), len(p.keys)
	for {
		p.skipWS()
		keyPos := p.pos
		kOff, kEnd, escaped, err := p.key()
		if err != nil {
			return dst, err
		}
		if err := p.colon(); err != nil {
			return dst, err
		}
		if len(dst) > objStart {
			dst = append(dst, ',')
		}
		mOff := len(dst)
		dst = appendString(dst, p.keys[kOff:kEnd], escaped)
		dst = append(dst, ':')
		p.path = append(p.path, pathElem{kOff: kOff, kEnd: kEnd, idx: -1})
		if dst, _, err = p.value(dst, depth); err != nil {
			return dst, err
		}
		p.path = p.path[:len(p.path)-1]
		p.recs = append(p.recs, memberRec{kOff: kOff, kEnd: kEnd, mOff: int32(mOff), mEnd: int32(len(dst)), keyPos: int32(keyPos)})
		p.skipWS()
		if p.pos >= len(p.data) {
			return dst, p.unexpected(p.pos, "in object")
		}
		if c := p.data[p.pos]; c == ',' {
			p.pos++
			continue
		} else if c != '}' {
			return dst, p.unexpected(p.pos, "after object member")
		}
		p.pos++
		break
	}
	dst, err := p.sortMembers(dst, objStart, p.recs[recBase:])
	p.recs, p.keys = p.recs[:recBase], p.keys[:keyBase]
	return append(dst, '}'), err
}

// members parses a whole document that is one object whose '{' is at
// p.pos, without encoding it: for each member it calls fn with the decoded
// key (valid until fn returns), p.path pointing at the member, and p.pos
// after the ':'. fn must consume the value. Duplicate keys are fn's
// business.
func (p *parser) members(fn func(key []byte, keyPos int) error) error {
	p.pos++ // '{'
	p.skipWS()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		return p.end()
	}
	for {
		p.skipWS()
		keyPos := p.pos
		kOff, kEnd, _, err := p.key()
		if err != nil {
			return err
		}
		if err := p.colon(); err != nil {
			return err
		}
		p.path = append(p.path, pathElem{kOff: kOff, kEnd: kEnd, idx: -1})
		if err := fn(p.keys[kOff:kEnd], keyPos); err != nil {
			return err
		}
		p.path = p.path[:len(p.path)-1]
		p.keys = p.keys[:kOff]
		p.skipWS()
		if p.pos >= len(p.data) {
			return p.unexpected(p.pos, "in object")
		}
		if c := p.data[p.pos]; c == ',' {
			p.pos++
			continue
		} else if c != '}' {
			return p.unexpected(p.pos, "after object member")
		}
		p.pos++
		return p.end()
	}
}

func (p *parser) keyOf(r memberRec) []byte { return p.keys[r.kOff:r.kEnd] }

// sortMembers puts the members written at dst[objStart:] into JCS order and
// rejects duplicate keys.
func (p *parser) sortMembers(dst []byte, objStart int, recs []memberRec) ([]byte, error) {
	sorted := true
	for i := 1; i < len(recs); i++ {
		c := compareKeys(p.keyOf(recs[i-1]), p.keyOf(recs[i]))
		if c == 0 {
			return dst, p.duplicate(recs[i])
		}
		if c > 0 {
			sorted = false
			break
		}
	}
	if sorted {
		return dst, nil
	}
	if len(recs) <= 16 {
		// Insertion sort: stable, and cheapest for the small objects
		// spans are made of.
		for i := 1; i < len(recs); i++ {
			r := recs[i]
			k := p.keyOf(r)
			j := i
			for ; j > 0 && compareKeys(p.keyOf(recs[j-1]), k) > 0; j-- {
				recs[j] = recs[j-1]
			}
			recs[j] = r
		}
	} else {
		slices.SortStableFunc(recs, func(a, b memberRec) int {
			return compareKeys(p.keyOf(a), p.keyOf(b))
		})
	}
	// Of all repeated keys, report the first repetition in the document.
	var dup *memberRec
	for i := 1; i < len(recs); i++ {
		if compareKeys(p.keyOf(recs[i-1]), p.keyOf(recs[i])) == 0 && (dup == nil || recs[i].keyPos < dup.keyPos) {
			dup = &recs[i]
		}
	}
	if dup != nil {
		return dst, p.duplicate(*dup)
	}
	p.tmp = append(p.tmp[:0], dst[objStart:]...)
	dst = dst[:objStart]
	for i, r := range recs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, p.tmp[int(r.mOff)-objStart:int(r.mEnd)-objStart]...)
	}
	return dst, nil
}

func (p *parser) duplicate(r memberRec) *Error {
	key := p.keyOf(r)
	p.path = append(p.path, pathElem{kOff: r.kOff, kEnd: r.kEnd, idx: -1})
	ptr := p.pointer()
	p.path = p.path[:len(p.path)-1]
	return newError(CodeDuplicateKey, ptr, int(r.keyPos), "duplicate key "+quote(key)+p.where())
}

// compareKeys orders decoded (valid UTF-8) keys by their UTF-16 code units,
// as RFC 8785 §3.2.3 requires. UTF-8 byte order equals code point order,
// which differs from UTF-16 order only between U+E000–U+FFFF and
// supplementary characters (surrogate pairs sort below U+E000).
func compareKeys(a, b []byte) int {
	n := min(len(a), len(b))
	i := 0
	for i < n && a[i] == b[i] {
		i++
	}
	if i == n {
		return len(a) - len(b)
	}
	if a[i] < 0xEE && b[i] < 0xEE {
		// Neither byte can start (or continue, as both share the lead
		// byte then) a rune at or above U+E000: byte order is UTF-16 order.
		if a[i] < b[i] {
			return -1
		}
		return 1
	}
	for i > 0 && !utf8.RuneStart(a[i]) {
		i--
	}
	ra, _ := utf8.DecodeRune(a[i:])
	rb, _ := utf8.DecodeRune(b[i:])
	ua, ub := utf16Order(ra), utf16Order(rb)
	if ua < ub {
		return -1
	}
	if ua > ub {
		return 1
	}
	return 0
}

// utf16Order maps a rune to a value that sorts like its UTF-16 encoding:
// the first code unit in the high 16 bits, the second (if any) below.
func utf16Order(r rune) uint32 {
	if r < 0x10000 {
		return uint32(r) << 16
	}
	r -= 0x10000
	return (0xD800+uint32(r>>10))<<16 | (0xDC00 + uint32(r&0x3FF))
}

// string parses the string at p.pos (a '"') and returns its decoded
// content, which aliases p.data when the string has no escapes (escaped is
// then false) and p.str otherwise.
func (p *parser) string() (s []byte, escaped bool, err error) {
	data := p.data
	start := p.pos + 1
	for i := start; i < len(data); {
		for i+8 <= len(data) && !special8(binary.LittleEndian.Uint64(data[i:])) {
			i += 8
		}
		if i >= len(data) {
			break
		}
		c := data[i]
		switch {
		case c == '"':
			p.pos = i + 1
			return data[start:i], false, nil
		case c == '\\':
			return p.stringEscaped(start, i)
		case c < 0x20:
			return nil, false, p.syntax(i, "control character "+strconv.QuoteRune(rune(c))+" in string")
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size == 1 {
				return nil, false, p.errAt(CodeInvalidUTF8, i, "invalid UTF-8 in string at byte "+strconv.Itoa(i)+p.where())
			}
			i += size
		}
	}
	return nil, false, p.syntax(len(data), "unterminated string starting at byte "+strconv.Itoa(p.pos))
}

// special8 reports whether any of the 8 bytes packed in x needs attention
// inside a string: '"', '\\', a control character or a non-ASCII byte. (The
// has-zero-byte test can misfire only above a real hit, so the answer is
// exact.)
func special8(x uint64) bool {
	const lsb, msb = 0x0101010101010101, 0x8080808080808080
	ctl := (x - 0x20*lsb) &^ x
	q := x ^ ('"' * lsb)
	q = (q - lsb) &^ q
	b := x ^ ('\\' * lsb)
	b = (b - lsb) &^ b
	return (ctl|q|b|x)&msb != 0
}

// stringEscaped decodes a string with escapes into p.str; data[start:i] is
// the plain prefix and data[i] the first backslash.
func (p *parser) stringEscaped(start, i int) ([]byte, bool, error) {
	data := p.data
	out := append(p.str[:0], data[start:i]...)
	defer func() { p.str = out[:0] }()
	for i < len(data) {
		c := data[i]
		switch {
		case c == '"':
			p.pos = i + 1
			return out, true, nil
		case c == '\\':
			if i+1 >= len(data) {
				return nil, false, p.syntax(len(data), "unterminated string starting at byte "+strconv.Itoa(start-1))
			}
			switch e := data[i+1]; e {
			case '"', '\\', '/':
				out = append(out, e)
				i += 2
			case 'b':
				out = append(out, '\b')
				i += 2
			case 'f':
				out = append(out, '\f')
				i += 2
			case 'n':
				out = append(out, '\n')
				i += 2
			case 'r':
				out = append(out, '\r')
				i += 2
			case 't':
				out = append(out, '\t')
				i += 2
			case 'u':
				r, ok := hex4(data, i+2)
				if !ok {
					return nil, false, p.syntax(i, "invalid \\u escape in string")
				}
				n := 6
				switch {
				case r >= 0xD800 && r < 0xDC00:
					r2, ok := -1, false
					if i+7 < len(data) && data[i+6] == '\\' && data[i+7] == 'u' {
						r2, ok = hex4(data, i+8)
					}
					if !ok || r2 < 0xDC00 || r2 >= 0xE000 {
						return nil, false, p.errAt(CodeInvalidUTF8, i, "lone surrogate \\u"+string(data[i+2:i+6])+" in string at byte "+strconv.Itoa(i)+p.where())
					}
					r = 0x10000 + (r-0xD800)<<10 + (r2 - 0xDC00)
					n = 12
				case r >= 0xDC00 && r < 0xE000:
					return nil, false, p.errAt(CodeInvalidUTF8, i, "lone surrogate \\u"+string(data[i+2:i+6])+" in string at byte "+strconv.Itoa(i)+p.where())
				}
				out = utf8.AppendRune(out, rune(r))
				i += n
			default:
				return nil, false, p.syntax(i, "invalid escape "+strconv.Quote(string(data[i:i+2]))+" in string")
			}
		case c < 0x20:
			return nil, false, p.syntax(i, "control character "+strconv.QuoteRune(rune(c))+" in string")
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size == 1 {
				return nil, false, p.errAt(CodeInvalidUTF8, i, "invalid UTF-8 in string at byte "+strconv.Itoa(i)+p.where())
			}
			out = append(out, data[i:i+size]...)
			i += size
		}
	}
	return nil, false, p.syntax(len(data), "unterminated string starting at byte "+strconv.Itoa(start-1))
}

// hex4 reads four hex digits at data[i:].
func hex4(data []byte, i int) (int, bool) {
	if i+4 > len(data) {
		return 0, false
	}
	v := 0
	for _, c := range data[i : i+4] {
		v <<= 4
		switch {
		case c >= '0' && c <= '9':
			v |= int(c - '0')
		case c >= 'a' && c <= 'f':
			v |= int(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			v |= int(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return v, true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// number parses a number and appends its JCS form. A number is accepted
// when it is finite as a float64 and either its magnitude is at most 2^53
// (judged by the digits when there is no exponent) or it is written with
// an exponent and its magnitude is at least 1e21.
// So an integer is never silently changed (9007199254740993 would become
// ...992), and since JCS writes exactly the values from 1e21 up with an
// exponent, the canonical form of an accepted number is accepted again.
func (p *parser) number(dst []byte) ([]byte, error) {
	data := p.data
	start := p.pos
	i := start
	if data[i] == '-' {
		i++
	}
	intStart := i
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case i < len(data) && data[i] >= '1' && data[i] <= '9':
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	default:
		return dst, p.unexpected(i, "in number (expecting digit)")
	}
	intEnd := i
	frac, exp := false, false
	if i < len(data) && data[i] == '.' {
		i++
		if i >= len(data) || !isDigit(data[i]) {
			return dst, p.unexpected(i, "after decimal point in number")
		}
		for i < len(data) && isDigit(data[i]) {
			i++
		}
		frac = true
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if i >= len(data) || !isDigit(data[i]) {
			return dst, p.unexpected(i, "in exponent of number")
		}
		for i < len(data) && isDigit(data[i]) {
			i++
		}
		exp = true
	}
	p.pos = i
	lit := data[start:i]
	intDigits := data[intStart:intEnd]
	if !exp && (len(intDigits) > len(maxSafeIntegerDigits) ||
		len(intDigits) == len(maxSafeIntegerDigits) && string(intDigits) > maxSafeIntegerDigits) {
		return dst, p.beyondSafe(start, lit)
	}
	if !frac && !exp {
		var v uint64
		for _, c := range intDigits {
			v = v*10 + uint64(c-'0')
		}
		p.lastNum = float64(v)
		if v == 0 {
			return append(dst, '0'), nil // "-0" is 0
		}
		if start < intStart {
			p.lastNum = -p.lastNum
		}
		return append(dst, lit...), nil
	}
	v, err := strconv.ParseFloat(string(lit), 64)
	if err != nil {
		return dst, p.errAt(CodeNumberRange, start, "number "+quote(lit)+p.where()+" overflows a 64-bit float")
	}
	if a := math.Abs(v); a > maxSafeInteger && a < 1e21 {
		return dst, p.beyondSafe(start, lit)
	}
	p.lastNum = v
	return appendNumber(dst, v), nil
}

func (p *parser) beyondSafe(start int, lit []byte) *Error {
	return p.errAt(CodeNumberRange, start, "number "+quote(lit)+p.where()+
		" is beyond ±2^53 (9007199254740992), where float64 loses integer precision; send it as a string")
}
