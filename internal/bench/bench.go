package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/logline/logline/internal/ledger/segment"
	"github.com/logline/logline/internal/span"
)

// Defaults for the zero values of Config.
const (
	DefaultSpans           = 200_000
	DefaultClients         = 4
	DefaultBatch           = 5000
	DefaultLatencyRequests = 3000
	DefaultReadRequests    = 20_000
	DefaultReadClients     = 16
	DefaultQueryPages      = 200
	DefaultQueryPageSize   = 1000
	DefaultRecoverySpans   = 1_000_000
	DefaultMemoryBytes     = 500_000_000
	DefaultPGSingleSpans   = 20_000
	DefaultPGConnectSpans  = 2_000
	DefaultPhaseTimeout    = 5 * time.Minute
	DefaultVerifyDuration  = 2 * time.Second
)

// DefaultLatencyClients are the concurrency levels of the single-span
// POST latency section.
func DefaultLatencyClients() []int { return []int{1, 16, 64} }

// Sections that Config.Skip can name. Ingest, the verify rate and the
// machine always run.
const (
	SectionLatency  = "latency"
	SectionReads    = "reads"
	SectionStream   = "stream"
	SectionMemory   = "memory"
	SectionRecovery = "recovery"
	SectionExport   = "export"
	SectionPG       = "pg"      // the raw Blueprint4 baseline
	SectionPGStore  = "pgstore" // LogLine on PostgreSQL
	SectionAuth     = "auth"    // a server with LLST tokens and quotas

	// SectionValidators: tenant .lll validators on ingest.
	SectionValidators = "validators"
	// SectionDataPlane: the data-plane worker (trajectories, quality)
	// beside ingest.
	SectionDataPlane = "dataplane"
)

// Sections lists every section Config.Skip accepts.
func Sections() []string {
	return []string{SectionLatency, SectionReads, SectionStream, SectionAuth, SectionValidators, SectionDataPlane, SectionMemory, SectionRecovery, SectionExport, SectionPG, SectionPGStore}
}

// pgLatencyClients is the concurrency of single-span POSTs through a
// PostgreSQL node.
const pgLatencyClients = 16

// Config sizes a benchmark run. The zero value runs the full benchmark on
// an in-process server, without the PostgreSQL baseline.
type Config struct {
	// Server is the URL of a running LogLine server for the HTTP
	// sections; "" starts one in-process on 127.0.0.1 (the memory
	// section needs that and is skipped otherwise).
	Server string
	// Dir holds the temporary data directories (default os.TempDir());
	// its filesystem is the one described and measured.
	Dir string
	// Keep leaves the temporary directories in place.
	Keep bool
	// Corpus is an NDJSON file of spans, cycled with fresh ids; "" finds
	// ../shared/corpus/receipt.ndjson from the working directory up, and
	// falls back to generated spans when there is none.
	Corpus string

	Spans           int   // spans per NDJSON ingest (unsigned and signed)
	Clients         int   // concurrent NDJSON clients
	Batch           int   // spans per NDJSON request
	LatencyRequests int   // single-span POSTs per concurrency level
	LatencyClients  []int // concurrency levels
	ReadRequests    int   // GET /spans/{id} requests
	ReadClients     int   // concurrent readers
	QueryPages      int   // at most this many GET /spans pages
	QueryPageSize   int   // limit of each page
	RecoverySpans   int   // entries of the recovery data directory
	MemoryBytes     int64 // size of the large streamed body; a tenth of it runs too

	// PG is an administrator's PostgreSQL URL (postgres://…) for LogLine
	// on PostgreSQL (in a database it creates and drops) and the
	// Blueprint4 baseline (in a scratch schema); "" skips both.
	PG             string
	PGSpans        int // multi-row INSERT and COPY; default Spans
	PGSingleSpans  int // one INSERT per span
	PGConnectSpans int // the loader as written (a connection per span)

	// The auth section: LLST verifications per timed loop; the noisy
	// tenant's request quota (it is driven at 10× that); the quiet
	// tenant's rate; how long the quiet tenant posts alone, and again
	// beside the noisy one (each in two interleaved halves).
	AuthVerifies    int
	NoisyLimit      float64
	QuietRate       float64
	NeighbourPeriod time.Duration

	// PhaseTimeout bounds each section (and each PostgreSQL run) in time.
	PhaseTimeout time.Duration
	// VerifyDuration is how long each Ed25519 verify loop runs.
	VerifyDuration time.Duration

	// Skip names sections not to run (see Sections).
	Skip []string
	// Logger gets progress; nil discards it. The in-process server logs
	// only warnings to it.
	Logger *slog.Logger
}

