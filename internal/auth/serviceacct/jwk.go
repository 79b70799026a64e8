package serviceacct

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"
)

// Algorithm is the only JWS algorithm of service-account keys and
// assertions.
const Algorithm = "EdDSA"

// jwk is the subset of RFC 7517/8037 a service-account key may use. It is
// decoded strictly — no x5c, jku or other members — so that a key file
// can hold an Ed25519 key and nothing else.
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	D   string `json:"d,omitempty"`
	Kid string `json:"kid"`
	Alg string `json:"alg,omitempty"`
	Use string `json:"use,omitempty"`
}

// KeyID is the key id of an Ed25519 public key: its RFC 7638 JWK
// thumbprint (SHA-256, base64url without padding).
func KeyID(pub ed25519.PublicKey) (string, error) {
	tp, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("key thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}

// marshalJWK encodes an Ed25519 key (public or private) as a JWK with
// its key id, alg and use.
func marshalJWK(key any, kid string) (json.RawMessage, error) {
	b, err := json.Marshal(jose.JSONWebKey{Key: key, KeyID: kid, Algorithm: Algorithm, Use: "sig"})
	if err != nil {
		return nil, fmt.Errorf("encode key: %w", err)
	}
	return b, nil
}

var errKey = errors.New("not an Ed25519 signing key")

// parseJWK decodes a strict Ed25519 JWK. With private set it requires
// "d" and returns an ed25519.PrivateKey; otherwise it refuses "d" and
// returns an ed25519.PublicKey. The kid must be the key's thumbprint.
func parseJWK(raw json.RawMessage, private bool) (ed25519.PublicKey, ed25519.PrivateKey, string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var k jwk
	if err := dec.Decode(&k); err != nil {
		return nil, nil, "", fmt.Errorf("%w: %v", errKey, err)
	}
	if k.Kty != "OKP" || k.Crv != "Ed25519" || k.Alg != "" && k.Alg != Algorithm || k.Use != "" && k.Use != "sig" {
		return nil, nil, "", fmt.Errorf("%w: kty %q crv %q alg %q use %q", errKey, k.Kty, k.Crv, k.Alg, k.Use)
	}
	x, err := base64.RawURLEncoding.Strict().DecodeString(k.X)
	if err != nil || len(x) != ed25519.PublicKeySize {
		return nil, nil, "", fmt.Errorf("%w: bad x", errKey)
	}
	pub := ed25519.PublicKey(x)
	var priv ed25519.PrivateKey
	switch {
	case private && k.D == "":
		return nil, nil, "", fmt.Errorf("%w: no private key (d)", errKey)
	case !private && k.D != "":
		return nil, nil, "", fmt.Errorf("%w: holds a private key (d), which the server must never store", errKey)
	case private:
		d, err := base64.RawURLEncoding.Strict().DecodeString(k.D)
		if err != nil || len(d) != ed25519.SeedSize {
			return nil, nil, "", fmt.Errorf("%w: bad d", errKey)
		}
		priv = ed25519.NewKeyFromSeed(d)
		if subtle.ConstantTimeCompare(priv.Public().(ed25519.PublicKey), pub) != 1 {
			return nil, nil, "", fmt.Errorf("%w: d does not match x", errKey)
		}
	}
	kid, err := KeyID(pub)
	if err != nil {
		return nil, nil, "", err
	}
	if k.Kid != kid {
		return nil, nil, "", fmt.Errorf("%w: kid is not the key's thumbprint", errKey)
	}
	return pub, priv, kid, nil
}
