package segment

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"

	"github.com/logline/logline/internal/span"
)

// indexState is the m/state record: how far the index covers the segments.
type indexState struct {
	size uint64   // entries indexed
	end  position // just after the commit line of the last indexed batch
}

func (s indexState) encode() []byte {
	b := binary.AppendUvarint(nil, 1) // record version
	b = binary.AppendUvarint(b, s.size)
	b = binary.AppendUvarint(b, uint64(s.end.seg))
	return binary.AppendUvarint(b, uint64(s.end.off))
}

func decodeIndexState(b []byte) (indexState, error) {
	var vals [4]uint64
	for i := range vals {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return indexState{}, errBadValue
		}
		vals[i] = v
		b = b[n:]
	}
	if vals[0] != 1 || len(b) != 0 || vals[2] > 1<<32-1 || vals[3] > 1<<62 {
		return indexState{}, fmt.Errorf("%w: index state version %d", errBadValue, vals[0])
	}
	return indexState{size: vals[1], end: position{seg: uint32(vals[2]), off: int64(vals[3])}}, nil
}

// quietLogger keeps Pebble's informational chatter out of LogLine's output;
// errors still surface through the calls that fail.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf("pebble: "+format, args...))
}

// DefaultIndexCacheBytes is the default size of the index's block cache.
// Every append looks its (tenant, id, seq) up in the index; with a cache
// too small for the filter and index blocks of a large index, each lookup
// reads them from disk again and sustained ingest drops by half (measured:
// 64 MiB at 1M spans). Pebble allocates the cache as it fills.
const DefaultIndexCacheBytes = 256 << 20

func openIndex(dir string, readOnly bool, cacheBytes int64) (*pebble.DB, error) {
	if cacheBytes <= 0 {
		cacheBytes = DefaultIndexCacheBytes
	}
	cache := pebble.NewCache(cacheBytes)
	defer cache.Unref()
	opts := &pebble.Options{
		Logger:             quietLogger{},
		FormatMajorVersion: pebble.FormatNewest,
		ReadOnly:           readOnly,
		ErrorIfNotExists:   readOnly,
		Cache:              cache,
		// Index keys are partly random (ids, this values, trace ids,
		// event times), so compactions rewrite most of what they touch;
		// they were the largest CPU cost of an append. Larger memtables
		// and letting L0 hold more sublevels before compacting it cut
		// the CPU of appending 2M corpus spans and their 2M derived spans
		// by a quarter (docs/benchmarks.md, "Index compactions"). L0's
		// read amplification matters less since the writer's id lookups
		// go through the id filter.
		MemTableSize:          128 << 20,
		L0CompactionThreshold: 8,
		L0StopWritesThreshold: 32,
	}
	// Bloom filters make the per-span "is this id new?" lookup of the
	// writer a memory-only check in the common case.
	opts.Levels[0].FilterPolicy = bloom.FilterPolicy(10)
	db, err := pebble.Open(indexDir(dir), opts)
	if err != nil {
		return nil, fmt.Errorf("open index %s: %w", indexDir(dir), err)
	}
	return db, nil
}

func readIndexState(db *pebble.DB) (indexState, bool, error) {
	v, closer, err := db.Get(stateKey)
	if errors.Is(err, pebble.ErrNotFound) {
		return indexState{}, false, nil
	}
	if err != nil {
		return indexState{}, false, fmt.Errorf("read index state: %w", err)
	}
	defer closer.Close()
	st, err := decodeIndexState(v)
	if err != nil {
		return indexState{}, false, fmt.Errorf("read index state: %w", err)
	}
	return st, true, nil
}

func readChains(db *pebble.DB) (map[string]span.Hash, error) {
	p := prefix(pfxChain)
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return nil, fmt.Errorf("read chain heads: %w", err)
	}
	defer it.Close()
	chains := make(map[string]span.Hash)
	for it.First(); it.Valid(); it.Next() {
		tenant, ok := unescapeLast(it.Key()[len(p):])
		if !ok || len(it.Value()) != 32 {
			return nil, fmt.Errorf("read chain heads: %w at key %q", errBadValue, it.Key())
		}
		var h span.Hash
		copy(h[:], it.Value())
		chains[tenant] = h
	}
	return chains, it.Error()
}

