// Package export writes and verifies signed tenant exports: self-contained
// bundles holding one tenant's entries over a received_at range, the
// inclusion proof of each against one signed checkpoint, the checkpoint,
// and a manifest signed with the log key. Anyone holding the log's public
// key (GET /log/key) checks a bundle offline with Verify; nothing else is
// trusted. docs/exports.md has a worked example.
//
// # Bundle format (logline_export 1)
//
// NDJSON: UTF-8, one JSON value per line, every line ending in "\n".
//
//	{"logline_export":1,"origin":O,"tenant":T,"since":S,"until":U,"checkpoint":C}
//	{"<role>":{"index":I,"size":N,"leaf_hash":B64,"hashes":[B64,…]}}   ┐ one record,
//	<the entry line, byte for byte as stored>                          ┘ repeated
//	{"manifest":M}
//
// The header's members come in exactly this order. since and until are
// RFC 3339 UTC times with nanoseconds (trailing zeros trimmed, as
// time.RFC3339Nano writes them) or null; C is the signed checkpoint note
// (C2SP tlog-checkpoint, internal/tlog) every proof refers to, N its size.
//
// Records come in log order; each is a proof line — exactly the
// tlog.InclusionProof wire form under one member naming the record's role —
// followed by the entry line it proves (leaf_hash = SHA-256(0x00 ‖ line)).
// Roles:
//
//	before  optional, at most one, first: the tenant's entry immediately
//	        preceding the range in its hash chain (received_at < since)
//	entry   the entries of the range: since ≤ received_at < until
//	after   optional, at most one, last: the tenant's entry immediately
//	        following the range (received_at ≥ until, log index < N)
//
// The witnesses prove completeness at both ends of the range:
// before.curr_hash = first.prev_hash and after.prev_hash = last.curr_hash,
// so no entry of the tenant's chain is missing between them. Without a
// before witness the first entry's prev_hash must be 64 zeros (the
// tenant's genesis). Without an after witness the claim that the tenant
// has no entry after the last one below log index N is attested by the
// manifest's signature, not proven.
//
// M is a signed note (golang.org/x/mod/sumdb/note) signed with the log key,
// the key that signs checkpoints. Its text is
//
//	logline-export/v1
//	{"origin":O,"tenant":T,"since":S,"until":U,"checkpoint":{"size":N,"root":B64},
//	 "entries":n,"first_index":i,"last_index":j,"prev_hash":H,"head":H,
//	 "witnesses":{"before":bool,"after":bool},"complete_to_checkpoint":bool,
//	 "digest":D}
//
// (one line), its first line separating it from checkpoints. first_index
// and last_index are null for an empty range; prev_hash is the first
// entry's prev_hash (for an empty range: the chain head before the range),
// head the last entry's curr_hash (for an empty range: prev_hash);
// complete_to_checkpoint is true when the tenant has no entry after the
// range below log index N (no after witness); digest is the hex SHA-256 of
// every byte of the bundle before the manifest line.
package export
