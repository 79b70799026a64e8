package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/ledger/pgstore/pgtest"
)

func openTokenKeys(t *testing.T, u string) *TokenKeys {
	t.Helper()
	k, err := OpenTokenKeys(context.Background(), u)
	if err != nil {
		t.Fatalf("open token keys: %v", err)
	}
	t.Cleanup(k.Close)
	return k
}

func loadTokenKeys(t *testing.T, k *TokenKeys) map[string]string {
	t.Helper()
	keys, err := k.Load(context.Background())
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	out := map[string]string{}
	for kid, b := range keys {
		out[kid] = string(b)
	}
	return out
}

// change returns an Update function that adds and removes.
func change(add map[string]string, remove ...string) func(map[string][]byte) (map[string][]byte, []string, error) {
	return func(map[string][]byte) (map[string][]byte, []string, error) {
		a := map[string][]byte{}
		for kid, v := range add {
			a[kid] = []byte(v)
		}
		return a, remove, nil
	}
}

func TestTokenKeysRoundTrip(t *testing.T) {
	u := newLedgerDB(t)
	ctx := context.Background()
	s := openStore(t, Config{URL: u, Node: "a"})
	onStore, own := s.TokenKeys(), openTokenKeys(t, u)

	if got := loadTokenKeys(t, own); len(got) != 0 {
		t.Fatalf("a new database holds keys %v", got)
	}
	errFn := errors.New("fn refused")
	steps := []struct {
		name    string
		keys    *TokenKeys
		fn      func(map[string][]byte) (map[string][]byte, []string, error)
		wantErr error // nil: the update applies
		want    map[string]string
	}{
		{"add two", onStore, change(map[string]string{"k1": "one", "k2": "two\x00\xff"}), nil,
			map[string]string{"k1": "one", "k2": "two\x00\xff"}},
		{"add and remove", own, change(map[string]string{"k3": "three"}, "k1", "absent"), nil,
			map[string]string{"k2": "two\x00\xff", "k3": "three"}},
		{"add a stored kid", onStore, change(map[string]string{"k0": "zero", "k3": "again"}), ErrTokenKeyExists,
			map[string]string{"k2": "two\x00\xff", "k3": "three"}},
		{"fn fails", own, func(map[string][]byte) (map[string][]byte, []string, error) {
			return map[string][]byte{"k4": []byte("four")}, []string{"k2"}, errFn
		}, errFn, map[string]string{"k2": "two\x00\xff", "k3": "three"}},
		{"empty key", own, change(map[string]string{"k4": ""}), errAny,
			map[string]string{"k2": "two\x00\xff", "k3": "three"}},
		{"empty kid", own, change(map[string]string{"": "x"}), errAny,
			map[string]string{"k2": "two\x00\xff", "k3": "three"}},
		{"remove all", onStore, change(nil, "k2", "k3"), nil, map[string]string{}},
	}
	prev := map[string]string{}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			var seen map[string]string
			err := st.keys.Update(ctx, func(cur map[string][]byte) (map[string][]byte, []string, error) {
				seen = map[string]string{}
				for kid, b := range cur {
					seen[kid] = string(b)
				}
				return st.fn(cur)
			})
			switch {
			case st.wantErr == nil && err != nil:
				t.Fatalf("update: %v", err)
			case st.wantErr == errAny && err == nil:
				t.Fatal("update: no error, want one")
			case st.wantErr != nil && st.wantErr != errAny && !errors.Is(err, st.wantErr):
				t.Fatalf("update: got %v, want %v", err, st.wantErr)
			}
			if st.wantErr == errFn && err != errFn {
				t.Fatalf("fn's error came back as %v, want it as is", err)
			}
			for _, k := range []*TokenKeys{onStore, own} {
				if d := cmp.Diff(st.want, loadTokenKeys(t, k)); d != "" {
					t.Fatalf("after the update (-want +got):\n%s", d)
				}
			}
			if d := cmp.Diff(prev, seen); d != "" {
				t.Fatalf("fn was given (-want +got):\n%s", d)
			}
			prev = st.want
		})
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := onStore.Load(ctx); !errors.Is(err, ledger.ErrClosed) {
		t.Fatalf("load after the store closed: got %v, want ErrClosed", err)
	}
	if _, err := OpenTokenKeys(ctx, pgtest.NewDatabase(t)); !errors.Is(err, ErrSchemaVersion) {
		t.Fatalf("open token keys on an unmigrated database: got %v, want ErrSchemaVersion", err)
	}
}

// errAny in a test table: some error.
var errAny = errors.New("any error")

