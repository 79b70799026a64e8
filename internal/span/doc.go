// Package span defines LogLine's span: its wire format, validation,
// RFC 8785 (JCS) canonical encoding, BLAKE3 content hash and Ed25519 client
// signatures. It imports only the standard library and small hashing and id
// code; it knows nothing about storage or HTTP.
//
// A span travels three ways:
//
//   - Decode turns what a client sent into a validated *Span whose canonical
//     members are exactly the fields the client sent (aliases renamed, a
//     server-assigned id added, curr_hash added). Defaults are never written.
//   - (*Span).AppendEntry turns a *Span plus the server fields (log_index,
//     prev_hash, received_at) into the stored entry: one JCS object, the
//     exact bytes written to a segment line and served by the stream.
//   - ParseEntry turns a stored line back into an *Entry and checks that it
//     is canonical, that curr_hash matches the content and that the
//     signature (if any) verifies.
//
// Sign is the client side of the same rules (`logline sign`).
//
// # Accepted JSON
//
// Decode, ParseEntry and Canonicalize share one parser. Input must be
// RFC 8259 JSON text with nothing after the value, valid UTF-8 everywhere
// (a \u escape of a lone surrogate is invalid too), no object with the same
// key twice at any depth, and nesting no deeper than Limits.MaxDepth
// (default 32; the span object is depth 1). Numbers must be finite as a
// float64 and within ±2^53 (9007199254740992), beyond which float64, and so
// every JavaScript client, silently changes integers (send such values as
// strings). The one exception keeps canonical forms readable: JCS writes
// every magnitude from 1e21 up with an exponent (1e+21), so a number
// written with an exponent may be that large. Magnitudes above 2^53 and
// below 1e21 are always refused, whatever their notation; numbers written
// without an exponent are judged by their digits, before any rounding; a
// magnitude too small for float64 becomes 0, as in JavaScript. Violations
// are reported as *Error with a code, an RFC 6901 pointer and the byte
// offset.
//
// # Canonical form
//
// The canonical form is RFC 8785 (JCS): no whitespace; object members
// sorted by the UTF-16 code units of their keys; numbers as ECMAScript's
// Number.prototype.toString writes them (shortest round-trip digits, 4.50
// → 4.5, 1.0 → 1, -0 → 0, 1e21 → 1e+21, 1e-7 → 1e-7, 0.000001 stays);
// strings with only \" \\ \b \f \n \r \t and \u00xx (lower-case hex, for the
// other control characters) escaped and everything else, "/" and U+007F
// included, written as UTF-8.
//
// # Stored span and content hash
//
// The stored span is the JCS object of the members the client sent, with
// Blueprint4 aliases renamed (tenant_id → tenant, at → when), the
// server-assigned id added when the client sent none, and curr_hash added.
// Values are kept as sent, only re-encoded canonically: `when` keeps its
// offset and precision. Defaults (seq 0, entity_type "span", visibility
// "private") are never written, so a client can always recompute the hash.
//
//	curr_hash = hex(BLAKE3-256(JCS(stored span − {curr_hash, signature})))
//
// The hashed object therefore includes id (even a server-assigned one) and
// public_key. Server fields (log_index, prev_hash, received_at) are never
// part of it; clients may not send them. A client that sends curr_hash gets
// CodeHashMismatch if it differs. The signature is Ed25519 over the 32 raw
// bytes of curr_hash with the key in public_key; a signed span must carry
// its own id and use the v8 field names, since either server change would
// alter the signed content.
//
// Blueprint4's verifySpan computes JSON.stringify(clone, keys) where clone
// is the span without signature and keys its sorted top-level keys. That
// differs from this hash in two ways, both bugs there: the clone still
// holds curr_hash (and whatever else the row carries), so the hash depends
// on the hash value it is checked against and can never match a hash
// computed without it; and an array given to JSON.stringify is an
// allow-list applied at every depth, so nested members whose keys are not
// also top-level keys vanish from the hashed text (data {"amount": 5}
// hashes like data {}) and can be changed without changing the hash. Here
// nested keys, whatever their names, are ordinary data: nothing is filtered
// and everything stored is hashed except curr_hash and signature.
//
// # Stored entry
//
// A stored entry (a segment line, a stream line, a Merkle leaf) is the JCS
// object of the stored span's members plus log_index (integer), prev_hash
// (64 hex digits) and received_at (UTC, RFC 3339 with nanoseconds, trailing
// zeros trimmed). AppendEntry merges pre-encoded bytes; ParseEntry accepts
// only that exact encoding.
package span
