package llst

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Key is one LLST signing key and its schedule. Times are whole seconds,
// UTC, and PublishAt ≤ ActiveFrom < RetireAt.
type Key struct {
	ID      string    // kid: "llst-YYYYMMDD-xxxxxxxx" (date of ActiveFrom)
	Created time.Time // when it was generated
	// PublishAt is when it appears in the JWKS and starts verifying.
	PublishAt time.Time
	// ActiveFrom is when it starts signing; it signs until a newer key
	// becomes active, and only tokens whose exp + skew ≤ RetireAt.
	ActiveFrom time.Time
	// RetireAt is when it leaves the JWKS and stops verifying; the store
	// deletes it then.
	RetireAt time.Time
	// Private is the signing key.
	Private ed25519.PrivateKey
}

// KeyInfo is a key's public description, for status output and events.
type KeyInfo struct {
	ID         string    `json:"kid"`
	Created    time.Time `json:"created"`
	PublishAt  time.Time `json:"publish_at"`
	ActiveFrom time.Time `json:"active_from"`
	RetireAt   time.Time `json:"retire_at"`
}

// Info returns k without its private key.
func (k Key) Info() KeyInfo {
	return KeyInfo{ID: k.ID, Created: k.Created, PublishAt: k.PublishAt, ActiveFrom: k.ActiveFrom, RetireAt: k.RetireAt}
}

// Public returns the verification key.
func (k Key) Public() ed25519.PublicKey { return k.Private.Public().(ed25519.PublicKey) }

// Equal reports whether k and o are the same key with the same schedule.
func (k Key) Equal(o Key) bool {
	return k.ID == o.ID && k.Created.Equal(o.Created) && k.PublishAt.Equal(o.PublishAt) &&
		k.ActiveFrom.Equal(o.ActiveFrom) && k.RetireAt.Equal(o.RetireAt) && bytes.Equal(k.Private, o.Private)
}

// ValidKeyID reports whether id has the form of an LLST kid. Key stores
// use it before a kid becomes part of a file name or query.
func ValidKeyID(id string) bool {
	// llst-YYYYMMDD-xxxxxxxx
	if len(id) != len("llst-20060102-0123abcd") || id[:5] != "llst-" || id[13] != '-' {
		return false
	}
	for i := 5; i < len(id); i++ {
		c := id[i]
		switch {
		case i == 13:
		case i < 13 && c >= '0' && c <= '9':
		case i > 13 && (c >= '0' && c <= '9' || c >= 'a' && c <= 'f'):
		default:
			return false
		}
	}
	return true
}

// Validate checks k's id, key and schedule.
func (k Key) Validate() error {
	if !ValidKeyID(k.ID) {
		return fmt.Errorf("%w: kid %q is not llst-YYYYMMDD-xxxxxxxx", ErrBadKeyFile, k.ID)
	}
	if len(k.Private) != ed25519.PrivateKeySize {
		return fmt.Errorf("%w: %s: not an Ed25519 private key", ErrBadKeyFile, k.ID)
	}
	if !bytes.Equal(ed25519.NewKeyFromSeed(k.Private.Seed()), k.Private) {
		return fmt.Errorf("%w: %s: public half does not match the seed", ErrBadKeyFile, k.ID)
	}
	if k.PublishAt.After(k.ActiveFrom) || !k.ActiveFrom.Before(k.RetireAt) {
		return fmt.Errorf("%w: %s: want publish_at ≤ active_from < retire_at", ErrBadKeyFile, k.ID)
	}
	return nil
}

// newKey generates a key from rnd with the given schedule.
func newKey(rnd io.Reader, created, publish, active, retire time.Time) (Key, error) {
	seed := make([]byte, ed25519.SeedSize)
	if _, err := io.ReadFull(rnd, seed); err != nil {
		return Key{}, fmt.Errorf("generate LLST key: %w", err)
	}
	var suffix [4]byte
	if _, err := io.ReadFull(rnd, suffix[:]); err != nil {
		return Key{}, fmt.Errorf("generate LLST key id: %w", err)
	}
	return Key{
		ID:         "llst-" + active.UTC().Format("20060102") + "-" + hex.EncodeToString(suffix[:]),
		Created:    created.UTC().Truncate(time.Second),
		PublishAt:  publish.UTC().Truncate(time.Second),
		ActiveFrom: active.UTC().Truncate(time.Second),
		RetireAt:   retire.UTC().Truncate(time.Second),
		Private:    ed25519.NewKeyFromSeed(seed),
	}, nil
}

// KeyFileFormat names version 1 of the key file (see doc.go).
const KeyFileFormat = "logline-llst-key/1"

// keyFile is the JSON of one key file.
type keyFile struct {
	Format     string          `json:"format"`
	ID         string          `json:"kid"`
	Created    time.Time       `json:"created"`
	PublishAt  time.Time       `json:"publish_at"`
	ActiveFrom time.Time       `json:"active_from"`
	RetireAt   time.Time       `json:"retire_at"`
	JWK        json.RawMessage `json:"private_jwk"`
}

// MarshalKey encodes k as a key file (see doc.go).
func MarshalKey(k Key) ([]byte, error) {
	if err := k.Validate(); err != nil {
		return nil, err
	}
	jwk, err := json.Marshal(jose.JSONWebKey{Key: k.Private, KeyID: k.ID, Algorithm: string(jose.EdDSA), Use: "sig"})
	if err != nil {
		return nil, fmt.Errorf("encode key %s: %w", k.ID, err)
	}
	b, err := json.MarshalIndent(keyFile{
		Format: KeyFileFormat, ID: k.ID, Created: k.Created.UTC(), PublishAt: k.PublishAt.UTC(),
		ActiveFrom: k.ActiveFrom.UTC(), RetireAt: k.RetireAt.UTC(), JWK: jwk,
	}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode key %s: %w", k.ID, err)
	}
	return append(b, '\n'), nil
}

// UnmarshalKey decodes and validates a key file. Errors match ErrBadKeyFile.
func UnmarshalKey(data []byte) (Key, error) {
	var f keyFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return Key{}, fmt.Errorf("%w: %v", ErrBadKeyFile, err)
	}
	if dec.More() {
		return Key{}, fmt.Errorf("%w: data after the key", ErrBadKeyFile)
	}
	if f.Format != KeyFileFormat {
		return Key{}, fmt.Errorf("%w: format %q, want %q", ErrBadKeyFile, f.Format, KeyFileFormat)
	}
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(f.JWK); err != nil {
		return Key{}, fmt.Errorf("%w: %s: private_jwk: %v", ErrBadKeyFile, f.ID, err)
	}
	priv, ok := jwk.Key.(ed25519.PrivateKey)
	if !ok {
		return Key{}, fmt.Errorf("%w: %s: private_jwk is not an Ed25519 private key", ErrBadKeyFile, f.ID)
	}
	if jwk.KeyID != f.ID || jwk.Algorithm != string(jose.EdDSA) {
		return Key{}, fmt.Errorf("%w: %s: private_jwk kid/alg disagree with the file", ErrBadKeyFile, f.ID)
	}
	k := Key{
		ID: f.ID, Created: f.Created.UTC(), PublishAt: f.PublishAt.UTC(),
		ActiveFrom: f.ActiveFrom.UTC(), RetireAt: f.RetireAt.UTC(), Private: priv,
	}
	if err := k.Validate(); err != nil {
		return Key{}, err
	}
	return k, nil
}
