package tlog

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

func TestLoadOrCreateKeys(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "keys")
	k, err := LoadOrCreateKeys(dir, testOrigin, testRand(1), testClock())
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o700 {
		t.Errorf("dir mode: got %o, want 700", got)
	}
	keys := k.Keys()
	if len(keys) != 1 || !keys[0].Active || !keys[0].Retired.IsZero() {
		t.Fatalf("got keys %+v, want one active key", keys)
	}
	for _, name := range []string{KeysFile, keys[0].ID() + ".key"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("%s mode: got %o, want 600", name, got)
		}
	}
	// The key file is a standard signed-note signer key, the verifier key a
	// standard verifier key, both named by the origin.
	skey, err := os.ReadFile(filepath.Join(dir, keys[0].ID()+".key"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(skey), "PRIVATE+KEY+"+testOrigin+"+"+keys[0].ID()+"+") {
		t.Errorf("got key file %q", skey)
	}
	vk := k.VerifierKeys()
	v, err := note.NewVerifier(vk[0])
	if err != nil {
		t.Fatal(err)
	}
	if v.Name() != testOrigin || v.KeyHash() != keys[0].Hash || k.Signer().KeyHash() != keys[0].Hash {
		t.Errorf("got verifier %s+%08x, signer %08x, want %s+%s", v.Name(), v.KeyHash(), k.Signer().KeyHash(), testOrigin, keys[0].ID())
	}

	// Reloading finds the same key and signs verifiable checkpoints.
	k2, err := LoadOrCreateKeys(dir, testOrigin, testRand(2), testClock())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(k2.VerifierKeys(), ","), strings.Join(vk, ","); got != want {
		t.Errorf("after reload: got %s, want %s", got, want)
	}
	if !k2.Keys()[0].Created.Equal(keys[0].Created) {
		t.Errorf("after reload: created %v, want %v", k2.Keys()[0].Created, keys[0].Created)
	}
	msg, err := SignCheckpoint(k2.Signer(), testOrigin, 3, [32]byte{3})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseCheckpoint(msg, k.Verifiers(), testOrigin); err != nil {
		t.Fatal(err)
	}
}

func TestRotate(t *testing.T) {
	dir := t.TempDir()
	k, err := LoadOrCreateKeys(dir, testOrigin, testRand(1), testClock())
	if err != nil {
		t.Fatal(err)
	}
	first := k.Keys()[0]
	old, err := SignCheckpoint(k.Signer(), testOrigin, 1, [32]byte{1})
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Rotate(); err != nil {
		t.Fatal(err)
	}
	keys := k.Keys()
	if len(keys) != 2 || keys[0].Active || !keys[1].Active || keys[0].Retired.IsZero() || !keys[1].Retired.IsZero() {
		t.Fatalf("got keys %+v", keys)
	}
	if k.Signer().KeyHash() != keys[1].Hash {
		t.Errorf("signer: got %08x, want the new key %s", k.Signer().KeyHash(), keys[1].ID())
	}
	if vk := k.VerifierKeys(); len(vk) != 2 || vk[0] != keys[1].Verifier || vk[1] != first.Verifier {
		t.Errorf("got verifier keys %q, want active first", vk)
	}
	if _, err := os.Stat(filepath.Join(dir, first.ID()+".key")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("retired private key file: got %v, want it deleted", err)
	}
	fresh, err := SignCheckpoint(k.Signer(), testOrigin, 2, [32]byte{2})
	if err != nil {
		t.Fatal(err)
	}
	// Both checkpoints verify, also after a reload from disk.
	reloaded, err := LoadOrCreateKeys(dir, testOrigin, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, kr := range []*Keyring{k, reloaded} {
		for _, msg := range [][]byte{old, fresh} {
			if _, err := ParseCheckpoint(msg, kr.Verifiers(), testOrigin); err != nil {
				t.Errorf("%v", err)
			}
		}
	}
	if reloaded.Signer().KeyHash() != keys[1].Hash || !reloaded.Keys()[0].Retired.Equal(keys[0].Retired) {
		t.Errorf("after reload: got %+v, want %+v", reloaded.Keys(), keys)
	}
	// A client that only knows the new key cannot verify the old checkpoint.
	v, _ := note.NewVerifier(keys[1].Verifier)
	if _, err := ParseCheckpoint(old, note.VerifierList(v), testOrigin); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("old checkpoint, new key only: got %v, want ErrUnknownKey", err)
	}
}

