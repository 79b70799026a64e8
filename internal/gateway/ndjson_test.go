package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"
)

// got is what a lineReader produced, in a comparable form.
type gotLine struct {
	No      int
	Data    string
	TooLong bool
}

func readAllLines(t testing.TB, lr *lineReader) ([]gotLine, error) {
	t.Helper()
	var out []gotLine
	for {
		ln, err := lr.next()
		if err != nil {
			if err == io.EOF {
				return out, nil
			}
			return out, err
		}
		out = append(out, gotLine{ln.No, string(ln.Data), ln.TooLong})
		if len(out) > 1<<20 {
			t.Fatal("reader does not end")
		}
	}
}

func TestLineReader(t *testing.T) {
	long := strings.Repeat("x", 100)
	tests := []struct {
		name  string
		in    string
		max   int
		bufSz int
		want  []gotLine
	}{
		{"empty", "", 10, 16, nil},
		{"one line with newline", "{}\n", 10, 16, []gotLine{{1, "{}", false}}},
		{"missing final newline", "{}\n{\"a\"", 10, 16, []gotLine{{1, "{}", false}, {2, `{"a"`, false}}},
		{"crlf", "a\r\nb\r\n", 10, 16, []gotLine{{1, "a", false}, {2, "b", false}}},
		{"crlf without final newline", "a\r\nb\r", 10, 16, []gotLine{{1, "a", false}, {2, "b", false}}},
		{"blank lines keep numbers", "\n\na\n \t\r\n\nb\n\n", 10, 16, []gotLine{{3, "a", false}, {6, "b", false}}},
		{"only blanks", "\n\r\n  \n", 10, 16, nil},
		{"bom dropped", "\xef\xbb\xbf{}\n", 10, 16, []gotLine{{1, "{}", false}}},
		{"bom only on first line", "a\n\xef\xbb\xbfb\n", 10, 16, []gotLine{{1, "a", false}, {2, "\xef\xbb\xbfb", false}}},
		{"exactly max", "0123456789\n", 10, 16, []gotLine{{1, "0123456789", false}}},
		{"one over max", "0123456789a\nok\n", 10, 16, []gotLine{{1, "", true}, {2, "ok", false}}},
		{"cr counts toward max", "0123456789\r\n", 10, 16, []gotLine{{1, "", true}}},
		{"long line skipped across buffers", "a\n" + long + "\nb\n", 10, 16, []gotLine{{1, "a", false}, {2, "", true}, {3, "b", false}}},
		{"long last line without newline", "a\n" + long, 10, 16, []gotLine{{1, "a", false}, {2, "", true}}},
		{"line longer than buffer but under max", long + "\n" + long, 200, 16, []gotLine{{1, long, false}, {2, long, false}}},
		{"interior whitespace kept", " {} \n", 10, 16, []gotLine{{1, " {} ", false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, mode := range []string{"whole", "one byte"} {
				var r io.Reader = strings.NewReader(tt.in)
				if mode == "one byte" {
					r = iotest.OneByteReader(r)
				}
				got, err := readAllLines(t, newLineReaderSize(r, tt.max, tt.bufSz))
				if err != nil {
					t.Fatalf("%s: got error %v, want none", mode, err)
				}
				if fmt.Sprint(got) != fmt.Sprint(tt.want) {
					t.Errorf("%s: got %v, want %v", mode, got, tt.want)
				}
			}
		})
	}
}

func TestLineReaderErrors(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name        string
		r           io.Reader
		wantLines   int
		wantNo      int
		wantPartial bool
	}{
		{"error at a line start", io.MultiReader(strings.NewReader("a\nb\n"), iotest.ErrReader(boom)), 2, 3, false},
		{"error inside a line", io.MultiReader(strings.NewReader("a\nbc"), iotest.ErrReader(boom)), 1, 2, true},
		{"error inside a long line", io.MultiReader(strings.NewReader("a\n"+strings.Repeat("z", 50)), iotest.ErrReader(boom)), 1, 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readAllLines(t, newLineReaderSize(tt.r, 10, 16))
			var re *readError
			if !errors.As(err, &re) || !errors.Is(err, boom) {
				t.Fatalf("got error %v, want a *readError wrapping boom", err)
			}
			if len(got) != tt.wantLines {
				t.Errorf("got %d lines, want %d", len(got), tt.wantLines)
			}
			if re.No != tt.wantNo || re.Partial != tt.wantPartial {
				t.Errorf("got readError{No:%d Partial:%v}, want {No:%d Partial:%v}", re.No, re.Partial, tt.wantNo, tt.wantPartial)
			}
			if _, err := newLineReader(strings.NewReader(""), 1).next(); err != io.EOF {
				t.Errorf("got %v after the end, want io.EOF", err)
			}
		})
	}
}

