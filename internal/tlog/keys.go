package tlog

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/logline/logline/internal/durable"
)

// KeysFile is the name of the key manifest in the key directory.
const KeysFile = "keys.json"

// keysVersion is the manifest format version this package writes and reads.
const keysVersion = 1

// KeyInfo describes one log key of a Keyring.
type KeyInfo struct {
	Hash     uint32    // signed-note key hash (the key id)
	Verifier string    // public verifier key, "name+hash+base64"
	Created  time.Time // when the key was generated
	Retired  time.Time // when Rotate replaced it; zero for the active key
	Active   bool
}

// ID returns the key id as written in file names and keys.json: the key
// hash as 8 lower-case hex digits.
func (k KeyInfo) ID() string { return keyID(k.Hash) }

func keyID(h uint32) string { return fmt.Sprintf("%08x", h) }

// Keyring holds a log's signing keys: one active Ed25519 signer and the
// verifier keys of every key the log ever used, so that old checkpoints keep
// verifying after a rotation. On-disk layout: see the package doc.
//
// A Keyring is safe for concurrent use.
type Keyring struct {
	dir    string
	origin string
	rand   io.Reader
	now    func() time.Time

	mu        sync.RWMutex
	keys      []KeyInfo   // guarded by mu; creation order, last is active
	signer    note.Signer // guarded by mu; the active key
	verifiers note.Verifiers
}

// LoadOrCreateKeys opens the key directory dir of the log named origin. On
// first use it creates dir (mode 0700), a first Ed25519 key named origin and
// the manifest. origin is the log's name: the first line of every
// checkpoint and the name of every key (e.g. "logline.example/ledger"); it
// must be a valid signed-note key name (no spaces, no '+').
//
// rand and now default to crypto/rand.Reader and time.Now when nil.
//
// A directory whose manifest names another origin fails with
// ErrWrongOrigin; unreadable or inconsistent files fail with
// ErrCorruptKeys.
func LoadOrCreateKeys(dir string, origin string, rand io.Reader, now func() time.Time) (*Keyring, error) {
	k, err := newKeyring(dir, origin, rand, now)
	if err != nil {
		return nil, err
	}
	if err := durable.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("log keys: %w", err)
	}
	data, err := os.ReadFile(filepath.Join(dir, KeysFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := k.addKeyLocked(); err != nil {
			return nil, fmt.Errorf("log keys: create first key in %s: %w", dir, err)
		}
		return k, nil
	case err != nil:
		return nil, fmt.Errorf("log keys: %w", err)
	}
	if err := k.load(data); err != nil {
		return nil, fmt.Errorf("log keys %s: %w", dir, err)
	}
	return k, nil
}

