package pgstore

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"strings"
	"time"

	"github.com/logline/logline/internal/span"
)

// spanColumns are the registry columns that depend on the span alone, in
// the order of the values spanValues returns (is_deleted keeps its
// default); entryColumns those that depend on its place in the log too.
var (
	spanColumns = []column{
		{"id", colText}, {"seq", colInt8}, {"entity_type", colText}, {"who", colText}, {"did", colText},
		{"this", colText}, {"at", colTimestamptz}, {"at_nanos", colInt4}, {"parent_id", colText},
		{"related_to", colTextArray}, {"owner_id", colText}, {"tenant_id", colText}, {"visibility", colText},
		{"status", colText}, {"name", colText}, {"description", colText}, {"code", colText},
		{"language", colText}, {"runtime", colText}, {"input", colJSONB}, {"output", colJSONB},
		{"error", colJSONB}, {"duration_ms", colInt8}, {"trace_id", colText}, {"curr_hash", colText},
		{"signature", colText}, {"public_key", colText}, {"metadata", colJSONB}, {"data", colJSONB},
		{"confirmed_by", colTextArray},
	}
	entryColumns = []column{
		{"prev_hash", colText}, {"log_index", colInt8}, {"received_at", colTimestamptz},
		{"line", colBytea}, {"leaf_hash", colBytea},
	}
)

// registryColumns are the columns the writer fills, in the order of the
// values row returns: spanColumns, then entryColumns.
var registryColumns = func() []string {
	var names []string
	for _, c := range append(append([]column(nil), spanColumns...), entryColumns...) {
		names = append(names, c.name)
	}
	return names
}()

// row returns the column values of one new entry. The columns are a
// queryable copy of the line, which stays the only source of truth:
// PostgreSQL's text and jsonb cannot hold U+0000, so a NUL in a string
// is stored as U+FFFD there (queries match the line exactly afterwards,
// see Query).
func row(sp *span.Span, logIndex uint64, prev span.Hash, receivedAt time.Time, leaf [32]byte, line []byte) []any {
	return append(spanValues(sp), entryValues(logIndex, prev, receivedAt, leaf, line)...)
}

// spanValues returns the values of spanColumns.
func spanValues(sp *span.Span) []any {
	et := sp.EntityType
	if et == "" {
		et = span.DefaultEntityType
	}
	vis := fieldString(sp, "visibility")
	if vis == nil {
		vis = span.DefaultVisibility
	}
	sig, pub := fieldString(sp, span.FieldSignature), fieldString(sp, span.FieldPublicKey)
	return []any{
		sp.ID, int64(sp.Seq), columnText(et), columnText(sp.Who), optText(sp.Did), columnText(sp.This),
		sp.When, int32(sp.When.Nanosecond() % 1000),
		fieldString(sp, "parent_id"), fieldStrings(sp, "related_to"), fieldString(sp, "owner_id"),
		sp.Tenant, vis, optText(sp.Status),
		fieldString(sp, "name"), fieldString(sp, "description"), fieldString(sp, "code"),
		fieldString(sp, "language"), fieldString(sp, "runtime"),
		fieldJSON(sp, "input"), fieldJSON(sp, "output"), fieldJSON(sp, "error"),
		fieldInt(sp, "duration_ms"), optText(sp.TraceID), sp.Hash.String(), sig, pub,
		fieldJSON(sp, "metadata"), fieldJSON(sp, "data"), fieldStrings(sp, span.FieldConfirmedBy),
	}
}

// entryValues returns the values of entryColumns (the writer appends
// the same fields itself: build).
func entryValues(logIndex uint64, prev span.Hash, receivedAt time.Time, leaf [32]byte, line []byte) []any {
	return []any{prev.String(), int64(logIndex), receivedAt, line, leaf[:]}
}

// spanFields returns the binary COPY fields of spanColumns for sp (see
// copy.go): the bytes appendFields(spanColumns, spanValues(sp)) gives
// (TestSpanFieldsMatchValues), written directly — boxing some thirty
// values a span into []any cost about a microsecond of every append.
func spanFields(sp *span.Span) ([]byte, error) {
	et := sp.EntityType
	if et == "" {
		et = span.DefaultEntityType
	}
	dst := make([]byte, 0, 1024)
	dst = appendTextField(dst, sp.ID)
	dst = appendInt8(dst, int64(sp.Seq))
	dst = appendTextField(dst, columnText(et))
	dst = appendTextField(dst, columnText(sp.Who))
	dst = appendOptText(dst, sp.Did)
	dst = appendTextField(dst, columnText(sp.This))
	dst = appendTimestamptz(dst, sp.When)
	dst = binary.BigEndian.AppendUint32(dst, 4)
	dst = binary.BigEndian.AppendUint32(dst, uint32(sp.When.Nanosecond()%1000))
	dst = appendStringMember(dst, sp, "parent_id")
	dst = appendStringsMember(dst, sp, "related_to")
	dst = appendStringMember(dst, sp, "owner_id")
	dst = appendTextField(dst, sp.Tenant)
	if _, ok := sp.Field("visibility"); ok {
		dst = appendStringMember(dst, sp, "visibility")
	} else {
		dst = appendTextField(dst, span.DefaultVisibility)
	}
	dst = appendOptText(dst, sp.Status)
	for _, name := range [...]string{"name", "description", "code", "language", "runtime"} {
		dst = appendStringMember(dst, sp, name)
	}
	for _, name := range [...]string{"input", "output", "error"} {
		dst = appendJSONMember(dst, sp, name)
	}
	if v, ok := fieldInt(sp, "duration_ms").(int64); ok {
		dst = appendInt8(dst, v)
	} else {
		dst = appendNull(dst)
	}
	dst = appendOptText(dst, sp.TraceID)
	dst = appendText(dst, sp.Hash.AppendHex)
	dst = appendStringMember(dst, sp, span.FieldSignature)
	dst = appendStringMember(dst, sp, span.FieldPublicKey)
	dst = appendJSONMember(dst, sp, "metadata")
	dst = appendJSONMember(dst, sp, "data")
	dst = appendStringsMember(dst, sp, span.FieldConfirmedBy)
	return dst, nil
}

