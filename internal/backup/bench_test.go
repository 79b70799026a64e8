package backup

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/logline/logline/internal/span"
)

var benchSpans = flag.Int("backup.spans", 100_000, "entries in the log the backup benchmarks copy")

// BenchmarkBackupRestore measures, on a log of -backup.spans corpus spans
// served over loopback HTTP: a full backup, an incremental one of 1% more,
// verifying the backup, and restoring it (verification, segments, index).
//
//	go test -run '^$' -bench BackupRestore -benchtime 1x ./internal/backup -backup.spans 1000000
func BenchmarkBackupRestore(b *testing.B) {
	srv := startServer(b, b.TempDir())
	start := time.Now()
	corpusSpans(b, srv, "a", *benchSpans)
	b.Logf("built a log of %d spans in %v", srv.store.Size(), time.Since(start).Round(time.Millisecond))
	out := filepath.Join(b.TempDir(), "backup")
	ctx := context.Background()
	var bytesCopied int64

	b.Run("full", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			os.RemoveAll(out)
			res, err := Run(ctx, Config{Dir: out, Source: srv.client})
			if err != nil {
				b.Fatal(err)
			}
			bytesCopied = res.Bytes
		}
		report(b, *benchSpans, bytesCopied)
	})
	b.Run("incremental-1pct", func(b *testing.B) {
		n := *benchSpans / 100
		for i := 0; b.Loop(); i++ {
			b.StopTimer()
			corpusSpans(b, srv, fmt.Sprintf("inc%d-", i), n)
			b.StartTimer()
			if _, err := Run(ctx, Config{Dir: out, Source: srv.client}); err != nil {
				b.Fatal(err)
			}
		}
		report(b, n, 0)
	})
	size := srv.store.Size()
	b.Run("verify", func(b *testing.B) {
		for b.Loop() {
			if _, err := Verify(ctx, out, VerifyOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		report(b, int(size), 0)
	})
	b.Run("restore", func(b *testing.B) {
		var res RestoreResult
		for b.Loop() {
			data := filepath.Join(b.TempDir(), "data")
			var err error
			if res, err = Restore(ctx, RestoreConfig{From: out, Data: data, NewLogKey: true}); err != nil {
				b.Fatal(err)
			}
		}
		report(b, int(size), 0)
		b.ReportMetric(res.VerifyTime.Seconds(), "verify-s")
		b.ReportMetric(res.WriteTime.Seconds(), "write+index-s")
	})
}

func report(b *testing.B, spans int, n int64) {
	per := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(float64(spans)/per, "spans/s")
	if n > 0 {
		b.ReportMetric(float64(n)/per/1e6, "MB/s")
	}
}

// corpusSpans appends n spans: the corpus over and over, with ids prefixed.
func corpusSpans(b *testing.B, srv *testServer, prefix string, n int) {
	b.Helper()
	corpus, err := os.ReadFile(corpusPath)
	if err != nil {
		b.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(corpus), []byte("\n"))
	spans := make([]*span.Span, 0, 8192)
	for i := range n {
		line := bytes.Replace(lines[i%len(lines)], []byte(`"id":"s_`), fmt.Appendf(nil, `"id":"%s%d_`, prefix, i/len(lines)), 1)
		spans = append(spans, srv.decode(line))
		if len(spans) == cap(spans) || i == n-1 {
			srv.append(spans, len(spans))
			spans = spans[:0]
		}
	}
}
