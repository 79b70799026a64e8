package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/logline/logline/internal/auth"
	"github.com/logline/logline/internal/auth/quota"
	"github.com/logline/logline/internal/openapi"
)

// loadOpenAPI builds the OpenAPI document and loads it as OpenAPI 3.1.
func loadOpenAPI(t *testing.T) (*openapi3.T, []byte) {
	t.Helper()
	b, err := openapi.Build(openapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		t.Fatal(err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("document is OpenAPI %s, want 3.1", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return doc, b
}

// TestOpenAPIMatchesRoutes: the document's operations are exactly the
// routes the gateway serves (BuiltinRoutes and IdentityRoutes), each with
// the same capability, or public.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc, _ := loadOpenAPI(t)
	got := map[string]string{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			c, _ := op.Extensions["x-logline-capability"].(string)
			if c == "" {
				c = "public"
			}
			got[method+" "+path] = c
		}
	}
	want := map[string]string{}
	for _, ri := range append(BuiltinRoutes(), IdentityRoutes()...) {
		c := string(ri.Capability)
		if ri.Public {
			c = "public"
		}
		want[ri.Pattern] = c
	}
	for _, p := range slices.Sorted(maps.Keys(want)) {
		if got[p] != want[p] {
			t.Errorf("%s: document says %q, the gateway %q", p, got[p], want[p])
		}
	}
	for _, p := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[p]; !ok {
			t.Errorf("%s is in the document but the gateway does not serve it", p)
		}
	}
	// The server's own table is built from the same list.
	srv, err := New(Config{Store: newEnv(t, nil).store, Access: &Access{Verify: fakeTokens{}.verify, Routes: map[string]http.Handler{"GET /.well-known/jwks.json": http.NotFoundHandler()}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, rt := range srv.routeTable() {
		c := string(rt.need)
		if rt.public {
			c = "public"
		}
		if want[rt.pattern] != c {
			t.Errorf("served route %s (%s) is not declared so in BuiltinRoutes/IdentityRoutes (%q)", rt.pattern, c, want[rt.pattern])
		}
	}
}

// TestOpenAPIRefusesUndeclaredIdentityRoute: Access.Routes may only add
// the declared identity routes, so the document cannot miss one.
func TestOpenAPIRefusesUndeclaredIdentityRoute(t *testing.T) {
	e := newEnv(t, nil)
	_, err := New(Config{Store: e.store, Access: &Access{Verify: fakeTokens{}.verify, Routes: map[string]http.Handler{"GET /auth/logout": http.NotFoundHandler()}}})
	if err == nil || !strings.Contains(err.Error(), "not an identity route") {
		t.Errorf("New with an undeclared identity route: %v", err)
	}
	// A handler without its line in BuiltinRoutes declares nothing.
	if err := checkRoutes([]route{{pattern: "GET /new", handle: http.NotFoundHandler()}}); err == nil {
		t.Error("checkRoutes accepted an undeclared route")
	}
}

func TestOpenAPIRoute(t *testing.T) {
	doc := []byte("openapi: 3.1.0\n")
	for _, tc := range []struct {
		name     string
		openAPI  func(string) ([]byte, error)
		status   int
		code     string
		wantBody []byte
	}{
		{"served", func(string) ([]byte, error) { return doc, nil }, http.StatusOK, "", doc},
		{"not configured", nil, http.StatusNotImplemented, codeNotImplemented, nil},
		{"failing", func(string) ([]byte, error) { return nil, errors.New("secret cause") }, http.StatusInternalServerError, codeInternal, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *Config) {
				c.OpenAPI = tc.openAPI
				c.Dev = false
				c.Access = &Access{Verify: fakeTokens{}.verify} // public: no token needed
			})
			resp, body := e.get("/openapi.yaml", nil)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d\n%s", resp.StatusCode, tc.status, body)
			}
			if tc.code != "" {
				if p := decodeProblem(t, resp, body); p.Code != tc.code || strings.Contains(p.Detail, "secret") {
					t.Errorf("problem %+v, want code %s without the cause", p, tc.code)
				}
				return
			}
			if ct, cc := resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"); ct != "application/yaml" || cc != "no-cache" {
				t.Errorf("Content-Type %q, Cache-Control %q; want application/yaml, no-cache", ct, cc)
			}
			if !bytes.Equal(body, tc.wantBody) {
				t.Errorf("body %q, want %q", body, tc.wantBody)
			}
			if resp, body := e.do("HEAD", "/openapi.yaml", "", nil, nil); resp.StatusCode != http.StatusOK || len(body) != 0 {
				t.Errorf("HEAD: %d with %d bytes", resp.StatusCode, len(body))
			}
		})
	}
}

