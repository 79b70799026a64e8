package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// ErrOrigin: the database records another origin than the caller's keys
// are named after.
var ErrOrigin = errors.New("log origin mismatch")

// systemTx runs fn in a system-scope transaction on a new connection.
func systemTx(ctx context.Context, url string, fn func(pgx.Tx) error) error {
	conn, err := connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, setupSQL, "system", "", "system:migrate"); err != nil {
			return fmt.Errorf("postgres session setup: %w", err)
		}
		return fn(tx)
	})
}

// ClaimOrigin records origin as the log's name unless the database
// already records one, and returns the recorded origin. With origin ""
// it only reads ("" when none is recorded). The first server to start on
// a database names the log; every later one, on any node, uses that name.
func ClaimOrigin(ctx context.Context, url, origin string) (string, error) {
	var got *string
	err := systemTx(ctx, url, func(tx pgx.Tx) error {
		if err := checkSchema(ctx, tx.Conn()); err != nil {
			return err
		}
		if origin != "" {
			if _, err := tx.Exec(ctx, "UPDATE ledger.log_state SET origin = $1 WHERE origin IS NULL", origin); err != nil {
				return err
			}
		}
		return tx.QueryRow(ctx, "SELECT origin FROM ledger.log_state").Scan(&got)
	})
	if err != nil {
		return "", fmt.Errorf("log origin: %w", err)
	}
	if got == nil {
		return "", nil
	}
	return *got, nil
}

// registerKeys records this node's verifier keys in ledger.log_keys.
func registerKeys(ctx context.Context, tx pgx.Tx, origin, node string, keys []string) error {
	for _, k := range keys {
		name, rest, ok := strings.Cut(k, "+")
		id, _, ok2 := strings.Cut(rest, "+")
		if !ok || !ok2 {
			return fmt.Errorf("register log key: %q is not a verifier key", k)
		}
		if name != origin {
			return fmt.Errorf("register log key: %w: the key is named %q, the database records origin %q", ErrOrigin, name, origin)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO ledger.log_keys (verifier, key_id, node) VALUES ($1, $2, $3)
			ON CONFLICT (verifier) DO NOTHING`, k, id, node); err != nil {
			return fmt.Errorf("register log key: %w", err)
		}
	}
	return nil
}

// LogKeys returns every node's verifier keys, for GET /log/key: this
// node's own (Config.VerifierKeys, in their order) first, then the other
// registered keys, newest first.
func (s *Store) LogKeys(ctx context.Context) ([]string, error) {
	out := append([]string(nil), s.cfg.VerifierKeys...)
	seen := map[string]bool{}
	for _, k := range out {
		seen[k] = true
	}
	err := s.inTx(ctx, systemScope, true, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, "SELECT verifier FROM ledger.log_keys ORDER BY created_at DESC, verifier")
		if err != nil {
			return err
		}
		var v string
		_, err = pgx.ForEachRow(rows, []any{&v}, func() error {
			if !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
			return nil
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("log keys: %w", err)
	}
	return out, nil
}
