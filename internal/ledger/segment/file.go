package segment

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/logline/logline/internal/durable"
)

const segmentExt = ".ndjson"

func segmentsDir(dir string) string { return filepath.Join(dir, "ledger", "segments") }
func indexDir(dir string) string    { return filepath.Join(dir, "ledger", "index") }

func segmentName(n uint32) string { return fmt.Sprintf("%08d%s", n, segmentExt) }

func segmentPath(dir string, n uint32) string {
	return filepath.Join(segmentsDir(dir), segmentName(n))
}

// listSegments returns the segment numbers in dir, ascending. Numbers must
// be dense from 1: a gap means a segment was lost, which is corruption.
func listSegments(dir string) ([]uint32, error) {
	ents, err := os.ReadDir(segmentsDir(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list segments: %w", err)
	}
	var nums []uint32
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, segmentExt) {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSuffix(name, segmentExt), 10, 32)
		if err != nil || n == 0 || segmentName(uint32(n)) != name {
			return nil, fmt.Errorf("%w: unexpected file %q in %s", errCorruptLayout, name, segmentsDir(dir))
		}
		nums = append(nums, uint32(n))
	}
	sort.Slice(nums, func(i, j int) bool { return nums[i] < nums[j] })
	for i, n := range nums {
		if n != uint32(i+1) {
			return nil, fmt.Errorf("%w: segment %s is missing", errCorruptLayout, segmentName(uint32(i+1)))
		}
	}
	return nums, nil
}

var errCorruptLayout = errors.New("segment layout")

// createSegment creates segment n (which must not exist), fsyncs it and its
// directory, and returns it open for appending.
func createSegment(dir string, n uint32) (*os.File, error) {
	p := segmentPath(dir, n)
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create segment: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("fsync new segment %s: %w", p, err)
	}
	if err := durable.SyncDir(segmentsDir(dir)); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// fdatasync flushes f's data (and the size, which fdatasync includes).
func fdatasync(f *os.File) error {
	for {
		err := unix.Fdatasync(int(f.Fd()))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("fdatasync %s: %w", f.Name(), err)
		}
		return nil
	}
}

// truncateSync cuts f to size and makes the cut durable.
func truncateSync(f *os.File, size int64) error {
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("truncate %s to %d: %w", f.Name(), size, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsync %s after truncate: %w", f.Name(), err)
	}
	return nil
}
