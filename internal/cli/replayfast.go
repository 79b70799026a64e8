package cli

import (
	"bytes"
	"encoding/hex"
	"strconv"

	"github.com/zeebo/blake3"

	"github.com/logline/logline/internal/derive"
	"github.com/logline/logline/internal/lll/eval"
	"github.com/logline/logline/internal/span"
)

// Replay reads millions of stored entries and compares millions of
// derived spans with their stored copies; span.ParseEntry and
// span.Decode, which validate and hash any span, would cost most of its
// time. So it reads the members the engine needs of an unsigned span's
// line, writes a derived span's canonical form itself and matches
// stored lines byte for byte. Each falls back to the general path
// whenever it meets what it does not expect, so it can be slower, never
// wrong: a line is only ever called identical to a re-derived span when
// it holds exactly its canonical members.
//
// The data plane's derivation_policy records need nothing here: which
// policy an entry is derived with is decided in the engine stage, by
// tenant and log index (replayPolicies.policy, from the records read
// before the pipeline starts), whichever way its line was read — so
// these fast reads give the same answers on a ledger whose records
// change a tenant's policy as on one without records. A record's own
// line is read as any system span (inputOf), which derives nothing.

// derivedCanon writes the canonical form of derived spans.
type derivedCanon struct {
	content []byte // scratch: the members without curr_hash
}

// curr_hash opens the canonical form: {"curr_hash":"<64 hex>",
const canonHashLen = len(`{"curr_hash":"`) + 2*len(span.Hash{}) + len(`",`)

// appendCanonical appends d's canonical form to dst — the bytes of
// span.Decode(d.AppendJSON(nil)).Canonical(): d.AppendJSON's members in
// JCS order, curr_hash first — and returns split, the offset within it
// just after the id member, where a stored entry holds log_index,
// prev_hash and received_at. ok is false, and dst unchanged, when a
// string of d is not plain (a character JCS would escape, or non-ASCII)
// or its type is not a derived type: decode d instead.
func (c *derivedCanon) appendCanonical(dst []byte, d *derive.Derived) (out []byte, split int, hash span.Hash, ok bool) {
	b := c.content[:0]
	plain := true
	str := func(s string) {
		b = append(b, '"')
		for i := 0; i < len(s); i++ {
			if ch := s[i]; ch < 0x20 || ch > 0x7e || ch == '"' || ch == '\\' {
				plain = false
			}
		}
		b = append(b, s...)
		b = append(b, '"')
	}
	num := func(n int) { b = strconv.AppendInt(b, int64(n), 10) }
	var did string
	b = append(b, `{"data":{`...)
	switch d.Type {
	case derive.TypeEdge:
		did = "link"
		b = append(b, `"position":`...)
		num(d.Position)
		b = append(b, `,"src_span_id":`...)
		str(d.SrcSpanID)
		b = append(b, `,"this":`...)
		str(d.This)
	case derive.TypeClosed:
		did = "close"
		b = append(b, `"reason":`...)
		str(d.Reason)
		b = append(b, `,"spans":`...)
		num(d.Spans)
	case derive.TypeQuality:
		did = "score"
		b = append(b, `"components":{"mass":`...)
		num(d.Components.Mass)
		b = append(b, `,"persistence":`...)
		num(d.Components.Persistence)
		b = append(b, `,"verification":`...)
		num(d.Components.Verification)
		b = append(b, `},"score":`...)
		num(d.Score)
	case derive.TypeCandidate:
		did = "flag"
		b = append(b, `"score":`...)
		num(d.Score)
		b = append(b, `,"threshold":`...)
		num(d.Threshold)
	default:
		return dst, 0, hash, false
	}
	b = append(b, `,"trajectory_id":`...)
	str(d.TrajectoryID)
	b = append(b, `},"did":`...)
	str(did)
	b = append(b, `,"entity_type":`...)
	str(d.Type)
	b = append(b, `,"id":`...)
	str(d.ID)
	idEnd := len(b)
	if d.CauseID != "" && d.CauseID != derive.ReasonEndOfInput {
		b = append(b, `,"related_to":[`...)
		str(d.CauseID)
		b = append(b, ']')
	}
	b = append(b, `,"tenant":`...)
	str(d.Tenant)
	b = append(b, `,"this":`...)
	str(d.This)
	b = append(b, `,"trace_id":`...)
	str(d.TrajectoryID)
	b = append(b, `,"when":`...)
	str(d.When)
	b = append(b, `,"who":"`+derive.Who+`"}`...)
	c.content = b
	if !plain {
		return dst, 0, hash, false
	}
	hash = blake3.Sum256(b) // ARCHITECTURE.md §3: BLAKE3-256 of the JCS members but curr_hash
	dst = append(dst, `{"curr_hash":"`...)
	dst = hex.AppendEncode(dst, hash[:])
	dst = append(dst, `",`...)
	dst = append(dst, b[1:]...)
	return dst, canonHashLen + idEnd - 1, hash, true
}

// canonicalSplit returns the offset just after the id member of a
// span's canonical form (where a stored entry holds its server fields),
// or -1.
func canonicalSplit(canon []byte) int {
	split := -1
	topMembers(canon, func(key, _ []byte, end int) bool {
		if string(key) == "id" {
			split = end
			return false
		}
		return true
	})
	return split
}

