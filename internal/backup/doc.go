// Package backup copies a running LogLine server's log into a directory —
// consistently, at a signed checkpoint, and incrementally by log index —
// and rebuilds a data directory from such a copy after verifying all of it
// (`logline backup`, `logline restore`; docs/backup.md).
//
// # Backup directory
//
//	backup.json                           the state; replaced atomically, last: the commit point
//	log.key                               verifier keys, one per line (GET /log/key; the union of every run's)
//	checkpoints/<size, 20 digits>.note    the signed checkpoint each run copied up to
//	entries/<first>-<end>.ndjson          entry lines [first, end), byte for byte (both 20 digits)
//	.lock                                 flock held by a running backup
//
// backup.json (State; every field required, no other):
//
//	{"version":1,"origin":O,"size":N,"root":B64,"frontier":[B64,…],
//	 "checkpoints":[{"size":S,"file":"checkpoints/….note","taken":RFC3339},…],
//	 "chunks":[{"file":"entries/…-….ndjson","first":F,"end":E,"bytes":B,"sha256":HEX},…]}
//
// root is the RFC 6962 root of the entries [0, size); frontier the compact
// range of the same tree (the roots of the perfect subtrees covering it,
// left to right, at most 64), so a run extends the tree without reading
// older chunks. Chunks are contiguous from 0 to size; checkpoints ascend,
// the last one being of size. Hashes are standard base64 with padding
// (SHA-256 of a chunk in hex).
//
// # Crash safety
//
// A chunk is written to a temporary file, fsynced and renamed, and its
// directory fsynced; the checkpoint note and log.key are replaced
// atomically (durable.WriteFile); backup.json last. Files named by
// backup.json are never changed or removed, so a run stopped at any point
// leaves the previous backup whole, and the next run deletes what the
// stopped one left.
package backup
