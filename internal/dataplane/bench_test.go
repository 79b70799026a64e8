package dataplane

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/logline/logline/internal/ledger/segment"
	"github.com/logline/logline/internal/lll/check"
	"github.com/logline/logline/internal/lll/eval"
	"github.com/logline/logline/internal/lll/ir"
	"github.com/logline/logline/internal/span"
)

// benchAppendBatch is how many input spans one setup append holds.
const benchAppendBatch = 2000

// BenchmarkWorker is the worker as serve runs it (Run on a segment store
// in a temporary directory, the default program): one op is one input
// span of the receipt corpus, cycled with fresh ids, appended before the
// clock starts; the clock runs until the worker has applied every input
// span, appended what they derive (durably, through the store's group
// commit) and read those derived spans back. "on": features.trajectory
// and features.diamond on; "off": both off, so the worker only follows
// the log (serve's default for a tenant).
func BenchmarkWorker(b *testing.B) {
	lines := benchCorpusLines(b)
	prog, err := check.CanonicalContract()
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name  string
		feats eval.Features
	}{
		{"on", eval.Features{Trajectory: true, Diamond: true}},
		{"off", eval.Features{}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			dir := b.TempDir()
			s, err := segment.Open(context.Background(), segment.Config{Dir: dir})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			benchAppendInputs(b, s, lines, b.N)
			inputs := s.Size()
			w, err := Open(Config{
				Store:     s,
				Program:   func(string) *ir.Program { return prog },
				Features:  func(string) eval.Features { return bc.feats },
				StatePath: filepath.Join(dir, StateFile),
				ClockIdle: time.Hour, // no clock spans: the corpus is years old
			})
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			b.ReportAllocs()
			b.ResetTimer()
			go func() { done <- w.Run(ctx) }()
			var st Status
			for {
				st = w.Status()
				if st.Err != "" {
					b.Fatalf("worker: %s", st.Err)
				}
				if st.Cursor >= inputs && st.Cursor == s.Size() {
					break
				}
				time.Sleep(200 * time.Microsecond)
			}
			b.StopTimer()
			cancel()
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			if bc.feats.Trajectory && st.Derived == 0 {
				b.Fatalf("nothing derived from %d spans: %+v", inputs, st)
			}
			if !bc.feats.Trajectory && st.Derived != 0 {
				b.Fatalf("derived %d spans with trajectories off", st.Derived)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "spans/s")
			b.ReportMetric(float64(st.Derived)/float64(b.N), "derived/op")
		})
	}
}

// benchCorpusLines reads the receipt corpus, one line per span.
func benchCorpusLines(tb testing.TB) [][]byte {
	tb.Helper()
	data, err := os.ReadFile(corpus)
	if err != nil {
		tb.Skipf("corpus: %v", err)
	}
	var lines [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if l := bytes.TrimSpace(sc.Bytes()); len(l) > 0 {
			lines = append(lines, bytes.Clone(l))
		}
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	if len(lines) == 0 {
		tb.Fatalf("corpus %s is empty", corpus)
	}
	return lines
}

// benchAppendInputs appends n spans to s: line i mod len(lines), its id
// suffixed with the cycle after the first ("_c1", "_c2", …), so that
// every span is new.
func benchAppendInputs(tb testing.TB, s *segment.Store, lines [][]byte, n int) {
	tb.Helper()
	batch := make([]*span.Span, 0, benchAppendBatch)
	flush := func() {
		outs, err := s.Append(context.Background(), batch)
		if err != nil {
			tb.Fatal(err)
		}
		for _, o := range outs {
			if o.Err != nil {
				tb.Fatal(o.Err)
			}
		}
		batch = batch[:0]
	}
	var buf []byte
	for i := range n {
		line := lines[i%len(lines)]
		if cycle := i / len(lines); cycle > 0 {
			var err error
			if buf, err = withIDSuffix(buf[:0], line, "_c"+strconv.Itoa(cycle)); err != nil {
				tb.Fatalf("corpus line %d: %v", i%len(lines), err)
			}
			line = buf
		}
		sp, err := span.Decode(line, span.DecodeOptions{})
		if err != nil {
			tb.Fatalf("corpus line %d: %v", i%len(lines), err)
		}
		if batch = append(batch, sp); len(batch) == benchAppendBatch {
			flush()
		}
	}
	if len(batch) > 0 {
		flush()
	}
}

// withIDSuffix appends line to dst with suffix added to the value of its
// first "id" member.
func withIDSuffix(dst, line []byte, suffix string) ([]byte, error) {
	key := []byte(`"id":"`)
	i := bytes.Index(line, key)
	if i < 0 {
		return nil, errors.New(`no "id" member`)
	}
	j := bytes.IndexByte(line[i+len(key):], '"')
	if j < 0 {
		return nil, errors.New(`no "id" member`)
	}
	end := i + len(key) + j
	dst = append(dst, line[:end]...)
	dst = append(dst, suffix...)
	return append(dst, line[end:]...), nil
}
