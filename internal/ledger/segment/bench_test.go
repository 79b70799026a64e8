package segment_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"testing"

	"github.com/logline/logline/internal/ledger/segment"
	"github.com/logline/logline/internal/span"
)

// corpusSpans decodes the public corpus (8,577 spans) once per benchmark.
func corpusSpans(b *testing.B) []*span.Span {
	b.Helper()
	f, err := os.Open("../../../../shared/corpus/receipt.ndjson")
	if err != nil {
		b.Skipf("corpus not available: %v", err)
	}
	defer f.Close()
	var spans []*span.Span
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		s, err := span.Decode(sc.Bytes(), span.DecodeOptions{NewID: func() string { return "x" }})
		if err != nil {
			b.Fatal(err)
		}
		spans = append(spans, s)
	}
	return spans
}

// renamed returns copies of spans with fresh ids so that every iteration
// appends new entries rather than idempotent duplicates.
func renamed(b *testing.B, spans []*span.Span, round int) []*span.Span {
	out := make([]*span.Span, len(spans))
	for i, s := range spans {
		js := fmt.Sprintf(`{"id":"r%d-%d","tenant":%q,"who":%q,"did":%q,"this":%q,"when":%q,"status":"confirmed","confirmed_by":["group://g"],"data":{"channel":"Internet","department":"General"}}`,
			round, i, s.Tenant, s.Who, s.Did, s.This, s.When.Format("2006-01-02T15:04:05.000Z07:00"))
		ns, err := span.Decode([]byte(js), span.DecodeOptions{})
		if err != nil {
			b.Fatal(err)
		}
		out[i] = ns
	}
	return out
}

// BenchmarkAppendBatch measures durable appends in batches of 1024 spans
// from one caller (the NDJSON ingest path below the HTTP layer): with the
// id filter (what Open does) and with every id looked up in the index.
func BenchmarkAppendBatch(b *testing.B) {
	b.Run("idfilter", func(b *testing.B) { benchmarkAppendBatch(b, segment.Config{Dir: b.TempDir()}) })
	b.Run("lookup", func(b *testing.B) { benchmarkAppendBatch(b, segment.WithoutIDFilter(segment.Config{Dir: b.TempDir()})) })
}

func benchmarkAppendBatch(b *testing.B, cfg segment.Config) {
	base := corpusSpans(b)
	s, err := segment.Open(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var rounds [][]*span.Span
	for r := 0; r*len(base) < b.N; r++ {
		rounds = append(rounds, renamed(b, base, r))
	}
	b.ResetTimer()
	n := 0
	for r := 0; n < b.N; r++ {
		spans := rounds[r]
		for i := 0; i < len(spans) && n < b.N; i += 1024 {
			j := min(i+1024, len(spans), i+b.N-n)
			if _, err := s.Append(context.Background(), spans[i:j]); err != nil {
				b.Fatal(err)
			}
			n += j - i
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "spans/s")
}

// BenchmarkAppendSingleConcurrent measures one-span appends from 16
// concurrent callers: group commit shares each fdatasync among them.
func BenchmarkAppendSingleConcurrent(b *testing.B) {
	base := corpusSpans(b)
	s, err := segment.Open(context.Background(), segment.Config{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var spans []*span.Span
	for r := 0; len(spans) < b.N; r++ {
		spans = append(spans, renamed(b, base, r)...)
	}
	b.ResetTimer()
	var wg sync.WaitGroup
	ch := make(chan *span.Span)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for sp := range ch {
				if _, err := s.Append(context.Background(), []*span.Span{sp}); err != nil {
					b.Error(err)
				}
			}
		}()
	}
	for i := 0; i < b.N; i++ {
		ch <- spans[i]
	}
	close(ch)
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "spans/s")
}

// BenchmarkReadRaw measures sequential stream reads.
func BenchmarkReadRaw(b *testing.B) {
	base := corpusSpans(b)
	s, err := segment.Open(context.Background(), segment.Config{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for i := 0; i < len(base); i += 1024 {
		if _, err := s.Append(context.Background(), base[i:min(i+1024, len(base))]); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	n := 0
	for n < b.N {
		err := s.ReadRaw(context.Background(), 0, s.Size(), func(uint64, []byte) error {
			n++
			if n >= b.N {
				return errStop
			}
			return nil
		})
		if err != nil && err != errStop {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "spans/s")
}

var errStop = fmt.Errorf("stop")

// BenchmarkInclusionProof measures inclusion proofs of random entries in
// the tree of a log of 8 × the corpus (68,616 entries), from GOMAXPROCS
// goroutines (`logline bench` measures a tree of a million).
func BenchmarkInclusionProof(b *testing.B) {
	base := corpusSpans(b)
	s, err := segment.Open(context.Background(), segment.Config{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for round := range 8 {
		spans := renamed(b, base, round)
		for i := 0; i < len(spans); i += 4096 {
			if _, err := s.Append(context.Background(), spans[i:min(i+4096, len(spans))]); err != nil {
				b.Fatal(err)
			}
		}
	}
	n := s.Size()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := rand.New(rand.NewPCG(rand.Uint64(), 1))
		for pb.Next() {
			if _, _, err := s.InclusionProof(context.Background(), r.Uint64N(n), n); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "proofs/s")
}
