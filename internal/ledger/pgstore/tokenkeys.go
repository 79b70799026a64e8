package pgstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/logline/logline/internal/ledger"
)

// ErrTokenKeyExists: an Update added a kid that is stored already.
var ErrTokenKeyExists = errors.New("token key already stored")

// MaxTokenKeySize bounds one stored key (the table's CHECK says the same).
const MaxTokenKeySize = 64 << 10

// maxTokenKeyID bounds a kid (the table's CHECK says the same).
const maxTokenKeyID = 128

// TokenKeys is the table of session-token (LLST) signing keys,
// ledger.llst_keys, shared by every node on the database: a token one
// node signs verifies at every other. It stores each key as opaque bytes
// under its kid (package llst's key file, private key included; internal/cli
// adapts TokenKeys to llst.KeyStore) and never changes a stored key:
// Update adds and removes.
//
// Every transaction runs as logline_app in the system scope (the table's
// policy admits nothing else), at READ COMMITTED. Safe for concurrent use,
// also by several processes and nodes.
type TokenKeys struct {
	pool   *pgxpool.Pool
	user   string      // app.user_id
	closed func() bool // the owning Store is closed (nil: own pool)
	close  func()      // closes an own pool (nil: the Store's)
}

// TokenKeys returns the token-key table on s's connections, usable until
// s is closed (then its methods fail with ledger.ErrClosed).
func (s *Store) TokenKeys() *TokenKeys {
	return &TokenKeys{pool: s.pool, user: s.user, closed: s.isClosed}
}

// OpenTokenKeys connects to the database at url for a process that has
// no Store (logline token issue): at most two connections, opened as
// needed. The database must be at SchemaVersion (Migrate). Close releases
// the connections.
func OpenTokenKeys(ctx context.Context, url string) (*TokenKeys, error) {
	pc, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres URL: %w", err)
	}
	pc.MaxConns = 2
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to postgres %s:%d: %w", pc.ConnConfig.Host, pc.ConnConfig.Port, err)
	}
	err = checkSchema(ctx, conn.Conn())
	conn.Release()
	if err != nil {
		pool.Close()
		return nil, err
	}
	host, _ := os.Hostname()
	return &TokenKeys{pool: pool, user: "system:token-keys/" + host + "/" + strconv.Itoa(os.Getpid()), close: pool.Close}, nil
}

// Close releases the connections of OpenTokenKeys; on a Store's
// TokenKeys it does nothing (Store.Close does).
func (k *TokenKeys) Close() {
	if k.close != nil {
		k.close()
	}
}

// Load returns every stored key by kid.
func (k *TokenKeys) Load(ctx context.Context) (map[string][]byte, error) {
	var keys map[string][]byte
	err := k.inTx(ctx, true, func(tx pgx.Tx) error {
		var err error
		keys, err = readTokenKeys(ctx, tx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("load token keys: %w", err)
	}
	return keys, nil
}

// Update runs fn with the stored keys and applies what it returns: add
// (kid → bytes) is inserted, then the kids in remove are deleted (a kid
// not stored is no error). All of it happens in one transaction holding
// the token-key advisory lock (pg_advisory_xact_lock, released at COMMIT
// or ROLLBACK, never the commit lock), taken before the keys are read: an
// Update on any node waits for the one in flight and then sees what it
// committed, so none is lost. An error from fn is returned as is and
// changes nothing; adding a stored kid fails with ErrTokenKeyExists and
// changes nothing either. fn may run while other nodes wait: keep it
// short.
func (k *TokenKeys) Update(ctx context.Context, fn func(cur map[string][]byte) (add map[string][]byte, remove []string, err error)) error {
	var fnErr error
	err := k.inTx(ctx, false, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", tokenKeysLockKey); err != nil {
			return fmt.Errorf("take the token key lock: %w", err)
		}
		cur, err := readTokenKeys(ctx, tx)
		if err != nil {
			return err
		}
		add, remove, err := fn(cur)
		if err != nil {
			fnErr = err
			return err
		}
		kids := make([]string, 0, len(add))
		vals := make([][]byte, 0, len(add))
		for kid := range add {
			kids = append(kids, kid)
		}
		slices.Sort(kids)
		for _, kid := range kids {
			if _, ok := cur[kid]; ok {
				return fmt.Errorf("add %s: %w", kid, ErrTokenKeyExists)
			}
			if kid == "" || len(kid) > maxTokenKeyID {
				return fmt.Errorf("add token key: kid %q: empty or longer than %d bytes", kid, maxTokenKeyID)
			}
			if len(add[kid]) == 0 || len(add[kid]) > MaxTokenKeySize {
				return fmt.Errorf("add %s: %d bytes, want 1 to %d", kid, len(add[kid]), MaxTokenKeySize)
			}
			vals = append(vals, add[kid])
		}
		if len(kids) > 0 {
			if _, err := tx.Exec(ctx, `INSERT INTO ledger.llst_keys (kid, key_file)
				SELECT * FROM unnest($1::text[], $2::bytea[])`, kids, vals); err != nil {
				return fmt.Errorf("add token keys: %w", err)
			}
		}
		if len(remove) > 0 {
			if _, err := tx.Exec(ctx, "DELETE FROM ledger.llst_keys WHERE kid = ANY($1::text[])", remove); err != nil {
				return fmt.Errorf("remove token keys: %w", err)
			}
		}
		return nil
	})
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		return fmt.Errorf("update token keys: %w", err)
	}
	return nil
}

// inTx runs fn in a system-scope transaction at READ COMMITTED: each
// statement sees what committed before it started, so a read after the
// lock sees the previous holder's writes (REPEATABLE READ, if it were a
// server's default, would read the snapshot of the first statement).
func (k *TokenKeys) inTx(ctx context.Context, readOnly bool, fn func(pgx.Tx) error) error {
	if k.closed != nil && k.closed() {
		return ledger.ErrClosed
	}
	opts := pgx.TxOptions{IsoLevel: pgx.ReadCommitted}
	if readOnly {
		opts.AccessMode = pgx.ReadOnly
	}
	return pgx.BeginTxFunc(ctx, k.pool, opts, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, setupSQL, "system", "", k.user); err != nil {
			return fmt.Errorf("postgres session setup: %w", err)
		}
		return fn(tx)
	})
}

func readTokenKeys(ctx context.Context, tx pgx.Tx) (map[string][]byte, error) {
	rows, err := tx.Query(ctx, "SELECT kid, key_file FROM ledger.llst_keys")
	if err != nil {
		return nil, fmt.Errorf("read token keys: %w", err)
	}
	keys := map[string][]byte{}
	var (
		kid string
		b   []byte
	)
	_, err = pgx.ForEachRow(rows, []any{&kid, &b}, func() error {
		keys[kid] = b
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read token keys: %w", err)
	}
	return keys, nil
}
