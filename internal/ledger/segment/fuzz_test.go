package segment_test

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/ledger/segment"
)

// validSegment builds a small real segment to seed the fuzzer.
// validSegment reads a small real segment (written by TestSeedSegment with
// -update) to seed the fuzzer without opening a store in every worker.
func validSegment(f *testing.F) []byte {
	data, err := os.ReadFile("testdata/valid-segment.ndjson")
	if err != nil {
		f.Fatal(err)
	}
	return data
}

var update = flag.Bool("update", false, "rewrite testdata golden files")

// TestSeedSegment checks that testdata/valid-segment.ndjson is what the
// current code writes (the received_at clock is fixed), or rewrites it.
func TestSeedSegment(t *testing.T) {
	got := validSegmentT(t)
	if *update {
		if err := os.WriteFile("testdata/valid-segment.ndjson", got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile("testdata/valid-segment.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("segment format changed:\ngot  %s\nwant %s\n(run with -update if intended)", got, want)
	}
}

func validSegmentT(t *testing.T) []byte { return buildSegment(t, t.TempDir()) }

func buildSegment(f testing.TB, dir string) []byte {
	s, err := segment.Open(context.Background(), segment.Config{Dir: dir, Now: func() time.Time { return t0 }})
	if err != nil {
		f.Fatal(err)
	}
	for i, js := range []string{
		`{"id":"a","tenant":"t","who":"w","did":"d","this":"x","when":"2026-01-01T00:00:00Z"}`,
		`{"id":"b","tenant":"t","who":"w","did":"d","this":"x","when":"2026-01-01T00:00:01Z","data":{"n":1.5}}`,
		`{"id":"a","seq":1,"tenant":"t","who":"w","did":"d","this":"y","when":"2026-01-01T00:00:02+02:00"}`,
	} {
		sp := mustDecode(f, js)
		if _, err := s.Append(context.Background(), spanSlice(sp)); err != nil {
			f.Fatalf("append %d: %v", i, err)
		}
	}
	s.Close()
	data, err := os.ReadFile(segment.SegmentPath(dir, 1))
	if err != nil {
		f.Fatal(err)
	}
	return data
}

// FuzzScanSegment feeds arbitrary bytes to the segment scanner (through
// Verify, which reads segments without an index). It must never panic, and
// must either accept the data, report a torn tail, or name corruption.
func FuzzScanSegment(f *testing.F) {
	valid := validSegment(f)
	f.Add(valid)
	f.Add(valid[:len(valid)-7])
	f.Add(append(append([]byte(nil), valid...), "{\"commit\":{\"root\":\"00\",\"size\":1}}\n"...))
	f.Add([]byte("{}\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		segDir := filepath.Join(dir, "ledger", "segments")
		if err := os.MkdirAll(segDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(segDir, "00000001.ndjson"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		rep, err := segment.Verify(context.Background(), dir, segment.VerifyOptions{})
		if err != nil && !errors.Is(err, ledger.ErrCorrupt) {
			t.Fatalf("verify failed with %v, want success or ErrCorrupt", err)
		}
		if err == nil && rep.TornTail == "" && rep.Bytes != int64(len(data)) {
			t.Fatalf("clean verify of %d bytes reports %d", len(data), rep.Bytes)
		}
	})
}

// TestOpenAcceptsWhatVerifyAccepts checks, for the fuzz seeds, that recovery
// agrees with Verify: what verifies opens, keeps its entries, and verifies
// again afterwards.
func TestOpenAcceptsWhatVerifyAccepts(t *testing.T) {
	valid := validSegmentT(t)
	for name, data := range map[string][]byte{
		"valid":        valid,
		"torn":         valid[:len(valid)-7],
		"extra commit": append(append([]byte(nil), valid...), "{\"commit\":{\"root\":\"00\",\"size\":1}}\n"...),
		"empty":        {},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			segDir := filepath.Join(dir, "ledger", "segments")
			os.MkdirAll(segDir, 0o755)
			os.WriteFile(filepath.Join(segDir, "00000001.ndjson"), data, 0o644)
			rep, verr := segment.Verify(context.Background(), dir, segment.VerifyOptions{})
			s, err := segment.Open(context.Background(), segment.Config{Dir: dir})
			if (verr == nil) != (err == nil) {
				t.Fatalf("verify said %v but open said %v", verr, err)
			}
			if err != nil {
				return
			}
			defer s.Close()
			if s.Size() != rep.Entries {
				t.Fatalf("open found %d entries, verify %d", s.Size(), rep.Entries)
			}
		})
	}
}
