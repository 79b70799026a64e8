package gateway

import (
	"net/http"
	"strings"
	"testing"
)

// TestCORS: only configured origins get CORS headers; a preflight from
// another origin is refused; requests without Origin are untouched.
func TestCORS(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.CORSOrigins = []string{"https://app.example"} })
	tests := []struct {
		name, method, origin string
		preflight            bool
		wantStatus           int
		wantAllow            string
	}{
		{"allowed simple", "GET", "https://app.example", false, http.StatusOK, "https://app.example"},
		{"other origin simple", "GET", "https://evil.example", false, http.StatusOK, ""},
		{"no origin", "GET", "", false, http.StatusOK, ""},
		{"allowed preflight", "OPTIONS", "https://app.example", true, http.StatusNoContent, "https://app.example"},
		{"other origin preflight", "OPTIONS", "https://evil.example", true, http.StatusForbidden, ""},
		{"scheme matters", "OPTIONS", "http://app.example", true, http.StatusForbidden, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tt.origin != "" {
				hdr["Origin"] = tt.origin
			}
			if tt.preflight {
				hdr["Access-Control-Request-Method"] = "POST"
				hdr["Access-Control-Request-Headers"] = "authorization, content-type"
			}
			resp, body := e.do(tt.method, "/healthz", "", nil, hdr)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d\n%s", resp.StatusCode, tt.wantStatus, body)
			}
			if got := resp.Header.Get("Access-Control-Allow-Origin"); got != tt.wantAllow {
				t.Errorf("Access-Control-Allow-Origin %q, want %q", got, tt.wantAllow)
			}
			if resp.Header.Get("Access-Control-Allow-Credentials") != "" {
				t.Error("credentials allowed cross-origin: the API authenticates with bearer tokens only")
			}
			if tt.preflight && tt.wantAllow != "" && !strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
				t.Errorf("preflight allows headers %q, want Authorization among them", resp.Header.Get("Access-Control-Allow-Headers"))
			}
		})
	}
	for _, bad := range []string{"*", "https://app.example/", ""} {
		if _, err := New(Config{Store: e.store, Dev: true, CORSOrigins: []string{bad}}); err == nil {
			t.Errorf("CORS origin %q accepted", bad)
		}
	}
}
