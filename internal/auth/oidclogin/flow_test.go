package oidclogin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logline/logline/internal/auth"
	"github.com/logline/logline/internal/auth/oidctest"
)

func TestLoginSuccess(t *testing.T) {
	e := newEnv(t, oidctest.Config{}, nil)
	b := e.p.Browser()

	// The first response sets the binding cookie and goes to the provider.
	noFollow := *b
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, _ := get(t, &noFollow, e.rp.URL+"/auth/login?return_to=/spans%3Ftenant%3Dacme")
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("login: got status %d, want 302", resp.StatusCode)
	}
	loc, _ := resp.Location()
	q := loc.Query()
	if !strings.HasPrefix(loc.String(), e.p.Issuer()+"/authorize?") {
		t.Errorf("got redirect %s, want the provider's authorization endpoint", loc)
	}
	for k, want := range map[string]string{
		"client_id": e.p.ClientID(), "redirect_uri": e.rp.URL + "/auth/callback",
		"response_type": "code", "code_challenge_method": "S256", "scope": "openid email profile",
	} {
		if got := q.Get(k); got != want {
			t.Errorf("authorization request %s: got %q, want %q", k, got, want)
		}
	}
	for _, k := range []string{"state", "nonce", "code_challenge"} {
		if len(q.Get(k)) != 43 {
			t.Errorf("authorization request %s: got %q, want 43 characters", k, q.Get(k))
		}
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("login response Cache-Control: got %q, want no-store", resp.Header.Get("Cache-Control"))
	}
	cookies := resp.Cookies()
	if len(cookies) != 1 {
		t.Fatalf("got %d cookies, want 1", len(cookies))
	}
	c := cookies[0]
	if c.Name != CookieName || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Secure || c.MaxAge != 600 {
		t.Errorf("got cookie %+v, want %s, HttpOnly, SameSite=Lax, Path=/, not Secure on http, Max-Age 600", c, CookieName)
	}

	// Follow the provider back to the callback.
	resp, body := get(t, b, loc.String())
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("callback: got status %d, want 200; body %s", resp.StatusCode, body)
	}
	var got LoginResult
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	u := oidctest.DefaultUser()
	want := LoginResult{
		Identity: Identity{
			Issuer: e.p.Issuer(), Subject: u.Subject, LLID: auth.LLID(e.p.Issuer(), u.Subject),
			Email: u.Email, EmailVerified: true, HostedDomain: u.HostedDomain, Name: u.Name,
		},
		ReturnTo: "/spans?tenant=acme",
	}
	if got != want {
		t.Errorf("got login %+v, want %+v", got, want)
	}
	if n := e.flow.store.len(); n != 0 {
		t.Errorf("got %d pending logins after the callback, want 0", n)
	}
	if rp := resp.Header.Get("Referrer-Policy"); rp != "no-referrer" {
		t.Errorf("callback Referrer-Policy: got %q, want no-referrer", rp)
	}
}

func TestLoginSecureCookie(t *testing.T) {
	e := newEnv(t, oidctest.Config{}, nil)
	f, err := New(context.Background(), Config{
		Issuer: e.p.Issuer(), ClientID: e.p.ClientID(), ClientSecret: e.p.ClientSecret(),
		RedirectURL: "https://logline.example/auth/callback", HTTPClient: e.p.Client(),
		OnLogin: e.onLogin,
	})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	f.Login(rec, httptest.NewRequest("GET", "https://logline.example/auth/login", nil))
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 || cookies[0].Name != CookieNameSecure || !cookies[0].Secure || cookies[0].Path != "/" || cookies[0].Domain != "" {
		t.Errorf("got cookies %+v, want one %s, Secure, Path=/, no Domain", cookies, CookieNameSecure)
	}
}

func TestLoginReturnTo(t *testing.T) {
	e := newEnv(t, oidctest.Config{}, nil)
	for _, rt := range []string{"https://evil.example/", "//evil.example", "/\\evil.example", "evil", "/%09/x\t"} {
		t.Run(rt, func(t *testing.T) {
			resp, body := get(t, e.p.Browser(), e.rp.URL+"/auth/login?return_to="+url.QueryEscape(rt))
			e.wantProblem(t, resp, body, ErrBadReturnTo)
		})
	}
}

