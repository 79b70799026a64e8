-- 0002: cheaper commits (docs/postgres.md, "Speed"). Runs in one
-- transaction under the migration advisory lock.
--
-- 1. The Merkle tree's stored hashes move from one row per hash (about two
--    per entry, each a heap tuple and an index entry) to runs: a row holds
--    up to 64 consecutive stored hashes (tlog stored-hash indexes first,
--    first+1, …), written by the commit that adds them. A commit of a
--    batch writes its hashes as a few runs instead of thousands of rows.
-- 2. ledger.expect_log_state lets a commit check, in the same round trip
--    as its writes, that the log is where its batch was built; the commit
--    lock is released just before COMMIT, so the next batch inserts while
--    this one's WAL is flushed (docs/postgres.md).
-- 3. The notify trigger goes: its transition table copied every inserted
--    row (line included) into a tuplestore just to take the largest
--    log_index. The commit transaction now sends the same notification
--    itself (pg_notify on timeline_updates, the last log index, delivered
--    at COMMIT).

CREATE TABLE ledger.tree_hash_runs (
  first   bigint PRIMARY KEY CHECK (first >= 0),
  hashes  bytea  NOT NULL CHECK (octet_length(hashes) BETWEEN 32 AND 64 * 32 AND octet_length(hashes) % 32 = 0)
);
-- At most 2 KiB: kept in the row, never compressed or toasted.
ALTER TABLE ledger.tree_hash_runs ALTER COLUMN hashes SET STORAGE PLAIN;
CREATE TRIGGER thr_no_update BEFORE UPDATE OR DELETE ON ledger.tree_hash_runs
FOR EACH ROW EXECUTE FUNCTION ledger.no_updates();
CREATE TRIGGER thr_no_truncate BEFORE TRUNCATE ON ledger.tree_hash_runs
FOR EACH STATEMENT EXECUTE FUNCTION ledger.no_updates();
ALTER TABLE ledger.tree_hash_runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE ledger.tree_hash_runs FORCE ROW LEVEL SECURITY;
CREATE POLICY thr_system ON ledger.tree_hash_runs
  USING (app.is_system()) WITH CHECK (app.is_system());
GRANT SELECT, INSERT ON ledger.tree_hash_runs TO logline_app;

-- Existing hashes, 64 to a run. Stored hashes are dense from 0; a gap
-- would shift every later hash of its run, so refuse one.
DO $$
DECLARE n bigint; top bigint;
BEGIN
  SELECT count(*), max(idx) INTO n, top FROM ledger.tree_hashes;
  IF n > 0 AND top <> n - 1 THEN
    RAISE EXCEPTION 'ledger.tree_hashes is not dense (% hashes, largest index %): run logline verify --store', n, top;
  END IF;
END $$;
INSERT INTO ledger.tree_hash_runs (first, hashes)
SELECT min(idx), string_agg(hash, ''::bytea ORDER BY idx)
FROM ledger.tree_hashes GROUP BY idx / 64;
DROP TABLE ledger.tree_hashes;

-- Fails (SQLSTATE LL001) unless ledger.log_state holds want_size and
-- want_root. FOR UPDATE waits for a commit in flight and then reads what
-- it committed; the row stays locked until this transaction ends, so no
-- other commit can come between the check and this one.
CREATE FUNCTION ledger.expect_log_state(want_size bigint, want_root bytea) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE got_size bigint; got_root bytea;
BEGIN
  SELECT size, root INTO got_size, got_root FROM ledger.log_state FOR UPDATE;
  IF got_size IS DISTINCT FROM want_size OR got_root IS DISTINCT FROM want_root THEN
    RAISE EXCEPTION 'the log holds % entries, the batch was built on %', got_size, want_size
      USING ERRCODE = 'LL001';
  END IF;
END $$;
GRANT EXECUTE ON FUNCTION ledger.expect_log_state(bigint, bytea) TO logline_app;

DROP TRIGGER ur_notify_insert ON ledger.universal_registry;
DROP FUNCTION ledger.notify_timeline();
