package syntax

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestPrintErrorsCaret(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{
			name: "spaces",
			src:  "policy p {\n  window \"24h\"\n}\n",
			want: "x.lll:2:10: expected ':' after entry key \"window\", found string \"24h\"\n" +
				"\t  window \"24h\"\n" +
				"\t         ^\n",
		},
		{
			name: "tabs kept so the caret lines up",
			src:  "policy p {\n\t\twindow \"24h\"\n}\n",
			want: "x.lll:2:10: expected ':' after entry key \"window\", found string \"24h\"\n" +
				"\t\t\twindow \"24h\"\n" +
				"\t\t\t       ^\n",
		},
		{
			name: "multi-byte characters before the column",
			src:  "policy p {\n  é: \"x\" \"y\"\n}\n",
			want: "x.lll:2:3: unexpected character 'é' (U+00E9)\n" +
				"\t  é: \"x\" \"y\"\n" +
				"\t  ^\n",
		},
		{
			name: "CRLF line endings",
			src:  "policy p {\r\n  a: 1 2\r\n}\r\n",
			want: "x.lll:2:8: unexpected number 2 after entry \"a\" (expected an operator, the next item or '}')\n" +
				"\t  a: 1 2\n" +
				"\t       ^\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("x.lll", []byte(tt.src))
			if got := FormatErrors(err, []byte(tt.src)); got != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestErrorList(t *testing.T) {
	var l ErrorList
	if l.Err() != nil {
		t.Fatal("empty list: Err() != nil")
	}
	l.Add("b.lll", Pos{Offset: 1, Line: 1, Col: 2}, "b1")
	l.Add("a.lll", Pos{Offset: 30, Line: 3, Col: 5}, "a3 second")
	l.Add("a.lll", Pos{Offset: 28, Line: 3, Col: 3}, "a3 first")
	l.Add("a.lll", Pos{Offset: 0, Line: 1, Col: 1}, "a1")
	l.RemoveMultiples()
	var got []string
	for _, e := range l {
		got = append(got, e.Error())
	}
	want := []string{"a.lll:1:1: a1", "a.lll:3:3: a3 first", "b.lll:1:2: b1"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := l.Error(), "a.lll:1:1: a1 (and 2 more errors)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	var back ErrorList
	if !errors.As(fmt.Errorf("check: %w", l.Err()), &back) || len(back) != 3 {
		t.Errorf("errors.As through a wrap: got %v", back)
	}
}

func TestTooManyErrors(t *testing.T) {
	var b strings.Builder
	b.WriteString("policy p {\n")
	for i := 0; i < 50; i++ {
		fmt.Fprintf(&b, "  k%d: 1 2\n", i)
	}
	b.WriteString("}\n")
	_, err := Parse("x.lll", []byte(b.String()))
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("got %v, want an ErrorList", err)
	}
	if got, want := len(list), MaxErrors+1; got != want {
		t.Fatalf("got %d errors, want %d", got, want)
	}
	if last := list[len(list)-1]; last.Msg != "too many errors" {
		t.Errorf("last error %q, want too many errors", last.Msg)
	}
}

func TestNestingBounded(t *testing.T) {
	for _, open := range []string{"(", "[", "-", "not ", "{a: "} {
		src := "policy p { a: " + strings.Repeat(open, 10000) + "1 }"
		_, err := Parse("x.lll", []byte(src))
		if err == nil || !strings.Contains(err.Error(), "nested too deeply") {
			t.Errorf("%q×10000: got %v, want nested too deeply", open, err)
		}
	}
	ok := "policy p { a: " + strings.Repeat("(", maxDepth-1) + "1" + strings.Repeat(")", maxDepth-1) + " }"
	if _, err := Parse("x.lll", []byte(ok)); err != nil {
		t.Errorf("%d levels: %v", maxDepth-1, err)
	}
}

func TestPartialFile(t *testing.T) {
	src := "policy p {\n  a: 1\n  b 2\n  c: 3\n}\nvalidator { }\nrouter r {\n  route \"x\"\n"
	f, err := Parse("x.lll", []byte(src))
	if err == nil {
		t.Fatal("no error")
	}
	var names []string
	for _, b := range f.Blocks {
		var keys []string
		for _, it := range b.Items {
			keys = append(keys, itemName(it))
		}
		names = append(names, b.Name.Name+"("+strings.Join(keys, ",")+")")
	}
	if got, want := strings.Join(names, " "), `p(entry "a",entry "c") r(route)`; got != want {
		t.Errorf("partial file: got %s, want %s", got, want)
	}
}

func TestScanInvalidUTF8(t *testing.T) {
	for _, src := range []string{"policy p { a: \"\xff\" }", "policy p { a: 1 } # \xfe", "\xffpolicy p {}"} {
		if _, err := Parse("x.lll", []byte(src)); err == nil || !strings.Contains(err.Error(), "UTF-8") {
			t.Errorf("%q: got %v, want an invalid UTF-8 error", src, err)
		}
	}
	// A byte order mark at the start is skipped.
	if _, err := Parse("x.lll", []byte("\xef\xbb\xbfpolicy p {}")); err != nil {
		t.Errorf("BOM: %v", err)
	}
}

func TestKeywordsMatchDocs(t *testing.T) {
	want := "policy validator router pipeline schema alarm require allow field as when derive on emit with on_fail route and or not in matches true false null"
	if got := keywordList(); got != want {
		t.Errorf("keywords:\ngot  %s\nwant %s", got, want)
	}
}

func TestPrintErrorsFiles(t *testing.T) {
	srcs := map[string][]byte{
		"a.lll": []byte("policy a {\n  x 1\n}\n"),
		"b.lll": []byte("policy b {\n  y: 1 2\n}\n"),
	}
	var list ErrorList
	for _, name := range []string{"a.lll", "b.lll"} {
		_, err := Parse(name, srcs[name])
		var l ErrorList
		if !errors.As(err, &l) {
			t.Fatalf("%s: %v", name, err)
		}
		list = append(list, l...)
	}
	var b strings.Builder
	PrintErrorsFiles(&b, list, func(f string) []byte { return srcs[f] })
	want := "a.lll:2:5: expected ':' after entry key \"x\", found number 1\n\t  x 1\n\t    ^\n" +
		"b.lll:2:8: unexpected number 2 after entry \"y\" (expected an operator, the next item or '}')\n\t  y: 1 2\n\t       ^\n"
	if got := b.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}
