package llst

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/go-cmp/cmp"

	"github.com/logline/logline/internal/auth"
)

func TestRoundTrip(t *testing.T) {
	e := newEnv(t)
	c := writerClaims()
	tok, exp, err := e.issuer.Issue(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if want := t0.Add(15 * time.Minute); !exp.Equal(want) {
		t.Errorf("expires %v, want %v", exp, want)
	}
	// The header is exactly alg, kid, typ.
	hdr, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	key := e.activeKey()
	if want := `{"alg":"EdDSA","kid":"` + key.ID + `","typ":"llst+jwt"}`; string(hdr) != want {
		t.Errorf("header %s, want %s", hdr, want)
	}
	var claims map[string]any
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"iss", "sub", "aud", "tenant", "roles", "caps", "kind", "exp", "nbf", "iat", "jti"} {
		if _, ok := claims[name]; !ok {
			t.Errorf("claim %s missing from %s", name, payload)
		}
	}
	if len(claims) != 11 {
		t.Errorf("got %d claims, want 11: %s", len(claims), payload)
	}
	if jti, _ := base64.RawURLEncoding.DecodeString(claims["jti"].(string)); len(jti) != 16 {
		t.Errorf("jti of %d bytes, want 16", len(jti))
	}

	want := &auth.Principal{
		Subject: c.Subject, Tenant: "default", Roles: []string{"writer"},
		Grants: auth.Grants{"ledger.append", "ledger.read", "stream.read"}, Kind: auth.KindUser,
		TokenID: claims["jti"].(string), KeyID: key.ID, Expires: exp, IssuedAt: t0,
	}
	for name, v := range map[string]*Verifier{"cached": e.verifier, "uncached": e.uncached} {
		t.Run(name, func(t *testing.T) {
			for range 2 { // a miss, then (cached) a hit
				p, err := v.Verify(tok)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, p); diff != "" {
					t.Errorf("principal (-want +got):\n%s", diff)
				}
				if !p.Can("default", auth.LedgerAppend) || p.Can("default", auth.AdminConfig) || p.Can("other", auth.LedgerRead) {
					t.Errorf("grants of %+v are wrong", p)
				}
			}
		})
	}
	if n := e.verifier.cache.len(); n != 1 {
		t.Errorf("cache holds %d entries, want 1", n)
	}
}

// attacker material, made once.
var (
	attackOnce sync.Once
	rsaKey     *rsa.PrivateKey
	ecKey      *ecdsa.PrivateKey
	evilKey    ed25519.PrivateKey
	evilCert   []byte
)

func attackKeys(t *testing.T) {
	attackOnce.Do(func() {
		var err error
		if rsaKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if ecKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
		_, evilKey, _ = ed25519.GenerateKey(rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "evil"},
			NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(time.Hour)}
		if evilCert, err = x509.CreateCertificate(rand.Reader, tmpl, tmpl, evilKey.Public(), evilKey); err != nil {
			panic(err)
		}
	})
}

// joseSign signs payload with go-jose as an attacker would, with any
// algorithm, key and headers.
func joseSign(t *testing.T, alg jose.SignatureAlgorithm, key any, opts *jose.SignerOptions, payload map[string]any) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(s).Claims(payload).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func llstOpts(kid string) *jose.SignerOptions {
	return (&jose.SignerOptions{}).WithType(TokenType).WithHeader(jose.HeaderKey("kid"), kid)
}

