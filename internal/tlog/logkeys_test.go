package tlog

import (
	"errors"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseLogKeys(t *testing.T) {
	_, v1, _ := newKey(t, testOrigin, 1)
	_, _, vk1 := newKey(t, testOrigin, 1)
	_, _, vk2 := newKey(t, testOrigin, 2)
	_, _, other := newKey(t, "other.example/log", 3)
	lk, err := ParseLogKeys([]byte("  " + vk2 + "\n\n" + vk1 + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if lk.Origin != testOrigin || !slices.Equal(lk.Keys, []string{vk2, vk1}) {
		t.Errorf("got %q %q", lk.Origin, lk.Keys)
	}
	if got, want := string(lk.Text()), vk2+"\n"+vk1+"\n"; got != want {
		t.Errorf("Text() = %q, want %q", got, want)
	}
	if v, err := lk.Verifiers.Verifier(testOrigin, v1.KeyHash()); err != nil || v.KeyHash() != v1.KeyHash() {
		t.Errorf("verifier lookup: %v", err)
	}
	for _, tt := range []struct {
		name, text string
		want       error
	}{
		{"empty", "\n \n", ErrMalformed},
		{"not a key", "hello\n", ErrMalformed},
		{"twice", vk1 + "\n" + vk1 + "\n", ErrMalformed},
		{"two logs", vk1 + "\n" + other + "\n", ErrWrongOrigin},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseLogKeys([]byte(tt.text)); !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestCreateKeysWithRetired(t *testing.T) {
	// An old log with two keys (one rotation) and a checkpoint by each.
	oldDir := filepath.Join(t.TempDir(), "old")
	old, err := LoadOrCreateKeys(oldDir, testOrigin, testRand(1), testClock())
	if err != nil {
		t.Fatal(err)
	}
	first, err := SignCheckpoint(old.Signer(), testOrigin, 1, LeafHash([]byte("a")))
	if err != nil {
		t.Fatal(err)
	}
	if err := old.Rotate(); err != nil {
		t.Fatal(err)
	}
	second, err := SignCheckpoint(old.Signer(), testOrigin, 1, LeafHash([]byte("a")))
	if err != nil {
		t.Fatal(err)
	}
	retired := old.VerifierKeys()

	dir := filepath.Join(t.TempDir(), "new")
	k, err := CreateKeysWithRetired(dir, testOrigin, retired, testRand(9), testClock())
	if err != nil {
		t.Fatal(err)
	}
	got := k.VerifierKeys()
	if len(got) != 3 || !slices.Equal(got[1:], retired) || slices.Contains(retired, got[0]) {
		t.Fatalf("got verifier keys %q, want a new active key, then %q", got, retired)
	}
	// Reloading checks the manifest and the new private key.
	again, err := LoadOrCreateKeys(dir, testOrigin, testRand(10), testClock())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(again.VerifierKeys(), got) {
		t.Errorf("reloaded: got %q, want %q", again.VerifierKeys(), got)
	}
	for _, msg := range [][]byte{first, second} {
		if _, err := ParseCheckpoint(msg, again.Verifiers(), testOrigin); err != nil {
			t.Errorf("an old checkpoint does not verify with the new keyring: %v", err)
		}
	}
	fresh, err := SignCheckpoint(again.Signer(), testOrigin, 1, LeafHash([]byte("a")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseCheckpoint(fresh, again.Verifiers(), testOrigin); err != nil {
		t.Errorf("new key's checkpoint: %v", err)
	}

	t.Run("existing manifest", func(t *testing.T) {
		if _, err := CreateKeysWithRetired(dir, testOrigin, retired, nil, nil); !errors.Is(err, fs.ErrExist) {
			t.Errorf("got %v, want fs.ErrExist", err)
		}
	})
	t.Run("retired key of another log", func(t *testing.T) {
		_, _, other := newKey(t, "other.example/log", 3)
		_, err := CreateKeysWithRetired(t.TempDir(), testOrigin, []string{other}, nil, nil)
		if !errors.Is(err, ErrWrongOrigin) {
			t.Errorf("got %v, want ErrWrongOrigin", err)
		}
	})
	t.Run("malformed retired key", func(t *testing.T) {
		_, err := CreateKeysWithRetired(t.TempDir(), testOrigin, []string{strings.Repeat("x", 10)}, nil, nil)
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("got %v, want ErrMalformed", err)
		}
	})
}
