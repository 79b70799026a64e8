package export

import (
	"bufio"
	"errors"
	"fmt"
	"hash"
	"io"
)

// DefaultMaxLineBytes bounds one line of a bundle in Verify: far above an
// entry under the default span limit (64 KiB) and a checkpoint note.
const DefaultMaxLineBytes = 16 << 20

// lineReader reads a bundle line by line with bounded memory.
type lineReader struct {
	r     *bufio.Reader
	max   int
	n     int    // lines read
	bytes int64  // bytes read
	last  []byte // the last line read, with its newline
	long  []byte // a line longer than the reader's buffer
}

func newLineReader(r io.Reader, max int) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 1<<20), max: max}
}

// errNoLine: the bundle ended at a line boundary.
var errNoLine = errors.New("end of bundle")

// next returns the next line without its newline, valid until the next
// call. At the end of the input it returns errNoLine; a last line without
// its newline is an *Error (the bundle was cut short); read failures are
// returned as they are.
func (lr *lineReader) next() ([]byte, error) {
	line, err := lr.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		lr.long = append(lr.long[:0], line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			if len(lr.long) > lr.max {
				return nil, &Error{Line: lr.n + 1, LogIndex: -1, Reason: fmt.Sprintf("line longer than %d bytes", lr.max)}
			}
			line, err = lr.r.ReadSlice('\n')
			lr.long = append(lr.long, line...)
		}
		line = lr.long
	}
	lr.bytes += int64(len(line))
	switch {
	case err == io.EOF && len(line) == 0:
		return nil, errNoLine
	case err == io.EOF:
		lr.n++
		return nil, &Error{Line: lr.n, LogIndex: -1, Reason: "the last line has no newline: the bundle was cut short"}
	case err != nil:
		return nil, fmt.Errorf("read the bundle: %w", err)
	}
	lr.n++
	if len(line)-1 > lr.max {
		return nil, &Error{Line: lr.n, LogIndex: -1, Reason: fmt.Sprintf("line longer than %d bytes", lr.max)}
	}
	lr.last = line
	return line[:len(line)-1], nil
}

// hashLast feeds the last line read, with its newline, to h.
func (lr *lineReader) hashLast(h hash.Hash) { h.Write(lr.last) }
