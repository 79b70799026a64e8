package derive

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/logline/logline/internal/span"
)

// Derived is one derived span (doc.go, "Derived spans"). Which payload
// fields are set depends on Type.
type Derived struct {
	Type         string
	Tenant       string
	ID           string
	TrajectoryID string
	When         string // `when` as written, of the cause
	CauseID      string // the span that caused it (related_to)
	causeSeq     uint64

	This string // edge: the linked span's this; others: that of the span that opened the trajectory

	Position  int    // edge: 1, 2, …
	SrcSpanID string // edge

	Reason string // closed
	Spans  int    // closed: how many spans the trajectory holds

	Score      int        // quality, candidate
	Components Components // quality
	Threshold  int        // candidate
}

// did is the verb of each derived type.
func did(typ string) string {
	switch typ {
	case TypeEdge:
		return "link"
	case TypeClosed:
		return "close"
	case TypeQuality:
		return "score"
	}
	return "flag"
}

// AppendJSON appends d as a span (one JSON object, members in a fixed
// order, no trailing newline).
func (d *Derived) AppendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = appendPlain(b, d.ID)
	b = append(b, `,"tenant":`...)
	b = appendString(b, d.Tenant)
	b = append(b, `,"entity_type":`...)
	b = appendPlain(b, d.Type)
	b = append(b, `,"who":"`+Who+`","did":`...)
	b = appendPlain(b, did(d.Type))
	b = append(b, `,"this":`...)
	b = appendString(b, d.This)
	b = append(b, `,"when":`...)
	b = appendString(b, d.When)
	if d.CauseID != "" && d.CauseID != "end_of_input" {
		b = append(b, `,"related_to":[`...)
		b = appendString(b, d.CauseID)
		b = append(b, ']')
	}
	b = append(b, `,"trace_id":`...)
	b = appendPlain(b, d.TrajectoryID)
	b = append(b, `,"data":{"trajectory_id":`...)
	b = appendPlain(b, d.TrajectoryID)
	switch d.Type {
	case TypeEdge:
		b = append(b, `,"position":`...)
		b = strconv.AppendInt(b, int64(d.Position), 10)
		b = append(b, `,"src_span_id":`...)
		b = appendString(b, d.SrcSpanID)
		b = append(b, `,"this":`...)
		b = appendString(b, d.This)
	case TypeClosed:
		b = append(b, `,"reason":`...)
		b = appendString(b, d.Reason)
		b = append(b, `,"spans":`...)
		b = strconv.AppendInt(b, int64(d.Spans), 10)
	case TypeQuality:
		b = append(b, `,"score":`...)
		b = strconv.AppendInt(b, int64(d.Score), 10)
		b = append(b, `,"components":{"mass":`...)
		b = strconv.AppendInt(b, int64(d.Components.Mass), 10)
		b = append(b, `,"persistence":`...)
		b = strconv.AppendInt(b, int64(d.Components.Persistence), 10)
		b = append(b, `,"verification":`...)
		b = strconv.AppendInt(b, int64(d.Components.Verification), 10)
		b = append(b, '}')
	case TypeCandidate:
		b = append(b, `,"score":`...)
		b = strconv.AppendInt(b, int64(d.Score), 10)
		b = append(b, `,"threshold":`...)
		b = strconv.AppendInt(b, int64(d.Threshold), 10)
	}
	return append(b, "}}"...)
}

// derivedID is "d_" + 40 hex digits of SHA-256 over the tenant, the
// cause (id and seq), the type (one byte) and the trajectory (its 16
// bytes): one SHA-256 block for the usual lengths.
func (e *Engine) derivedID(d *Derived) string {
	b := e.buf[:0]
	b = append(b, d.Tenant...)
	b = append(b, 0)
	b = append(b, d.CauseID...)
	b = append(b, 0)
	b = strconv.AppendUint(b, d.causeSeq, 10)
	b = append(b, 0, typeCode(d.Type))
	if len(d.TrajectoryID) == 2+32 {
		var raw [16]byte
		if _, err := hex.Decode(raw[:], []byte(d.TrajectoryID[2:])); err == nil {
			b = append(b, raw[:]...)
		} else {
			b = append(b, d.TrajectoryID...)
		}
	} else {
		b = append(b, d.TrajectoryID...)
	}
	e.buf = b
	sum := sha256.Sum256(b)
	var id [2 + 40]byte
	id[0], id[1] = 'd', '_'
	hex.Encode(id[2:], sum[:20])
	return string(id[:])
}

