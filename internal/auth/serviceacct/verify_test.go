package serviceacct

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

type fixture struct {
	data     string
	a, b     account // two accounts of tenant acme
	reg      *Registry
	clock    *fakeClock
	verifier *Verifier
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{data: t.TempDir(), clock: &fakeClock{t: t0.Add(time.Hour)}}
	f.a = create(t, f.data, "acme", 1)
	f.b = create(t, f.data, "acme", 2)
	reg, err := NewRegistry(context.Background(), RegistryConfig{DataDir: f.data, ValidTenant: validTenant, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	f.reg = reg
	f.verifier = NewVerifier(VerifierConfig{Accounts: reg, Now: f.clock.Now})
	return f
}

func TestRoundTrip(t *testing.T) {
	f := newFixture(t)
	now := f.clock.Now()
	assertion, err := f.a.c.Assertion(now, seeded(9))
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.verifier.Verify(context.Background(), assertion, tokenURI)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !equalAccounts(got, f.a.Account) {
		t.Errorf("Verify = %+v, want %+v", got, f.a.Account)
	}
	// The header is exactly alg, kid, typ.
	h, _, _ := strings.Cut(assertion, ".")
	var hdr map[string]any
	raw, _ := b64dec(h)
	json.Unmarshal(raw, &hdr)
	if len(hdr) != 3 || hdr["alg"] != "EdDSA" || hdr["kid"] != f.a.KeyID || hdr["typ"] != "JWT" {
		t.Errorf("header %v", hdr)
	}
	// Within the skew either side, still good.
	for _, d := range []time.Duration{-59 * time.Second, AssertionLifetime + 59*time.Second} {
		f.clock.Set(now.Add(d))
		as, _ := f.a.c.Assertion(now, nil)
		if _, err := f.verifier.Verify(context.Background(), as, tokenURI); err != nil {
			t.Errorf("verified at iat%+v: %v", d, err)
		}
	}
}

func TestAttacks(t *testing.T) {
	f := newFixture(t)
	now := f.clock.Now()
	a, b := f.a, f.b
	valid := func() map[string]any { return claimsFor(a, now) }
	with := func(m map[string]any, kv ...any) map[string]any {
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
			} else {
				m[kv[i].(string)] = kv[i+1]
			}
		}
		return m
	}
	_, attacker, _ := ed25519.GenerateKey(seeded(66))
	attackerJWK, _ := marshalJWK(attacker.Public(), "evil")
	hs256 := func(key []byte) string {
		h, _ := json.Marshal(map[string]any{"alg": "HS256", "kid": a.KeyID, "typ": "JWT"})
		c, _ := json.Marshal(valid())
		input := b64(h) + "." + b64(c)
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(input))
		return input + "." + b64(mac.Sum(nil))
	}
	pubJWK, _ := marshalJWK(a.PublicKey, a.KeyID)
	good := forge(headerFor(a), valid(), a.priv, nil)
	parts := strings.Split(good, ".")
	tampered := func() string {
		c := valid()
		c["sub"] = b.ID
		c["iss"] = b.ID
		cb, _ := json.Marshal(c)
		return parts[0] + "." + b64(cb) + "." + parts[2]
	}()

	tests := []struct {
		name      string
		assertion string
		audience  string
		want      error
	}{
		{"alg none", forge(with(headerFor(a), "alg", "none"), valid(), nil, nil), "", ErrAlgorithm},
		{"alg none, no signature part", strings.TrimSuffix(forge(with(headerFor(a), "alg", "none"), valid(), nil, nil), "."), "", ErrAlgorithm},
		{"HS256 with the public key bytes", hs256(a.PublicKey), "", ErrAlgorithm},
		{"HS256 with the public JWK", hs256(pubJWK), "", ErrAlgorithm},
		{"RS256", forge(with(headerFor(a), "alg", "RS256"), valid(), a.priv, nil), "", ErrAlgorithm},
		{"alg missing", forge(with(headerFor(a), "alg", nil), valid(), a.priv, nil), "", ErrAlgorithm},
		{"embedded jwk", forge(with(headerFor(a), "jwk", json.RawMessage(attackerJWK)), valid(), attacker, nil), "", ErrHeader},
		{"jku", forge(with(headerFor(a), "jku", "https://evil.example/jwks"), valid(), attacker, nil), "", ErrHeader},
		{"x5u", forge(with(headerFor(a), "x5u", "https://evil.example/cert"), valid(), attacker, nil), "", ErrHeader},
		{"x5c", forge(with(headerFor(a), "x5c", []string{"MIIB"}), valid(), attacker, nil), "", ErrHeader},
		{"crit", forge(with(headerFor(a), "crit", []string{"exp"}), valid(), a.priv, nil), "", ErrHeader},
		{"unknown header", forge(with(headerFor(a), "cty", "JWT"), valid(), a.priv, nil), "", ErrHeader},
		{"typ of an access token", forge(with(headerFor(a), "typ", "at+jwt"), valid(), a.priv, nil), "", ErrHeader},
		{"kid missing", forge(with(headerFor(a), "kid", nil), valid(), a.priv, nil), "", ErrHeader},
		{"kid not a string", forge(with(headerFor(a), "kid", 7), valid(), a.priv, nil), "", ErrMalformed},
		{"kid path traversal", forge(with(headerFor(a), "kid", "../../../etc/passwd"), valid(), a.priv, nil), "", ErrKeyMismatch},
		{"duplicate alg", func() string {
			h := `{"alg":"none","kid":"` + a.KeyID + `","alg":"EdDSA"}`
			c, _ := json.Marshal(valid())
			in := b64([]byte(h)) + "." + b64(c)
			return in + "." + b64(ed25519.Sign(a.priv, []byte(in)))
		}(), "", ErrHeader},
		{"other account's key and kid", forge(headerFor(b), valid(), b.priv, nil), "", ErrKeyMismatch},
		{"own kid, other account's key", forge(headerFor(a), valid(), b.priv, nil), "", ErrSignature},
		{"attacker key", forge(headerFor(a), valid(), attacker, nil), "", ErrSignature},
		{"tampered payload", tampered, "", ErrKeyMismatch},
		{"tampered payload, same iss", func() string {
			c := valid()
			c["jti"] = "other"
			cb, _ := json.Marshal(c)
			return parts[0] + "." + b64(cb) + "." + parts[2]
		}(), "", ErrSignature},
		{"iss != sub", forge(headerFor(a), with(valid(), "sub", b.ID), a.priv, nil), "", ErrClaims},
		{"wrong aud", forge(headerFor(a), with(valid(), "aud", "https://other.example/auth/token"), a.priv, nil), "", ErrAudience},
		{"aud with a trailing slash", forge(headerFor(a), with(valid(), "aud", tokenURI+"/"), a.priv, nil), "", ErrAudience},
		{"aud list with extra", forge(headerFor(a), with(valid(), "aud", []string{tokenURI, "https://x"}), a.priv, nil), "", ErrAudience},
		{"verified for another endpoint", good, "https://other.example/auth/token", ErrAudience},
		{"expired", forge(headerFor(a), with(valid(), "iat", now.Add(-5*time.Minute).Unix(), "exp", now.Add(-61*time.Second).Unix()), a.priv, nil), "", ErrExpired},
		{"too long", forge(headerFor(a), with(valid(), "exp", now.Add(5*time.Minute+time.Second).Unix()), a.priv, nil), "", ErrLifetime},
		{"a year long", forge(headerFor(a), with(valid(), "exp", now.Add(365*24*time.Hour).Unix()), a.priv, nil), "", ErrLifetime},
		{"no exp", forge(headerFor(a), with(valid(), "exp", nil), a.priv, nil), "", ErrClaims},
		{"no iat", forge(headerFor(a), with(valid(), "iat", nil), a.priv, nil), "", ErrClaims},
		{"exp before iat", forge(headerFor(a), with(valid(), "exp", now.Add(-time.Second).Unix()), a.priv, nil), "", ErrClaims},
		{"iat in the future", forge(headerFor(a), with(valid(), "iat", now.Add(2*time.Minute).Unix(), "exp", now.Add(3*time.Minute).Unix()), a.priv, nil), "", ErrNotYetValid},
		{"nbf in the future", forge(headerFor(a), with(valid(), "nbf", now.Add(2*time.Minute).Unix()), a.priv, nil), "", ErrNotYetValid},
		{"no jti", forge(headerFor(a), with(valid(), "jti", nil), a.priv, nil), "", ErrClaims},
		{"huge jti", forge(headerFor(a), with(valid(), "jti", strings.Repeat("j", 300)), a.priv, nil), "", ErrClaims},
		{"unknown account", forge(headerFor(a), with(valid(), "iss", "sa_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "sub", "sa_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), a.priv, nil), "", ErrUnknownAccount},
		{"iss not an id", forge(headerFor(a), with(valid(), "iss", "https://accounts.google.com"), a.priv, nil), "", ErrUnknownAccount},
		{"no iss", forge(headerFor(a), with(valid(), "iss", nil), a.priv, nil), "", ErrUnknownAccount},
		{"JWS JSON serialization", `{"payload":"e30","protected":"eyJhbGciOiJFZERTQSJ9","signature":"AA"}`, "", ErrMalformed},
		{"two parts", parts[0] + "." + parts[1], "", ErrMalformed},
		{"garbage", "not.a.jwt", "", ErrMalformed},
		{"empty", "", "", ErrMalformed},
		{"huge", strings.Repeat("a", MaxAssertionSize+1), "", ErrMalformed},
		{"claims not an object", func() string {
			in := b64(mustJSON(headerFor(a))) + "." + b64([]byte(`[1,2]`))
			return in + "." + b64(ed25519.Sign(a.priv, []byte(in)))
		}(), "", ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			aud := tc.audience
			if aud == "" {
				aud = tokenURI
			}
			_, err := f.verifier.Verify(context.Background(), tc.assertion, aud)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
			if !errors.Is(err, ErrInvalidAssertion) {
				t.Errorf("%v does not match ErrInvalidAssertion", err)
			}
			if strings.Contains(err.Error(), string(a.priv)) {
				t.Error("error holds key material")
			}
		})
	}
	// The untouched assertion still verifies: the attacks above did not
	// spend its jti.
	if _, err := f.verifier.Verify(context.Background(), good, tokenURI); err != nil {
		t.Errorf("good assertion after the attacks: %v", err)
	}
}

