package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/logline/logline/internal/span"
)

// pgInsertBatch is the number of rows of one multi-row INSERT.
const pgInsertBatch = 1000

// pgColumns are the Blueprint4 columns the baseline fills (is_deleted
// keeps its default), in the order of the values pgRows makes.
func pgColumns() []string {
	return []string{
		"id", "seq", "entity_type", "who", "did", "this", "at", "parent_id", "related_to",
		"owner_id", "tenant_id", "visibility", "status", "name", "description", "code",
		"language", "runtime", "input", "output", "error", "duration_ms", "trace_id",
		"prev_hash", "curr_hash", "signature", "public_key", "metadata",
	}
}

// pgSchemaDDL creates the scratch schema with Blueprint4's functions
// (blueprint4-ledger-only-backend.md §1), the app.* and ledger.* schemas
// both mapped to the scratch one. The notify trigger sends on a channel
// named after the scratch schema, so a real Blueprint4 listener on the
// same database never sees benchmark rows.
const pgSchemaDDL = `
CREATE SCHEMA %[1]s;
CREATE FUNCTION %[1]s.current_user_id() RETURNS text
LANGUAGE sql STABLE AS $$ SELECT current_setting('app.user_id', true) $$;
CREATE FUNCTION %[1]s.current_tenant_id() RETURNS text
LANGUAGE sql STABLE AS $$ SELECT current_setting('app.tenant_id', true) $$;
CREATE FUNCTION %[1]s.no_updates() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'Append-only table: updates/deletes are not allowed.';
END; $$;
CREATE FUNCTION %[1]s.notify_timeline() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('%[1]s_timeline_updates', row_to_json(NEW)::text);
  RETURN NEW;
END; $$;
`

// pgTableDDL is Blueprint4's ledger.universal_registry with its view,
// append-only trigger, indexes and RLS policies. Differences: id,
// parent_id and related_to are text (span ids are not UUIDs); the
// IF NOT EXISTS guards on pg_trigger are dropped (they look up trigger
// names across all schemas and would skip ours if a real Blueprint4
// table exists in the database). %[2]s is the notify trigger, or empty.
const pgTableDDL = `
CREATE TABLE %[1]s.universal_registry (
  id            text        NOT NULL,
  seq           integer     NOT NULL,
  entity_type   text        NOT NULL,
  who           text        NOT NULL,
  did           text,
  "this"        text        NOT NULL,
  at            timestamptz NOT NULL DEFAULT now(),
  parent_id     text,
  related_to    text[],
  owner_id      text,
  tenant_id     text,
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
  duration_ms   integer,
  trace_id      text,
  prev_hash     text,
  curr_hash     text,
  signature     text,
  public_key    text,
  metadata      jsonb,
  PRIMARY KEY (id, seq),
  CONSTRAINT ck_visibility CHECK (visibility IN ('private','tenant','public')),
  CONSTRAINT ck_append_only CHECK (seq >= 0)
);
CREATE VIEW %[1]s.visible_timeline AS
SELECT ur.*, ur.at AS "when" FROM %[1]s.universal_registry ur WHERE ur.is_deleted = false;
CREATE TRIGGER ur_no_update BEFORE UPDATE OR DELETE ON %[1]s.universal_registry
FOR EACH ROW EXECUTE FUNCTION %[1]s.no_updates();
%[2]s
CREATE INDEX ur_idx_at ON %[1]s.universal_registry (at DESC);
CREATE INDEX ur_idx_entity ON %[1]s.universal_registry (entity_type, at DESC);
CREATE INDEX ur_idx_owner_tenant ON %[1]s.universal_registry (owner_id, tenant_id);
CREATE INDEX ur_idx_trace ON %[1]s.universal_registry (trace_id);
CREATE INDEX ur_idx_parent ON %[1]s.universal_registry (parent_id);
CREATE INDEX ur_idx_related ON %[1]s.universal_registry USING GIN (related_to);
CREATE INDEX ur_idx_metadata ON %[1]s.universal_registry USING GIN (metadata);
CREATE UNIQUE INDEX ur_idx_request_idempotent
  ON %[1]s.universal_registry (parent_id, entity_type, status)
  WHERE entity_type = 'request' AND status = 'scheduled' AND is_deleted = false;
ALTER TABLE %[1]s.universal_registry ENABLE ROW LEVEL SECURITY;
CREATE POLICY ur_select_policy ON %[1]s.universal_registry
  FOR SELECT USING (
    (owner_id IS NOT DISTINCT FROM %[1]s.current_user_id())
    OR (visibility = 'public')
    OR (tenant_id IS NOT DISTINCT FROM %[1]s.current_tenant_id() AND visibility IN ('tenant','public'))
  );
CREATE POLICY ur_insert_policy ON %[1]s.universal_registry
  FOR INSERT WITH CHECK (
    owner_id IS NOT DISTINCT FROM %[1]s.current_user_id()
    AND (tenant_id IS NULL OR tenant_id IS NOT DISTINCT FROM %[1]s.current_tenant_id())
  );
`

