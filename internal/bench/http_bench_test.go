package bench

import (
	"context"
	"math/rand/v2"
	"net/url"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logline/logline/internal/span"
)

// Go benchmarks of the HTTP paths against the in-process server (the
// gateway package has none of its own). Spans are counted in b.N, so
// ns/op is per span and spans/s is reported.

type benchEnv struct {
	t *target
	c *corpus
	d ids
}

func newBenchEnv(b *testing.B) *benchEnv {
	b.Helper()
	c, err := loadCorpus(findCorpus())
	if err != nil {
		b.Fatal(err)
	}
	srv, err := startLocal(context.Background(), filepath.Join(b.TempDir(), "data"), 0, testLogger(b))
	if err != nil {
		b.Fatal(err)
	}
	t := &target{base: srv.url, hc: newHTTPClient()}
	b.Cleanup(func() {
		t.hc.CloseIdleConnections()
		if err := srv.Close(); err != nil {
			b.Error(err)
		}
	})
	return &benchEnv{t: t, c: c, d: newIDs()}
}

// fill stores n spans of kind through NDJSON.
func (e *benchEnv) fill(b *testing.B, kind string, n int) {
	b.Helper()
	bodies, _, _, err := makeBodies(context.Background(), e.c, e.d, kind, n, 1000, nil)
	if err != nil {
		b.Fatal(err)
	}
	if res, _ := ingestBodies(context.Background(), e.t, kind, bodies, 4, 1000, time.Now().Add(time.Hour)); res.Error != "" {
		b.Fatal(res.Error)
	}
}

func benchmarkNDJSON(b *testing.B, signed bool) {
	e := newBenchEnv(b)
	var kp *span.KeyPair
	if signed {
		k, err := span.GenerateKey(nil)
		if err != nil {
			b.Fatal(err)
		}
		kp = &k
	}
	bodies, total, _, err := makeBodies(context.Background(), e.c, e.d, "n", b.N, 1000, kp)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(total / int64(b.N))
	b.ResetTimer()
	res, _ := ingestBodies(context.Background(), e.t, "ndjson", bodies, 4, 1000, time.Now().Add(time.Hour))
	b.StopTimer()
	if res.Error != "" {
		b.Fatal(res.Error)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "spans/s")
}

// BenchmarkHTTPIngestNDJSON: durable NDJSON ingest, 4 clients, 1000 spans
// per request.
func BenchmarkHTTPIngestNDJSON(b *testing.B) { benchmarkNDJSON(b, false) }

// BenchmarkHTTPIngestNDJSONSigned: the same with client-signed spans.
func BenchmarkHTTPIngestNDJSONSigned(b *testing.B) { benchmarkNDJSON(b, true) }

// BenchmarkHTTPIngestSingle: one span per POST from 8×GOMAXPROCS clients.
func BenchmarkHTTPIngestSingle(b *testing.B) {
	e := newBenchEnv(b)
	lines := e.c.lines(e.d, "o", b.N)
	var next atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := e.t.postOne(context.Background(), lines[next.Add(1)-1]); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "spans/s")
}

// BenchmarkHTTPGetSpan: GET /spans/{id} of random stored ids, 8×GOMAXPROCS
// clients.
func BenchmarkHTTPGetSpan(b *testing.B) {
	e := newBenchEnv(b)
	const stored = 20_000
	e.fill(b, "g", stored)
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			k := rand.IntN(stored)
			if _, err := e.t.get(context.Background(), "/spans/"+url.PathEscape(e.d.id("g", k))+"?tenant="+url.QueryEscape(e.c.tenant(k))); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkHTTPQueryPage: GET /spans, one page of 1000 per op.
func BenchmarkHTTPQueryPage(b *testing.B) {
	e := newBenchEnv(b)
	e.fill(b, "q", 5000)
	path := "/spans?" + url.Values{"tenant": {e.c.tenant(0)}, "limit": {"1000"}}.Encode()
	b.ResetTimer()
	for b.Loop() {
		if _, err := e.t.get(context.Background(), path); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(1000*float64(b.N)/b.Elapsed().Seconds(), "spans/s")
}

// BenchmarkHTTPStream: GET /ledger/stream of the whole log (50,000
// entries) per op.
func BenchmarkHTTPStream(b *testing.B) {
	e := newBenchEnv(b)
	const stored = 50_000
	e.fill(b, "s", stored)
	var bytes int64
	b.ResetTimer()
	for b.Loop() {
		res := streamAll(context.Background(), e.t, time.Now().Add(time.Minute))
		if res.Error != "" || res.Spans != stored {
			b.Fatalf("stream: %+v", res)
		}
		bytes = res.Bytes
	}
	b.SetBytes(bytes)
	b.ReportMetric(stored*float64(b.N)/b.Elapsed().Seconds(), "spans/s")
}
