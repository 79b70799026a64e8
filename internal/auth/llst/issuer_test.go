package llst

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/logline/logline/internal/auth"
)

func TestIssueRefuses(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name string
		mod  func(*Claims)
		want error
	}{
		{"lifetime 16 min", func(c *Claims) { c.TTL = 16 * time.Minute }, ErrLifetime},
		{"lifetime 15 min 1 s", func(c *Claims) { c.TTL = 15*time.Minute + time.Second }, ErrLifetime},
		{"lifetime a day", func(c *Claims) { c.TTL = 24 * time.Hour }, ErrLifetime},
		{"lifetime under a second", func(c *Claims) { c.TTL = 500 * time.Millisecond }, ErrBadClaims},
		{"lifetime negative", func(c *Claims) { c.TTL = -time.Minute }, ErrBadClaims},
		{"no subject", func(c *Claims) { c.Subject = "" }, ErrBadClaims},
		{"subject with a space", func(c *Claims) { c.Subject = "a b" }, ErrBadClaims},
		{"no tenant", func(c *Claims) { c.Tenant = "" }, ErrBadClaims},
		{"tenant with a slash", func(c *Claims) { c.Tenant = "a/b" }, ErrBadClaims},
		{"kind dev", func(c *Claims) { c.Kind = auth.KindDev }, ErrBadClaims},
		{"kind empty", func(c *Claims) { c.Kind = "" }, ErrBadClaims},
		{"unknown grant", func(c *Claims) { c.Grants = auth.Grants{"ledger.delete"} }, ErrBadClaims},
		{"empty role", func(c *Claims) { c.Roles = []string{""} }, ErrBadClaims},
		{"too many roles", func(c *Claims) {
			for range 200 {
				c.Roles = append(c.Roles, strings.Repeat("r", 60))
			}
		}, ErrBadClaims},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := writerClaims()
			tt.mod(&c)
			tok, _, err := e.issuer.Issue(context.Background(), c)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if tok != "" {
				t.Errorf("got a token with the error")
			}
		})
	}
}

func TestIssueLifetime(t *testing.T) {
	tests := []struct {
		name     string
		lifetime time.Duration // Config.Lifetime
		ttl      time.Duration // Claims.TTL
		want     time.Duration // exp − iat; 0: refused
	}{
		{"default", 0, 0, 15 * time.Minute},
		{"shorter", 0, 5 * time.Minute, 5 * time.Minute},
		{"exactly 15 min", 0, 15 * time.Minute, 15 * time.Minute},
		{"sub-second part dropped", 0, 90*time.Second + 900*time.Millisecond, 90 * time.Second},
		{"configured 5 min: default", 5 * time.Minute, 0, 5 * time.Minute},
		{"configured 5 min: 10 min refused", 5 * time.Minute, 10 * time.Minute, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.Lifetime = tt.lifetime })
			c := writerClaims()
			c.TTL = tt.ttl
			tok, exp, err := e.issuer.Issue(context.Background(), c)
			if tt.want == 0 {
				if !errors.Is(err, ErrLifetime) {
					t.Fatalf("got %v, want ErrLifetime", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := exp.Sub(t0); got != tt.want {
				t.Errorf("lifetime %v, want %v", got, tt.want)
			}
			p, err := e.verifier.Verify(tok)
			if err != nil {
				t.Fatal(err)
			}
			if !p.Expires.Equal(exp) || !p.IssuedAt.Equal(t0) {
				t.Errorf("principal expires %v issued %v, want %v and %v", p.Expires, p.IssuedAt, exp, t0)
			}
		})
	}
}

func TestIssueKinds(t *testing.T) {
	e := newEnv(t)
	for _, k := range []auth.Kind{auth.KindUser, auth.KindService, auth.KindOperator} {
		c := writerClaims()
		c.Kind, c.Subject, c.Roles, c.Grants = k, "sa_backup-job", nil, nil
		p, err := e.verifier.Verify(e.issue(c))
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		if p.Kind != k || p.Subject != "sa_backup-job" || len(p.Roles) != 0 || len(p.Grants) != 0 {
			t.Errorf("%s: got %+v", k, p)
		}
	}
}

func TestConfigRefused(t *testing.T) {
	store := NewDirStore(t.TempDir(), discard())
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no store", Config{Issuer: testIssuer}},
		{"no issuer", Config{Store: store}},
		{"lifetime 20 min", Config{Store: store, Issuer: testIssuer, Lifetime: 20 * time.Minute}},
		{"skew 10 min", Config{Store: store, Issuer: testIssuer, Skew: 10 * time.Minute}},
		{"overlap under the JWKS max-age", Config{Store: store, Issuer: testIssuer, Overlap: 4 * time.Minute}},
		{"overlap equal to max-age + check", Config{Store: store, Issuer: testIssuer, Overlap: 5*time.Minute + 30*time.Second}},
		{"rotation shorter than overlap", Config{Store: store, Issuer: testIssuer, RotateEvery: 30 * time.Minute}},
		{"negative check interval", Config{Store: store, Issuer: testIssuer, CheckEvery: -time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Open(context.Background(), tt.cfg); err == nil {
				t.Fatal("got nil, want an error")
			}
		})
	}
	t.Run("defaults", func(t *testing.T) {
		r, err := Open(context.Background(), Config{Store: store, Issuer: testIssuer, Logger: discard()})
		if err != nil {
			t.Fatal(err)
		}
		c := r.Config()
		if c.Audience != "logline" || c.Lifetime != 15*time.Minute || c.Skew != time.Minute ||
			c.RotateEvery != 24*time.Hour || c.Overlap != time.Hour || c.JWKSMaxAge >= c.Overlap || c.CacheSize != 65536 {
			t.Errorf("defaults %+v", c)
		}
	})
}
