package ir

// SpanField is a top-level field of the span wire format
// (ARCHITECTURE.md §2, internal/span) as expressions see it.
type SpanField struct {
	Name string
	Type Type // the static type of its value (every field may also be null: absent)
	// Server fields are assigned when a span is appended; they are never
	// part of the span a program evaluates.
	Server bool
}

// spanFields is read-only: internal/span's fields, in byte order of name.
var spanFields = [...]SpanField{
	{Name: "code", Type: TString},
	{Name: "confirmed_by", Type: TList},
	{Name: "curr_hash", Type: TString},
	{Name: "data", Type: TMap},
	{Name: "description", Type: TString},
	{Name: "did", Type: TString},
	{Name: "duration_ms", Type: TNumber},
	{Name: "entity_type", Type: TString},
	{Name: "error", Type: TMap},
	{Name: "id", Type: TString},
	{Name: "input", Type: TMap},
	{Name: "language", Type: TString},
	{Name: "log_index", Type: TNumber, Server: true},
	{Name: "metadata", Type: TMap},
	{Name: "name", Type: TString},
	{Name: "output", Type: TMap},
	{Name: "owner_id", Type: TString},
	{Name: "parent_id", Type: TString},
	{Name: "prev_hash", Type: TString, Server: true},
	{Name: "public_key", Type: TString},
	{Name: "received_at", Type: TTime, Server: true},
	{Name: "related_to", Type: TList},
	{Name: "runtime", Type: TString},
	{Name: "seq", Type: TNumber},
	{Name: "signature", Type: TString},
	{Name: "status", Type: TString},
	{Name: "tenant", Type: TString},
	{Name: "this", Type: TString},
	{Name: "trace_id", Type: TString},
	{Name: "visibility", Type: TString},
	{Name: "when", Type: TTime},
	{Name: "who", Type: TString},
}

// LookupSpanField returns the top-level span field named name.
func LookupSpanField(name string) (SpanField, bool) {
	for _, f := range spanFields {
		if f.Name == name {
			return f, true
		}
	}
	return SpanField{}, false
}

// SpanFields returns the top-level span fields, in byte order of name.
func SpanFields() []SpanField { return append([]SpanField(nil), spanFields[:]...) }

// ListElem returns the static element type of a list-typed span field
// (confirmed_by and related_to hold strings).
func ListElem(field string) Type {
	switch field {
	case "confirmed_by", "related_to":
		return TString
	}
	return TAny
}
