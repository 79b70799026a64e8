package backup

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/logline/logline/internal/tlog"
)

// sampleState is a consistent state of n entries ("leaf i") in chunks of
// at most per entries, one checkpoint per chunk.
func sampleState(t testing.TB, n, per uint64) *State {
	t.Helper()
	tree := treeFactory.NewEmptyRange(0)
	st := &State{Origin: testOrigin}
	taken := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for first := uint64(0); first < n || len(st.Checkpoints) == 0; first += per {
		end := min(first+per, n)
		for i := first; i < end; i++ {
			leaf := tlog.LeafHash(fmt.Appendf(nil, "leaf %d", i))
			if err := tree.Append(leaf[:], nil); err != nil {
				t.Fatal(err)
			}
		}
		if end > first {
			st.Chunks = append(st.Chunks, Chunk{File: chunkName(first, end), First: first, End: end, Bytes: int64(100 * (end - first)), SHA256: sha256.Sum256(fmt.Append(nil, first))})
		}
		st.Checkpoints = append(st.Checkpoints, CheckpointRef{Size: end, File: checkpointName(end), Taken: taken.Add(time.Duration(first) * time.Second)})
	}
	st.Size, st.Root, st.Frontier = n, rangeRoot(tree), frontierOf(tree)
	return st
}

func TestStateRoundTrip(t *testing.T) {
	for _, n := range []uint64{0, 1, 7, 64, 1000} {
		st := sampleState(t, n, 300)
		data := st.Marshal()
		got, err := ParseState(data)
		if err != nil {
			t.Fatalf("n=%d: %v\n%s", n, err, data)
		}
		if again := got.Marshal(); !bytes.Equal(again, data) {
			t.Errorf("n=%d: round trip changed backup.json:\n%s\n%s", n, data, again)
		}
	}
	// The documented shape.
	data := string(sampleState(t, 3, 2).Marshal())
	for _, want := range []string{
		`"version": 1`, `"origin": "logline.test/backup"`, `"size": 3`, `"frontier": [`,
		`"file": "checkpoints/00000000000000000002.note"`, `"taken": "2026-01-02T03:04:07Z"`,
		`"file": "entries/00000000000000000002-00000000000000000003.ndjson"`, `"first": 2`, `"end": 3`, `"bytes": 100`, `"sha256": "`,
	} {
		if !strings.Contains(data, want) {
			t.Errorf("backup.json lacks %s:\n%s", want, data)
		}
	}
}

func TestParseStateRejects(t *testing.T) {
	good := string(sampleState(t, 10, 4).Marshal())
	st := sampleState(t, 10, 4)
	for _, tt := range []struct {
		name, old, new, want string
	}{
		{"version", `"version": 1`, `"version": 2`, "version 2"},
		{"no version", `"version": 1,`, ``, "required"},
		{"origin with a space", `"origin": "logline.test/backup"`, `"origin": "a b"`, "not a log name"},
		{"root not base64", `"root": "` + b64(st.Root), `"root": "!!` + b64(st.Root)[2:], "base64"},
		{"root not canonical", `"root": "` + b64(st.Root), `"root": "` + b64(st.Root)[:42] + "B=", "base64"},
		{"frontier short", `"frontier": [`, `"frontier": ["` + b64(st.Root) + `",`, "frontier"},
		{"gap between chunks", `"first": 4`, `"first": 5`, "contiguous"},
		{"chunk name", chunkName(0, 4), chunkName(0, 5), "want"},
		{"path traversal", chunkName(0, 4), "../../etc/passwd", "want"},
		{"sha256 upper case", fmt.Sprintf("%x", st.Chunks[0].SHA256), strings.ToUpper(fmt.Sprintf("%x", st.Chunks[0].SHA256)), "sha256"},
		{"checkpoint order", checkpointName(4), checkpointName(9), "want"},
		{"trailing data", "\n}\n", "\n}\n{}", "after the JSON"},
		{"not JSON", "{", "[", "not a backup state"},
		{"null chunks", `"chunks": [`, `"chunks": null, "x": [`, "unknown field"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(good, tt.old) {
				t.Fatalf("sample lacks %q", tt.old)
			}
			_, err := ParseState([]byte(strings.Replace(good, tt.old, tt.new, 1)))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error saying %q", err, tt.want)
			}
		})
	}
}

func FuzzParseState(f *testing.F) {
	for _, n := range []uint64{0, 1, 5, 33} {
		f.Add(sampleState(f, n, 8).Marshal())
	}
	f.Add([]byte(`{"version":1,"origin":"o","size":0,"root":"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=","frontier":[],"checkpoints":[{"size":0,"file":"checkpoints/00000000000000000000.note","taken":"2026-01-01T00:00:00Z"}],"chunks":[]}`))
	f.Add([]byte(`{"version":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := ParseState(data)
		if err != nil {
			return
		}
		// Whatever parses is consistent and survives a round trip.
		out := st.Marshal()
		again, err := ParseState(out)
		if err != nil {
			t.Fatalf("marshalled state does not parse: %v\n%s", err, out)
		}
		if !bytes.Equal(again.Marshal(), out) {
			t.Fatalf("round trip changed the state:\n%s\n%s", out, again.Marshal())
		}
		if r, err := st.tree(); err != nil || rangeRoot(r) != st.Root {
			t.Fatalf("parsed a state whose frontier does not give its root")
		}
		var end uint64
		for _, c := range st.Chunks {
			if c.First != end || c.File != chunkName(c.First, c.End) {
				t.Fatalf("parsed a state with a bad chunk %+v", c)
			}
			end = c.End
		}
		if end != st.Size || st.Checkpoints[len(st.Checkpoints)-1].Size != st.Size {
			t.Fatalf("parsed a state whose chunks or checkpoints do not end at its size")
		}
	})
}
