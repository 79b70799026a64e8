package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/logline/logline/internal/span"
)

// testLogger sends progress to the test log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestRunSmall runs every section except PostgreSQL with tiny sizes and
// checks that each one is filled in and sane.
func TestRunSmall(t *testing.T) {
	cfg := Config{
		Dir:             t.TempDir(),
		Spans:           2000,
		Clients:         4,
		Batch:           500,
		LatencyRequests: 200,
		LatencyClients:  []int{1, 16, 64},
		ReadRequests:    300,
		ReadClients:     8,
		QueryPages:      3,
		QueryPageSize:   100,
		RecoverySpans:   5000,
		MemoryBytes:     4_000_000,
		VerifyDuration:  100 * time.Millisecond,
		AuthVerifies:    200,
		NoisyLimit:      50,
		QuietRate:       50,
		NeighbourPeriod: 400 * time.Millisecond,
		PhaseTimeout:    2 * time.Minute,
		Skip:            []string{SectionPG},
		Logger:          testLogger(t),
	}
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}

	m := rep.Machine
	if m.Cores <= 0 || m.GOMAXPROCS <= 0 || m.GoVersion == "" || m.OS == "" || m.DataDir == "" {
		t.Errorf("machine incomplete: %+v", m)
	}
	if m.OtherCPUShare < -1 || m.OtherCPUShare > 1 || (runtime.GOOS == "linux" && (m.OtherCPUShare < 0 || m.LoadStart == "" || m.LoadEnd == "" || m.CPU == "" || m.Filesystem == "" || m.MemoryBytes == 0)) {
		t.Errorf("machine: %+v", m)
	}
	if m.FsyncSamples != fsyncSamples || m.FdatasyncP50 <= 0 || m.FdatasyncP50 > m.FdatasyncP99 {
		t.Errorf("fdatasync: p50 %v p99 %v samples %d", m.FdatasyncP50, m.FdatasyncP99, m.FsyncSamples)
	}
	if rep.Corpus.Templates == 0 || rep.Corpus.AvgBytes <= 0 || rep.Corpus.Signed <= rep.Corpus.AvgBytes {
		t.Errorf("corpus: %+v", rep.Corpus)
	}

	if len(rep.Ingest) != 2 {
		t.Fatalf("got %d ingest results, want 2", len(rep.Ingest))
	}
	for _, in := range rep.Ingest {
		if in.Spans != cfg.Spans || in.SpansPerSec <= 0 || in.MBPerSec <= 0 || in.Bytes <= 0 || in.Partial || in.Error != "" {
			t.Errorf("ingest %s: %+v", in.Name, in)
		}
	}
	v := rep.Verify
	if v.SingleCorePerSec <= 0 || v.ParallelPerSec <= 0 || v.Cores <= 0 || v.ReferencePerSec != v.SingleCorePerSec*float64(v.Cores) ||
		v.SignedIngestShare <= 0 || v.SignPerSec <= 0 {
		t.Errorf("verify: %+v", v)
	}

	if len(rep.Latency) != len(cfg.LatencyClients) {
		t.Fatalf("got %d latency levels, want %d", len(rep.Latency), len(cfg.LatencyClients))
	}
	for i, l := range rep.Latency {
		if l.Clients != cfg.LatencyClients[i] {
			t.Errorf("latency level %d: clients %d, want %d", i, l.Clients, cfg.LatencyClients[i])
		}
		checkLatency(t, fmt.Sprintf("POST at %d clients", l.Clients), l, cfg.LatencyRequests)
	}

	r := rep.Reads
	if r.Skipped != "" || r.Error != "" {
		t.Fatalf("reads: %+v", r)
	}
	checkLatency(t, "GET /spans/{id}", r.Get, cfg.ReadRequests)
	if r.Pages != cfg.QueryPages || r.PageSpans != cfg.QueryPages*cfg.QueryPageSize || r.PageSpansPerSec <= 0 || r.PagesPerSec <= 0 {
		t.Errorf("query pages: %+v", r)
	}

	// Everything stored over HTTP comes back on the stream.
	wantStream := 2 * cfg.Spans
	for _, l := range cfg.LatencyClients {
		wantStream += cfg.LatencyRequests + l // plus the warm-up
	}
	if s := rep.Stream; s.Spans != wantStream || s.SpansPerSec <= 0 || s.MBPerSec <= 0 || s.Error != "" || s.Partial {
		t.Errorf("stream: got %+v, want %d entries", s, wantStream)
	}

	checkAuth(t, rep.Auth, cfg)
	checkValidators(t, rep.Validators, cfg)
	checkDataPlane(t, rep.DataPlane, cfg)

	rc := rep.Recovery
	if rc.Error != "" || rc.Skipped != "" || rc.Spans != cfg.RecoverySpans || rc.Segments < 1 || rc.SegmentBytes <= 0 || rc.IndexBytes <= 0 ||
		rc.BuildSeconds <= 0 || rc.CleanReopenSeconds <= 0 || rc.CrashReopenSeconds <= 0 || rc.RebuildSeconds <= 0 ||
		rc.IndexLag != cfg.RecoverySpans/10 || rc.TornBytes <= 0 {
		t.Errorf("recovery: %+v", rc)
	}
	// The corpus has one tenant: the export holds every recovery entry.
	if x := rep.Export; x.Error != "" || x.Skipped != "" || x.Entries == 0 || x.Entries > uint64(cfg.RecoverySpans) || x.Bytes <= 0 ||
		x.WriteEntriesPerSec <= 0 || x.VerifyEntriesPerSec <= 0 {
		t.Errorf("export: %+v", x)
	}

	mem := rep.Memory
	if mem.Error != "" || mem.Skipped != "" || len(mem.Runs) != 2 {
		t.Fatalf("memory: %+v", mem)
	}
	for i, run := range mem.Runs {
		want := []int64{cfg.MemoryBytes / 10, cfg.MemoryBytes}[i]
		if run.BodyBytes < want || run.Spans <= 0 || run.SpansPerSec <= 0 || run.PeakHeapBytes == 0 || run.PeakGoBytes < run.PeakHeapBytes || run.Partial {
			t.Errorf("memory run %d: %+v", i, run)
		}
	}

	if rep.Postgres.Skipped != "skipped" {
		t.Errorf("postgres: got skipped %q, want it skipped", rep.Postgres.Skipped)
	}
	if len(rep.Checks) < 4 {
		t.Errorf("got %d checks, want at least 4: %+v", len(rep.Checks), rep.Checks)
	}

	var table bytes.Buffer
	if err := WriteTable(&table, rep); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"MACHINE", "NDJSON INGEST", "SINGLE-SPAN POST", "READS", "AUTH", "RECOVERY", "MEMORY", "POSTGRESQL", "TARGETS"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q", want)
		}
	}
	var js bytes.Buffer
	if err := WriteJSON(&js, rep); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.Ingest[0].Spans != cfg.Spans {
		t.Errorf("JSON report does not round-trip: %v", err)
	}
	t.Logf("\n%s", table.String())
}

