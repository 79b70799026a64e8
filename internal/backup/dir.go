package backup

import (
	"bufio"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/logline/logline/internal/durable"
)

// lockDir takes the backup directory's lock (an flock on dir/.lock) so
// that two runs never write one backup. The lock ends with the process.
func lockDir(dir string) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: %w", dir, ErrBusy)
		}
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return func() { f.Close() }, nil
}

// loadState reads dir/backup.json; it returns nil without error when there
// is none. A state that does not parse is an *Error.
func loadState(dir string) (*State, error) {
	data, err := os.ReadFile(filepath.Join(dir, StateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read backup state: %w", err)
	}
	st, err := ParseState(data)
	if err != nil {
		return nil, invalid(StateFile, 0, -1, "%v", err)
	}
	return st, nil
}

// isTemp reports whether name is a temporary file of a run (a chunk being
// written, or a file durable.WriteFile is replacing).
func isTemp(name string) bool {
	return strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp")
}

// checkLayout checks that dir, which holds no backup.json, holds nothing
// but what an interrupted first run may have left.
func checkLayout(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read %s: %w", dir, err)
	}
	for _, e := range ents {
		switch name := e.Name(); {
		case name == lockFile, name == KeyFile, isTemp(name):
		case (name == EntriesDir || name == CheckpointsDir) && e.IsDir():
		default:
			return fmt.Errorf("%s holds %q and no %s: %w", dir, name, StateFile, ErrNotBackup)
		}
	}
	return nil
}

// removeOrphans deletes what an interrupted run left in entries/ and
// checkpoints/: temporary files, and chunks and notes that st (nil: no
// backup yet) does not name. Files of other shapes are left alone.
func removeOrphans(dir string, st *State) error {
	keep := map[string]bool{}
	if st != nil {
		for _, c := range st.Chunks {
			keep[c.File] = true
		}
		for _, c := range st.Checkpoints {
			keep[c.File] = true
		}
	}
	for _, sub := range []struct{ dir, ext string }{{EntriesDir, ".ndjson"}, {CheckpointsDir, ".note"}} {
		ents, err := os.ReadDir(filepath.Join(dir, sub.dir))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", sub.dir, err)
		}
		removed := false
		for _, e := range ents {
			name := e.Name()
			rel := sub.dir + "/" + name
			if e.IsDir() || keep[rel] || !(isTemp(name) || strings.HasSuffix(name, sub.ext)) {
				continue
			}
			if err := os.Remove(filepath.Join(dir, sub.dir, name)); err != nil {
				return fmt.Errorf("remove the leftover %s: %w", rel, err)
			}
			removed = true
		}
		if removed {
			if err := durable.SyncDir(filepath.Join(dir, sub.dir)); err != nil {
				return err
			}
		}
	}
	return nil
}

// chunkWriter writes one chunk: a temporary file, renamed to its final
// name only once complete and fsynced.
type chunkWriter struct {
	dir   string // the backup directory
	first uint64
	n     uint64 // lines written
	f     *os.File
	w     *bufio.Writer
	sum   hash.Hash
	bytes int64
}

func newChunkWriter(dir string, first uint64) (*chunkWriter, error) {
	if err := durable.MkdirAll(filepath.Join(dir, EntriesDir), 0o755); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(filepath.Join(dir, EntriesDir), ".chunk-*.tmp")
	if err != nil {
		return nil, fmt.Errorf("create chunk: %w", err)
	}
	return &chunkWriter{dir: dir, first: first, f: f, w: bufio.NewWriterSize(f, 1<<20), sum: sha256.New()}, nil
}

// add writes one entry line and its newline.
func (c *chunkWriter) add(line []byte) error {
	c.sum.Write(line)
	c.sum.Write([]byte{'\n'})
	if _, err := c.w.Write(line); err != nil {
		return fmt.Errorf("write chunk: %w", err)
	}
	if err := c.w.WriteByte('\n'); err != nil {
		return fmt.Errorf("write chunk: %w", err)
	}
	c.n++
	c.bytes += int64(len(line)) + 1
	return nil
}

// finish makes the chunk durable under its final name: flush, fsync,
// close, rename, fsync the directory.
func (c *chunkWriter) finish() (Chunk, error) {
	ch := Chunk{File: chunkName(c.first, c.first+c.n), First: c.first, End: c.first + c.n, Bytes: c.bytes, SHA256: [32]byte(c.sum.Sum(nil))}
	tmp := c.f.Name()
	err := c.w.Flush()
	if err == nil {
		err = c.f.Chmod(0o644) // like segment files
	}
	if err == nil {
		err = c.f.Sync()
	}
	if cerr := c.f.Close(); err == nil {
		err = cerr
	}
	c.f = nil
	if err == nil {
		err = os.Rename(tmp, filepath.Join(c.dir, ch.File))
	}
	if err != nil {
		os.Remove(tmp)
		return Chunk{}, fmt.Errorf("write %s: %w", ch.File, err)
	}
	return ch, durable.SyncDir(filepath.Join(c.dir, EntriesDir))
}

// abort removes an unfinished chunk.
func (c *chunkWriter) abort() {
	if c != nil && c.f != nil {
		c.f.Close()
		os.Remove(c.f.Name())
		c.f = nil
	}
}
