package pgstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// migrationFiles are the schema migrations, applied in version order.
// A migration is never edited once released: changes go in a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one versioned SQL file, NNNN_name.sql.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations parses the embedded files: versions must be dense from 1.
func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, n := range names {
		base := strings.TrimSuffix(path.Base(n), ".sql")
		num, name, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: want NNNN_name.sql", n)
		}
		b, err := migrationFiles.ReadFile(n)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: name, sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration versions must be dense from 1: got %d at position %d", m.version, i+1)
		}
	}
	return ms, nil
}

// SchemaVersion is the schema version this build writes and reads.
func SchemaVersion() int {
	ms, err := migrations()
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

// Advisory lock keys (pg_advisory_lock is per database). Arbitrary
// constants: "LLmigr", "LLcommit" and "LLtokens" as big-endian bytes.
const (
	migrateLockKey   int64 = 0x4c4c6d69677200
	commitLockKey    int64 = 0x4c4c636f6d6d6974
	tokenKeysLockKey int64 = 0x4c4c746f6b656e73 // TokenKeys.Update
)

// bootstrapSQL creates the version table itself. It lives in the ledger
// schema, so it gets row-level security like every other table there (no
// grant to the application role: only migrate reads it).
const bootstrapSQL = `
CREATE SCHEMA IF NOT EXISTS ledger;
CREATE TABLE IF NOT EXISTS ledger.schema_migrations (
  version     integer     PRIMARY KEY,
  name        text        NOT NULL,
  applied_at  timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE ledger.schema_migrations ENABLE ROW LEVEL SECURITY;
ALTER TABLE ledger.schema_migrations FORCE ROW LEVEL SECURITY;
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_policies WHERE schemaname = 'ledger' AND tablename = 'schema_migrations') THEN
    CREATE POLICY sm_migrator ON ledger.schema_migrations USING (true) WITH CHECK (true);
  END IF;
END $$;
`

// Migrate brings the database at url to the latest schema version and
// returns the versions it applied (none when it was up to date). It is
// safe to run concurrently (a session advisory lock serializes runs) and
// repeatedly (applied versions are recorded in ledger.schema_migrations).
// Each migration runs in its own transaction. The URL's user needs the
// rights to create schemas, tables and the logline_app role (an
// administrator: docs/postgres.md). A database whose schema is newer than
// this build fails with ErrSchemaVersion.
func Migrate(ctx context.Context, url string, log *slog.Logger) ([]int, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ms, err := migrations()
	if err != nil {
		return nil, err
	}
	conn, err := connect(ctx, url)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrateLockKey); err != nil {
		return nil, fmt.Errorf("migrate: take the migration lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrateLockKey) //nolint:errcheck // the session ends right after
	if err := execScript(ctx, conn, bootstrapSQL); err != nil {
		return nil, fmt.Errorf("migrate: create ledger.schema_migrations: %w", err)
	}
	applied, err := appliedVersions(ctx, conn)
	if err != nil {
		return nil, err
	}
	if len(applied) > 0 && applied[len(applied)-1] > len(ms) {
		return nil, fmt.Errorf("%w: the database is at version %d, this build knows %d", ErrSchemaVersion, applied[len(applied)-1], len(ms))
	}
	done := map[int]bool{}
	for _, v := range applied {
		done[v] = true
	}
	var ran []int
	for _, m := range ms {
		if done[m.version] {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if err := execScript(ctx, tx.Conn(), m.sql); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO ledger.schema_migrations (version, name) VALUES ($1, $2)", m.version, m.name)
			return err
		})
		if err != nil {
			return ran, fmt.Errorf("migrate: version %d (%s): %w", m.version, m.name, err)
		}
		log.Info("schema migration applied", "version", m.version, "name", m.name)
		ran = append(ran, m.version)
	}
	return ran, nil
}

// ErrSchemaVersion: the database's schema is not the one this build uses
// (older: run migrate; newer: upgrade logline).
var ErrSchemaVersion = errors.New("schema version mismatch")

// execScript runs a multi-statement SQL script with the simple protocol.
func execScript(ctx context.Context, conn *pgx.Conn, sql string) error {
	_, err := conn.PgConn().Exec(ctx, sql).ReadAll()
	return err
}

func appliedVersions(ctx context.Context, conn *pgx.Conn) ([]int, error) {
	rows, err := conn.Query(ctx, "SELECT version FROM ledger.schema_migrations ORDER BY version")
	if err != nil {
		return nil, fmt.Errorf("migrate: read applied versions: %w", err)
	}
	vs, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil, fmt.Errorf("migrate: read applied versions: %w", err)
	}
	out := make([]int, len(vs))
	for i, v := range vs {
		out[i] = int(v)
	}
	return out, nil
}

// checkSchema fails unless the database is at exactly SchemaVersion.
func checkSchema(ctx context.Context, conn *pgx.Conn) error {
	var (
		exists bool
		v      *int32
	)
	err := conn.QueryRow(ctx, "SELECT to_regclass('ledger.schema_migrations') IS NOT NULL").Scan(&exists)
	if err == nil && exists {
		err = conn.QueryRow(ctx, "SELECT max(version) FROM ledger.schema_migrations").Scan(&v)
	}
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	want := SchemaVersion()
	switch {
	case v == nil || *v == 0:
		return fmt.Errorf("%w: the database has no LogLine schema; run 'logline migrate --store URL' (or serve without --no-migrate)", ErrSchemaVersion)
	case int(*v) < want:
		return fmt.Errorf("%w: the database is at version %d, this build needs %d; run 'logline migrate --store URL'", ErrSchemaVersion, *v, want)
	case int(*v) > want:
		return fmt.Errorf("%w: the database is at version %d, newer than this build (%d); upgrade logline", ErrSchemaVersion, *v, want)
	}
	return nil
}