// TestTokenKeysConcurrentUpdates increments a counter kept as the one
// stored key, from two nodes at once: with every Update serialized and
// reading what the previous one committed, no increment is lost and no
// two fns ever run at the same time.
func TestTokenKeysConcurrentUpdates(t *testing.T) {
	u := newLedgerDB(t)
	ctx := context.Background()
	nodes := []*TokenKeys{openStore(t, Config{URL: u, Node: "a"}).TokenKeys(), openStore(t, Config{URL: u, Node: "b"}).TokenKeys()}
	kid := func(n int) string { return fmt.Sprintf("counter-%04d", n) }
	if err := nodes[0].Update(ctx, change(map[string]string{kid(0): "0"})); err != nil {
		t.Fatal(err)
	}
	const workersPerNode, updates = 2, 15
	var (
		inside, overlaps atomic.Int32
		wg               sync.WaitGroup
	)
	for _, k := range nodes {
		for range workersPerNode {
			wg.Go(func() {
				for range updates {
					err := k.Update(ctx, func(cur map[string][]byte) (map[string][]byte, []string, error) {
						if inside.Add(1) > 1 {
							overlaps.Add(1)
						}
						defer inside.Add(-1)
						if len(cur) != 1 {
							return nil, nil, fmt.Errorf("want one counter key, got %d", len(cur))
						}
						for id, b := range cur {
							n, err := strconv.Atoi(string(b))
							if err != nil || id != kid(n) {
								return nil, nil, fmt.Errorf("counter key %s holds %q", id, b)
							}
							return map[string][]byte{kid(n + 1): []byte(strconv.Itoa(n + 1))}, []string{id}, nil
						}
						panic("unreachable")
					})
					if err != nil {
						t.Errorf("update: %v", err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	if n := overlaps.Load(); n != 0 {
		t.Errorf("%d Update fns ran while another was running", n)
	}
	total := len(nodes) * workersPerNode * updates
	want := map[string]string{kid(total): strconv.Itoa(total)}
	for _, k := range nodes {
		if d := cmp.Diff(want, loadTokenKeys(t, k)); d != "" {
			t.Fatalf("after %d increments (-want +got):\n%s", total, d)
		}
	}
}

// TestTokenKeysLockWait: an Update waits on the token-key advisory lock
// while another holds it (seen in pg_locks), gives up when its context
// ends, and the holder's change stands.
func TestTokenKeysLockWait(t *testing.T) {
	u := newLedgerDB(t)
	ctx := context.Background()
	a, b := openTokenKeys(t, u), openTokenKeys(t, u)
	holding, release := make(chan struct{}), make(chan struct{})
	aErr := make(chan error, 1)
	go func() {
		aErr <- a.Update(ctx, func(map[string][]byte) (map[string][]byte, []string, error) {
			close(holding)
			<-release
			return map[string][]byte{"held": []byte("a")}, nil, nil
		})
	}()
	<-holding
	bctx, cancel := context.WithCancel(ctx)
	defer cancel()
	bErr := make(chan error, 1)
	go func() {
		bErr <- b.Update(bctx, func(map[string][]byte) (map[string][]byte, []string, error) {
			return nil, nil, errors.New("ran while the lock was held")
		})
	}()
	conn := connectT(t, u)
	deadline := time.Now().Add(time.Minute) // a bound on a hang, not a timing assertion
	for waiting := int64(0); waiting == 0; {
		if time.Now().After(deadline) {
			t.Fatal("no Update waits on the token-key advisory lock while another holds it")
		}
		err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
			AND objsubid = 1 AND (classid::bigint << 32 | objid::bigint) = $1`, tokenKeysLockKey).Scan(&waiting)
		if err != nil {
			t.Fatal(err)
		}
		if waiting == 0 {
			time.Sleep(5 * time.Millisecond) // polling for a state, not a timed assertion
		}
	}
	cancel()
	if err := <-bErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("waiting update after cancel: got %v, want context.Canceled", err)
	}
	close(release)
	if err := <-aErr; err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[string]string{"held": "a"}, loadTokenKeys(t, b)); d != "" {
		t.Fatalf("(-want +got):\n%s", d)
	}
}

// TestTokenKeysRLS: the keys are the system scope's only. A session as
// logline_app scoped to a tenant, or not scoped, sees no row and can
// neither add, change nor delete one.
func TestTokenKeysRLS(t *testing.T) {
	u := newLedgerDB(t)
	ctx := context.Background()
	if err := openTokenKeys(t, u).Update(ctx, change(map[string]string{"k1": "secret", "k2": "secret"})); err != nil {
		t.Fatal(err)
	}
	conn := connectT(t, appURL(t, u))
	for _, tenant := range []string{"a", ""} {
		t.Run("tenant "+tenant, func(t *testing.T) {
			scoped(t, conn, tenant, func(tx pgx.Tx) {
				if n := queryInt(t, tx, "SELECT count(*) FROM ledger.llst_keys"); n != 0 {
					t.Fatalf("select: %d rows in a tenant scope", n)
				}
				tag, err := tx.Exec(ctx, "DELETE FROM ledger.llst_keys")
				if err != nil || tag.RowsAffected() != 0 {
					t.Fatalf("delete: %v rows, %v; want none deleted", tag.RowsAffected(), err)
				}
			})
			scoped(t, conn, tenant, func(tx pgx.Tx) {
				_, err := tx.Exec(ctx, "INSERT INTO ledger.llst_keys (kid, key_file) VALUES ('forged', 'x')")
				if sqlState(err) != "42501" {
					t.Fatalf("insert: got %v, want a row-level security violation (42501)", err)
				}
			})
			scoped(t, conn, tenant, func(tx pgx.Tx) {
				_, err := tx.Exec(ctx, "UPDATE ledger.llst_keys SET key_file = 'x'")
				if sqlState(err) != "42501" {
					t.Fatalf("update: got %v, want permission denied (42501)", err)
				}
			})
		})
	}
	// The rows are there: the system scope sees them through the same role.
	scoped(t, conn, "", func(tx pgx.Tx) {
		if _, err := tx.Exec(ctx, "SELECT set_config('app.scope', 'system', true)"); err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(queryStrings(t, tx, "SELECT kid FROM ledger.llst_keys ORDER BY kid"), ","); got != "k1,k2" {
			t.Fatalf("system scope: got kids %q, want k1,k2", got)
		}
	})
}
