// Package gateway serves LogLine's HTTP API for the ledger core: appending
// spans (one JSON span or a streamed NDJSON batch), reading them back by id
// or by query, tailing the log as NDJSON or server-sent events, the
// verification routes (signed checkpoint, log keys, Merkle proofs) and the
// health probes. Every error is an RFC 9457 problem. The wire contract is
// docs/http-api.md; this package codes only against ledger.Store.
package gateway

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/logline/logline/internal/auth/quota"
	"github.com/logline/logline/internal/derive"
	"github.com/logline/logline/internal/export"
	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/metrics"
	"github.com/logline/logline/internal/span"
)

// Defaults for the zero values of Config.
const (
	DefaultMaxBodyBytes       = 32 << 20
	DefaultNDJSONBatch        = 1024
	DefaultStreamWriteTimeout = 10 * time.Second

	// heartbeatInterval is how often an idle SSE stream gets a comment.
	heartbeatInterval = 15 * time.Second
)

// Config configures a Server. Only Store is required; every other zero
// value means the documented default.
type Config struct {
	Store  ledger.Store
	Logger *slog.Logger     // default: slog.Default()
	Now    func() time.Time // default: time.Now; used for server-assigned ids
	Limits span.Limits      // default: span.DefaultLimits
	// MaxBodyBytes bounds one request body (default 32 MiB).
	MaxBodyBytes int64
	// NDJSONBatch is the most spans handed to one Store.Append call while
	// ingesting NDJSON (default 1024).
	NDJSONBatch int
	// DecodeWorkers is how many goroutines decode NDJSON lines of one
	// request in parallel (default GOMAXPROCS).
	DecodeWorkers int
	// StreamWriteTimeout is how long a streaming client may take to accept
	// one chunk before it is cut off (default 10s).
	StreamWriteTimeout time.Duration
	// Ready reports whether the server can take traffic (GET /readyz);
	// nil means ready whenever the process is up.
	Ready func() error
	// Log serves the verification routes (GET /checkpoint,
	// /proof/inclusion, /proof/consistency), normally the same store as
	// Store. nil answers them 501 not_implemented.
	Log ledger.Prover
	// LogKeys returns the log's verifier keys ("name+hash+base64"), the
	// active key first, for GET /log/key. nil answers it 501
	// not_implemented. It must be safe for concurrent use.
	LogKeys func() []string
	// Receipts, when set, gets a copy of every receipt (data/receipts/).
	Receipts ReceiptLog
	// Exports, when set (with Log), serves POST /exports and
	// GET /exports/{id}; nil answers them 501 not_implemented.
	Exports *Exports
	// Access authenticates and authorizes requests (access.go). It is
	// required unless Dev is set: the gateway denies by default.
	Access *Access
	// Dev serves every route without authentication, across tenants
	// (serve --dev on a loopback address, and tests). Access must be nil.
	Dev bool
	// CORSOrigins are the browser origins allowed to call the API, exact
	// ("https://app.example"); none allows no cross-origin calls.
	CORSOrigins []string
	// Validate, when set, runs the span's tenant's validators before every
	// append (validate.go); nil appends without them.
	Validate ValidateFunc
	// Usage, when set, counts each tenant's canonical usage (v8 §24:
	// spans ingested, export bytes) for GET /metrics/public.
	Usage *quota.Usage
	// OpenAPI returns the OpenAPI document served at GET /openapi.yaml
	// (internal/openapi.Build) for tenant: "" for a request without a
	// token (the built-in routes), else the tenant of the request's valid
	// token (its entity schemas too). nil answers it 501 not_implemented.
	// It is called on every request, so it should cache; it must be safe
	// for concurrent use.
	OpenAPI func(tenant string) ([]byte, error)
	// DataPlanePolicy, when set, gives POST /quality/dryrun the
	// data-plane policy of tenant: its program in force with
	// trajectories on (whatever its features.trajectory says: a dry run
	// is how a tenant tries them), and diamond candidates as diamond
	// says, or as the tenant's features.diamond says when diamond is
	// nil. nil answers POST /quality/dryrun 501 not_implemented. It must
	// be safe for concurrent use; each call's Policy is used by one
	// request only.
	DataPlanePolicy func(tenant string, diamond *bool) (*derive.Policy, error)
	// Metrics, when set, measures every request and receipt
	// (metrics_prom.go) and is served at GET /metrics; nil measures
	// nothing and answers GET /metrics 501 not_implemented.
	Metrics *metrics.Registry

	// Quality, when set, gives a tenant's data-plane figures with the v8
	// names (quality.p95.current, trajectory.active, …) for GET
	// /metrics/public; false when the data plane has none for it.
	Quality func(tenant string) (map[string]float64, bool)

	// Requests, when set, counts each tenant's requests by their answer
	// and its refused tokens (rates.go), and gives its figures
	// (gateway.status_5xx_rate, auth.jwt_invalid_rate) for GET
	// /metrics/public. Only requests with a token count: nothing in Dev.
	Requests TenantRequests
}

