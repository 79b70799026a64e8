package derive

import (
	"math"
	"time"

	"github.com/logline/logline/internal/lll/ir"
)

// meter is one tenant's exact histogram of earlier scores, optionally
// over a sliding event-time horizon.
type meter struct {
	hist    [101]int64
	n       int64
	horizon time.Duration // 0: every score ever given
	fifo    []scored      // the scores in the histogram, oldest first (horizon only)
	head    int           // first live element of fifo
}

type scored struct {
	at    time.Time
	score int
}

// configure applies the policy's horizon; a change rebuilds nothing
// (scores older than a new, shorter horizon leave at the next evict),
// and turning it off forgets the queue.
func (m *meter) configure(h time.Duration) {
	if h == m.horizon {
		return
	}
	if h == 0 {
		m.fifo, m.head = nil, 0
	}
	m.horizon = h
}

// evict drops the scores closed more than horizon before at.
func (m *meter) evict(at time.Time) {
	if m.horizon <= 0 {
		return
	}
	cut := at.Add(-m.horizon)
	for m.head < len(m.fifo) && m.fifo[m.head].at.Before(cut) {
		m.hist[m.fifo[m.head].score]--
		m.n--
		m.head++
	}
	if m.head > 1024 && m.head*2 > len(m.fifo) {
		m.fifo = append(m.fifo[:0], m.fifo[m.head:]...)
		m.head = 0
	}
}

func (m *meter) add(at time.Time, score int) {
	m.hist[score]++
	m.n++
	if m.horizon > 0 {
		m.fifo = append(m.fifo, scored{at, score})
	}
}

// threshold is the smallest score whose share of earlier scores strictly
// below it is at least the target, raised to min_score; false while
// fewer than min_samples scores are held, or when no score reaches the
// target (ties at the top).
func (m *meter) threshold(q ir.QualityMeter) (int, bool) {
	if m.n == 0 || m.n < int64(q.MinSamples) {
		return 0, false
	}
	// below/n ≥ target/100, as 100·below ≥ target·n: exact for the
	// targets policies can name (pNN, pNN.N) and any realistic n.
	need := float64(q.PercentileTarget * float64(m.n))
	var below int64
	for s := 0; s <= 100; s++ {
		if float64(100*below) >= need {
			return max(s, int(math.Ceil(q.MinScore))), true
		}
		below += m.hist[s]
	}
	return 0, false
}

// quantile is the nearest-rank q-quantile of the held scores, -1 when
// there are none.
func (m *meter) quantile(q float64) int {
	if m.n == 0 {
		return -1
	}
	rank := int64(math.Ceil(q * float64(m.n)))
	rank = max(rank, 1)
	var cum int64
	for s := 0; s <= 100; s++ {
		cum += m.hist[s]
		if cum >= rank {
			return s
		}
	}
	return 100
}
