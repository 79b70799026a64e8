// Package tlog makes LogLine's global log verifiable: log keys, signed
// checkpoints in the C2SP tlog-checkpoint format, a guard that never lets
// the log sign two different trees of one size, and verification of RFC
// 6962 inclusion and consistency proofs with their JSON wire form.
//
// The tree math is golang.org/x/mod/sumdb/tlog's and the signatures are
// golang.org/x/mod/sumdb/note's; nothing here hand-rolls either. Hashes are
// RFC 6962 / RFC 9162 SHA-256: leaf = SHA-256(0x00 ‖ entry), node =
// SHA-256(0x01 ‖ left ‖ right), empty tree = SHA-256("").
//
// # Checkpoint
//
// A checkpoint is a signed note (x/mod/sumdb/note) whose text is
//
//	<origin>\n
//	<tree size, decimal, no leading zeros>\n
//	<root hash, standard base64 with padding>\n
//	[<extension line>\n]*      (read and kept; LogLine writes none)
//
// followed by a blank line and one signature line per key:
// "— <key name> <base64(4-byte key hash ‖ Ed25519 signature)>\n". The
// origin names the ledger (e.g. "logline.example/ledger") and is also the
// name of every log key; a checkpoint is accepted only with a valid
// signature by a known key carrying that name.
//
// # Key directory (data/keys/)
//
// Mode 0700. Every file is written atomically (temp file, fsync, rename,
// fsync directory) with mode 0600.
//
//	<id>.key          private key of the active log key: one line, the
//	                  signed-note signer key "PRIVATE+KEY+<origin>+<id>+<b64>".
//	                  <id> is the key hash, 8 lower-case hex digits. A
//	                  retired key's file is deleted by Rotate.
//	keys.json         the manifest:
//	                  {"version":1,"origin":O,"active":ID,"keys":[
//	                    {"id":ID,"verifier":"O+ID+b64","created":RFC3339,
//	                     "retired":RFC3339 (absent for the active key)}, …]}
//	                  keys in creation order; the active key is the last.
//	last-signed.json  the Guard's state, {"origin":O,"size":N,"root":B64}:
//	                  the largest tree the log recorded before signing it.
//
// A key file written without its manifest (crash during creation or
// rotation) is never used and can be deleted.
//
// # Proof JSON
//
//	{"index":I,"size":N,"leaf_hash":B64,"hashes":[B64,…]}   inclusion
//	{"from":M,"to":N,"hashes":[B64,…]}                     consistency
//
// B64 is standard base64 with padding of 32 bytes; hashes are in RFC 6962
// order. Decoding is strict (see InclusionProof.UnmarshalJSON).
//
// docs/checkpoints.md has worked examples.
package tlog