// unescapeLast decodes an appendStr-encoded string that fills b exactly.
func unescapeLast(b []byte) (string, bool) {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] != escapeByte {
			out = append(out, b[i])
			continue
		}
		if i+1 >= len(b) {
			return "", false
		}
		switch b[i+1] {
		case 0xFF:
			out = append(out, escapeByte)
			i++
		case 0x01:
			return string(out), i+2 == len(b)
		default:
			return "", false
		}
	}
	return "", false
}

// indexBatch adds the index keys of one committed batch to b.
//
// Keys are added grouped by kind (all id keys, then all tenant keys, …):
// within a group they are mostly ascending, which keeps Pebble's memtable
// inserts next to each other.
func indexBatch(db pebble.Reader, b *pebble.Batch, first uint64, entries []indexedEntry, end position, size uint64) error {
	var key, val []byte
	leaves := make([][32]byte, len(entries))
	for i := range entries {
		leaves[i] = entries[i].leaf
	}
	if err := addTreeHashes(db, b, first, leaves); err != nil {
		return err
	}
	set := func(k, v []byte) error { return b.Set(k, v, nil) }
	if len(entries) > 0 {
		if err := set(batchKey(first), entries[0].loc.append(nil)); err != nil {
			return err
		}
	}
	for i := range entries {
		e := &entries[i]
		iv := idValue{index: first + uint64(i), loc: e.loc, hash: e.hash}
		if err := set(idKey(e.id, e.tenant, e.seq), iv.encode()); err != nil {
			return err
		}
	}
	for _, kind := range []byte{pfxTenant, pfxThis, pfxType, pfxTrace, pfxWhen} {
		for i := range entries {
			e := &entries[i]
			key = secondaryKey(key[:0], kind, e, first+uint64(i))
			if key == nil {
				continue
			}
			val = e.loc.append(val[:0])
			if err := set(key, val); err != nil {
				return err
			}
		}
	}
	heads := make(map[string]span.Hash, 4)
	for i := range entries {
		heads[entries[i].tenant] = entries[i].hash
	}
	for t, h := range heads {
		if err := set(chainKey(t), h[:]); err != nil {
			return err
		}
	}
	return set(stateKey, indexState{size: size, end: end}.encode())
}

// secondaryKey appends to dst the key of kind for entry e at log index idx,
// or returns nil when e has no such key: no trace id, or the default
// entity type "span" (queries for it walk the tenant keys instead, which
// saves a key on most spans).
func secondaryKey(dst []byte, kind byte, e *indexedEntry, idx uint64) []byte {
	dst = append(dst, kind, keySep)
	dst = appendStr(dst, e.tenant)
	switch kind {
	case pfxTenant:
	case pfxThis:
		dst = appendStr(dst, e.this)
	case pfxType:
		if e.entityType == span.DefaultEntityType {
			return nil
		}
		dst = appendStr(dst, e.entityType)
	case pfxTrace:
		if e.traceID == "" {
			return nil
		}
		dst = appendStr(dst, e.traceID)
	case pfxWhen:
		dst = appendTime(dst, e.when)
	}
	return appendU64(dst, idx)
}

// indexedEntry is what the index needs of an entry.
type indexedEntry struct {
	id, tenant, this, entityType, traceID string
	seq                                   uint64
	when                                  time.Time
	hash                                  span.Hash
	leaf                                  [32]byte // Merkle leaf hash of the line
	loc                                   location
}

func newIndexedEntry(s *span.Span, loc location, leaf [32]byte) indexedEntry {
	et := s.EntityType
	if et == "" {
		et = span.DefaultEntityType
	}
	return indexedEntry{
		id: s.ID, tenant: s.Tenant, this: s.This, entityType: et, traceID: s.TraceID,
		seq: s.Seq, when: s.When, hash: s.Hash, loc: loc, leaf: leaf,
	}
}

// closeAll closes c and joins its error with err.
func closeAll(err error, c io.Closer) error {
	if cerr := c.Close(); cerr != nil && err == nil {
		return cerr
	}
	return err
}
