package pgstore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/logline/logline/internal/ledger/ledgertest"
	"github.com/logline/logline/internal/ledger/pgstore/pgtest"
	"github.com/logline/logline/internal/span"
)

// isolationDB is a migrated database holding spans of tenants a and b,
// plus the URL of a login role that is the application role (it connects
// with role=logline_app, so current_user is logline_app itself).
type isolationDB struct {
	admin string // superuser, the database's owner
	app   string
	a, b  int // rows of each tenant
}

func newIsolationDB(t *testing.T) isolationDB {
	t.Helper()
	u := newLedgerDB(t)
	s := openStore(t, Config{URL: u})
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var spans []*span.Span
	for i := range 6 {
		spans = append(spans, ledgertest.MustSpan(t, ledgertest.Simple("a", fmt.Sprint("a", i), 0, "order:1", t0)))
	}
	for i := range 4 {
		spans = append(spans, ledgertest.MustSpan(t, fmt.Sprintf(
			`{"id":"b%d","tenant":"b","who":"bob","did":"paid","this":"order:1","when":"2026-01-02T03:04:05Z","trace_id":"tr","visibility":"public","metadata":{"k":"v"}}`, i)))
	}
	if outs, err := s.Append(context.Background(), spans); err != nil || outs[0].Err != nil {
		t.Fatalf("append: %v %v", err, outs)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return isolationDB{admin: u, app: appURL(t, u), a: 6, b: 4}
}

// appURL creates a login role for the test database u that starts its
// sessions as logline_app (and can do nothing else: it owns nothing), and
// returns u with that user.
func appURL(t *testing.T, u string) string {
	t.Helper()
	login := strings.TrimPrefix(dbName(t, u), "logline_test_") + "_login"
	login = "ll_" + login
	admin := pgtest.AdminURL(t)
	pgtest.Exec(t, admin, fmt.Sprintf("CREATE ROLE %s LOGIN NOINHERIT IN ROLE %s", login, AppRole))
	t.Cleanup(func() { pgtest.Exec(t, admin, "DROP ROLE IF EXISTS "+login) })
	app, err := url.Parse(pgtest.WithUser(t, u, login))
	if err != nil {
		t.Fatal(err)
	}
	q := app.Query()
	q.Set("options", "-c role="+AppRole)
	app.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
	return app.String()
}

func dbName(t *testing.T, u string) string {
	t.Helper()
	cc, err := pgx.ParseConfig(u)
	if err != nil {
		t.Fatal(err)
	}
	return cc.Database
}

func connectT(t *testing.T, u string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), u)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// scoped runs fn in a transaction with app.tenant_id = tenant (SET LOCAL),
// rolled back afterwards.
func scoped(t *testing.T, conn *pgx.Conn, tenant string, fn func(tx pgx.Tx)) {
	t.Helper()
	ctx := context.Background()
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	if tenant != "" {
		if _, err := tx.Exec(ctx, "SELECT set_config('app.tenant_id', $1, true)", tenant); err != nil {
			t.Fatal(err)
		}
	}
	fn(tx)
}

func queryStrings(t *testing.T, tx pgx.Tx, sql string, args ...any) []string {
	t.Helper()
	rows, err := tx.Query(context.Background(), sql, args...)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return out
}

