package syntax

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"
)

// token is one lexical token with its position and, for literals, its
// decoded value.
type token struct {
	tok   Token
	pos   Pos    // first byte
	end   Pos    // just past the last byte
	raw   string // the token as written
	str   string // STRING: the decoded value
	num   float64
	nanos int64 // DURATION
}

// scanner turns source bytes into tokens. Errors go to errh; the
// scanner always makes progress and ends with EOF.
type scanner struct {
	src       []byte
	off       int // next byte to read
	line      int // line of off, 1-based
	lineStart int // offset of the first byte of line
	errh      func(pos Pos, msg string)
}

func newScanner(src []byte, errh func(Pos, string)) *scanner {
	s := &scanner{src: src, line: 1, errh: errh}
	// A byte order mark at the very start is tolerated and skipped.
	if len(src) >= 3 && src[0] == 0xEF && src[1] == 0xBB && src[2] == 0xBF {
		s.off = 3
		s.lineStart = 3
	}
	return s
}

// posAt is the position of offset off on the current line.
func (s *scanner) posAt(off int) Pos {
	return Pos{Offset: off, Line: s.line, Col: off - s.lineStart + 1}
}

func (s *scanner) errorf(off int, format string, args ...any) {
	if s.errh != nil {
		s.errh(s.posAt(off), fmt.Sprintf(format, args...))
	}
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }

// next returns the next token, comments included.
func (s *scanner) next() token {
	// Skip whitespace.
	for s.off < len(s.src) {
		c := s.src[s.off]
		if c == '\n' {
			s.off++
			s.line++
			s.lineStart = s.off
			continue
		}
		if c == ' ' || c == '\t' || c == '\r' {
			s.off++
			continue
		}
		break
	}
	start := s.off
	t := token{pos: s.posAt(start)}
	if s.off >= len(s.src) {
		t.tok = EOF
		t.end = t.pos
		return t
	}
	c := s.src[s.off]
	switch {
	case isLetter(c):
		for s.off < len(s.src) && (isLetter(s.src[s.off]) || isDigit(s.src[s.off])) {
			s.off++
		}
		t.raw = string(s.src[start:s.off])
		t.tok = Lookup(t.raw)
	case isDigit(c):
		s.scanNumber(&t)
	case c == '"':
		s.scanString(&t)
	case c == '#':
		for s.off < len(s.src) && s.src[s.off] != '\n' {
			s.off++
		}
		text := s.src[start:s.off]
		for len(text) > 0 && text[len(text)-1] == '\r' {
			text = text[:len(text)-1]
		}
		if !utf8.Valid(text) {
			s.errorf(start, "invalid UTF-8 encoding in comment")
		}
		t.tok = COMMENT
		t.raw = string(text)
		t.end = s.posAt(start + len(text))
		return t
	default:
		s.off++
		t.tok = ILLEGAL
		switch c {
		case '{':
			t.tok = LBRACE
		case '}':
			t.tok = RBRACE
		case '[':
			t.tok = LBRACK
		case ']':
			t.tok = RBRACK
		case '(':
			t.tok = LPAREN
		case ')':
			t.tok = RPAREN
		case ':':
			t.tok = COLON
		case ',':
			t.tok = COMMA
		case '.':
			t.tok = DOT
		case '+':
			t.tok = ADD
		case '-':
			t.tok = SUB
		case '*':
			t.tok = MUL
		case '/':
			t.tok = QUO
		case '%':
			t.tok = REM
		case '<':
			t.tok = LSS
			if s.peek('=') {
				t.tok = LEQ
			}
		case '>':
			t.tok = GTR
			if s.peek('=') {
				t.tok = GEQ
			}
		case '=':
			if s.peek('=') {
				t.tok = EQL
			} else {
				s.errorf(start, "unexpected '=': entries are written key: value, comparisons with ==")
			}
		case '!':
			if s.peek('=') {
				t.tok = NEQ
			} else {
				s.errorf(start, "unexpected '!': write not, or != to compare")
			}
		case '&':
			s.peek('&')
			s.errorf(start, "unexpected '%s': write and", s.src[start:s.off])
		case '|':
			s.peek('|')
			s.errorf(start, "unexpected '%s': write or", s.src[start:s.off])
		default:
			r, size := utf8.DecodeRune(s.src[start:])
			s.off = start + size
			switch {
			case r == utf8.RuneError && size == 1:
				s.errorf(start, "invalid UTF-8 encoding")
			case r < 0x20 || r == 0x7f:
				s.errorf(start, "unexpected control character U+%04X", r)
			default:
				s.errorf(start, "unexpected character %q (U+%04X)", r, r)
			}
		}
		t.raw = string(s.src[start:s.off])
	}
	t.end = s.posAt(s.off)
	return t
}