func TestLineReaderMaxBytes(t *testing.T) {
	// http.MaxBytesReader's error surfaces as a *readError naming the line
	// that crossed the limit.
	body := "{}\n{}\n{\"x\":1}\n"
	rec := httptest.NewRecorder()
	r := http.MaxBytesReader(rec, io.NopCloser(strings.NewReader(body)), 8)
	got, err := readAllLines(t, newLineReaderSize(r, 100, 16))
	var mbe *http.MaxBytesError
	var re *readError
	if !errors.As(err, &mbe) || !errors.As(err, &re) {
		t.Fatalf("got error %v, want *readError wrapping *http.MaxBytesError", err)
	}
	if len(got) != 2 || re.No != 3 {
		t.Errorf("got %d lines and error on line %d, want 2 lines and line 3", len(got), re.No)
	}
}

// endless yields n bytes of one long line (no newline until the end)
// without holding them.
type endless struct{ n int64 }

func (e *endless) Read(p []byte) (int, error) {
	if e.n <= 0 {
		return 0, io.EOF
	}
	k := min(int64(len(p)), e.n)
	for i := range p[:k] {
		p[i] = 'x'
	}
	e.n -= k
	if e.n == 0 {
		p[k-1] = '\n'
	}
	return int(k), nil
}

func TestLineReaderBoundedMemory(t *testing.T) {
	const max = 1 << 10
	r := io.MultiReader(&endless{n: 64 << 20}, strings.NewReader("{}\n"))
	lr := newLineReader(r, max)
	got, err := readAllLines(t, lr)
	if err != nil {
		t.Fatalf("got error %v, want none", err)
	}
	want := []gotLine{{1, "", true}, {2, "{}", false}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if c := cap(lr.buf); c > 2*max {
		t.Errorf("got line buffer capacity %d after a 64 MiB line, want <= %d", c, 2*max)
	}
}

// referenceLines is the line reader's contract written the slow way.
func referenceLines(data []byte, max int) []gotLine {
	var out []gotLine
	parts := bytes.Split(data, []byte("\n"))
	if len(parts) > 0 && len(parts[len(parts)-1]) == 0 {
		parts = parts[:len(parts)-1]
	}
	for i, p := range parts {
		if len(p) > max {
			out = append(out, gotLine{i + 1, "", true})
			continue
		}
		if i == 0 {
			p = bytes.TrimPrefix(p, []byte("\xef\xbb\xbf"))
		}
		p = bytes.TrimSuffix(p, []byte("\r"))
		if len(bytes.Trim(p, " \t\r")) == 0 {
			continue
		}
		out = append(out, gotLine{i + 1, string(p), false})
	}
	return out
}

func FuzzLineReader(f *testing.F) {
	for _, s := range []string{"", "\n", "{}\n", "a\r\nb", "\xef\xbb\xbf{}\r\n\n  \nxyz", strings.Repeat("q", 40) + "\nok", "\r\r\n\r"} {
		f.Add([]byte(s), uint8(8), uint8(16))
	}
	f.Fuzz(func(t *testing.T, data []byte, max, bufSz uint8) {
		m := int(max%64) + 1
		b := int(bufSz%48) + 16
		want := referenceLines(data, m)
		for _, mode := range []string{"whole", "one byte"} {
			var r io.Reader = bytes.NewReader(data)
			if mode == "one byte" {
				r = iotest.OneByteReader(r)
			}
			lr := newLineReaderSize(r, m, b)
			got, err := readAllLines(t, lr)
			if err != nil {
				t.Fatalf("%s: got error %v, want none", mode, err)
			}
			if fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", want) {
				t.Fatalf("%s (max %d, buf %d): got %#v, want %#v", mode, m, b, got, want)
			}
			if cap(lr.buf) > 2*m+b {
				t.Fatalf("%s: got buffer capacity %d, want <= %d", mode, cap(lr.buf), 2*m+b)
			}
		}
	})
}
