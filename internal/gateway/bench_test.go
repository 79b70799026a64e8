package gateway

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// BenchmarkIngestNDJSON posts the shared corpus as one NDJSON request
// through a real HTTP server and the segment store. Each iteration renames
// the ids so that every span is new.
func BenchmarkIngestNDJSON(b *testing.B) {
	corpus := readCorpus(b)
	spans := len(nonBlankLines(corpus))
	e := newEnv(b, nil)
	b.SetBytes(int64(len(corpus)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		body := bytes.ReplaceAll(corpus, []byte(`"id":"s_`), fmt.Appendf(nil, `"id":"b%d_`, i))
		b.StartTimer()
		resp, err := e.ts.Client().Post(e.ts.URL+"/ingest", "application/x-ndjson", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !bytes.Contains(out, fmt.Appendf(nil, `"accepted":%d,`, spans)) {
			b.Fatalf("got summary %s, want %d accepted", out[bytes.LastIndexByte(out[:len(out)-1], '\n')+1:], spans)
		}
	}
	b.ReportMetric(float64(spans)*float64(b.N)/b.Elapsed().Seconds(), "spans/s")
}

// BenchmarkIngestSingle posts one span per request, sequentially (each
// request waits for its own fsync) and in parallel (group commit).
func BenchmarkIngestSingle(b *testing.B) {
	for _, parallel := range []bool{false, true} {
		b.Run(fmt.Sprintf("parallel=%v", parallel), func(b *testing.B) {
			e := newEnv(b, nil)
			var n atomic.Int64
			post := func(b *testing.B) {
				body := spanJSON(map[string]any{"id": fmt.Sprintf("one-%d", n.Add(1))})
				resp, err := e.ts.Client().Post(e.ts.URL+"/ingest", "application/json", strings.NewReader(body))
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					b.Fatalf("got status %d, want 201", resp.StatusCode)
				}
			}
			b.ReportAllocs()
			if !parallel {
				for b.Loop() {
					post(b)
				}
				return
			}
			e.ts.Client().Transport.(*http.Transport).MaxIdleConnsPerHost = 256
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					post(b)
				}
			})
		})
	}
}