func (c *Config) fill() error {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Spans, DefaultSpans)
	def(&c.Clients, DefaultClients)
	def(&c.Batch, DefaultBatch)
	def(&c.LatencyRequests, DefaultLatencyRequests)
	def(&c.ReadRequests, DefaultReadRequests)
	def(&c.ReadClients, DefaultReadClients)
	def(&c.QueryPages, DefaultQueryPages)
	def(&c.QueryPageSize, DefaultQueryPageSize)
	def(&c.RecoverySpans, DefaultRecoverySpans)
	def(&c.PGSpans, c.Spans)
	def(&c.PGSingleSpans, DefaultPGSingleSpans)
	def(&c.PGConnectSpans, DefaultPGConnectSpans)
	def(&c.AuthVerifies, DefaultAuthVerifies)
	if c.NoisyLimit == 0 {
		c.NoisyLimit = DefaultNoisyLimit
	}
	if c.QuietRate == 0 {
		c.QuietRate = DefaultQuietRate
	}
	if c.NeighbourPeriod == 0 {
		c.NeighbourPeriod = DefaultNeighbourPeriod
	}
	if c.MemoryBytes == 0 {
		c.MemoryBytes = DefaultMemoryBytes
	}
	if len(c.LatencyClients) == 0 {
		c.LatencyClients = DefaultLatencyClients()
	}
	if c.PhaseTimeout == 0 {
		c.PhaseTimeout = DefaultPhaseTimeout
	}
	if c.VerifyDuration == 0 {
		c.VerifyDuration = DefaultVerifyDuration
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Dir == "" {
		c.Dir = os.TempDir()
	}
	for _, v := range []int{c.Spans, c.Clients, c.Batch, c.LatencyRequests, c.ReadRequests, c.ReadClients,
		c.QueryPages, c.QueryPageSize, c.RecoverySpans, c.PGSpans, c.PGSingleSpans, c.PGConnectSpans, c.AuthVerifies} {
		if v < 0 {
			return errors.New("bench: negative size in Config")
		}
	}
	if c.MemoryBytes < 0 || c.PhaseTimeout < 0 || c.VerifyDuration < 0 || c.NeighbourPeriod < 0 || !(c.NoisyLimit > 0) || !(c.QuietRate > 0) {
		return errors.New("bench: negative size in Config")
	}
	if c.RecoverySpans < recoveryIndexLagShare {
		return fmt.Errorf("bench: RecoverySpans must be at least %d", recoveryIndexLagShare)
	}
	if c.QueryPageSize > 1000 {
		return errors.New("bench: QueryPageSize is at most 1000 (the server's maximum)")
	}
	for _, n := range c.LatencyClients {
		if n <= 0 {
			return errors.New("bench: LatencyClients must be positive")
		}
	}
	for _, s := range c.Skip {
		if !slices.Contains(Sections(), s) {
			return fmt.Errorf("bench: unknown section %q to skip (known: %s)", s, strings.Join(Sections(), ", "))
		}
	}
	if c.Server != "" {
		u, err := url.Parse(c.Server)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("bench: server URL %q: want http://HOST:PORT", c.Server)
		}
		c.Server = strings.TrimSuffix(u.Scheme+"://"+u.Host+u.Path, "/")
	}
	return nil
}