func queryInt(t *testing.T, tx pgx.Tx, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := tx.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// sqlState returns the SQLSTATE of err, or "".
func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func TestIsolationRole(t *testing.T) {
	db := newIsolationDB(t)
	conn := connectT(t, db.app)
	ctx := context.Background()
	var (
		user                      string
		super, bypass, ownsTables bool
	)
	err := conn.QueryRow(ctx, `SELECT current_user, r.rolsuper, r.rolbypassrls,
		EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname IN ('ledger', 'app') AND c.relowner = r.oid)
		OR EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspname IN ('ledger', 'app') AND n.nspowner = r.oid)
		FROM pg_roles r WHERE r.rolname = $1`, AppRole).Scan(&user, &super, &bypass, &ownsTables)
	if err != nil {
		t.Fatal(err)
	}
	if user != AppRole || super || bypass || ownsTables {
		t.Fatalf("got current_user %q, superuser %v, bypassrls %v, owns objects %v; want %s, false, false, false", user, super, bypass, ownsTables, AppRole)
	}
}

func TestIsolationEveryTableForcesRLS(t *testing.T) {
	db := newIsolationDB(t)
	conn := connectT(t, db.admin)
	rows, err := conn.Query(context.Background(), `SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'ledger' AND c.relkind IN ('r', 'p') ORDER BY c.relname`)
	if err != nil {
		t.Fatal(err)
	}
	var (
		name          string
		rls, forceRLS bool
		tables        []string
	)
	if _, err := pgx.ForEachRow(rows, []any{&name, &rls, &forceRLS}, func() error {
		tables = append(tables, name)
		if !rls || !forceRLS {
			t.Errorf("table ledger.%s: relrowsecurity %v, relforcerowsecurity %v; want both", name, rls, forceRLS)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := "[checkpoints llst_keys log_keys log_state schema_migrations tenant_heads tree_hash_runs universal_registry]"
	if fmt.Sprint(tables) != want {
		t.Fatalf("got tables %v, want %s", tables, want)
	}
}

func TestIsolationTenantSees(t *testing.T) {
	db := newIsolationDB(t)
	conn := connectT(t, db.app)
	ctx := context.Background()
	for _, tc := range []struct {
		tenant string
		want   int64
	}{{"a", int64(db.a)}, {"b", int64(db.b)}, {"", 0}, {"nobody", 0}} {
		t.Run("tenant "+tc.tenant, func(t *testing.T) {
			scoped(t, conn, tc.tenant, func(tx pgx.Tx) {
				for _, tn := range queryStrings(t, tx, "SELECT tenant_id FROM ledger.universal_registry") {
					if tn != tc.tenant {
						t.Fatalf("select: got a row of tenant %q", tn)
					}
				}
				if n := queryInt(t, tx, "SELECT count(*) FROM ledger.universal_registry"); n != tc.want {
					t.Fatalf("count: got %d, want %d", n, tc.want)
				}
				// The view applies the caller's RLS (security_invoker).
				if n := queryInt(t, tx, `SELECT count(*) FROM ledger.visible_timeline WHERE "when" IS NOT NULL`); n != tc.want {
					t.Fatalf("view: got %d rows, want %d", n, tc.want)
				}
				for _, other := range []string{"a", "b"} {
					if other == tc.tenant {
						continue
					}
					// Index scans only: the planner must not find a way around the policy.
					if _, err := tx.Exec(ctx, "SET LOCAL enable_seqscan = off"); err != nil {
						t.Fatal(err)
					}
					for _, q := range []string{
						"SELECT count(*) FROM ledger.universal_registry WHERE tenant_id = $1",
						"SELECT count(*) FROM ledger.universal_registry WHERE id = $1 || '0'",
						`SELECT count(*) FROM ledger.universal_registry WHERE tenant_id = $1 AND "this" = 'order:1'`,
						"SELECT count(*) FROM ledger.universal_registry WHERE tenant_id = $1 AND log_index >= 0",
						"SELECT count(*) FROM ledger.visible_timeline WHERE tenant_id = $1",
					} {
						if n := queryInt(t, tx, q, other); n != 0 {
							t.Fatalf("%s with %q: got %d rows of another tenant", q, other, n)
						}
					}
					plan := strings.Join(queryStrings(t, tx, "EXPLAIN SELECT id FROM ledger.universal_registry WHERE tenant_id = $1 ORDER BY log_index", other), "\n")
					if !strings.Contains(plan, "Index") {
						t.Fatalf("want an index scan, got plan:\n%s", plan)
					}
				}
				// Public rows of another tenant stay hidden (Blueprint4's policy showed them).
				if n := queryInt(t, tx, "SELECT count(*) FROM ledger.universal_registry WHERE visibility = 'public' AND tenant_id <> $1", tc.tenant); n != 0 {
					t.Fatalf("got %d public rows of other tenants", n)
				}
				// The server's tables are system scope only.
				for _, table := range []string{"tree_hash_runs", "checkpoints", "log_state", "log_keys", "tenant_heads", "llst_keys"} {
					if n := queryInt(t, tx, "SELECT count(*) FROM ledger."+table); n != 0 {
						t.Fatalf("ledger.%s: got %d rows in a tenant scope", table, n)
					}
				}
			})
		})
	}
}

func TestIsolationInsert(t *testing.T) {
	db := newIsolationDB(t)
	conn := connectT(t, db.app)
	ctx := context.Background()
	insert := `INSERT INTO ledger.universal_registry (id, seq, entity_type, who, "this", at, tenant_id,
		prev_hash, curr_hash, log_index, received_at, leaf_hash, line)
		VALUES ('x', 0, 'span', 'w', 't', now(), $1, '', '', 1000, now(), '\x` + strings.Repeat("00", 32) + `', '')`
	scoped(t, conn, "a", func(tx pgx.Tx) {
		_, err := tx.Exec(ctx, insert, "b")
		if sqlState(err) != "42501" {
			t.Fatalf("insert for another tenant: got %v, want a row-level security violation (42501)", err)
		}
	})
	scoped(t, conn, "", func(tx pgx.Tx) {
		if _, err := tx.Exec(ctx, insert, "a"); sqlState(err) != "42501" {
			t.Fatalf("insert without a tenant scope: got %v, want 42501", err)
		}
	})
	scoped(t, conn, "a", func(tx pgx.Tx) {
		if _, err := tx.Exec(ctx, insert, "a"); err != nil {
			t.Fatalf("insert for the scoped tenant (rolled back): %v", err)
		}
	})
}

func TestIsolationPooledConnection(t *testing.T) {
	db := newIsolationDB(t)
	ctx := context.Background()
	pc, err := pgxpool.ParseConfig(db.app)
	if err != nil {
		t.Fatal(err)
	}
	pc.MaxConns = 1 // every transaction below reuses the one connection
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var pids []uint32
	for _, tenant := range []string{"a", "b", "a", ""} {
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			pids = append(pids, tx.Conn().PgConn().PID())
			if tenant != "" {
				if _, err := tx.Exec(ctx, "SELECT set_config('app.tenant_id', $1, true)", tenant); err != nil {
					return err
				}
			}
			rows, err := tx.Query(ctx, "SELECT tenant_id FROM ledger.universal_registry")
			if err != nil {
				return err
			}
			got, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return err
			}
			for _, g := range got {
				if g != tenant {
					return fmt.Errorf("transaction scoped to %q saw a row of %q", tenant, g)
				}
			}
			if tenant != "" && len(got) == 0 {
				return fmt.Errorf("transaction scoped to %q saw none of its rows", tenant)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// And outside any transaction, on the same connection: nothing.
	var n int64
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM ledger.universal_registry").Scan(&n); err != nil || n != 0 {
		t.Fatalf("after scoped transactions, an unscoped query: got %d rows, %v; want 0", n, err)
	}
	for _, p := range pids {
		if p != pids[0] {
			t.Fatalf("want one pooled connection, got backends %v", pids)
		}
	}
}

func TestAppendOnly(t *testing.T) {
	db := newIsolationDB(t)
	ctx := context.Background()
	stmts := []string{
		"UPDATE ledger.universal_registry SET who = 'mallory'",
		"DELETE FROM ledger.universal_registry",
		"TRUNCATE ledger.universal_registry",
		"UPDATE ledger.tree_hash_runs SET hashes = hashes",
		"DELETE FROM ledger.tree_hash_runs",
		"UPDATE ledger.checkpoints SET root = root",
		"DELETE FROM ledger.checkpoints",
	}
	for _, who := range []struct{ name, url string }{{"application role", db.app}, {"superuser owner", db.admin}} {
		conn := connectT(t, who.url)
		for _, sql := range stmts {
			t.Run(who.name+"/"+sql, func(t *testing.T) {
				scoped(t, conn, "", func(tx pgx.Tx) {
					if _, err := tx.Exec(ctx, "SELECT set_config('app.scope', 'system', true)"); err != nil {
						t.Fatal(err)
					}
					tag, err := tx.Exec(ctx, sql)
					if sqlState(err) != "42501" {
						t.Fatalf("got %v (%s), want refusal with 42501", err, tag)
					}
				})
			})
		}
	}
	// A checkpoint's note may be filled in once, never changed.
	conn := connectT(t, db.admin)
	scoped(t, conn, "", func(tx pgx.Tx) {
		if _, err := tx.Exec(ctx, "UPDATE ledger.checkpoints SET note = 'n' WHERE size = 0 AND note IS NULL"); err != nil {
			t.Fatalf("fill in a note: %v", err)
		}
		if _, err := tx.Exec(ctx, "UPDATE ledger.checkpoints SET note = 'm' WHERE size = 0"); sqlState(err) != "42501" {
			t.Fatalf("change a note: got %v, want 42501", err)
		}
	})
}