func checkLatency(t *testing.T, what string, l Latency, n int) {
	t.Helper()
	if l.Error != "" || l.Partial {
		t.Errorf("%s: %+v", what, l)
		return
	}
	if l.Requests != n {
		t.Errorf("%s: %d requests, want %d", what, l.Requests, n)
	}
	if l.PerSec <= 0 || l.P50 <= 0 || l.P50 > l.P95 || l.P95 > l.P99 || l.P99 > l.Max {
		t.Errorf("%s: want 0 < p50 ≤ p95 ≤ p99 ≤ max, got %+v", what, l)
	}
}

func TestPercentile(t *testing.T) {
	d := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 5}, {0.95, 10}, {0.99, 10}, {0.1, 1}, {0.11, 2}, {1, 10}} {
		if got := percentile(d, tc.q); got != tc.want {
			t.Errorf("percentile(1..10, %v): got %v, want %v", tc.q, got, tc.want)
		}
	}
	if got := percentile(nil, 0.5); got != 0 {
		t.Errorf("percentile(nil): got %v, want 0", got)
	}
}

// TestCorpus checks that cycled corpus spans decode, get the fresh ids,
// and that signed ones verify.
func TestCorpus(t *testing.T) {
	for _, tc := range []struct {
		name, path string
	}{{"file", findCorpus()}, {"generated", ""}} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "file" && tc.path == "" {
				t.Skip("corpus not found")
			}
			c, err := loadCorpus(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			d := newIDs()
			kp, err := span.GenerateKey(nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, signed := range []bool{false, true} {
				var k *span.KeyPair
				if signed {
					k = &kp
				}
				bodies, _, _, err := makeBodies(context.Background(), c, d, "t", 250, 100, k)
				if err != nil {
					t.Fatal(err)
				}
				if len(bodies) != 3 || bodies[2].lines != 50 {
					t.Fatalf("got %d bodies (last %d lines), want 3 (last 50)", len(bodies), bodies[len(bodies)-1].lines)
				}
				i := 0
				for _, b := range bodies {
					for line := range bytes.Lines(b.data) {
						sp, err := span.Decode(bytes.TrimSuffix(line, []byte("\n")), span.DecodeOptions{})
						if err != nil {
							t.Fatalf("span %d: %v", i, err)
						}
						if want := d.id("t", i); sp.ID != want {
							t.Errorf("span %d: id %q, want %q", i, sp.ID, want)
						}
						if sp.Signed != signed || sp.Tenant != c.tenant(i) {
							t.Errorf("span %d: signed %v tenant %q, want %v %q", i, sp.Signed, sp.Tenant, signed, c.tenant(i))
						}
						i++
					}
				}
			}
			g := &genReader{c: c, d: d, kind: "g", limit: 10_000}
			var buf bytes.Buffer
			if _, err := buf.ReadFrom(g); err != nil {
				t.Fatal(err)
			}
			if int64(buf.Len()) != g.n || g.n < 10_000 || bytes.Count(buf.Bytes(), []byte("\n")) != g.spans {
				t.Errorf("genReader: %d bytes, %d spans, n %d", buf.Len(), g.spans, g.n)
			}
		})
	}
}