func TestReplay(t *testing.T) {
	f := newFixture(t)
	now := f.clock.Now()
	as, _ := f.a.c.Assertion(now, seeded(5))
	if _, err := f.verifier.Verify(context.Background(), as, tokenURI); err != nil {
		t.Fatal(err)
	}
	if _, err := f.verifier.Verify(context.Background(), as, tokenURI); !errors.Is(err, ErrReplay) {
		t.Errorf("second Verify = %v, want ErrReplay", err)
	}
	// Another account may use the same jti.
	c := claimsFor(f.b, now)
	c["jti"] = "shared"
	ca := claimsFor(f.a, now)
	ca["jti"] = "shared"
	if _, err := f.verifier.Verify(context.Background(), forge(headerFor(f.a), ca, f.a.priv, nil), tokenURI); err != nil {
		t.Fatal(err)
	}
	if _, err := f.verifier.Verify(context.Background(), forge(headerFor(f.b), c, f.b.priv, nil), tokenURI); err != nil {
		t.Errorf("same jti, other account: %v", err)
	}
	// After expiry + skew the jti is forgotten; the assertion is refused as expired anyway.
	f.clock.Set(now.Add(AssertionLifetime + DefaultSkew + time.Second))
	if _, err := f.verifier.Verify(context.Background(), as, tokenURI); !errors.Is(err, ErrExpired) {
		t.Errorf("Verify after expiry = %v, want ErrExpired", err)
	}
}

