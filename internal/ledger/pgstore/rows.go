package pgstore

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/logline/logline/internal/span"
)

// registryColumns are the columns the writer fills, in the order of the
// values row returns (is_deleted keeps its default).
var registryColumns = []string{
	"id", "seq", "entity_type", "who", "did", "this", "at", "at_nanos",
	"parent_id", "related_to", "owner_id", "tenant_id", "visibility", "status",
	"name", "description", "code", "language", "runtime", "input", "output", "error",
	"duration_ms", "trace_id", "prev_hash", "curr_hash", "signature", "public_key",
	"metadata", "log_index", "data", "confirmed_by", "received_at", "leaf_hash", "line",
}

// row returns the column values of one new entry. The columns are a
// queryable copy of the line, which stays the only source of truth:
// PostgreSQL's text and jsonb cannot hold U+0000, so a NUL in a string
// is stored as U+FFFD there (queries match the line exactly afterwards,
// see Query).
func row(sp *span.Span, logIndex uint64, prev span.Hash, receivedAt time.Time, leaf [32]byte, line []byte) []any {
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
		fieldInt(sp, "duration_ms"), optText(sp.TraceID), prev.String(), sp.Hash.String(), sig, pub,
		fieldJSON(sp, "metadata"), int64(logIndex), fieldJSON(sp, "data"), fieldStrings(sp, span.FieldConfirmedBy),
		receivedAt, leaf[:], line,
	}
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
	var v string
	if json.Unmarshal(raw, &v) != nil {
		return nil
	}
	return columnText(v)
}

func fieldStrings(sp *span.Span, name string) any {
	raw, ok := sp.Field(name)
	if !ok {
		return nil
	}
	var vs []string
	if json.Unmarshal(raw, &vs) != nil {
		return nil
	}
	for i := range vs {
		vs[i] = columnText(vs[i])
	}
	return vs
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
