package oidclogin

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logline/logline/internal/auth/oidctest"
)

// testKey is one RSA key shared by the tests' providers: generating a
// 2048-bit key per test would dominate the run time.
var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// fakeClock is the clock shared by the provider and the flow.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a LogLine-like server (the relying party) with a Flow, and the
// test provider it trusts.
type env struct {
	clock *fakeClock
	p     *oidctest.Provider
	rp    *httptest.Server
	flow  *Flow

	mu sync.Mutex
	// Guarded by mu:
	logins []LoginResult
	errs   []*Error
	hook   func(context.Context, LoginResult) (http.Handler, error)
}

// newEnv starts a provider (with pcfg; Key and Now filled in), a relying
// party serving /auth/login and /auth/callback, and its Flow configured by
// edit (Issuer, ClientID, ClientSecret, RedirectURL, HTTPClient, Now,
// OnLogin and OnError filled in first).
func newEnv(t testing.TB, pcfg oidctest.Config, edit func(*Config)) *env {
	t.Helper()
	e := &env{clock: newClock()}
	pcfg.Key = testKey()
	pcfg.Now = e.clock.Now
	e.p = oidctest.New(t, pcfg)

	mux := http.NewServeMux()
	e.rp = httptest.NewServer(mux)
	t.Cleanup(e.rp.Close)
	e.p.AddRedirectURI(e.rp.URL + "/auth/callback")

	cfg := Config{
		Issuer:       e.p.Issuer(),
		ClientID:     e.p.ClientID(),
		ClientSecret: e.p.ClientSecret(),
		RedirectURL:  e.rp.URL + "/auth/callback",
		HTTPClient:   e.p.Client(),
		Now:          e.clock.Now,
		OnLogin:      e.onLogin,
		OnError:      e.onError,
	}
	if edit != nil {
		edit(&cfg)
	}
	f, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.flow = f
	mux.HandleFunc("/auth/login", f.Login)
	mux.HandleFunc("/auth/callback", f.Callback)
	return e
}

// onLogin records the login and answers with its identity as JSON.
func (e *env) onLogin(ctx context.Context, res LoginResult) (http.Handler, error) {
	e.mu.Lock()
	e.logins = append(e.logins, res)
	hook := e.hook
	e.mu.Unlock()
	if hook != nil {
		return hook(ctx, res)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(res)
	}), nil
}

func (e *env) onError(w http.ResponseWriter, r *http.Request, err *Error) {
	e.mu.Lock()
	e.errs = append(e.errs, err)
	e.mu.Unlock()
	WriteProblem(w, r, err)
}

// reset forgets recorded logins and errors and the provider's tamper.
func (e *env) reset() {
	e.mu.Lock()
	e.logins, e.errs, e.hook = nil, nil, nil
	e.mu.Unlock()
	e.p.SetTamper(oidctest.Tamper{})
	e.p.SetUser(oidctest.DefaultUser())
}

func (e *env) lastErr() *Error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.errs) == 0 {
		return nil
	}
	return e.errs[len(e.errs)-1]
}

func (e *env) loginCount() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.logins)
}

// startLogin makes browser b open /auth/login (with query) and follow the
// redirects up to, not including, the callback; it returns the callback
// URL the provider sent the browser to.
func (e *env) startLogin(t testing.TB, b *http.Client, query string) string {
	t.Helper()
	stop := *b
	stop.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Path == "/auth/callback" {
			return http.ErrUseLastResponse
		}
		return nil
	}
	resp, body := get(t, &stop, e.rp.URL+"/auth/login"+query)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("login: got status %d, want 302 to the callback (body %s)", resp.StatusCode, body)
	}
	loc, err := resp.Location()
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	return loc.String()
}

// get fetches u with c and returns the response and its body.
func get(t testing.TB, c *http.Client, u string) (*http.Response, []byte) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", u, err)
	}
	return resp, body
}

// problem is the problem+json body.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Code   string `json:"code"`
}

// wantProblem checks that resp is a problem+json with want's status and
// code, and that the flow reported an error matching want.
func (e *env) wantProblem(t testing.TB, resp *http.Response, body []byte, want *Error) {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("got Content-Type %q, want application/problem+json (status %d, body %s)", ct, resp.StatusCode, body)
	}
	var p problem
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("decode problem %s: %v", body, err)
	}
	if resp.StatusCode != want.Status || p.Status != want.Status || p.Code != want.Code {
		t.Errorf("got %d %q (body status %d), want %d %q; body %s", resp.StatusCode, p.Code, p.Status, want.Status, want.Code, body)
	}
	if err := e.lastErr(); !errors.Is(err, want) {
		t.Errorf("got error %v, want errors.Is %s", err, want.Code)
	}
	for _, leak := range []string{"invalid_grant", "oidc:", "eyJ", "oauth2"} {
		if strings.Contains(string(body), leak) {
			t.Errorf("problem body leaks %q: %s", leak, body)
		}
	}
}

// withQuery returns u with its query parameter k set to v (deleted when
// v is "").
func withQuery(t testing.TB, u, k, v string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	q := p.Query()
	if v == "" {
		q.Del(k)
	} else {
		q.Set(k, v)
	}
	p.RawQuery = q.Encode()
	return p.String()
}
