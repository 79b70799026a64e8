package bench

import (
	"math"
	"slices"
	"time"
)

// percentile returns the q-quantile (0 < q ≤ 1) of sorted by the
// nearest-rank method: the smallest value with at least q of the samples
// at or below it.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// latencyOf fills the percentiles of d (sorted in place).
func latencyOf(l *Latency, d []time.Duration) {
	slices.Sort(d)
	l.P50 = ms(percentile(d, 0.50))
	l.P95 = ms(percentile(d, 0.95))
	l.P99 = ms(percentile(d, 0.99))
	if len(d) > 0 {
		l.Max = ms(d[len(d)-1])
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func sinceSecs(t time.Time) float64 { return time.Since(t).Seconds() }

// rate is n per second, 0 when no time passed.
func rate(n float64, secs float64) float64 {
	if secs <= 0 {
		return 0
	}
	return n / secs
}

// mb is bytes in 10^6.
func mb(b int64) float64 { return float64(b) / 1e6 }