// peek consumes the next byte if it is c.
func (s *scanner) peek(c byte) bool {
	if s.off < len(s.src) && s.src[s.off] == c {
		s.off++
		return true
	}
	return false
}

// scanNumber reads a number or a duration: the longest run of digits,
// letters, '_' and '.', plus a sign right after an exponent's e.
func (s *scanner) scanNumber(t *token) {
	start := s.off
	for s.off < len(s.src) {
		c := s.src[s.off]
		if isDigit(c) || isLetter(c) || c == '.' {
			s.off++
			continue
		}
		if (c == '+' || c == '-') && (s.src[s.off-1] == 'e' || s.src[s.off-1] == 'E') &&
			s.off+1 < len(s.src) && isDigit(s.src[s.off+1]) && isJSONMantissa(s.src[start:s.off-1]) {
			s.off++
			continue
		}
		break
	}
	raw := string(s.src[start:s.off])
	t.raw = raw
	if isJSONNumber(raw) {
		f, err := strconv.ParseFloat(raw, 64)
		if err != nil || math.IsInf(f, 0) {
			s.errorf(start, "number %s out of range", raw)
			t.tok = ILLEGAL
			return
		}
		t.tok = NUMBER
		t.num = f
		return
	}
	if n, ok, msg := parseDuration(raw); ok {
		t.tok = DURATION
		t.nanos = n
		return
	} else if msg != "" {
		s.errorf(start, "invalid duration %s: %s", raw, msg)
		t.tok = ILLEGAL
		return
	}
	t.tok = ILLEGAL
	switch {
	case len(raw) > 1 && raw[0] == '0' && isDigit(raw[1]):
		s.errorf(start, "invalid number %s: leading zeros are not allowed", raw)
	case strings.IndexFunc(raw, func(r rune) bool { return r > '9' && r != 'e' && r != 'E' }) >= 0:
		s.errorf(start, "invalid number %s: a number cannot be followed by letters (durations use the units d h m s ms, largest first: 1h30m)", raw)
	case strings.HasSuffix(raw, "."):
		s.errorf(start, "invalid number %s: expected digits after '.'", raw)
	case strings.HasSuffix(raw, "e") || strings.HasSuffix(raw, "E"):
		s.errorf(start, "invalid number %s: expected digits in the exponent", raw)
	default:
		s.errorf(start, "invalid number %s", raw)
	}
}

// isJSONMantissa reports whether b is digits with an optional fraction,
// as JSON writes before an exponent.
func isJSONMantissa(b []byte) bool {
	return isJSONNumber(string(b)) && !strings.ContainsAny(string(b), "eE")
}

// isJSONNumber reports whether s is a JSON number without a sign.
func isJSONNumber(s string) bool {
	i := 0
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		j := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i == j {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		j := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i == j {
			return false
		}
	}
	return i == len(s)
}

// durationUnits are the units of a duration literal, largest first.
var durationUnits = [...]struct {
	name  string
	nanos int64
}{
	{"d", 24 * 3600 * 1e9},
	{"h", 3600 * 1e9},
	{"m", 60 * 1e9},
	{"s", 1e9},
	{"ms", 1e6},
}

