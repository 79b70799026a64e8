package gateway

import (
	"net/http"
	"strconv"

	"github.com/logline/logline/internal/auth"
	"github.com/logline/logline/internal/auth/quota"
)

// handleOpenAPI serves GET /openapi.yaml: the OpenAPI 3.1 document of
// this server, from Config.OpenAPI. The route is public: without an
// Authorization header it is the built-in document; with one, the token
// must verify (401 otherwise, as on every guarded route: never a silent
// downgrade to the anonymous document) and the document is that of the
// token's tenant, with its entity schemas. No capability is needed.
func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	tenant := ""
	if s.access != nil && len(r.Header.Values("Authorization")) > 0 {
		p, ok := s.optionalPrincipal(w, r)
		if !ok {
			return
		}
		tenant = p.Tenant
	}
	if s.openAPI == nil {
		writeProblem(w, notImplemented("an OpenAPI document"))
		return
	}
	doc, err := s.openAPI(tenant)
	if err != nil {
		s.log.ErrorContext(r.Context(), "gateway: building the OpenAPI document", "tenant", tenant, "err", err)
		writeProblem(w, newProblem(codeInternal, internalErrorDetail))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/yaml")
	h.Set("Content-Length", strconv.Itoa(len(doc)))
	h.Set("Cache-Control", "no-cache")
	h.Set("Vary", "Authorization")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(doc)
}

// optionalPrincipal authenticates a request to a public route that
// carries an Authorization header, as guard does for the routes that
// need a token (less the capability check): a malformed header or a
// token that does not verify is 401, an exhausted request quota 429 —
// each written, reported to Access.Denied, and ok false.
func (s *Server) optionalPrincipal(w http.ResponseWriter, r *http.Request) (p *auth.Principal, ok bool) {
	a := s.access
	token, perr := bearerToken(r)
	if perr != nil {
		s.denied("", "malformed Authorization header")
		writeUnauthorized(w, perr)
		return nil, false
	}
	p, err := a.Verify(r.Context(), token)
	if err != nil {
		s.denied("", "invalid token")
		writeUnauthorized(w, newProblem(codeUnauthorized, "the token is not valid: "+err.Error()))
		return nil, false
	}
	if a.Quotas != nil {
		if d := a.Quotas.Allow(p.Tenant, quotaRole(p), quota.Cost{Requests: 1}); !d.OK {
			s.denied(p.Tenant, "quota "+d.Dimension)
			quota.WriteTooMany(w, d)
			return nil, false
		}
	}
	return p, true
}
