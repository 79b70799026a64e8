package serviceacct

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"math/rand/v2"
	"regexp"
	"sync"
	"testing"
	"time"
)

const tokenURI = "https://logline.example.com/auth/token"

var validTenant = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`).MatchString

// seeded returns deterministic randomness for tests.
func seeded(seed byte) *rand.ChaCha8 {
	var s [32]byte
	s[0] = seed
	return rand.NewChaCha8(s)
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// account is a created account with its parsed credentials and raw key.
type account struct {
	Account
	cred []byte
	c    *Credentials
	priv ed25519.PrivateKey
}

func create(t testing.TB, data, tenant string, seed byte, roles ...string) account {
	t.Helper()
	if len(roles) == 0 {
		roles = []string{"writer"}
	}
	a, cred, err := Create(data, CreateOptions{Tenant: tenant, Roles: roles, Name: "bot", TokenURI: tokenURI,
		Now: t0, Rand: seeded(seed), ValidTenant: validTenant})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	c, err := ParseCredentials(cred)
	if err != nil {
		t.Fatalf("ParseCredentials: %v", err)
	}
	var f credentialsFile
	if err := json.Unmarshal(cred, &f); err != nil {
		t.Fatal(err)
	}
	_, priv, _, err := parseJWK(f.PrivateKey, true)
	if err != nil {
		t.Fatal(err)
	}
	return account{a, cred, c, priv}
}

// forge builds a compact JWS with any header and claims, signed with priv
// (or with sig as the signature when priv is nil).
func forge(header, claims map[string]any, priv ed25519.PrivateKey, sig []byte) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	input := b64(h) + "." + b64(c)
	if priv != nil {
		sig = ed25519.Sign(priv, []byte(input))
	}
	return input + "." + b64(sig)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

var base64RawURL = base64.RawURLEncoding

// claimsFor are valid claims for a at time now.
func claimsFor(a account, now time.Time) map[string]any {
	return map[string]any{
		"iss": a.ID, "sub": a.ID, "aud": tokenURI,
		"iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(), "jti": "jti-" + now.String(),
	}
}

func headerFor(a account) map[string]any {
	return map[string]any{"alg": "EdDSA", "kid": a.KeyID, "typ": "JWT"}
}
