package gateway

import "net/http"

// TenantRequests counts how each tenant's requests fared, for the figures
// metric("gateway.status_5xx_rate") and metric("auth.jwt_invalid_rate")
// of alarm blocks and GET /metrics/public (internal/tenantrates). The
// gateway calls it once per request that a token attributes to a
// tenant, after the answer was written, from the request's goroutine:
// its methods must be safe for concurrent use and fast.
type TenantRequests interface {
	// Served: a request whose token verified for tenant was answered
	// status (403 and 429 included: the token was good).
	Served(tenant string, status int)
	// Refused: a token Verify refused named tenant, unverified
	// (Access.TokenTenant).
	Refused(tenant string)
	// Figures are tenant's figures by their v8 names.
	Figures(tenant string) map[string]float64
}

// How a request's token fared, as the gateway tells TenantRequests.
const (
	tokenNone     uint8 = iota // no token, a public route, or --dev
	tokenVerified              // verified for statusWriter.tenant
	tokenRefused               // refused; it names statusWriter.tenant
)

// noteToken records on the request's statusWriter (the middleware's,
// under any wrappers that unwrap to it) the tenant a token attributes
// the request to, for countTenant.
func noteToken(w http.ResponseWriter, tenant string, how uint8) {
	for w != nil {
		if sw, ok := w.(*statusWriter); ok {
			sw.tenant, sw.token = tenant, how
			return
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return
		}
		w = u.Unwrap()
	}
}

// countTenant tells Config.Requests how the request sw answered fared,
// when its token attributed it to a tenant.
func (s *Server) countTenant(sw *statusWriter) {
	if s.requests == nil || sw.tenant == "" {
		return
	}
	switch sw.token {
	case tokenVerified:
		status := sw.status
		if status == 0 {
			status = http.StatusOK // a handler that wrote nothing answered 200
		}
		s.requests.Served(sw.tenant, status)
	case tokenRefused:
		s.requests.Refused(sw.tenant)
	}
}
