package eval

import (
	"bufio"
	"bytes"
	"os"
	"testing"

	"github.com/logline/logline/internal/lll/check"
	"github.com/logline/logline/internal/lll/ir"
	"github.com/logline/logline/internal/lll/syntax"
	"github.com/logline/logline/internal/span"
)

const corpusPath = "/work/shared/corpus/receipt.ndjson"

// compile parses and checks src (one file) or fails the test.
func compile(t testing.TB, src string) *ir.Program {
	t.Helper()
	f, err := syntax.Parse("test.lll", []byte(src))
	if err != nil {
		t.Fatalf("parse:\n%s", syntax.FormatErrors(err, []byte(src)))
	}
	p, err := check.Check([]*syntax.File{f}, check.Options{})
	if err != nil {
		t.Fatalf("check:\n%s", syntax.FormatErrors(err, []byte(src)))
	}
	return p
}

// machine compiles src and prepares it with cfg.
func machine(t testing.TB, src string, cfg Config) *Machine {
	t.Helper()
	m, err := New(compile(t, src), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// corpus returns up to n decoded spans of the public corpus (all when
// n <= 0), skipping the test when the corpus is absent outside CI.
func corpus(t testing.TB, n int) []*span.Span {
	t.Helper()
	data, err := os.ReadFile(corpusPath)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("corpus: %v", err)
		}
		t.Skipf("corpus absent: %v", err)
	}
	var out []*span.Span
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() && (n <= 0 || len(out) < n) {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		sp, err := span.Decode(line, span.DecodeOptions{})
		if err != nil {
			t.Fatalf("corpus line %d: %v", len(out)+1, err)
		}
		out = append(out, sp)
	}
	return out
}

// compileErr parses and checks src, returning the error.
func compileErr(src string) (*ir.Program, error) {
	f, err := syntax.Parse("test.lll", []byte(src))
	if err != nil {
		return nil, err
	}
	return check.Check([]*syntax.File{f}, check.Options{})
}
