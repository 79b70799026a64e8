package gateway

import (
	"net/http"
	"time"
)

// Prometheus metrics (docs/metrics.md). The middleware measures every
// request once, after the handler returned: its route is the ServeMux
// pattern that served it, which the mux records in r.Pattern on the
// request the middleware handed down (cors and problemFallback pass the
// same *http.Request through; guard's WithContext copy comes after the
// mux). A request no route served has no pattern and counts as
// "unmatched".

// measureStart counts a request in flight.
func (s *Server) measureStart() {
	if s.httpMetrics != nil {
		s.httpMetrics.Start()
	}
}

// measureDone records a request measureStart counted.
func (s *Server) measureDone(r *http.Request, status int, start time.Time) {
	if s.httpMetrics != nil {
		s.httpMetrics.Done(r.Pattern, r.Method, status, time.Since(start))
	}
}

// handleMetrics serves GET /metrics: every metric of Config.Metrics in the
// Prometheus text exposition format (server-wide numbers, no tenant
// labels), for a scraper holding a token that grants admin.metrics.
func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	if s.metrics == nil {
		writeProblem(w, newProblem(codeNotImplemented, "this server does not serve Prometheus metrics"))
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	s.metrics.Handler().ServeHTTP(w, r)
}
