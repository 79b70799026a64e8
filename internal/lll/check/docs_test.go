package check

import (
	"os"
	"strings"
	"testing"

	"github.com/logline/logline/internal/lll/syntax"
)

// TestDocsExamplesCompile: every ```lll block of docs/lll.md compiles,
// alone, without errors (the syntax package checks they parse and format
// idempotently).
func TestDocsExamplesCompile(t *testing.T) {
	data, err := os.ReadFile("../../../docs/lll.md")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	n := 0
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != "```lll" {
			continue
		}
		start := i + 1
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
		}
		src := strings.Join(lines[start:i], "\n") + "\n"
		n++
		f, err := syntax.Parse("docs/lll.md", []byte(src))
		if err == nil {
			_, err = Check([]*syntax.File{f}, Options{})
		}
		if err != nil {
			t.Errorf("example at docs/lll.md line %d:\n%s", start, syntax.FormatErrors(err, []byte(src)))
		}
	}
	if n < 3 {
		t.Errorf("found %d lll examples in docs/lll.md, want the examples section's 3 at least", n)
	}
}