const pgNotifyTrigger = `CREATE TRIGGER ur_notify_insert AFTER INSERT ON %[1]s.universal_registry
FOR EACH ROW EXECUTE FUNCTION %[1]s.notify_timeline();`

// pgOptions sizes the baseline.
type pgOptions struct {
	URL          string
	Spans        int // multi-row INSERT and COPY
	SingleSpans  int // one INSERT per span, one connection
	ConnectSpans int // the loader as written: a connection per span
	Conns        int // connections for multi-row INSERT and COPY
	CopyBatch    int // rows per COPY (one transaction each)
	Timeout      time.Duration
}

// pgBaseline inserts the same spans into the Blueprint4 table in a scratch
// schema bench_<pid>, which it drops afterwards. An unreachable server is
// a skip (Skipped says why), not an error.
func pgBaseline(ctx context.Context, c *corpus, d ids, o pgOptions) (res Postgres, err error) {
	a, skipped, err := openPGAdmin(ctx, o.URL)
	if a == nil {
		res.Skipped = skipped
		return res, err
	}
	defer a.conn.Close(context.WithoutCancel(ctx))
	cc, admin := a.cc, a.conn
	res.PGServer = a.PGServer
	schema := "bench_" + strconv.Itoa(os.Getpid())
	res.Schema = schema
	if _, err := admin.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
		return res, fmt.Errorf("postgres: drop old scratch schema: %w", err)
	}
	if _, err := admin.Exec(ctx, fmt.Sprintf(pgSchemaDDL, schema)); err != nil {
		return res, fmt.Errorf("postgres: create scratch schema: %w", err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if _, derr := admin.Exec(dctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); derr != nil {
			res.Error = strings.TrimPrefix(res.Error+"; drop scratch schema: "+derr.Error(), "; ")
		}
	}()

	rows, err := pgRows(c, d, max(o.Spans, o.SingleSpans, o.ConnectSpans))
	if err != nil {
		return res, err
	}
	table := schema + ".universal_registry"
	type variant struct {
		name   string
		notify bool
	}
	variants := []variant{
		{"Blueprint4 (indexes, RLS, append-only + notify triggers)", true},
		{"Blueprint4 without the notify trigger", false},
	}
	var errs []error
	for _, v := range variants {
		type method struct {
			name  string
			conns int
			n     int
			run   func(ctx context.Context, rows [][]any, deadline time.Time) (int, error)
		}
		methods := []method{
			{"INSERT per span, autocommit (as Blueprint4's loader)", 1, o.SingleSpans,
				func(ctx context.Context, rows [][]any, dl time.Time) (int, error) {
					return pgInsertEach(ctx, cc, table, rows, dl)
				}},
			{"multi-row INSERT of " + strconv.Itoa(pgInsertBatch) + " per transaction", o.Conns, o.Spans,
				func(ctx context.Context, rows [][]any, dl time.Time) (int, error) {
					return pgParallel(ctx, cc, o.Conns, rows, pgInsertBatch, dl, func(ctx context.Context, conn *pgx.Conn, chunk [][]any) error {
						return pgInsertMulti(ctx, conn, table, chunk)
					})
				}},
			{"COPY (pgx CopyFrom) of " + strconv.Itoa(o.CopyBatch) + " per transaction", o.Conns, o.Spans,
				func(ctx context.Context, rows [][]any, dl time.Time) (int, error) {
					return pgParallel(ctx, cc, o.Conns, rows, o.CopyBatch, dl, func(ctx context.Context, conn *pgx.Conn, chunk [][]any) error {
						_, err := conn.CopyFrom(ctx, pgx.Identifier{schema, "universal_registry"}, pgColumns(), pgx.CopyFromRows(chunk))
						return err
					})
				}},
		}
		if v.notify && o.ConnectSpans > 0 {
			methods = append([]method{{"loader as written: connect + set_config + INSERT per span", 1, o.ConnectSpans,
				func(ctx context.Context, rows [][]any, dl time.Time) (int, error) {
					return pgConnectEach(ctx, cc, table, rows, dl)
				}}}, methods...)
		}
		for _, m := range methods {
			if m.n <= 0 {
				continue
			}
			run := PGRun{Table: v.name, Method: m.name, Connections: m.conns}
			trig := ""
			if v.notify {
				trig = fmt.Sprintf(pgNotifyTrigger, schema)
			}
			if _, err := admin.Exec(ctx, fmt.Sprintf(pgTableDDL, schema, trig)); err != nil {
				return res, fmt.Errorf("postgres: create table: %w", err)
			}
			deadline := time.Now().Add(o.Timeout)
			start := time.Now()
			n, err := m.run(ctx, rows[:m.n], deadline)
			run.Seconds = sinceSecs(start)
			run.Spans = n
			run.SpansPerSec = rate(float64(n), run.Seconds)
			run.Partial = n < m.n && err == nil
			if err != nil {
				run.Error = err.Error()
				errs = append(errs, fmt.Errorf("postgres %s / %s: %w", v.name, m.name, err))
			} else {
				var count int
				if err := admin.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&count); err != nil {
					return res, fmt.Errorf("postgres: count rows: %w", err)
				}
				if count != n {
					run.Error = fmt.Sprintf("table holds %d rows, want %d", count, n)
					errs = append(errs, errors.New(run.Error))
				}
			}
			res.Runs = append(res.Runs, run)
			if _, err := admin.Exec(ctx, "DROP TABLE "+table+" CASCADE"); err != nil {
				return res, fmt.Errorf("postgres: drop table: %w", err)
			}
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
		}
	}
	return res, errors.Join(errs...)
}

