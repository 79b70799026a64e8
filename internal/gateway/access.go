package gateway

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/logline/logline/internal/auth"
	"github.com/logline/logline/internal/auth/quota"
)

// Access is how the gateway decides who may do what (docs/auth.md).
// Every route declares the capability it needs (routeTable); a request
// to one that is not public must carry "Authorization: Bearer LLST", a
// LogLine session token Verify accepts, whose grants cover that
// capability, and it then acts within the token's tenant only: another
// tenant's spans, exports and streams answer 404 as if they did not
// exist, and a span whose tenant is not the token's is refused.
type Access struct {
	// Verify checks a bearer token and returns who it is. Its error
	// messages are shown to the client (401), so they must be safe.
	Verify func(ctx context.Context, token string) (*auth.Principal, error)
	// Quotas, when set, is charged one request per authenticated request
	// and the spans and bytes of every append (429 when a bucket of the
	// tenant or of its role is empty).
	Quotas *quota.Limiter
	// Routes are the identity endpoints served without a token
	// (GET /.well-known/jwks.json, GET /auth/login, GET /auth/callback,
	// POST /auth/token), keyed by their ServeMux pattern; only the
	// patterns of IdentityRoutes are accepted.
	Routes map[string]http.Handler
	// Denied, when set, is told about every refused request (tenant is ""
	// when no valid token named one); the server aggregates these into
	// auth-event spans. It must not block.
	Denied func(tenant, reason string)
	// TokenTenant, when set, returns the tenant a token Verify refused
	// names, unverified ("" for none), so that Config.Requests counts the
	// refusal toward it (llst.ClaimedTenant). It is never used for
	// access.
	TokenTenant func(token string) string
}

// RouteInfo is one route and what it requires, without its handler: the
// static route list the server is built from and the OpenAPI document
// (internal/openapi) is checked against.
type RouteInfo struct {
	// Pattern is the ServeMux pattern, "METHOD /path".
	Pattern string
	// Capability is what a token must grant; "" only when Public.
	Capability auth.Capability
	// Public routes answer without a token.
	Public bool
}

// BuiltinRoutes lists every route the gateway serves itself, with the
// capability it needs or public: the probes, the log's public key and
// the OpenAPI document are public. GET routes also answer HEAD with the
// same requirement. The identity routes come from Access.Routes
// (IdentityRoutes).
func BuiltinRoutes() []RouteInfo {
	return []RouteInfo{
		{Pattern: "POST /ingest", Capability: auth.LedgerAppend},
		{Pattern: "POST /api/spans", Capability: auth.LedgerAppend},
		{Pattern: "GET /spans/{id}", Capability: auth.LedgerRead},
		{Pattern: "GET /spans", Capability: auth.LedgerRead},
		{Pattern: "GET /ledger/stream", Capability: auth.StreamRead},
		{Pattern: "GET /api/timeline/stream", Capability: auth.StreamRead},
		{Pattern: "GET /checkpoint", Capability: auth.LedgerRead},
		{Pattern: "GET /proof/inclusion", Capability: auth.LedgerRead},
		{Pattern: "GET /proof/consistency", Capability: auth.LedgerRead},
		{Pattern: "GET /trajectories/{id}", Capability: auth.LedgerRead},
		{Pattern: "GET /trajectories", Capability: auth.LedgerRead},
		{Pattern: "POST /quality/dryrun", Capability: auth.QualityDryrun},
		{Pattern: "POST /exports", Capability: auth.AdminExport},
		{Pattern: "GET /exports/{id}", Capability: auth.AdminExport},
		{Pattern: "GET /metrics/public", Capability: auth.AdminMetrics},
		{Pattern: "GET /metrics", Capability: auth.AdminMetrics},
		{Pattern: "GET /healthz", Public: true},
		{Pattern: "GET /readyz", Public: true},
		{Pattern: "GET /log/key", Public: true},
		{Pattern: "GET /openapi.yaml", Public: true},
	}
}

