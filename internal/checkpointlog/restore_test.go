package checkpointlog

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

func TestWriteAll(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "checkpoints")
	var cps []Archived
	for i, at := range []time.Time{day1, day1.Add(30 * time.Second), day1.Add(2 * time.Minute)} {
		cps = append(cps, Archived{Day: at, Size: uint64(10 * (i + 1)), Note: fmt.Appendf(nil, "note %d\n\n— sig\n", i)})
	}
	if err := WriteAll(dir, cps); err != nil {
		t.Fatal(err)
	}
	recs, rep := readAll(t, dir)
	if rep.Files != 2 || len(recs) != 3 {
		t.Fatalf("got %d records in %d files, want 3 in 2", len(recs), rep.Files)
	}
	for i, r := range recs {
		if r.Size != cps[i].Size || string(r.Note) != string(cps[i].Note) {
			t.Errorf("record %d: got size %d note %q, want %d %q", i, r.Size, r.Note, cps[i].Size, cps[i].Note)
		}
	}
	if got, want := filepath.Base(recs[2].File), "2026-11-26.ndjson"; got != want {
		t.Errorf("third record in %s, want %s", got, want)
	}
	if err := WriteAll(dir, cps); err == nil {
		t.Error("WriteAll over an existing archive succeeded")
	}
}
