package check

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/logline/logline/internal/lll/ir"
	"github.com/logline/logline/internal/lll/syntax"
)

var update = flag.Bool("update", false, "rewrite testdata goldens")

// chunk is one program of a testdata file split by "---" lines.
type chunk struct {
	src       []byte // the chunk, padded with blank lines so line numbers match the file
	firstLine int
}

func splitChunks(t *testing.T, data []byte) []chunk {
	if t != nil {
		t.Helper()
	}
	var out []chunk
	lines := strings.SplitAfter(string(data), "\n")
	start := 0
	flush := func(end int) {
		var b strings.Builder
		for i := 0; i < start; i++ {
			b.WriteByte('\n')
		}
		for _, l := range lines[start:end] {
			b.WriteString(l)
		}
		out = append(out, chunk{src: []byte(b.String()), firstLine: start + 1})
	}
	for i, l := range lines {
		if strings.TrimSpace(l) == "---" {
			flush(i)
			start = i + 1
		}
	}
	flush(len(lines))
	return out
}

var marker = regexp.MustCompile(`###\s*(.*)$`)

// expectations returns line → expected message fragment.
func expectations(src []byte) map[int]string {
	want := map[int]string{}
	for i, l := range strings.Split(string(src), "\n") {
		if m := marker.FindStringSubmatch(l); m != nil {
			want[i+1] = strings.TrimSpace(m[1])
		}
	}
	return want
}

func checkSource(name string, src []byte) (*ir.Program, error) {
	f, err := syntax.Parse(name, src)
	if err != nil {
		return nil, err
	}
	return Check([]*syntax.File{f}, Options{})
}

// TestErrors checks every chunk of testdata/errors.lll: each error on a
// line marked ### with the marked text, no error elsewhere, and the whole
// formatted output against testdata/errors.golden.
func TestErrors(t *testing.T) {
	const file = "testdata/errors.lll"
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var golden bytes.Buffer
	for _, c := range splitChunks(t, data) {
		name := fmt.Sprintf("line%d", c.firstLine)
		t.Run(name, func(t *testing.T) {
			_, err := checkSource(filepath.Base(file), c.src)
			var list syntax.ErrorList
			if err != nil && !errors.As(err, &list) {
				t.Fatalf("error %v is not an ErrorList", err)
			}
			fmt.Fprintf(&golden, "--- %s\n%s", name, syntax.FormatErrors(err, c.src))
			want := expectations(c.src)
			got := map[int]bool{}
			for _, e := range list {
				line := e.Pos.Line
				got[line] = true
				w, ok := want[line]
				switch {
				case !ok:
					t.Errorf("unexpected error %s", e)
				case !strings.Contains(e.Msg, w):
					t.Errorf("line %d: got %q, want it to contain %q", line, e.Msg, w)
				}
			}
			for line, w := range want {
				if !got[line] {
					t.Errorf("line %d: no error, want %q", line, w)
				}
			}
		})
	}
	goldenFile := "testdata/errors.golden"
	if *update {
		if err := os.WriteFile(goldenFile, golden.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(goldenFile)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(golden.Bytes(), want) {
		t.Errorf("formatted errors differ from %s (run go test -update and review the diff):\n%s", goldenFile, golden.String())
	}
}