func TestVerifyRejects(t *testing.T) {
	attackKeys(t)
	e := newEnv(t)
	key := e.activeKey()
	kid := key.ID
	good := func(mod func(h, c map[string]any)) string {
		h, c := e.header(kid), e.claimsMap()
		if mod != nil {
			mod(h, c)
		}
		return signRaw(t, key.Private, h, c)
	}
	without := func(name string) string {
		return good(func(_, c map[string]any) { delete(c, name) })
	}
	now := t0.Unix()
	next := e.ring.snap.Load().keys[1] // generated, not yet published
	if !next.PublishAt.After(t0) {
		t.Fatalf("second key %s published at %v, want later", next.ID, next.PublishAt)
	}

	tests := []struct {
		name  string
		token func() string
		want  error // nil: accepted
	}{
		{"valid", func() string { return good(nil) }, nil},
		{"aud as an array", func() string {
			return good(func(_, c map[string]any) { c["aud"] = []string{"other", DefaultAudience} })
		}, nil},

		// Algorithms.
		{"alg none", func() string {
			h := e.header(kid)
			h["alg"] = "none"
			return b64json(t, h) + "." + b64json(t, e.claimsMap()) + "."
		}, ErrWrongAlgorithm},
		{"alg none with a signature", func() string {
			return good(func(h, _ map[string]any) { h["alg"] = "none" })
		}, ErrWrongAlgorithm},
		{"alg missing", func() string { return good(func(h, _ map[string]any) { delete(h, "alg") }) }, ErrWrongAlgorithm},
		{"alg Ed25519 spelled otherwise", func() string { return good(func(h, _ map[string]any) { h["alg"] = "eddsa" }) }, ErrWrongAlgorithm},
		{"HS256 with the public key as secret", func() string {
			return joseSign(t, jose.HS256, []byte(key.pub), llstOpts(kid), e.claimsMap())
		}, ErrWrongAlgorithm},
		{"HS256 with the JWK of the public key as secret", func() string {
			jwk, _ := json.Marshal(jose.JSONWebKey{Key: key.pub, KeyID: kid})
			return joseSign(t, jose.HS256, jwk, llstOpts(kid), e.claimsMap())
		}, ErrWrongAlgorithm},
		{"RS256", func() string { return joseSign(t, jose.RS256, rsaKey, llstOpts(kid), e.claimsMap()) }, ErrWrongAlgorithm},
		{"ES256", func() string { return joseSign(t, jose.ES256, ecKey, llstOpts(kid), e.claimsMap()) }, ErrWrongAlgorithm},
		{"PS256", func() string { return joseSign(t, jose.PS256, rsaKey, llstOpts(kid), e.claimsMap()) }, ErrWrongAlgorithm},

		// Header parameters naming or carrying keys.
		{"embedded jwk of the attacker's key", func() string {
			opts := (&jose.SignerOptions{EmbedJWK: true}).WithType(TokenType)
			return joseSign(t, jose.EdDSA, evilKey, opts, e.claimsMap())
		}, ErrForbiddenHeader},
		{"embedded jwk beside a valid kid", func() string {
			return good(func(h, _ map[string]any) {
				h["jwk"] = map[string]any{"kty": "OKP", "crv": "Ed25519", "x": base64.RawURLEncoding.EncodeToString(evilKey.Public().(ed25519.PublicKey))}
			})
		}, ErrForbiddenHeader},
		{"jku", func() string {
			return joseSign(t, jose.EdDSA, evilKey, llstOpts(kid).WithHeader("jku", "https://evil.example/jwks.json"), e.claimsMap())
		}, ErrForbiddenHeader},
		{"jku on a validly signed token", func() string {
			return good(func(h, _ map[string]any) { h["jku"] = "https://evil.example/jwks.json" })
		}, ErrForbiddenHeader},
		{"x5u", func() string {
			return joseSign(t, jose.EdDSA, evilKey, llstOpts(kid).WithHeader("x5u", "https://evil.example/cert.pem"), e.claimsMap())
		}, ErrForbiddenHeader},
		{"x5c", func() string {
			return joseSign(t, jose.EdDSA, evilKey, llstOpts(kid).WithHeader("x5c", []string{base64.StdEncoding.EncodeToString(evilCert)}), e.claimsMap())
		}, ErrForbiddenHeader},
		{"x5t", func() string { return good(func(h, _ map[string]any) { h["x5t"] = "AAAA" }) }, ErrForbiddenHeader},
		{"crit", func() string {
			return good(func(h, _ map[string]any) { h["crit"] = []string{"exp"}; h["exp"] = now })
		}, ErrForbiddenHeader},
		{"b64 false", func() string { return good(func(h, _ map[string]any) { h["b64"] = false }) }, ErrForbiddenHeader},
		{"unknown header parameter", func() string { return good(func(h, _ map[string]any) { h["foo"] = "bar" }) }, ErrForbiddenHeader},

		// Key ids.
		{"kid with path traversal, attacker key", func() string {
			return signRaw(t, evilKey, e.header("../../etc/passwd"), e.claimsMap())
		}, ErrUnknownKey},
		{"kid with path traversal to a real key file", func() string {
			return signRaw(t, key.Private, e.header("../llst/"+kid), e.claimsMap())
		}, ErrUnknownKey},
		{"kid a file name", func() string { return signRaw(t, key.Private, e.header(kid+".json"), e.claimsMap()) }, ErrUnknownKey},
		{"unknown kid", func() string { return signRaw(t, evilKey, e.header("llst-20990101-deadbeef"), e.claimsMap()) }, ErrUnknownKey},
		{"kid missing", func() string { return good(func(h, _ map[string]any) { delete(h, "kid") }) }, ErrMalformed},
		{"kid not a string", func() string { return good(func(h, _ map[string]any) { h["kid"] = 7 }) }, ErrMalformed},
		{"key generated but not yet published", func() string {
			return signRaw(t, next.Private, e.header(next.ID), e.claimsMap())
		}, ErrUnknownKey},

		// Signatures.
		{"signed by a key not in the ring, under a ring kid", func() string {
			return signRaw(t, evilKey, e.header(kid), e.claimsMap())
		}, ErrBadSignature},
		{"payload changed after signing", func() string {
			tok := good(nil)
			parts := strings.Split(tok, ".")
			c := e.claimsMap()
			c["tenant"] = "other"
			return parts[0] + "." + b64json(t, c) + "." + parts[2]
		}, ErrBadSignature},
		{"signature truncated", func() string { tok := good(nil); return tok[:len(tok)-4] }, ErrMalformed},
		{"signature empty", func() string {
			parts := strings.Split(good(nil), ".")
			return parts[0] + "." + parts[1] + "."
		}, ErrMalformed},
		{"signature with non-canonical base64", func() string {
			tok := []byte(good(nil))
			last := tok[len(tok)-1]
			tok[len(tok)-1] = canonicalTwin(last)
			return string(tok)
		}, ErrMalformed},

		// Types.
		{"typ JWT", func() string { return good(func(h, _ map[string]any) { h["typ"] = "JWT" }) }, ErrWrongType},
		{"typ in other case", func() string { return good(func(h, _ map[string]any) { h["typ"] = "LLST+JWT" }) }, ErrWrongType},
		{"typ missing", func() string { return good(func(h, _ map[string]any) { delete(h, "typ") }) }, ErrWrongType},
		{"Google id_token (RS256, typ JWT)", func() string {
			opts := (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "8e8fc8e556f7a76d08d35829d6f90ae2e12cfd0d")
			return joseSign(t, jose.RS256, rsaKey, opts, map[string]any{
				"iss": "https://accounts.google.com", "azp": "123.apps.googleusercontent.com",
				"aud": "123.apps.googleusercontent.com", "sub": "1234567890", "email": "a@example.com",
				"email_verified": true, "iat": now, "exp": now + 3600, "nonce": "n",
			})
		}, ErrWrongAlgorithm},
		{"Google-issued claims signed by a ring key, typ JWT", func() string {
			h := e.header(kid)
			h["typ"] = "JWT"
			return signRaw(t, key.Private, h, map[string]any{
				"iss": "https://accounts.google.com", "aud": "123.apps.googleusercontent.com",
				"sub": "1234567890", "iat": now, "exp": now + 3600,
			})
		}, ErrWrongType},
		{"Google-issued claims signed by a ring key, typ llst+jwt", func() string {
			return signRaw(t, key.Private, e.header(kid), map[string]any{
				"iss": "https://accounts.google.com", "aud": "123.apps.googleusercontent.com",
				"sub": "1234567890", "iat": now, "exp": now + 3600,
			})
		}, ErrBadClaims},

		// Issuer and audience.
		{"wrong iss", func() string { return good(func(_, c map[string]any) { c["iss"] = "https://evil.example" }) }, ErrWrongIssuer},
		{"iss with a trailing slash", func() string { return good(func(_, c map[string]any) { c["iss"] = testIssuer + "/" }) }, ErrWrongIssuer},
		{"wrong aud", func() string { return good(func(_, c map[string]any) { c["aud"] = "someone-else" }) }, ErrWrongAudience},
		{"aud array without ours", func() string { return good(func(_, c map[string]any) { c["aud"] = []string{"a", "b"} }) }, ErrWrongAudience},
		{"aud empty array", func() string { return good(func(_, c map[string]any) { c["aud"] = []string{} }) }, ErrWrongAudience},

		// Time, with the 60 s skew.
		{"expired 59 s ago: within skew", func() string {
			return good(func(_, c map[string]any) { c["exp"], c["iat"], c["nbf"] = now-59, now-900, now-900 })
		}, nil},
		{"expired 60 s ago: beyond skew", func() string {
			return good(func(_, c map[string]any) { c["exp"], c["iat"], c["nbf"] = now-60, now-900, now-900 })
		}, ErrExpired},
		{"expired an hour ago", func() string {
			return good(func(_, c map[string]any) { c["exp"], c["iat"], c["nbf"] = now-3600, now-3700, now-3700 })
		}, ErrExpired},
		{"nbf 60 s ahead: within skew", func() string {
			return good(func(_, c map[string]any) { c["nbf"], c["iat"] = now+60, now+60 })
		}, nil},
		{"nbf 61 s ahead: beyond skew", func() string { return good(func(_, c map[string]any) { c["nbf"] = now + 61 }) }, ErrNotYetValid},
		{"iat 61 s ahead", func() string { return good(func(_, c map[string]any) { c["iat"] = now + 61 }) }, ErrNotYetValid},
		{"lifetime over 15 min", func() string {
			return good(func(_, c map[string]any) { c["exp"] = now + 15*60 + 1 })
		}, ErrBadClaims},
		{"exp before iat", func() string { return good(func(_, c map[string]any) { c["exp"] = now - 1 }) }, ErrBadClaims},
		{"nbf after exp", func() string { return good(func(_, c map[string]any) { c["nbf"] = now + 601 }) }, ErrBadClaims},

		// Claims present and well typed.
		{"missing iss", func() string { return without("iss") }, ErrBadClaims},
		{"missing sub", func() string { return without("sub") }, ErrBadClaims},
		{"missing aud", func() string { return without("aud") }, ErrBadClaims},
		{"missing tenant", func() string { return without("tenant") }, ErrBadClaims},
		{"missing roles", func() string { return without("roles") }, ErrBadClaims},
		{"missing caps", func() string { return without("caps") }, ErrBadClaims},
		{"missing kind", func() string { return without("kind") }, ErrBadClaims},
		{"missing exp", func() string { return without("exp") }, ErrBadClaims},
		{"missing nbf", func() string { return without("nbf") }, ErrBadClaims},
		{"missing iat", func() string { return without("iat") }, ErrBadClaims},
		{"missing jti", func() string { return without("jti") }, ErrBadClaims},
		{"exp null", func() string { return good(func(_, c map[string]any) { c["exp"] = nil }) }, ErrBadClaims},
		{"exp a string", func() string { return good(func(_, c map[string]any) { c["exp"] = "9999999999" }) }, ErrBadClaims},
		{"exp fractional", func() string { return good(func(_, c map[string]any) { c["exp"] = float64(now) + 0.5 }) }, ErrBadClaims},
		{"roles a string", func() string { return good(func(_, c map[string]any) { c["roles"] = "admin" }) }, ErrBadClaims},
		{"caps an object", func() string { return good(func(_, c map[string]any) { c["caps"] = map[string]any{"*": true} }) }, ErrBadClaims},
		{"aud a number", func() string { return good(func(_, c map[string]any) { c["aud"] = 1 }) }, ErrBadClaims},
		{"claim in other case (Exp)", func() string {
			return good(func(_, c map[string]any) { c["Exp"] = c["exp"]; delete(c, "exp") })
		}, ErrBadClaims},
		{"payload an array", func() string { return signRaw(t, key.Private, e.header(kid), "[1,2]") }, ErrBadClaims},
		{"payload duplicate exp", func() string {
			c := e.claimsMap()
			raw, _ := json.Marshal(c)
			return signRaw(t, key.Private, e.header(kid), strings.TrimSuffix(string(raw), "}")+`,"exp":9999999999}`)
		}, ErrBadClaims},
		{"empty tenant", func() string { return good(func(_, c map[string]any) { c["tenant"] = "" }) }, ErrBadClaims},
		{"tenant with a slash", func() string { return good(func(_, c map[string]any) { c["tenant"] = "../default" }) }, ErrBadClaims},
		{"tenant in upper case", func() string { return good(func(_, c map[string]any) { c["tenant"] = "Default" }) }, ErrBadClaims},
		{"empty sub", func() string { return good(func(_, c map[string]any) { c["sub"] = "" }) }, ErrBadClaims},
		{"unknown kind", func() string { return good(func(_, c map[string]any) { c["kind"] = "dev" }) }, ErrBadClaims},
		{"unknown capability", func() string {
			return good(func(_, c map[string]any) { c["caps"] = []string{"ledger.delete"} })
		}, ErrBadClaims},
		{"empty jti", func() string { return good(func(_, c map[string]any) { c["jti"] = "" }) }, ErrBadClaims},

		// Structure.
		{"empty", func() string { return "" }, ErrMalformed},
		{"one segment", func() string { return "abc" }, ErrMalformed},
		{"four segments", func() string { return good(nil) + ".AAAA" }, ErrMalformed},
		{"header not base64", func() string { return "***." + strings.SplitN(good(nil), ".", 2)[1] }, ErrMalformed},
		{"header not JSON", func() string { return b64json(t, "not json") + "." + strings.SplitN(good(nil), ".", 2)[1] }, ErrMalformed},
		{"header null", func() string { return b64json(t, "null") + "." + strings.SplitN(good(nil), ".", 2)[1] }, ErrMalformed},
		{"header with a duplicate alg", func() string {
			return signRaw(t, key.Private, `{"alg":"none","alg":"EdDSA","typ":"llst+jwt","kid":"`+kid+`"}`, e.claimsMap())
		}, ErrMalformed},
		{"header with a duplicate kid", func() string {
			return signRaw(t, key.Private, `{"alg":"EdDSA","typ":"llst+jwt","kid":"x","kid":"`+kid+`"}`, e.claimsMap())
		}, ErrMalformed},
		{"JWS JSON serialisation", func() string {
			parts := strings.Split(good(nil), ".")
			return `{"protected":"` + parts[0] + `","payload":"` + parts[1] + `","signature":"` + parts[2] + `"}`
		}, ErrMalformed},
		{"too long", func() string {
			return good(func(_, c map[string]any) { c["roles"] = []string{strings.Repeat("r", MaxTokenSize)} })
		}, ErrMalformed},
		{"JWE", func() string { return "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a.b.c.d" }, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := tt.token()
			for name, v := range map[string]*Verifier{"cached": e.verifier, "uncached": e.uncached} {
				for range 2 {
					p, err := v.Verify(tok)
					if tt.want == nil {
						if err != nil {
							t.Fatalf("%s: got %v, want accepted", name, err)
						}
						if p.Tenant != "default" || p.KeyID != kid {
							t.Errorf("%s: got principal %+v", name, p)
						}
						continue
					}
					if !errors.Is(err, tt.want) || !errors.Is(err, ErrInvalidToken) {
						t.Fatalf("%s: got %v, want %v", name, err, tt.want)
					}
					if p != nil {
						t.Errorf("%s: got principal %+v with error", name, p)
					}
					noLeak(t, err, tok)
				}
			}
		})
	}
}

