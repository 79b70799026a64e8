package bench

import (
	"context"
	"log/slog"
	"os"
	"testing"
)

// TestFullBenchReport runs the full benchmark with its defaults and prints
// the table (and writes it, plus the JSON report, to $LOGLINE_BENCH_OUT
// and $LOGLINE_BENCH_OUT.json when set). Opt-in: LOGLINE_BENCH_FULL=1.
// The PostgreSQL baseline uses $LOGLINE_TEST_PG.
//
//	LOGLINE_BENCH_FULL=1 LOGLINE_TEST_PG=postgres://… go test -count=1 -timeout 2h -run TestFullBenchReport -v ./internal/bench
func TestFullBenchReport(t *testing.T) {
	if os.Getenv("LOGLINE_BENCH_FULL") != "1" {
		t.Skip("the full benchmark takes minutes; set LOGLINE_BENCH_FULL=1 to run it")
	}
	cfg := Config{
		PG:     os.Getenv(EnvTestPG),
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)),
	}
	rep, err := Run(context.Background(), cfg)
	if werr := WriteTable(os.Stdout, rep); werr != nil {
		t.Error(werr)
	}
	if out := os.Getenv("LOGLINE_BENCH_OUT"); out != "" {
		for _, w := range []struct {
			path  string
			write func(*os.File) error
		}{
			{out, func(f *os.File) error { return WriteTable(f, rep) }},
			{out + ".json", func(f *os.File) error { return WriteJSON(f, rep) }},
		} {
			f, ferr := os.Create(w.path)
			if ferr != nil {
				t.Fatal(ferr)
			}
			if werr := w.write(f); werr != nil {
				t.Error(werr)
			}
			if cerr := f.Close(); cerr != nil {
				t.Error(cerr)
			}
		}
	}
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
}