// TestSeveralTabs: one browser starts two logins before finishing either;
// both complete, since the binding cookie is reused.
func TestSeveralTabs(t *testing.T) {
	e := newEnv(t, oidctest.Config{}, nil)
	b := e.p.Browser()
	first := e.startLogin(t, b, "?return_to=/one")
	second := e.startLogin(t, b, "?return_to=/two")
	for _, cb := range []string{second, first} {
		if resp, body := get(t, b, cb); resp.StatusCode != http.StatusOK {
			t.Errorf("callback: got %d, want 200; body %s", resp.StatusCode, body)
		}
	}
	if n := e.loginCount(); n != 2 {
		t.Errorf("got %d logins, want 2", n)
	}
}

func TestCallbackState(t *testing.T) {
	e := newEnv(t, oidctest.Config{}, nil)
	tests := []struct {
		name string
		run  func(t *testing.T) (*http.Response, []byte)
		want *Error
	}{{
		name: "missing state",
		run: func(t *testing.T) (*http.Response, []byte) {
			b := e.p.Browser()
			return get(t, b, withQuery(t, e.startLogin(t, b, ""), "state", ""))
		},
		want: ErrBadState,
	}, {
		name: "malformed state",
		run: func(t *testing.T) (*http.Response, []byte) {
			b := e.p.Browser()
			return get(t, b, withQuery(t, e.startLogin(t, b, ""), "state", "x"))
		},
		want: ErrBadState,
	}, {
		name: "unknown state",
		run: func(t *testing.T) (*http.Response, []byte) {
			b := e.p.Browser()
			return get(t, b, withQuery(t, e.startLogin(t, b, ""), "state", strings.Repeat("A", 43)))
		},
		want: ErrBadState,
	}, {
		name: "repeated state",
		run: func(t *testing.T) (*http.Response, []byte) {
			b := e.p.Browser()
			cb := e.startLogin(t, b, "")
			state := mustQuery(t, cb, "state")
			return get(t, b, cb+"&state="+state)
		},
		want: ErrBadState,
	}, {
		name: "state from another browser",
		run: func(t *testing.T) (*http.Response, []byte) {
			victim, attacker := e.p.Browser(), e.p.Browser()
			cb := e.startLogin(t, attacker, "")
			e.startLogin(t, victim, "") // the victim has a binding cookie of its own
			resp, body := get(t, victim, cb)
			// The attacker's own browser can still complete: the forged
			// callback did not consume the state.
			if r, b := get(t, attacker, cb); r.StatusCode != http.StatusOK {
				t.Errorf("the login's own browser: got %d, want 200; body %s", r.StatusCode, b)
			}
			return resp, body
		},
		want: ErrStateMismatch,
	}, {
		name: "no login cookie",
		run: func(t *testing.T) (*http.Response, []byte) {
			cb := e.startLogin(t, e.p.Browser(), "")
			return get(t, e.p.Browser(), cb)
		},
		want: ErrStateMismatch,
	}, {
		name: "reused state",
		run: func(t *testing.T) (*http.Response, []byte) {
			b := e.p.Browser()
			cb := e.startLogin(t, b, "")
			if r, body := get(t, b, cb); r.StatusCode != http.StatusOK {
				t.Fatalf("first callback: got %d, want 200; body %s", r.StatusCode, body)
			}
			return get(t, b, cb)
		},
		want: ErrBadState,
	}, {
		name: "expired state",
		run: func(t *testing.T) (*http.Response, []byte) {
			b := e.p.Browser()
			cb := e.startLogin(t, b, "")
			e.clock.Add(DefaultStateTTL)
			return get(t, b, cb)
		},
		want: ErrBadState,
	}, {
		name: "provider error",
		run: func(t *testing.T) (*http.Response, []byte) {
			e.p.SetTamper(oidctest.Tamper{AuthorizeError: "access_denied"})
			b := e.p.Browser()
			resp, body := get(t, b, e.rp.URL+"/auth/login")
			if !strings.Contains(string(body), "(access_denied)") {
				t.Errorf("got body %s, want the OAuth error code named", body)
			}
			return resp, body
		},
		want: ErrProviderDenied,
	}, {
		name: "unknown provider error is not echoed",
		run: func(t *testing.T) (*http.Response, []byte) {
			e.p.SetTamper(oidctest.Tamper{AuthorizeError: "<script>"})
			resp, body := get(t, e.p.Browser(), e.rp.URL+"/auth/login")
			if strings.Contains(string(body), "script") {
				t.Errorf("got body %s, want the unknown error code not echoed", body)
			}
			return resp, body
		},
		want: ErrProviderDenied,
	}, {
		name: "missing code",
		run: func(t *testing.T) (*http.Response, []byte) {
			b := e.p.Browser()
			return get(t, b, withQuery(t, e.startLogin(t, b, ""), "code", ""))
		},
		want: ErrMissingCode,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.reset()
			resp, body := tt.run(t)
			e.wantProblem(t, resp, body, tt.want)
		})
	}
	if e.loginCount() != 0 {
		t.Errorf("OnLogin was called %d times after the last reset", e.loginCount())
	}
}

