package oidctest_test

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/logline/logline/internal/auth/oidctest"
)

const redirect = "https://rp.example/auth/callback"

var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newProvider(t *testing.T, cfg oidctest.Config) (*oidctest.Provider, *clock) {
	c := &clock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	cfg.Key, cfg.Now = testKey(), c.Now
	if cfg.RedirectURIs == nil {
		cfg.RedirectURIs = []string{redirect}
	}
	return oidctest.New(t, cfg), c
}

// noFollow is a client of p that does not follow redirects.
func noFollow(p *oidctest.Provider) *http.Client {
	c := p.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"

func challenge(v string) string {
	s := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(s[:])
}

// authorize runs /authorize with params over the defaults and returns
// the response.
func authorize(t *testing.T, p *oidctest.Provider, over url.Values) *http.Response {
	t.Helper()
	q := url.Values{
		"client_id": {p.ClientID()}, "redirect_uri": {redirect}, "response_type": {"code"},
		"scope": {"openid email"}, "state": {"st"}, "nonce": {"nn"},
		"code_challenge": {challenge(verifier)}, "code_challenge_method": {"S256"},
	}
	for k, v := range over {
		if v == nil {
			q.Del(k)
		} else {
			q[k] = v
		}
	}
	resp, err := noFollow(p).Get(p.Issuer() + "/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// code runs a successful /authorize and returns the code.
func code(t *testing.T, p *oidctest.Provider, over url.Values) string {
	t.Helper()
	resp := authorize(t, p, over)
	loc, err := resp.Location()
	if err != nil {
		t.Fatalf("authorize: got %d without Location", resp.StatusCode)
	}
	if loc.Query().Get("error") != "" || loc.Query().Get("state") != "st" {
		t.Fatalf("authorize: got redirect %s, want a code and state st", loc)
	}
	return loc.Query().Get("code")
}

// exchange posts form to /token (client_secret_basic unless the form has
// client_id) and returns the status and the decoded body.
func exchange(t *testing.T, p *oidctest.Provider, form url.Values) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", p.Issuer()+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if !form.Has("client_id") {
		req.SetBasicAuth(url.QueryEscape(p.ClientID()), url.QueryEscape(p.ClientSecret()))
	}
	resp, err := p.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("token response: %v", err)
	}
	return resp.StatusCode, body
}

func tokenForm(code string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}, "code_verifier": {verifier}}
}

func TestDiscoveryAndJWKS(t *testing.T) {
	p, _ := newProvider(t, oidctest.Config{})
	var doc map[string]any
	getJSON(t, p.Client(), p.Issuer()+"/.well-known/openid-configuration", &doc)
	for k, want := range map[string]string{
		"issuer": p.Issuer(), "authorization_endpoint": p.Issuer() + "/authorize",
		"token_endpoint": p.Issuer() + "/token", "jwks_uri": p.Issuer() + "/jwks",
	} {
		if doc[k] != want {
			t.Errorf("discovery %s: got %v, want %s", k, doc[k], want)
		}
	}
	first := p.KeyID()
	second, err := p.RotateKey()
	if err != nil {
		t.Fatal(err)
	}
	if got := jwksKids(t, p); !slices.Equal(got, []string{second, first}) {
		t.Errorf("after rotation: got kids %v, want %v", got, []string{second, first})
	}
	if err := p.RetireKey(first); err != nil {
		t.Fatal(err)
	}
	if got := jwksKids(t, p); !slices.Equal(got, []string{second}) {
		t.Errorf("after retiring: got kids %v, want %v", got, []string{second})
	}
	if err := p.RetireKey(second); err == nil {
		t.Error("retiring the only key succeeded")
	}
}

func getJSON(t *testing.T, c *http.Client, u string, v any) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
}

func jwks(t *testing.T, p *oidctest.Provider) jose.JSONWebKeySet {
	t.Helper()
	var set jose.JSONWebKeySet
	getJSON(t, p.Client(), p.Issuer()+"/jwks", &set)
	return set
}

