package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/logline/logline/internal/export"
	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/span"
)

// Signed tenant exports (docs/http-api.md, "Exports"; the bundle format is
// docs/exports.md): POST /exports writes a bundle into the exports
// directory and names it; GET /exports/{id} serves it.

// Exports configures the export routes.
type Exports struct {
	// Dir is the directory the bundles are kept in (data/exports),
	// created if missing.
	Dir string
	// Origin is the log's name. Signer returns the key that signs
	// manifests: the log key, the one that signs checkpoints (named
	// Origin). It must be safe for concurrent use.
	Origin string
	Signer func() note.Signer
}

// maxExportRequestBytes bounds the body of POST /exports.
const maxExportRequestBytes = 64 << 10

// exportSource is the store and its prover as export.Write reads them.
type exportSource struct {
	ledger.Store
	ledger.Prover
}

// exportRequest is the body of POST /exports.
type exportRequest struct {
	tenant       string
	since, until time.Time
}

// exportCreated is the answer of POST /exports.
type exportCreated struct {
	ID             string `json:"id"`
	Href           string `json:"href"`
	Bytes          int64  `json:"bytes"`
	Entries        uint64 `json:"entries"`
	CheckpointSize uint64 `json:"checkpoint_size"`
}

// handleCreateExport serves POST /exports.
func (s *Server) handleCreateExport(w http.ResponseWriter, r *http.Request) {
	if s.exports == nil || s.prover == nil {
		writeProblem(w, notImplemented("exports"))
		return
	}
	if ingestModeOf(r.Header.Get("Content-Type")) != modeSingle {
		writeProblem(w, newProblem(codeUnsupportedMedia, "POST /exports takes application/json"))
		return
	}
	req, err := parseExportRequest(http.MaxBytesReader(w, r.Body, maxExportRequestBytes))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if pr := principalOf(r.Context()); pr != nil {
		if req.tenant != "" && req.tenant != pr.Tenant {
			writeProblem(w, newProblem(codeTenantMismatch,
				fmt.Sprintf("the export's tenant %q is not the token's tenant", req.tenant)).withPointer("/tenant"))
			return
		}
		req.tenant = pr.Tenant
	}
	if req.tenant == "" {
		writeProblem(w, newProblem(codeMissingParameter, "tenant is required").withParameter("tenant").withPointer("/tenant"))
		return
	}
	cp := s.prover.Checkpoint()
	if cp.Note == nil {
		writeProblem(w, newProblem(codeUnavailable, "the log has no signed checkpoint (no signing key)"))
		return
	}
	if s.isStopping() {
		writeProblem(w, newProblem(codeUnavailable, shuttingDownDetail))
		return
	}
	// An export ends (and leaves no file) when the server shuts down.
	s.begin()
	defer s.end()
	ctx, cancel := s.stoppable(r.Context())
	defer cancel()
	c, err := s.exports.Create(ctx, exportSource{s.store, s.prover}, export.Options{
		Tenant: req.tenant, Since: req.since, Until: req.until, Checkpoint: cp,
		Origin: s.exportOrigin, Signer: s.exportSigner(),
	})
	if err != nil {
		if s.isStopping() && r.Context().Err() == nil {
			err = errShuttingDown
		}
		s.writeError(w, r, err)
		return
	}
	if s.usage != nil {
		s.usage.AddExportBytes(req.tenant, uint64(c.Bytes))
	}
	href := "/exports/" + c.ID
	body, _ := json.Marshal(exportCreated{ID: c.ID, Href: href, Bytes: c.Bytes, Entries: c.Manifest.Entries, CheckpointSize: cp.Size})
	body = append(body, '\n')
	h := w.Header()
	h.Set("Location", href)
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write(body)
}

// parseExportRequest decodes {"tenant":T,"since":S,"until":U} strictly:
// one JSON object, members named exactly so (each at most once), tenant
// required, since and until RFC 3339 with offset or null.
func parseExportRequest(body io.Reader) (exportRequest, error) {
	var req exportRequest
	data, err := io.ReadAll(body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return req, newProblem(codeBodyTooLarge, "the request body is larger than "+strconv.Itoa(maxExportRequestBytes)+" bytes")
		}
		return req, newProblem(codeBadRequest, "the request body could not be read")
	}
	malformed := func(detail string) error { return newProblem(span.CodeMalformedJSON, detail) }
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return req, malformed(`want a JSON object {"tenant":…,"since":…,"until":…}`)
	}
	seen := map[string]bool{}
	var tenant *string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return req, malformed("not JSON: " + err.Error())
		}
		name := tok.(string) // object keys are strings
		var dst **string
		switch name {
		case "tenant":
			dst = &tenant
		case "since", "until":
			dst = new(*string)
		default:
			return req, newProblem(span.CodeUnknownField, "unknown member "+strconv.Quote(name)+"; known: tenant, since, until").withPointer("/" + name)
		}
		if seen[name] {
			return req, newProblem(span.CodeDuplicateKey, name+" is given twice").withPointer("/" + name)
		}
		seen[name] = true
		if err := dec.Decode(dst); err != nil {
			return req, exportParamProblem(name, name+" must be a string")
		}
		if name == "tenant" {
			continue
		}
		if *dst == nil { // null: unbounded
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, **dst)
		if err != nil {
			return req, exportParamProblem(name, name+" must be an RFC 3339 timestamp with offset, got "+strconv.Quote(**dst))
		}
		if name == "since" {
			req.since = t
		} else {
			req.until = t
		}
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return req, malformed("not JSON: " + err.Error())
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return req, malformed("data after the JSON object")
	}
	switch {
	case tenant == nil || *tenant == "":
		return req, nil // the token's tenant, required without one (handleCreateExport)
	case !span.ValidTenant(*tenant):
		return req, exportParamProblem("tenant", "tenant must match [a-z0-9_-]{1,64}")
	case !req.since.IsZero() && !req.until.IsZero() && !req.until.After(req.since):
		return req, exportParamProblem("until", "until must be after since")
	}
	req.tenant = *tenant
	return req, nil
}

func exportParamProblem(name, detail string) *Problem {
	return paramProblem(codeInvalidParameter, name, detail).withPointer("/" + name)
}

// handleGetExport serves GET /exports/{id}: the bundle, with ranges.
func (s *Server) handleGetExport(w http.ResponseWriter, r *http.Request) {
	if s.exports == nil {
		writeProblem(w, notImplemented("exports"))
		return
	}
	id := r.PathValue("id")
	if pr := principalOf(r.Context()); pr != nil {
		// Another tenant's export does not exist for this token.
		tenant, err := s.exports.Tenant(id)
		if err == nil && tenant != pr.Tenant {
			err = export.ErrNotFound
		}
		if errors.Is(err, export.ErrNotFound) {
			writeProblem(w, notFoundProblem("export"))
			return
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	f, err := s.exports.Open(id)
	if errors.Is(err, export.ErrNotFound) {
		writeProblem(w, newProblem(codeNotFound, "no export with that id"))
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/x-ndjson")
	h.Set("ETag", `"`+id+`"`) // a bundle never changes
	h.Set("Cache-Control", "private, max-age=31536000, immutable")
	h.Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, id+".ndjson", st.ModTime(), f)
}
