package quota

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The limits both tenants get in the fairness tests: 100 requests/s with a
// burst of 10, 1000 spans/s.
var fairLimits = Limits{
	Requests: Limit{PerSecond: 100, Burst: 10},
	Spans:    Limit{PerSecond: 1000, Burst: 1000},
}

// TestFairness: a tenant sending 10× its quota gets refused, and the quiet
// tenant beside it gets exactly the decisions it gets alone.
func TestFairness(t *testing.T) {
	run := func(noisy bool) (quiet []Decision, admitted, refused int) {
		clk := newFakeClock()
		l := newTestLimiter(t, clk, Config{})
		mustSet(t, l, "noisy", fairLimits, nil)
		mustSet(t, l, "quiet", fairLimits, nil)
		// 10 simulated seconds in 1 ms steps: noisy sends 1000 requests/s
		// (10× its quota) of 5 spans each; quiet sends one every 20 ms.
		for ms := range 10_000 {
			if noisy {
				if d := l.Allow("noisy", "writer", Cost{Requests: 1, Spans: 5}); d.OK {
					admitted++
				} else {
					refused++
				}
			}
			if ms%20 == 0 {
				quiet = append(quiet, l.Allow("quiet", "writer", Cost{Requests: 1, Spans: 5}))
			}
			clk.Advance(time.Millisecond)
		}
		return quiet, admitted, refused
	}
	alone, _, _ := run(false)
	beside, admitted, refused := run(true)
	for i, d := range beside {
		if !d.OK {
			t.Fatalf("quiet request %d refused beside the noisy tenant: %+v", i, d)
		}
		if d != alone[i] {
			t.Fatalf("quiet decision %d = %+v beside the noisy tenant, %+v alone", i, d, alone[i])
		}
	}
	// 10 s at 100/s plus the burst; the clock reaches 9.999 s.
	if admitted < 1000 || admitted > 1010 {
		t.Errorf("noisy admitted %d, want 1000..1010 (10 s × 100/s + burst 10)", admitted)
	}
	if refused < 8900 {
		t.Errorf("noisy refused %d, want ≥ 8900 of 10000", refused)
	}
}

// TestFairnessConcurrent hammers the noisy tenant from other goroutines
// (Allow, Wait and Set) while the quiet tenant is charged: the quiet one is
// never refused. Run with -race.
func TestFairnessConcurrent(t *testing.T) {
	clk := newFakeClock()
	clk.sleepF = func(ctx context.Context, d time.Duration) error { return nil }
	l := newTestLimiter(t, clk, Config{MaxTenants: 64, IdleAfter: time.Second})
	mustSet(t, l, "noisy", fairLimits, nil)
	mustSet(t, l, "quiet", fairLimits, nil)

	var stop atomic.Bool
	var wg sync.WaitGroup
	var noisyRefused atomic.Int64
	for g := range 4 {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				switch {
				case g == 0 && i%100 == 0:
					// Live reconfiguration of the noisy tenant.
					_ = l.Set("noisy", fairLimits, map[string]Limits{"writer": {Bytes: Limit{PerSecond: float64(1000 + i%7)}}})
				case g == 1:
					_ = l.Wait(context.Background(), "noisy", "writer", Cost{Requests: 1, Bytes: 10})
				case g == 2:
					// Churn of other tenants: sweeps and evictions.
					l.Allow(fmt.Sprintf("churn-%d", i%500), "", Cost{Requests: 1})
					if i%50 == 0 {
						l.Sweep()
					}
				default:
					if !l.Allow("noisy", "writer", Cost{Requests: 1, Spans: 5}).OK {
						noisyRefused.Add(1)
					}
				}
			}
		})
	}
	for i := range 2000 {
		if d := l.Allow("quiet", "reader", Cost{Requests: 1, Spans: 5}); !d.OK {
			stop.Store(true)
			wg.Wait()
			t.Fatalf("quiet request %d refused: %+v", i, d)
		}
		clk.Advance(20 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	if noisyRefused.Load() == 0 {
		t.Logf("the noisy goroutines were never refused (scheduling); the deterministic test covers it")
	}
}
