-- 0001: the ledger schema (Blueprint4 §1, fixed and extended as
-- ARCHITECTURE.md §4 says; docs/postgres.md explains every difference).
-- Runs in one transaction under the migration advisory lock.

CREATE SCHEMA IF NOT EXISTS app;
CREATE SCHEMA IF NOT EXISTS ledger;

-- Session accessors for RLS (Blueprint4), plus the system scope.
CREATE OR REPLACE FUNCTION app.current_user_id() RETURNS text
LANGUAGE sql STABLE AS $$ SELECT current_setting('app.user_id', true) $$;

CREATE OR REPLACE FUNCTION app.current_tenant_id() RETURNS text
LANGUAGE sql STABLE AS $$ SELECT current_setting('app.tenant_id', true) $$;

-- app.scope = 'system' marks cross-tenant server work: the global stream,
-- the Merkle tree, the commit path. Any holder of the application role can
-- set it; RLS is a guard against bugs and tenant-scoped sessions, not
-- against the server itself (docs/postgres.md).
CREATE OR REPLACE FUNCTION app.is_system() RETURNS boolean
LANGUAGE sql STABLE AS $$ SELECT coalesce(current_setting('app.scope', true), '') = 'system' $$;

-- The application role: not owner, not superuser, no BYPASSRLS. Roles are
-- cluster-wide, so two databases migrating at once may race to create it.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'logline_app') THEN
    CREATE ROLE logline_app NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOREPLICATION;
  END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
  NULL;
END $$;

-- A migrating administrator that is not a superuser needs membership in
-- the role to SET ROLE to it (logline serve does, in every transaction).
DO $$
BEGIN
  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
     AND NOT pg_has_role(current_user, 'logline_app', 'MEMBER') THEN
    EXECUTE format('GRANT logline_app TO %I', current_user);
  END IF;
END $$;

-- Universal registry (append-only). Blueprint4's columns, with:
-- id/parent_id/related_to as text (v8 ids are not UUIDs); seq and
-- duration_ms bigint (span integers go to 2^53); tenant_id NOT NULL and
-- part of the primary key (ids are per tenant); plus LogLine's log_index,
-- data, confirmed_by, leaf_hash, line, received_at and at_nanos.
CREATE TABLE ledger.universal_registry (
  id            text        NOT NULL,
  seq           bigint      NOT NULL,
  entity_type   text        NOT NULL,
  who           text        NOT NULL,
  did           text,
  "this"        text        NOT NULL,
  at            timestamptz NOT NULL,

  parent_id     text,
  related_to    text[],

  owner_id      text,
  tenant_id     text        NOT NULL,
  visibility    text        NOT NULL DEFAULT 'private',

  status        text,
  is_deleted    boolean     NOT NULL DEFAULT false,

  name          text,
  description   text,
  code          text,
  language      text,
  runtime       text,
  input         jsonb,
  output        jsonb,
  error         jsonb,

  duration_ms   bigint,
  trace_id      text,

  prev_hash     text        NOT NULL,
  curr_hash     text        NOT NULL,
  signature     text,
  public_key    text,

  metadata      jsonb,

  -- LogLine
  log_index     bigint      NOT NULL,
  data          jsonb,
  confirmed_by  text[],
  at_nanos      integer     NOT NULL DEFAULT 0,  -- nanoseconds of `when` below the microsecond `at` keeps
  received_at   timestamptz NOT NULL,
  leaf_hash     bytea       NOT NULL,            -- SHA-256(0x00 || line), the Merkle leaf
  line          bytea       NOT NULL,            -- the stored entry: exact JCS bytes, served by the stream

  PRIMARY KEY (id, tenant_id, seq),
  CONSTRAINT ur_log_index_unique UNIQUE (log_index),
  CONSTRAINT ck_visibility CHECK (visibility IN ('private','tenant','public')),
  CONSTRAINT ck_append_only CHECK (seq >= 0),
  CONSTRAINT ck_log_index CHECK (log_index >= 0),
  CONSTRAINT ck_at_nanos CHECK (at_nanos BETWEEN 0 AND 999),
  CONSTRAINT ck_leaf_hash CHECK (octet_length(leaf_hash) = 32)
);

-- "Visible timeline": `at` exposed as "when". security_invoker makes the
-- view apply the caller's privileges and RLS (a view otherwise reads with
-- its owner's rights, and an owning superuser bypasses RLS).
CREATE VIEW ledger.visible_timeline WITH (security_invoker = true) AS
SELECT ur.*, ur.at AS "when"
FROM ledger.universal_registry ur
WHERE ur.is_deleted = false;

