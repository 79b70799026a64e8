package cli

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// maxInputLine bounds one NDJSON input line read by sign and ingest. A
// span is at most 64 KiB by default; longer lines are reported, skipped,
// and never buffered whole.
const maxInputLine = 1 << 20

// errLineTooLong marks a line longer than maxInputLine.
var errLineTooLong = fmt.Errorf("line is longer than %d bytes", maxInputLine)

// lineReader reads NDJSON input line by line with bounded memory,
// numbering lines from 1 and counting bytes consumed.
type lineReader struct {
	r    *bufio.Reader
	max  int
	no   int   // number of the last line returned
	read int64 // bytes consumed so far, newlines included
	buf  []byte
}

func newLineReader(r io.Reader, max int) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 64<<10), max: max}
}

// next returns the next line without its line ending (valid until the
// following call) and its number. A line longer than the limit is
// consumed and returned empty with errLineTooLong; io.EOF ends the input.
// A last line without a newline is still a line.
func (lr *lineReader) next() ([]byte, int, error) {
	lr.buf = lr.buf[:0]
	tooLong := false
	for {
		chunk, err := lr.r.ReadSlice('\n')
		lr.read += int64(len(chunk))
		if !tooLong {
			if len(lr.buf)+len(chunk) > lr.max+2 { // +2: the line ending
				tooLong = true
				lr.buf = lr.buf[:0]
			} else {
				lr.buf = append(lr.buf, chunk...)
			}
		}
		switch {
		case err == nil:
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if len(lr.buf) == 0 && !tooLong && len(chunk) == 0 {
				return nil, lr.no, io.EOF
			}
		default:
			return nil, lr.no, err
		}
		lr.no++
		if tooLong {
			return nil, lr.no, errLineTooLong
		}
		line := bytes.TrimSuffix(lr.buf, []byte{'\n'})
		line = bytes.TrimSuffix(line, []byte{'\r'})
		return line, lr.no, nil
	}
}

// blank reports whether line holds only JSON whitespace.
func blank(line []byte) bool {
	return len(bytes.Trim(line, " \t\r\n")) == 0
}
