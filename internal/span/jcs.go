package span

import (
	"strconv"
)

// DefaultMaxDepth is the JSON nesting limit Canonicalize applies, and the
// default of Limits.MaxDepth.
const DefaultMaxDepth = 32

// Canonicalize returns the RFC 8785 (JCS) form of any JSON text: object
// members sorted by UTF-16 code units, no insignificant whitespace, numbers
// in ECMAScript Number.prototype.toString form, strings with minimal
// escaping. It applies the same rules as Decode to the JSON itself (UTF-8,
// no duplicate keys, depth ≤ DefaultMaxDepth, integers within ±2^53, no
// trailing data) but no span rules and no size limit: the caller bounds the
// input. Errors are *Error.
func Canonicalize(data []byte) ([]byte, error) {
	var p parser
	p.init(data, DefaultMaxDepth)
	out, _, err := p.value(make([]byte, 0, len(data)), 0)
	if err != nil {
		return nil, err
	}
	if err := p.end(); err != nil {
		return nil, err
	}
	return out, nil
}

const hexDigits = "0123456789abcdef"

// AppendString appends s, valid UTF-8, as a JSON string escaped as JCS
// (RFC 8785) escapes it: what a span's canonical form holds.
func AppendString(dst []byte, s string) []byte { return appendString(dst, s, true) }

// appendString appends s as a JCS string. plain says s holds no byte that
// needs escaping (true for any string read from JSON without escapes: '"',
// '\\' and control characters cannot appear there unescaped).
func appendString[T string | []byte](dst []byte, s T, escaped bool) []byte {
	dst = append(dst, '"')
	if !escaped {
		dst = append(dst, s...)
		return append(dst, '"')
	}
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// unescapeCanonical decodes the content of a JCS string (between the
// quotes), which uses only the escapes appendString writes.
func unescapeCanonical(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b = append(b, c)
			continue
		}
		i++
		switch s[i] {
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			if v, ok := hex4([]byte(s), i+1); ok {
				b = append(b, byte(v))
				i += 4
			}
		default:
			b = append(b, s[i])
		}
	}
	return string(b)
}

// appendNumber appends v in the form ECMAScript's Number.prototype.toString
// gives it (ECMA-262 §6.1.6.1.20), as RFC 8785 §3.2.2.3 requires: the
// shortest decimal that round-trips, plain notation for 1e-7 < |v| < 1e21,
// exponent notation ("1e+21", "1e-7") outside. v must be finite.
func appendNumber(dst []byte, v float64) []byte {
	if v == 0 {
		return append(dst, '0') // also -0
	}
	var buf [32]byte
	b := strconv.AppendFloat(buf[:0], v, 'e', -1, 64) // [-]d[.ddd]e±dd
	if b[0] == '-' {
		dst = append(dst, '-')
		b = b[1:]
	}
	// Split into the significant digits and the exponent.
	var digits [24]byte
	k := 0
	i := 0
	for ; b[i] != 'e'; i++ {
		if b[i] != '.' {
			digits[k] = b[i]
			k++
		}
	}
	e := 0
	expNeg := b[i+1] == '-'
	for _, c := range b[i+2:] {
		e = e*10 + int(c-'0')
	}
	if expNeg {
		e = -e
	}
	d := digits[:k]
	n := e + 1 // v = 0.d × 10^n
	switch {
	case k <= n && n <= 21:
		dst = append(dst, d...)
		for j := k; j < n; j++ {
			dst = append(dst, '0')
		}
	case 0 < n && n <= 21:
		dst = append(dst, d[:n]...)
		dst = append(dst, '.')
		dst = append(dst, d[n:]...)
	case -6 < n && n <= 0:
		dst = append(dst, '0', '.')
		for j := n; j < 0; j++ {
			dst = append(dst, '0')
		}
		dst = append(dst, d...)
	default:
		dst = append(dst, d[0])
		if k > 1 {
			dst = append(dst, '.')
			dst = append(dst, d[1:]...)
		}
		dst = append(dst, 'e')
		if n-1 >= 0 {
			dst = append(dst, '+')
		} else {
			dst = append(dst, '-')
		}
		x := n - 1
		if x < 0 {
			x = -x
		}
		dst = strconv.AppendInt(dst, int64(x), 10)
	}
	return dst
}
