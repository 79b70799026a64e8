package syntax

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Error is one problem in a source file, at Pos. File names the source
// (as given to Parse) so that Error prints as "file:line:col: message".
type Error struct {
	File string
	Pos  Pos
	Msg  string
}

// Error formats e as "file:line:col: message".
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteByte(':')
	}
	if e.Pos.IsValid() {
		b.WriteString(strconv.Itoa(e.Pos.Line))
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(e.Pos.Col))
		b.WriteByte(':')
	}
	if b.Len() > 0 {
		b.WriteByte(' ')
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrorList is the errors of one run, in source order. The zero value is
// an empty list ready to use. Parse returns one (as an error) when the
// source has problems; use errors.As to get it back.
type ErrorList []*Error

// Add appends an error.
func (l *ErrorList) Add(file string, pos Pos, msg string) {
	*l = append(*l, &Error{File: file, Pos: pos, Msg: msg})
}

// Sort orders the list by file, then position.
func (l ErrorList) Sort() {
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i], l[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line < b.Pos.Line
		}
		return a.Pos.Col < b.Pos.Col
	})
}

// RemoveMultiples sorts the list and keeps only the first error of each
// line: the later ones are most often consequences of the first.
func (l *ErrorList) RemoveMultiples() {
	l.Sort()
	out := (*l)[:0]
	for i, e := range *l {
		if i > 0 {
			prev := out[len(out)-1]
			if prev.File == e.File && prev.Pos.Line == e.Pos.Line {
				continue
			}
		}
		out = append(out, e)
	}
	*l = out
}

// Error is the first error, and how many more there are.
func (l ErrorList) Error() string {
	switch len(l) {
	case 0:
		return "no errors"
	case 1:
		return l[0].Error()
	}
	return fmt.Sprintf("%s (and %d more errors)", l[0], len(l)-1)
}

// Err returns l as an error, or nil when it is empty.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// PrintErrors writes err for a person: for each Error of an ErrorList
// (or a single *Error), "file:line:col: message", then the source line
// and a caret under the column. src is the one source the errors are
// about (nil prints the messages alone); for errors in several files use
// PrintErrorsFiles. Any other error prints as itself.
func PrintErrors(w io.Writer, err error, src []byte) {
	PrintErrorsFiles(w, err, func(string) []byte { return src })
}

// PrintErrorsFiles is PrintErrors for errors in several files: source
// returns the text of the file an error names (nil when unknown).
func PrintErrorsFiles(w io.Writer, err error, source func(file string) []byte) {
	var list ErrorList
	var one *Error
	switch {
	case errors.As(err, &list):
	case errors.As(err, &one):
		list = ErrorList{one}
	default:
		if err != nil {
			fmt.Fprintln(w, err)
		}
		return
	}
	for _, e := range list {
		fmt.Fprintln(w, e)
		if line, caret, ok := sourceLine(source(e.File), e.Pos); ok {
			fmt.Fprintf(w, "\t%s\n\t%s^\n", line, caret)
		}
	}
}

// FormatErrors is PrintErrors into a string.
func FormatErrors(err error, src []byte) string {
	var b strings.Builder
	PrintErrors(&b, err, src)
	return b.String()
}

// sourceLine returns the line of src holding pos and the blank prefix
// that puts a caret under pos's column (tabs kept so it lines up).
func sourceLine(src []byte, pos Pos) (line, caret string, ok bool) {
	if src == nil || !pos.IsValid() || pos.Offset < 0 || pos.Offset > len(src) {
		return "", "", false
	}
	start := pos.Offset - (pos.Col - 1)
	if start < 0 || start > pos.Offset {
		return "", "", false
	}
	end := bytes.IndexByte(src[pos.Offset:], '\n')
	if end < 0 {
		end = len(src)
	} else {
		end += pos.Offset
	}
	l := bytes.TrimRight(src[start:end], "\r")
	var c strings.Builder
	prefix := src[start:pos.Offset]
	for len(prefix) > 0 {
		r, size := utf8.DecodeRune(prefix)
		if r == '\t' {
			c.WriteByte('\t')
		} else {
			c.WriteByte(' ')
		}
		prefix = prefix[size:]
	}
	return string(l), c.String(), true
}