// errUnreachable marks a PostgreSQL server that could not be reached.
var errUnreachable = errors.New("postgres unreachable")

// pgAdmin is an administrator's connection and the server it reaches.
type pgAdmin struct {
	cc   *pgx.ConnConfig
	conn *pgx.Conn
	PGServer
}

// openPGAdmin connects to the server at url (giving up after 5 s) and
// describes it. A bad URL or an unreachable server is a skip: a is nil,
// skipped says why, and err is errUnreachable for the latter.
func openPGAdmin(ctx context.Context, url string) (a *pgAdmin, skipped string, err error) {
	cc, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, "bad PostgreSQL URL: " + err.Error(), nil
	}
	if cc.ConnectTimeout == 0 || cc.ConnectTimeout > 5*time.Second {
		cc.ConnectTimeout = 5 * time.Second
	}
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return nil, fmt.Sprintf("PostgreSQL at %s:%d unreachable: %v", cc.Host, cc.Port, err), errUnreachable
	}
	a = &pgAdmin{cc: cc, conn: conn}
	err = conn.QueryRow(ctx, "SELECT version(), current_setting('synchronous_commit'), current_setting('fsync')").
		Scan(&a.Server, &a.SynchronousCommit, &a.Fsync)
	if err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return nil, "", fmt.Errorf("postgres: %w", err)
	}
	return a, "", nil
}