func TestLoadKeysErrors(t *testing.T) {
	setup := func(t *testing.T) (string, KeyInfo) {
		dir := t.TempDir()
		k, err := LoadOrCreateKeys(dir, testOrigin, testRand(1), testClock())
		if err != nil {
			t.Fatal(err)
		}
		return dir, k.Keys()[0]
	}
	tests := []struct {
		name   string
		edit   func(t *testing.T, dir string, ki KeyInfo)
		origin string
		want   error
	}{
		{"other origin", func(*testing.T, string, KeyInfo) {}, "other.example/log", ErrWrongOrigin},
		{"manifest not JSON", func(t *testing.T, dir string, _ KeyInfo) {
			writeTestFile(t, filepath.Join(dir, KeysFile), "{")
		}, testOrigin, ErrCorruptKeys},
		{"manifest unknown field", func(t *testing.T, dir string, _ KeyInfo) {
			editTestFile(t, filepath.Join(dir, KeysFile), `"version"`, `"extra":1,"version"`)
		}, testOrigin, ErrCorruptKeys},
		{"manifest version", func(t *testing.T, dir string, _ KeyInfo) {
			editTestFile(t, filepath.Join(dir, KeysFile), `"version": 1`, `"version": 2`)
		}, testOrigin, ErrCorruptKeys},
		{"verifier key replaced", func(t *testing.T, dir string, ki KeyInfo) {
			_, _, vkey := newKey(t, testOrigin, 9)
			editTestFile(t, filepath.Join(dir, KeysFile), ki.Verifier, vkey)
		}, testOrigin, ErrCorruptKeys},
		{"private key missing", func(t *testing.T, dir string, ki KeyInfo) {
			os.Remove(filepath.Join(dir, ki.ID()+".key"))
		}, testOrigin, ErrCorruptKeys},
		{"private key replaced", func(t *testing.T, dir string, ki KeyInfo) {
			skey, _, err := note.GenerateKey(testRand(9), testOrigin)
			if err != nil {
				t.Fatal(err)
			}
			writeTestFile(t, filepath.Join(dir, ki.ID()+".key"), skey)
		}, testOrigin, ErrCorruptKeys},
		{"private key garbage", func(t *testing.T, dir string, ki KeyInfo) {
			writeTestFile(t, filepath.Join(dir, ki.ID()+".key"), "PRIVATE+KEY+nope")
		}, testOrigin, ErrCorruptKeys},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, ki := setup(t)
			tt.edit(t, dir, ki)
			_, err := LoadOrCreateKeys(dir, tt.origin, nil, nil)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
	t.Run("invalid origin", func(t *testing.T) {
		for _, o := range []string{"", "a b", "a+b"} {
			if _, err := LoadOrCreateKeys(t.TempDir(), o, nil, nil); !errors.Is(err, ErrMalformed) {
				t.Errorf("origin %q: got %v, want ErrMalformed", o, err)
			}
		}
	})
}

// TestPrivateKeyForgedHash: a private key with another secret, relabelled
// with the active key's id, is refused.
func TestPrivateKeyForgedHash(t *testing.T) {
	dir := t.TempDir()
	k, err := LoadOrCreateKeys(dir, testOrigin, testRand(1), testClock())
	if err != nil {
		t.Fatal(err)
	}
	ki := k.Keys()[0]
	other, _, err := note.GenerateKey(testRand(7), testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(other, "+")
	parts[3] = ki.ID()
	writeTestFile(t, filepath.Join(dir, ki.ID()+".key"), strings.Join(parts, "+"))
	if _, err := LoadOrCreateKeys(dir, testOrigin, nil, nil); !errors.Is(err, ErrCorruptKeys) {
		t.Fatalf("got %v, want ErrCorruptKeys", err)
	}
}

func writeTestFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func editTestFile(t *testing.T, path, old, new string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		t.Fatalf("%s does not contain %q:\n%s", path, old, data)
	}
	writeTestFile(t, path, strings.Replace(string(data), old, new, 1))
}

func TestKeysOrigin(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	if _, err := KeysOrigin(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("empty directory: got %v, want fs.ErrNotExist", err)
	}
	if _, err := LoadOrCreateKeys(dir, testOrigin, testRand(1), testClock()); err != nil {
		t.Fatal(err)
	}
	got, err := KeysOrigin(dir)
	if err != nil || got != testOrigin {
		t.Fatalf("got %q, %v, want %q", got, err, testOrigin)
	}
	for name, manifest := range map[string]string{
		"not JSON":     "{",
		"no origin":    `{"version":1}`,
		"space":        `{"origin":"a b"}`,
		"plus":         `{"origin":"a+b"}`,
		"origin array": `{"origin":["a"]}`,
	} {
		t.Run(name, func(t *testing.T) {
			d := t.TempDir()
			if err := os.WriteFile(filepath.Join(d, KeysFile), []byte(manifest), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := KeysOrigin(d); !errors.Is(err, ErrCorruptKeys) {
				t.Errorf("got %v, want ErrCorruptKeys", err)
			}
		})
	}
}

// TestReadVerifiers: the offline reader sees every key, active and retired,
// needs no private key, and writes nothing.
func TestReadVerifiers(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	k, err := LoadOrCreateKeys(dir, testOrigin, testRand(1), testClock())
	if err != nil {
		t.Fatal(err)
	}
	old, err := SignCheckpoint(k.Signer(), testOrigin, 1, EmptyRoot())
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Rotate(); err != nil {
		t.Fatal(err)
	}
	for _, ki := range k.Keys() {
		os.Remove(filepath.Join(dir, ki.ID()+".key"))
	}
	before, _ := os.ReadDir(dir)
	origin, keys, verifiers, err := ReadVerifiers(dir)
	if err != nil {
		t.Fatal(err)
	}
	if origin != testOrigin || len(keys) != 2 || keys[0].Active || !keys[1].Active {
		t.Fatalf("origin %q keys %+v", origin, keys)
	}
	if _, err := ParseCheckpoint(old, verifiers, testOrigin); err != nil {
		t.Fatalf("checkpoint of the retired key: %v", err)
	}
	if after, _ := os.ReadDir(dir); len(after) != len(before) {
		t.Fatalf("ReadVerifiers changed the directory: %d → %d files", len(before), len(after))
	}
	if _, _, _, err := ReadVerifiers(t.TempDir()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("empty dir: %v", err)
	}
	writeTestFile(t, filepath.Join(dir, KeysFile), `{"version":1}`)
	if _, _, _, err := ReadVerifiers(dir); !errors.Is(err, ErrCorruptKeys) {
		t.Fatalf("corrupt manifest: %v", err)
	}
}