func jwksKids(t *testing.T, p *oidctest.Provider) []string {
	var kids []string
	for _, k := range jwks(t, p).Keys {
		kids = append(kids, k.KeyID)
	}
	return kids
}

func TestAuthorize(t *testing.T) {
	p, _ := newProvider(t, oidctest.Config{RedirectURIs: []string{redirect, redirect + "?tenant=a"}})
	// Refused without redirecting: unknown client or inexact redirect URI.
	for name, over := range map[string]url.Values{
		"unknown client":       {"client_id": {"other"}},
		"trailing slash":       {"redirect_uri": {redirect + "/"}},
		"other port":           {"redirect_uri": {"https://rp.example:8443/auth/callback"}},
		"extra query":          {"redirect_uri": {redirect + "?x=1"}},
		"other scheme":         {"redirect_uri": {"http://rp.example/auth/callback"}},
		"missing redirect uri": {"redirect_uri": nil},
	} {
		t.Run(name, func(t *testing.T) {
			if resp := authorize(t, p, over); resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
				t.Errorf("got %d Location %q, want 400 without redirect", resp.StatusCode, resp.Header.Get("Location"))
			}
		})
	}
	// Refused with a redirect carrying error and state.
	for name, tt := range map[string]struct {
		over url.Values
		want string
	}{
		"no PKCE":         {url.Values{"code_challenge": nil, "code_challenge_method": nil}, "invalid_request"},
		"plain PKCE":      {url.Values{"code_challenge_method": {"plain"}}, "invalid_request"},
		"bad challenge":   {url.Values{"code_challenge": {"short"}}, "invalid_request"},
		"no openid scope": {url.Values{"scope": {"email"}}, "invalid_scope"},
		"implicit flow":   {url.Values{"response_type": {"id_token"}}, "unsupported_response_type"},
	} {
		t.Run(name, func(t *testing.T) {
			loc, err := authorize(t, p, tt.over).Location()
			if err != nil {
				t.Fatal(err)
			}
			if got := loc.Query().Get("error"); got != tt.want || loc.Query().Get("state") != "st" {
				t.Errorf("got redirect %s, want error %s and state st", loc, tt.want)
			}
		})
	}
	t.Run("registered query kept", func(t *testing.T) {
		loc, _ := authorize(t, p, url.Values{"redirect_uri": {redirect + "?tenant=a"}}).Location()
		if q := loc.Query(); q.Get("tenant") != "a" || q.Get("code") == "" {
			t.Errorf("got redirect %s, want tenant=a kept and a code", loc)
		}
	})
	t.Run("authorize error knob", func(t *testing.T) {
		p.SetTamper(oidctest.Tamper{AuthorizeError: "access_denied"})
		defer p.SetTamper(oidctest.Tamper{})
		loc, _ := authorize(t, p, nil).Location()
		if loc.Query().Get("error") != "access_denied" || loc.Query().Get("code") != "" {
			t.Errorf("got redirect %s, want error=access_denied and no code", loc)
		}
	})
}

