package span

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Error codes carried by *Error. The gateway maps them to HTTP statuses in
// one place; they are part of the public API and never change meaning.
const (
	CodeMalformedJSON = "malformed_json" // not JSON text, or trailing data after it
	CodeInvalidUTF8   = "invalid_utf8"   // invalid UTF-8 bytes or a lone surrogate \u escape
	CodeDuplicateKey  = "duplicate_key"  // an object names the same key twice (or a field and its alias)
	CodeTooLarge      = "too_large"      // the span exceeds Limits.MaxSpanBytes
	CodeTooDeep       = "too_deep"       // nesting exceeds Limits.MaxDepth
	CodeNumberRange   = "number_range"   // an integer beyond ±2^53 or a number beyond float64
	CodeMissingField  = "missing_field"  // a required field is absent
	CodeInvalidField  = "invalid_field"  // a field has the wrong type or format
	CodeUnknownField  = "unknown_field"  // a top-level field the wire format does not define
	CodeServerField   = "server_field"   // log_index, prev_hash or received_at sent by a client
	CodeHashMismatch  = "hash_mismatch"  // curr_hash does not match the content
	CodeBadSignature  = "bad_signature"  // signature does not verify with public_key
	CodeNotCanonical  = "not_canonical"  // a stored line is not exactly its JCS encoding
)

// Error is a user-safe validation error. Every field is safe to show to the
// client that sent the input: it names the problem, never internals.
type Error struct {
	Code    string // one of the Code* constants
	Pointer string // RFC 6901 JSON pointer of the bad field ("" for the whole document)
	Detail  string // precise, human message naming the field
	Offset  int    // byte offset in the input where it was detected, -1 if unknown
}

// Error formats the detail followed by the code, pointer and offset.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Detail)
	b.WriteString(" [")
	b.WriteString(e.Code)
	if e.Pointer != "" {
		b.WriteString(" at ")
		b.WriteString(e.Pointer)
	}
	if e.Offset >= 0 {
		b.WriteString(", byte ")
		b.WriteString(strconv.Itoa(e.Offset))
	}
	b.WriteByte(']')
	return b.String()
}

// newError builds an *Error.
func newError(code, pointer string, offset int, detail string) *Error {
	return &Error{Code: code, Pointer: pointer, Detail: detail, Offset: offset}
}

// appendPointerToken appends one RFC 6901 reference token ("~" → "~0",
// "/" → "~1") preceded by "/".
func appendPointerToken(b []byte, tok []byte) []byte {
	b = append(b, '/')
	for _, c := range tok {
		switch c {
		case '~':
			b = append(b, '~', '0')
		case '/':
			b = append(b, '~', '1')
		default:
			b = append(b, c)
		}
	}
	return b
}

// fieldPointer is the pointer of a top-level member.
func fieldPointer(name string) string {
	return string(appendPointerToken(nil, []byte(name)))
}

// maxQuoted bounds how much of a bad value an error detail repeats.
const maxQuoted = 64

// quote renders a (decoded) value for an error detail: Go-quoted, cut to
// maxQuoted bytes on a rune boundary.
func quote(b []byte) string {
	if len(b) <= maxQuoted {
		return strconv.Quote(string(b))
	}
	n := maxQuoted
	for n > 0 && !utf8.RuneStart(b[n]) {
		n--
	}
	return strconv.Quote(string(b[:n])) + "…"
}