// typeCode is the byte that stands for a derived type in ids.
func typeCode(typ string) byte {
	switch typ {
	case TypeEdge:
		return 'e'
	case TypeClosed:
		return 'c'
	case TypeQuality:
		return 'q'
	}
	return 'd'
}

// trajectoryID is "t_" + 32 hex digits of SHA-256 over the tenant and
// the opening span (id and seq).
func (e *Engine) trajectoryID(in *Input) string {
	b := e.buf[:0]
	b = append(b, 't', 0)
	b = append(b, in.Tenant...)
	b = append(b, 0)
	b = append(b, in.ID...)
	b = append(b, 0)
	b = strconv.AppendUint(b, in.Seq, 10)
	e.buf = b
	sum := sha256.Sum256(b)
	var id [2 + 32]byte
	id[0], id[1] = 't', '_'
	hex.Encode(id[2:], sum[:16])
	return string(id[:])
}

// appendString appends s as a JSON string the way a span's canonical
// form writes it (invalid UTF-8, which only an unvalidated offline input
// can hold, as U+FFFD).
func appendString(b []byte, s string) []byte {
	// The common case in one pass: printable ASCII without '"' or '\\'
	// is written as it is.
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' {
			return span.AppendString(b, validUTF8(s))
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// plain are the bytes appendPlain writes unchecked.
var plain = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	t['_'] = true
	return t
}()

// appendPlain appends s, which the engine made of lowercase letters,
// digits and underscores (ids, types), as a JSON string: checked, not
// escaped (anything else, say from a hand-edited state file, goes
// through appendString).
func appendPlain(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if !plain[s[i]] {
			return appendString(b, s)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// Span builds the span the ledger stores for d with b (span.Builder): the
// members AppendJSON writes, data in canonical (JCS) order, so the result
// is what span.Decode makes of AppendJSON's bytes without parsing them.
func (d *Derived) Span(b *span.Builder) (*span.Span, error) {
	var tmp [256]byte
	b.Reset()
	b.String(span.FieldID, d.ID)
	b.String(span.FieldTenant, validUTF8(d.Tenant))
	b.String(span.FieldEntityType, d.Type)
	b.String(span.FieldWho, Who)
	b.String(span.FieldDid, did(d.Type))
	b.String(span.FieldThis, validUTF8(d.This))
	b.String(span.FieldWhen, validUTF8(d.When))
	if d.CauseID != "" && d.CauseID != "end_of_input" {
		r := append(tmp[:0], '[')
		r = appendString(r, d.CauseID)
		r = append(r, ']')
		b.Raw("related_to", r)
	}
	b.String(span.FieldTraceID, d.TrajectoryID)
	b.Raw("data", d.appendData(tmp[:0]))
	return b.Span()
}

// appendData appends d's data member with its members in JCS order.
func (d *Derived) appendData(b []byte) []byte {
	b = append(b, '{')
	switch d.Type {
	case TypeEdge:
		b = append(b, `"position":`...)
		b = strconv.AppendInt(b, int64(d.Position), 10)
		b = append(b, `,"src_span_id":`...)
		b = appendString(b, d.SrcSpanID)
		b = append(b, `,"this":`...)
		b = appendString(b, d.This)
		b = append(b, ',')
	case TypeClosed:
		b = append(b, `"reason":`...)
		b = appendString(b, d.Reason)
		b = append(b, `,"spans":`...)
		b = strconv.AppendInt(b, int64(d.Spans), 10)
		b = append(b, ',')
	case TypeQuality:
		b = append(b, `"components":{"mass":`...)
		b = strconv.AppendInt(b, int64(d.Components.Mass), 10)
		b = append(b, `,"persistence":`...)
		b = strconv.AppendInt(b, int64(d.Components.Persistence), 10)
		b = append(b, `,"verification":`...)
		b = strconv.AppendInt(b, int64(d.Components.Verification), 10)
		b = append(b, `},"score":`...)
		b = strconv.AppendInt(b, int64(d.Score), 10)
		b = append(b, ',')
	case TypeCandidate:
		b = append(b, `"score":`...)
		b = strconv.AppendInt(b, int64(d.Score), 10)
		b = append(b, `,"threshold":`...)
		b = strconv.AppendInt(b, int64(d.Threshold), 10)
		b = append(b, ',')
	}
	b = append(b, `"trajectory_id":`...)
	b = appendString(b, d.TrajectoryID)
	return append(b, '}')
}

func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