// TestCommand runs `bench` through cobra with tiny sizes and --json.
func TestCommand(t *testing.T) {
	cmd := NewCommand()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs([]string{
		"--dir", t.TempDir(), "--spans", "300", "--batch", "100", "--latency-requests", "20",
		"--latency-clients", "1,4", "--read-requests", "50", "--query-pages", "2",
		"--recovery-spans", "500", "--memory-mb", "1", "--skip", "pg", "--phase-timeout", "1m", "--json", "-q",
		"--auth-verifies", "50", "--neighbour-period", "300ms", "--noisy-limit", "20", "--quiet-rate", "20",
	})
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("bench: %v\n%s", err, errOut.String())
	}
	var rep Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out.String())
	}
	if len(rep.Ingest) != 2 || rep.Ingest[0].Spans != 300 || len(rep.Latency) != 2 || rep.Latency[1].Clients != 4 ||
		rep.Recovery.Spans != 500 || len(rep.Memory.Runs) != 2 || rep.Postgres.Skipped != "skipped" ||
		rep.Auth.Verify.Verifies != 50 || rep.Auth.Neighbour.QuietRate != 20 || rep.Auth.Neighbour.Seconds != 0.3 {
		t.Errorf("report does not follow the flags: %s", out.String())
	}
	if errOut.Len() != 0 {
		t.Errorf("-q printed progress: %s", errOut.String())
	}
}
