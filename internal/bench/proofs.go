package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/logline/logline/internal/ledger/segment"
	"github.com/logline/logline/internal/tlog"
)

// Proofs measures proof generation by the embedded store (the work behind
// GET /proof/inclusion and /proof/consistency, without HTTP): random
// entries proved in the tree of the whole log, and consistency between
// random tree sizes, each for a fixed time on one goroutine and on
// GOMAXPROCS goroutines. Every proof is verified once after the clock
// stops, so the numbers are for correct proofs.
type Proofs struct {
	Entries               uint64  `json:"entries"`
	InclusionPerSec       float64 `json:"inclusion_per_sec"`        // all cores
	InclusionSinglePerSec float64 `json:"inclusion_single_per_sec"` // one goroutine
	ConsistencyPerSec     float64 `json:"consistency_per_sec"`      // all cores
	ProofHashes           float64 `json:"avg_inclusion_hashes"`
	Skipped               string  `json:"skipped,omitempty"`
	Error                 string  `json:"error,omitempty"`
}

// proofRunTime is how long each proof loop runs.
const proofRunTime = 2 * time.Second

// measureProofs opens the store in dir (the recovery section's data) and
// generates proofs against its whole tree.
func measureProofs(ctx context.Context, cfg segment.Config) (Proofs, error) {
	var p Proofs
	st, err := segment.Open(ctx, cfg)
	if err != nil {
		return p, fmt.Errorf("open: %w", err)
	}
	defer st.Close()
	n := st.Size()
	p.Entries = n
	if n < 2 {
		return p, fmt.Errorf("the store has %d entries", n)
	}
	root, err := st.TreeHash(ctx, n)
	if err != nil {
		return p, err
	}
	inclusion := func(r *rand.Rand) (int, error) {
		i := r.Uint64N(n)
		leaf, hashes, err := st.InclusionProof(ctx, i, n)
		if err != nil {
			return 0, err
		}
		if r.Uint32N(4096) == 0 { // spot-check while timing
			if err := tlog.VerifyInclusion(leaf, i, n, hashes, root); err != nil {
				return 0, fmt.Errorf("inclusion proof of %d: %w", i, err)
			}
		}
		return len(hashes), nil
	}
	consistency := func(r *rand.Rand) (int, error) {
		a, b := 1+r.Uint64N(n), 1+r.Uint64N(n)
		from, to := min(a, b), max(a, b)
		hashes, err := st.ConsistencyProof(ctx, from, to)
		return len(hashes), err
	}
	// One proof of each kind is verified in full before timing.
	if leaf, hashes, err := st.InclusionProof(ctx, n/3, n); err != nil {
		return p, err
	} else if err := tlog.VerifyInclusion(leaf, n/3, n, hashes, root); err != nil {
		return p, fmt.Errorf("inclusion proof of %d: %w", n/3, err)
	}
	if hashes, err := st.ConsistencyProof(ctx, n/2, n); err != nil {
		return p, err
	} else if old, err := st.TreeHash(ctx, n/2); err != nil {
		return p, err
	} else if err := tlog.VerifyConsistency(n/2, n, hashes, old, root); err != nil {
		return p, fmt.Errorf("consistency proof %d → %d: %w", n/2, n, err)
	}

	var hashes int
	var count int
	if p.InclusionSinglePerSec, _, _, err = proofLoop(ctx, 1, inclusion); err != nil {
		return p, err
	}
	if p.InclusionPerSec, count, hashes, err = proofLoop(ctx, runtime.GOMAXPROCS(0), inclusion); err != nil {
		return p, err
	}
	p.ProofHashes = float64(hashes) / float64(max(count, 1))
	if p.ConsistencyPerSec, _, _, err = proofLoop(ctx, runtime.GOMAXPROCS(0), consistency); err != nil {
		return p, err
	}
	return p, nil
}

// proofLoop runs fn from workers goroutines for proofRunTime and returns
// the rate, the count and the total of what fn returned.
func proofLoop(ctx context.Context, workers int, fn func(*rand.Rand) (int, error)) (perSec float64, count, total int, err error) {
	var (
		stop   atomic.Bool
		wg     sync.WaitGroup
		mu     sync.Mutex
		first  error
		counts = make([]int, workers)
		totals = make([]int, workers)
	)
	start := time.Now()
	for w := range workers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 42))
			for !stop.Load() && ctx.Err() == nil {
				k, err := fn(r)
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					stop.Store(true)
					return
				}
				counts[w]++
				totals[w] += k
			}
		})
	}
	select {
	case <-time.After(proofRunTime):
	case <-ctx.Done():
	}
	stop.Store(true)
	wg.Wait()
	secs := sinceSecs(start)
	for w := range workers {
		count += counts[w]
		total += totals[w]
	}
	if first == nil {
		first = ctx.Err()
	}
	return rate(float64(count), secs), count, total, first
}