// IdentityRoutes lists the routes Access.Routes may add, all public: the
// token keys, OIDC login and the service-account token exchange. New
// refuses any other pattern in Access.Routes, so the OpenAPI document
// cannot miss one.
func IdentityRoutes() []RouteInfo {
	return []RouteInfo{
		{Pattern: "GET /.well-known/jwks.json", Public: true},
		{Pattern: "GET /auth/login", Public: true},
		{Pattern: "GET /auth/callback", Public: true},
		{Pattern: "POST /auth/token", Public: true},
	}
}

// route is one HTTP route, what it requires and its handler.
type route struct {
	pattern string
	// need is the capability a token must grant; "" only when public.
	need auth.Capability
	// public routes answer without a token: probes, the log's public
	// key, the identity endpoints.
	public bool
	handle http.Handler
}

// routeTable lists every route the gateway serves: BuiltinRoutes with
// their handlers, then the identity routes of Access. A route with
// neither a capability nor public, or without a handler, is a
// programming error New refuses (TestEveryRouteDeclaresCapability), so a
// new route cannot be served unguarded by accident: a handler added here
// without its line in BuiltinRoutes declares nothing.
func (s *Server) routeTable() []route {
	h := func(f http.HandlerFunc) http.Handler { return f }
	handlers := map[string]http.Handler{
		"POST /ingest":             h(s.handleIngest),
		"POST /api/spans":          h(s.handleIngest),
		"GET /spans/{id}":          h(s.handleGet),
		"GET /spans":               h(s.handleQuery),
		"GET /ledger/stream":       h(s.handleStream),
		"GET /api/timeline/stream": h(s.handleStream),
		"GET /checkpoint":          h(s.handleCheckpoint),
		"GET /proof/inclusion":     h(s.handleInclusion),
		"GET /proof/consistency":   h(s.handleConsistency),
		"GET /trajectories/{id}":   h(s.handleTrajectory),
		"GET /trajectories":        h(s.handleTrajectories),
		"POST /quality/dryrun":     h(s.handleDryRun),
		"POST /exports":            h(s.handleCreateExport),
		"GET /exports/{id}":        h(s.handleGetExport),
		"GET /metrics/public":      h(s.handleMetricsPublic),
		"GET /metrics":             h(s.handleMetrics),
		"GET /healthz":             h(s.handleHealthz),
		"GET /readyz":              h(s.handleReadyz),
		"GET /log/key":             h(s.handleLogKey),
		"GET /openapi.yaml":        h(s.handleOpenAPI),
	}
	var rs []route
	for _, ri := range BuiltinRoutes() {
		rs = append(rs, route{pattern: ri.Pattern, need: ri.Capability, public: ri.Public, handle: handlers[ri.Pattern]})
		delete(handlers, ri.Pattern)
	}
	undeclared := slices.Sorted(maps.Keys(handlers))
	for _, pattern := range undeclared {
		rs = append(rs, route{pattern: pattern, handle: handlers[pattern]})
	}
	if s.access != nil {
		identity := map[string]RouteInfo{}
		for _, ri := range IdentityRoutes() {
			identity[ri.Pattern] = ri
		}
		for _, pattern := range slices.Sorted(maps.Keys(s.access.Routes)) {
			ri := identity[pattern] // zero (declaring nothing) when unknown
			rs = append(rs, route{pattern: pattern, need: ri.Capability, public: ri.Public, handle: s.access.Routes[pattern]})
		}
	}
	return rs
}

// checkRoutes refuses a route table with an undeclared capability.
func checkRoutes(rs []route) error {
	seen := map[string]bool{}
	for _, r := range rs {
		switch {
		case r.handle == nil:
			return fmt.Errorf("gateway: route %q has no handler", r.pattern)
		case r.public && r.need != "":
			return fmt.Errorf("gateway: route %q is public and needs %s", r.pattern, r.need)
		case !r.public && r.need == "":
			return fmt.Errorf("gateway: route %q declares no capability (deny by default: declare one, or public)", r.pattern)
		case seen[r.pattern]:
			return fmt.Errorf("gateway: route %q declared twice", r.pattern)
		}
		seen[r.pattern] = true
	}
	return nil
}

