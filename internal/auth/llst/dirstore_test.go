package llst

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (-want +got):\n%s", name, cmp.Diff(string(want), string(got)))
	}
}

func goldenKey(t *testing.T) Key {
	t.Helper()
	k, err := newKey(newRand(7), t0.Add(-time.Hour), t0.Add(-time.Hour), t0, t0.Add(24*time.Hour+16*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestKeyFileGolden(t *testing.T) {
	k := goldenKey(t)
	data, err := MarshalKey(k)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "key.json", data)
	back, err := UnmarshalKey(data)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Equal(k) {
		t.Errorf("round trip: got %+v, want %+v", back.Info(), k.Info())
	}
}

func TestUnmarshalKeyRejects(t *testing.T) {
	k := goldenKey(t)
	data, err := MarshalKey(k)
	if err != nil {
		t.Fatal(err)
	}
	other := goldenKey(t)
	other.Private = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32))
	otherData, _ := MarshalKey(other)

	edit := func(f func(m map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	jwkOf := func(b []byte) map[string]any {
		var m map[string]any
		json.Unmarshal(b, &m)
		return m["private_jwk"].(map[string]any)
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"truncated", data[:len(data)/2]},
		{"trailing data", append(append([]byte{}, data...), []byte(`{}`)...)},
		{"other format", edit(func(m map[string]any) { m["format"] = "logline-llst-key/2" })},
		{"unknown field", edit(func(m map[string]any) { m["revoked"] = true })},
		{"bad kid", edit(func(m map[string]any) { m["kid"] = "../../etc/passwd" })},
		{"kid differs from the jwk's", edit(func(m map[string]any) { m["kid"] = "llst-20260301-00000000" })},
		{"public half of another key", edit(func(m map[string]any) {
			j := m["private_jwk"].(map[string]any)
			j["x"] = jwkOf(otherData)["x"]
		})},
		{"no private part", edit(func(m map[string]any) { delete(m["private_jwk"].(map[string]any), "d") })},
		{"jwk alg RS256", edit(func(m map[string]any) { m["private_jwk"].(map[string]any)["alg"] = "RS256" })},
		{"published after active", edit(func(m map[string]any) { m["publish_at"] = t0.Add(time.Minute) })},
		{"retired before active", edit(func(m map[string]any) { m["retire_at"] = t0 })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := UnmarshalKey(tt.data); !errors.Is(err, ErrBadKeyFile) {
				t.Errorf("got %v, want ErrBadKeyFile", err)
			}
		})
	}
}

func TestDirStoreModes(t *testing.T) {
	e := newEnv(t)
	// t.TempDir made e.dir itself; the store makes DATA/keys/llst.
	sub := filepath.Join(e.dir, "keys", "llst")
	s := NewDirStore(sub, discard())
	if err := s.Update(context.Background(), func([]Key) (Change, error) { return Change{Add: []Key{goldenKey(t)}}, nil }); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(sub); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("key directory mode %v, %v; want 0700", fi.Mode().Perm(), err)
	}
	for _, name := range keyFiles(t, e.dir) {
		fi, err := os.Stat(filepath.Join(e.dir, name))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v; want 0600", name, fi.Mode().Perm(), err)
		}
	}
}