func mustQuery(t testing.TB, u, k string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return p.Query().Get(k)
}

func TestCallbackExchange(t *testing.T) {
	e := newEnv(t, oidctest.Config{}, nil)
	// setVerifier replaces the PKCE verifier the flow kept for the login
	// behind callback URL cb.
	setVerifier := func(t *testing.T, cb, v string) {
		e.flow.store.mu.Lock()
		defer e.flow.store.mu.Unlock()
		el, ok := e.flow.store.byState[mustQuery(t, cb, "state")]
		if !ok {
			t.Fatal("no pending login for the callback's state")
		}
		el.Value.(*pending).verifier = v
	}
	tests := []struct {
		name string
		run  func(t *testing.T) (*http.Response, []byte)
	}{{
		name: "replayed authorization code",
		run: func(t *testing.T) (*http.Response, []byte) {
			b := e.p.Browser()
			first := e.startLogin(t, b, "")
			if r, body := get(t, b, first); r.StatusCode != http.StatusOK {
				t.Fatalf("first login: got %d; body %s", r.StatusCode, body)
			}
			// A new login of the same browser, completed with the old code.
			second := e.startLogin(t, b, "")
			before := e.p.Stats().Replays
			resp, body := get(t, b, withQuery(t, second, "code", mustQuery(t, first, "code")))
			if got := e.p.Stats().Replays - before; got != 1 {
				t.Errorf("provider saw %d replays, want 1", got)
			}
			return resp, body
		},
	}, {
		name: "expired authorization code",
		run: func(t *testing.T) (*http.Response, []byte) {
			b := e.p.Browser()
			cb := e.startLogin(t, b, "")
			e.clock.Add(oidctest.DefaultCodeTTL + time.Second)
			return get(t, b, cb)
		},
	}, {
		name: "missing PKCE verifier",
		run: func(t *testing.T) (*http.Response, []byte) {
			b := e.p.Browser()
			cb := e.startLogin(t, b, "")
			setVerifier(t, cb, "")
			return get(t, b, cb)
		},
	}, {
		name: "wrong PKCE verifier",
		run: func(t *testing.T) (*http.Response, []byte) {
			b := e.p.Browser()
			cb := e.startLogin(t, b, "")
			setVerifier(t, cb, strings.Repeat("v", 43))
			return get(t, b, cb)
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.reset()
			resp, body := tt.run(t)
			e.wantProblem(t, resp, body, ErrExchangeRefused)
			if strings.Contains(string(body), "code_verifier") || strings.Contains(string(body), "already used") {
				t.Errorf("problem leaks the provider's description: %s", body)
			}
		})
	}
}