// principalKey carries the request's *auth.Principal in its context.
type principalKey struct{}

// principalOf returns the request's principal; nil in --dev mode (no
// authentication, every tenant).
func principalOf(ctx context.Context) *auth.Principal {
	p, _ := ctx.Value(principalKey{}).(*auth.Principal)
	return p
}

// guard wraps a route's handler with authentication, the capability
// check and the request quota.
func (s *Server) guard(rt route) http.Handler {
	if rt.public || s.access == nil {
		return rt.handle
	}
	a := s.access
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, perr := bearerToken(r)
		if perr != nil {
			s.denied("", "no token")
			writeUnauthorized(w, perr)
			return
		}
		p, err := a.Verify(r.Context(), token)
		if err != nil {
			if a.TokenTenant != nil && s.requests != nil {
				noteToken(w, a.TokenTenant(token), tokenRefused)
			}
			s.denied("", "invalid token")
			writeUnauthorized(w, newProblem(codeUnauthorized, "the token is not valid: "+err.Error()))
			return
		}
		noteToken(w, p.Tenant, tokenVerified)
		if !p.Grants.Allows(rt.need) {
			s.denied(p.Tenant, "missing "+string(rt.need))
			writeProblem(w, newProblem(codeForbidden, fmt.Sprintf("this token does not grant %s", rt.need)))
			return
		}
		if a.Quotas != nil {
			if d := a.Quotas.Allow(p.Tenant, quotaRole(p), quota.Cost{Requests: 1}); !d.OK {
				s.denied(p.Tenant, "quota "+d.Dimension)
				quota.WriteTooMany(w, d)
				return
			}
		}
		rt.handle.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

// quotaRole is the role a principal's requests are charged to: its first
// (tokens carry the roles they were issued for, normally one).
func quotaRole(p *auth.Principal) string {
	if len(p.Roles) == 0 {
		return ""
	}
	return p.Roles[0]
}

func (s *Server) denied(tenant, reason string) {
	if s.access != nil && s.access.Denied != nil {
		s.access.Denied(tenant, reason)
	}
}

// bearerToken reads "Authorization: Bearer TOKEN".
func bearerToken(r *http.Request) (string, *Problem) {
	vs := r.Header.Values("Authorization")
	if len(vs) == 0 {
		return "", newProblem(codeUnauthorized, "this route needs a LogLine token: Authorization: Bearer TOKEN (docs/auth.md)")
	}
	if len(vs) > 1 {
		return "", newProblem(codeUnauthorized, "more than one Authorization header")
	}
	scheme, token, ok := strings.Cut(vs[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" || strings.ContainsAny(token, " \t") {
		return "", newProblem(codeUnauthorized, "the Authorization header must be \"Bearer TOKEN\"")
	}
	return token, nil
}

func writeUnauthorized(w http.ResponseWriter, p *Problem) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="logline"`)
	writeProblem(w, p)
}

// errOtherTenant answers a request that names a tenant other than its
// token's exactly as if nothing were there.
var errOtherTenant = errors.New("gateway: another tenant")

// scopeTenant returns the tenant a request acts in. requested is the
// tenant the request names ("" if none). Without authentication (--dev)
// it is requested as is ("" meaning every tenant where a route allows
// that); with a token it is the token's tenant, and naming another one
// is errOtherTenant.
func scopeTenant(ctx context.Context, requested string) (string, error) {
	p := principalOf(ctx)
	if p == nil {
		return requested, nil
	}
	if requested != "" && requested != p.Tenant {
		return "", errOtherTenant
	}
	return p.Tenant, nil
}

// notFoundProblem is the answer for another tenant's resources: the same
// as for ones that do not exist.
func notFoundProblem(what string) *Problem {
	return newProblem(codeNotFound, "no "+what+" with that id")
}
