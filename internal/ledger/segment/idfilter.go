package segment

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/bits-and-blooms/bloom/v3"
	"github.com/cockroachdb/pebble/v2"
)

// The id filter answers the writer's "is (id, tenant) stored?" for the
// common case, a new id, without a Pebble lookup. That lookup walks the
// memtables and opens an iterator on one table per level (bloom filters
// or not), and it was the largest cost of an append: 3.7 µs of 19 µs per
// ingested span, and more for the data plane's derived spans.
//
// The filter is a Bloom filter over the escaped (id, tenant) prefix of
// every id key, so it has no false negatives: a "no" means no version of
// the id is stored, a "maybe" falls back to the index. It lives in
// memory only (about 1.2 bytes per stored span, at most 1% false
// positives while the log is below the filter's capacity) and is built
// by a background scan of the index when the first append comes (a store
// opened only to read never builds it); until the scan is done every
// append looks the index up as before. When the log outgrows the
// filter, a filter of twice the size is built the same way while the old
// one (still without false negatives, only less selective) stays in use.
//
// Only the writer goroutine calls the methods; the scan runs in its own
// goroutine and hands its result over a channel.
type idFilter struct {
	db  *pebble.DB
	log *slog.Logger

	cur      *bloom.BloomFilter // complete; nil until the first scan is done
	curCap   uint               // keys cur was sized for
	curCount uint               // keys added to cur (an estimate: re-adds count twice)

	next      *bloom.BloomFilter // being built: keys committed since its scan began
	nextCap   uint
	nextCount uint
	built     chan scanResult // the scan's filter, or its error

	quit chan struct{}
	wg   sync.WaitGroup

	key []byte // scratch

	// minCap is the smallest capacity built (tests set it low).
	minCap uint
	// sync makes start wait for its scan (tests).
	sync bool
	// started is set by the first start.
	started bool
}

type scanResult struct {
	f    *bloom.BloomFilter
	n    uint
	err  error
	took time.Duration
}

// idFilterFP is the false-positive rate a filter is sized for.
const idFilterFP = 0.01

func newIDFilter(db *pebble.DB, log *slog.Logger, minCap uint) *idFilter {
	return &idFilter{db: db, log: log, quit: make(chan struct{}), minCap: minCap}
}

// idTenantKey is what the filter holds for (id, tenant): the prefix of
// their id keys (idTenantPrefix), written into f.key.
func (f *idFilter) idTenantKey(id, tenant string) []byte {
	f.key = appendStr(appendStr(append(f.key[:0], pfxID, keySep), id), tenant)
	return f.key
}

// mayContain reports whether some version of (id, tenant) may be stored:
// false only when it certainly is not. The writer polls for a finished
// scan once per commit, not here.
func (f *idFilter) mayContain(id, tenant string) bool {
	if f.cur == nil {
		return true
	}
	return f.cur.Test(f.idTenantKey(id, tenant))
}

// add records a committed (id, tenant), and starts a larger filter when
// the current one is full.
func (f *idFilter) add(id, tenant string) {
	k := f.idTenantKey(id, tenant)
	if f.cur != nil {
		f.cur.Add(k)
		f.curCount++
	}
	if f.next != nil {
		f.next.Add(k)
		f.nextCount++
	}
}

// start begins a scan for a filter of capacity keys, unless one is
// running. recent are the committed keys the index may not hold yet; the
// writer adds every key it commits from now on. The scan reads a
// point-in-time view of the index taken here.
func (f *idFilter) start(capacity uint, recent func(yield func(id, tenant string))) {
	if f.next != nil {
		return
	}
	f.started = true
	capacity = max(capacity, f.minCap)
	f.next = bloom.NewWithEstimates(capacity, idFilterFP)
	f.nextCap, f.nextCount = capacity, 0
	recent(func(id, tenant string) {
		f.next.Add(f.idTenantKey(id, tenant))
		f.nextCount++
	})
	lo := []byte{pfxID, keySep}
	it, err := f.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: prefixEnd(lo)})
	f.built = make(chan scanResult, 1)
	if err != nil {
		f.built <- scanResult{err: fmt.Errorf("id filter: %w", err)}
		return
	}
	m, k := f.next.Cap(), f.next.K()
	if f.sync {
		f.built <- scanIDKeys(it, m, k, f.quit)
		return
	}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		f.built <- scanIDKeys(it, m, k, f.quit)
	}()
}

// scanIDKeys adds the (id, tenant) prefix of every id key it iterates to
// a new filter of m bits and k hashes, and closes it.
func scanIDKeys(it *pebble.Iterator, m, k uint, quit <-chan struct{}) (r scanResult) {
	start := time.Now()
	r.f = bloom.New(m, k)
	var last []byte
	n := 0
	for valid := it.First(); valid; valid = it.Next() {
		if n++; n%4096 == 0 {
			select {
			case <-quit:
				it.Close()
				return scanResult{err: context.Canceled}
			default:
			}
		}
		key := it.Key()
		if len(key) < 2+8 {
			it.Close()
			return scanResult{err: fmt.Errorf("id filter: %w at key %q", errBadValue, key)}
		}
		p := key[:len(key)-8] // the seq ends every id key
		if string(p) == string(last) {
			continue // another version of the same id
		}
		last = append(last[:0], p...)
		r.f.Add(p)
		r.n++
	}
	if err := it.Close(); err != nil {
		return scanResult{err: fmt.Errorf("id filter: %w", err)}
	}
	r.took = time.Since(start)
	return r
}

// poll takes a finished scan's filter into use.
func (f *idFilter) poll() {
	if f.next == nil {
		return
	}
	select {
	case r := <-f.built:
		if r.err != nil {
			// The old filter (or none: every append looks the index
			// up) stays in use; the next full one tries again.
			f.log.Warn("segment: id filter scan failed; appends look ids up in the index", "err", r.err)
			f.next = nil
			return
		}
		if err := f.next.Merge(r.f); err != nil {
			f.log.Warn("segment: id filter merge failed", "err", err)
			f.next = nil
			return
		}
		f.cur, f.curCap, f.curCount = f.next, f.nextCap, f.nextCount+r.n
		f.next = nil
		f.log.Debug("segment: id filter ready", "ids", f.curCount, "capacity", f.curCap, "bytes", f.cur.Cap()/8, "scan", r.took)
	default:
	}
}

// full reports whether the current filter holds more keys than it was
// sized for (and no larger one is being built).
func (f *idFilter) full() bool {
	return f.cur != nil && f.next == nil && f.curCount > f.curCap
}

// stop ends a running scan and waits for it.
func (f *idFilter) stop() {
	close(f.quit)
	f.wg.Wait()
}
