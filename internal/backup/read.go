package backup

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// maxLine bounds one entry line with its newline, as the segment format
// does.
const maxLine = 1 << 20

// chunkReader reads the entry lines of a backup's chunks in log order and
// checks each chunk's shape: complete lines, as many as its range says,
// and the byte count and SHA-256 backup.json records. Problems are
// *Errors naming the file, line and log index.
type chunkReader struct {
	dir    string
	chunks []Chunk

	i     int // current chunk; len(chunks) at the end
	f     *os.File
	br    *bufio.Reader
	sum   hash.Hash
	bytes int64
	line  int // lines returned from the current chunk
}

func newChunkReader(dir string, chunks []Chunk) *chunkReader {
	return &chunkReader{dir: dir, chunks: chunks, sum: sha256.New()}
}

// where returns the file, line number and log index of the last line next
// returned.
func (r *chunkReader) where() (string, int, uint64) {
	c := &r.chunks[r.i]
	return c.File, r.line, c.First + uint64(r.line) - 1
}

// next returns the next entry line without its newline, valid until the
// next call, or io.EOF after the last chunk.
func (r *chunkReader) next() ([]byte, error) {
	for {
		if r.i == len(r.chunks) {
			return nil, io.EOF
		}
		c := &r.chunks[r.i]
		if r.f == nil {
			if err := r.open(c); err != nil {
				return nil, err
			}
		}
		line, err := r.br.ReadSlice('\n')
		r.sum.Write(line)
		r.bytes += int64(len(line))
		n := r.line + 1
		idx := int64(c.First) + int64(n) - 1
		switch {
		case err == nil && uint64(n) > c.End-c.First:
			return nil, invalid(c.File, n, idx, "the chunk holds more than the %d entries of its range [%d, %d)", c.End-c.First, c.First, c.End)
		case err == nil:
			r.line = n
			return line[:len(line)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			return nil, invalid(c.File, n, idx, "line longer than %d bytes", maxLine-1)
		case err != io.EOF:
			return nil, fmt.Errorf("read %s: %w", c.File, err)
		case len(line) > 0:
			return nil, invalid(c.File, n, idx, "incomplete last line (%d bytes without a newline): the file was truncated", len(line))
		case uint64(r.line) < c.End-c.First:
			return nil, invalid(c.File, n, idx, "the chunk ends after %d of the %d entries of its range [%d, %d): lines are missing or the file was truncated",
				r.line, c.End-c.First, c.First, c.End)
		}
		if err := r.closeChunk(c); err != nil {
			return nil, err
		}
	}
}

func (r *chunkReader) open(c *Chunk) error {
	f, err := os.Open(filepath.Join(r.dir, c.File))
	if errors.Is(err, fs.ErrNotExist) {
		return invalid(c.File, 0, int64(c.First), "missing: backup.json names it for the entries [%d, %d)", c.First, c.End)
	}
	if err != nil {
		return fmt.Errorf("open %s: %w", c.File, err)
	}
	r.f = f
	if r.br == nil {
		r.br = bufio.NewReaderSize(f, maxLine)
	} else {
		r.br.Reset(f)
	}
	r.sum.Reset()
	r.bytes, r.line = 0, 0
	return nil
}

// closeChunk checks the size and hash of a chunk read to its end.
func (r *chunkReader) closeChunk(c *Chunk) error {
	r.f.Close()
	r.f = nil
	if r.bytes != c.Bytes {
		return invalid(c.File, 0, -1, "%d bytes, backup.json says %d: the file changed after the backup (entries [%d, %d))", r.bytes, c.Bytes, c.First, c.End)
	}
	if sum := r.sum.Sum(nil); !bytes.Equal(sum, c.SHA256[:]) {
		return invalid(c.File, 0, -1, "SHA-256 %x, backup.json says %x: the file changed after the backup (entries [%d, %d))", sum, c.SHA256, c.First, c.End)
	}
	r.i++
	return nil
}

// close releases the open chunk, if any.
func (r *chunkReader) close() {
	if r.f != nil {
		r.f.Close()
		r.f = nil
	}
}