// canonicalTwin returns a base64url character that decodes the last two
// bits of a 64-byte value the same as c but is not the canonical form.
func canonicalTwin(c byte) byte {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, c)
	return alphabet[i|1] // sets one of the four unused low bits
}

func TestVerifyOneClassPerError(t *testing.T) {
	classes := []error{ErrMalformed, ErrForbiddenHeader, ErrWrongAlgorithm, ErrWrongType, ErrUnknownKey,
		ErrBadSignature, ErrExpired, ErrNotYetValid, ErrWrongIssuer, ErrWrongAudience, ErrBadClaims}
	for _, c := range classes {
		err := fail(c, "detail")
		n := 0
		for _, d := range classes {
			if errors.Is(err, d) {
				n++
			}
		}
		if n != 1 || !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%v: matches %d classes, want 1 (and ErrInvalidToken)", err, n)
		}
	}
}

func TestCacheChecksClockAndKey(t *testing.T) {
	e := newEnv(t)
	tok := e.issue(writerClaims())
	if _, err := e.verifier.Verify(tok); err != nil {
		t.Fatal(err)
	}
	if n := e.verifier.cache.len(); n != 1 {
		t.Fatalf("cache holds %d entries, want 1", n)
	}

	t.Run("a hit still expires", func(t *testing.T) {
		e.clock.Set(t0.Add(15*time.Minute + 59*time.Second))
		if _, err := e.verifier.Verify(tok); err != nil {
			t.Fatalf("within skew: %v", err)
		}
		e.clock.Set(t0.Add(16 * time.Minute))
		if _, err := e.verifier.Verify(tok); !errors.Is(err, ErrExpired) {
			t.Fatalf("after exp + skew: got %v, want ErrExpired", err)
		}
		e.clock.Set(t0)
	})

	t.Run("a removed key invalidates its cached tokens", func(t *testing.T) {
		if _, err := e.verifier.Verify(tok); err != nil {
			t.Fatal(err)
		}
		kid := e.activeKey().ID
		if err := removeFile(e.dir, kid+".json"); err != nil {
			t.Fatal(err)
		}
		if err := e.ring.Reload(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, err := e.verifier.Verify(tok); !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("got %v, want ErrUnknownKey", err)
		}
	})
}

func TestCacheBounded(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.CacheSize = 100 })
	var toks []string
	for range 300 {
		toks = append(toks, e.issue(writerClaims()))
	}
	for _, tok := range toks {
		if _, err := e.verifier.Verify(tok); err != nil {
			t.Fatal(err)
		}
	}
	c := e.verifier.cache
	if n := c.len(); n > 100+len(c.shards) || n < 50 {
		t.Errorf("cache holds %d entries, want about 100", n)
	}
	// Evicted tokens still verify (a miss), and come back.
	for _, tok := range toks {
		if _, err := e.verifier.Verify(tok); err != nil {
			t.Fatal(err)
		}
	}
}

func TestVerifyConcurrent(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.CacheSize = 64 })
	toks := make([]string, 32)
	for i := range toks {
		toks[i] = e.issue(writerClaims())
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				tok := toks[(g*7+i)%len(toks)]
				if _, err := e.verifier.Verify(tok); err != nil {
					t.Error(err)
					return
				}
				if g == 0 && i%50 == 0 {
					if err := e.ring.Rotate(ctx, e.clock.Now()); err != nil {
						t.Error(err)
					}
				}
			}
		}()
	}
	wg.Wait()
}
