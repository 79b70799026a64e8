package cli

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLineReader(t *testing.T) {
	long := strings.Repeat("x", 100)
	tests := []struct {
		name  string
		input string
		want  []string // "!" marks a too-long line
	}{
		{"empty", "", nil},
		{"one line", "a\n", []string{"a"}},
		{"no final newline", "a\nb", []string{"a", "b"}},
		{"crlf", "a\r\nb\r\n", []string{"a", "b"}},
		{"blank lines kept", "a\n\n  \nb\n", []string{"a", "", "  ", "b"}},
		{"too long in the middle", "a\n" + long + "\nb\n", []string{"a", "!", "b"}},
		{"too long at the end", "a\n" + long, []string{"a", "!"}},
		{"limit exactly", strings.Repeat("y", 40) + "\n", []string{strings.Repeat("y", 40)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A 16-byte buffer makes long lines arrive in pieces.
			lr := &lineReader{r: bufio.NewReaderSize(strings.NewReader(tt.input), 16), max: 40}
			var got []string
			for {
				line, no, err := lr.next()
				if errors.Is(err, io.EOF) {
					break
				}
				if no != len(got)+1 {
					t.Fatalf("line number %d, want %d", no, len(got)+1)
				}
				switch {
				case errors.Is(err, errLineTooLong):
					got = append(got, "!")
				case err != nil:
					t.Fatal(err)
				default:
					got = append(got, string(line))
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("lines (-want +got):\n%s", diff)
			}
			if lr.read != int64(len(tt.input)) {
				t.Errorf("read %d bytes, want %d", lr.read, len(tt.input))
			}
		})
	}
}
