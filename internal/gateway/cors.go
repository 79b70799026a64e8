package gateway

import (
	"net/http"
	"strconv"
)

// CORS: only the origins in Config.CORSOrigins may call the API from a
// browser. The API authenticates with bearer tokens, never cookies, so
// credentials are not allowed cross-origin; a preflight from an origin
// not listed gets 403 and no CORS headers.
const (
	corsMethods = "GET, POST"
	corsHeaders = "Authorization, Content-Type, X-Idempotency-Key, Last-Event-ID"
	corsExpose  = "Location, Retry-After, Logline-Next-Cursor"
	corsMaxAge  = 600 // seconds a browser may cache a preflight
)

func (s *Server) cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Add("Vary", "Origin")
		allowed := s.corsOrigins[origin]
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			if !allowed {
				writeProblem(w, newProblem(codeForbidden, "cross-origin requests from "+strconv.Quote(origin)+" are not allowed (serve --cors-origin)"))
				return
			}
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Methods", corsMethods)
			h.Set("Access-Control-Allow-Headers", corsHeaders)
			h.Set("Access-Control-Max-Age", strconv.Itoa(corsMaxAge))
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if allowed {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Expose-Headers", corsExpose)
		}
		next.ServeHTTP(w, r)
	})
}