// Server is the HTTP front of one ledger.Store. Its methods are safe for
// concurrent use.
type Server struct {
	store   ledger.Store
	log     *slog.Logger
	now     func() time.Time
	limits  span.Limits
	maxBody int64
	batch   int
	workers int
	// maxLine is the longest NDJSON line (or single-span body) read into
	// memory: the span limit plus slack for insignificant whitespace.
	maxLine      int
	batchBytes   int
	writeTimeout time.Duration
	heartbeat    time.Duration // idle SSE comment interval (tests shorten it)
	ready        func() error
	prover       ledger.Prover   // nil: verification routes answer 501
	logKeys      func() []string // nil: GET /log/key answers 501
	receiptLog   ReceiptLog      // nil: receipts are not kept
	exports      *export.Dir     // nil: export routes answer 501
	exportOrigin string
	exportSigner func() note.Signer
	access       *Access      // nil in Dev mode
	usage        *quota.Usage // nil: usage is not counted
	quality      func(string) (map[string]float64, bool)
	requests     TenantRequests                      // nil: requests are not counted by tenant
	validateFn   ValidateFunc                        // nil: no validators
	openAPI      func(tenant string) ([]byte, error) // nil: GET /openapi.yaml answers 501
	metrics      *metrics.Registry                   // nil: nothing is measured, GET /metrics answers 501
	httpMetrics  *metrics.HTTP                       // metrics.HTTP(), or nil
	corsOrigins  map[string]bool
	handler      http.Handler

	// dryRunPolicy is Config.DataPlanePolicy; nil: POST /quality/dryrun
	// answers 501.
	dryRunPolicy func(tenant string, diamond *bool) (*derive.Policy, error)

	idMu  sync.Mutex    // guards newID, which need not be concurrency-safe
	newID func() string // server-assigned ids: "s_" + ULID

	// stopping is closed by Shutdown; streams and NDJSON ingests watch it.
	stopping chan struct{}
	stopOnce sync.Once
	actMu    sync.Mutex    // guards actN and idle
	actN     int           // streams and NDJSON ingests in flight
	idle     chan struct{} // closed when actN drops to 0; nil when nobody waits
}

var errShuttingDown = errors.New("gateway: shutting down")

