package syntax

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// maxFuzzInput bounds fuzz inputs: the parser is linear, so large inputs
// only slow the fuzzer down.
const maxFuzzInput = 4096

func fuzzSeeds(f *testing.F) {
	for _, s := range []string{
		"",
		"policy p { a: 1 }",
		"validator v {\n require field \"when\" as \"rfc3339\"\n on_fail \"reject\"\n}",
		"pipeline p { when features.trajectory\n derive \"e\" on link_open_or_continue() }",
		"router r { route \"x\" when who matches \"a*\" and not (did in [\"a\", \"b\"]) }",
		"alarm a { when -x * 2 % 3 / 4 + 1h30m - 500ms >= span.when[0] }",
		"policy q { m: { a: [1, 2,], \"b c\": {} } } # c",
		"policy p { s: \"\\u00e9\\ud83d\\ude00\\n\" }",
		"policy p { a: 1 < 2 < 3 \n emit: \"x\" }",
		"validator v { emit \"x\" with { a: 1 }",
	} {
		f.Add([]byte(s))
	}
	// Every golden input is a seed too.
	files, _ := filepath.Glob("testdata/fmt/*.lll")
	parse, _ := filepath.Glob("testdata/parse/*.txt")
	for _, name := range files {
		if data, err := os.ReadFile(name); err == nil && len(data) <= maxFuzzInput {
			f.Add(data)
		}
	}
	for _, name := range parse {
		data, err := os.ReadFile(name)
		if err != nil {
			continue
		}
		for _, c := range splitCases(string(data)) {
			f.Add([]byte(stripErrorLines(c.src)))
		}
	}
}

func FuzzLex(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, src []byte) {
		if len(src) > maxFuzzInput {
			return
		}
		s := newScanner(src, func(Pos, string) {})
		last := -1
		for i := 0; ; i++ {
			tok := s.next()
			if tok.pos.Offset <= last && tok.tok != EOF {
				t.Fatalf("token %d at offset %d does not advance past %d", i, tok.pos.Offset, last)
			}
			last = tok.pos.Offset
			if tok.end.Offset < tok.pos.Offset || tok.end.Offset > len(src) {
				t.Fatalf("token %v extent %d-%d out of range", tok.tok, tok.pos.Offset, tok.end.Offset)
			}
			if tok.tok == EOF {
				break
			}
			if string(src[tok.pos.Offset:tok.end.Offset]) != tok.raw {
				t.Fatalf("token raw %q, source has %q", tok.raw, src[tok.pos.Offset:tok.end.Offset])
			}
		}
	})
}

func FuzzParse(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, src []byte) {
		if len(src) > maxFuzzInput {
			return
		}
		file, err := Parse("fuzz.lll", src)
		if file == nil {
			t.Fatal("Parse returned a nil File")
		}
		if err != nil {
			list := err.(ErrorList)
			if len(list) == 0 || len(list) > MaxErrors+1 {
				t.Fatalf("got %d errors", len(list))
			}
			_ = FormatErrors(err, src)
			return
		}
		Inspect(file, func(n Node) bool {
			if n.End().Offset < n.Pos().Offset || n.End().Offset > len(src) {
				t.Fatalf("%T extent %v-%v out of order or range", n, n.Pos(), n.End())
			}
			return true
		})
		// A source that parses formats to one that parses to the same
		// tree, comments and format.
		checkIdempotent(t, string(src))
	})
}

func FuzzFormat(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, src []byte) {
		if len(src) > maxFuzzInput {
			return
		}
		out, err := FormatSource("fuzz.lll", src)
		if err != nil {
			return
		}
		if len(out) > 0 && out[len(out)-1] != '\n' {
			t.Fatalf("output does not end with a newline: %q", out)
		}
		for i, line := range strings.Split(string(out), "\n") {
			if strings.TrimRight(line, " \t") != line {
				t.Fatalf("line %d has trailing space: %q", i+1, line)
			}
			if strings.HasPrefix(strings.TrimLeft(line, " "), "\t") {
				t.Fatalf("line %d is indented with a tab: %q", i+1, line)
			}
		}
		again, err := FormatSource("fuzz.lll", out)
		if err != nil {
			t.Fatalf("formatted source does not parse: %v\n%s", err, out)
		}
		if string(again) != string(out) {
			t.Fatalf("not idempotent:\nonce:\n%s\ntwice:\n%s", out, again)
		}
	})
}
