package gateway

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/tlog"
)

// Verification routes (docs/http-api.md, "Verification"): the latest signed
// checkpoint, the log's verifier keys, and RFC 6962 inclusion and
// consistency proofs. The wire forms are those of internal/tlog (which this
// package may not import; proof_test.go checks that the bytes agree).

// Response headers naming the tree a proof refers to: its size and its
// root (standard base64). A client checks the proof against the root of a
// checkpoint it verified, never against these headers alone.
const (
	headerCheckpointSize = "Logline-Checkpoint-Size"
	headerCheckpointRoot = "Logline-Checkpoint-Root"
)

// notImplemented is the answer of a verification route on a server built
// without Config.Log (or Config.LogKeys).
func notImplemented(what string) *Problem {
	return newProblem(codeNotImplemented, "this server does not serve "+what)
}

// handleCheckpoint serves GET /checkpoint: the latest signed checkpoint,
// the C2SP signed note exactly as the log signed it.
func (s *Server) handleCheckpoint(w http.ResponseWriter, r *http.Request) {
	if s.prover == nil {
		writeProblem(w, notImplemented("checkpoints"))
		return
	}
	cp := s.prover.Checkpoint()
	if cp.Note == nil {
		writeProblem(w, newProblem(codeUnavailable, "the log has no signed checkpoint (no signing key)"))
		return
	}
	h := w.Header()
	setTreeHeaders(h, cp.Size, cp.Root)
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(cp.Note)))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(cp.Note)
}

