package gateway

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/logline/logline/internal/auth"
	"github.com/logline/logline/internal/tenantrates"
)

// countedRequests records what the gateway tells TenantRequests.
type countedRequests struct {
	mu    sync.Mutex
	calls []string
}

func (c *countedRequests) Served(tenant string, status int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, fmt.Sprintf("served %s %d", tenant, status))
}

func (c *countedRequests) Refused(tenant string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, "refused "+tenant)
}

func (c *countedRequests) Figures(tenant string) map[string]float64 {
	return map[string]float64{"gateway.status_5xx_rate": 0.5}
}

func (c *countedRequests) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.calls
	c.calls = nil
	return out
}

// claimedAfterAt is the TokenTenant of the tests: "forged@acme" names
// acme.
func claimedAfterAt(token string) string {
	_, tenant, _ := strings.Cut(token, "@")
	return tenant
}

// TestTenantRequests: each request a token attributes to a tenant is
// counted once, after its answer — served with its status when the
// token verified (403 and 5xx answers too), refused when it did not and
// names a tenant — and nothing else is.
func TestTenantRequests(t *testing.T) {
	counted := &countedRequests{}
	tokens := fakeTokens{
		"admin-acme":  {Subject: "sa_admin", Tenant: "acme", Roles: []string{"admin"}, Grants: auth.Grants{"*"}, Kind: auth.KindService},
		"reader-beta": {Subject: "sa_reader", Tenant: "beta", Roles: []string{"reader"}, Grants: auth.Grants{string(auth.LedgerRead)}, Kind: auth.KindService},
	}
	e := newEnv(t, func(c *Config) {
		c.Access = &Access{Verify: tokens.verify, TokenTenant: claimedAfterAt}
		c.Requests = counted
	})
	tests := []struct {
		name, method, path, token string
		want                      []string
	}{
		{"verified, answered 404", "GET", "/spans/nope", "admin-acme", []string{"served acme 404"}},
		{"verified, answered 200", "GET", "/spans?limit=1", "reader-beta", []string{"served beta 200"}},
		{"verified, answered 501", "GET", "/metrics", "admin-acme", []string{"served acme 501"}},
		{"verified, capability missing", "POST", "/ingest", "reader-beta", []string{"served beta 403"}},
		{"refused, naming a tenant", "GET", "/spans/nope", "forged@acme", []string{"refused acme"}},
		{"refused, naming none", "GET", "/spans/nope", "forged", nil},
		{"no token", "GET", "/spans/nope", "", nil},
		{"public route", "GET", "/healthz", "admin-acme", nil},
		{"no route", "GET", "/nowhere", "admin-acme", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, strings.NewReader("{}"))
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			// ServeHTTP returns after the middleware counted: no waiting.
			e.srv.Handler().ServeHTTP(httptest.NewRecorder(), req)
			if got := counted.take(); !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestTenantRequestsPublic: GET /metrics/public shows the token's
// tenant's figures under "requests".
func TestTenantRequestsPublic(t *testing.T) {
	tokens := fakeTokens{"admin-acme": {Subject: "sa_admin", Tenant: "acme", Roles: []string{"admin"}, Grants: auth.Grants{"*"}, Kind: auth.KindService}}
	e := newEnv(t, func(c *Config) {
		c.Access = &Access{Verify: tokens.verify}
		c.Requests = &countedRequests{}
	})
	req := httptest.NewRequest("GET", "/metrics/public", nil)
	req.Header.Set("Authorization", "Bearer admin-acme")
	rec := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(rec, req)
	if want := `"requests":{"acme":{"gateway.status_5xx_rate":0.5}}`; rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), want) {
		t.Errorf("got %d %s, want 200 with %s", rec.Code, rec.Body, want)
	}
}

// BenchmarkTenantRequests is the gateway's cost per request of counting
// it by tenant: the same request (a token that verifies, GET /spans/{id}
// answered 404, served in process) without Config.Requests and with
// tenantrates. The difference between the two is the cost.
func BenchmarkTenantRequests(b *testing.B) {
	tokens := fakeTokens{"admin-acme": {Subject: "sa_admin", Tenant: "acme", Roles: []string{"admin"}, Grants: auth.Grants{"*"}, Kind: auth.KindService}}
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("counted=%v", on), func(b *testing.B) {
			e := newEnv(b, func(c *Config) {
				c.Access = &Access{Verify: tokens.verify}
				if on {
					c.Requests = tenantrates.New(tenantrates.Config{})
				}
			})
			h := e.srv.Handler()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				req := httptest.NewRequest("GET", "/spans/nope", nil)
				req.Header.Set("Authorization", "Bearer admin-acme")
				for pb.Next() {
					h.ServeHTTP(httptest.NewRecorder(), req)
				}
			})
		})
	}
}
