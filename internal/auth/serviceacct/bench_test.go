package serviceacct

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// pool returns n distinct assertions of f.a, made at the fixture's now.
func pool(b *testing.B, f *fixture, n int) []string {
	out := make([]string, n)
	for i := range out {
		var err error
		if out[i], err = f.a.c.Assertion(f.clock.Now(), nil); err != nil {
			b.Fatal(err)
		}
	}
	return out
}

// BenchmarkVerify is a first-time verification: header check, parse,
// registry lookup, one Ed25519 verify, claims, replay-cache insert. A
// fresh Verifier every len(pool) iterations keeps every jti new.
func BenchmarkVerify(b *testing.B) {
	f := newFixture(b)
	as := pool(b, f, 4096)
	ctx := context.Background()
	var v *Verifier
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		if i%len(as) == 0 {
			v = NewVerifier(VerifierConfig{Accounts: f.reg, Now: f.clock.Now})
		}
		if _, err := v.Verify(ctx, as[i%len(as)], tokenURI); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkAssertion is what an app pays to make an assertion.
func BenchmarkAssertion(b *testing.B) {
	f := newFixture(b)
	now := f.clock.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.a.c.Assertion(now, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExchange is the POST /auth/token handler around Verify, with
// an Issue that costs nothing.
func BenchmarkExchange(b *testing.B) {
	f := newFixture(b)
	as := pool(b, f, 4096)
	bodies := make([]string, len(as))
	for i, a := range as {
		bodies[i] = grant(a)
	}
	issue := func(_ context.Context, a Account) (string, time.Time, error) {
		return "t", f.clock.Now().Add(15 * time.Minute), nil
	}
	var h *Exchange
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		if i%len(as) == 0 {
			f.verifier = NewVerifier(VerifierConfig{Accounts: f.reg, Now: f.clock.Now})
			h = newExchange(f, issue)
		}
		req := httptest.NewRequest(http.MethodPost, "/auth/token", strings.NewReader(bodies[i%len(as)]))
		req.Header.Set("Content-Type", form)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatal(w.Body.String())
		}
		i++
	}
}

// BenchmarkRegistryReload100 is one poll over 100 unchanged accounts.
func BenchmarkRegistryReload100(b *testing.B) {
	data := b.TempDir()
	for i := range 100 {
		create(b, data, "acme", byte(i))
	}
	reg, err := NewRegistry(context.Background(), RegistryConfig{DataDir: data})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := reg.Reload(); err != nil {
			b.Fatal(err)
		}
	}
}