// TestIDTokenAttacks bends the id_token the provider returns from the
// token endpoint; each must be refused, and OnLogin never called.
func TestIDTokenAttacks(t *testing.T) {
	e := newEnv(t, oidctest.Config{}, nil)
	now := e.clock.Now()
	client := e.p.ClientID()
	tests := []struct {
		name   string
		tamper oidctest.Tamper
		want   *Error
	}{
		{"wrong nonce", oidctest.Tamper{Claims: map[string]any{"nonce": strings.Repeat("n", 43)}}, ErrNonceMismatch},
		{"no nonce", oidctest.Tamper{Claims: map[string]any{"nonce": nil}}, ErrNonceMismatch},
		{"wrong iss", oidctest.Tamper{Claims: map[string]any{"iss": "https://evil.example"}}, ErrInvalidIDToken},
		{"iss with trailing slash", oidctest.Tamper{Claims: map[string]any{"iss": e.p.Issuer() + "/"}}, ErrInvalidIDToken},
		{"Google's scheme-less iss from another issuer", oidctest.Tamper{Claims: map[string]any{"iss": "accounts.google.com"}}, ErrInvalidIDToken},
		{"wrong aud", oidctest.Tamper{Claims: map[string]any{"aud": "other-client", "azp": nil}}, ErrInvalidIDToken},
		{"several audiences, no azp", oidctest.Tamper{Claims: map[string]any{"aud": []string{client, "other-client"}, "azp": nil}}, ErrInvalidIDToken},
		{"several audiences, azp of another", oidctest.Tamper{Claims: map[string]any{"aud": []string{client, "other-client"}, "azp": "other-client"}}, ErrInvalidIDToken},
		{"azp of another", oidctest.Tamper{Claims: map[string]any{"azp": "other-client"}}, ErrInvalidIDToken},
		{"expired", oidctest.Tamper{Claims: map[string]any{"exp": now.Add(-time.Hour).Unix(), "iat": now.Add(-2 * time.Hour).Unix()}}, ErrInvalidIDToken},
		{"expired beyond the skew", oidctest.Tamper{Claims: map[string]any{"exp": now.Add(-DefaultSkew - time.Second).Unix()}}, ErrInvalidIDToken},
		{"no exp", oidctest.Tamper{Claims: map[string]any{"exp": nil}}, ErrInvalidIDToken},
		{"alg none", oidctest.Tamper{Sign: oidctest.SignNone}, ErrInvalidIDToken},
		{"HS256 keyed with the public key", oidctest.Tamper{Sign: oidctest.SignHS256PublicKey}, ErrInvalidIDToken},
		{"unknown key", oidctest.Tamper{Sign: oidctest.SignUnknownKey}, ErrInvalidIDToken},
		{"unknown key under a published kid", oidctest.Tamper{Sign: oidctest.SignUnknownKey, Header: map[string]any{"kid": e.p.KeyID()}}, ErrInvalidIDToken},
		{"unknown key without kid", oidctest.Tamper{Sign: oidctest.SignUnknownKey, Header: map[string]any{"kid": nil}}, ErrInvalidIDToken},
		{"embedded jwk", oidctest.Tamper{Sign: oidctest.SignUnknownKey, Header: map[string]any{"jwk": map[string]any{"kty": "RSA", "n": "AQAB", "e": "AQAB"}}}, ErrInvalidIDToken},
		{"jku naming the attacker's keys", oidctest.Tamper{Sign: oidctest.SignUnknownKey, Header: map[string]any{"jku": "https://evil.example/jwks"}}, ErrInvalidIDToken},
		{"x5u naming the attacker's certificate", oidctest.Tamper{Sign: oidctest.SignUnknownKey, Header: map[string]any{"x5u": "https://evil.example/cert.pem"}}, ErrInvalidIDToken},
		{"kid with path traversal", oidctest.Tamper{Sign: oidctest.SignUnknownKey, Header: map[string]any{"kid": "../../../../dev/null"}}, ErrInvalidIDToken},
		{"empty sub", oidctest.Tamper{Claims: map[string]any{"sub": ""}}, ErrInvalidIDToken},
		{"long sub", oidctest.Tamper{Claims: map[string]any{"sub": strings.Repeat("1", 256)}}, ErrInvalidIDToken},
		{"wrong at_hash", oidctest.Tamper{Claims: map[string]any{"at_hash": "AAAAAAAAAAAAAAAAAAAAAA"}}, ErrInvalidIDToken},
		{"email_verified not a boolean", oidctest.Tamper{Claims: map[string]any{"email_verified": 1}}, ErrInvalidIDToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.reset()
			e.p.SetTamper(tt.tamper)
			resp, body := get(t, e.p.Browser(), e.rp.URL+"/auth/login")
			e.wantProblem(t, resp, body, tt.want)
			if n := e.loginCount(); n != 0 {
				t.Errorf("OnLogin called %d times, want 0", n)
			}
		})
	}

	// Tampers that must still be accepted.
	accepted := []struct {
		name   string
		tamper oidctest.Tamper
	}{
		{"expired within the skew", oidctest.Tamper{Claims: map[string]any{"exp": now.Add(-DefaultSkew / 2).Unix()}}},
		{"several audiences with our azp", oidctest.Tamper{Claims: map[string]any{"aud": []string{"other-client", client}}}},
		{"no azp", oidctest.Tamper{Claims: map[string]any{"azp": nil}}},
		{"no at_hash", oidctest.Tamper{Claims: map[string]any{"at_hash": nil}}},
		{"email_verified as a string", oidctest.Tamper{Claims: map[string]any{"email_verified": "true"}}},
	}
	for _, tt := range accepted {
		t.Run(tt.name, func(t *testing.T) {
			e.reset()
			e.p.SetTamper(tt.tamper)
			if resp, body := get(t, e.p.Browser(), e.rp.URL+"/auth/login"); resp.StatusCode != http.StatusOK {
				t.Errorf("got %d, want 200; body %s", resp.StatusCode, body)
			}
		})
	}
}

