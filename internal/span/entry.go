package span

import (
	"bytes"
	"encoding/hex"
	"strconv"
	"time"
)

// Canonical returns the JCS encoding of the stored span: every member the
// client sent (aliases renamed), a server-assigned id, curr_hash, and
// signature/public_key when signed; never the server fields. The result is
// a fresh copy.
func (s *Span) Canonical() []byte {
	return []byte(s.canon)
}

// Field returns the canonical JSON of the top-level member named name (a
// v8 name) and whether the span has it. Server fields are never members of
// a Span; use Entry's fields for them.
func (s *Span) Field(name string) ([]byte, bool) {
	f, ok := lookupFieldString(name)
	if !ok || fields[f].server || s.vals[f].b == 0 {
		return nil, false
	}
	r := s.vals[f]
	return []byte(s.canon[r.a:r.b]), true
}

// FieldString is Field without a copy: the member's canonical JSON as a
// string sharing the span's memory (strings are immutable).
func (s *Span) FieldString(name string) (string, bool) {
	f, ok := lookupFieldString(name)
	if !ok || fields[f].server || s.vals[f].b == 0 {
		return "", false
	}
	r := s.vals[f]
	return s.canon[r.a:r.b], true
}

// AppendEntry appends the stored entry line of s to dst: one JCS object
// holding the span's stored members plus log_index, prev_hash and
// received_at (receivedAt in UTC, RFC 3339 with nanoseconds and trailing
// zeros trimmed), without a newline. It merges pre-encoded bytes and does
// not allocate beyond growing dst.
//
// logIndex must not exceed 2^53, the largest integer JSON readers keep
// exactly (ParseEntry rejects larger ones).
func (s *Span) AppendEntry(dst []byte, logIndex uint64, prev Hash, receivedAt time.Time) []byte {
	c := s.canon
	dst = append(dst, '{')
	if r := s.segs[0]; r.b > 0 {
		dst = append(dst, c[r.a:r.b]...)
		dst = append(dst, ',')
	}
	dst = append(dst, `"log_index":`...)
	dst = strconv.AppendUint(dst, logIndex, 10)
	if r := s.segs[1]; r.b > 0 {
		dst = append(dst, ',')
		dst = append(dst, c[r.a:r.b]...)
	}
	dst = append(dst, `,"prev_hash":"`...)
	dst = hex.AppendEncode(dst, prev[:])
	dst = append(dst, '"')
	if r := s.segs[2]; r.b > 0 {
		dst = append(dst, ',')
		dst = append(dst, c[r.a:r.b]...)
	}
	dst = append(dst, `,"received_at":"`...)
	dst = receivedAt.UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, '"')
	if r := s.segs[3]; r.b > 0 {
		dst = append(dst, ',')
		dst = append(dst, c[r.a:r.b]...)
	}
	return append(dst, '}')
}

// ParseEntry parses a stored entry line (without its newline) and checks
// it: the line must be exactly the JCS encoding AppendEntry produces
// (CodeNotCanonical otherwise), curr_hash must match the content
// (CodeHashMismatch), the signature, if any, must verify (CodeBadSignature),
// and log_index, prev_hash and received_at must be present and well-formed.
// Limits do not apply beyond a nesting depth of 512. Entry.Line aliases
// line. Errors are *Error.
func ParseEntry(line []byte) (*Entry, error) {
	e := new(Entry)
	d := decoder{mode: modeEntry, s: &e.Span}
	if err := d.parse(line); err != nil {
		return nil, err
	}
	if err := d.validate(); err != nil {
		return nil, err
	}
	canon := d.appendCanonical(d.sentHash)
	d.fill(canon)
	d.buf = d.buf[:len(d.buf)-len(canon)]
	again := e.AppendEntry(d.buf[len(d.buf):], d.logIndex, d.prevHash, d.receivedAt)
	if !bytes.Equal(again, line) {
		n := 0
		for n < len(again) && n < len(line) && again[n] == line[n] {
			n++
		}
		return nil, newError(CodeNotCanonical, "", n,
			"stored entry is not in canonical JCS form (first difference at byte "+strconv.Itoa(n)+")")
	}
	d.computeHash()
	if err := d.verify(); err != nil {
		return nil, err
	}
	e.Hash = d.hash
	e.LogIndex = d.logIndex
	e.PrevHash = d.prevHash
	e.ReceivedAt = d.receivedAt
	e.Line = line
	return e, nil
}
