package llst

import (
	"encoding/binary"
	"sync"

	"github.com/logline/logline/internal/auth"
)

// cache holds verified tokens by the SHA-256 of the token string (the
// token itself is not kept). It is split into shards, each with its own
// lock, so that concurrent requests rarely meet on one; each shard keeps
// at most its share of the entries and evicts the oldest inserted first
// (tokens have one lifetime, so that is roughly the first to expire).
// Entries are never trusted blindly: a hit is rechecked against the
// clock and the key (see Verifier.Verify).
type cache struct {
	shards []cacheShard
	mask   uint64
}

type cacheShard struct {
	mu    sync.RWMutex // guards m, order, next
	m     map[[32]byte]cacheEntry
	order [][32]byte // insertion ring: order[next] is evicted next when full
	next  int
	max   int
	_     [56]byte // pads the shard to 128 bytes: neighbouring locks never share a cache line
}

type cacheEntry struct {
	p        *auth.Principal // shared; Verify returns copies
	deadline int64           // exp + skew, Unix nanoseconds
	key      *ringKey
	slot     int
}

// maxShards is the shard count of a large cache.
const maxShards = 64

func newCache(size int) *cache {
	n := maxShards
	for n > 1 && size/n < 16 {
		n /= 2
	}
	c := &cache{shards: make([]cacheShard, n), mask: uint64(n - 1)}
	per := (size + n - 1) / n
	for i := range c.shards {
		c.shards[i].m = make(map[[32]byte]cacheEntry)
		c.shards[i].max = per
	}
	return c
}

func (c *cache) shard(h *[32]byte) *cacheShard {
	return &c.shards[binary.LittleEndian.Uint64(h[:8])&c.mask]
}

func (c *cache) get(h *[32]byte) (cacheEntry, bool) {
	s := c.shard(h)
	s.mu.RLock()
	e, ok := s.m[*h]
	s.mu.RUnlock()
	return e, ok
}

func (c *cache) put(h *[32]byte, e cacheEntry) {
	s := c.shard(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.m[*h]; ok {
		e.slot = old.slot
		s.m[*h] = e
		return
	}
	if len(s.order) < s.max {
		e.slot = len(s.order)
		s.order = append(s.order, *h)
	} else {
		victim := s.order[s.next]
		if v, ok := s.m[victim]; ok && v.slot == s.next {
			delete(s.m, victim)
		}
		s.order[s.next] = *h
		e.slot = s.next
		s.next = (s.next + 1) % s.max
	}
	s.m[*h] = e
}

// len returns the number of entries (for tests).
func (c *cache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
