package check

import (
	"os"
	"testing"

	"github.com/logline/logline/internal/lll/ir"
	"github.com/logline/logline/internal/lll/syntax"
)

// FuzzCheck: whatever parses, the checker never panics, and what it
// accepts is a valid program that encodes and decodes.
func FuzzCheck(f *testing.F) {
	for _, name := range []string{"testdata/seeds.lll", "testdata/errors.lll", "../ir/testdata/sample.lll"} {
		src, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		for _, c := range splitChunks(nil, src) {
			f.Add(c.src)
		}
	}
	f.Add(CanonicalContractSource())
	f.Fuzz(func(t *testing.T, src []byte) {
		file, _ := syntax.Parse("fuzz.lll", src)
		if file == nil {
			return
		}
		p, err := Check([]*syntax.File{file}, Options{})
		if err != nil {
			return
		}
		if _, err := ir.Decode(ir.Encode(p)); err != nil {
			t.Fatalf("accepted program does not round-trip: %v", err)
		}
	})
}
