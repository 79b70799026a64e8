package gateway

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// lineReader splits an NDJSON body into lines with bounded memory whatever
// the body's size: a line longer than max is reported as too long and
// skipped up to the next newline without being buffered.
//
// Lines end at "\n"; a "\r" before it is dropped (CRLF). Blank lines (only
// spaces, tabs and "\r") are skipped but counted, so line numbers match
// what an editor shows. The last line may lack its newline. A UTF-8 byte
// order mark at the start of the body is dropped.
type lineReader struct {
	br   *bufio.Reader
	max  int
	buf  []byte // assembles a line that spans several bufio fills; cap <= max
	no   int    // number of the last line returned (or being read)
	done bool
}

// line is one non-blank line.
type line struct {
	No      int    // 1-based line number in the body
	Data    []byte // without the line end; valid until the next call to next
	TooLong bool   // longer than max: Data is nil
}

// readError is a failure of the underlying reader (not io.EOF) while
// reading line No; Partial says whether some of that line had been read.
type readError struct {
	No      int
	Partial bool
	Err     error
}

func (e *readError) Error() string { return e.Err.Error() }
func (e *readError) Unwrap() error { return e.Err }

// readerBufSize is the bufio buffer of a lineReader. Lines longer than it
// are assembled in lineReader.buf.
const readerBufSize = 64 << 10

func newLineReader(r io.Reader, max int) *lineReader {
	return newLineReaderSize(r, max, readerBufSize)
}

// newLineReaderSize is newLineReader with a given bufio size (tests use
// tiny ones to cross buffer boundaries everywhere).
func newLineReaderSize(r io.Reader, max, bufSize int) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(r, bufSize), max: max}
}

// next returns the next non-blank line, io.EOF at the end of the body, or
// a *readError when the underlying reader fails.
func (lr *lineReader) next() (line, error) {
	for {
		if lr.done {
			return line{}, io.EOF
		}
		lr.no++
		data, tooLong, err := lr.readLine()
		if err != nil && err != io.EOF {
			lr.done = true
			return line{}, &readError{No: lr.no, Partial: len(data) > 0 || tooLong, Err: err}
		}
		if err == io.EOF {
			lr.done = true
			if len(data) == 0 && !tooLong {
				return line{}, io.EOF
			}
		}
		if lr.no == 1 {
			data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
		}
		if tooLong {
			return line{No: lr.no, TooLong: true}, nil
		}
		data = bytes.TrimSuffix(data, []byte("\r"))
		if isBlank(data) {
			continue
		}
		return line{No: lr.no, Data: data}, nil
	}
}

// readLine reads one line without its "\n". It returns io.EOF with the
// last (unterminated, possibly empty) line at the end of input.
func (lr *lineReader) readLine() (data []byte, tooLong bool, err error) {
	lr.buf = lr.buf[:0]
	for {
		chunk, err := lr.br.ReadSlice('\n')
		full := errors.Is(err, bufio.ErrBufferFull)
		if err == nil {
			chunk = chunk[:len(chunk)-1] // drop "\n"
		}
		if !tooLong {
			switch {
			case len(lr.buf)+len(chunk) > lr.max:
				tooLong = true
				lr.buf = lr.buf[:0]
			case err == nil && len(lr.buf) == 0:
				return chunk, false, nil // the common case: no copy
			default:
				lr.buf = append(lr.buf, chunk...)
			}
		}
		switch {
		case err == nil:
			if tooLong {
				return nil, true, nil
			}
			return lr.buf, false, nil
		case full:
			continue
		case tooLong:
			return nil, true, err
		default:
			return lr.buf, false, err
		}
	}
}

func isBlank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}