func appendNull(dst []byte) []byte { return binary.BigEndian.AppendUint32(dst, 0xffffffff) }

func appendTextField(dst []byte, s string) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(s)))
	return append(dst, s...)
}

// appendOptText is optText's field: NULL for "".
func appendOptText(dst []byte, s string) []byte {
	if s == "" {
		return appendNull(dst)
	}
	return appendTextField(dst, columnText(s))
}

// appendStringMember is fieldString's field.
func appendStringMember(dst []byte, sp *span.Span, name string) []byte {
	raw, ok := sp.Field(name)
	if !ok {
		return appendNull(dst)
	}
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' &&
		bytes.IndexByte(raw, '\\') < 0 {
		// No escapes, so no NUL: the bytes between the quotes.
		return appendBytes(dst, raw[1:len(raw)-1])
	}
	v, ok := unquote(raw)
	if !ok {
		return appendNull(dst)
	}
	return appendTextField(dst, columnText(v))
}

// appendStringsMember is fieldStrings' field.
func appendStringsMember(dst []byte, sp *span.Span, name string) []byte {
	vs, ok := fieldStrings(sp, name).([]string)
	if !ok {
		return appendNull(dst)
	}
	return appendTextArray(dst, vs)
}

// appendJSONMember is fieldJSON's field.
func appendJSONMember(dst []byte, sp *span.Span, name string) []byte {
	raw, ok := sp.Field(name)
	if !ok {
		return appendNull(dst)
	}
	raw = jsonbSafe(raw)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(raw)+1))
	dst = append(dst, 1)
	return append(dst, raw...)
}

// columnText is s as a text column can hold it: NUL becomes U+FFFD.
func columnText(s string) string {
	if strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}

// optText is columnText, or NULL for "".
func optText(s string) any {
	if s == "" {
		return nil
	}
	return columnText(s)
}

// fieldString decodes a string member, or returns nil when absent.
func fieldString(sp *span.Span, name string) any {
	raw, ok := sp.Field(name)
	if !ok {
		return nil
	}
	v, ok := unquote(raw)
	if !ok {
		return nil
	}
	return columnText(v)
}

func fieldStrings(sp *span.Span, name string) any {
	raw, ok := sp.Field(name)
	if !ok {
		return nil
	}
	vs, ok := literalStrings(raw)
	if !ok && json.Unmarshal(raw, &vs) != nil {
		return nil
	}
	for i := range vs {
		vs[i] = columnText(vs[i])
	}
	return vs
}

// literalStrings decodes a canonical JSON array of strings without
// escapes (JCS writes no whitespace and escapes nothing else): the
// strings are the bytes between the quotes, and none holds a quote. ok is
// false for anything else.
func literalStrings(raw []byte) (vs []string, ok bool) {
	if len(raw) < 2 || raw[0] != '[' || raw[len(raw)-1] != ']' || bytes.IndexByte(raw, '\\') >= 0 {
		return nil, false
	}
	body := raw[1 : len(raw)-1]
	if len(body) == 0 {
		return []string{}, true
	}
	if len(body) < 2 || body[0] != '"' || body[len(body)-1] != '"' {
		return nil, false
	}
	for _, e := range bytes.Split(body[1:len(body)-1], []byte(`","`)) {
		if bytes.IndexByte(e, '"') >= 0 {
			return nil, false
		}
		vs = append(vs, string(e))
	}
	return vs, true
}

// unquote decodes a JSON string; without escapes (JCS escapes nothing
// else) it is the bytes between the quotes.
func unquote(raw []byte) (string, bool) {
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' && bytes.IndexByte(raw, '\\') < 0 {
		return string(raw[1 : len(raw)-1]), true
	}
	var v string
	if json.Unmarshal(raw, &v) != nil {
		return "", false
	}
	return v, true
}

func fieldInt(sp *span.Span, name string) any {
	raw, ok := sp.Field(name)
	if !ok {
		return nil
	}
	var v int64
	if json.Unmarshal(raw, &v) != nil {
		return nil
	}
	return v
}

// fieldJSON returns an object member's canonical JSON for a jsonb column,
// with every \u0000 escape (which jsonb refuses) written as \ufffd.
func fieldJSON(sp *span.Span, name string) any {
	raw, ok := sp.Field(name)
	if !ok {
		return nil
	}
	return jsonbSafe(raw)
}

// jsonbSafe rewrites the escape \u0000 in JSON text to \ufffd. Backslashes
// only occur inside strings, each starting a two-character escape (or a
// six-character \uXXXX), so a scan that skips escapes finds them exactly.
func jsonbSafe(raw []byte) []byte {
	var out []byte
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' || i+1 >= len(raw) {
			continue
		}
		if raw[i+1] == 'u' && i+6 <= len(raw) && string(raw[i+2:i+6]) == "0000" {
			if out == nil {
				out = append([]byte(nil), raw...)
			}
			copy(out[i+2:i+6], "fffd")
			i += 5
			continue
		}
		i++ // skip the escaped character
	}
	if out == nil {
		return raw
	}
	return out
}
