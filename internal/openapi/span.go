package openapi

import "strconv"

// maxSafeInteger is 2^53: span integers beyond it are refused.
const maxSafeInteger = 9007199254740992

// spanField is one top-level member of the span wire format
// (ARCHITECTURE.md §2; internal/span/fields.go is the authority).
type spanField struct {
	name   string
	schema m
	// in: accepted from clients; stored: present in stored entries;
	// alias: a Blueprint4 alias accepted on input and never emitted.
	in, stored, alias bool
}

func str1K(desc string) m {
	return m{"type", "string", "maxLength", 1024, "description", desc}
}

// spanFields lists the wire format's members in the order the document
// shows them.
func spanFields() []spanField {
	hex := func(n int, desc string) m {
		return m{"type", "string", "pattern", "^[0-9a-f]{" + strconv.Itoa(n) + "}$", "description", desc}
	}
	uint53 := func(desc string) m {
		return m{"type", "integer", "minimum", 0, "maximum", maxSafeInteger, "description", desc}
	}
	obj := func(desc string) m { return m{"type", "object", "description", desc} }
	plain := func(desc string) m { return m{"type", "string", "description", desc} }
	return []spanField{
		{name: "id", in: true, stored: true, schema: m{"type", "string", "pattern", "^[A-Za-z0-9._:~-]{1,128}$",
			"description", "The span's id. When absent the server assigns \"s_\" + a ULID (or, with X-Idempotency-Key, an id derived from the key and the line number). A signed span must carry its own."}},
		{name: "seq", in: true, stored: true, schema: uint53("Version of the same id; default 0. A new version must be exactly the latest + 1 (else 409 conflict).")},
		{name: "entity_type", in: true, stored: true, schema: m{"type", "string", "pattern", "^[a-z0-9_.:-]{1,64}$",
			"description", "The kind of entity; default \"span\" (never written when absent)."}},
		{name: "tenant", in: true, stored: true, schema: schemaRef("Tenant")},
		{name: "tenant_id", in: true, alias: true, schema: m{"$ref", "#/components/schemas/Tenant", "deprecated", true,
			"description", "Blueprint4 alias of tenant, renamed on input and never emitted. Not in a signed span."}},
		{name: "who", in: true, stored: true, schema: m{"type", "string", "minLength", 1, "maxLength", 1024, "description", "Who acted (at most 1 KiB of UTF-8)."}},
		{name: "did", in: true, stored: true, schema: str1K("What was done (at most 1 KiB of UTF-8); required and non-empty for entity_type span.")},
		{name: "this", in: true, stored: true, schema: m{"type", "string", "minLength", 1, "maxLength", 1024, "description", "What it was done to (at most 1 KiB of UTF-8)."}},
		{name: "when", in: true, stored: true, schema: m{"type", "string", "format", "date-time",
			"description", "When it happened: RFC 3339 with an offset, stored as sent (it is hashed)."}},
		{name: "at", in: true, alias: true, schema: m{"type", "string", "format", "date-time", "deprecated", true,
			"description", "Blueprint4 alias of when, renamed on input and never emitted. Not in a signed span."}},
		{name: "confirmed_by", in: true, stored: true, schema: m{"type", "array", "items", m{"type", "string"}}},
		{name: "status", in: true, stored: true, schema: m{"type", "string", "maxLength", 64,
			"description", "draft, confirmed, scheduled, complete, error, …"}},
		{name: "data", in: true, stored: true, schema: obj("Free JSON.")},
		{name: "input", in: true, stored: true, schema: obj("Free JSON.")},
		{name: "output", in: true, stored: true, schema: obj("Free JSON.")},
		{name: "error", in: true, stored: true, schema: obj("Free JSON.")},
		{name: "metadata", in: true, stored: true, schema: obj("Free JSON.")},
		{name: "parent_id", in: true, stored: true, schema: m{"type", "string", "maxLength", 256}},
		{name: "related_to", in: true, stored: true, schema: m{"type", "array", "items", m{"type", "string"}}},
		{name: "trace_id", in: true, stored: true, schema: m{"type", "string", "maxLength", 256}},
		{name: "owner_id", in: true, stored: true, schema: m{"type", "string", "maxLength", 128}},
		{name: "visibility", in: true, stored: true, schema: m{"type", "string", "enum", l{"private", "tenant", "public"},
			"description", "Default private."}},
		{name: "name", in: true, stored: true, schema: plain("For functions and executions.")},
		{name: "description", in: true, stored: true, schema: plain("For functions and executions.")},
		{name: "code", in: true, stored: true, schema: plain("For functions and executions.")},
		{name: "language", in: true, stored: true, schema: plain("For functions and executions.")},
		{name: "runtime", in: true, stored: true, schema: plain("For functions and executions.")},
		{name: "duration_ms", in: true, stored: true, schema: uint53("For functions and executions.")},
		{name: "curr_hash", in: true, stored: true, schema: hex(64,
			"hex(BLAKE3-256(JCS(span − {curr_hash, signature}))); computed by the server when absent, verified when present (400 hash_mismatch).")},
		{name: "signature", in: true, stored: true, schema: hex(128, "Ed25519 signature over the 32 raw bytes of curr_hash (needs public_key and id).")},
		{name: "public_key", in: true, stored: true, schema: hex(64, "The Ed25519 public key that verifies signature (part of the hashed content).")},
		{name: "log_index", stored: true, schema: uint53("Server-assigned: the entry's position in the global log, from 0.")},
		{name: "prev_hash", stored: true, schema: hex(64, "Server-assigned: curr_hash of the tenant's previous entry (64 zeros for the first).")},
		{name: "received_at", stored: true, schema: m{"type", "string", "format", "date-time",
			"description", "Server-assigned: when the server stored it (UTC, RFC 3339 with nanoseconds, trailing zeros trimmed)."}},
	}
}