func TestKeyRotation(t *testing.T) {
	e := newEnv(t, oidctest.Config{}, nil)
	login := func() {
		t.Helper()
		if resp, body := get(t, e.p.Browser(), e.rp.URL+"/auth/login"); resp.StatusCode != http.StatusOK {
			t.Fatalf("got %d, want 200; body %s", resp.StatusCode, body)
		}
	}
	login() // caches the JWKS
	old := e.p.KeyID()
	if _, err := e.p.RotateKey(); err != nil {
		t.Fatal(err)
	}
	login() // a new kid: the flow refetches the JWKS
	if err := e.p.RetireKey(old); err != nil {
		t.Fatal(err)
	}
	login()
}

func TestDomains(t *testing.T) {
	tests := []struct {
		name    string
		rule    DomainRule
		allowed []string
		user    oidctest.User
		want    *Error // nil: accepted
	}{
		{"hd allowed", DomainByHostedDomain, []string{"Example.COM"}, oidctest.User{Subject: "1", Email: "a@example.com", EmailVerified: true, HostedDomain: "example.com"}, nil},
		{"hd not allowed", DomainByHostedDomain, []string{"example.com"}, oidctest.User{Subject: "1", Email: "a@example.com", EmailVerified: true, HostedDomain: "evil.example"}, ErrDomainNotAllowed},
		{"hd subdomain not allowed", DomainByHostedDomain, []string{"example.com"}, oidctest.User{Subject: "1", Email: "a@x.example.com", EmailVerified: true, HostedDomain: "x.example.com"}, ErrDomainNotAllowed},
		{"no hd: consumer account with a work address", DomainByHostedDomain, []string{"example.com"}, oidctest.User{Subject: "1", Email: "a@example.com", EmailVerified: true}, ErrDomainNotAllowed},
		{"email allowed", DomainByEmail, []string{"example.com"}, oidctest.User{Subject: "1", Email: "a@EXAMPLE.com", EmailVerified: true}, nil},
		{"email unverified", DomainByEmail, []string{"example.com"}, oidctest.User{Subject: "1", Email: "a@example.com"}, ErrEmailUnverified},
		{"email not allowed", DomainByEmail, []string{"example.com"}, oidctest.User{Subject: "1", Email: "a@example.com.evil.example", EmailVerified: true}, ErrDomainNotAllowed},
		{"email without domain", DomainByEmail, []string{"example.com"}, oidctest.User{Subject: "1", Email: "example.com", EmailVerified: true}, ErrDomainNotAllowed},
		{"no restriction", DomainByHostedDomain, nil, oidctest.User{Subject: "1", Email: "a@gmail.com"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, oidctest.Config{User: tt.user}, func(c *Config) {
				c.DomainRule, c.AllowedDomains = tt.rule, tt.allowed
			})
			resp, body := get(t, e.p.Browser(), e.rp.URL+"/auth/login")
			if tt.want == nil {
				if resp.StatusCode != http.StatusOK {
					t.Errorf("got %d, want 200; body %s", resp.StatusCode, body)
				}
				return
			}
			e.wantProblem(t, resp, body, tt.want)
		})
	}
}

