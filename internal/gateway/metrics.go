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
// {"tenants":{"T":{"ingest_spans_count":…,…}}}. Without authentication
// (--dev) every tenant seen since the server started is listed.
func (s *Server) handleMetricsPublic(w http.ResponseWriter, r *http.Request) {
	out := struct {
		Tenants map[string]quota.Counters `json:"tenants"`
	}{Tenants: map[string]quota.Counters{}}
	switch p := principalOf(r.Context()); {
	case s.usage == nil:
	case p != nil:
		out.Tenants[p.Tenant] = s.usage.Get(p.Tenant)
	default:
		out.Tenants = s.usage.Snapshot()
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
