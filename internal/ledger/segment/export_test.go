package segment

import "os"

// WithSyncFunc replaces fdatasync, for fault injection.
func WithSyncFunc(c Config, f func(*os.File) error) Config {
	c.syncFile = f
	return c
}

// SegmentPath exposes the path of segment n.
func SegmentPath(dir string, n uint32) string { return segmentPath(dir, n) }
