package quota

import (
	"math"
	"time"
)

// maxDelay caps a computed wait (a tiny rate would overflow a Duration).
const maxDelay = time.Duration(math.MaxInt64 / 2)

// bucket is one token bucket. Times are nanoseconds since the Limiter's
// epoch. It is not safe for concurrent use: the owning entry's mutex
// guards it.
type bucket struct {
	limit  Limit   // as configured; detects changes in Set
	perNs  float64 // tokens per nanosecond; 0: unlimited
	burst  float64
	tokens float64 // may be negative: debt from a charge larger than what was there
	last   int64   // time of the last refill
}

// newBucket returns a full bucket for lim, or an unlimited one.
func newBucket(lim Limit, now int64) bucket {
	if lim.Unlimited() {
		return bucket{limit: lim}
	}
	b := float64(lim.burst())
	return bucket{limit: lim, perNs: lim.PerSecond / 1e9, burst: b, tokens: b, last: now}
}

func (b *bucket) unlimited() bool { return b.perNs == 0 }

// slack absorbs float rounding, so that waiting exactly the delay that
// delay returned is always enough: a charge may pass a few parts in 10^11
// of the burst (or debt) short.
func (b *bucket) slack() float64 { return 1e-9 + 1e-11*(b.burst+max(0, -b.tokens)) }

// advance refills the bucket up to now. A clock that went backwards
// refills nothing.
func (b *bucket) advance(now int64) {
	if now <= b.last {
		return
	}
	b.tokens = min(b.burst, b.tokens+float64(now-b.last)*b.perNs)
	b.last = now
}

// delay returns how long until a charge of n fits (0: it fits now). A
// charge larger than the burst fits a full bucket. Call advance first.
func (b *bucket) delay(n int64) time.Duration {
	need := min(float64(n), b.burst)
	deficit := need - b.tokens
	if deficit <= b.slack() {
		return 0
	}
	// Shave a part in 10^12 off before rounding up, so that a wait of
	// exactly 100 ms does not come out as 100.000001 ms; slack covers it.
	d := math.Ceil(deficit / b.perNs * (1 - 1e-12))
	if d >= float64(maxDelay) {
		return maxDelay
	}
	return max(1, time.Duration(d))
}

// take charges n, possibly into debt.
func (b *bucket) take(n int64) { b.tokens -= float64(n) }

// refund gives back n taken earlier.
func (b *bucket) refund(n int64) { b.tokens = min(b.burst, b.tokens+float64(n)) }

// full reports whether the bucket will have refilled completely at now.
func (b *bucket) full(now int64) bool {
	if b.unlimited() {
		return true
	}
	t := b.tokens
	if now > b.last {
		t += float64(now-b.last) * b.perNs
	}
	return t >= b.burst-b.slack()
}

// reconfigure applies lim. An unchanged limit leaves the bucket alone; a
// changed one keeps its tokens, capped at the new burst; a bucket that
// becomes limited starts full.
func (b *bucket) reconfigure(lim Limit, now int64) {
	switch {
	case lim == b.limit:
		return
	case lim.Unlimited() || b.unlimited():
		*b = newBucket(lim, now)
		return
	}
	b.advance(now)
	b.limit = lim
	b.perNs = lim.PerSecond / 1e9
	b.burst = float64(lim.burst())
	b.tokens = min(b.tokens, b.burst)
}

// buckets are the three buckets of one scope, indexed like dimensionNames.
type buckets [numDims]bucket

func newBuckets(l Limits, now int64) *buckets {
	var bs buckets
	for d, lim := range l.each() {
		bs[d] = newBucket(lim, now)
	}
	return &bs
}

func (bs *buckets) reconfigure(l Limits, now int64) {
	for d, lim := range l.each() {
		bs[d].reconfigure(lim, now)
	}
}

func (bs *buckets) full(now int64) bool {
	for d := range bs {
		if !bs[d].full(now) {
			return false
		}
	}
	return true
}