func TestReplayCacheBounded(t *testing.T) {
	f := newFixture(t)
	v := NewVerifier(VerifierConfig{Accounts: f.reg, Now: f.clock.Now, ReplayCacheSize: 3})
	now := f.clock.Now()
	for i := range 3 {
		as, _ := f.a.c.Assertion(now, seeded(byte(10+i)))
		if _, err := v.Verify(context.Background(), as, tokenURI); err != nil {
			t.Fatal(err)
		}
	}
	as, _ := f.a.c.Assertion(now, seeded(20))
	_, err := v.Verify(context.Background(), as, tokenURI)
	if !errors.Is(err, ErrBusy) || errors.Is(err, ErrInvalidAssertion) {
		t.Fatalf("Verify with a full cache = %v, want ErrBusy only", err)
	}
	if n := len(v.replay.seen); n != 3 {
		t.Errorf("cache holds %d, want 3", n)
	}
	// Once the first ones expire there is room again.
	f.clock.Set(now.Add(AssertionLifetime + DefaultSkew + time.Second))
	as, _ = f.a.c.Assertion(f.clock.Now(), seeded(21))
	if _, err := v.Verify(context.Background(), as, tokenURI); err != nil {
		t.Errorf("Verify after expiry: %v", err)
	}
	if n := len(v.replay.seen); n != 1 {
		t.Errorf("cache holds %d after purge, want 1", n)
	}
}

func TestVerifyDisabledAndRemoved(t *testing.T) {
	f := newFixture(t)
	now := f.clock.Now()
	if _, err := Disable(f.data, "acme", f.a.ID, now); err != nil {
		t.Fatal(err)
	}
	as, _ := f.a.c.Assertion(now, nil)
	if _, err := f.verifier.Verify(context.Background(), as, tokenURI); err != nil {
		t.Fatalf("before the reload the account still works: %v", err)
	}
	if err := f.reg.Reload(); err != nil {
		t.Fatal(err)
	}
	as, _ = f.a.c.Assertion(now, nil)
	if _, err := f.verifier.Verify(context.Background(), as, tokenURI); !errors.Is(err, ErrDisabled) {
		t.Errorf("Verify of a disabled account = %v, want ErrDisabled", err)
	}
	// A disabled account's name is told only to its key holder.
	other := forge(headerFor(f.a), claimsFor(f.a, now), f.b.priv, nil)
	if _, err := f.verifier.Verify(context.Background(), other, tokenURI); !errors.Is(err, ErrSignature) {
		t.Errorf("forged assertion for a disabled account = %v, want ErrSignature", err)
	}
	os.Remove(RecordPath(f.data, "acme", f.b.ID))
	f.reg.Reload()
	as, _ = f.b.c.Assertion(now, nil)
	if _, err := f.verifier.Verify(context.Background(), as, tokenURI); !errors.Is(err, ErrUnknownAccount) {
		t.Errorf("Verify of a removed account = %v, want ErrUnknownAccount", err)
	}
}

func TestVerifyContext(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	as, _ := f.a.c.Assertion(f.clock.Now(), nil)
	if _, err := f.verifier.Verify(ctx, as, tokenURI); !errors.Is(err, context.Canceled) || errors.Is(err, ErrInvalidAssertion) {
		t.Errorf("Verify with a cancelled context = %v", err)
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func b64dec(s string) ([]byte, error) {
	return base64RawURL.DecodeString(s)
}
