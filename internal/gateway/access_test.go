package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logline/logline/internal/auth"
	"github.com/logline/logline/internal/auth/quota"
	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/metrics"
)

// fakeTokens is a Verify that knows a fixed set of tokens: the gateway
// does not care how tokens are checked (llst does), only what they grant.
type fakeTokens map[string]*auth.Principal

func (f fakeTokens) verify(_ context.Context, token string) (*auth.Principal, error) {
	if p, ok := f[token]; ok {
		cp := *p
		return &cp, nil
	}
	return nil, errors.New("unknown token")
}

// grantsExcept returns every known capability but c.
func grantsExcept(c auth.Capability) auth.Grants {
	var g auth.Grants
	for _, k := range auth.Known() {
		if k != c {
			g = append(g, string(k))
		}
	}
	return g
}

// accessEnv serves tenants acme and bakery, each with a stored span and
// an export, behind Access with the given tokens (plus "admin-acme" and
// "admin-bakery", which grant everything in their tenant).
type accessEnv struct {
	*env
	tokens   fakeTokens
	exportID map[string]string // tenant → export id
	denied   []string
	mu       sync.Mutex
}

func newAccessEnv(t *testing.T, quotas *quota.Limiter) *accessEnv {
	t.Helper()
	ae := &accessEnv{tokens: fakeTokens{}, exportID: map[string]string{}}
	for _, tenant := range []string{"acme", "bakery"} {
		ae.tokens["admin-"+tenant] = &auth.Principal{Subject: "sa_admin_" + tenant, Tenant: tenant, Roles: []string{"admin"}, Grants: auth.Grants{"*"}, Kind: auth.KindService}
		for _, c := range auth.Known() {
			ae.tokens["without-"+string(c)+"-"+tenant] = &auth.Principal{Subject: "sa_x", Tenant: tenant, Roles: []string{"custom"}, Grants: grantsExcept(c), Kind: auth.KindService}
		}
	}
	e, _, _ := newExportEnvWith(t, func(c *Config) {
		c.Access = &Access{Verify: ae.tokens.verify, Quotas: quotas, Denied: func(tenant, reason string) {
			ae.mu.Lock()
			ae.denied = append(ae.denied, tenant+": "+reason)
			ae.mu.Unlock()
		}}
		c.Usage = quota.NewUsage(quota.UsageConfig{})
		reg, err := metrics.New(metrics.Config{})
		if err != nil {
			t.Fatal(err)
		}
		c.Metrics = reg
		c.DataPlanePolicy = testDataPlanePolicy(t)
	})
	ae.env = e
	appendExportSpans(t, e, 2, map[string]string{"acme": "admin-acme", "bakery": "admin-bakery"})
	for _, tenant := range []string{"acme", "bakery"} {
		resp, body := ae.do("POST", "/exports", "application/json", strings.NewReader(`{}`), map[string]string{"Authorization": "Bearer admin-" + tenant})
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("export for %s: %d %s", tenant, resp.StatusCode, body)
		}
		var c exportCreated
		if err := json.Unmarshal(body, &c); err != nil {
			t.Fatal(err)
		}
		ae.exportID[tenant] = c.ID
	}
	return ae
}

// accessRequest is one request to a route, made as tenant acme's token
// would make it against acme's own resources (own) or against bakery's
// (other).
type accessRequest struct {
	method, path, ctype, body string
}

