package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
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
	// POST /auth/token), keyed by their ServeMux pattern.
	Routes map[string]http.Handler
	// Denied, when set, is told about every refused request (tenant is ""
	// when no valid token named one); the server aggregates these into
	// auth-event spans. It must not block.
	Denied func(tenant, reason string)
}

// route is one HTTP route and what it requires.
type route struct {
	pattern string
	// need is the capability a token must grant; "" only when public.
	need auth.Capability
	// public routes answer without a token: probes, the log's public
	// key, the identity endpoints.
	public bool
	handle http.Handler
}

// routeTable lists every route the gateway serves. A route with neither
// a capability nor public: true is a programming error New refuses
// (TestEveryRouteDeclaresCapability), so a new route cannot be served
// unguarded by accident.
func (s *Server) routeTable() []route {
	h := func(f http.HandlerFunc) http.Handler { return f }
	rs := []route{
		{pattern: "POST /ingest", need: auth.LedgerAppend, handle: h(s.handleIngest)},
		{pattern: "POST /api/spans", need: auth.LedgerAppend, handle: h(s.handleIngest)},
		{pattern: "GET /spans/{id}", need: auth.LedgerRead, handle: h(s.handleGet)},
		{pattern: "GET /spans", need: auth.LedgerRead, handle: h(s.handleQuery)},
		{pattern: "GET /ledger/stream", need: auth.StreamRead, handle: h(s.handleStream)},
		{pattern: "GET /api/timeline/stream", need: auth.StreamRead, handle: h(s.handleStream)},
		{pattern: "GET /checkpoint", need: auth.LedgerRead, handle: h(s.handleCheckpoint)},
		{pattern: "GET /proof/inclusion", need: auth.LedgerRead, handle: h(s.handleInclusion)},
		{pattern: "GET /proof/consistency", need: auth.LedgerRead, handle: h(s.handleConsistency)},
		{pattern: "POST /exports", need: auth.AdminExport, handle: h(s.handleCreateExport)},
		{pattern: "GET /exports/{id}", need: auth.AdminExport, handle: h(s.handleGetExport)},
		{pattern: "GET /metrics/public", need: auth.AdminMetrics, handle: h(s.handleMetricsPublic)},
		{pattern: "GET /healthz", public: true, handle: h(s.handleHealthz)},
		{pattern: "GET /readyz", public: true, handle: h(s.handleReadyz)},
		{pattern: "GET /log/key", public: true, handle: h(s.handleLogKey)},
	}
	if s.access != nil {
		for pattern, handler := range s.access.Routes {
			rs = append(rs, route{pattern: pattern, public: true, handle: handler})
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
			s.denied("", "invalid token")
			writeUnauthorized(w, newProblem(codeUnauthorized, "the token is not valid: "+err.Error()))
			return
		}
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
