package bench

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"time"
)

// heapSampler records the peak of the process heap while it runs.
type heapSampler struct {
	stop chan struct{}
	done chan struct{}

	// Written by the sampling goroutine, read after done is closed.
	peakHeap, peakGo uint64
}

func readHeap(s []metrics.Sample) (heap, goMem uint64) {
	metrics.Read(s)
	heap = s[0].Value.Uint64()
	goMem = s[1].Value.Uint64() - s[2].Value.Uint64()
	return heap, goMem
}

// newSamples names the metrics readHeap reads, in its order.
func newSamples() []metrics.Sample {
	return []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
	}
}

// startHeapSampler samples every interval until Stop.
func startHeapSampler(interval time.Duration) *heapSampler {
	h := &heapSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(h.done)
		s := newSamples()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			heap, goMem := readHeap(s)
			h.peakHeap = max(h.peakHeap, heap)
			h.peakGo = max(h.peakGo, goMem)
			select {
			case <-h.stop:
				return
			case <-t.C:
			}
		}
	}()
	return h
}

// Stop ends sampling and returns the peaks.
func (h *heapSampler) Stop() (peakHeap, peakGo uint64) {
	close(h.stop)
	<-h.done
	return h.peakHeap, h.peakGo
}

// memoryRuns streams generated NDJSON bodies of each size into a fresh
// in-process server (its body limit raised above the size) and samples the
// heap of the whole process — server and client — meanwhile.
func memoryRuns(ctx context.Context, workDir string, c *corpus, d ids, sizes []int64, deadline time.Time, log *slog.Logger) ([]MemoryRun, error) {
	var runs []MemoryRun
	for k, size := range sizes {
		dir := filepath.Join(workDir, "memory-"+strconv.Itoa(k))
		run, err := memoryRun(ctx, dir, c, d, "m"+strconv.Itoa(k)+"-", size, deadline, log)
		runs = append(runs, run)
		if err != nil {
			return runs, err
		}
	}
	return runs, nil
}

func memoryRun(ctx context.Context, dir string, c *corpus, d ids, kind string, size int64, deadline time.Time, log *slog.Logger) (MemoryRun, error) {
	run := MemoryRun{BodyBytes: size}
	srv, err := startLocal(ctx, dir, size+(64<<20), log)
	if err != nil {
		return run, err
	}
	defer srv.Close()
	t := &target{base: srv.url, hc: newHTTPClient()}
	defer t.hc.CloseIdleConnections()

	runtime.GC()
	run.BaselineHeapBytes, _ = readHeap(newSamples())
	sampler := startHeapSampler(5 * time.Millisecond)
	gen := &genReader{c: c, d: d, kind: kind, limit: size}
	rctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	start := time.Now()
	n, err := t.postNDJSON(rctx, gen, -1)
	run.Seconds = sinceSecs(start)
	run.PeakHeapBytes, run.PeakGoBytes = sampler.Stop()
	run.Spans = n
	run.BodyBytes = gen.n
	run.SpansPerSec = rate(float64(n), run.Seconds)
	run.MBPerSec = rate(mb(gen.n), run.Seconds)
	if err != nil {
		if rctx.Err() != nil && time.Now().After(deadline) {
			run.Partial = true
			return run, nil
		}
		return run, fmt.Errorf("memory ingest of %d bytes: %w", size, err)
	}
	if n != gen.spans {
		return run, fmt.Errorf("memory ingest: %d of %d spans stored", n, gen.spans)
	}
	return run, nil
}