// requestsFor returns, per route pattern, a request within the token's
// tenant and one naming the other tenant's resources (zero when the route
// has no tenant-owned resource: verification routes read the shared log).
func (ae *accessEnv) requestsFor(t *testing.T) map[string][2]accessRequest {
	t.Helper()
	n := 0
	span := func(tenant string) string {
		n++
		return spanJSON(map[string]any{"tenant": tenant, "id": fmt.Sprintf("m%d", n), "who": "w", "did": "d", "this": "x", "when": "2026-01-02T03:04:05Z"})
	}
	stored := func(tenant string) string {
		page, err := ae.store.Query(context.Background(), ledger.Query{Tenant: tenant, Limit: 1})
		if err != nil || len(page.Entries) == 0 {
			t.Fatalf("no stored span of %s: %v", tenant, err)
		}
		return page.Entries[0].ID
	}
	return map[string][2]accessRequest{
		"POST /ingest":               {{"POST", "/ingest", "application/json", span("acme")}, {"POST", "/ingest", "application/json", span("bakery")}},
		"POST /api/spans":            {{"POST", "/api/spans", "application/x-ndjson", span("acme") + "\n"}, {"POST", "/api/spans?tenant=bakery", "application/x-ndjson", span("bakery") + "\n"}},
		"GET /spans/{id}":            {{"GET", "/spans/" + stored("acme"), "", ""}, {"GET", "/spans/" + stored("bakery") + "?tenant=bakery", "", ""}},
		"GET /spans":                 {{"GET", "/spans", "", ""}, {"GET", "/spans?tenant=bakery", "", ""}},
		"GET /ledger/stream":         {{"GET", "/ledger/stream", "", ""}, {"GET", "/ledger/stream?tenant=bakery", "", ""}},
		"GET /api/timeline/stream":   {{"GET", "/api/timeline/stream", "", ""}, {"GET", "/api/timeline/stream?tenant=bakery", "", ""}},
		"GET /checkpoint":            {{"GET", "/checkpoint", "", ""}, {}},
		"GET /proof/inclusion":       {{"GET", "/proof/inclusion?id=" + stored("acme"), "", ""}, {"GET", "/proof/inclusion?id=" + stored("bakery"), "", ""}},
		"GET /proof/consistency":     {{"GET", "/proof/consistency?from=1&to=2", "", ""}, {}},
		"GET /trajectories/{id}":     {{"GET", "/trajectories/" + ae.accessTrajectory(t, "acme"), "", ""}, {"GET", "/trajectories/" + ae.accessTrajectory(t, "bakery") + "?tenant=bakery", "", ""}},
		"GET /trajectories":          {{"GET", "/trajectories?this=traj:acme", "", ""}, {"GET", "/trajectories?this=traj:bakery&tenant=bakery", "", ""}},
		"POST /quality/dryrun":       {{"POST", "/quality/dryrun", "application/x-ndjson", span("acme") + "\n"}, {"POST", "/quality/dryrun", "application/x-ndjson", span("bakery") + "\n"}},
		"POST /exports":              {{"POST", "/exports", "application/json", `{"tenant":"acme"}`}, {"POST", "/exports", "application/json", `{"tenant":"bakery"}`}},
		"GET /exports/{id}":          {{"GET", "/exports/" + ae.exportID["acme"], "", ""}, {"GET", "/exports/" + ae.exportID["bakery"], "", ""}},
		"GET /metrics/public":        {{"GET", "/metrics/public", "", ""}, {}},
		"GET /metrics":               {{"GET", "/metrics", "", ""}, {}},
		"GET /healthz":               {{"GET", "/healthz", "", ""}, {}},
		"GET /readyz":                {{"GET", "/readyz", "", ""}, {}},
		"GET /log/key":               {{"GET", "/log/key", "", ""}, {}},
		"GET /openapi.yaml":          {{"GET", "/openapi.yaml", "", ""}, {}},
		"GET /.well-known/jwks.json": {},
	}
}

func (ae *accessEnv) send(r accessRequest, token string) (*http.Response, []byte) {
	hdr := map[string]string{}
	if token != "" {
		hdr["Authorization"] = "Bearer " + token
	}
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	return ae.do(r.method, r.path, r.ctype, body, hdr)
}

// TestEveryRouteDeclaresCapability: the route table names a capability
// (or public) for every route, and New refuses one that does not.
func TestEveryRouteDeclaresCapability(t *testing.T) {
	ae := newAccessEnv(t, nil)
	reqs := ae.requestsFor(t)
	for _, rt := range ae.srv.routeTable() {
		if !rt.public && rt.need == "" {
			t.Errorf("route %s declares no capability", rt.pattern)
		}
		if _, ok := reqs[rt.pattern]; !ok && !rt.public {
			t.Errorf("route %s has no case in requestsFor: add one so the access matrix covers it", rt.pattern)
		}
	}
	bad := []route{{pattern: "GET /x", handle: http.NotFoundHandler()}}
	if err := checkRoutes(bad); err == nil || !strings.Contains(err.Error(), "declares no capability") {
		t.Errorf("checkRoutes(undeclared) = %v, want the deny-by-default error", err)
	}
	if err := checkRoutes([]route{{pattern: "GET /x", public: true, need: auth.LedgerRead, handle: http.NotFoundHandler()}}); err == nil {
		t.Error("checkRoutes accepted a public route with a capability")
	}
	if _, err := New(Config{Store: ae.store}); err == nil {
		t.Error("New without Access or Dev succeeded: the gateway must deny by default")
	}
}

