package segment

import (
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// TestHashCacheLevels: the cache holds only the levels its generation
// covers, stops at its bound, and a larger log starts a generation that
// covers fewer levels.
func TestHashCacheLevels(t *testing.T) {
	c := newHashCache()
	c.grow(1000)
	leaf := tlog.StoredHashIndex(0, 5)
	top := tlog.StoredHashIndex(9, 0)
	c.add(leaf, tlog.Hash{1})
	c.add(top, tlog.Hash{2})
	if h, ok := c.get(leaf); !ok || h != (tlog.Hash{1}) {
		t.Fatalf("small log: leaf not cached")
	}
	c.grow(1 << 30) // a billion entries: only levels ≥ 14 are cached
	if _, ok := c.get(top); ok {
		t.Fatal("a new generation must start empty")
	}
	c.add(leaf, tlog.Hash{1})
	c.add(top, tlog.Hash{2})
	high := tlog.StoredHashIndex(14, 0)
	c.add(high, tlog.Hash{3})
	if _, ok := c.get(leaf); ok {
		t.Error("level 0 cached for a billion entries")
	}
	if _, ok := c.get(top); ok {
		t.Error("level 9 cached for a billion entries")
	}
	if h, ok := c.get(high); !ok || h != (tlog.Hash{3}) {
		t.Error("level 14 not cached")
	}
	c.grow(1000) // never goes back down
	if _, ok := c.get(high); !ok {
		t.Error("shrinking the size replaced the generation")
	}
	g := c.gen.Load()
	g.n.Store(hashCacheEntries)
	c.add(tlog.StoredHashIndex(15, 0), tlog.Hash{4})
	if _, ok := c.get(tlog.StoredHashIndex(15, 0)); ok {
		t.Error("added beyond the bound")
	}
	var nilCache *hashCache
	nilCache.add(leaf, tlog.Hash{})
	if _, ok := nilCache.get(leaf); ok {
		t.Error("nil cache returned a hash")
	}
}