// KeysOrigin returns the origin named by the manifest of the key directory
// dir, so that a server can reopen its keys without being told the log's
// name again. It reads only the manifest's origin; LoadOrCreateKeys checks
// the rest. A directory without a manifest fails with an error wrapping
// fs.ErrNotExist, an unreadable manifest or an invalid origin with
// ErrCorruptKeys.
func KeysOrigin(dir string) (string, error) {
	path := filepath.Join(dir, KeysFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("log keys: %w", err)
	}
	var m struct {
		Origin string `json:"origin"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return "", fmt.Errorf("log keys: %w: %s: %v", ErrCorruptKeys, path, err)
	}
	if err := checkOrigin(m.Origin); err != nil {
		return "", fmt.Errorf("log keys: %w: %s: %v", ErrCorruptKeys, path, err)
	}
	return m.Origin, nil
}

// Origin returns the log's name.
func (k *Keyring) Origin() string { return k.origin }

// Signer returns the active key's signer.
func (k *Keyring) Signer() note.Signer {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.signer
}

// Verifiers returns verifiers for every key the log has used, active and
// retired.
func (k *Keyring) Verifiers() note.Verifiers {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.verifiers
}

// VerifierKeys returns the public verifier keys ("name+hash+base64"), the
// active one first, then the retired ones from newest to oldest. This is
// what GET /log/key serves, one per line.
func (k *Keyring) VerifierKeys() []string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	out := make([]string, 0, len(k.keys))
	for i := len(k.keys) - 1; i >= 0; i-- {
		out = append(out, k.keys[i].Verifier)
	}
	return out
}

// Keys returns a description of every key, in creation order.
func (k *Keyring) Keys() []KeyInfo {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return append([]KeyInfo(nil), k.keys...)
}

// Rotate generates a new active key, retires the current one (its verifier
// key stays published, its private key file is deleted) and persists the
// manifest before returning. After Rotate, Signer returns the new key.
//
// If the manifest cannot be written, the Keyring is unchanged. If only the
// removal of the retired private key file fails, the rotation has taken
// effect and the error says so.
func (k *Keyring) Rotate() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	old := k.keys[len(k.keys)-1]
	if err := k.addKeyLocked(); err != nil {
		return fmt.Errorf("rotate log key: %w", err)
	}
	if err := durable.Remove(k.keyPath(old.Hash)); err != nil {
		return fmt.Errorf("rotate log key: rotated, but the retired private key remains: %w", err)
	}
	return nil
}

// addKeyLocked generates a key, writes its private key file and then the
// manifest naming it active (retiring the previous one), and only then
// updates k. A crash in between leaves at worst an unused key file. k.mu
// must be held (or k not yet shared).
func (k *Keyring) addKeyLocked() error {
	var skey, vkey string
	var hash uint32
	for attempt := 0; ; attempt++ {
		s, v, err := note.GenerateKey(k.rand, k.origin)
		if err != nil {
			return fmt.Errorf("generate key: %w", err)
		}
		verifier, err := note.NewVerifier(v)
		if err != nil {
			return fmt.Errorf("generate key: %w", err)
		}
		if !k.hasHash(verifier.KeyHash()) {
			skey, vkey, hash = s, v, verifier.KeyHash()
			break
		}
		if attempt == 8 { // 2^-32 per attempt with a sane rand
			return errors.New("generate key: key hash keeps colliding; is rand constant?")
		}
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		return fmt.Errorf("generate key: %w", err)
	}
	if err := durable.WriteFile(k.keyPath(hash), []byte(skey+"\n"), 0o600); err != nil {
		return err
	}
	now := k.now().UTC()
	keys := append([]KeyInfo(nil), k.keys...)
	if n := len(keys); n > 0 {
		keys[n-1].Active = false
		keys[n-1].Retired = now
	}
	keys = append(keys, KeyInfo{Hash: hash, Verifier: vkey, Created: now, Active: true})
	verifiers, err := buildVerifiers(keys)
	if err != nil {
		return err
	}
	if err := k.writeManifest(keys); err != nil {
		return err
	}
	k.keys, k.signer, k.verifiers = keys, signer, verifiers
	return nil
}

func (k *Keyring) hasHash(h uint32) bool {
	for _, ki := range k.keys {
		if ki.Hash == h {
			return true
		}
	}
	return false
}

func (k *Keyring) keyPath(h uint32) string {
	return filepath.Join(k.dir, keyID(h)+".key")
}

// manifest is the JSON form of keys.json.
type manifest struct {
	Version int           `json:"version"`
	Origin  string        `json:"origin"`
	Active  string        `json:"active"`
	Keys    []manifestKey `json:"keys"`
}

type manifestKey struct {
	ID       string     `json:"id"`
	Verifier string     `json:"verifier"`
	Created  time.Time  `json:"created"`
	Retired  *time.Time `json:"retired,omitempty"`
}

func (k *Keyring) writeManifest(keys []KeyInfo) error {
	m := manifest{Version: keysVersion, Origin: k.origin, Keys: make([]manifestKey, len(keys))}
	for i, ki := range keys {
		mk := manifestKey{ID: ki.ID(), Verifier: ki.Verifier, Created: ki.Created}
		if ki.Active {
			m.Active = ki.ID()
		} else {
			r := ki.Retired
			mk.Retired = &r
		}
		m.Keys[i] = mk
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return durable.WriteFile(filepath.Join(k.dir, KeysFile), append(data, '\n'), 0o600)
}

// load parses and cross-checks the manifest and the active private key.
func (k *Keyring) load(data []byte) error {
	origin, keys, err := parseManifest(data)
	if err != nil {
		return err
	}
	if origin != k.origin {
		return fmt.Errorf("%w: directory holds the keys of %q, not %q", ErrWrongOrigin, origin, k.origin)
	}
	active := keys[len(keys)-1]
	signer, err := loadSigner(k.keyPath(active.Hash), active)
	if err != nil {
		return err
	}
	verifiers, err := buildVerifiers(keys)
	if err != nil {
		return err
	}
	k.keys, k.signer, k.verifiers = keys, signer, verifiers
	return nil
}

// ReadVerifiers reads the origin and every verifier key (active and
// retired) of the key directory dir without touching the private key or
// writing anything: what an offline check of the log needs.
func ReadVerifiers(dir string) (origin string, keys []KeyInfo, verifiers note.Verifiers, err error) {
	data, err := os.ReadFile(filepath.Join(dir, KeysFile))
	if err != nil {
		return "", nil, nil, fmt.Errorf("log keys: %w", err)
	}
	origin, keys, err = parseManifest(data)
	if err != nil {
		return "", nil, nil, fmt.Errorf("log keys %s: %w", dir, err)
	}
	verifiers, err = buildVerifiers(keys)
	if err != nil {
		return "", nil, nil, fmt.Errorf("log keys %s: %w", dir, err)
	}
	return origin, keys, verifiers, nil
}

// parseManifest parses and cross-checks keys.json.
func parseManifest(data []byte) (origin string, keys []KeyInfo, err error) {
	var m manifest
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return "", nil, fmt.Errorf("%w: %s: %v", ErrCorruptKeys, KeysFile, err)
	}
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrCorruptKeys, KeysFile, fmt.Sprintf(format, args...))
	}
	if m.Version != keysVersion {
		return "", nil, corrupt("version %d, want %d", m.Version, keysVersion)
	}
	if err := checkOrigin(m.Origin); err != nil {
		return "", nil, corrupt("%v", err)
	}
	if len(m.Keys) == 0 {
		return "", nil, corrupt("no keys")
	}
	keys = make([]KeyInfo, len(m.Keys))
	for i, mk := range m.Keys {
		v, err := note.NewVerifier(mk.Verifier)
		if err != nil {
			return "", nil, corrupt("key %q: %v", mk.ID, err)
		}
		if v.Name() != m.Origin {
			return "", nil, corrupt("key %q is named %q, not the origin", mk.ID, v.Name())
		}
		if keyID(v.KeyHash()) != mk.ID {
			return "", nil, corrupt("key %q: verifier key has hash %s", mk.ID, keyID(v.KeyHash()))
		}
		for _, prev := range keys[:i] {
			if prev.Hash == v.KeyHash() {
				return "", nil, corrupt("key %q listed twice", mk.ID)
			}
		}
		last := i == len(m.Keys)-1
		if last != (mk.ID == m.Active) {
			return "", nil, corrupt("the active key must be the last one listed")
		}
		if last != (mk.Retired == nil) {
			return "", nil, corrupt("every key but the active one needs a retired time")
		}
		keys[i] = KeyInfo{Hash: v.KeyHash(), Verifier: mk.Verifier, Created: mk.Created, Active: last}
		if mk.Retired != nil {
			keys[i].Retired = *mk.Retired
		}
	}
	return m.Origin, keys, nil
}

// loadSigner reads a private key file and checks that it is the private half
// of the verifier key listed in the manifest.
func loadSigner(path string, want KeyInfo) (note.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: active key: %w", ErrCorruptKeys, err)
	}
	signer, err := note.NewSigner(strings.TrimSuffix(string(data), "\n"))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorruptKeys, path, err)
	}
	verifier, err := note.NewVerifier(want.Verifier)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorruptKeys, err)
	}
	if signer.Name() != verifier.Name() || signer.KeyHash() != verifier.KeyHash() {
		return nil, fmt.Errorf("%w: %s holds key %s+%08x, manifest says %s+%08x", ErrCorruptKeys,
			path, signer.Name(), signer.KeyHash(), verifier.Name(), verifier.KeyHash())
	}
	// NewSigner checks the key hash against the derived public key, but the
	// hash is only 32 bits (a collision is cheap to find): prove that the
	// pair matches.
	probe := []byte("logline key check " + strconv.FormatUint(uint64(want.Hash), 16) + "\n")
	sig, err := signer.Sign(probe)
	if err != nil || !verifier.Verify(probe, sig) {
		return nil, fmt.Errorf("%w: %s does not match its verifier key", ErrCorruptKeys, path)
	}
	return signer, nil
}

func buildVerifiers(keys []KeyInfo) (note.Verifiers, error) {
	vs := make([]note.Verifier, len(keys))
	for i, ki := range keys {
		v, err := note.NewVerifier(ki.Verifier)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCorruptKeys, err)
		}
		vs[i] = v
	}
	return note.VerifierList(vs...), nil
}

// cryptoRand is the default randomness source.
func cryptoRand() io.Reader { return rand.Reader }
