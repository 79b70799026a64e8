package bench

import "time"

// Report is the outcome of Run. Sections that were skipped carry a Skipped
// reason; sections that failed carry Error. Rates are per wall-clock
// second, MB are 10^6 bytes, latencies are milliseconds.
type Report struct {
	Started time.Time `json:"started"`
	Seconds float64   `json:"seconds"`
	// Target is "in-process" or the --server URL the HTTP sections used.
	Target string     `json:"target"`
	Corpus CorpusInfo `json:"corpus"`

	Machine  Machine      `json:"machine"`
	Ingest   []Throughput `json:"ingest"` // "unsigned", "signed"
	Verify   VerifyRate   `json:"verify"`
	Latency  []Latency    `json:"latency"` // one per concurrency level
	Reads    Reads        `json:"reads"`
	Stream   Throughput   `json:"stream"`
	Auth     Auth         `json:"auth"`
	Recovery Recovery     `json:"recovery"`
	Proofs   Proofs       `json:"proofs"`
	Export   Export       `json:"export"`
	Memory   MemoryReport `json:"memory"`
	PGStore  PGStore      `json:"pg_store"` // LogLine on PostgreSQL
	Postgres Postgres     `json:"postgres"`

	// Validators is the cost of tenant .lll validators on ingest.
	Validators Validators `json:"validators"`
	// DataPlane is the cost of trajectories and quality on ingest, and
	// the data-plane worker's speed.
	DataPlane DataPlane `json:"dataplane"`

	// Checks compares the results with the targets of issue 2 ("Speed").
	Checks []Check `json:"checks"`
	// Notes explain how things were measured and what was left out.
	Notes []string `json:"notes,omitempty"`
}

// CorpusInfo says where the spans came from.
type CorpusInfo struct {
	Source    string  `json:"source"` // file path, or "generated"
	Templates int     `json:"templates"`
	Skipped   int     `json:"skipped,omitempty"` // corpus lines that did not decode
	AvgBytes  float64 `json:"avg_span_bytes"`    // unsigned span as sent
	Signed    float64 `json:"avg_signed_span_bytes,omitempty"`
}

// Machine describes where the benchmark ran.
type Machine struct {
	CPU         string `json:"cpu"`
	Cores       int    `json:"cores"`
	GOMAXPROCS  int    `json:"gomaxprocs"`
	MemoryBytes uint64 `json:"memory_bytes"`
	GoVersion   string `json:"go_version"`
	OS          string `json:"os"`
	Kernel      string `json:"kernel"`
	DataDir     string `json:"data_dir"`
	Filesystem  string `json:"filesystem"` // type, device and mount options when known
	// Fdatasync is the latency of a small write plus fdatasync on the
	// data directory's filesystem (FsyncSamples of them).
	FdatasyncP50 float64 `json:"fdatasync_p50_ms"`
	FdatasyncP99 float64 `json:"fdatasync_p99_ms"`
	FsyncSamples int     `json:"fdatasync_samples"`
	// Load averages (1, 5, 15 min) when the run started and ended: other
	// work on the machine skews every figure.
	LoadStart string `json:"load_average_start,omitempty"`
	LoadEnd   string `json:"load_average_end,omitempty"`
	// OtherCPUShare is the part of all cores' time that other processes
	// used while the LogLine sections ran (machine through recovery; the
	// PostgreSQL server is another process, so its section is left out):
	// 0 on a quiet machine. -1 when unknown.
	OtherCPUShare float64 `json:"other_cpu_share"`
}

// Throughput is one bulk transfer: NDJSON ingest, the stream, a
// memory-bounded ingest.
type Throughput struct {
	Name        string  `json:"name"`
	Spans       int     `json:"spans"`
	Bytes       int64   `json:"bytes"`
	Seconds     float64 `json:"seconds"`
	SpansPerSec float64 `json:"spans_per_sec"`
	MBPerSec    float64 `json:"mb_per_sec"`
	Clients     int     `json:"clients,omitempty"`
	Batch       int     `json:"batch,omitempty"`
	// Partial is set when the time limit stopped the section early.
	Partial bool   `json:"partial,omitempty"`
	Skipped string `json:"skipped,omitempty"`
	Error   string `json:"error,omitempty"`
}

// VerifyRate is the raw Ed25519 verification rate: the ceiling of signed
// ingest.
type VerifyRate struct {
	SingleCorePerSec float64 `json:"single_core_per_sec"` // one goroutine, ed25519.Verify loop
	Cores            int     `json:"cores"`
	// ReferencePerSec is SingleCorePerSec × Cores: "the raw verify rate
	// of all cores".
	ReferencePerSec float64 `json:"reference_per_sec"`
	// ParallelPerSec is measured with GOMAXPROCS goroutines at once.
	ParallelPerSec float64 `json:"parallel_per_sec"`
	// SignedIngestShare is signed NDJSON ingest ÷ ReferencePerSec.
	SignedIngestShare float64 `json:"signed_ingest_share"`
	// SignPerSec is client-side span.Sign throughput (all cores), the
	// cost of preparing the signed spans; not part of any ingest figure.
	SignPerSec float64 `json:"client_sign_per_sec"`
}

