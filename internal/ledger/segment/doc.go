// Package segment is LogLine's embedded store: append-only segment files are
// the source of truth, a Pebble index derived from them answers lookups.
//
// # On-disk layout
//
//	<dir>/ledger/segments/00000001.ndjson   segment files, numbered from 1
//	<dir>/ledger/index/                     Pebble index (derived, rebuildable)
//
// # Segment format
//
// A segment is UTF-8 text, one JSON value per line, each line ending in "\n".
// There are two kinds of lines:
//
//   - Entry lines: a stored span entry, exactly the RFC 8785 (JCS) bytes that
//     span.(*Span).AppendEntry produced: the span's fields plus log_index,
//     prev_hash and received_at. Entry lines are the leaves of the log's
//     Merkle tree (leaf hash = SHA-256(0x00 ‖ line), RFC 6962) and are served
//     by the stream byte for byte.
//
//   - Commit lines: written after every commit batch, in the same write and
//     covered by the same fdatasync:
//
//     {"commit":{"root":"<hex SHA-256 RFC 6962 root>","size":N}}
//
//     size is the number of entries in the whole log after the batch and root
//     is the Merkle tree head over all of them. A commit line is never split
//     across segments; a batch and its commit line live in one segment.
//
// Log indexes are dense and implicit: the k-th entry line of the log (counting
// across segments in file order, skipping commit lines) has log_index k, and
// the line repeats it. Nothing is acknowledged before the batch and its commit
// line are on disk.
//
// # Recovery
//
// Every byte can be checked without the index. On open the store scans the
// active (last) segment: each entry line must be canonical and its curr_hash,
// signature, log_index and tenant chain (prev_hash) must hold; each commit
// line's root must equal the root recomputed from the entries. Anything after
// the last valid commit line was never acknowledged — a torn tail — and is
// cut (truncate, fsync). A bad line followed by a valid commit line is
// corruption of acknowledged data: the store refuses to open and names the
// file and byte offset. Sealed segments are checked the same way: every
// entry is hashed into the tree and every commit root compared, so any
// changed byte is found; a root mismatch is narrowed to the first line that
// fails verification, or else to the batch.
//
// # Restore
//
// Restore writes a ledger from entry lines alone (a backup): a commit line
// after every fixed number of entries, a new segment after the batch that
// passes the segment size, then the index by Reindex's path. Its segments
// are a function of the lines and those two numbers, so the same backup
// always restores to the same bytes.
//
// # Index
//
// The Pebble index is written without fsync (it is derived); its state
// record (entries covered, segment, offset) is written in the same
// atomic batch as the keys it covers, so replay starts exactly where the
// index ends. A missing or inconsistent index is rebuilt from the segments.
// Keys (all integers big-endian, strings escaped so keys sort and never
// collide):
//
//	m/state                               index state record
//	c/<tenant>                            tenant chain head (last curr_hash)
//	b/<log_index u64>                     first entry of each commit batch → location
//	i/<id>/<tenant>/<seq u64>             → log_index, location, curr_hash
//	t/<tenant>/<log_index>                → location
//	h/<tenant>/<this>/<log_index>         → location
//	e/<tenant>/<entity_type>/<log_index>  → location
//	r/<tenant>/<trace_id>/<log_index>     → location
//	w/<tenant>/<when: sec i64, nsec u32>/<log_index> → location
//	n/<storage index u64>                 → Merkle stored hash (x/mod/sumdb/tlog)
package segment
