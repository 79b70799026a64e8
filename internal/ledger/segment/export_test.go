package segment

import "os"

// WithSyncFunc replaces fdatasync, for fault injection.
func WithSyncFunc(c Config, f func(*os.File) error) Config {
	c.syncFile = f
	return c
}

// SegmentPath exposes the path of segment n.
func SegmentPath(dir string, n uint32) string { return segmentPath(dir, n) }

// WithIDFilter sizes the id filter for at least minCap keys and, with
// sync, builds it before the first append.
func WithIDFilter(c Config, minCap uint, sync bool) Config {
	c.idFilterMinCap, c.idFilterSync = minCap, sync
	return c
}

// WithoutIDFilter makes every append look its id up in the index.
func WithoutIDFilter(c Config) Config {
	c.noIDFilter = true
	return c
}

// IndexLookups counts the (id, tenant, seq) lookups in the index.
func (s *Store) IndexLookups() uint64 { return s.lookups.Load() }
