package oidclogin

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/logline/logline/internal/auth/oidctest"
)

// BenchmarkCallback measures the server time of Callback with the JWKS
// cached: state check, code exchange over loopback HTTP with the in-process
// provider, id_token verification (RS256) and a trivial OnLogin. Only the
// Callback call is timed; starting each login is not. Besides ns/op it
// reports the p50 and p95 of the timed calls, the provider's own time
// inside its token endpoint (provider-ns/op, mostly RS256 signing) and
// the difference (own-ns/op: LogLine's work plus the loopback round trip).
func BenchmarkCallback(b *testing.B) {
	e := newEnv(b, oidctest.Config{}, nil)
	browser := e.p.Browser()
	if resp, body := get(b, browser, e.rp.URL+"/auth/login"); resp.StatusCode != http.StatusOK {
		b.Fatalf("warm-up login: got %d; body %s", resp.StatusCode, body) // also caches the JWKS
	}
	durations := make([]time.Duration, 0, b.N)
	before := e.p.Stats()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		cb := e.startLogin(b, browser, "")
		req := httptest.NewRequest("GET", cb, nil)
		for _, c := range browser.Jar.Cookies(req.URL) {
			req.AddCookie(c)
		}
		rec := httptest.NewRecorder()
		b.StartTimer()
		start := time.Now()
		e.flow.Callback(rec, req)
		durations = append(durations, time.Since(start))
		b.StopTimer()
		if rec.Code != http.StatusOK {
			b.Fatalf("callback: got %d; body %s", rec.Code, rec.Body)
		}
		b.StartTimer()
	}
	b.StopTimer()
	after := e.p.Stats()
	slices.Sort(durations)
	var total time.Duration
	for _, d := range durations {
		total += d
	}
	provider := (after.TokenTime - before.TokenTime) / time.Duration(b.N)
	b.ReportMetric(float64(durations[len(durations)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(durations[len(durations)*95/100].Nanoseconds()), "p95-ns")
	b.ReportMetric(float64(provider.Nanoseconds()), "provider-ns/op")
	b.ReportMetric(float64((total/time.Duration(b.N) - provider).Nanoseconds()), "own-ns/op")
}