// matchEntry reports whether line, a stored entry at log index idx, is
// the span whose canonical form is canon: canon's members with exactly
// log_index idx, a prev_hash and a received_at after its id member
// (canon[:split]), as span.Span.AppendEntry writes them.
func matchEntry(line, canon []byte, split int, idx uint64) bool {
	if split <= 0 || split > len(canon) || len(line) < len(canon) ||
		!bytes.HasPrefix(line, canon[:split]) || !bytes.HasSuffix(line, canon[split:]) {
		return false
	}
	mid := line[split : len(line)-(len(canon)-split)]
	var want [64]byte
	w := append(want[:0], `,"log_index":`...)
	w = strconv.AppendUint(w, idx, 10)
	w = append(w, `,"prev_hash":"`...)
	mid, ok := bytes.CutPrefix(mid, w)
	if !ok || bytes.IndexByte(mid, '\\') >= 0 {
		return false
	}
	// What is left holds two strings, no other member:
	// <prev_hash>","received_at":"<received_at>"
	q := bytes.IndexByte(mid, '"')
	if q < 0 {
		return false
	}
	mid, ok = bytes.CutPrefix(mid[q:], []byte(`","received_at":"`))
	return ok && bytes.IndexByte(mid, '"') == len(mid)-1
}

// inputOf reads a stored entry line for the engine without parsing it
// in full: what derive.FromSpan gives of span.ParseEntry's span, read by
// derive.ParseLine. The line is canonical (JCS), so each member's text
// is the one a parsed span gives; the server fields, which a parsed
// span does not list among its members, are hidden. False for a signed
// span (its signature must be verified) or a line ParseLine refuses:
// those are parsed.
func inputOf(line []byte) (*derive.Input, bool) {
	if bytes.Contains(line, []byte(`"signature":`)) {
		return nil, false
	}
	in, err := derive.ParseLine(line)
	if err != nil {
		return nil, false
	}
	if in.EntityType == "" {
		in.EntityType = span.DefaultEntityType
	}
	in.Fields = storedFields{in.Fields}
	return in, true
}

// storedFields are a stored entry's members as a parsed span has them:
// without log_index, prev_hash and received_at.
type storedFields struct{ eval.Fields }

func (f storedFields) Field(name string) ([]byte, bool) {
	switch name {
	case "log_index", "prev_hash", "received_at":
		return nil, false
	}
	return f.Fields.Field(name)
}

// derivedSuffix ends the stored line of every derived span: who is the
// last member of a span in canonical (JCS) order.
var derivedSuffix = []byte(`,"who":"` + derive.Who + `"}`)

// fastDerived is what replay reads of a stored derived span's line.
type fastDerived struct {
	tenant, id, typ string
	hash            span.Hash // curr_hash, as stored
}

// scanDerived reads the stored line of a derived span without parsing it
// in full: its tenant, id, entity_type (one of the derived types) and
// curr_hash as written. False for any other line, or one with members it
// does not expect plain (a seq, escapes): those are parsed.
func scanDerived(line []byte) (*fastDerived, bool) {
	if !bytes.HasSuffix(line, derivedSuffix) {
		return nil, false
	}
	var (
		f              fastDerived
		who, hash, all bool
	)
	all = topMembers(line, func(key, val []byte, _ int) bool {
		var dst *string
		switch string(key) {
		case "tenant":
			dst = &f.tenant
		case "id":
			dst = &f.id
		case "entity_type":
			dst = &f.typ
		case "who":
			who = string(val) == `"`+derive.Who+`"`
			return who
		case "seq":
			return false
		case "curr_hash":
			s, isStr := plainString(val)
			h, err := span.ParseHash(s)
			hash, f.hash = isStr && err == nil, h
			return hash
		default:
			return true
		}
		s, isStr := plainString(val)
		*dst = s
		return isStr
	})
	if !all || !who || !hash || f.tenant == "" || f.id == "" {
		return nil, false
	}
	switch f.typ {
	case derive.TypeEdge, derive.TypeClosed, derive.TypeQuality, derive.TypeCandidate:
		return &f, true
	}
	return nil, false
}

// plainString is the value of a JSON string without escapes.
func plainString(val []byte) (string, bool) {
	if len(val) < 2 || val[0] != '"' || val[len(val)-1] != '"' || bytes.IndexByte(val, '\\') >= 0 {
		return "", false
	}
	return string(val[1 : len(val)-1]), true
}

// topMembers calls fn with the key (unquoted), the raw value and the
// offset just after the value of each member of the JSON object line,
// until fn returns false. It reports false when line is not an object
// it can walk (it checks structure, not every value) or fn stopped.
func topMembers(line []byte, fn func(key, val []byte, end int) bool) bool {
	n := len(line)
	if n < 2 || line[0] != '{' || line[n-1] != '}' {
		return false
	}
	i := 1
	if line[i] == '}' {
		return i == n-1
	}
	for {
		if line[i] != '"' {
			return false
		}
		end := skipString(line, i)
		if end < 0 || end >= n || line[end] != ':' {
			return false
		}
		key := line[i+1 : end-1]
		start := end + 1
		if i = skipValue(line, start); i < 0 || i >= n {
			return false
		}
		if !fn(key, line[start:i], i) {
			return false
		}
		switch line[i] {
		case ',':
			i++
			if i >= n {
				return false
			}
		case '}':
			return i == n-1
		default:
			return false
		}
	}
}

// skipString returns the offset after the JSON string at i, or -1.
func skipString(b []byte, i int) int {
	for j := i + 1; ; {
		q := bytes.IndexByte(b[j:], '"')
		if q < 0 {
			return -1
		}
		j += q
		// Escaped when an odd number of backslashes precede it.
		n := 0
		for k := j - 1; k > i && b[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			return j + 1
		}
		j++
	}
}

// skipValue returns the offset after the JSON value at i, or -1.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				if j = skipString(b, j); j < 0 {
					return -1
				}
				j--
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' {
		j++
	}
	if j == i {
		return -1
	}
	return j
}