// New checks cfg, fills defaults and builds the routes.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("gateway: Config.Store is required")
	}
	switch {
	case cfg.Access == nil && !cfg.Dev:
		return nil, errors.New("gateway: Config.Access is required (or Dev, which turns authentication off)")
	case cfg.Access != nil && cfg.Dev:
		return nil, errors.New("gateway: Config.Access and Dev exclude each other")
	case cfg.Access != nil && cfg.Access.Verify == nil:
		return nil, errors.New("gateway: Config.Access.Verify is required")
	}
	if cfg.Access != nil {
		for pattern := range cfg.Access.Routes {
			if !slices.ContainsFunc(IdentityRoutes(), func(ri RouteInfo) bool { return ri.Pattern == pattern }) {
				return nil, fmt.Errorf("gateway: Config.Access.Routes: %q is not an identity route (declare it in IdentityRoutes)", pattern)
			}
		}
	}
	if cfg.MaxBodyBytes < 0 || cfg.NDJSONBatch < 0 || cfg.DecodeWorkers < 0 || cfg.StreamWriteTimeout < 0 {
		return nil, errors.New("gateway: negative limit in Config")
	}
	s := &Server{
		store:        cfg.Store,
		log:          cfg.Logger,
		now:          cfg.Now,
		limits:       cfg.Limits,
		maxBody:      cfg.MaxBodyBytes,
		batch:        cfg.NDJSONBatch,
		workers:      cfg.DecodeWorkers,
		writeTimeout: cfg.StreamWriteTimeout,
		ready:        cfg.Ready,
		prover:       cfg.Log,
		logKeys:      cfg.LogKeys,
		receiptLog:   cfg.Receipts,
		access:       cfg.Access,
		usage:        cfg.Usage,
		quality:      cfg.Quality,
		requests:     cfg.Requests,
		validateFn:   cfg.Validate,
		openAPI:      cfg.OpenAPI,
		metrics:      cfg.Metrics,
		dryRunPolicy: cfg.DataPlanePolicy,
		stopping:     make(chan struct{}),
	}
	s.corsOrigins = map[string]bool{}
	for _, o := range cfg.CORSOrigins {
		if o == "*" || o == "" || strings.HasSuffix(o, "/") {
			return nil, fmt.Errorf("gateway: CORS origin %q: give exact origins such as https://app.example (no wildcard, no path)", o)
		}
		s.corsOrigins[o] = true
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.limits.MaxSpanBytes <= 0 {
		s.limits.MaxSpanBytes = span.DefaultLimits.MaxSpanBytes
	}
	if s.limits.MaxDepth <= 0 {
		s.limits.MaxDepth = span.DefaultLimits.MaxDepth
	}
	if s.maxBody == 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	if s.batch == 0 {
		s.batch = DefaultNDJSONBatch
	}
	if s.workers == 0 {
		s.workers = runtime.GOMAXPROCS(0)
	}
	if s.writeTimeout == 0 {
		s.writeTimeout = DefaultStreamWriteTimeout
	}
	if s.metrics != nil {
		s.httpMetrics = s.metrics.HTTP()
	}
	s.heartbeat = heartbeatInterval
	s.maxLine = maxLineFor(s.limits.MaxSpanBytes)
	s.batchBytes = max(4<<20, 4*s.maxLine)
	s.newID = span.NewIDGenerator(s.now, rand.Reader)
	if e := cfg.Exports; e != nil {
		if e.Signer == nil {
			return nil, errors.New("gateway: Config.Exports.Signer is required")
		}
		dir, err := export.OpenDir(export.DirConfig{Path: e.Dir, Now: s.now})
		if err != nil {
			return nil, fmt.Errorf("gateway: %w", err)
		}
		s.exports, s.exportOrigin, s.exportSigner = dir, e.Origin, e.Signer
	}
	h, err := s.routes()
	if err != nil {
		return nil, err
	}
	s.handler = h
	return s, nil
}

// maxLineFor is the span limit plus a quarter for whitespace a client may
// put around and inside a span (the span package measures the span itself).
func maxLineFor(maxSpan int) int { return maxSpan + maxSpan/4 + 2 }

// Handler returns the HTTP handler serving every route.
func (s *Server) Handler() http.Handler { return s.handler }

// Shutdown makes the gateway wind down long-lived work, then waits for it
// to end or for ctx. Call it together with http.Server.Shutdown (for
// example from http.Server.RegisterOnShutdown): that call stops accepting
// connections and waits for in-flight requests, but it never interrupts a
// stream that follows the log, so without this it would wait forever.
//
// After Shutdown: streams end at a chunk boundary with their resume cursor
// (trailer Logline-Next-Cursor, SSE event "cutoff"); an NDJSON ingest stops
// reading at once (even from a stalled client), answers every complete line
// it has read and ends with a summary carrying an "unavailable" error;
// single-span appends already in Store.Append complete (Append is
// synchronous and durable); an export being written stops, leaves no
// file and answers 503; /readyz answers 503; other new requests are
// still served until the http.Server stops accepting them. The gateway
// never closes the Store: its owner does, after Shutdown. Shutdown may be
// called more than once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() { close(s.stopping) })
	s.actMu.Lock()
	if s.actN == 0 {
		s.actMu.Unlock()
		return nil
	}
	if s.idle == nil {
		s.idle = make(chan struct{})
	}
	idle := s.idle
	s.actMu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("gateway shutdown: %w", ctx.Err())
	}
}

// begin and end bracket a long-lived request (stream, NDJSON ingest).
func (s *Server) begin() {
	s.actMu.Lock()
	s.actN++
	s.actMu.Unlock()
}