// TestInexactRedirectURI: a flow whose RedirectURL differs in any way from
// the registered one gets no code: the provider refuses the authorization
// request without redirecting anywhere.
func TestInexactRedirectURI(t *testing.T) {
	e := newEnv(t, oidctest.Config{}, nil)
	exact := e.rp.URL + "/auth/callback"
	u, _ := url.Parse(e.rp.URL)
	otherPort := fmt.Sprintf("http://%s:1/auth/callback", u.Hostname())
	for name, redirect := range map[string]string{
		"trailing slash": exact + "/",
		"other port":     otherPort,
		"extra query":    exact + "?x=1",
		"other case":     strings.Replace(exact, "/auth/callback", "/auth/Callback", 1),
		"localhost":      strings.Replace(exact, "127.0.0.1", "localhost", 1),
	} {
		t.Run(name, func(t *testing.T) {
			f, err := New(context.Background(), Config{
				Issuer: e.p.Issuer(), ClientID: e.p.ClientID(), ClientSecret: e.p.ClientSecret(),
				RedirectURL: redirect, HTTPClient: e.p.Client(), Now: e.clock.Now, OnLogin: e.onLogin,
			})
			if err != nil {
				t.Fatal(err)
			}
			rec := httptest.NewRecorder()
			f.Login(rec, httptest.NewRequest("GET", e.rp.URL+"/auth/login", nil))
			b := e.p.Browser()
			b.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
				return fmt.Errorf("provider redirected to %s", req.URL)
			}
			resp, body := get(t, b, rec.Header().Get("Location"))
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
				t.Errorf("got %d (Location %q), want 400 without redirect; body %s", resp.StatusCode, resp.Header.Get("Location"), body)
			}
		})
	}
	if n := e.loginCount(); n != 0 {
		t.Errorf("OnLogin called %d times, want 0", n)
	}
	if n := e.p.Stats().Authorizations; n != 0 {
		t.Errorf("provider issued %d codes, want 0", n)
	}
}

// TestGoogleIssuer emulates Google: discovery announces
// https://accounts.google.com, and id_tokens carry either it or
// accounts.google.com. Both give the same identity.
func TestGoogleIssuer(t *testing.T) {
	e := newEnv(t, oidctest.Config{Issuer: oidctest.GoogleIssuer}, func(c *Config) { c.Issuer = "" })
	if got := e.flow.Issuer(); got != GoogleIssuer {
		t.Fatalf("got default issuer %q, want %q", got, GoogleIssuer)
	}
	sub := oidctest.DefaultUser().Subject
	want := auth.LLID("https://accounts.google.com", sub)
	for _, iss := range []string{oidctest.GoogleIssuer, oidctest.GoogleIssuerNoScheme} {
		t.Run(iss, func(t *testing.T) {
			e.reset()
			e.p.SetTamper(oidctest.Tamper{Claims: map[string]any{"iss": iss}})
			resp, body := get(t, e.p.Browser(), e.rp.URL+"/auth/login")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("got %d, want 200; body %s", resp.StatusCode, body)
			}
			var got LoginResult
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			if got.Identity.LLID != want || got.Identity.Issuer != GoogleIssuer {
				t.Errorf("got issuer %q LLID %q, want %q %q", got.Identity.Issuer, got.Identity.LLID, GoogleIssuer, want)
			}
		})
	}
	if NormalizeIssuer("accounts.google.com.evil") != "accounts.google.com.evil" {
		t.Error("NormalizeIssuer rewrote an issuer other than Google's alias")
	}
}

func TestOnLoginErrors(t *testing.T) {
	e := newEnv(t, oidctest.Config{}, nil)
	noTenant := &Error{Status: http.StatusForbidden, Code: "no_tenant", Detail: "this account belongs to no tenant"}
	tests := []struct {
		name string
		hook func(context.Context, LoginResult) (http.Handler, error)
		want *Error
	}{
		{"typed error", func(context.Context, LoginResult) (http.Handler, error) {
			return nil, fmt.Errorf("map identity: %w", noTenant)
		}, noTenant},
		{"plain error", func(context.Context, LoginResult) (http.Handler, error) {
			return nil, errors.New("tenant store down: secret detail")
		}, ErrInternal},
		{"no handler", func(context.Context, LoginResult) (http.Handler, error) { return nil, nil }, ErrInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.reset()
			e.mu.Lock()
			e.hook = tt.hook
			e.mu.Unlock()
			resp, body := get(t, e.p.Browser(), e.rp.URL+"/auth/login")
			e.wantProblem(t, resp, body, tt.want)
			if strings.Contains(string(body), "secret detail") {
				t.Errorf("problem leaks the hook's error: %s", body)
			}
		})
	}
}