// isSpanField reports whether name is a top-level member a client may
// send, and whether its value is a JSON object (so dotted paths may go
// into it).
func isSpanField(name string) (known, object bool) {
	for _, f := range spanFields() {
		if f.name == name && f.in && !f.alias {
			return true, f.schema[1] == "object" && f.schema[0] == "type"
		}
	}
	return false, false
}

// spanSchema is the span as a client sends it (POST /ingest).
func spanSchema() m {
	props := m{}
	for _, f := range spanFields() {
		if f.in {
			props = append(props, f.name, f.schema)
		}
	}
	return m{
		"title", "Span",
		"description", "A span as a client sends it (ARCHITECTURE.md §2). Unknown members are refused (400 unknown_field); log_index, prev_hash and received_at are assigned by the server (400 server_field). Strings may hold at most the documented number of UTF-8 bytes; one span is at most 64 KiB encoded, JSON depth at most 32, integers within ±2^53.",
		"type", "object",
		"required", l{"who", "this"},
		"properties", props,
		"additionalProperties", false,
		"allOf", l{
			m{"oneOf", l{m{"required", l{"tenant"}}, m{"required", l{"tenant_id"}}}},
			m{"oneOf", l{m{"required", l{"when"}}, m{"required", l{"at"}}}},
			// did is required (and non-empty) unless entity_type names
			// another type than span.
			m{"if", m{"required", l{"entity_type"}, "properties", m{"entity_type", m{"not", m{"const", "span"}}}},
				"else", m{"required", l{"did"}, "properties", m{"did", m{"minLength", 1}}}},
		},
		"dependentRequired", m{"signature", l{"public_key", "id"}, "public_key", l{"signature"}},
		"examples", l{m{"tenant", "acme", "who", "alice", "did", "paid", "this", "invoice:7", "when", "2026-01-02T03:04:05Z"}},
	}
}

// spanEntrySchema is a stored entry: the span as stored plus the server
// fields, served by GET /spans/{id}, GET /spans and the streams.
func spanEntrySchema() m {
	props := m{}
	for _, f := range spanFields() {
		if f.stored {
			props = append(props, f.name, f.schema)
		}
	}
	return m{
		"title", "SpanEntry",
		"description", "A stored entry: the JCS-encoded span exactly as stored (aliases renamed, a server-assigned id and curr_hash added, defaults never written) plus log_index, prev_hash and received_at. Each is a leaf of the log's Merkle tree: leaf hash = SHA-256(0x00 ‖ the entry's bytes).",
		"type", "object",
		"required", l{"id", "tenant", "who", "this", "when", "curr_hash", "log_index", "prev_hash", "received_at"},
		"properties", props,
		"additionalProperties", false,
	}
}
