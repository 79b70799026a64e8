package oidclogin

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/logline/logline/internal/auth/oidctest"
)

func FuzzCheckReturnTo(f *testing.F) {
	for _, s := range []string{
		"", "/", "/spans?tenant=acme#x", "//evil.example", "/\\evil.example", "https://evil.example",
		"/\t/evil.example", "/%2F%2Fevil.example", "javascript:alert(1)", "/a b", "/é", "/..//evil",
		"/@evil.example", "/:80", "\x00/",
	} {
		f.Add(s)
	}
	base, _ := url.Parse("https://logline.example/auth/callback")
	f.Fuzz(func(t *testing.T, s string) {
		if CheckReturnTo(s) != nil || s == "" {
			return
		}
		u, err := url.Parse(s)
		if err != nil {
			t.Fatalf("accepted %q, which does not parse: %v", s, err)
		}
		if r := base.ResolveReference(u); r.Scheme != "https" || r.Host != "logline.example" || r.User != nil {
			t.Errorf("accepted %q, which resolves to %s", s, r)
		}
		// What browsers do to a Location before resolving it: backslashes
		// become slashes, tabs and newlines disappear.
		b := strings.NewReplacer("\\", "/", "\t", "", "\n", "", "\r", "").Replace(s)
		if strings.HasPrefix(b, "//") || !strings.HasPrefix(b, "/") {
			t.Errorf("accepted %q, which a browser reads as %q", s, b)
		}
	})
}

func FuzzDecodeRandom(f *testing.F) {
	f.Add(strings.Repeat("A", 43))
	f.Add(strings.Repeat("_", 43))
	f.Add(strings.Repeat("A", 42) + "B") // non-zero trailing bits
	f.Add(strings.Repeat("A", 44))
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		b, ok := decodeRandom(s)
		if !ok {
			return
		}
		if got := b64.EncodeToString(b[:]); got != s {
			t.Errorf("decoded %q, which encodes back as %q: two spellings of one value", s, got)
		}
	})
}

// FuzzCallback sends arbitrary callback queries and cookies: none may
// complete a login or crash the handler.
func FuzzCallback(f *testing.F) {
	e := newEnv(f, oidctest.Config{}, nil)
	cb := e.startLogin(f, e.p.Browser(), "")
	u, _ := url.Parse(cb)
	f.Add(u.RawQuery, CookieName+"="+strings.Repeat("A", 43))
	f.Add("state=&code=", "")
	f.Add("error=access_denied&state="+u.Query().Get("state"), "")
	f.Add("%zz", CookieName+"=%zz")
	f.Fuzz(func(t *testing.T, rawQuery, cookie string) {
		req := &http.Request{
			Method: "GET",
			URL:    &url.URL{Path: "/auth/callback", RawQuery: rawQuery},
			Header: http.Header{"Cookie": {cookie}},
		}
		rec := httptest.NewRecorder()
		e.flow.Callback(rec, req)
		if rec.Code == http.StatusOK || e.loginCount() != 0 {
			t.Fatalf("query %q cookie %q completed a login", rawQuery, cookie)
		}
	})
}
