package llst

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

func TestJWKS(t *testing.T) {
	e := newEnv(t)
	keys := e.ring.Keys()
	golden(t, "jwks.json", append(e.ring.JWKS(), '\n'))

	steps := []struct {
		at   time.Time
		kids []string
	}{
		{t0, []string{keys[0].ID}},
		{keys[1].PublishAt.Add(-time.Second), []string{keys[0].ID}},
		{keys[1].PublishAt, []string{keys[0].ID, keys[1].ID}},
		{keys[0].RetireAt.Add(-time.Second), []string{keys[0].ID, keys[1].ID}},
		{keys[0].RetireAt, []string{keys[1].ID}},
	}
	for _, s := range steps {
		e.clock.Set(s.at)
		if got := jwksKids(t, e.ring); strings.Join(got, " ") != strings.Join(s.kids, " ") {
			t.Errorf("at %v: JWKS %v, want %v", s.at, got, s.kids)
		}
	}
	e.clock.Set(t0)

	// A relying party with go-jose verifies an LLST with the published key.
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(e.ring.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	tok := e.issue(writerClaims())
	parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		t.Fatal(err)
	}
	found := set.Key(parsed.Headers[0].KeyID)
	if len(found) != 1 {
		t.Fatalf("kid %s: %d keys in the JWKS", parsed.Headers[0].KeyID, len(found))
	}
	k := found[0]
	if !k.IsPublic() || k.Algorithm != "EdDSA" || k.Use != "sig" || !k.Valid() {
		t.Errorf("published key %+v", k)
	}
	var claims jwt.Claims
	if err := parsed.Claims(k.Key, &claims); err != nil {
		t.Fatalf("verify with the JWKS key: %v", err)
	}
	if err := claims.Validate(jwt.Expected{Issuer: testIssuer, AnyAudience: jwt.Audience{"logline"}, Time: t0}); err != nil {
		t.Errorf("claims: %v", err)
	}
	if strings.Contains(string(e.ring.JWKS()), `"d"`) {
		t.Error("JWKS holds private key material")
	}
}

func TestJWKSHandler(t *testing.T) {
	e := newEnv(t)
	h := e.ring.JWKSHandler()
	tests := []struct {
		method string
		code   int
		body   bool
	}{
		{http.MethodGet, http.StatusOK, true},
		{http.MethodHead, http.StatusOK, false},
		{http.MethodPost, http.StatusMethodNotAllowed, false},
		{http.MethodDelete, http.StatusMethodNotAllowed, false},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(tt.method, JWKSPath, nil))
			if w.Code != tt.code {
				t.Fatalf("status %d, want %d", w.Code, tt.code)
			}
			if tt.code != http.StatusOK {
				return
			}
			if got := w.Header().Get("Cache-Control"); got != "public, max-age=300" {
				t.Errorf("Cache-Control %q", got)
			}
			maxAge, _ := strconv.Atoi(strings.TrimPrefix(w.Header().Get("Cache-Control"), "public, max-age="))
			if time.Duration(maxAge)*time.Second >= e.cfg.Overlap {
				t.Errorf("max-age %ds not shorter than the overlap %v", maxAge, e.cfg.Overlap)
			}
			if got := w.Header().Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type %q", got)
			}
			if tt.body != (w.Body.Len() > 0) || tt.body && w.Body.String() != string(e.ring.JWKS()) {
				t.Errorf("body %q", w.Body.String())
			}
		})
	}
}
