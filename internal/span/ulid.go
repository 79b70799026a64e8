package span

import (
	"crypto/rand"
	"io"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
)

// IDPrefix starts every server-assigned span id.
const IDPrefix = "s_"

// NewIDGenerator returns a DecodeOptions.NewID: each call gives "s_" plus a
// ULID whose time is now() and whose ids strictly increase, also within a
// millisecond and when the clock steps back (the last time is kept until
// the clock passes it). entropy must yield random bytes (crypto/rand, or a
// seeded generator in tests; nil means crypto/rand). The function is safe for concurrent use.
func NewIDGenerator(now func() time.Time, entropy io.Reader) func() string {
	if entropy == nil {
		entropy = rand.Reader
	}
	g := &idGenerator{now: now, entropy: ulid.Monotonic(entropy, 0)}
	return g.next
}

type idGenerator struct {
	now func() time.Time

	mu      sync.Mutex // guards the fields below
	entropy *ulid.MonotonicEntropy
	last    ulid.ULID
}

func (g *idGenerator) next() string {
	ms := ulid.Timestamp(g.now())
	g.mu.Lock()
	defer g.mu.Unlock()
	ms = min(max(ms, g.last.Time()), ulid.MaxTime())
	id, err := ulid.New(ms, g.entropy)
	if err != nil {
		// The entropy failed, or overflowed within this millisecond: fall
		// back to zero entropy at this time, counting on from the last id
		// when that is not after it. Ids stay unique and ordered.
		id = ulid.ULID{}
		_ = id.SetTime(ms)
	}
	if id.Compare(g.last) <= 0 {
		id = increment(g.last)
	}
	g.last = id
	var b [len(IDPrefix) + ulid.EncodedSize]byte
	copy(b[:], IDPrefix)
	_ = id.MarshalTextTo(b[len(IDPrefix):])
	return string(b[:])
}

// increment returns id+1 as a 128-bit big-endian number.
func increment(id ulid.ULID) ulid.ULID {
	for i := len(id) - 1; i >= 0; i-- {
		id[i]++
		if id[i] != 0 {
			break
		}
	}
	return id
}