// TestDirStoreCrashLeftovers: what a crash (or a disk problem) can leave
// in the directory is never loaded, is logged once, and the temporary
// file of an interrupted write goes at the next change.
func TestDirStoreCrashLeftovers(t *testing.T) {
	ctx := context.Background()
	var logs logBuffer
	dir := t.TempDir()
	c := newClock(t0)
	r, err := Open(ctx, Config{Store: NewDirStore(dir, logs.logger()), Issuer: testIssuer, Now: c.Now, Rand: newRand(3), Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	good := r.Keys()

	full, err := MarshalKey(goldenKey(t))
	if err != nil {
		t.Fatal(err)
	}
	kid := goldenKey(t).ID
	torn := "." + kid + ".json.tmp4242" // what durable.WriteFile leaves when killed mid-write
	files := map[string][]byte{
		torn:                          full[:len(full)/3],
		"llst-20260301-aaaaaaaa.json": []byte(`{"format":"logline-llst-key/1","kid":"llst-2026`), // torn in place (a disk problem)
		"llst-20260301-bbbbbbbb.json": full,                                                      // the name disagrees with the kid
		"notes.txt":                   []byte("hello"),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if err := r.Reload(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff(good, r.Keys()); diff != "" {
		t.Errorf("loaded keys changed (-want +got):\n%s", diff)
	}
	out := logs.String()
	for _, want := range []string{
		"ignoring the temporary file of an interrupted key write",
		"ignoring an LLST key file that does not load",
		"ignoring a file that is not an LLST key file",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	for name := range files {
		if n := strings.Count(out, "file="+name); n != 1 {
			t.Errorf("%s reported %d times, want once:\n%s", name, n, out)
		}
	}

	// The next change under the lock deletes the temporary file.
	c.Set(t0.Add(24 * time.Hour))
	if err := r.Rotate(ctx, c.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, torn)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary file after a rotation: %v, want removed", err)
	}
	if !strings.Contains(logs.String(), "removed the temporary file of an interrupted key write") {
		t.Errorf("removal not logged:\n%s", logs.String())
	}
}

func TestDirStoreUpdate(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := NewDirStore(dir, discard())
	k := goldenKey(t)
	add := func([]Key) (Change, error) { return Change{Add: []Key{k}}, nil }
	if err := s.Update(ctx, add); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, add); err == nil || !strings.Contains(err.Error(), "already stored") {
		t.Errorf("adding a stored kid: got %v", err)
	}
	if err := s.Update(ctx, func([]Key) (Change, error) { return Change{Remove: []string{"../x"}}, nil }); err == nil {
		t.Error("removing an invalid kid: got nil")
	}
	boom := errors.New("boom")
	if err := s.Update(ctx, func([]Key) (Change, error) { return Change{}, boom }); !errors.Is(err, boom) {
		t.Errorf("fn's error: got %v", err)
	}

	// A held lock makes Update wait until its context ends.
	unlock, err := s.lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := NewDirStore(dir, discard()).Update(cctx, add); !errors.Is(err, context.Canceled) {
		t.Errorf("Update with the lock held elsewhere: got %v, want context.Canceled", err)
	}
	unlock()
	if err := s.Update(ctx, func(keys []Key) (Change, error) {
		if len(keys) != 1 || !keys[0].Equal(k) {
			t.Errorf("Update saw %d keys", len(keys))
		}
		return Change{Remove: []string{k.ID}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if keys, err := s.Load(ctx); err != nil || len(keys) != 0 {
		t.Errorf("after removal: %d keys, %v", len(keys), err)
	}
	if keys, err := NewDirStore(filepath.Join(dir, "missing"), discard()).Load(ctx); err != nil || keys != nil {
		t.Errorf("missing directory: %v, %v; want no keys, no error", keys, err)
	}
}

// memStore is a KeyStore in memory: what a database-backed store has to
// do, in a few lines.
type memStore struct {
	mu   chan struct{}
	keys map[string]Key
}

func newMemStore() *memStore { return &memStore{mu: make(chan struct{}, 1), keys: map[string]Key{}} }

func (m *memStore) Load(ctx context.Context) ([]Key, error) {
	m.mu <- struct{}{}
	defer func() { <-m.mu }()
	var out []Key
	for _, k := range m.keys {
		out = append(out, k)
	}
	return out, nil
}

func (m *memStore) Update(ctx context.Context, fn func([]Key) (Change, error)) error {
	select {
	case m.mu <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-m.mu }()
	var cur []Key
	for _, k := range m.keys {
		cur = append(cur, k)
	}
	ch, err := fn(cur)
	if err != nil {
		return err
	}
	for _, k := range ch.Add {
		if _, ok := m.keys[k.ID]; ok {
			return errors.New("exists")
		}
		m.keys[k.ID] = k
	}
	for _, id := range ch.Remove {
		delete(m.keys, id)
	}
	return nil
}

func TestOtherKeyStore(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Store = newMemStore() })
	if _, err := e.verifier.Verify(e.issue(writerClaims())); err != nil {
		t.Fatal(err)
	}
	if n := len(keyFiles(t, e.dir)); n != 0 {
		t.Errorf("%d key files with a memory store", n)
	}
}
