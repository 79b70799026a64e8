package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/logline/logline/internal/ledger/ledgertest"
	"github.com/logline/logline/internal/ledger/segment"
	"github.com/logline/logline/internal/span"
)

// tamperLedger writes a stopped ledger of 40 entries in batches of 4,
// spread over several segments, and returns its directory and segment
// files in order.
func tamperLedger(t *testing.T) (string, []string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	store, err := segment.Open(context.Background(), segment.Config{Dir: dir, SegmentSize: 4 << 10, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	for b := range 10 {
		var spans []*span.Span
		for i := range 4 {
			n := b*4 + i
			spans = append(spans, ledgertest.MustSpan(t, fmt.Sprintf(`{"id":"e%02d","tenant":"t%d","who":"ana","did":"baked","this":"bread:%d","when":"2026-11-25T10:00:00Z"}`, n, n%2, n)))
		}
		if outs, err := store.Append(context.Background(), spans); err != nil || outs[0].Err != nil {
			t.Fatalf("append: %v %v", err, outs)
		}
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	segs, err := filepath.Glob(filepath.Join(dir, "ledger", "segments", "*.ndjson"))
	if err != nil || len(segs) < 3 {
		t.Fatalf("want several segments, got %v (%v)", segs, err)
	}
	return dir, segs
}

// lineOf returns the byte range of the line of seg holding `"id":"<id>"`.
func lineOf(t *testing.T, data []byte, id string) (int, int) {
	t.Helper()
	i := bytes.Index(data, []byte(`"id":"`+id+`"`))
	if i < 0 {
		t.Fatalf("entry %s not found", id)
	}
	start := bytes.LastIndexByte(data[:i], '\n') + 1
	end := i + bytes.IndexByte(data[i:], '\n') + 1
	return start, end
}

// TestVerifyTamperMatrix: every kind of damage to acknowledged data is
// caught by verify --data, which exits 1 and names the log index.
func TestVerifyTamperMatrix(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, segs []string) // on the first segment unless said
		index  int64                             // the log index the report must name
	}{
		{"flip one byte", func(t *testing.T, segs []string) {
			edit(t, segs[0], func(d []byte) []byte {
				s, _ := lineOf(t, d, "e01")
				i := s + bytes.Index(d[s:], []byte(`"did":"baked"`)) + 7
				d[i] ^= 0x01
				return d
			})
		}, 1},
		{"delete a line", func(t *testing.T, segs []string) {
			edit(t, segs[0], func(d []byte) []byte {
				s, e := lineOf(t, d, "e02")
				return append(d[:s:s], d[e:]...)
			})
		}, 2},
		{"swap two lines", func(t *testing.T, segs []string) {
			edit(t, segs[0], func(d []byte) []byte {
				s1, e1 := lineOf(t, d, "e01")
				s2, e2 := lineOf(t, d, "e02")
				out := append([]byte{}, d[:s1]...)
				out = append(out, d[s2:e2]...)
				out = append(out, d[s1:e1]...)
				return append(out, d[e2:]...)
			})
		}, 1},
		{"truncate a sealed segment", func(t *testing.T, segs []string) {
			edit(t, segs[0], func(d []byte) []byte {
				s, _ := lineOf(t, d, "e03")
				return d[:s]
			})
		}, 0}, // the batch e00..e03 has lost its last entry and commit line
		{"flip a byte in a later segment", func(t *testing.T, segs []string) {
			edit(t, segs[1], func(d []byte) []byte {
				s, e := lineOf(t, d, firstID(t, d))
				i := s + bytes.Index(d[s:e], []byte(`"who":"ana"`)) + 7
				d[i] = 'X'
				return d
			})
		}, -1}, // the first entry of segment 2: its index is read from the file
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, segs := tamperLedger(t)
			want := tc.index
			if want < 0 {
				d, _ := os.ReadFile(segs[1])
				var e struct {
					LogIndex int64 `json:"log_index"`
				}
				s, end := lineOf(t, d, firstID(t, d))
				if err := json.Unmarshal(d[s:end], &e); err != nil {
					t.Fatal(err)
				}
				want = e.LogIndex
			}
			tc.tamper(t, segs)
			out, _, code := runMain(t, context.Background(), nil, "", "verify", "--data", dir, "--json")
			var res verifyResult
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatalf("exit %d, bad JSON: %v\n%s", code, err, out)
			}
			p := res.Problem
			if code != ExitFailed || res.OK || p == nil || p.LogIndex == nil || *p.LogIndex != want {
				t.Fatalf("exit %d, want 1 naming log index %d; got problem %+v", code, want, p)
			}
		})
	}
}

// firstID returns the id of the first entry line of a segment.
func firstID(t *testing.T, d []byte) string {
	t.Helper()
	i := bytes.Index(d, []byte(`"id":"`))
	if i < 0 {
		t.Fatal("no entry in segment")
	}
	i += len(`"id":"`)
	return string(d[i : i+bytes.IndexByte(d[i:], '"')])
}

func edit(t *testing.T, path string, fn func([]byte) []byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, fn(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
