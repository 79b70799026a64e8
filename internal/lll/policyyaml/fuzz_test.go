package policyyaml_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/logline/logline/internal/lll/check"
	"github.com/logline/logline/internal/lll/policyyaml"
	"github.com/logline/logline/internal/lll/syntax"
)

// FuzzParse: no input panics or hangs, and what parses prints as .lll
// that parses again.
func FuzzParse(f *testing.F) {
	paths, _ := filepath.Glob("testdata/*.yaml")
	for _, p := range paths {
		if src, err := os.ReadFile(p); err == nil {
			f.Add(src)
		}
	}
	for _, s := range []string{"", "a:\n", "a: {b: [1, -2, .5]}\n", "&a x: *a\n", "- 1\n", "a:\n  b: !!binary AA==\n", "a: [[[[]]]]\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		file, err := policyyaml.Parse("f.yaml", src)
		if err != nil {
			return
		}
		out := syntax.Format(file)
		if _, err := syntax.Parse("f.lll", out); err != nil {
			t.Fatalf("printed .lll does not parse: %v\n%s", err, out)
		}
		_, _ = check.Check([]*syntax.File{file}, check.Options{})
	})
}
