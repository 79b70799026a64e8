// Package pgstore is LogLine's PostgreSQL store: the ledger in Blueprint4's
// ledger.universal_registry table, with forced row-level security and the
// application role logline_app, shared by any number of server processes
// (nodes). It implements ledger.Store and ledger.Prover exactly as the
// embedded store (package segment) does, and passes the same conformance
// suite (ledgertest). docs/postgres.md is the user's view.
//
// # Schema
//
// Versioned SQL files in migrations/ (embedded), applied by Migrate under
// an advisory lock, one transaction each, recorded in
// ledger.schema_migrations. Schema ledger:
//
//	universal_registry  one row per entry: Blueprint4's columns, plus
//	                    log_index (dense, unique), data, confirmed_by,
//	                    at_nanos, received_at, leaf_hash and line — the
//	                    exact JCS entry bytes (span.AppendEntry), the Merkle
//	                    leaf and what the stream serves. Append-only
//	                    (triggers refuse UPDATE, DELETE, TRUNCATE).
//	visible_timeline    the view, `at` as "when" (security_invoker)
//	tree_hash_runs      x/mod/sumdb/tlog stored hashes, up to 64
//	                    consecutive ones a row: first idx → 32 bytes each
//	checkpoints         size (primary key) → root, note
//	log_state           one row: size, root, origin, last received_at
//	tenant_heads        tenant → last curr_hash (the next prev_hash)
//	log_keys            every node's checkpoint verifier key
//	llst_keys           kid → the session-token (LLST) signing key, as
//	                    opaque bytes (TokenKeys; private: docs/postgres.md)
//
// Every table forces row-level security. A transaction scoped to a tenant
// (app.tenant_id) sees and inserts only its rows of universal_registry;
// the system scope (app.scope = 'system') sees everything and is the only
// one that sees the other tables.
//
// # Transactions
//
// Every transaction begins with setupSQL: SET LOCAL ROLE logline_app and
// the app.* identity, all transaction-local. Appends go to one writer
// goroutine per Store, which commits each batch in one transaction (a
// flight, writer.go) under the commit lock, an advisory lock that keeps
// log_index dense and one tree across nodes: read state, versions and
// chain heads; build lines and stored hashes; COPY into a temporary
// staging table and INSERT … SELECT (COPY FROM is refused on RLS tables);
// update state and heads; insert the checkpoint row; COMMIT. Flights
// overlap: the next one is built on the plan of the one committing and
// staged on a second connection, and queues its writes behind the lock,
// which is released just before COMMIT; ledger.expect_log_state makes it
// wait for that COMMIT and fail unless the log is where it was built.
// Nothing is acknowledged or signed before COMMIT succeeds, and flights
// are answered in log order.
//
// # Following other nodes
//
// The commit transaction notifies channel timeline_updates with the last
// log index it inserted (never the row: NOTIFY payloads stop at 8000
// bytes). Each Store listens, and on a notification past its size — or
// every PollInterval — reads log_state and publishes it: Size grows,
// Wait returns, and the committed (size, root) is signed with this node's
// key. Sizes are published and signed in increasing order only.
//
// # Verifying and importing
//
// Verify reads the whole ledger in one REPEATABLE READ snapshot (so it
// may run beside serving nodes) and checks every row against its line,
// the chains, the stored hashes, every checkpoint row (and its note, with
// the keys of ledger.log_keys) and the log state; the first problem is a
// *VerifyError naming the table, column and log index. Import writes a
// ledger from entry lines (another store's) into an empty database in one
// transaction under the commit lock, building each row from its line as
// the writer does, and runs Verify's checks before COMMIT. Both build the
// tree in memory with a frontier of stored hashes (frontier.go).
package pgstore
