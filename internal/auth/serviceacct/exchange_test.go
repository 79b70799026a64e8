package serviceacct

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

func newExchange(f *fixture, issue func(context.Context, Account) (string, time.Time, error)) *Exchange {
	if issue == nil {
		issue = func(_ context.Context, a Account) (string, time.Time, error) {
			return "llst-for-" + a.ID, f.clock.Now().Add(15 * time.Minute), nil
		}
	}
	return &Exchange{Verifier: f.verifier, Audience: tokenURI, Issue: issue, Now: f.clock.Now}
}

func post(h http.Handler, method, target, contentType, body string) (*httptest.ResponseRecorder, tokenResponse) {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	var r tokenResponse
	json.Unmarshal(w.Body.Bytes(), &r)
	return w, r
}

const form = "application/x-www-form-urlencoded"

func grant(assertion string) string {
	return url.Values{"grant_type": {GrantType}, "assertion": {assertion}}.Encode()
}

func TestExchange(t *testing.T) {
	f := newFixture(t)
	h := newExchange(f, nil)
	as, _ := f.a.c.Assertion(f.clock.Now(), nil)
	w, r := post(h, http.MethodPost, "/auth/token", form+"; charset=utf-8", grant(as)+"&scope=ignored")
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	if r.AccessToken != "llst-for-"+f.a.ID || r.TokenType != "Bearer" || r.ExpiresIn != 900 {
		t.Errorf("response %+v", r)
	}
	if w.Header().Get("Cache-Control") != "no-store" || w.Header().Get("Content-Type") != "application/json" {
		t.Errorf("headers %v", w.Header())
	}
	// The same assertion again: replay.
	w, r = post(h, http.MethodPost, "/auth/token", form, grant(as))
	if w.Code != http.StatusBadRequest || r.Error != "invalid_grant" || r.Description != ErrReplay.Error() {
		t.Errorf("replay: %d %+v", w.Code, r)
	}
}

func TestExchangeErrors(t *testing.T) {
	f := newFixture(t)
	h := newExchange(f, nil)
	as, _ := f.a.c.Assertion(f.clock.Now(), nil)
	tests := []struct {
		name, method, target, ctype, body string
		status                            int
		code                              string
	}{
		{"GET", http.MethodGet, "/auth/token", "", "", 405, "invalid_request"},
		{"JSON body", http.MethodPost, "/auth/token", "application/json", `{"grant_type":"x"}`, 400, "invalid_request"},
		{"no content type", http.MethodPost, "/auth/token", "", grant(as), 400, "invalid_request"},
		{"no grant_type", http.MethodPost, "/auth/token", form, "assertion=" + as, 400, "invalid_request"},
		{"password grant", http.MethodPost, "/auth/token", form, "grant_type=password&username=a&password=b", 400, "unsupported_grant_type"},
		{"client credentials", http.MethodPost, "/auth/token", form, "grant_type=client_credentials", 400, "unsupported_grant_type"},
		{"no assertion", http.MethodPost, "/auth/token", form, "grant_type=" + url.QueryEscape(GrantType), 400, "invalid_request"},
		{"two assertions", http.MethodPost, "/auth/token", form, grant(as) + "&assertion=x", 400, "invalid_request"},
		{"bad form", http.MethodPost, "/auth/token", form, "grant_type=%zz", 400, "invalid_request"},
		{"assertion in the URL", http.MethodPost, "/auth/token?" + grant(as), form, "", 400, "invalid_request"},
		{"too large", http.MethodPost, "/auth/token", form, grant(as) + "&pad=" + strings.Repeat("x", DefaultMaxBody), 413, "invalid_request"},
		{"bad assertion", http.MethodPost, "/auth/token", form, grant("x.y.z"), 400, "invalid_grant"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, r := post(h, tc.method, tc.target, tc.ctype, tc.body)
			if w.Code != tc.status || r.Error != tc.code || r.Description == "" {
				t.Errorf("got %d %+v, want %d %s", w.Code, r, tc.status, tc.code)
			}
			if w.Header().Get("Cache-Control") != "no-store" {
				t.Error("no Cache-Control: no-store")
			}
			if r.AccessToken != "" {
				t.Error("a token in an error")
			}
		})
	}
	if w, _ := post(h, http.MethodGet, "/auth/token", "", ""); w.Header().Get("Allow") != "POST" {
		t.Errorf("405 without Allow: POST")
	}
	// None of the refusals spent the assertion.
	if w, r := post(h, http.MethodPost, "/auth/token", form, grant(as)); w.Code != 200 {
		t.Errorf("good request after the errors: %d %+v", w.Code, r)
	}
}

func TestExchangeIssueErrors(t *testing.T) {
	f := newFixture(t)
	refuse := newExchange(f, func(context.Context, Account) (string, time.Time, error) {
		return "", time.Time{}, &OAuthError{Status: 400, Code: "invalid_grant", Description: "the account's roles do not exist in tenant acme"}
	})
	as, _ := f.a.c.Assertion(f.clock.Now(), seeded(1))
	if w, r := post(refuse, http.MethodPost, "/auth/token", form, grant(as)); w.Code != 400 || r.Error != "invalid_grant" || !strings.Contains(r.Description, "roles") {
		t.Errorf("OAuthError from Issue: %d %+v", w.Code, r)
	}
	broken := newExchange(f, func(context.Context, Account) (string, time.Time, error) {
		return "", time.Time{}, errors.New("disk on fire at /var/lib/logline/keys")
	})
	as, _ = f.a.c.Assertion(f.clock.Now(), seeded(2))
	w, r := post(broken, http.MethodPost, "/auth/token", form, grant(as))
	if w.Code != 500 || r.Error != "server_error" || strings.Contains(w.Body.String(), "disk") {
		t.Errorf("internal error from Issue: %d %s", w.Code, w.Body)
	}
}

func TestExchangeBusy(t *testing.T) {
	f := newFixture(t)
	f.verifier = NewVerifier(VerifierConfig{Accounts: f.reg, Now: f.clock.Now, ReplayCacheSize: 1})
	h := newExchange(f, nil)
	as1, _ := f.a.c.Assertion(f.clock.Now(), seeded(1))
	as2, _ := f.a.c.Assertion(f.clock.Now(), seeded(2))
	post(h, http.MethodPost, "/auth/token", form, grant(as1))
	w, r := post(h, http.MethodPost, "/auth/token", form, grant(as2))
	if w.Code != 503 || r.Error != "temporarily_unavailable" || w.Header().Get("Retry-After") == "" {
		t.Errorf("full replay cache: %d %+v %v", w.Code, r, w.Header())
	}
}