func (s *Server) end() {
	s.actMu.Lock()
	s.actN--
	if s.actN == 0 && s.idle != nil {
		close(s.idle)
		s.idle = nil
	}
	s.actMu.Unlock()
}

// isStopping reports whether Shutdown was called.
func (s *Server) isStopping() bool {
	select {
	case <-s.stopping:
		return true
	default:
		return false
	}
}

// stoppable returns a context canceled with ctx or when Shutdown begins,
// for work that must end at a clean point before the store closes.
func (s *Server) stoppable(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-s.stopping:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// nextID returns a fresh server-assigned id.
func (s *Server) nextID() string {
	s.idMu.Lock()
	defer s.idMu.Unlock()
	return s.newID()
}

func (s *Server) routes() (http.Handler, error) {
	rs := s.routeTable()
	if err := checkRoutes(rs); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	for _, rt := range rs {
		mux.Handle(rt.pattern, s.guard(rt))
	}
	return s.middleware(s.cors(problemFallback(mux))), nil
}

func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte("ok\n"))
}

func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	if s.ready != nil {
		if err := s.ready(); err != nil {
			s.log.InfoContext(r.Context(), "gateway: not ready", "err", err)
			writeProblem(w, newProblem(codeUnavailable, "not ready"))
			return
		}
	}
	if s.isStopping() {
		writeProblem(w, newProblem(codeUnavailable, shuttingDownDetail))
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte("ok\n"))
}

// problemFallback turns the mux's own plain-text 404 and 405 answers into
// problems, keeping the Allow header of a 405.
func problemFallback(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(&fallbackWriter{ResponseWriter: w, r: r}, r)
	})
}

// fallbackWriter replaces the body of the mux's fallback answers.
type fallbackWriter struct {
	http.ResponseWriter
	r       *http.Request
	wrote   bool
	replace bool
}

func (f *fallbackWriter) WriteHeader(code int) {
	if f.wrote {
		return
	}
	f.wrote = true
	var p *Problem
	switch code {
	case http.StatusNotFound:
		p = newProblem(codeUnknownRoute, "no route for "+f.r.URL.Path)
	case http.StatusMethodNotAllowed:
		p = newProblem(codeMethodNotAllowed, "method "+f.r.Method+" is not allowed on "+f.r.URL.Path+"; allowed: "+f.Header().Get("Allow"))
	default:
		f.ResponseWriter.WriteHeader(code)
		return
	}
	f.replace = true
	writeProblem(f.ResponseWriter, p)
}

func (f *fallbackWriter) Write(b []byte) (int, error) {
	if !f.wrote {
		f.WriteHeader(http.StatusOK)
	}
	if f.replace {
		return len(b), nil
	}
	return f.ResponseWriter.Write(b)
}

// statusWriter records the status for the request log, and the tenant
// the request's token attributes it to (noteToken). Unwrap lets
// http.ResponseController reach the connection (Flush, deadlines, full
// duplex) through it.
type statusWriter struct {
	http.ResponseWriter
	status int
	tenant string // "" when no token named one
	token  uint8  // tokenNone, tokenVerified or tokenRefused
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// middleware logs every request at Debug, measures it (Config.Metrics)
// and turns a handler panic into a 500 problem instead of a dropped
// connection (when nothing was sent yet; otherwise the response is
// aborted).
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		s.measureStart()
		defer func() { // runs last, also while an abort panic unwinds
			s.measureDone(r, sw.status, start)
			s.countTenant(sw)
			if s.log.Enabled(r.Context(), slog.LevelDebug) {
				s.log.LogAttrs(r.Context(), slog.LevelDebug, "http request",
					slog.String("method", r.Method), slog.String("path", r.URL.Path),
					slog.Int("status", sw.status), slog.Duration("duration", time.Since(start)))
			}
		}()
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.ErrorContext(r.Context(), "gateway: handler panic",
				"method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
			if sw.status != 0 {
				// Part of the answer is out: break the connection so the
				// client cannot take it for a complete response.
				panic(http.ErrAbortHandler)
			}
			writeProblem(sw, newProblem(codeInternal, internalErrorDetail))
		}()
		next.ServeHTTP(sw, r)
	})
}
