package gateway

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/logline/logline/internal/auth/quota"
)

// handleMetricsPublic serves GET /metrics/public: the canonical usage
// counters (v8 §24: ingest_spans_count, derived_spans_count, exports_gb,
// ws_minutes) of the token's tenant, as
// {"tenants":{"T":{"ingest_spans_count":…,…}}}, and, when the data plane
// runs for it, its figures with the v8 names under "quality"
// ({"quality":{"T":{"quality.p95.current":…,"trajectory.active":…}}}),
// and, when requests are counted by tenant (Config.Requests) and the
// request has a token, the figures of its last five minutes under "requests"
// ({"requests":{"T":{"gateway.status_5xx_rate":…,"auth.jwt_invalid_rate":…}}}).
// Without authentication (--dev) every tenant seen since the server
// started is listed.
func (s *Server) handleMetricsPublic(w http.ResponseWriter, r *http.Request) {
	out := struct {
		Tenants  map[string]quota.Counters     `json:"tenants"`
		Quality  map[string]map[string]float64 `json:"quality,omitempty"`
		Requests map[string]map[string]float64 `json:"requests,omitempty"`
	}{Tenants: map[string]quota.Counters{}}
	p := principalOf(r.Context())
	switch {
	case s.usage == nil:
	case p != nil:
		out.Tenants[p.Tenant] = s.usage.Get(p.Tenant)
	default:
		out.Tenants = s.usage.Snapshot()
	}
	tenants := []string{}
	if p != nil {
		tenants = append(tenants, p.Tenant)
	} else {
		for t := range out.Tenants {
			tenants = append(tenants, t)
		}
	}
	if s.quality != nil {
		for _, t := range tenants {
			if q, ok := s.quality(t); ok {
				if out.Quality == nil {
					out.Quality = map[string]map[string]float64{}
				}
				out.Quality[t] = q
			}
		}
	}
	if s.requests != nil && p != nil {
		// Without authentication no token names a tenant: nothing counted.
		out.Requests = map[string]map[string]float64{p.Tenant: s.requests.Figures(p.Tenant)}
	}
	body, err := json.Marshal(out)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	body = append(body, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}