// parseDuration parses a duration literal such as 1h30m or 1.5s. ok is
// false when s is not one; msg then says why if s looked like one
// (digits and unit letters only), and is empty otherwise.
func parseDuration(s string) (nanos int64, ok bool, msg string) {
	// Shape: (digits [. digits] letters)+ with letters among d h m s.
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isDigit(c) && c != '.' && c != 'd' && c != 'h' && c != 'm' && c != 's' {
			return 0, false, ""
		}
	}
	if !strings.ContainsAny(s, "dhms") {
		return 0, false, ""
	}
	if isDigit(s[len(s)-1]) {
		return 0, false, "the last number has no unit (units: d h m s ms)"
	}
	total := new(big.Rat)
	last := -1 // index in durationUnits of the previous unit
	i := 0
	for i < len(s) {
		j := i
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		if j == i {
			return 0, false, "expected a number before each unit"
		}
		if j < len(s) && s[j] == '.' {
			j++
			k := j
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			if j == k {
				return 0, false, "expected digits after '.'"
			}
		}
		numText := s[i:j]
		k := j
		for k < len(s) && !isDigit(s[k]) && s[k] != '.' {
			k++
		}
		unit := s[j:k]
		u := -1
		for n, du := range durationUnits {
			if du.name == unit {
				u = n
			}
		}
		if u < 0 {
			return 0, false, fmt.Sprintf("unknown unit %q (units: d h m s ms)", unit)
		}
		if u <= last {
			return 0, false, "units go from largest to smallest, each at most once (d h m s ms)"
		}
		last = u
		r, okr := new(big.Rat).SetString(numText)
		if !okr {
			return 0, false, "bad number"
		}
		r.Mul(r, new(big.Rat).SetInt64(durationUnits[u].nanos))
		total.Add(total, r)
		i = k
	}
	q := new(big.Int).Quo(total.Num(), total.Denom())
	if !q.IsInt64() {
		return 0, false, "longer than the longest duration (about 292 years)"
	}
	return q.Int64(), true, ""
}

// scanString reads a double-quoted string with JSON's escapes.
func (s *scanner) scanString(t *token) {
	start := s.off
	s.off++ // opening quote
	var b strings.Builder
	t.tok = STRING
	for {
		if s.off >= len(s.src) {
			s.errorf(start, "string not terminated")
			break
		}
		c := s.src[s.off]
		if c == '"' {
			s.off++
			break
		}
		if c == '\n' {
			s.errorf(start, "string not terminated: a newline inside a string is written \\n")
			break
		}
		if c == '\\' {
			s.scanEscape(&b)
			continue
		}
		if c < 0x20 || c == 0x7f {
			s.errorf(s.off, "control character U+%04X in string: write it as an escape (\\t, \\u%04X)", c, c)
			s.off++
			continue
		}
		if c < utf8.RuneSelf {
			b.WriteByte(c)
			s.off++
			continue
		}
		r, size := utf8.DecodeRune(s.src[s.off:])
		if r == utf8.RuneError && size == 1 {
			s.errorf(s.off, "invalid UTF-8 encoding in string")
		}
		b.Write(s.src[s.off : s.off+size])
		s.off += size
	}
	t.raw = string(s.src[start:s.off])
	t.str = b.String()
}

// scanEscape reads one escape sequence at s.off (a backslash).
func (s *scanner) scanEscape(b *strings.Builder) {
	at := s.off
	s.off++
	if s.off >= len(s.src) {
		return // the caller reports the unterminated string
	}
	c := s.src[s.off]
	switch c {
	case '"', '\\', '/':
		b.WriteByte(c)
	case 'b':
		b.WriteByte('\b')
	case 'f':
		b.WriteByte('\f')
	case 'n':
		b.WriteByte('\n')
	case 'r':
		b.WriteByte('\r')
	case 't':
		b.WriteByte('\t')
	case 'u':
		r, ok := s.hex4(s.off + 1)
		if !ok {
			s.errorf(at, `invalid escape \u in string: want four hex digits (\u00e9)`)
			s.off++
			return
		}
		s.off += 5
		if r >= 0xD800 && r < 0xDC00 {
			// A high surrogate: combine with a following low one.
			if s.off+1 < len(s.src) && s.src[s.off] == '\\' && s.src[s.off+1] == 'u' {
				if lo, ok := s.hex4(s.off + 2); ok && lo >= 0xDC00 && lo < 0xE000 {
					s.off += 6
					b.WriteRune((r-0xD800)<<10 + (lo - 0xDC00) + 0x10000)
					return
				}
			}
			r = utf8.RuneError
		} else if r >= 0xDC00 && r < 0xE000 {
			r = utf8.RuneError
		}
		b.WriteRune(r)
		return
	case '\n':
		s.errorf(at, `invalid escape \ at the end of a line: strings cannot span lines`)
		return // the newline ends the string
	default:
		r, size := utf8.DecodeRune(s.src[s.off:])
		s.errorf(at, `invalid escape \%c in string (JSON escapes: \" \\ \/ \b \f \n \r \t \uXXXX)`, r)
		s.off += size
		return
	}
	s.off++
}

// hex4 decodes four hex digits at off.
func (s *scanner) hex4(off int) (rune, bool) {
	if off+4 > len(s.src) {
		return 0, false
	}
	var r rune
	for _, c := range s.src[off : off+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}