// TestOpenAPIPerTenant: GET /openapi.yaml stays public and serves the
// anonymous document without a token; with a valid token (whatever it
// grants) the document of the token's tenant; a header that does not
// carry a valid token is 401 like on every guarded route (and reaches
// Denied), never the anonymous document; the token's request quota
// applies; without authentication (--dev) the header is not read.
func TestOpenAPIPerTenant(t *testing.T) {
	tokens := fakeTokens{
		"admin-acme":      {Subject: "sa_a", Tenant: "acme", Roles: []string{"admin"}, Grants: auth.Grants{"*"}, Kind: auth.KindService},
		"nothing-bakery":  {Subject: "sa_b", Tenant: "bakery", Roles: []string{"none"}, Kind: auth.KindService},
		"admin-brokenco":  {Subject: "sa_c", Tenant: "brokenco", Roles: []string{"admin"}, Grants: auth.Grants{"*"}, Kind: auth.KindService},
		"admin-quotaless": {Subject: "sa_d", Tenant: "quotaless", Roles: []string{"admin"}, Grants: auth.Grants{"*"}, Kind: auth.KindService},
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	lim, err := quota.New(quota.Config{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if err := lim.Set("quotaless", quota.Limits{Requests: quota.Limit{PerSecond: 1, Burst: 1}}, nil); err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		asked  []string
		denied []string
	)
	document := func(tenant string) ([]byte, error) {
		mu.Lock()
		asked = append(asked, tenant)
		mu.Unlock()
		if tenant == "brokenco" {
			return nil, errors.New("secret cause")
		}
		return []byte("openapi: 3.1.0 # " + tenant + "\n"), nil
	}
	e := newEnv(t, func(c *Config) {
		c.OpenAPI = document
		c.Access = &Access{Verify: tokens.verify, Quotas: lim, Denied: func(tenant, reason string) {
			mu.Lock()
			denied = append(denied, tenant+": "+reason)
			mu.Unlock()
		}}
	})
	for _, tc := range []struct {
		name, authorization string
		status              int
		body                string // for 200
		asked               string // the tenant Config.OpenAPI is asked for; "-" for no call
		denied              string
	}{
		{"anonymous", "", 200, "openapi: 3.1.0 # \n", "", ""},
		{"acme's token", "Bearer admin-acme", 200, "openapi: 3.1.0 # acme\n", "acme", ""},
		{"a token granting nothing", "Bearer nothing-bakery", 200, "openapi: 3.1.0 # bakery\n", "bakery", ""},
		{"a token that does not verify", "Bearer forged", 401, "", "-", ": invalid token"},
		{"another scheme", "Basic YTpi", 401, "", "-", ": malformed Authorization header"},
		{"an empty bearer", "Bearer ", 401, "", "-", ": malformed Authorization header"},
		{"a tenant whose document fails", "Bearer admin-brokenco", 500, "", "brokenco", ""},
		{"within the quota", "Bearer admin-quotaless", 200, "openapi: 3.1.0 # quotaless\n", "quotaless", ""},
		{"over the quota", "Bearer admin-quotaless", 429, "", "-", "quotaless: quota requests"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			asked, denied = nil, nil
			mu.Unlock()
			hdr := map[string]string{}
			if tc.authorization != "" {
				hdr["Authorization"] = tc.authorization
			}
			resp, body := e.get("/openapi.yaml", hdr)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d\n%s", resp.StatusCode, tc.status, body)
			}
			switch tc.status {
			case 200:
				if string(body) != tc.body || resp.Header.Get("Vary") != "Authorization" {
					t.Errorf("body %q (Vary %q), want %q (Vary Authorization)", body, resp.Header.Get("Vary"), tc.body)
				}
			case 401:
				if p := decodeProblem(t, resp, body); p.Code != codeUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
					t.Errorf("problem %+v, WWW-Authenticate %q: want unauthorized with a challenge", p, resp.Header.Get("WWW-Authenticate"))
				}
			case 500:
				if p := decodeProblem(t, resp, body); p.Code != codeInternal || strings.Contains(p.Detail, "secret") {
					t.Errorf("problem %+v, want internal without the cause", p)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			wantAsked := []string{tc.asked}
			if tc.asked == "-" {
				wantAsked = nil
			}
			if !slices.Equal(asked, wantAsked) {
				t.Errorf("Config.OpenAPI asked for %q, want %q", asked, wantAsked)
			}
			var wantDenied []string
			if tc.denied != "" {
				wantDenied = []string{tc.denied}
			}
			if !slices.Equal(denied, wantDenied) {
				t.Errorf("Denied saw %q, want %q", denied, wantDenied)
			}
		})
	}

	// --dev authenticates nobody: the header is not read.
	dev := newEnv(t, func(c *Config) { c.OpenAPI = document })
	resp, body := dev.get("/openapi.yaml", map[string]string{"Authorization": "Bearer forged"})
	if resp.StatusCode != http.StatusOK || string(body) != "openapi: 3.1.0 # \n" {
		t.Errorf("--dev with a header: %d %q, want the anonymous document", resp.StatusCode, body)
	}
}

// checkAnswer validates a real answer against the document: the
// operation must list its status and content type, and a JSON or NDJSON
// body must match the schema given there.
func checkAnswer(t *testing.T, doc *openapi3.T, method, template string, resp *http.Response, body []byte) {
	t.Helper()
	name := method + " " + template + " → " + strconv.Itoa(resp.StatusCode)
	item := doc.Paths.Find(template)
	if item == nil || item.GetOperation(method) == nil {
		t.Errorf("%s: no such operation in the document", name)
		return
	}
	r := item.GetOperation(method).Responses.Status(resp.StatusCode)
	if r == nil {
		t.Errorf("%s: the document does not list this status", name)
		return
	}
	ctype := resp.Header.Get("Content-Type")
	if len(r.Value.Content) == 0 {
		if len(body) > 0 {
			t.Errorf("%s: the document gives no content, the answer has %q", name, ctype)
		}
		return
	}
	mt := r.Value.Content[ctype]
	if mt == nil {
		base, _, _ := mime.ParseMediaType(ctype)
		mt = r.Value.Content[base]
	}
	if mt == nil {
		t.Errorf("%s: content type %q is not in the document (%v)", name, ctype, slices.Sorted(maps.Keys(r.Value.Content)))
		return
	}
	check := func(schema *openapi3.Schema, text []byte) {
		var v any
		if err := json.Unmarshal(text, &v); err != nil {
			t.Errorf("%s: body is not JSON: %v\n%s", name, err, text)
			return
		}
		if err := doc.ValidateSchemaJSON(schema, v, openapi3.EnableJSONSchema2020(), openapi3.EnableFormatValidation()); err != nil {
			t.Errorf("%s: the answer does not match the document's schema: %v\n%s", name, err, text)
		}
	}
	base, _, _ := mime.ParseMediaType(ctype)
	switch {
	case base == "application/json" || strings.HasSuffix(base, "+json"):
		check(mt.Schema.Value, body)
	case mt.Extensions["x-logline-line-schema"] != nil:
		ref, _ := mt.Extensions["x-logline-line-schema"].(string)
		line := doc.Components.Schemas[strings.TrimPrefix(ref, "#/components/schemas/")]
		if line == nil {
			t.Fatalf("%s: line schema %q not found", name, ref)
		}
		for _, l := range bytes.Split(bytes.TrimSuffix(body, []byte("\n")), []byte("\n")) {
			check(line.Value, l)
		}
	}
}

// TestOpenAPIDescribesAnswers: real answers of every kind validate
// against the document's schemas.
func TestOpenAPIDescribesAnswers(t *testing.T) {
	doc, raw := loadOpenAPI(t)
	ae := newAccessEnv(t, nil)
	ae.srv.openAPI = func(string) ([]byte, error) { return raw, nil } // set before any request of this test
	admin := "admin-acme"
	span := func(id string) string {
		return spanJSON(map[string]any{"tenant": "acme", "id": id, "who": "w", "did": "d", "this": "x", "when": "2026-01-02T03:04:05Z"})
	}
	type call struct {
		method, template, path, ctype, body, token string
		hdr                                        map[string]string
		status                                     int
	}
	calls := []call{
		{"POST", "/ingest", "/ingest?proof=1", "application/json", span("oa1"), admin, nil, 201},
		{"POST", "/ingest", "/ingest", "application/json", span("oa1"), admin, nil, 200},
		{"POST", "/api/spans", "/api/spans", "application/x-ndjson", span("oa2") + "\n{bad\n" + span("oa1") + "\n", admin, nil, 200},
		{"POST", "/ingest", "/ingest", "application/json", `{"tenant":"acme"`, admin, nil, 400},
		{"POST", "/ingest", "/ingest", "text/csv", "a,b", admin, nil, 415},
		{"POST", "/ingest", "/ingest", "application/json", span("oa3"), "", nil, 401},
		{"POST", "/ingest", "/ingest", "application/json", span("oa3"), "without-ledger.append-acme", nil, 403},
		{"POST", "/ingest", "/ingest", "application/json", spanJSON(map[string]any{"tenant": "acme", "id": "oa1", "who": "other", "did": "d", "this": "x", "when": "2026-01-02T03:04:05Z"}), admin, nil, 409},
		{"GET", "/spans/{id}", "/spans/oa1", "", "", admin, nil, 200},
		{"GET", "/spans/{id}", "/spans/nothing", "", "", admin, nil, 404},
		{"GET", "/spans", "/spans?limit=2", "", "", admin, nil, 200},
		{"GET", "/spans", "/spans?limit=0", "", "", admin, nil, 400},
		{"GET", "/ledger/stream", "/ledger/stream", "", "", admin, nil, 200},
		{"GET", "/api/timeline/stream", "/api/timeline/stream", "", "", admin, nil, 200},
		{"GET", "/checkpoint", "/checkpoint", "", "", admin, nil, 200},
		{"GET", "/log/key", "/log/key", "", "", "", nil, 200},
		{"GET", "/proof/inclusion", "/proof/inclusion?index=0", "", "", admin, nil, 200},
		{"GET", "/proof/inclusion", "/proof/inclusion?id=oa1", "", "", admin, nil, 200},
		{"GET", "/proof/inclusion", "/proof/inclusion?index=999999", "", "", admin, nil, 400},
		{"GET", "/proof/consistency", "/proof/consistency?from=1&to=2", "", "", admin, nil, 200},
		{"POST", "/exports", "/exports", "application/json", `{"since":"2026-01-01T00:00:00Z"}`, admin, nil, 201},
		{"POST", "/exports", "/exports", "application/json", `{"colour":"red"}`, admin, nil, 400},
		{"GET", "/exports/{id}", "/exports/" + ae.exportID["acme"], "", "", admin, nil, 200},
		{"GET", "/exports/{id}", "/exports/" + ae.exportID["acme"], "", "", admin, map[string]string{"Range": "bytes=0-9"}, 206},
		{"GET", "/exports/{id}", "/exports/" + ae.exportID["bakery"], "", "", admin, nil, 404},
		{"GET", "/metrics/public", "/metrics/public", "", "", admin, nil, 200},
		{"GET", "/metrics", "/metrics", "", "", admin, nil, 200},
		{"GET", "/healthz", "/healthz", "", "", "", nil, 200},
		{"GET", "/readyz", "/readyz", "", "", "", nil, 200},
		{"GET", "/openapi.yaml", "/openapi.yaml", "", "", "", nil, 200},
		{"GET", "/openapi.yaml", "/openapi.yaml", "", "", admin, nil, 200},
		{"GET", "/openapi.yaml", "/openapi.yaml", "", "", "forged", nil, 401},
	}
	for _, c := range calls {
		hdr := map[string]string{}
		maps.Copy(hdr, c.hdr)
		if c.token != "" {
			hdr["Authorization"] = "Bearer " + c.token
		}
		var body *strings.Reader
		if c.body != "" {
			body = strings.NewReader(c.body)
		}
		var resp *http.Response
		var got []byte
		if body != nil {
			resp, got = ae.do(c.method, c.path, c.ctype, body, hdr)
		} else {
			resp, got = ae.do(c.method, c.path, c.ctype, nil, hdr)
		}
		if resp.StatusCode != c.status {
			t.Errorf("%s %s: status %d, want %d\n%s", c.method, c.path, resp.StatusCode, c.status, got)
			continue
		}
		checkAnswer(t, doc, c.method, c.template, resp, got)
	}

	// SSE.
	resp, got := ae.do("GET", "/ledger/stream", "", nil, map[string]string{"Authorization": "Bearer " + admin, "Accept": "text/event-stream"})
	checkAnswer(t, doc, "GET", "/ledger/stream", resp, got)

	// 429 from the quotas.
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	lim, err := quota.New(quota.Config{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if err := lim.Set("acme", quota.Limits{Requests: quota.Limit{PerSecond: 1, Burst: 3}}, nil); err != nil {
		t.Fatal(err)
	}
	qe := newAccessEnv(t, lim)
	for range 10 {
		resp, got := qe.send(accessRequest{method: "GET", path: "/spans"}, admin)
		if resp.StatusCode == http.StatusTooManyRequests {
			checkAnswer(t, doc, "GET", "/spans", resp, got)
			return
		}
	}
	t.Error("no 429 after 10 requests with a burst of 3")
}

var _ = auth.LedgerRead // the capability names come from internal/auth on both sides
