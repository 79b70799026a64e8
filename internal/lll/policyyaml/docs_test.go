package policyyaml_test

import (
	"os"
	"strings"
	"testing"

	"github.com/logline/logline/internal/lll/check"
	"github.com/logline/logline/internal/lll/policyyaml"
	"github.com/logline/logline/internal/lll/syntax"
)

// TestDocs: every ```yaml block of docs/lll.md is a policy file that
// compiles, and the error shown after the first one is what LogLine
// prints for that file with "two days" as its window.
func TestDocs(t *testing.T) {
	data, err := os.ReadFile("../../../docs/lll.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	var examples []string
	for rest := doc; ; {
		i := strings.Index(rest, "```yaml\n")
		if i < 0 {
			break
		}
		rest = rest[i+len("```yaml\n"):]
		j := strings.Index(rest, "```")
		if j < 0 {
			t.Fatal("unterminated ```yaml block")
		}
		examples = append(examples, rest[:j])
		rest = rest[j:]
	}
	if len(examples) == 0 {
		t.Fatal("docs/lll.md has no ```yaml example")
	}
	for i, ex := range examples {
		f, err := policyyaml.Parse("quality.yaml", []byte(ex))
		if err == nil {
			_, err = check.Check([]*syntax.File{f}, check.Options{})
		}
		if err != nil {
			t.Errorf("example %d:\n%s", i+1, syntax.FormatErrors(err, []byte(ex)))
		}
	}

	// The error example.
	bad := strings.Replace(examples[0], "window: 48h", "window: two days", 1)
	f, err := policyyaml.Parse("quality.yaml", []byte(bad))
	if err == nil {
		_, err = check.Check([]*syntax.File{f}, check.Options{})
	}
	if err == nil {
		t.Fatal("a window of \"two days\" was accepted")
	}
	printed := syntax.FormatErrors(err, []byte(bad))
	if !strings.Contains(doc, "```\n"+printed+"```\n") {
		t.Errorf("docs/lll.md should show the error as LogLine prints it:\n%s", printed)
	}
}
