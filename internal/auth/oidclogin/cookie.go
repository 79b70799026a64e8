package oidclogin

import (
	"crypto/sha256"
	"encoding/base64"
	"io"
)

// Random values (state, nonce, PKCE verifier, browser binding) are 32
// bytes from Config.Rand, written unpadded base64url: 43 characters.
const (
	randomBytes = 32
	randomChars = 43
)

var b64 = base64.RawURLEncoding.Strict()

// newRandom reads 32 bytes from r and returns them in their 43-character
// form.
func newRandom(r io.Reader) (string, error) {
	var b [randomBytes]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", err
	}
	return b64.EncodeToString(b[:]), nil
}

// decodeRandom parses a 43-character value written by newRandom (a state
// parameter or the binding cookie). It accepts only the canonical form,
// so each value has one spelling.
func decodeRandom(s string) ([randomBytes]byte, bool) {
	var b [randomBytes]byte
	if len(s) != randomChars {
		return b, false
	}
	n, err := b64.Decode(b[:], []byte(s))
	return b, err == nil && n == randomBytes
}

// bindingHash is what the pending-login store keeps of the browser's
// binding cookie: a hash, so a leak of the store does not hand out
// cookies that would match it.
func bindingHash(binding [randomBytes]byte) [sha256.Size]byte {
	return sha256.Sum256(append([]byte("logline-login-binding-v1\x00"), binding[:]...))
}