-- Append-only enforcement: UPDATE, DELETE and TRUNCATE raise, for every
-- role (the application role has no such privilege in the first place).
CREATE OR REPLACE FUNCTION ledger.no_updates() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'Append-only table: updates/deletes are not allowed.'
    USING ERRCODE = 'insufficient_privilege';
END; $$;

CREATE TRIGGER ur_no_update BEFORE UPDATE OR DELETE ON ledger.universal_registry
FOR EACH ROW EXECUTE FUNCTION ledger.no_updates();
CREATE TRIGGER ur_no_truncate BEFORE TRUNCATE ON ledger.universal_registry
FOR EACH STATEMENT EXECUTE FUNCTION ledger.no_updates();

-- Notify on insert, once per statement, carrying only the last log index
-- inserted (Blueprint4's row_to_json(NEW) payload fails on rows over the
-- 8000-byte NOTIFY limit). Listeners read the rows themselves.
CREATE OR REPLACE FUNCTION ledger.notify_timeline() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE last bigint;
BEGIN
  SELECT max(log_index) INTO last FROM new_rows;
  IF last IS NOT NULL THEN
    PERFORM pg_notify('timeline_updates', last::text);
  END IF;
  RETURN NULL;
END; $$;

CREATE TRIGGER ur_notify_insert AFTER INSERT ON ledger.universal_registry
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION ledger.notify_timeline();

-- Indexes. Blueprint4's single-column ones become tenant-led (every query
-- is scoped to one tenant) and partial where most rows are NULL.
CREATE INDEX ur_idx_tenant ON ledger.universal_registry (tenant_id, log_index);
CREATE INDEX ur_idx_this ON ledger.universal_registry (tenant_id, "this", log_index);
CREATE INDEX ur_idx_at ON ledger.universal_registry (tenant_id, at, at_nanos, log_index);
CREATE INDEX ur_idx_entity ON ledger.universal_registry (tenant_id, entity_type, log_index)
  WHERE entity_type <> 'span';
CREATE INDEX ur_idx_trace ON ledger.universal_registry (tenant_id, trace_id, log_index)
  WHERE trace_id IS NOT NULL;
CREATE INDEX ur_idx_owner_tenant ON ledger.universal_registry (owner_id, tenant_id)
  WHERE owner_id IS NOT NULL;
CREATE INDEX ur_idx_parent ON ledger.universal_registry (parent_id)
  WHERE parent_id IS NOT NULL;
CREATE INDEX ur_idx_related ON ledger.universal_registry USING GIN (related_to)
  WHERE related_to IS NOT NULL;
CREATE INDEX ur_idx_metadata ON ledger.universal_registry USING GIN (metadata)
  WHERE metadata IS NOT NULL;

-- Merkle tree: golang.org/x/mod/sumdb/tlog stored hashes (about two per
-- entry), keyed by stored-hash index. Written in the commit transaction.
CREATE TABLE ledger.tree_hashes (
  idx   bigint PRIMARY KEY,
  hash  bytea  NOT NULL CHECK (octet_length(hash) = 32)
);
CREATE TRIGGER th_no_update BEFORE UPDATE OR DELETE ON ledger.tree_hashes
FOR EACH ROW EXECUTE FUNCTION ledger.no_updates();
CREATE TRIGGER th_no_truncate BEFORE TRUNCATE ON ledger.tree_hashes
FOR EACH STATEMENT EXECUTE FUNCTION ledger.no_updates();

