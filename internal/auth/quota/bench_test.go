package quota

import (
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// roomy never refuses in a benchmark: the admitted path, buckets touched.
var roomy = Limits{
	Requests: Limit{PerSecond: 1e12, Burst: 1e12},
	Spans:    Limit{PerSecond: 1e12, Burst: 1e12},
	Bytes:    Limit{PerSecond: 1e15, Burst: 1e15},
}

var benchCost = Cost{Requests: 1, Spans: 10, Bytes: 2000}

func benchLimiter(b *testing.B, tenants int) (*Limiter, []string) {
	b.Helper()
	l, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	names := make([]string, tenants)
	for i := range names {
		names[i] = tenantName(i)
		if err := l.Set(names[i], roomy, map[string]Limits{"writer": roomy}); err != nil {
			b.Fatal(err)
		}
		l.Allow(names[i], "writer", benchCost)
	}
	return l, names
}

// BenchmarkAllow: one goroutine, one tenant, six buckets charged.
func BenchmarkAllow(b *testing.B) {
	l, names := benchLimiter(b, 1)
	b.ReportAllocs()
	for b.Loop() {
		l.Allow(names[0], "writer", benchCost)
	}
}

// BenchmarkAllowUnlimited: a tenant without limits keeps no entry.
func BenchmarkAllowUnlimited(b *testing.B) {
	l, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		l.Allow("free", "writer", benchCost)
	}
}

// BenchmarkAllowParallel: many tenants charged from every core.
func BenchmarkAllowParallel(b *testing.B) {
	l, names := benchLimiter(b, 1000)
	var seed atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(seed.Add(7919))
		for pb.Next() {
			l.Allow(names[i%len(names)], "writer", benchCost)
			i++
		}
	})
}

// BenchmarkAllowParallelOneTenant: every core on one tenant, the worst
// case for its entry's mutex.
func BenchmarkAllowParallelOneTenant(b *testing.B) {
	l, names := benchLimiter(b, 1)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.Allow(names[0], "writer", benchCost)
		}
	})
}

// BenchmarkQuietTenantP99 measures the latency of a quiet tenant's Allow
// alone and then while GOMAXPROCS goroutines hammer a noisy tenant far
// over its quota (1000 requests/s, asked as fast as the cores go), and
// reports both p99s and their ratio (the issue asks for ≤ 1.2). In
// "same-shard" the two tenants share a shard's read lock, the worst case.
func BenchmarkQuietTenantP99(b *testing.B) {
	for _, tc := range []struct {
		name      string
		sameShard bool
	}{{"other-shard", false}, {"same-shard", true}} {
		b.Run(tc.name, func(b *testing.B) {
			l, err := New(Config{})
			if err != nil {
				b.Fatal(err)
			}
			noisy := "noisy"
			quiet := "quiet"
			for i := 0; (l.shardOf(quiet) == l.shardOf(noisy)) != tc.sameShard; i++ {
				quiet = "quiet-" + tenantName(i)
			}
			noisyLimits := Limits{Requests: Limit{PerSecond: 1000, Burst: 100}, Spans: Limit{PerSecond: 10_000, Burst: 1000}}
			if err := l.Set(noisy, noisyLimits, map[string]Limits{"writer": noisyLimits}); err != nil {
				b.Fatal(err)
			}
			if err := l.Set(quiet, roomy, map[string]Limits{"writer": roomy}); err != nil {
				b.Fatal(err)
			}
			samples := make([]time.Duration, min(b.N, 1<<20))
			measure := func() time.Duration {
				for i := range b.N {
					t0 := time.Now()
					d := l.Allow(quiet, "writer", benchCost)
					el := time.Since(t0)
					if !d.OK {
						b.Fatalf("quiet tenant refused: %+v", d)
					}
					samples[i%len(samples)] = el
				}
				slices.Sort(samples)
				return samples[len(samples)*99/100]
			}
			b.ResetTimer()
			alone := measure()

			var stop atomic.Bool
			var wg sync.WaitGroup
			var refused atomic.Int64
			for range runtime.GOMAXPROCS(0) {
				wg.Go(func() {
					for !stop.Load() {
						if !l.Allow(noisy, "writer", benchCost).OK {
							refused.Add(1)
						}
					}
				})
			}
			for refused.Load() == 0 {
				runtime.Gosched()
			}
			loaded := measure()
			stop.Store(true)
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(alone.Nanoseconds()), "p99-alone-ns")
			b.ReportMetric(float64(loaded.Nanoseconds()), "p99-noisy-ns")
			b.ReportMetric(float64(loaded)/float64(alone), "p99-ratio")
		})
	}
}

// BenchmarkUsageAdd: counting spans for many tenants from every core.
func BenchmarkUsageAdd(b *testing.B) {
	u := NewUsage(UsageConfig{})
	names := make([]string, 1000)
	for i := range names {
		names[i] = tenantName(i)
		u.AddIngestSpans(names[i], 1)
	}
	var seed atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(seed.Add(7919))
		for pb.Next() {
			u.AddIngestSpans(names[i%len(names)], 10)
			i++
		}
	})
}
