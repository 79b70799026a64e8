package span

import (
	"testing"
	"time"
)

// TestCorpus decodes every span of the shared corpus and carries each one
// through its stored entry and back.
func TestCorpus(t *testing.T) {
	lines := loadCorpus(t)
	at := time.Date(2025, 1, 2, 3, 4, 5, 600, time.UTC)
	for i, line := range lines {
		s, err := Decode(line, DecodeOptions{})
		if err != nil {
			t.Fatalf("line %d: Decode: %v", i+1, err)
		}
		e, err := ParseEntry(s.AppendEntry(nil, uint64(i), Hash{byte(i)}, at))
		if err != nil {
			t.Fatalf("line %d: ParseEntry: %v", i+1, err)
		}
		if e.Hash != s.Hash || e.ID != s.ID || e.LogIndex != uint64(i) {
			t.Fatalf("line %d: round trip: got (%s, %s, %d), want (%s, %s, %d)", i+1, e.Hash, e.ID, e.LogIndex, s.Hash, s.ID, i)
		}
	}
}
