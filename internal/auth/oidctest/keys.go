package oidctest

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
)

// signingKey is one RS256 key and its published form.
type signingKey struct {
	kid    string
	priv   *rsa.PrivateKey
	pubPEM []byte // PKIX PEM of the public key, the HS256 confusion secret
}

func newSigningKey(priv *rsa.PrivateKey) (*signingKey, error) {
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("marshal public key: %w", err)
	}
	sum := sha256.Sum256(der)
	return &signingKey{
		kid:    base64.RawURLEncoding.EncodeToString(sum[:9]),
		priv:   priv,
		pubPEM: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}),
	}, nil
}

// jwk returns the key as a JWKS member (RFC 7517, RFC 7518 §6.3.1).
func (k *signingKey) jwk() map[string]string {
	pub := k.priv.PublicKey
	return map[string]string{
		"kty": "RSA",
		"use": "sig",
		"alg": "RS256",
		"kid": k.kid,
		"n":   base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e":   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}
}

// RotateKey generates a new RS256 key, publishes it and signs with it from
// now on; the previous keys stay published until RetireKey. It returns the
// new key's kid.
func (p *Provider) RotateKey() (string, error) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", fmt.Errorf("oidctest: generate key: %w", err)
	}
	return p.AddKey(priv)
}

// AddKey publishes priv and signs with it from now on, like RotateKey with
// a key the caller made. It returns the key's kid.
func (p *Provider) AddKey(priv *rsa.PrivateKey) (string, error) {
	k, err := newSigningKey(priv)
	if err != nil {
		return "", fmt.Errorf("oidctest: %w", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.keys = append([]*signingKey{k}, p.keys...)
	return k.kid, nil
}

// RetireKey stops publishing the key kid. Retiring the signing key makes
// the next published key the signing key; retiring the last key is
// refused.
func (p *Provider) RetireKey(kid string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, k := range p.keys {
		if k.kid == kid {
			if len(p.keys) == 1 {
				return fmt.Errorf("oidctest: key %q is the only key", kid)
			}
			p.keys = append(p.keys[:i:i], p.keys[i+1:]...)
			return nil
		}
	}
	return fmt.Errorf("oidctest: no published key %q", kid)
}

// KeyID returns the kid of the current signing key.
func (p *Provider) KeyID() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.keys[0].kid
}

// KeyIDs returns the kids of the published keys, signing key first.
func (p *Provider) KeyIDs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	ids := make([]string, len(p.keys))
	for i, k := range p.keys {
		ids[i] = k.kid
	}
	return ids
}

// PublicKey returns the current signing key's public half.
func (p *Provider) PublicKey() *rsa.PublicKey {
	p.mu.Lock()
	defer p.mu.Unlock()
	return &p.keys[0].priv.PublicKey
}

// mint applies the current Tamper to claims and signs a compact JWS.
func (p *Provider) mint(claims map[string]any) (string, error) {
	p.mu.Lock()
	t := p.tamper
	key := p.keys[0]
	if t.Sign == SignUnknownKey && p.stranger == nil {
		p.mu.Unlock()
		priv, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return "", fmt.Errorf("oidctest: generate key: %w", err)
		}
		s, err := newSigningKey(priv)
		if err != nil {
			return "", err
		}
		p.mu.Lock()
		if p.stranger == nil {
			s.kid = "unknown"
			p.stranger = s
		}
	}
	stranger := p.stranger
	p.mu.Unlock()

	header := map[string]any{"alg": "RS256", "kid": key.kid, "typ": "JWT"}
	switch t.Sign {
	case SignNone:
		header = map[string]any{"alg": "none", "typ": "JWT"}
	case SignHS256PublicKey:
		header["alg"] = "HS256"
	case SignUnknownKey:
		header["kid"] = stranger.kid
	}
	merge(header, t.Header)
	merge(claims, t.Claims)

	hb, err := json.Marshal(header)
	if err != nil {
		return "", fmt.Errorf("oidctest: encode header: %w", err)
	}
	cb, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("oidctest: encode claims: %w", err)
	}
	input := base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString(cb)
	var sig []byte
	switch t.Sign {
	case SignNone:
	case SignHS256PublicKey:
		m := hmac.New(sha256.New, key.pubPEM)
		m.Write([]byte(input))
		sig = m.Sum(nil)
	default:
		signer := key
		if t.Sign == SignUnknownKey {
			signer = stranger
		}
		digest := sha256.Sum256([]byte(input))
		if sig, err = rsa.SignPKCS1v15(rand.Reader, signer.priv, crypto.SHA256, digest[:]); err != nil {
			return "", fmt.Errorf("oidctest: sign: %w", err)
		}
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}