// TestAccessMatrix: every guarded route × no token → 401; × a token of
// the right tenant lacking exactly the route's capability → 403; × a
// token of the right tenant with it → not 401/403; × the other tenant's
// resources → 404 (403 tenant_mismatch for writes), never their data.
func TestAccessMatrix(t *testing.T) {
	ae := newAccessEnv(t, nil)
	reqs := ae.requestsFor(t)
	for _, rt := range ae.srv.routeTable() {
		pair, ok := reqs[rt.pattern]
		if !ok || pair[0].method == "" {
			continue
		}
		own, other := pair[0], pair[1]
		t.Run(rt.pattern, func(t *testing.T) {
			if rt.public {
				if resp, body := ae.send(own, ""); resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
					t.Errorf("public route without a token: %d %s", resp.StatusCode, body)
				}
				return
			}
			resp, body := ae.send(own, "")
			if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("no token: got %d (WWW-Authenticate %q), want 401 with a challenge\n%s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
			}
			if p := decodeProblem(t, resp, body); p.Code != codeUnauthorized {
				t.Errorf("no token: code %q, want %q", p.Code, codeUnauthorized)
			}
			if resp, body := ae.send(own, "forged"); resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("unknown token: got %d, want 401\n%s", resp.StatusCode, body)
			}
			resp, body = ae.send(own, "without-"+string(rt.need)+"-acme")
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("token without %s: got %d, want 403\n%s", rt.need, resp.StatusCode, body)
			} else if p := decodeProblem(t, resp, body); p.Code != codeForbidden || !strings.Contains(p.Detail, string(rt.need)) {
				t.Errorf("token without %s: problem %+v, want forbidden naming the capability", rt.need, p)
			}
			resp, body = ae.send(own, "admin-acme")
			if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden || resp.StatusCode >= 500 {
				t.Errorf("token with %s: got %d\n%s", rt.need, resp.StatusCode, body)
			}
			if strings.Contains(string(body), `"bakery"`) {
				t.Errorf("acme's request answered with bakery's data:\n%s", body)
			}
			if other.method == "" {
				return
			}
			resp, body = ae.send(other, "admin-acme")
			want := http.StatusNotFound
			if other.method == "POST" {
				want = http.StatusForbidden // a write naming another tenant: tenant_mismatch
			}
			if resp.StatusCode != want && !(rt.pattern == "POST /api/spans" && resp.StatusCode == http.StatusForbidden) {
				t.Errorf("acme's token on bakery's resource: got %d, want %d\n%s", resp.StatusCode, want, body)
			}
			if strings.Contains(string(body), `"tenant":"bakery","who"`) || strings.Contains(string(body), `logline_export`) {
				t.Errorf("acme's token got bakery's data:\n%s", body)
			}
		})
	}
}

// TestStreamScopedToTokenTenant: a token's stream carries its tenant's
// entries only, whatever it asks for.
func TestStreamScopedToTokenTenant(t *testing.T) {
	ae := newAccessEnv(t, nil)
	resp, body := ae.send(accessRequest{method: "GET", path: "/ledger/stream"}, "admin-acme")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stream: %d %s", resp.StatusCode, body)
	}
	lines := strings.Split(strings.TrimSpace(string(body)), "\n")
	if len(lines) == 0 || lines[0] == "" {
		t.Fatal("acme's stream is empty")
	}
	for _, l := range lines {
		if !strings.Contains(l, `"tenant":"acme"`) {
			t.Errorf("acme's stream carries %s", l)
		}
	}
}

// TestIngestCountsUsage: spans appended with a token count toward the
// tenant's ingest_spans_count (duplicates do not), shown at
// /metrics/public for that tenant only.
func TestIngestCountsUsage(t *testing.T) {
	ae := newAccessEnv(t, nil)
	sp := spanJSON(map[string]any{"tenant": "acme", "id": "u1", "who": "w", "did": "d", "this": "x", "when": "2026-01-02T03:04:05Z"})
	for range 2 {
		if resp, body := ae.send(accessRequest{"POST", "/ingest", "application/json", sp}, "admin-acme"); resp.StatusCode >= 300 {
			t.Fatalf("ingest: %d %s", resp.StatusCode, body)
		}
	}
	resp, body := ae.send(accessRequest{method: "GET", path: "/metrics/public"}, "admin-acme")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("metrics: %d %s", resp.StatusCode, body)
	}
	var got struct {
		Tenants map[string]quota.Counters `json:"tenants"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	// appendExportSpans stored 2 of acme's before.
	if len(got.Tenants) != 1 || got.Tenants["acme"].IngestSpans != 3 || got.Tenants["acme"].ExportBytes == 0 {
		t.Errorf("/metrics/public = %s, want acme only with 2+1 ingested spans and its export bytes", body)
	}
}

// TestQuotaRefusesNoisyTenant: a tenant over its request rate gets 429
// with Retry-After and a problem; the other tenant is not affected, and
// the refusals reach Denied.
func TestQuotaRefusesNoisyTenant(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	lim, err := quota.New(quota.Config{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if err := lim.Set("acme", quota.Limits{Requests: quota.Limit{PerSecond: 1, Burst: 3}}, nil); err != nil {
		t.Fatal(err)
	}
	ae := newAccessEnv(t, lim)
	req := accessRequest{method: "GET", path: "/spans"}
	codes := map[int]int{}
	var last *http.Response
	for range 10 {
		resp, _ := ae.send(req, "admin-acme")
		codes[resp.StatusCode]++
		last = resp
	}
	if codes[http.StatusTooManyRequests] == 0 || last.Header.Get("Retry-After") == "" {
		t.Errorf("acme at 10 requests with a burst of 3 (and 2 exports before): %v, want 429s with Retry-After", codes)
	}
	for range 10 {
		if resp, body := ae.send(req, "admin-bakery"); resp.StatusCode != http.StatusOK {
			t.Fatalf("bakery while acme is over quota: %d %s", resp.StatusCode, body)
		}
	}
	ae.mu.Lock()
	defer ae.mu.Unlock()
	if !strings.Contains(fmt.Sprint(ae.denied), "acme: quota requests") {
		t.Errorf("Denied saw %v, want acme's quota refusals", ae.denied)
	}
}