// Latency is single-span POST /ingest (or GET /spans/{id}) at one
// concurrency level.
type Latency struct {
	Clients  int     `json:"clients"`
	Requests int     `json:"requests"`
	Seconds  float64 `json:"seconds"`
	PerSec   float64 `json:"per_sec"`
	P50      float64 `json:"p50_ms"`
	P95      float64 `json:"p95_ms"`
	P99      float64 `json:"p99_ms"`
	Max      float64 `json:"max_ms"`
	Partial  bool    `json:"partial,omitempty"`
	Error    string  `json:"error,omitempty"`
}

// Reads covers GET /spans/{id} with random ids and GET /spans pages.
type Reads struct {
	Get             Latency `json:"get"`
	Pages           int     `json:"query_pages"`
	PageSize        int     `json:"query_page_size"`
	PageSpans       int     `json:"query_spans"`
	PageSeconds     float64 `json:"query_seconds"`
	PagesPerSec     float64 `json:"query_pages_per_sec"`
	PageSpansPerSec float64 `json:"query_spans_per_sec"`
	PagePartial     bool    `json:"query_partial,omitempty"`
	Skipped         string  `json:"skipped,omitempty"`
	Error           string  `json:"error,omitempty"`
}

// Recovery times segment.Open on a data directory of Spans entries.
type Recovery struct {
	Spans            int     `json:"spans"`
	Segments         int     `json:"segments"`
	SegmentBytes     int64   `json:"segment_bytes"`
	IndexBytes       int64   `json:"index_bytes"`
	BuildSeconds     float64 `json:"build_seconds"`
	BuildSpansPerSec float64 `json:"build_spans_per_sec"` // segment.Store.Append directly
	// CleanReopenSeconds: Open after a clean Close.
	CleanReopenSeconds float64 `json:"clean_reopen_seconds"`
	// CrashReopenSeconds: Open after a simulated crash — a torn partial
	// line at the end of the last segment, and an index that lags the
	// segments by IndexLag entries (its unsynced writes lost).
	CrashReopenSeconds float64 `json:"crash_reopen_seconds"`
	IndexLag           int     `json:"index_lag_spans"`
	TornBytes          int     `json:"torn_bytes"`
	// RebuildSeconds: Open with the whole index deleted (full rebuild).
	RebuildSeconds float64 `json:"rebuild_seconds"`
	Skipped        string  `json:"skipped,omitempty"`
	Error          string  `json:"error,omitempty"`
}

// MemoryReport shows the heap while one large NDJSON body streams in,
// next to a body a tenth of its size: bounded memory means the peaks are
// about the same.
type MemoryReport struct {
	Runs    []MemoryRun `json:"runs"`
	Skipped string      `json:"skipped,omitempty"`
	Error   string      `json:"error,omitempty"`
}

// MemoryRun is one streamed ingest with the process heap sampled.
type MemoryRun struct {
	BodyBytes   int64   `json:"body_bytes"`
	Spans       int     `json:"spans"`
	Seconds     float64 `json:"seconds"`
	SpansPerSec float64 `json:"spans_per_sec"`
	MBPerSec    float64 `json:"mb_per_sec"`
	// Heap figures come from runtime/metrics, sampled every few ms.
	BaselineHeapBytes uint64 `json:"baseline_heap_bytes"` // heap objects after GC, before the ingest
	PeakHeapBytes     uint64 `json:"peak_heap_bytes"`     // /memory/classes/heap/objects:bytes
	PeakGoBytes       uint64 `json:"peak_go_bytes"`       // /memory/classes/total:bytes − released
	Partial           bool   `json:"partial,omitempty"`
}

// PGServer describes the PostgreSQL server a section ran on.
type PGServer struct {
	Server            string `json:"server,omitempty"` // version()
	SynchronousCommit string `json:"synchronous_commit,omitempty"`
	Fsync             string `json:"fsync,omitempty"`
}

// Postgres is the baseline: the same spans into the Blueprint4 table.
type Postgres struct {
	PGServer
	Schema  string  `json:"schema,omitempty"`
	Runs    []PGRun `json:"runs,omitempty"`
	Skipped string  `json:"skipped,omitempty"`
	Error   string  `json:"error,omitempty"`
}

// PGRun is one insert method into one table variant.
type PGRun struct {
	Table       string  `json:"table"`
	Method      string  `json:"method"`
	Connections int     `json:"connections"`
	Spans       int     `json:"spans"`
	Seconds     float64 `json:"seconds"`
	SpansPerSec float64 `json:"spans_per_sec"`
	Partial     bool    `json:"partial,omitempty"`
	Error       string  `json:"error,omitempty"`
}

// Check is one target of issue 2 and whether this run met it.
type Check struct {
	Name   string `json:"name"`
	Target string `json:"target"`
	Got    string `json:"got"`
	OK     bool   `json:"ok"`
}
