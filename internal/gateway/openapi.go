package gateway

import (
	"net/http"
	"strconv"
)

// handleOpenAPI serves GET /openapi.yaml: the OpenAPI 3.1 document of
// this server, from Config.OpenAPI.
func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	if s.openAPI == nil {
		writeProblem(w, notImplemented("an OpenAPI document"))
		return
	}
	doc, err := s.openAPI()
	if err != nil {
		s.log.ErrorContext(r.Context(), "gateway: building the OpenAPI document", "err", err)
		writeProblem(w, newProblem(codeInternal, internalErrorDetail))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/yaml")
	h.Set("Content-Length", strconv.Itoa(len(doc)))
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(doc)
}
