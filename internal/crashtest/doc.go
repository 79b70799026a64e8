// Package crashtest proves LogLine's crash-safety promises against the real
// binary: it builds `logline`, kills `logline serve` with SIGKILL while
// clients stream spans into it, restarts it on the same data directory and
// checks that every acknowledged span is there exactly once with the same
// log index and hash, that the tenant chains link, that a torn tail was cut
// and that `logline verify` passes; that a flipped byte in acknowledged data
// makes both `serve` and `verify` refuse, naming the file and byte offset;
// and that SIGTERM drains in-flight requests and exits 0; and, on the
// PostgreSQL store, that killing one of two `logline serve --store` nodes
// mid-batch loses nothing either acknowledged while the other keeps
// serving, and that `logline verify --store` then accepts the database.
//
// The package holds only tests (and this comment). What the tests prove,
// what they do not, and how to run the long mode (-crash.rounds,
// LOGLINE_CRASH_ROUNDS, -crash.seed) is in docs/crash-safety.md.
package crashtest
