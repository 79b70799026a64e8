package syntax

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/parse/*.txt and testdata/fmt/*.out.lll from the actual output")

// caseName is the file name each golden case is parsed under; expected
// errors name it.
const caseName = "x.lll"

// goldenCase is one case of a testdata/parse file (see testdata/README.md).
type goldenCase struct {
	src    string   // the source, "### " lines included (they are comments)
	errors []string // expected errors, without the "### " prefix
	tree   string   // expected dump when the source parses
}

const (
	caseSep  = "---"
	treeSep  = "==="
	errorTag = "### "
)

func splitCases(data string) []goldenCase {
	var cases []goldenCase
	for _, chunk := range splitLines(data, caseSep) {
		parts := splitLines(chunk, treeSep)
		c := goldenCase{src: parts[0]}
		if len(parts) > 1 {
			c.tree = strings.Join(parts[1:], treeSep+"\n")
		}
		for _, line := range strings.Split(c.src, "\n") {
			if strings.HasPrefix(line, errorTag) {
				c.errors = append(c.errors, strings.TrimPrefix(line, errorTag))
			}
		}
		cases = append(cases, c)
	}
	return cases
}

// splitLines splits data at lines that are exactly sep.
func splitLines(data, sep string) []string {
	lines := strings.SplitAfter(data, "\n")
	var parts []string
	var cur strings.Builder
	for _, l := range lines {
		if strings.TrimRight(l, "\n") == sep {
			parts = append(parts, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteString(l)
	}
	return append(parts, cur.String())
}

// stripErrorLines removes the "### " lines (at the end of a case).
func stripErrorLines(src string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(src, "\n") {
		if !strings.HasPrefix(l, errorTag) {
			b.WriteString(l)
		}
	}
	return b.String()
}

func joinCases(cases []goldenCase) string {
	var b strings.Builder
	for i, c := range cases {
		if i > 0 {
			b.WriteString(caseSep + "\n")
		}
		src := stripErrorLines(c.src)
		b.WriteString(src)
		for _, e := range c.errors {
			b.WriteString(errorTag + e + "\n")
		}
		if c.tree != "" {
			b.WriteString(treeSep + "\n")
			b.WriteString(c.tree)
		}
	}
	return b.String()
}

func TestParseGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/parse/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/parse/*.txt: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			cases := splitCases(string(data))
			for i := range cases {
				c := &cases[i]
				// The "### " lines are at the end of the case: leaving
				// them out moves no earlier position.
				src := stripErrorLines(c.src)
				f, err := Parse(caseName, []byte(src))
				var gotErrs []string
				var list ErrorList
				if errors.As(err, &list) {
					for _, e := range list {
						gotErrs = append(gotErrs, e.Error())
					}
				} else if err != nil {
					t.Fatalf("case %d: Parse returned %T, want ErrorList", i+1, err)
				}
				gotTree := ""
				if err == nil {
					gotTree = DumpString(f)
				}
				if *update {
					c.errors, c.tree = gotErrs, gotTree
					continue
				}
				if strings.Join(gotErrs, "\n") != strings.Join(c.errors, "\n") {
					t.Errorf("case %d (line %d of %s): errors\ngot:\n%s\nwant:\n%s", i+1, caseLine(cases, i), file,
						strings.Join(gotErrs, "\n"), strings.Join(c.errors, "\n"))
				}
				if gotTree != c.tree {
					t.Errorf("case %d (line %d of %s): tree\ngot:\n%s\nwant:\n%s", i+1, caseLine(cases, i), file, gotTree, c.tree)
				}
				if err == nil {
					checkIdempotent(t, src)
				}
			}
			if *update {
				if err := os.WriteFile(file, []byte(joinCases(cases)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// caseLine is the line of the golden file where case i starts.
func caseLine(cases []goldenCase, i int) int {
	line := 1
	for _, c := range cases[:i] {
		line += strings.Count(c.src, "\n") + 1
		if c.tree != "" {
			line += strings.Count(c.tree, "\n") + 1
		}
	}
	return line
}

// checkIdempotent checks that Format(Parse(Format(x))) == Format(x) and
// that formatting keeps the tree (positions aside) and every comment.
func checkIdempotent(t *testing.T, src string) {
	t.Helper()
	once, err := FormatSource(caseName, []byte(src))
	if err != nil {
		t.Fatalf("FormatSource: %v", err)
	}
	twice, err := FormatSource(caseName, once)
	if err != nil {
		t.Fatalf("formatted source does not parse: %v\n%s", err, once)
	}
	if !bytes.Equal(once, twice) {
		t.Fatalf("Format is not idempotent:\nonce:\n%s\ntwice:\n%s", once, twice)
	}
	f1, _ := Parse(caseName, []byte(src))
	f2, _ := Parse(caseName, once)
	if a, b := shape(f1), shape(f2); a != b {
		t.Fatalf("formatting changed the tree:\nbefore:\n%s\nafter:\n%s", a, b)
	}
	if a, b := commentTexts(f1), commentTexts(f2); a != b {
		t.Fatalf("formatting changed the comments:\nbefore:\n%s\nafter:\n%s", a, b)
	}
}

var extentRE = regexp.MustCompile(` \d+:\d+-\d+:\d+$`)

// shape is the tree dump without positions.
func shape(f *File) string {
	lines := strings.Split(DumpString(f), "\n")
	for i, l := range lines {
		lines[i] = extentRE.ReplaceAllString(l, "")
	}
	return strings.Join(lines, "\n")
}

func commentTexts(f *File) string {
	var texts []string
	for _, c := range f.Comments {
		texts = append(texts, commentText(c))
	}
	return strings.Join(texts, "\n")
}

// TestFormatGolden formats testdata/fmt/NAME.in.lll and compares with
// NAME.out.lll, which must itself be canonical.
func TestFormatGolden(t *testing.T) {
	ins, err := filepath.Glob("testdata/fmt/*.in.lll")
	if err != nil || len(ins) == 0 {
		t.Fatalf("no testdata/fmt/*.in.lll: %v", err)
	}
	for _, in := range ins {
		name := strings.TrimSuffix(filepath.Base(in), ".in.lll")
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			got, err := FormatSource(filepath.Base(in), src)
			if err != nil {
				t.Fatalf("FormatSource: %v", err)
			}
			outFile := strings.TrimSuffix(in, ".in.lll") + ".out.lll"
			if *update {
				if err := os.WriteFile(outFile, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(outFile)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Format(%s):\ngot:\n%s\nwant:\n%s", in, got, want)
			}
			checkIdempotent(t, string(src))
			again, err := FormatSource(filepath.Base(outFile), want)
			if err != nil || !bytes.Equal(again, want) {
				t.Errorf("%s is not canonical (err %v):\n%s", outFile, err, again)
			}
		})
	}
}

// TestDocsExamples parses every ```lll block of docs/lll.md: each must
// parse and format idempotently.
func TestDocsExamples(t *testing.T) {
	data, err := os.ReadFile("../../../docs/lll.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := fencedBlocks(string(data), "lll")
	t.Logf("docs/lll.md: %d lll examples", len(blocks))
	for i, b := range blocks {
		if _, err := Parse("docs/lll.md", []byte(b.text)); err != nil {
			t.Errorf("example %d (docs/lll.md line %d) does not parse:\n%s", i+1, b.line, FormatErrors(err, []byte(b.text)))
			continue
		}
		checkIdempotent(t, b.text)
	}
}

type fenced struct {
	line int
	text string
}

// fencedBlocks returns the contents of the ```lang blocks of a Markdown
// text, with the line each starts on.
func fencedBlocks(md, lang string) []fenced {
	var out []fenced
	lines := strings.Split(md, "\n")
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != "```"+lang {
			continue
		}
		start := i + 1
		var b strings.Builder
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
			b.WriteString(lines[i])
			b.WriteByte('\n')
		}
		out = append(out, fenced{line: start + 1, text: b.String()})
	}
	return out
}
