package export_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/logline/logline/internal/export"
)

// benchSpans is the size of the benchmarks' log: the corpus cycled with
// fresh ids, one tenant, commit batches of 8192.
const benchSpans = 100_000

var (
	benchOnce sync.Once
	benchLog  *testLog
	benchDir  string
)

func benchFixture(b *testing.B) *testLog {
	b.Helper()
	if _, err := os.Stat(corpusPath); err != nil {
		b.Skipf("corpus %s not present: %v", corpusPath, err)
	}
	benchOnce.Do(func() {
		corpus := readCorpus(b)
		dir, err := os.MkdirTemp("", "export-bench-")
		if err != nil {
			b.Fatal(err)
		}
		benchDir = dir
		l := newTestLog(b, dir, 7)
		spans := make([][]byte, 0, benchSpans)
		for i := range benchSpans {
			line := corpus[i%len(corpus)]
			// Every corpus line starts with {"id":"s_<20 hex>",: give it a fresh id.
			const idEnd = len(`{"id":"s_c97abf2e3398ec71a1d3",`)
			line = fmt.Appendf(nil, `{"id":"b%d",%s`, i, line[idEnd:])
			line = bytes.Replace(line, []byte(`"tenant":"t_a"`), []byte(`"tenant":"t_x"`), 1)
			line = bytes.Replace(line, []byte(`"tenant":"t_b"`), []byte(`"tenant":"t_x"`), 1)
			line = bytes.Replace(line, []byte(`"tenant":"t_c"`), []byte(`"tenant":"t_x"`), 1)
			spans = append(spans, line)
		}
		l.appendJSON(b, spans, 8192)
		benchLog = l
	})
	if benchLog == nil {
		b.Fatal("the benchmark log could not be built")
	}
	return benchLog
}

// BenchmarkWrite exports one tenant of 100,000 entries (every entry of the
// log) per iteration.
func BenchmarkWrite(b *testing.B) {
	l := benchFixture(b)
	o := l.options("t_x", time.Time{}, time.Time{})
	var m export.Manifest
	var n int64
	for b.Loop() {
		cw := &discardCounter{}
		var err error
		if m, err = export.Write(context.Background(), cw, l.st, o); err != nil {
			b.Fatal(err)
		}
		n = cw.n
	}
	b.SetBytes(n)
	b.ReportMetric(float64(m.Entries)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}

// BenchmarkVerify verifies that export per iteration.
func BenchmarkVerify(b *testing.B) {
	l := benchFixture(b)
	var buf bytes.Buffer
	m, err := export.Write(context.Background(), &buf, l.st, l.options("t_x", time.Time{}, time.Time{}))
	if err != nil {
		b.Fatal(err)
	}
	vs := l.keys.Verifiers()
	b.SetBytes(int64(buf.Len()))
	for b.Loop() {
		if _, err := export.Verify(context.Background(), bytes.NewReader(buf.Bytes()), vs, export.VerifyOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(m.Entries)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}

type discardCounter struct{ n int64 }

func (w *discardCounter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

var _ io.Writer = (*discardCounter)(nil)
