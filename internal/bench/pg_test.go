package bench

import (
	"bytes"
	"context"
	"errors"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgURL returns the PostgreSQL URL of the tests. Without one, or with the
// server unreachable (unreachable true), a test fails under CI=true and is
// skipped otherwise.
func pgURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv(EnvTestPG)
	if u == "" {
		pgUnavailable(t, EnvTestPG+" is not set")
	}
	return u
}

func pgUnavailable(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("PostgreSQL is required under CI=true: %s", why)
	}
	t.Skipf("PostgreSQL not available (%s); set %s=postgres://…", why, EnvTestPG)
}

// TestPostgresBaseline runs the baseline with tiny sizes and checks every
// run, the row counts and that the scratch schema is gone afterwards.
func TestPostgresBaseline(t *testing.T) {
	url := pgURL(t)
	c, err := loadCorpus(findCorpus())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	o := pgOptions{URL: url, Spans: 300, SingleSpans: 60, ConnectSpans: 10, Conns: 2, CopyBatch: 70, Timeout: time.Minute}
	res, err := pgBaseline(ctx, c, newIDs(), o)
	if errors.Is(err, errUnreachable) {
		pgUnavailable(t, res.Skipped)
	}
	if err != nil {
		t.Fatalf("pgBaseline: %v", err)
	}
	if res.Skipped != "" || res.Error != "" || res.Server == "" || res.SynchronousCommit == "" {
		t.Fatalf("postgres: %+v", res)
	}
	want := []struct {
		notify bool
		method string
		n      int
	}{
		{true, "loader as written", o.ConnectSpans},
		{true, "INSERT per span", o.SingleSpans},
		{true, "multi-row INSERT", o.Spans},
		{true, "COPY", o.Spans},
		{false, "INSERT per span", o.SingleSpans},
		{false, "multi-row INSERT", o.Spans},
		{false, "COPY", o.Spans},
	}
	if len(res.Runs) != len(want) {
		t.Fatalf("got %d runs, want %d: %+v", len(res.Runs), len(want), res.Runs)
	}
	for i, w := range want {
		r := res.Runs[i]
		if got := strings.Contains(r.Table, "notify triggers"); got != w.notify || !strings.HasPrefix(r.Method, w.method) {
			t.Errorf("run %d: got %q / %q, want notify=%v / %q…", i, r.Table, r.Method, w.notify, w.method)
		}
		if r.Spans != w.n || r.SpansPerSec <= 0 || r.Seconds <= 0 || r.Partial || r.Error != "" {
			t.Errorf("run %d (%s): got %+v, want %d spans", i, r.Method, r, w.n)
		}
	}

	if pgCount(t, url, "SELECT count(*) FROM information_schema.schemata WHERE schema_name = $1", res.Schema) != 0 {
		t.Errorf("scratch schema %s still exists", res.Schema)
	}
	tableHas(t, Report{Postgres: res}, "COPY (pgx CopyFrom)")
}

// TestPostgresUnreachable: a server that is not there is a skip with a
// reason, not a failure of the benchmark.
func TestPostgresUnreachable(t *testing.T) {
	c, err := loadCorpus("")
	if err != nil {
		t.Fatal(err)
	}
	// Port 1 on loopback: nothing listens there.
	res, err := pgBaseline(context.Background(), c, newIDs(), pgOptions{URL: "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2", Spans: 1, Conns: 1, CopyBatch: 1, Timeout: time.Second})
	if !errors.Is(err, errUnreachable) || res.Skipped == "" {
		t.Errorf("got err %v, skipped %q; want errUnreachable and a reason", err, res.Skipped)
	}
}

// TestPGStoreSection runs LogLine on PostgreSQL with tiny sizes: both
// ingests, latency and the stream are filled in, the stream returns every
// entry written, and the section's database is gone afterwards.
func TestPGStoreSection(t *testing.T) {
	url := pgURL(t)
	c, err := loadCorpus(findCorpus())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	o := pgStoreOptions{URL: url, Work: t.TempDir(), Spans: 600, Clients: 4, Batch: 100, LatencyClients: 4, LatencyRequests: 40,
		Timeout: time.Minute, Log: testLogger(t), ServerLog: testLogger(t)}
	res, err := measurePGStore(ctx, c, newIDs(), o)
	if errors.Is(err, errUnreachable) {
		pgUnavailable(t, res.Skipped)
	}
	if err != nil {
		t.Fatalf("measurePGStore: %v", err)
	}
	if len(res.Ingest) != 2 || res.Ingest[0].Name != "1 node" || res.Ingest[1].Name != "2 nodes" {
		t.Fatalf("ingest runs: %+v", res.Ingest)
	}
	for _, r := range res.Ingest {
		if r.Spans != o.Spans || r.SpansPerSec <= 0 || r.Error != "" || r.Partial {
			t.Errorf("%s: got %+v, want %d spans", r.Name, r, o.Spans)
		}
	}
	if l := res.Latency; l.Requests != o.LatencyRequests || l.P95 <= 0 || l.Error != "" {
		t.Errorf("latency: %+v", l)
	}
	// Warm-up requests are stored too (one per client).
	if want := 2*o.Spans + o.LatencyRequests + o.LatencyClients; res.Stream.Spans != want || res.Stream.Error != "" {
		t.Errorf("stream: got %d entries (%s), want %d", res.Stream.Spans, res.Stream.Error, want)
	}
	if res.Server == "" || res.SynchronousCommit == "" || res.Database == "" {
		t.Errorf("server: %+v", res.PGServer)
	}
	// /proc counts CPU in clock ticks (10 ms): a run this small may not
	// give PostgreSQL's processes one, so only a negative figure is wrong.
	if runtime.GOOS == "linux" && (res.OtherCPUShare < 0 || res.GoCPUMicros <= 0 || res.PostgresCPUMicros < 0) {
		t.Errorf("CPU: other %v, LogLine %v µs, PostgreSQL %v µs per span", res.OtherCPUShare, res.GoCPUMicros, res.PostgresCPUMicros)
	}
	if pgCount(t, url, "SELECT count(*) FROM pg_database WHERE datname = $1", res.Database) != 0 {
		t.Errorf("database %s still exists", res.Database)
	}
	tableHas(t, Report{PGStore: res}, "NDJSON ingest, durable, 2 nodes")
}

// pgCount runs a count query on the server at url.
func pgCount(t *testing.T, url, sql string, args ...any) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// tableHas fails unless the table of rep contains want.
func tableHas(t *testing.T, rep Report, want string) {
	t.Helper()
	var table bytes.Buffer
	if err := WriteTable(&table, rep); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), want) {
		t.Errorf("table lacks %q:\n%s", want, table.String())
	}
}
