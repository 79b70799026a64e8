package span

import (
	"errors"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
)

// seeded is a deterministic entropy source.
func seeded() *rand.ChaCha8 {
	return rand.NewChaCha8([32]byte{1, 2, 3})
}

func TestNewIDGenerator(t *testing.T) {
	base := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := []time.Time{base, base, base, base.Add(-time.Hour), base.Add(time.Millisecond), base.Add(time.Second)}
	i := 0
	next := NewIDGenerator(func() time.Time { t := clock[i%len(clock)]; i++; return t }, seeded())
	var prev string
	for n := range len(clock) {
		id := next()
		if !strings.HasPrefix(id, IDPrefix) || len(id) != len(IDPrefix)+ulid.EncodedSize || !validID([]byte(id)) {
			t.Fatalf("id %d: got %q, want s_ + 26 ULID characters", n, id)
		}
		u, err := ulid.ParseStrict(id[len(IDPrefix):])
		if err != nil {
			t.Fatalf("id %d: %q is not a ULID: %v", n, id, err)
		}
		if id <= prev {
			t.Errorf("id %d: got %s after %s, want increasing", n, id, prev)
		}
		wantTime := clock[n]
		if n == 3 { // the clock stepped back: the last time is kept
			wantTime = base
		}
		if got := ulid.Time(u.Time()); !got.Equal(wantTime) {
			t.Errorf("id %d: got time %v, want %v", n, got, wantTime)
		}
		prev = id
	}
}

func TestNewIDGeneratorConcurrent(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	next := NewIDGenerator(func() time.Time { return now }, nil)
	const workers, each = 4, 500
	ids := make([][]string, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for range each {
				ids[w] = append(ids[w], next())
			}
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for w := range workers {
		if !sort.StringsAreSorted(ids[w]) {
			t.Errorf("worker %d: ids not increasing", w)
		}
		for _, id := range ids[w] {
			if seen[id] {
				t.Fatalf("duplicate id %s", id)
			}
			seen[id] = true
		}
	}
}

// failingReader fails every read.
type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("no entropy") }

func TestNewIDGeneratorEntropyFailure(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	next := NewIDGenerator(func() time.Time { return now }, failingReader{})
	a, b := next(), next()
	if a >= b || !validID([]byte(a)) {
		t.Errorf("got %s then %s, want distinct increasing ids", a, b)
	}
	u, err := ulid.ParseStrict(a[len(IDPrefix):])
	if err != nil || !ulid.Time(u.Time()).Equal(now) {
		t.Errorf("got %s (%v), want the time of now", a, err)
	}
}
