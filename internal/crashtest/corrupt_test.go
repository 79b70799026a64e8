package crashtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// segmentLine is one line of a segment file.
type segmentLine struct {
	off    int64
	data   []byte // without "\n"
	commit bool
}

func readSegmentLines(path string) ([]segmentLine, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var lines []segmentLine
	var off int64
	for len(data) > 0 {
		nl := bytes.IndexByte(data, '\n')
		if nl < 0 {
			return nil, fmt.Errorf("%s: last line at offset %d has no newline", path, off)
		}
		l := segmentLine{off: off, data: data[:nl], commit: bytes.HasPrefix(data, []byte(`{"commit":`))}
		lines = append(lines, l)
		off += int64(nl + 1)
		data = data[nl+1:]
	}
	return lines, nil
}

// TestFlippedByteRefusesStart flips one bit inside the `who` value of an
// acknowledged entry of a stopped ledger: `serve` must exit non-zero
// without listening and name the segment file and the byte offset of
// that line, without changing the file; `verify` must exit 1 naming the
// same offset. With the byte restored, serve starts and everything is
// there.
func TestFlippedByteRefusesStart(t *testing.T) {
	tests := []struct {
		name string
		// pick chooses the entry line to damage among the lines of the
		// first segment.
		pick func(lines []segmentLine) int
		// dropIndex deletes the (derived) index first, so that no
		// watermark proves the damaged batch was acknowledged.
		dropIndex bool
	}{
		{name: "first entry", pick: func([]segmentLine) int { return 0 }},
		{name: "old entry inside a batch", pick: func(lines []segmentLine) int {
			for i := 1; i+1 < len(lines); i++ {
				if !lines[i-1].commit && !lines[i].commit && !lines[i+1].commit {
					return i
				}
			}
			return -1
		}},
		// The index's high-water mark proves the last batch was
		// acknowledged, so damage there is refused too.
		{name: "entry in the last batch", pick: lastBatchEntry},
		// Without the index, a whole, well-formed line with a wrong hash
		// still cannot come from a torn write (a crash cuts or zeroes
		// bytes), so it is refused too.
		{name: "entry in the last batch without index", pick: lastBatchEntry, dropIndex: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			m, r, n := ingestAndStop(t, dir)
			seg := filepath.Join(dir, "ledger", "segments", "00000001.ndjson")
			lines, err := readSegmentLines(seg)
			if err != nil {
				t.Fatal(err)
			}
			i := tt.pick(lines)
			if i < 0 || lines[i].commit {
				t.Fatalf("no entry line to damage among %d lines", len(lines))
			}
			lineOff := lines[i].off
			if tt.dropIndex {
				if err := os.RemoveAll(filepath.Join(dir, "ledger", "index")); err != nil {
					t.Fatal(err)
				}
			}
			orig, err := os.ReadFile(seg)
			if err != nil {
				t.Fatal(err)
			}
			flipAt := flipWho(t, seg, lines[i])
			flipped, err := os.ReadFile(seg)
			if err != nil {
				t.Fatal(err)
			}

			offsetRE := regexp.MustCompile(fmt.Sprintf(`offset\s+%d\b`, lineOff))
			s := spawn(t, dir)
			if err := s.waitListening(startTimeout); err == nil {
				s.kill(t)
				t.Fatalf("serve started on a ledger with a flipped byte at %d; want a refusal\noutput:\n%s", flipAt, s.out)
			}
			if !s.hasExited() {
				t.Fatalf("serve neither listened nor exited")
			}
			out := s.out.String()
			if code := exitCode(s.err); code <= 0 {
				t.Errorf("serve exit status: got %d (%v), want non-zero", code, s.err)
			}
			if !strings.Contains(out, seg) || !offsetRE.MatchString(out) {
				t.Errorf("serve output does not name %s and offset %d:\n%s", seg, lineOff, out)
			}
			if after, err := os.ReadFile(seg); err != nil || sha256.Sum256(after) != sha256.Sum256(flipped) {
				t.Errorf("the refused start changed %s (size %d → %d): %v", seg, len(flipped), len(after), err)
			}

			code, vout := runVerify(t, dir)
			if code != 1 {
				t.Errorf("verify exit status: got %d, want 1\n%s", code, vout)
			}
			if !strings.Contains(vout, seg) || !offsetRE.MatchString(vout) {
				t.Errorf("verify output does not name %s and offset %d:\n%s", seg, lineOff, vout)
			}

			flipByte(t, seg, flipAt)
			if restored, err := os.ReadFile(seg); err != nil || !bytes.Equal(restored, orig) {
				t.Fatalf("restoring the byte did not give back the original segment: %v", err)
			}
			srv := startServer(t, dir)
			v := newView()
			v.refresh(t, srv)
			if got := v.checkAcks(t, m); got != n {
				t.Errorf("acknowledged spans checked: got %d, want %d", got, n)
			}
			v.checkGets(t, srv, m, r, 10, 10)
			srv.stopOK(t)
			verifyOK(t, dir)
		})
	}
}

// ingestAndStop starts serve on dir, appends 4 NDJSON batches of 25 spans
// one after the other (4 commit batches) and stops it gracefully. It
// returns what was acknowledged.
func ingestAndStop(t *testing.T, dir string) (*model, *rand.Rand, int) {
	t.Helper()
	m := newModel(t)
	w := newWorkload(t)
	r := subRand(runSeed(), 4)
	srv := startServer(t, dir)
	next := 0
	for range 4 {
		b, err := w.newBatch(r, 1, 0, &next, true, 25, 300)
		if err != nil {
			t.Fatal(err)
		}
		o := send(context.Background(), srv.http, srv.base, b)
		m.record(b, o, 1, strict)
		if !o.complete(b) {
			t.Fatalf("%s: no complete answer (status %d): %v", b.name, o.status, o.err)
		}
	}
	srv.stopOK(t)
	if m.size() != next {
		t.Fatalf("acknowledged: got %d, want %d", m.size(), next)
	}
	return m, r, next
}

// flipWho flips one bit of the `who` value of the entry line l of the
// segment at path and returns the offset of the flipped byte.
func flipWho(t *testing.T, path string, l segmentLine) int64 {
	t.Helper()
	at := bytes.Index(l.data, []byte(`"who":"`))
	if at < 0 {
		t.Fatalf("line at offset %d has no who: %s", l.off, l.data)
	}
	off := l.off + int64(at+len(`"who":"`)+1)
	before := l.data[at+len(`"who":"`)+1]
	flipByte(t, path, off)
	t.Logf("flipped byte %d (%q → %q) in the entry line at offset %d", off, before, before^0x20, l.off)
	return off
}

// lastBatchEntry picks the entry before the last one of the last batch
// (the lines end with that batch's entries and its commit line).
func lastBatchEntry(lines []segmentLine) int {
	i := len(lines) - 3
	if i < 0 || lines[i].commit || lines[i+1].commit || !lines[i+2].commit {
		return -1
	}
	return i
}

// flipByte flips one bit (0x20: the case of a letter) of the byte at off.
func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x20
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
}
