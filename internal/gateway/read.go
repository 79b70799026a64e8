package gateway

import (
	"net/http"
	"strconv"
)

// handleGet serves GET /spans/{id}: the stored entry byte for byte.
func (s *Server) handleGet(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	p, err := parseParams(r.URL.RawQuery)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	tenant, err := p.tenant(false)
	if err == nil {
		tenant, err = scopeTenant(r.Context(), tenant)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	seq := int64(-1)
	if _, ok, _ := p.get("seq"); ok {
		n, err := p.uint("seq", 0)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if n > 1<<53 {
			s.writeError(w, r, paramProblem(codeInvalidParameter, "seq", "seq is out of range"))
			return
		}
		seq = int64(n)
	}
	if !validToken(id) {
		writeProblem(w, newProblem(codeNotFound, "no span with that id"))
		return
	}
	e, err := s.store.Get(r.Context(), tenant, id, seq)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(e.Line)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(e.Line)
}

// handleQuery serves GET /spans: one page of raw entries and the cursor of
// the next page. Entries are written as stored, never re-marshalled.
func (s *Server) handleQuery(w http.ResponseWriter, r *http.Request) {
	q, err := parseQuery(r.URL.RawQuery, principalOf(r.Context()) == nil)
	if err == nil {
		q.Tenant, err = scopeTenant(r.Context(), q.Tenant)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	page, err := s.store.Query(r.Context(), q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	n := 32 + len(page.Next)
	for _, e := range page.Entries {
		n += len(e.Line) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, `{"spans":[`...)
	for i, e := range page.Entries {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, e.Line...)
	}
	b = append(b, ']')
	if page.Next != "" {
		b = append(b, `,"next_cursor":`...)
		b = appendJSONString(b, page.Next)
	}
	b = append(b, "}\n"...)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}
