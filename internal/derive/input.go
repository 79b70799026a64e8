package derive

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"unsafe"

	"github.com/logline/logline/internal/lll/eval"
	"github.com/logline/logline/internal/span"
)

// FromSpan is the Input of a decoded span: a stored entry, or one
// decoded (and its signature verified) by span.Decode.
func FromSpan(sp *span.Span) *Input {
	in := &Input{
		Tenant: sp.Tenant, ID: sp.ID, Seq: sp.Seq, EntityType: sp.EntityType,
		Who: sp.Who, This: sp.This, When: sp.When, Status: sp.Status,
		Signed: sp.Signed, Fields: sp,
	}
	if raw, ok := sp.FieldString("when"); ok {
		in.WhenText = eval.StringValue(raw)
	}
	if raw, ok := sp.FieldString("confirmed_by"); ok {
		in.Confirmed = nonEmptyArray(raw)
	}
	return in
}

// ParseLine reads one NDJSON span (as clients send them, or as exported
// entries): the members the data plane reads, checked — id, tenant and
// when are required, this, who, status and entity_type must be strings,
// confirmed_by an array, seq an integer. A span with a signature is
// decoded in full (span.Decode) so that Signed means a verified
// signature; the others are not validated beyond what is read.
func ParseLine(line []byte) (*Input, error) {
	var p LineParser
	return p.Parse(bytes.Clone(line))
}

// LineParser is ParseLine reusing its memory: the Input it returns, and
// its strings, are valid only until the next Parse and while line is
// not modified (they alias it: no copy of the line is made).
type LineParser struct {
	// Stored says the lines are stored entries (the ledger's own lines):
	// a signature there was verified when the span was appended, so
	// Signed is its presence and nothing is decoded in full.
	Stored bool

	in  Input
	obj eval.Object
}

// Parse reads one line; see ParseLine.
func (p *LineParser) Parse(line []byte) (*Input, error) {
	obj := &p.obj
	if len(line) == 0 || !obj.Parse(unsafe.String(&line[0], len(line))) {
		return nil, fmt.Errorf("not a JSON object")
	}
	p.in = Input{Fields: obj}
	in := &p.in
	var tenantAlias, whenAlias, seq, confirmed string
	// One pass over the members; the first of a repeated member wins, as
	// Member would read it.
	var seen uint16
	for i := range obj.Len() {
		var dst *string
		var bit uint16
		switch obj.Key(i) {
		case `"id"`:
			dst, bit = &in.ID, 1
		case `"tenant"`:
			dst, bit = &in.Tenant, 2
		case `"tenant_id"`: // Blueprint4's alias
			dst, bit = &tenantAlias, 4
		case `"when"`:
			dst, bit = &in.WhenText, 8
		case `"at"`: // Blueprint4's alias
			dst, bit = &whenAlias, 16
		case `"who"`:
			dst, bit = &in.Who, 32
		case `"this"`:
			dst, bit = &in.This, 64
		case `"status"`:
			dst, bit = &in.Status, 128
		case `"entity_type"`:
			dst, bit = &in.EntityType, 256
		case `"seq"`:
			if seen&512 == 0 {
				seq, seen = obj.Value(i), seen|512
			}
			continue
		case `"confirmed_by"`:
			if seen&1024 == 0 {
				confirmed, seen = obj.Value(i), seen|1024
			}
			continue
		case `"received_at"`:
			if !p.Stored {
				continue
			}
			dst, bit = &in.ReceivedAt, 2048
		case `"signature"`:
			if p.Stored {
				in.Signed = true
				continue
			}
			// A signed span is decoded in full: Signed then means the
			// signature was verified.
			sp, err := span.Decode(bytes.TrimSpace(line), span.DecodeOptions{})
			if err != nil {
				return nil, err
			}
			return FromSpan(sp), nil
		default:
			continue
		}
		if seen&bit != 0 {
			continue
		}
		seen |= bit
		raw := obj.Value(i)
		if raw == "null" {
			continue
		}
		if len(raw) < 2 || raw[0] != '"' {
			return nil, fmt.Errorf("%s must be a string, got %s", eval.StringValue(obj.Key(i)), clip(raw))
		}
		*dst = eval.StringValue(raw)
	}
	if in.Tenant == "" {
		in.Tenant = tenantAlias
	}
	if in.WhenText == "" {
		in.WhenText = whenAlias
	}
	switch {
	case in.ID == "":
		return nil, fmt.Errorf("missing id")
	case in.Tenant == "":
		return nil, fmt.Errorf("missing tenant")
	case in.WhenText == "":
		return nil, fmt.Errorf("missing when")
	}
	t, ok := span.ParseRFC3339(in.WhenText)
	if !ok {
		return nil, fmt.Errorf("when %q is not an RFC 3339 time with an offset", in.WhenText)
	}
	in.When = t.UTC()
	if seq != "" && seq != "null" {
		var err error
		if in.Seq, err = strconv.ParseUint(seq, 10, 64); err != nil {
			return nil, fmt.Errorf("seq must be an integer ≥ 0, got %s", clip(seq))
		}
	}
	if confirmed != "" && confirmed != "null" {
		if confirmed[0] != '[' {
			return nil, fmt.Errorf("confirmed_by must be an array, got %s", clip(confirmed))
		}
		in.Confirmed = nonEmptyArray(confirmed)
	}
	return in, nil
}

// nonEmptyArray reports whether the JSON text raw is an array with an
// element.
func nonEmptyArray(raw string) bool {
	raw = strings.TrimSpace(raw)
	if len(raw) < 2 || raw[0] != '[' {
		return false
	}
	return strings.TrimSpace(raw[1:len(raw)-1]) != ""
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