func TestToken(t *testing.T) {
	p, clk := newProvider(t, oidctest.Config{})
	tests := []struct {
		name       string
		form       func() url.Values
		wantStatus int
		wantError  string
	}{
		{"wrong secret", func() url.Values {
			f := tokenForm(code(t, p, nil))
			f.Set("client_id", p.ClientID())
			f.Set("client_secret", "wrong")
			return f
		}, 401, "invalid_client"},
		{"wrong grant type", func() url.Values {
			f := tokenForm(code(t, p, nil))
			f.Set("grant_type", "password")
			return f
		}, 400, "unsupported_grant_type"},
		{"unknown code", func() url.Values { return tokenForm("nope") }, 400, "invalid_grant"},
		{"other redirect uri", func() url.Values {
			f := tokenForm(code(t, p, nil))
			f.Set("redirect_uri", redirect+"/")
			return f
		}, 400, "invalid_grant"},
		{"no redirect uri", func() url.Values {
			f := tokenForm(code(t, p, nil))
			f.Del("redirect_uri")
			return f
		}, 400, "invalid_grant"},
		{"missing verifier", func() url.Values {
			f := tokenForm(code(t, p, nil))
			f.Del("code_verifier")
			return f
		}, 400, "invalid_grant"},
		{"wrong verifier", func() url.Values {
			f := tokenForm(code(t, p, nil))
			f.Set("code_verifier", strings.Repeat("a", 43))
			return f
		}, 400, "invalid_grant"},
		{"verifier equal to the challenge", func() url.Values {
			f := tokenForm(code(t, p, nil))
			f.Set("code_verifier", challenge(verifier))
			return f
		}, 400, "invalid_grant"},
		{"expired code", func() url.Values {
			f := tokenForm(code(t, p, nil))
			clk.Add(oidctest.DefaultCodeTTL + time.Second)
			return f
		}, 400, "invalid_grant"},
		{"client_secret_post", func() url.Values {
			f := tokenForm(code(t, p, nil))
			f.Set("client_id", p.ClientID())
			f.Set("client_secret", p.ClientSecret())
			return f
		}, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := exchange(t, p, tt.form())
			if status != tt.wantStatus || (tt.wantError != "" && body["error"] != tt.wantError) {
				t.Errorf("got %d %v, want %d %s", status, body, tt.wantStatus, tt.wantError)
			}
		})
	}

	t.Run("replayed code", func(t *testing.T) {
		f := tokenForm(code(t, p, nil))
		if status, body := exchange(t, p, f); status != 200 {
			t.Fatalf("first exchange: got %d %v", status, body)
		}
		before := p.Stats().Replays
		if status, body := exchange(t, p, f); status != 400 || body["error"] != "invalid_grant" {
			t.Errorf("replay: got %d %v, want 400 invalid_grant", status, body)
		}
		if got := p.Stats().Replays - before; got != 1 {
			t.Errorf("got %d replays counted, want 1", got)
		}
	})
	t.Run("a refused exchange spends the code", func(t *testing.T) {
		f := tokenForm(code(t, p, nil))
		bad := url.Values{}
		for k, v := range f {
			bad[k] = v
		}
		bad.Set("code_verifier", strings.Repeat("b", 43))
		exchange(t, p, bad)
		if status, body := exchange(t, p, f); status != 400 || body["error"] != "invalid_grant" {
			t.Errorf("got %d %v, want 400 invalid_grant", status, body)
		}
	})
}

func TestTokenWithoutPKCE(t *testing.T) {
	p, _ := newProvider(t, oidctest.Config{AllowNoPKCE: true})
	c := code(t, p, url.Values{"code_challenge": nil, "code_challenge_method": nil})
	if status, body := exchange(t, p, tokenForm(c)); status != 400 || body["error"] != "invalid_grant" {
		t.Errorf("verifier without challenge: got %d %v, want 400 invalid_grant", status, body)
	}
	c = code(t, p, url.Values{"code_challenge": nil, "code_challenge_method": nil})
	f := tokenForm(c)
	f.Del("code_verifier")
	if status, body := exchange(t, p, f); status != 200 {
		t.Errorf("no PKCE at all: got %d %v, want 200", status, body)
	}
}

// TestIDToken checks an issued id_token against the JWKS with go-jose.
func TestIDToken(t *testing.T) {
	p, clk := newProvider(t, oidctest.Config{})
	status, body := exchange(t, p, tokenForm(code(t, p, nil)))
	if status != 200 {
		t.Fatalf("got %d %v", status, body)
	}
	raw := body["id_token"].(string)
	sig, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	set := jwks(t, p)
	keys := set.Key(sig.Signatures[0].Header.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q: got %d published keys, want 1", sig.Signatures[0].Header.KeyID, len(keys))
	}
	payload, err := sig.Verify(keys[0])
	if err != nil {
		t.Fatalf("verify with the JWKS: %v", err)
	}
	var claims map[string]any
	json.Unmarshal(payload, &claims)
	u := oidctest.DefaultUser()
	now := clk.Now()
	want := map[string]any{
		"iss": p.Issuer(), "sub": u.Subject, "aud": p.ClientID(), "azp": p.ClientID(),
		"iat": float64(now.Unix()), "exp": float64(now.Add(oidctest.DefaultIDTokenTTL).Unix()),
		"nonce": "nn", "email": u.Email, "email_verified": true, "hd": u.HostedDomain, "name": u.Name,
	}
	for k, v := range want {
		if claims[k] != v {
			t.Errorf("claim %s: got %v, want %v", k, claims[k], v)
		}
	}
	at := sha256.Sum256([]byte(body["access_token"].(string)))
	if claims["at_hash"] != base64.RawURLEncoding.EncodeToString(at[:16]) {
		t.Errorf("at_hash %v does not match the access token", claims["at_hash"])
	}
}

