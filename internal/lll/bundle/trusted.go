package bundle

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"strings"
)

// Trusted is the set of public keys whose bundles a server runs. The zero
// value (and nil) trusts nothing.
type Trusted struct {
	keys map[string]string // hex public key → name
}

// ParseTrusted reads a trusted-keys file: one key per line, 64 hex digits
// of an Ed25519 public key (as `logline keys new` prints it), optionally
// followed by a name; blank lines and lines starting with # are ignored.
// Any other line is an error naming it.
func ParseTrusted(data []byte) (*Trusted, error) {
	t := &Trusted{keys: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, name, _ := strings.Cut(line, " ")
		key = strings.ToLower(key)
		pub, err := hex.DecodeString(key)
		if err != nil || len(pub) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("trusted bundle keys, line %d: %q is not an Ed25519 public key (64 hex digits)", n, key)
		}
		t.keys[key] = strings.TrimSpace(name)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("trusted bundle keys: %w", err)
	}
	return t, nil
}

// Has reports whether pub is trusted.
func (t *Trusted) Has(pub ed25519.PublicKey) bool {
	if t == nil {
		return false
	}
	_, ok := t.keys[hex.EncodeToString(pub)]
	return ok
}

// Len is the number of trusted keys.
func (t *Trusted) Len() int {
	if t == nil {
		return 0
	}
	return len(t.keys)
}
