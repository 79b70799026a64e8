-- 0003: the LogLine session-token (LLST) signing keys, shared by every node
-- (docs/postgres.md, "Token keys"). Runs in one transaction under the
-- migration advisory lock.
--
-- With the embedded store the keys are files in DATA/keys/llst. With
-- PostgreSQL each node has its own data directory, so a token signed by
-- one node would not verify at another: the keys live here instead, one
-- row per key. key_file is the key file of package llst
-- ("logline-llst-key/1", the private key included) as opaque bytes: whoever
-- can read this table can forge tokens, exactly like whoever can read a
-- data directory's keys. Keys never change once written: a rotation
-- inserts new rows and deletes retired ones, so the application role gets
-- no UPDATE. Writers serialize on an advisory lock of their own
-- (pgstore.TokenKeys.Update), not on the commit lock.

CREATE TABLE ledger.llst_keys (
  kid         text        PRIMARY KEY CHECK (kid <> '' AND octet_length(kid) <= 128),
  key_file    bytea       NOT NULL CHECK (octet_length(key_file) BETWEEN 1 AND 65536),
  created_at  timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE ledger.llst_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE ledger.llst_keys FORCE ROW LEVEL SECURITY;
-- The system scope only: a tenant-scoped session sees no key and can
-- neither add nor delete one.
CREATE POLICY llk_system ON ledger.llst_keys
  USING (app.is_system()) WITH CHECK (app.is_system());

GRANT SELECT, INSERT, DELETE ON ledger.llst_keys TO logline_app;