func TestTamper(t *testing.T) {
	p, _ := newProvider(t, oidctest.Config{})
	mint := func(tm oidctest.Tamper) (header, claims map[string]any, parts []string) {
		t.Helper()
		p.SetTamper(tm)
		defer p.SetTamper(oidctest.Tamper{})
		raw, err := p.MintIDToken(map[string]any{"extra": "x"})
		if err != nil {
			t.Fatal(err)
		}
		parts = strings.Split(raw, ".")
		if len(parts) != 3 {
			t.Fatalf("got %d parts, want 3", len(parts))
		}
		for i, v := range []*map[string]any{&header, &claims} {
			b, _ := base64.RawURLEncoding.DecodeString(parts[i])
			json.Unmarshal(b, v)
		}
		return header, claims, parts
	}
	t.Run("claims", func(t *testing.T) {
		_, c, _ := mint(oidctest.Tamper{Claims: map[string]any{"aud": []string{"a", "b"}, "azp": nil}})
		if _, ok := c["azp"]; ok || c["extra"] != "x" || len(c["aud"].([]any)) != 2 {
			t.Errorf("got claims %v, want two audiences, no azp, extra", c)
		}
	})
	t.Run("alg none", func(t *testing.T) {
		h, _, parts := mint(oidctest.Tamper{Sign: oidctest.SignNone})
		if h["alg"] != "none" || parts[2] != "" {
			t.Errorf("got header %v signature %q, want alg none and no signature", h, parts[2])
		}
	})
	t.Run("HS256 with the public key", func(t *testing.T) {
		h, _, parts := mint(oidctest.Tamper{Sign: oidctest.SignHS256PublicKey})
		der, _ := x509.MarshalPKIXPublicKey(p.PublicKey())
		m := hmac.New(sha256.New, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
		io.WriteString(m, parts[0]+"."+parts[1])
		if h["alg"] != "HS256" || base64.RawURLEncoding.EncodeToString(m.Sum(nil)) != parts[2] {
			t.Errorf("got header %v, want HS256 keyed with the public key's PEM", h)
		}
	})
	t.Run("unknown key", func(t *testing.T) {
		h, _, _ := mint(oidctest.Tamper{Sign: oidctest.SignUnknownKey})
		if h["kid"] != "unknown" || slices.Contains(jwksKids(t, p), "unknown") {
			t.Errorf("got header %v, want kid unknown, not published", h)
		}
	})
	t.Run("header", func(t *testing.T) {
		h, _, _ := mint(oidctest.Tamper{Header: map[string]any{"jku": "https://evil.example/jwks", "typ": nil}})
		if _, ok := h["typ"]; ok || h["jku"] != "https://evil.example/jwks" {
			t.Errorf("got header %v, want jku set and typ deleted", h)
		}
	})
}

// TestGoogleIssuer: a provider announcing Google's issuer is reached
// through Client and Browser.
func TestGoogleIssuer(t *testing.T) {
	p, _ := newProvider(t, oidctest.Config{Issuer: oidctest.GoogleIssuer})
	var doc map[string]any
	getJSON(t, p.Client(), "https://accounts.google.com/.well-known/openid-configuration", &doc)
	if doc["issuer"] != oidctest.GoogleIssuer || doc["token_endpoint"] != "https://accounts.google.com/token" {
		t.Errorf("got discovery %v, want Google's issuer and endpoints under it", doc)
	}
	if c := code(t, p, nil); c == "" {
		t.Error("no code through the routed transport")
	}
}