-- Checkpoints: one root per tree size, ever (the primary key). note is the
-- committing node's signed note, filled in once after COMMIT (it is signed
-- only once the tree is durable); nothing else may change.
CREATE TABLE ledger.checkpoints (
  size        bigint      PRIMARY KEY CHECK (size >= 0),
  root        bytea       NOT NULL CHECK (octet_length(root) = 32),
  note        text,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE OR REPLACE FUNCTION ledger.checkpoint_note_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.note IS NULL AND NEW.note IS NOT NULL
     AND NEW.size = OLD.size AND NEW.root = OLD.root AND NEW.created_at = OLD.created_at THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'checkpoints are append-only (only a missing note may be filled in)'
    USING ERRCODE = 'insufficient_privilege';
END; $$;
CREATE TRIGGER cp_no_update BEFORE UPDATE OR DELETE ON ledger.checkpoints
FOR EACH ROW EXECUTE FUNCTION ledger.checkpoint_note_once();
CREATE TRIGGER cp_no_truncate BEFORE TRUNCATE ON ledger.checkpoints
FOR EACH STATEMENT EXECUTE FUNCTION ledger.no_updates();

-- Log state: one row. size and root of the tree, the origin (the log's
-- name, recorded by the first server) and the last received_at (batches
-- never stamp an earlier one, also across nodes with skewed clocks).
CREATE TABLE ledger.log_state (
  one          boolean     PRIMARY KEY DEFAULT true CHECK (one),
  size         bigint      NOT NULL CHECK (size >= 0),
  root         bytea       NOT NULL CHECK (octet_length(root) = 32),
  origin       text,
  received_at  timestamptz
);
INSERT INTO ledger.log_state (size, root)
VALUES (0, decode('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'hex'));
INSERT INTO ledger.checkpoints (size, root)
VALUES (0, decode('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'hex'));

-- Tenant chain heads: each tenant's last curr_hash (the next entry's
-- prev_hash), kept by the commit transaction. Derived from the registry
-- (its last row per tenant), kept apart so a commit reads it by key.
CREATE TABLE ledger.tenant_heads (
  tenant_id  text   PRIMARY KEY,
  curr_hash  text   NOT NULL,
  log_index  bigint NOT NULL
);

-- Log keys: every node's checkpoint verifier key ("origin+id+base64");
-- GET /log/key lists them all.
CREATE TABLE ledger.log_keys (
  verifier    text        PRIMARY KEY,
  key_id      text        NOT NULL,
  node        text        NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- Row-level security on every table of the schema, forced (owners are
-- subject to it too; only superusers and BYPASSRLS roles are not).
ALTER TABLE ledger.universal_registry ENABLE ROW LEVEL SECURITY;
ALTER TABLE ledger.universal_registry FORCE ROW LEVEL SECURITY;
ALTER TABLE ledger.tree_hashes ENABLE ROW LEVEL SECURITY;
ALTER TABLE ledger.tree_hashes FORCE ROW LEVEL SECURITY;
ALTER TABLE ledger.checkpoints ENABLE ROW LEVEL SECURITY;
ALTER TABLE ledger.checkpoints FORCE ROW LEVEL SECURITY;
ALTER TABLE ledger.log_state ENABLE ROW LEVEL SECURITY;
ALTER TABLE ledger.log_state FORCE ROW LEVEL SECURITY;
ALTER TABLE ledger.tenant_heads ENABLE ROW LEVEL SECURITY;
ALTER TABLE ledger.tenant_heads FORCE ROW LEVEL SECURITY;
ALTER TABLE ledger.log_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE ledger.log_keys FORCE ROW LEVEL SECURITY;

-- A tenant-scoped transaction sees and inserts only its tenant's rows;
-- the system scope sees and inserts every tenant's. Blueprint4's owner
-- and visibility rules are not used: they hide a tenant's own private
-- rows from it and show every tenant's public rows to all (docs/postgres.md).
CREATE POLICY ur_select_policy ON ledger.universal_registry
  FOR SELECT USING (app.is_system() OR tenant_id = app.current_tenant_id());
CREATE POLICY ur_insert_policy ON ledger.universal_registry
  FOR INSERT WITH CHECK (app.is_system() OR tenant_id = app.current_tenant_id());

CREATE POLICY th_system ON ledger.tree_hashes
  USING (app.is_system()) WITH CHECK (app.is_system());
CREATE POLICY cp_system ON ledger.checkpoints
  USING (app.is_system()) WITH CHECK (app.is_system());
CREATE POLICY ls_system ON ledger.log_state
  USING (app.is_system()) WITH CHECK (app.is_system());
CREATE POLICY th_heads_system ON ledger.tenant_heads
  USING (app.is_system()) WITH CHECK (app.is_system());
CREATE POLICY lk_system ON ledger.log_keys
  USING (app.is_system()) WITH CHECK (app.is_system());

-- Exactly the grants the application role needs: no UPDATE or DELETE on
-- the registry or the tree; the mutable rows are the log state and the
-- tenant chain heads.
GRANT USAGE ON SCHEMA app, ledger TO logline_app;
GRANT EXECUTE ON FUNCTION app.current_user_id(), app.current_tenant_id(), app.is_system() TO logline_app;
GRANT SELECT, INSERT ON ledger.universal_registry TO logline_app;
GRANT SELECT ON ledger.visible_timeline TO logline_app;
GRANT SELECT, INSERT ON ledger.tree_hashes TO logline_app;
GRANT SELECT, INSERT ON ledger.checkpoints TO logline_app;
GRANT UPDATE (note) ON ledger.checkpoints TO logline_app;
GRANT SELECT, UPDATE ON ledger.log_state TO logline_app;
GRANT SELECT, INSERT, UPDATE ON ledger.tenant_heads TO logline_app;
GRANT SELECT, INSERT ON ledger.log_keys TO logline_app;
DO $$
BEGIN
  -- The commit path stages rows in a temporary table (COPY FROM is not
  -- allowed on a table with RLS).
  EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO logline_app', current_database());
END $$;
-- Lets a server connected as the application role check the schema version.
GRANT SELECT ON ledger.schema_migrations TO logline_app;
