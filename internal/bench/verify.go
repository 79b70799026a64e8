package bench

import (
	"crypto/ed25519"
	"crypto/sha256"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// maxVerifies bounds each verify loop in count (it is bounded in time by d).
const maxVerifies = 2_000_000

// verifyRates measures ed25519.Verify of a 32-byte message (what a span
// signature covers: the raw curr_hash) for about d: on one goroutine, then
// on GOMAXPROCS goroutines at once.
func verifyRates(d time.Duration) (single, parallel float64) {
	seed := sha256.Sum256([]byte("logline bench verify key"))
	priv := ed25519.NewKeyFromSeed(seed[:])
	pub := priv.Public().(ed25519.PublicKey)
	msg := sha256.Sum256([]byte("a curr_hash"))
	sig := ed25519.Sign(priv, msg[:])

	// loop counts successful verifications (all of them: the signature is
	// valid) until stop or limit.
	loop := func(stop time.Time, limit int) int {
		n := 0
		for tries := 0; tries < limit; {
			for range 32 {
				if ed25519.Verify(pub, msg[:], sig) {
					n++
				}
			}
			tries += 32
			if time.Now().After(stop) {
				break
			}
		}
		return n
	}
	loop(time.Now().Add(d/10), maxVerifies) // warm up
	start := time.Now()
	n := loop(start.Add(d), maxVerifies)
	single = rate(float64(n), sinceSecs(start))

	procs := runtime.GOMAXPROCS(0)
	var total atomic.Int64
	var wg sync.WaitGroup
	start = time.Now()
	stop := start.Add(d)
	for range procs {
		wg.Go(func() { total.Add(int64(loop(stop, maxVerifies/procs+32))) })
	}
	wg.Wait()
	parallel = rate(float64(total.Load()), sinceSecs(start))
	return single, parallel
}
