package checkpointlog

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var day1 = time.Date(2026, 11, 25, 23, 59, 0, 0, time.UTC)

func readAll(t *testing.T, dir string) ([]Record, ReadReport) {
	t.Helper()
	var recs []Record
	rep, err := Read(dir, func(r Record) error {
		recs = append(recs, r)
		return nil
	})
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return recs, rep
}

func sizes(recs []Record) []uint64 {
	var out []uint64
	for _, r := range recs {
		out = append(out, r.Size)
	}
	return out
}

func note(size uint64) []byte {
	return fmt.Appendf(nil, "logline.test/ledger\n%d\nroot=\n\n— logline.test/ledger sig\"\\\n", size)
}

// TestNewestWinsAndCloseWritesLast: within one interval only the first
// and then the newest checkpoint are written; Close writes the last one.
func TestNewestWinsAndCloseWritesLast(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(Config{Dir: dir, Every: time.Hour, Now: func() time.Time { return day1 }})
	if err != nil {
		t.Fatal(err)
	}
	l.Add(1, note(1))
	// Wait until the first one is written, then offer several.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if recs, _ := readAll(t, dir); len(recs) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("first checkpoint not written")
		}
		time.Sleep(5 * time.Millisecond)
	}
	for s := uint64(2); s <= 10; s++ {
		l.Add(s, note(s))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l.Add(11, note(11)) // after Close: dropped
	recs, rep := readAll(t, dir)
	if got := sizes(recs); fmt.Sprint(got) != "[1 10]" {
		t.Fatalf("sizes %v, want [1 10]", got)
	}
	if !bytes.Equal(recs[1].Note, note(10)) || recs[1].Line != 2 || rep.Files != 1 || rep.Torn != "" {
		t.Fatalf("record %+v, report %+v", recs[1], rep)
	}
	if filepath.Base(recs[0].File) != "2026-11-25.ndjson" {
		t.Fatalf("file %s", recs[0].File)
	}
}

// TestSameSizeSkippedAndDays: the re-signed checkpoint of an unchanged
// log is not archived twice; a new UTC day starts a new file.
func TestSameSizeSkippedAndDays(t *testing.T) {
	dir := t.TempDir()
	now := day1
	l, err := Open(Config{Dir: dir, Every: time.Millisecond, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	l.Add(5, note(5))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	now = day1.Add(time.Hour) // next day
	l, err = Open(Config{Dir: dir, Every: time.Millisecond, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	l.Add(6, note(6))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l, err = Open(Config{Dir: dir, Every: time.Millisecond, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	l.Add(6, note(6)) // a new process does not know: written again, harmless
	l.Add(6, note(6))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	recs, rep := readAll(t, dir)
	if got := sizes(recs); fmt.Sprint(got) != "[5 6 6]" || rep.Files != 2 {
		t.Fatalf("sizes %v files %d", got, rep.Files)
	}
}

// TestTornTail: a last line cut by a crash is reported by Read and cut by
// the next Open; the same damage in an older file is an error.
func TestTornTail(t *testing.T) {
	dir := t.TempDir()
	good := `{"size":1,"checkpoint":"a\n"}` + "\n"
	path := filepath.Join(dir, "2026-11-25.ndjson")
	if err := os.WriteFile(path, []byte(good+`{"size":2,"check`), 0o644); err != nil {
		t.Fatal(err)
	}
	recs, rep := readAll(t, dir)
	if len(recs) != 1 || !strings.Contains(rep.Torn, "2026-11-25.ndjson:2") {
		t.Fatalf("records %v, torn %q", sizes(recs), rep.Torn)
	}
	// Not the newest file: corruption, not a torn write.
	if err := os.WriteFile(filepath.Join(dir, "2026-11-26.ndjson"), []byte(good), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(dir, func(Record) error { return nil }); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "2026-11-25.ndjson:2") {
		t.Fatalf("err %v", err)
	}
	if err := os.Remove(filepath.Join(dir, "2026-11-26.ndjson")); err != nil {
		t.Fatal(err)
	}
	l, err := Open(Config{Dir: dir, Now: func() time.Time { return day1 }})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(path); string(data) != good {
		t.Fatalf("after open: %q", data)
	}
}

func TestReadRejectsMalformed(t *testing.T) {
	for _, tc := range []struct{ name, line string }{
		{"not json", "hello"},
		{"missing checkpoint", `{"size":1}`},
		{"missing size", `{"checkpoint":"x"}`},
		{"unknown field", `{"size":1,"checkpoint":"x","root":"y"}`},
		{"negative size", `{"size":-1,"checkpoint":"x"}`},
		{"two values", `{"size":1,"checkpoint":"x"} {}`},
		{"too long", `{"size":1,"checkpoint":"` + strings.Repeat("a", maxLine) + `"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			content := `{"size":1,"checkpoint":"x"}` + "\n" + tc.line + "\n"
			if err := os.WriteFile(filepath.Join(dir, "2026-11-25.ndjson"), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Read(dir, func(Record) error { return nil })
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "2026-11-25.ndjson:2") {
				t.Fatalf("err %v", err)
			}
		})
	}
}

func TestReadMissingDirAndOtherFiles(t *testing.T) {
	if _, rep := readAll(t, filepath.Join(t.TempDir(), "absent")); rep.Files != 0 {
		t.Fatal(rep)
	}
	dir := t.TempDir()
	for _, name := range []string{"README", "notes.ndjson", "2026-13-01.ndjson"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("junk"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if recs, rep := readAll(t, dir); len(recs) != 0 || rep.Files != 0 {
		t.Fatal(recs, rep)
	}
}

func FuzzReadRecords(f *testing.F) {
	f.Add([]byte(`{"size":1,"checkpoint":"a\n"}`+"\n"), true)
	f.Add([]byte(`{"size":18446744073709551615,"checkpoint":""}`+"\n{"), true)
	f.Add([]byte("\n\n"), false)
	f.Fuzz(func(t *testing.T, data []byte, last bool) {
		n := 0
		torn, err := readRecords(bytes.NewReader(data), "f", last, func(r Record) error {
			n++
			if r.Line != n {
				t.Fatalf("line %d for record %d", r.Line, n)
			}
			return nil
		})
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("error does not wrap ErrMalformed: %v", err)
		}
		if torn != "" && (err != nil || !last) {
			t.Fatalf("torn %q with err %v last %v", torn, err, last)
		}
	})
}

// TestSigning: a wrapped signer archives what it signs, and nothing when
// signing fails.
func TestSigning(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(Config{Dir: dir, Every: time.Hour, Now: func() time.Time { return day1 }})
	if err != nil {
		t.Fatal(err)
	}
	fail := errors.New("guard refused")
	sign := l.Signing(func(size uint64, root [32]byte) ([]byte, error) {
		if size == 3 {
			return nil, fail
		}
		return note(size), nil
	})
	if n, err := sign(2, [32]byte{}); err != nil || !bytes.Equal(n, note(2)) {
		t.Fatalf("sign: %q %v", n, err)
	}
	if _, err := sign(3, [32]byte{}); !errors.Is(err, fail) {
		t.Fatalf("sign 3: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if recs, _ := readAll(t, dir); fmt.Sprint(sizes(recs)) != "[2]" {
		t.Fatalf("archived %v, want [2]", sizes(recs))
	}
}
