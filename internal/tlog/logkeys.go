package tlog

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/logline/logline/internal/durable"
)

// LogKeys is the parsed text of GET /log/key: the verifier keys of one log,
// the active one first, then retired ones from newest to oldest.
type LogKeys struct {
	Origin    string   // the name every key carries
	Keys      []string // verifier keys "<origin>+<id>+<base64>", in the order given
	Verifiers note.Verifiers
}

// ParseLogKeys parses verifier keys, one per line (blank lines and
// surrounding spaces are ignored). Every key must be a valid signed-note
// verifier key named after one origin, and none may be listed twice.
// Errors wrap ErrMalformed, or ErrWrongOrigin for keys of two logs.
func ParseLogKeys(text []byte) (LogKeys, error) {
	var lk LogKeys
	var vs []note.Verifier
	for _, line := range strings.Split(string(text), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		v, err := note.NewVerifier(line)
		if err != nil {
			return LogKeys{}, fmt.Errorf("log keys: %w: %q is not a verifier key: %v", ErrMalformed, truncate(line), err)
		}
		if lk.Origin == "" {
			if err := checkOrigin(v.Name()); err != nil {
				return LogKeys{}, fmt.Errorf("log keys: %w", err)
			}
			lk.Origin = v.Name()
		} else if v.Name() != lk.Origin {
			return LogKeys{}, fmt.Errorf("log keys: %w: keys of %q and %q", ErrWrongOrigin, lk.Origin, v.Name())
		}
		for _, prev := range vs {
			if prev.KeyHash() == v.KeyHash() {
				return LogKeys{}, fmt.Errorf("log keys: %w: key %s listed twice", ErrMalformed, keyID(v.KeyHash()))
			}
		}
		vs = append(vs, v)
		lk.Keys = append(lk.Keys, line)
	}
	if len(vs) == 0 {
		return LogKeys{}, fmt.Errorf("log keys: %w: no verifier key", ErrMalformed)
	}
	lk.Verifiers = note.VerifierList(vs...)
	return lk, nil
}

// Text returns the keys one per line, as GET /log/key serves them.
func (lk LogKeys) Text() []byte {
	return []byte(strings.Join(lk.Keys, "\n") + "\n")
}

// CreateKeysWithRetired creates a new key directory dir for the log named
// origin, as LoadOrCreateKeys would on first use, except that keys.json
// also lists the verifier keys retired as retired keys: a log whose private
// key is lost (a restore from a backup without the key directory) continues
// under a new key while every checkpoint signed before still verifies
// through GET /log/key. retired is in GET /log/key order (newest first);
// each key must be named origin. Their created and retired times are
// unknown and recorded as now.
//
// dir must not hold a manifest yet (an error wrapping fs.ErrExist
// otherwise). rand and now default to crypto/rand.Reader and time.Now.
func CreateKeysWithRetired(dir, origin string, retired []string, rand io.Reader, now func() time.Time) (*Keyring, error) {
	k, err := newKeyring(dir, origin, rand, now)
	if err != nil {
		return nil, err
	}
	at := k.now().UTC()
	for i := len(retired) - 1; i >= 0; i-- {
		v, err := note.NewVerifier(retired[i])
		if err != nil {
			return nil, fmt.Errorf("log keys: %w: retired key %q: %v", ErrMalformed, truncate(retired[i]), err)
		}
		if v.Name() != origin {
			return nil, fmt.Errorf("log keys: %w: retired key %s is named %q, not %q", ErrWrongOrigin, keyID(v.KeyHash()), v.Name(), origin)
		}
		if k.hasHash(v.KeyHash()) {
			return nil, fmt.Errorf("log keys: %w: retired key %s listed twice", ErrMalformed, keyID(v.KeyHash()))
		}
		k.keys = append(k.keys, KeyInfo{Hash: v.KeyHash(), Verifier: retired[i], Created: at, Retired: at})
	}
	if err := durable.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("log keys: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, KeysFile)); err == nil {
		return nil, fmt.Errorf("log keys: %s: %w", filepath.Join(dir, KeysFile), fs.ErrExist)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("log keys: %w", err)
	}
	if err := k.addKeyLocked(); err != nil {
		return nil, fmt.Errorf("log keys: create key in %s: %w", dir, err)
	}
	return k, nil
}

// newKeyring returns an empty Keyring of the log origin in dir, with the
// default randomness and clock where rand and now are nil.
func newKeyring(dir, origin string, rand io.Reader, now func() time.Time) (*Keyring, error) {
	if err := checkOrigin(origin); err != nil {
		return nil, fmt.Errorf("log keys: %w", err)
	}
	k := &Keyring{dir: dir, origin: origin, rand: rand, now: now}
	if k.rand == nil {
		k.rand = cryptoRand()
	}
	if k.now == nil {
		k.now = time.Now
	}
	return k, nil
}
