package syntax

import (
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
			if n.End().Offset < n.Pos().Offset {
				t.Fatalf("%T ends at %v before it starts at %v", n, n.End(), n.Pos())
			}
			return true
		})
	})
}
