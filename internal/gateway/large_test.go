package gateway

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestIngestLargeBodyBoundedMemory streams a 200 MB NDJSON body (20 MB
// with -short or -race), generated on the fly, and checks that the heap
// stays bounded while every span is stored.
func TestIngestLargeBodyBoundedMemory(t *testing.T) {
	size := int64(200 << 20)
	if testing.Short() || raceEnabled {
		size = 20 << 20
	}
	const heapLimit = 256 << 20
	e := newEnv(t, func(c *Config) { c.MaxBodyBytes = 1 << 40 })

	pad := strings.Repeat("p", 3000)
	pr, pw := io.Pipe()
	var spans int
	go func() {
		var written int64
		buf := make([]byte, 0, 4096)
		for written < size {
			buf = fmt.Appendf(buf[:0], `{"id":"big-%d","tenant":"bulk","who":"loader","did":"load","this":"row:%d","when":"2026-01-02T03:04:05Z","data":{"pad":%q}}`+"\n", spans, spans%1000, pad)
			if _, err := pw.Write(buf); err != nil {
				return
			}
			written += int64(len(buf))
			spans++
		}
		pw.Close()
	}()

	runtime.GC()
	var maxHeap uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(25 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			maxHeap = max(maxHeap, ms.HeapInuse)
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	})

	req, err := http.NewRequest(http.MethodPost, e.ts.URL+"/ingest", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	start := time.Now()
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	ok, results := 0, 0
	var sum *ndSummary
	for sc.Scan() {
		line := sc.Bytes()
		if strings.HasPrefix(string(line), `{"summary"`) {
			var s struct{ Summary *ndSummary }
			if err := json.Unmarshal(line, &s); err != nil {
				t.Fatal(err)
			}
			sum = s.Summary
			continue
		}
		results++
		if strings.Contains(string(line), `"ok":true`) {
			ok++
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	close(stop)
	wg.Wait()

	if sum == nil {
		t.Fatal("got no summary line")
	}
	if sum.Accepted != spans || sum.Lines != spans || ok != spans || results != spans || sum.Error != nil {
		t.Errorf("got summary %+v and %d/%d ok results, want %d accepted", *sum, ok, results, spans)
	}
	if got := e.store.Size(); got != uint64(spans) {
		t.Errorf("got store size %d, want %d", got, spans)
	}
	if maxHeap > heapLimit {
		t.Errorf("got peak HeapInuse %d MiB, want <= %d MiB", maxHeap>>20, heapLimit>>20)
	}
	t.Logf("%d MiB, %d spans in %v (%.1f MB/s), peak HeapInuse %d MiB", size>>20, spans, elapsed.Round(time.Millisecond),
		float64(size)/elapsed.Seconds()/1e6, maxHeap>>20)
}
