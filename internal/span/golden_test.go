package span

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// Server fields used for the golden entry lines.
var (
	goldenLogIndex   uint64 = 42
	goldenReceivedAt        = time.Date(2025, 1, 2, 3, 4, 5, 678900000, time.FixedZone("CET", 3600))
)

// TestGolden decodes each testdata/golden/NAME.json (files named sign-*
// are first signed with the RFC 8032 test 1 key) and compares against
// NAME.golden: the canonical stored span, its curr_hash, and the entry line
// for log_index 42, a fixed prev_hash and received_at. Run with -update to
// rewrite the golden files after an intended change; any diff there is a
// change of the stored format and of every hash.
func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/golden/*.json")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no testdata/golden/*.json: %v", err)
	}
	prev := mustHash(t, strings.Repeat("0f", 32))
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".json")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(name, "sign-") {
				if data, err = Sign(data, testKey(t), testOpts); err != nil {
					t.Fatalf("Sign: %v", err)
				}
			}
			s, err := Decode(data, testOpts)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			entry := s.AppendEntry(nil, goldenLogIndex, prev, goldenReceivedAt)
			var got bytes.Buffer
			got.Write(s.Canonical())
			got.WriteString("\n" + s.Hash.String() + "\n")
			got.Write(entry)
			got.WriteString("\n")

			golden := strings.TrimSuffix(in, ".json") + ".golden"
			if *update {
				if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("got\n%s\nwant\n%s", got.Bytes(), want)
			}
			e, err := ParseEntry(entry)
			if err != nil {
				t.Fatalf("ParseEntry: %v", err)
			}
			if e.Hash != s.Hash || e.LogIndex != goldenLogIndex || e.PrevHash != prev || !e.ReceivedAt.Equal(goldenReceivedAt) {
				t.Errorf("ParseEntry: got (%s, %d, %s, %v), want (%s, %d, %s, %v)",
					e.Hash, e.LogIndex, e.PrevHash, e.ReceivedAt, s.Hash, goldenLogIndex, prev, goldenReceivedAt)
			}
		})
	}
}

func mustHash(t testing.TB, s string) Hash {
	t.Helper()
	h, err := ParseHash(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}