// handleLogKey serves GET /log/key: the verifier keys, one per line, the
// active key first.
func (s *Server) handleLogKey(w http.ResponseWriter, r *http.Request) {
	if s.logKeys == nil {
		writeProblem(w, notImplemented("log keys"))
		return
	}
	keys := s.logKeys()
	if len(keys) == 0 {
		writeProblem(w, newProblem(codeUnavailable, "the log has no signing key"))
		return
	}
	var b []byte
	for _, k := range keys {
		b = append(append(b, k...), '\n')
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("Cache-Control", "no-cache") // changes only on a key rotation
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// inclusionParams are the inputs of GET /proof/inclusion: a log index, or a
// span (id, tenant, seq) whose log index is proved.
type inclusionParams struct {
	index   uint64
	size    uint64
	hasSize bool   // false: the latest checkpoint's size
	id      string // "" when index is given
	tenant  string
	seq     int64 // -1: the latest version
}

func parseInclusion(rawQuery string) (inclusionParams, error) {
	ip := inclusionParams{seq: -1}
	p, err := parseParams(rawQuery)
	if err != nil {
		return ip, err
	}
	rawIndex, hasIndex, err := p.get("index")
	if err != nil {
		return ip, err
	}
	if ip.id, err = p.str("id"); err != nil {
		return ip, err
	}
	switch {
	case hasIndex && ip.id != "":
		return ip, paramProblem(codeInvalidParameter, "id", "give index or id, not both")
	case ip.id != "":
		if ip.tenant, err = p.tenant(false); err != nil {
			return ip, err
		}
		if ip.seq, err = p.seq(); err != nil {
			return ip, err
		}
	case !hasIndex || rawIndex == "":
		return ip, paramProblem(codeMissingParameter, "index", "the index parameter (or id) is required")
	default:
		if ip.index, err = parseUint("index", rawIndex); err != nil {
			return ip, err
		}
		for _, name := range []string{"tenant", "seq"} {
			if _, ok, _ := p.get(name); ok {
				return ip, paramProblem(codeInvalidParameter, name, name+" only applies with id")
			}
		}
	}
	rawSize, hasSize, err := p.get("size")
	if err != nil {
		return ip, err
	}
	if hasSize && rawSize != "" {
		if ip.size, err = parseUint("size", rawSize); err != nil {
			return ip, err
		}
		ip.hasSize = true
	}
	return ip, nil
}

// handleInclusion serves GET /proof/inclusion.
func (s *Server) handleInclusion(w http.ResponseWriter, r *http.Request) {
	if s.prover == nil {
		writeProblem(w, notImplemented("proofs"))
		return
	}
	ip, err := parseInclusion(r.URL.RawQuery)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx := r.Context()
	if ip.id != "" {
		if !validToken(ip.id) {
			writeProblem(w, newProblem(codeNotFound, "no span with that id"))
			return
		}
		// By id, a token finds its own tenant's spans only.
		tenant, err := scopeTenant(ctx, ip.tenant)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		e, err := s.store.Get(ctx, tenant, ip.id, ip.seq)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		ip.index = e.LogIndex
	}
	cp := s.prover.Checkpoint()
	if !ip.hasSize {
		ip.size = cp.Size
	}
	if ip.index >= ip.size {
		name, what := "index", fmt.Sprintf("index %d", ip.index)
		if ip.id != "" {
			name, what = "id", fmt.Sprintf("the span's log index %d", ip.index)
		}
		detail := fmt.Sprintf("%s is not in the tree of size %d", what, ip.size)
		if !ip.hasSize {
			detail += " (the latest checkpoint)"
		}
		s.writeError(w, r, paramProblem(codeOutOfRange, name, detail))
		return
	}
	leaf, hashes, err := s.prover.InclusionProof(ctx, ip.index, ip.size)
	if err != nil {
		s.writeError(w, r, sizeRangeProblem(err, "size", ip.size))
		return
	}
	root, err := s.rootOf(r, cp, ip.size)
	if err != nil {
		s.writeError(w, r, sizeRangeProblem(err, "size", ip.size))
		return
	}
	b, _ := tlog.InclusionProof{Index: ip.index, Size: ip.size, LeafHash: leaf, Hashes: hashes}.MarshalJSON()
	b = append(b, '\n')
	writeProof(w, ip.size, root, b)
}

// handleConsistency serves GET /proof/consistency.
func (s *Server) handleConsistency(w http.ResponseWriter, r *http.Request) {
	if s.prover == nil {
		writeProblem(w, notImplemented("proofs"))
		return
	}
	p, err := parseParams(r.URL.RawQuery)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	rawFrom, hasFrom, err := p.get("from")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !hasFrom || rawFrom == "" {
		s.writeError(w, r, paramProblem(codeMissingParameter, "from", "the from parameter is required"))
		return
	}
	from, err := parseUint("from", rawFrom)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	rawTo, hasTo, err := p.get("to")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	cp := s.prover.Checkpoint()
	to := cp.Size
	if hasTo && rawTo != "" {
		if to, err = parseUint("to", rawTo); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	if from > to {
		s.writeError(w, r, paramProblem(codeOutOfRange, "from",
			fmt.Sprintf("from %d is larger than to %d", from, to)))
		return
	}
	hashes, err := s.prover.ConsistencyProof(r.Context(), from, to)
	if err != nil {
		s.writeError(w, r, sizeRangeProblem(err, "to", to))
		return
	}
	root, err := s.rootOf(r, cp, to)
	if err != nil {
		s.writeError(w, r, sizeRangeProblem(err, "to", to))
		return
	}
	b, _ := tlog.ConsistencyProof{From: from, To: to, Hashes: hashes}.MarshalJSON()
	b = append(b, '\n')
	writeProof(w, to, root, b)
}

// rootOf returns the root of the tree of the given size: the checkpoint's
// when the sizes agree, else the store's.
func (s *Server) rootOf(r *http.Request, cp ledger.Checkpoint, size uint64) ([32]byte, error) {
	if size == cp.Size {
		return cp.Root, nil
	}
	return s.prover.TreeHash(r.Context(), size)
}

// sizeRangeProblem turns the store's ledger.ErrRange for a tree larger than
// the log into out_of_range naming the parameter; other errors pass.
func sizeRangeProblem(err error, name string, size uint64) error {
	if !errors.Is(err, ledger.ErrRange) {
		return err
	}
	return paramProblem(codeOutOfRange, name,
		fmt.Sprintf("%s %d is larger than the log", name, size))
}

func setTreeHeaders(h http.Header, size uint64, root [32]byte) {
	h.Set(headerCheckpointSize, strconv.FormatUint(size, 10))
	h.Set(headerCheckpointRoot, base64.StdEncoding.EncodeToString(root[:]))
}

// writeProof sends a proof body (ending in a newline) with the headers
// naming its tree.
func writeProof(w http.ResponseWriter, size uint64, root [32]byte, body []byte) {
	h := w.Header()
	setTreeHeaders(h, size, root)
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}