func TestMethods(t *testing.T) {
	e := newEnv(t, oidctest.Config{}, nil)
	for _, path := range []string{"/auth/login", "/auth/callback"} {
		resp, err := e.p.Browser().Post(e.rp.URL+path, "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST %s: got %d, want 405", path, resp.StatusCode)
		}
	}
}

// TestConcurrentLogins runs logins of several browsers at once (for -race).
func TestConcurrentLogins(t *testing.T) {
	e := newEnv(t, oidctest.Config{}, nil)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 3 {
				resp, err := e.p.Browser().Get(e.rp.URL + "/auth/login")
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("got %d, want 200", resp.StatusCode)
				}
			}
		})
	}
	wg.Wait()
	if n := e.loginCount(); n != 24 {
		t.Errorf("got %d logins, want 24", n)
	}
}

func TestNewConfig(t *testing.T) {
	e := newEnv(t, oidctest.Config{}, nil)
	base := func() Config {
		return Config{
			Issuer: e.p.Issuer(), ClientID: "c", ClientSecret: "s",
			RedirectURL: "https://logline.example/auth/callback", HTTPClient: e.p.Client(),
			OnLogin: e.onLogin,
		}
	}
	tests := []struct {
		name      string
		edit      func(*Config)
		discovery bool // want ErrDiscovery
	}{
		{"no client id", func(c *Config) { c.ClientID = "" }, false},
		{"no redirect URL", func(c *Config) { c.RedirectURL = "" }, false},
		{"relative redirect URL", func(c *Config) { c.RedirectURL = "/auth/callback" }, false},
		{"http redirect URL off loopback", func(c *Config) { c.RedirectURL = "http://logline.example/auth/callback" }, false},
		{"redirect URL with fragment", func(c *Config) { c.RedirectURL = "https://logline.example/auth/callback#x" }, false},
		{"redirect URL with user info", func(c *Config) { c.RedirectURL = "https://u:p@logline.example/auth/callback" }, false},
		{"redirect URL of another scheme", func(c *Config) { c.RedirectURL = "javascript://logline.example/%0aalert(1)" }, false},
		{"no OnLogin", func(c *Config) { c.OnLogin = nil }, false},
		{"bad domain", func(c *Config) { c.AllowedDomains = []string{"a@example.com"} }, false},
		{"bad domain rule", func(c *Config) { c.DomainRule = 7 }, false},
		{"reserved auth param", func(c *Config) { c.AuthParams = map[string]string{"redirect_uri": "https://evil.example"} }, false},
		{"issuer differs from discovery", func(c *Config) { c.Issuer += "/" }, true},
		{"no provider", func(c *Config) { c.Issuer = "http://127.0.0.1:1" }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base()
			tt.edit(&c)
			_, err := New(context.Background(), c)
			if err == nil {
				t.Fatal("New succeeded, want an error")
			}
			if errors.Is(err, ErrDiscovery) != tt.discovery {
				t.Errorf("got %v, want errors.Is(ErrDiscovery) = %v", err, tt.discovery)
			}
		})
	}
	t.Run("auth params", func(t *testing.T) {
		c := base()
		c.AuthParams = map[string]string{"prompt": "select_account", "hd": "example.com"}
		c.Scopes = []string{"email"}
		f, err := New(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		f.Login(rec, httptest.NewRequest("GET", "/auth/login", nil))
		loc, _ := url.Parse(rec.Header().Get("Location"))
		q := loc.Query()
		if q.Get("prompt") != "select_account" || q.Get("hd") != "example.com" || q.Get("scope") != "openid email" {
			t.Errorf("got authorization request %s, want prompt, hd and scope openid email", loc)
		}
	})
}
