package cli

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/logline/logline/internal/auth"
	"github.com/logline/logline/internal/auth/llst"
	"github.com/logline/logline/internal/ledger/pgstore"
	"github.com/logline/logline/internal/ledger/pgstore/pgtest"
)

// tokenKeysClock is a settable clock shared by the keyrings of a test.
type tokenKeysClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *tokenKeysClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *tokenKeysClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// tokenKeysDB returns a migrated test database.
func tokenKeysDB(t *testing.T) string {
	t.Helper()
	u := pgtest.NewDatabase(t)
	if _, err := pgstore.Migrate(context.Background(), u, nil); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return u
}

// openPGTokenKeys is one node's view of the database's token keys.
func openPGTokenKeys(t *testing.T, u string, log *slog.Logger) (*pgTokenKeys, *pgstore.TokenKeys) {
	t.Helper()
	tk, err := pgstore.OpenTokenKeys(context.Background(), u)
	if err != nil {
		t.Fatalf("open token keys: %v", err)
	}
	t.Cleanup(tk.Close)
	return newPGTokenKeys(tk, log), tk
}

func kids(infos []llst.KeyInfo) []string {
	out := make([]string, len(infos))
	for i, k := range infos {
		out[i] = k.ID
	}
	return out
}

// TestPGTokenKeysShared: two nodes, each with its own keyring on its own
// connection to one database. A token issued by one verifies at the
// other, and the keys one node's rotation creates (and retires) reach
// the other at its next Reload.
func TestPGTokenKeysShared(t *testing.T) {
	u := tokenKeysDB(t)
	ctx := context.Background()
	clk := &tokenKeysClock{t: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
	open := func() *llst.Keyring {
		store, _ := openPGTokenKeys(t, u, nil)
		ring, err := llst.Open(ctx, llst.Config{Store: store, Issuer: llstIssuer("test.example/log"), Now: clk.Now})
		if err != nil {
			t.Fatalf("open keyring: %v", err)
		}
		return ring
	}
	a, b := open(), open()
	if len(a.Keys()) != 2 || !cmp.Equal(a.Keys(), b.Keys()) {
		t.Fatalf("after opening: node a has %v, node b %v; want the same signing key and its successor", kids(a.Keys()), kids(b.Keys()))
	}
	claims := llst.Claims{Subject: "sa_test", Tenant: DefaultTenant, Roles: []string{auth.RoleWriter},
		Grants: auth.Grants(auth.BuiltinRoles()[auth.RoleWriter]), Kind: auth.KindService}
	issueAt := func(ring *llst.Keyring) string {
		t.Helper()
		tok, _, err := llst.NewIssuer(ring).Issue(ctx, claims)
		if err != nil {
			t.Fatalf("issue: %v", err)
		}
		return tok
	}
	verifyAt := func(ring *llst.Keyring, tok string) (*auth.Principal, error) {
		return llst.NewVerifier(ring).Verify(tok)
	}

	tok := issueAt(a)
	p, err := verifyAt(b, tok)
	if err != nil {
		t.Fatalf("a token of node a at node b: %v", err)
	}
	if p.KeyID != a.Keys()[0].ID || p.Tenant != DefaultTenant {
		t.Fatalf("got %+v, want kid %s, tenant %s", p, a.Keys()[0].ID, DefaultTenant)
	}
	if _, err := verifyAt(a, issueAt(b)); err != nil {
		t.Fatalf("a token of node b at node a: %v", err)
	}

	// The second key starts signing: node a's rotation plans a third.
	every := a.Config().RotateEvery
	clk.Add(every)
	if err := a.Rotate(ctx, clk.Now()); err != nil {
		t.Fatal(err)
	}
	if len(a.Keys()) != 3 || len(b.Keys()) != 2 {
		t.Fatalf("after a's rotation: a has %v, b %v; want 3 and 2", kids(a.Keys()), kids(b.Keys()))
	}
	if _, err := verifyAt(b, issueAt(a)); err != nil { // signed by the second key, which b has
		t.Fatalf("after a's rotation, before b's reload: %v", err)
	}
	// The third key signs, the first retires: b, not reloaded, does not
	// know the signer until it reloads.
	clk.Add(every)
	if err := a.Rotate(ctx, clk.Now()); err != nil {
		t.Fatal(err)
	}
	tok = issueAt(a)
	if _, err := verifyAt(b, tok); !errors.Is(err, llst.ErrUnknownKey) {
		t.Fatalf("a token of a's new key at b before its reload: got %v, want ErrUnknownKey", err)
	}
	if err := b.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(a.Keys(), b.Keys()); d != "" {
		t.Fatalf("after b's reload (-a +b):\n%s", d)
	}
	if p, err := verifyAt(b, tok); err != nil || p.KeyID != a.Keys()[1].ID {
		t.Fatalf("after b's reload: got %+v, %v; want a token signed by %s", p, err, a.Keys()[1].ID)
	}
	// b's own rotation at the same moment finds nothing left to do.
	before := kids(b.Keys())
	if err := b.Rotate(ctx, clk.Now()); err != nil || !cmp.Equal(kids(b.Keys()), before) {
		t.Fatalf("b's rotation after a's: %v, keys %v, want %v unchanged", err, kids(b.Keys()), before)
	}

	// Emptying the table (docs/postgres.md, after a leak): the next
	// rotation anywhere makes a new key, and every node refuses the old
	// keys' tokens once it reloads.
	pgtest.Exec(t, u, "DELETE FROM ledger.llst_keys")
	if err := b.Rotate(ctx, clk.Now()); err != nil {
		t.Fatal(err)
	}
	if err := a.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := verifyAt(a, tok); !errors.Is(err, llst.ErrUnknownKey) {
		t.Fatalf("a token of a deleted key: got %v, want ErrUnknownKey", err)
	}
	if _, err := verifyAt(a, issueAt(b)); err != nil || slices.Contains(kids(a.Keys()), before[0]) {
		t.Fatalf("after the keys were replaced: %v, keys %v", err, kids(a.Keys()))
	}
}

// TestPGTokenKeysBadRows: a row that is not a key file, or holds another
// kid's key, is left out of Load and Update and logged once; the others
// work. Adding a stored kid, and an error of the update function, change
// nothing.
func TestPGTokenKeysBadRows(t *testing.T) {
	u := tokenKeysDB(t)
	ctx := context.Background()
	var logs syncBuf
	store, raw := openPGTokenKeys(t, u, slog.New(slog.NewTextHandler(&logs, nil)))
	ring, err := llst.Open(ctx, llst.Config{Store: store, Issuer: llstIssuer("test.example/log")})
	if err != nil {
		t.Fatal(err)
	}
	good, err := store.Load(ctx)
	if err != nil || len(good) != 2 {
		t.Fatalf("load: %d keys, %v; want 2", len(good), err)
	}
	moved, err := llst.MarshalKey(good[0])
	if err != nil {
		t.Fatal(err)
	}
	const garbled, misfiled = "llst-20260301-deadbeef", "llst-20990101-00000000"
	err = raw.Update(ctx, func(map[string][]byte) (map[string][]byte, []string, error) {
		return map[string][]byte{garbled: []byte("{not a key"), misfiled: moved}, nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		keys, err := store.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(good, keys, cmp.Comparer(llst.Key.Equal)); d != "" {
			t.Fatalf("load with bad rows (-want +got):\n%s", d)
		}
	}
	if err := ring.Reload(ctx); err != nil {
		t.Fatalf("reload with bad rows: %v", err)
	}
	for _, kid := range []string{garbled, misfiled} {
		if n := strings.Count(logs.String(), "kid="+kid); n != 1 {
			t.Errorf("row %s logged %d times, want once:\n%s", kid, n, logs.String())
		}
	}

	errStop := errors.New("stop")
	for _, tc := range []struct {
		name string
		fn   func([]llst.Key) (llst.Change, error)
		want error
	}{
		{"fn sees the good keys", func(keys []llst.Key) (llst.Change, error) {
			if len(keys) != len(good) {
				return llst.Change{}, errors.New("fn was given the bad rows")
			}
			return llst.Change{}, nil
		}, nil},
		{"fn's error", func([]llst.Key) (llst.Change, error) {
			return llst.Change{Remove: []string{good[0].ID}}, errStop
		}, errStop},
		{"adding a stored kid", func(keys []llst.Key) (llst.Change, error) {
			return llst.Change{Add: []llst.Key{keys[1]}, Remove: []string{keys[0].ID}}, nil
		}, pgstore.ErrTokenKeyExists},
		{"removing an invalid kid", func([]llst.Key) (llst.Change, error) {
			return llst.Change{Remove: []string{"../x"}}, nil
		}, errSome},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := store.Update(ctx, tc.fn)
			switch {
			case tc.want == nil && err != nil, tc.want == errSome && err == nil,
				tc.want != nil && tc.want != errSome && !errors.Is(err, tc.want):
				t.Fatalf("update: got %v, want %v", err, tc.want)
			}
			keys, err := store.Load(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(good, keys, cmp.Comparer(llst.Key.Equal)); d != "" {
				t.Fatalf("keys changed (-want +got):\n%s", d)
			}
		})
	}
}

// errSome in a test table: any error.
var errSome = errors.New("some error")