// pgRows makes n rows of the Blueprint4 table from generated spans (id
// kind "p"): columns where the table has them; the span fields it has no
// column for (data, confirmed_by) go into metadata, Blueprint4's "jsonb for
// rare fields". curr_hash is LogLine's hash of the span, computed here,
// outside any timing.
func pgRows(c *corpus, d ids, n int) ([][]any, error) {
	rows := make([][]any, n)
	var line []byte
	for i := range rows {
		line = c.appendLine(line[:0], d.id("p", i), i)
		sp, err := span.Decode(line, span.DecodeOptions{})
		if err != nil {
			return nil, fmt.Errorf("span %d: %w", i, err)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(line, &m); err != nil {
			return nil, err
		}
		str := func(keys ...string) any {
			for _, k := range keys {
				var s string
				if raw, ok := m[k]; ok && json.Unmarshal(raw, &s) == nil {
					return s
				}
			}
			return nil
		}
		obj := func(k string) any {
			if raw, ok := m[k]; ok && string(raw) != "null" {
				return string(raw)
			}
			return nil
		}
		var related any
		if raw, ok := m["related_to"]; ok {
			var r []string
			if json.Unmarshal(raw, &r) == nil {
				related = r
			}
		}
		var duration any
		if raw, ok := m["duration_ms"]; ok {
			var v int32
			if json.Unmarshal(raw, &v) == nil {
				duration = v
			}
		}
		meta := map[string]json.RawMessage{}
		if raw, ok := m["metadata"]; ok {
			_ = json.Unmarshal(raw, &meta)
		}
		for _, k := range []string{"data", "confirmed_by"} {
			if raw, ok := m[k]; ok {
				meta[k] = raw
			}
		}
		var metadata any
		if len(meta) > 0 {
			b, err := json.Marshal(meta)
			if err != nil {
				return nil, err
			}
			metadata = string(b)
		}
		visibility := str("visibility")
		if visibility == nil {
			visibility = span.DefaultVisibility
		}
		rows[i] = []any{
			sp.ID, int32(sp.Seq), sp.EntityType, sp.Who, str("did"), sp.This, sp.When, str("parent_id"), related,
			str("owner_id"), sp.Tenant, visibility, str("status"), str("name"), str("description"), str("code"),
			str("language"), str("runtime"), obj("input"), obj("output"), obj("error"), duration, str("trace_id"),
			nil, sp.Hash.String(), nil, nil, metadata,
		}
	}
	return rows, nil
}

func pgInsertSQL(table string, nrows int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO " + table + " (")
	cols := pgColumns()
	for i, c := range cols {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"` + c + `"`)
	}
	b.WriteString(") VALUES ")
	p := 1
	for r := range nrows {
		if r > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for i := range cols {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString("$" + strconv.Itoa(p))
			p++
		}
		b.WriteByte(')')
	}
	return b.String()
}

// pgSession sets the session identity as Blueprint4's withPg does (with
// set_config: SET takes no bind parameters).
func pgSession(ctx context.Context, conn *pgx.Conn) error {
	_, err := conn.Exec(ctx, "SELECT set_config('app.user_id', $1, false), set_config('app.tenant_id', $2, false)", "bench", "")
	return err
}

// pgInsertEach runs one autocommit INSERT per row on one connection.
func pgInsertEach(ctx context.Context, cc *pgx.ConnConfig, table string, rows [][]any, deadline time.Time) (int, error) {
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if err := pgSession(ctx, conn); err != nil {
		return 0, err
	}
	q := pgInsertSQL(table, 1)
	for i, r := range rows {
		if time.Now().After(deadline) {
			return i, nil
		}
		if _, err := conn.Exec(ctx, q, r...); err != nil {
			return i, err
		}
	}
	return len(rows), nil
}

// pgConnectEach is Blueprint4's insertSpan as written: for every span a new
// connection, the session settings, one INSERT, and a disconnect.
func pgConnectEach(ctx context.Context, cc *pgx.ConnConfig, table string, rows [][]any, deadline time.Time) (int, error) {
	q := pgInsertSQL(table, 1)
	for i, r := range rows {
		if time.Now().After(deadline) {
			return i, nil
		}
		err := func() error {
			conn, err := pgx.ConnectConfig(ctx, cc)
			if err != nil {
				return err
			}
			defer conn.Close(context.WithoutCancel(ctx))
			if err := pgSession(ctx, conn); err != nil {
				return err
			}
			_, err = conn.Exec(ctx, q, r...)
			return err
		}()
		if err != nil {
			return i, err
		}
	}
	return len(rows), nil
}

// pgInsertMulti inserts chunk with one multi-row INSERT in a transaction.
func pgInsertMulti(ctx context.Context, conn *pgx.Conn, table string, chunk [][]any) error {
	args := make([]any, 0, len(chunk)*len(pgColumns()))
	for _, r := range chunk {
		args = append(args, r...)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, pgInsertSQL(table, len(chunk)), args...); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// pgParallel hands chunks of rows to conns connections, each chunk its own
// transaction (CopyFrom is one), until all are in or the deadline passes.
func pgParallel(ctx context.Context, cc *pgx.ConnConfig, conns int, rows [][]any, chunk int, deadline time.Time, do func(context.Context, *pgx.Conn, [][]any) error) (int, error) {
	nc := (len(rows) + chunk - 1) / chunk
	var next, done atomic.Int64
	var errOnce sync.Once
	var firstErr error
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fail := func(err error) { errOnce.Do(func() { firstErr = err; cancel() }) }
	var wg sync.WaitGroup
	for range conns {
		wg.Go(func() {
			conn, err := pgx.ConnectConfig(ctx, cc)
			if err != nil {
				fail(err)
				return
			}
			defer conn.Close(context.WithoutCancel(ctx))
			if err := pgSession(ctx, conn); err != nil {
				fail(err)
				return
			}
			for {
				k := int(next.Add(1) - 1)
				if k >= nc || ctx.Err() != nil || time.Now().After(deadline) {
					return
				}
				part := rows[k*chunk : min(len(rows), (k+1)*chunk)]
				if err := do(ctx, conn, part); err != nil {
					fail(err)
					return
				}
				done.Add(int64(len(part)))
			}
		})
	}
	wg.Wait()
	return int(done.Load()), firstErr
}
