package bench

import (
	"fmt"
	"log/slog"
	"os"
	"runtime/pprof"
	"strings"

	"github.com/spf13/cobra"
)

// EnvTestPG is the environment variable the default of --pg comes from
// (the same URL the PostgreSQL tests use).
const EnvTestPG = "LOGLINE_TEST_PG"

// NewCommand returns `logline bench`. It prints the report as a table, or
// as JSON with --json, and progress on stderr; it exits non-zero (returns
// an error) when a section failed, after printing what it measured.
func NewCommand() *cobra.Command {
	var (
		cfg      Config
		asJSON   bool
		quiet    bool
		memoryMB int64
		cpuProf  string
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure ingest, latency, reads, stream, authentication, validators, the data plane, recovery and memory, on the embedded store and PostgreSQL",
		Long: `Measure LogLine on this machine and print the machine it ran on.

By default bench starts what 'logline serve' runs — the embedded store in a
temporary data directory under --dir, the HTTP gateway on 127.0.0.1, real
fdatasync — inside its own process, and measures over real HTTP:

  * durable NDJSON ingest (spans/s, MB/s) of unsigned spans and of spans
    signed client-side beforehand, next to the raw Ed25519 verify rate;
  * single-span POST /ingest latency p50/p95/p99 at several concurrencies;
  * GET /spans/{id} with random ids, GET /spans pages, GET /ledger/stream;
  * authentication (skip it with --skip auth): a second in-process server
    with LLST bearer tokens and quotas as 'serve' without --dev runs them:
    the unsigned NDJSON ingest again with a token, beside the auth-off
    figure; LLST verifications per second, first time (per core) and
    cached; a noisy tenant driven at 10× its --noisy-limit while a quiet
    tenant posts at --quiet-rate, the quiet tenant's p99 beside its p99
    alone;
  * tenant validators (skip them with --skip validators): a server with
    tenant .lll programs as 'serve' loads them, the NDJSON ingest into a
    tenant whose programs are a policy block only (no validator), one
    with the default canonical_contract_v1 and one with the contract and
    five rules, in interleaved rounds: spans/s of each, the cost of the
    validators (target ≤ 10%), µs per span, Validate alone;
  * the data plane (skip it with --skip dataplane): three servers with
    the data-plane worker as 'serve' runs it — none, one whose tenant has
    features.trajectory off, one with trajectory and diamond on — the
    NDJSON ingest in interleaved rounds, the worker caught up after each
    run: spans/s of each, the cost of trajectories + quality (target
    ≤ 25%), CPU per span, the worker's lag, catch-up rate and derived
    spans per span, derivation alone;
  * peak heap while one large NDJSON body streams in (memory is bounded);
  * reopen time after a crash (torn tail, lagging index), after a clean
    close and with the index lost, on a data directory of --recovery-spans;
  * a signed tenant export of that data directory (logline export): the
    bundle written with every inclusion proof, then verified with the log
    key (skip it with --skip export);
  * with --pg (default $LOGLINE_TEST_PG, an administrator's URL), LogLine
    on PostgreSQL: in-process servers as 'serve --store' runs them, in a
    database logline_bench_<pid> (dropped afterwards): durable NDJSON
    ingest through one node and through two nodes on the database,
    single-span POST latency at 16 clients, the stream, CPU per span of
    LogLine and of PostgreSQL (skip it with --skip pgstore);
  * with --pg, the same spans into PostgreSQL's Blueprint4 table in a
    scratch schema bench_<pid> (dropped afterwards): one INSERT per span,
    multi-row INSERTs, and COPY (skip it with --skip pg).

Spans come from --corpus (default ../shared/corpus/receipt.ndjson, found
from the working directory up; generated spans when absent), cycled with
fresh ids. With --server URL the HTTP sections target a running server
instead (the memory section is then skipped). Every section is bounded in
count and by --phase-timeout.`,
		Example: `  logline bench
  logline bench --spans 50000 --recovery-spans 100000 --skip pg
  logline bench --server http://127.0.0.1:8420 --skip recovery,memory --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.MemoryBytes = memoryMB * 1_000_000
			for i, s := range cfg.Skip {
				cfg.Skip[i] = strings.TrimSpace(s)
			}
			level := slog.LevelInfo
			if quiet {
				level = slog.LevelWarn
			}
			cfg.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			if cpuProf != "" {
				stop, err := startCPUProfile(cpuProf)
				if err != nil {
					return err
				}
				defer stop()
			}
			rep, err := Run(cmd.Context(), cfg)
			if rep.Machine.GoVersion == "" && err != nil {
				return err // nothing was measured
			}
			out := cmd.OutOrStdout()
			var werr error
			if asJSON {
				werr = WriteJSON(out, rep)
			} else {
				werr = WriteTable(out, rep)
			}
			if err != nil {
				return err
			}
			if werr != nil {
				return fmt.Errorf("write the report: %w", werr)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Server, "server", "", "URL of a running LogLine server for the HTTP sections (default: an in-process server)")
	f.StringVar(&cfg.Dir, "dir", "", "parent of the temporary data directories (default: the system temp dir); its filesystem is measured")
	f.BoolVar(&cfg.Keep, "keep", false, "keep the temporary data directories")
	f.StringVar(&cfg.Corpus, "corpus", "", "NDJSON file of spans to cycle (default: ../shared/corpus/receipt.ndjson, else generated spans)")
	f.IntVar(&cfg.Spans, "spans", DefaultSpans, "spans per NDJSON ingest run (unsigned and signed)")
	f.IntVar(&cfg.Clients, "clients", DefaultClients, "concurrent NDJSON clients (and PostgreSQL connections for batched INSERT and COPY)")
	f.IntVar(&cfg.Batch, "batch", DefaultBatch, "spans per NDJSON request (and rows per COPY)")
	f.IntVar(&cfg.LatencyRequests, "latency-requests", DefaultLatencyRequests, "single-span POSTs per concurrency level")
	f.IntSliceVar(&cfg.LatencyClients, "latency-clients", DefaultLatencyClients(), "concurrency levels of the latency section")
	f.IntVar(&cfg.ReadRequests, "read-requests", DefaultReadRequests, "GET /spans/{id} requests")
	f.IntVar(&cfg.ReadClients, "read-clients", DefaultReadClients, "concurrent readers")
	f.IntVar(&cfg.QueryPages, "query-pages", DefaultQueryPages, "at most this many GET /spans pages")
	f.IntVar(&cfg.RecoverySpans, "recovery-spans", DefaultRecoverySpans, "spans in the recovery data directory")
	f.Int64Var(&memoryMB, "memory-mb", DefaultMemoryBytes/1_000_000, "size in MB of the large streamed NDJSON body (a tenth of it runs too)")
	f.StringVar(&cfg.PG, "pg", os.Getenv(EnvTestPG), "administrator's PostgreSQL URL for LogLine on PostgreSQL and the baseline (default $"+EnvTestPG+"; empty skips both)")
	f.IntVar(&cfg.PGSpans, "pg-spans", 0, "spans for PostgreSQL multi-row INSERT and COPY (default --spans)")
	f.IntVar(&cfg.PGSingleSpans, "pg-single-spans", DefaultPGSingleSpans, "spans for PostgreSQL one-INSERT-per-span")
	f.IntVar(&cfg.PGConnectSpans, "pg-connect-spans", DefaultPGConnectSpans, "spans for the Blueprint4 loader as written (a connection per span)")
	f.IntVar(&cfg.AuthVerifies, "auth-verifies", DefaultAuthVerifies, "LLST verifications per timed loop (first time and cached)")
	f.Float64Var(&cfg.NoisyLimit, "noisy-limit", DefaultNoisyLimit, "request quota (per second) of the noisy tenant, driven at 10× it")
	f.Float64Var(&cfg.QuietRate, "quiet-rate", DefaultQuietRate, "single-span POSTs per second of the quiet tenant")
	f.DurationVar(&cfg.NeighbourPeriod, "neighbour-period", DefaultNeighbourPeriod, "how long the quiet tenant posts alone, and again beside the noisy one (in halves: alone, beside, alone, beside)")
	f.DurationVar(&cfg.PhaseTimeout, "phase-timeout", DefaultPhaseTimeout, "time limit of each section")
	f.StringSliceVar(&cfg.Skip, "skip", nil, "sections to skip: "+strings.Join(Sections(), ", "))
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	f.BoolVarP(&quiet, "quiet", "q", false, "no progress on stderr")
	f.StringVar(&cpuProf, "cpuprofile", "", "write a CPU profile of the bench process (client and in-process servers) to this file (go tool pprof)")
	return cmd
}

// startCPUProfile profiles the whole run into path; stop ends the profile
// and closes the file.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile %s: %w", path, err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "cpu profile %s: %v\n", path, err)
		}
	}, nil
}