func (c *Config) skip(section string) bool { return slices.Contains(c.Skip, section) }

// pgSkip says why a PostgreSQL section does not run ("" when it does).
func (c *Config) pgSkip(section string) string {
	switch {
	case c.skip(section):
		return "skipped"
	case c.PG == "":
		return "no PostgreSQL URL (--pg or LOGLINE_TEST_PG)"
	}
	return ""
}

// Run runs the benchmark. It returns the report of every section it ran,
// and the failures joined; a failed section does not stop the others
// unless they need its result.
func Run(ctx context.Context, cfg Config) (rep Report, err error) {
	rep = Report{Started: time.Now().UTC(), Target: "in-process"}
	if err := cfg.fill(); err != nil {
		return rep, err
	}
	defer func() {
		rep.Seconds = sinceSecs(rep.Started)
		rep.Machine.LoadEnd = loadAverage()
	}()
	log := cfg.Logger
	var errs []error
	fail := func(section string, err error) string {
		errs = append(errs, fmt.Errorf("%s: %w", section, err))
		log.Error("bench: "+section+" failed", "err", err)
		return err.Error()
	}

	work, err := os.MkdirTemp(cfg.Dir, "logline-bench-")
	if err != nil {
		return rep, fmt.Errorf("bench: work directory: %w", err)
	}
	if cfg.Keep {
		log.Info("bench: keeping the data directories", "dir", work)
	} else {
		defer os.RemoveAll(work)
	}

	// Spans.
	path := cfg.Corpus
	if path == "" {
		if path = findCorpus(); path == "" {
			rep.Notes = append(rep.Notes, "corpus "+DefaultCorpus+" not found: spans are generated")
		}
	}
	c, err := loadCorpus(path)
	if err != nil {
		return rep, fmt.Errorf("bench: %w", err)
	}
	rep.Corpus = CorpusInfo{Source: c.source, Templates: len(c.tmpl), Skipped: c.skipped}
	d := newIDs()

	// Machine and the raw verify rate, before anything else loads the CPU.
	cpuStart, okStart := readCPUTimes()
	log.Info("bench: machine")
	rep.Machine, err = describeMachine(work)
	rep.Machine.OtherCPUShare = -1
	if err != nil {
		fail("machine", err)
	}
	log.Info("bench: raw Ed25519 verify rate")
	single, parallel := verifyRates(cfg.VerifyDuration)
	rep.Verify = VerifyRate{SingleCorePerSec: single, ParallelPerSec: parallel, Cores: runtime.NumCPU()}
	rep.Verify.ReferencePerSec = single * float64(rep.Verify.Cores)

	// The server.
	t := &target{hc: newHTTPClient()}
	defer t.hc.CloseIdleConnections()
	var local *localServer
	if cfg.Server == "" {
		quiet := slog.New(levelHandler{log.Handler(), slog.LevelWarn})
		local, err = startLocal(ctx, filepath.Join(work, "data"), 0, quiet)
		if err != nil {
			return rep, fmt.Errorf("bench: start the server: %w", err)
		}
		defer func() {
			if local != nil {
				local.Close()
			}
		}()
		t.base = local.url
	} else {
		t.base = cfg.Server
		rep.Target = cfg.Server
	}
	if _, err := t.get(ctx, "/readyz"); err != nil {
		return rep, fmt.Errorf("bench: server at %s not ready: %w", t.base, err)
	}

	// NDJSON ingest: unsigned, then client-signed.
	unsignedStored := 0
	{
		log.Info("bench: NDJSON ingest, unsigned", "spans", cfg.Spans, "clients", cfg.Clients, "batch", cfg.Batch)
		bodies, total, _, err := makeBodies(ctx, c, d, "u", cfg.Spans, cfg.Batch, nil)
		if err != nil {
			return rep, fmt.Errorf("bench: make spans: %w", err)
		}
		rep.Corpus.AvgBytes = float64(total) / float64(cfg.Spans)
		res, prefix := ingestBodies(ctx, t, "unsigned", bodies, cfg.Clients, cfg.Batch, time.Now().Add(cfg.PhaseTimeout))
		if res.Error != "" {
			fail("ingest unsigned", errors.New(res.Error))
		}
		unsignedStored = prefix
		rep.Ingest = append(rep.Ingest, res)
	}
	{
		kp, err := span.GenerateKey(nil)
		if err != nil {
			return rep, err
		}
		log.Info("bench: signing spans client-side", "spans", cfg.Spans)
		bodies, total, signSecs, err := makeBodies(ctx, c, d, "s", cfg.Spans, cfg.Batch, &kp)
		if err != nil {
			return rep, fmt.Errorf("bench: make signed spans: %w", err)
		}
		rep.Corpus.Signed = float64(total) / float64(cfg.Spans)
		rep.Verify.SignPerSec = rate(float64(cfg.Spans), signSecs)
		log.Info("bench: NDJSON ingest, signed", "spans", cfg.Spans)
		res, _ := ingestBodies(ctx, t, "signed", bodies, cfg.Clients, cfg.Batch, time.Now().Add(cfg.PhaseTimeout))
		if res.Error != "" {
			fail("ingest signed", errors.New(res.Error))
		}
		rep.Ingest = append(rep.Ingest, res)
		rep.Verify.SignedIngestShare = rate(res.SpansPerSec, rep.Verify.ReferencePerSec)
	}
	runtime.GC()

	// Single-span latency.
	if !cfg.skip(SectionLatency) {
		for _, n := range cfg.LatencyClients {
			log.Info("bench: single-span POST latency", "clients", n, "requests", cfg.LatencyRequests)
			l := ingestLatency(ctx, t, c, d, n, cfg.LatencyRequests, time.Now().Add(cfg.PhaseTimeout))
			if l.Error != "" {
				fail(fmt.Sprintf("latency at %d clients", n), errors.New(l.Error))
			}
			rep.Latency = append(rep.Latency, l)
		}
	}

	// Reads.
	switch {
	case cfg.skip(SectionReads):
		rep.Reads.Skipped = "skipped"
	case unsignedStored == 0:
		rep.Reads.Skipped = "no spans were stored to read"
	default:
		log.Info("bench: reads", "gets", cfg.ReadRequests, "pages", cfg.QueryPages)
		deadline := time.Now().Add(cfg.PhaseTimeout)
		rep.Reads.Get = randomGets(ctx, t, c, d, "u", unsignedStored, cfg.ReadClients, cfg.ReadRequests, deadline)
		if rep.Reads.Get.Error != "" {
			rep.Reads.Error = fail("reads", errors.New(rep.Reads.Get.Error))
		} else if err := queryPages(ctx, t, c.tenant(0), cfg.QueryPageSize, cfg.QueryPages, deadline, &rep.Reads); err != nil {
			rep.Reads.Error = fail("query pages", err)
		}
	}

	// Stream.
	if cfg.skip(SectionStream) {
		rep.Stream = Throughput{Name: "stream", Skipped: "skipped"}
	} else {
		log.Info("bench: stream from cursor 0")
		rep.Stream = streamAll(ctx, t, time.Now().Add(cfg.PhaseTimeout))
		if rep.Stream.Error != "" {
			fail("stream", errors.New(rep.Stream.Error))
		}
	}
	t.hc.CloseIdleConnections()
	if local != nil {
		err := local.Close()
		local = nil
		if err != nil {
			fail("close the server", err)
		}
	}
	runtime.GC()

	// Authentication on: a second in-process server.
	switch {
	case cfg.skip(SectionAuth):
		rep.Auth.Skipped = "skipped"
	case cfg.Server != "":
		rep.Auth.Skipped = "needs the in-process server (its auth-off ingest is the comparison)"
	default:
		rep.Auth, err = measureAuth(ctx, c, d, authOptions{
			Work: work, Spans: cfg.Spans, Clients: cfg.Clients, Batch: cfg.Batch,
			Verifies: cfg.AuthVerifies, NoisyLimit: cfg.NoisyLimit, QuietRate: cfg.QuietRate, Period: cfg.NeighbourPeriod,
			Timeout: cfg.PhaseTimeout, Log: log, ServerLog: slog.New(levelHandler{log.Handler(), slog.LevelWarn}),
		})
		if err != nil {
			rep.Auth.Error = fail("auth", err)
		}
		if !cfg.Keep {
			_ = os.RemoveAll(filepath.Join(work, "auth"))
			_ = os.RemoveAll(filepath.Join(work, "auth-off"))
		}
		runtime.GC()
	}

	// Tenant validators on ingest: a server with tenant programs.
	switch {
	case cfg.skip(SectionValidators):
		rep.Validators.Skipped = "skipped"
	case cfg.Server != "":
		rep.Validators.Skipped = "needs the in-process server (it writes the tenants' programs into its data directory)"
	default:
		rep.Validators, err = measureValidators(ctx, c, d, validatorsOptions{
			Work: work, Spans: cfg.Spans, Clients: cfg.Clients, Batch: cfg.Batch, Timeout: cfg.PhaseTimeout,
			Log: log, ServerLog: slog.New(levelHandler{log.Handler(), slog.LevelWarn}),
		})
		if err != nil {
			rep.Validators.Error = fail("validators", err)
		}
		if !cfg.Keep {
			for _, k := range valVariants {
				_ = os.RemoveAll(filepath.Join(work, "validators-"+k))
			}
		}
		runtime.GC()
	}

	// The data plane beside ingest: servers with the worker.
	switch {
	case cfg.skip(SectionDataPlane):
		rep.DataPlane.Skipped = "skipped"
	case cfg.Server != "":
		rep.DataPlane.Skipped = "needs the in-process server (it writes the tenant's configuration into its data directory and runs the worker beside it)"
	default:
		rep.DataPlane, err = measureDataPlane(ctx, c, d, dataPlaneOptions{
			Work: work, Spans: cfg.Spans, Clients: cfg.Clients, Batch: cfg.Batch, Timeout: cfg.PhaseTimeout,
			Log: log, ServerLog: slog.New(levelHandler{log.Handler(), slog.LevelWarn}),
		})
		if err != nil {
			rep.DataPlane.Error = fail("dataplane", err)
		}
		if !cfg.Keep {
			for _, k := range dpVariants {
				_ = os.RemoveAll(filepath.Join(work, "dataplane-"+k))
			}
		}
		runtime.GC()
	}

	// Memory under a large streamed body.
	switch {
	case cfg.skip(SectionMemory):
		rep.Memory.Skipped = "skipped"
	case cfg.Server != "":
		rep.Memory.Skipped = "needs the in-process server (the heap of a remote server is not observable from here)"
	default:
		sizes := []int64{cfg.MemoryBytes / 10, cfg.MemoryBytes}
		log.Info("bench: memory during streamed NDJSON ingest", "bytes", sizes)
		quiet := slog.New(levelHandler{log.Handler(), slog.LevelWarn})
		runs, err := memoryRuns(ctx, work, c, d, sizes, time.Now().Add(cfg.PhaseTimeout), quiet)
		rep.Memory.Runs = runs
		if err != nil {
			rep.Memory.Error = fail("memory", err)
		}
		if !cfg.Keep {
			for k := range sizes {
				_ = os.RemoveAll(filepath.Join(work, fmt.Sprintf("memory-%d", k)))
			}
		}
	}

	// Recovery.
	if cfg.skip(SectionRecovery) {
		rep.Recovery.Skipped = "skipped"
		rep.Proofs.Skipped = "skipped with the recovery section (it proves against that data)"
		rep.Export.Skipped = "skipped with the recovery section (it exports that data)"
	} else {
		log.Info("bench: recovery", "spans", cfg.RecoverySpans)
		quiet := slog.New(levelHandler{log.Handler(), slog.LevelError})
		dir := filepath.Join(work, "recovery")
		rep.Recovery, err = measureRecovery(ctx, dir, c, d, cfg.RecoverySpans, time.Now().Add(cfg.PhaseTimeout), quiet)
		if err != nil {
			rep.Recovery.Error = fail("recovery", err)
			rep.Proofs.Skipped = "the recovery data could not be built"
			rep.Export.Skipped = "the recovery data could not be built"
		} else {
			log.Info("bench: proof generation", "entries", cfg.RecoverySpans)
			if rep.Proofs, err = measureProofs(ctx, segment.Config{Dir: dir, Logger: quiet}); err != nil {
				rep.Proofs.Error = fail("proofs", err)
			}
			if cfg.skip(SectionExport) {
				rep.Export.Skipped = "skipped"
			} else {
				log.Info("bench: tenant export and verify", "tenant", c.tenant(0), "entries", cfg.RecoverySpans)
				if rep.Export, err = measureExport(ctx, segment.Config{Dir: dir, Logger: quiet}, work, c.tenant(0)); err != nil {
					rep.Export.Error = fail("export", err)
				}
			}
		}
		if !cfg.Keep {
			_ = os.RemoveAll(dir)
		}
	}

	cpuEnd, okEnd := readCPUTimes()
	rep.Machine.OtherCPUShare = otherCPUShare(cpuStart, cpuEnd, okStart, okEnd)

	// PostgreSQL: LogLine on it, then the raw baseline.
	pgDone := func(what, skipped string, err error) string {
		switch {
		case errors.Is(err, errUnreachable):
			log.Warn("bench: "+what+" skipped", "why", skipped)
		case err != nil:
			return fail(what, err)
		}
		return ""
	}
	if rep.PGStore.Skipped = cfg.pgSkip(SectionPGStore); rep.PGStore.Skipped == "" {
		rep.PGStore, err = measurePGStore(ctx, c, d, pgStoreOptions{
			URL: cfg.PG, Work: work, Spans: cfg.Spans, Clients: cfg.Clients, Batch: cfg.Batch,
			LatencyClients: pgLatencyClients, LatencyRequests: cfg.LatencyRequests, Timeout: cfg.PhaseTimeout,
			Log: log, ServerLog: slog.New(levelHandler{log.Handler(), slog.LevelWarn}),
		})
		rep.PGStore.Error = pgDone("LogLine on PostgreSQL", rep.PGStore.Skipped, err)
	}
	if rep.Postgres.Skipped = cfg.pgSkip(SectionPG); rep.Postgres.Skipped == "" {
		log.Info("bench: PostgreSQL baseline", "spans", cfg.PGSpans, "single", cfg.PGSingleSpans, "connect", cfg.PGConnectSpans)
		rep.Postgres, err = pgBaseline(ctx, c, d, pgOptions{
			URL: cfg.PG, Spans: cfg.PGSpans, SingleSpans: cfg.PGSingleSpans, ConnectSpans: cfg.PGConnectSpans,
			Conns: cfg.Clients, CopyBatch: cfg.Batch, Timeout: cfg.PhaseTimeout,
		})
		rep.Postgres.Error = pgDone("postgres", rep.Postgres.Skipped, err)
	}

	rep.Checks = checks(&rep)
	rep.Notes = append(rep.Notes, notes(&rep, cfg)...)
	return rep, errors.Join(errs...)
}

// levelHandler drops records below its level (the in-process server's
// info logs would drown the progress lines).
type levelHandler struct {
	slog.Handler
	min slog.Level
}

func (h levelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h levelHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return levelHandler{h.Handler.WithAttrs(as), h.min}
}

func (h levelHandler) WithGroup(name string) slog.Handler {
	return levelHandler{h.Handler.WithGroup(name), h.min}
}
