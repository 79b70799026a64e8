package segment

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/span"
)

// The append path is a two-stage pipeline:
//
//	writer:  take queued requests → check versions → encode entries and the
//	         commit line → one write → one fdatasync → hand the batch on
//	indexer: apply the batch's index keys (one Pebble batch, unsynced) →
//	         publish the new size → answer the batch's requests
//
// Nothing is answered before its bytes are durable and indexed. While the
// indexer applies batch k, the writer already builds and syncs batch k+1;
// it sees batch k's versions through the recent table until they are in
// the index.

// indexJob is a durable batch on its way to the index.
type indexJob struct {
	first   uint64
	entries []indexedEntry
	end     position
	size    uint64
	root    [32]byte // Merkle root at size
	reqs    []*appendReq
}

// writer is the only goroutine that touches the active segment.
func (s *Store) writer() {
	jobs := make(chan indexJob, 1)
	indexerDone := make(chan struct{})
	go func() {
		defer close(indexerDone)
		s.indexer(jobs)
	}()
	defer func() {
		close(jobs)
		<-indexerDone
		if s.ids != nil {
			s.ids.stop()
		}
		close(s.done)
	}()
	var batch []*appendReq
	for {
		batch = batch[:0]
		select {
		case r := <-s.queue.Requests():
			batch = append(batch, r)
		case <-s.queue.Quit():
			// Drain what was queued before Close took the lock.
			for {
				select {
				case r := <-s.queue.Requests():
					s.queue.Batch(len(r.spans))
					s.commit([]*appendReq{r}, jobs)
				default:
					return
				}
			}
		}
		n := len(batch[0].spans)
	fill:
		for n < s.cfg.MaxBatchSpans {
			select {
			case r := <-s.queue.Requests():
				batch = append(batch, r)
				n += len(r.spans)
			default:
				break fill
			}
		}
		s.queue.Batch(n)
		s.commit(batch, jobs)
	}
}

// indexer applies durable batches to the index in order, then acknowledges.
func (s *Store) indexer(jobs <-chan indexJob) {
	for j := range jobs {
		var err error
		if s.failed.Load() {
			err = s.stoppedErr()
		} else if err = s.indexCommitted(j.first, j.entries, j.end, j.size); err != nil {
			s.fail(err)
			err = s.stoppedErr()
		} else if err = s.setCheckpointFor(j); err != nil {
			s.fail(err)
			err = s.stoppedErr()
		} else {
			s.indexed.Store(j.size)
			s.publish(j.size)
		}
		if err == nil {
			// Every answered append carries the checkpoint that covers it
			// (a duplicate's original is older, so covered too).
			cp := s.Checkpoint()
			for _, r := range j.reqs {
				for i := range r.out {
					if r.out[i].Err == nil {
						r.out[i].Result.Checkpoint = cp
					}
				}
			}
		}
		for _, r := range j.reqs {
			r.done <- err
		}
	}
}

type idTenant struct{ id, tenant string }

type idTenantSeq struct {
	idTenant
	seq uint64
}

// recentTable remembers the versions of batches that are durable but may
// not be in the index yet. Only the writer goroutine uses it.
type recentTable struct {
	versions map[idTenantSeq]ledger.Result
	latest   map[idTenant]uint64
	batches  []recentBatch // in log order
}

type recentBatch struct {
	end  uint64 // size of the log after the batch
	keys []idTenantSeq
}

func newRecentTable() *recentTable {
	return &recentTable{versions: map[idTenantSeq]ledger.Result{}, latest: map[idTenant]uint64{}}
}

// prune forgets batches the index now covers.
func (t *recentTable) prune(indexed uint64) {
	n := 0
	for _, b := range t.batches {
		if b.end > indexed {
			break
		}
		for _, k := range b.keys {
			delete(t.versions, k)
			if l, ok := t.latest[k.idTenant]; ok && l == k.seq {
				delete(t.latest, k.idTenant)
			}
		}
		n++
	}
	t.batches = t.batches[n:]
}

// each yields the (id, tenant) of every version in the table.
func (t *recentTable) each(yield func(id, tenant string)) {
	for k := range t.versions {
		yield(k.id, k.tenant)
	}
}

func (t *recentTable) add(k idTenantSeq, r ledger.Result) {
	t.versions[k] = r
	t.latest[k.idTenant] = k.seq
}

// stamp returns the received_at of the next batch: now, or the previous
// batch's time when the clock went back (received_at is monotone in log
// order, which export ranges rely on).
func (s *Store) stamp() time.Time {
	now := s.cfg.Now().UTC()
	if now.Before(s.lastReceived) {
		now = s.lastReceived
	}
	s.lastReceived = now
	return now
}

// commit carries out one group commit. Every request gets its answer,
// from here (rejected or failed) or from the indexer (durable).
func (s *Store) commit(reqs []*appendReq, jobs chan<- indexJob) {
	if s.failed.Load() {
		for _, r := range reqs {
			r.done <- s.stoppedErr()
		}
		return
	}
	s.recent.prune(s.indexed.Load())
	switch {
	case s.ids == nil:
	case !s.ids.started:
		// The first append builds the filter (a store opened only to
		// read never does), sized for the log to double first.
		s.ids.start(uint(max(2*s.next, 1)), s.recent.each)
	case s.ids.full():
		s.ids.start(2*s.ids.curCap, s.recent.each)
	}
	if s.ids != nil {
		s.ids.poll()
	}
	var (
		first   = s.next
		next    = first
		now     = s.stamp()
		entries []indexedEntry
		keys    []idTenantSeq
		live    []*appendReq // requests still wanted by their callers
		failed  error
	)
	buf := s.buf[:0]
	start := s.activeOff
	for _, r := range reqs {
		if err := r.ctx.Err(); err != nil {
			r.done <- err // given up before anything was written
			continue
		}
		live = append(live, r)
		for i, sp := range r.spans {
			out := &r.out[i]
			key := idTenantSeq{idTenant{sp.ID, sp.Tenant}, sp.Seq}
			dup, err := s.checkVersion(key, sp)
			if err != nil {
				out.Err = err
				continue
			}
			if dup != nil {
				out.Result = *dup
				out.Result.Duplicate = true
				continue
			}
			prev := s.chain[sp.Tenant]
			off := start + int64(len(buf))
			buf = sp.AppendEntry(buf, next, prev, now)
			line := buf[off-start:]
			loc := location{seg: s.activeSeg, off: off, n: len(line)}
			leaf := leafHash(line)
			buf = append(buf, '\n')
			if err := s.tree.Append(leaf, nil); err != nil && failed == nil {
				failed = fmt.Errorf("merkle append: %w", err)
			}
			s.chain[sp.Tenant] = sp.Hash
			out.Result = ledger.Result{
				ID: sp.ID, Seq: sp.Seq, Tenant: sp.Tenant, LogIndex: next,
				Hash: sp.Hash, PrevHash: prev, ReceivedAt: now, LeafHash: [32]byte(leaf),
			}
			s.recent.add(key, out.Result)
			if s.ids != nil {
				s.ids.add(sp.ID, sp.Tenant)
			}
			keys = append(keys, key)
			entries = append(entries, newIndexedEntry(sp, loc, [32]byte(leaf)))
			next++
		}
	}
	var (
		end  position
		root [32]byte
	)
	if failed == nil && len(entries) > 0 {
		root = [32]byte(rootOf(s.tree))
		buf = appendCommitLine(buf, root[:], next)
		end = position{s.activeSeg, start + int64(len(buf))}
		failed = s.writeAndSync(buf)
	}
	if len(buf) <= 4<<20 {
		s.buf = buf[:0]
	} else {
		s.buf = nil
	}
	if failed != nil {
		// Nothing of this batch is acknowledged, and the writer stops for
		// good: its in-memory tree, chains and recent table are never used
		// again (a restart rebuilds them from the segments), so they are
		// not rolled back.
		s.fail(failed)
		for _, r := range live {
			r.done <- s.stoppedErr()
		}
		return
	}
	if len(entries) > 0 {
		s.activeOff = end.off
		s.next = next
		s.recent.batches = append(s.recent.batches, recentBatch{end: next, keys: keys})
	}
	// The indexer answers in log order, also for batches that wrote
	// nothing (all duplicates or rejected), so that a duplicate is never
	// answered before the original is readable.
	jobs <- indexJob{first: first, entries: entries, end: end, size: next, root: root, reqs: live}
	if s.activeOff >= s.cfg.SegmentSize {
		if err := s.rotate(); err != nil {
			s.fail(err)
		}
	}
}

// checkVersion applies the seq rules to sp. It returns the original result
// for an idempotent re-append, an error wrapping ledger.ErrConflict, or
// (nil, nil) when sp is the next version.
func (s *Store) checkVersion(key idTenantSeq, sp *span.Span) (*ledger.Result, error) {
	// This version already stored (recently, or in the index)?
	if r, ok := s.recent.versions[key]; ok {
		if r.Hash != sp.Hash {
			return nil, conflictContent(sp, r.Hash)
		}
		return &r, nil
	}
	if s.ids != nil && !s.ids.mayContain(sp.ID, sp.Tenant) {
		// No version of the id is stored (nor in the recent table: the
		// filter holds every key committed): only seq 0 may come next.
		if sp.Seq == 0 {
			return nil, nil
		}
		return nil, conflictSeq(sp, 0, false)
	}
	iv, found, err := s.lookupVersion(key.idTenant, sp.Seq)
	if err != nil {
		return nil, err
	}
	if found {
		if iv.hash != sp.Hash {
			return nil, conflictContent(sp, iv.hash)
		}
		e, err := s.readEntryAt(iv.loc)
		if err != nil {
			return nil, err
		}
		return &ledger.Result{ID: e.ID, Seq: e.Seq, Tenant: e.Tenant, LogIndex: e.LogIndex, Hash: e.Hash, PrevHash: e.PrevHash, ReceivedAt: e.ReceivedAt, LeafHash: [32]byte(leafHash(e.Line))}, nil
	}
	// Not stored: it must be the next version. Versions are dense from 0,
	// so "seq is absent and seq-1 is present" means seq-1 is the latest.
	if l, ok := s.recent.latest[key.idTenant]; ok {
		if sp.Seq == l+1 {
			return nil, nil
		}
		return nil, conflictSeq(sp, l, true)
	}
	if sp.Seq == 0 {
		return nil, nil
	}
	if _, ok, err := s.lookupVersion(key.idTenant, sp.Seq-1); err != nil || ok {
		return nil, err
	}
	latest, ok, err := s.latestSeq(key.idTenant)
	if err != nil {
		return nil, err
	}
	return nil, conflictSeq(sp, latest, ok)
}

func conflictContent(sp *span.Span, stored span.Hash) error {
	return &ledger.ConflictError{Kind: ledger.ContentConflict, ID: sp.ID, Seq: sp.Seq, Stored: stored}
}

func conflictSeq(sp *span.Span, latest uint64, any bool) error {
	l := int64(latest)
	if !any {
		l = -1
	}
	return &ledger.ConflictError{Kind: ledger.SeqConflict, ID: sp.ID, Seq: sp.Seq, Latest: l}
}

func (s *Store) lookupVersion(key idTenant, seq uint64) (idValue, bool, error) {
	s.lookups.Add(1)
	v, closer, err := s.db.Get(idKey(key.id, key.tenant, seq))
	if errors.Is(err, pebble.ErrNotFound) {
		return idValue{}, false, nil
	}
	if err != nil {
		return idValue{}, false, fmt.Errorf("index lookup: %w", err)
	}
	defer closer.Close()
	iv, err := decodeIDValue(v)
	if err != nil {
		return idValue{}, false, fmt.Errorf("index lookup: %w", err)
	}
	return iv, true, nil
}

// latestSeq returns the highest stored seq of (id, tenant).
func (s *Store) latestSeq(key idTenant) (uint64, bool, error) {
	p := idTenantPrefix(key.id, key.tenant)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return 0, false, fmt.Errorf("index lookup: %w", err)
	}
	defer it.Close()
	if !it.Last() {
		return 0, false, it.Error()
	}
	seq, ok := lastU64(it.Key())
	if !ok || len(it.Key()) != len(p)+8 {
		return 0, false, fmt.Errorf("index lookup: %w at key %q", errBadValue, it.Key())
	}
	return seq, true, nil
}

func (s *Store) writeAndSync(buf []byte) error {
	n, err := s.active.Write(buf)
	if err != nil {
		return fmt.Errorf("write segment %s at offset %d: %w", s.active.Name(), s.activeOff+int64(n), err)
	}
	if n != len(buf) {
		return fmt.Errorf("write segment %s: %w", s.active.Name(), io.ErrShortWrite)
	}
	return s.cfg.syncFile(s.active)
}

func (s *Store) indexCommitted(first uint64, entries []indexedEntry, end position, size uint64) error {
	if len(entries) == 0 {
		return nil
	}
	b := s.db.NewBatch()
	defer b.Close()
	if err := indexBatch(s.db, b, first, entries, end, size); err != nil {
		return fmt.Errorf("index batch: %w", err)
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("index batch: %w", err)
	}
	return nil
}

// setCheckpointFor signs the tree head of a batch that wrote entries; a
// batch of duplicates and rejections leaves the tree, and the checkpoint,
// as they were.
func (s *Store) setCheckpointFor(j indexJob) error {
	if len(j.entries) == 0 {
		return nil
	}
	return s.setCheckpoint(j.size, j.root)
}

// fail stops the store for good: after a write, fsync or index error the
// state of the files is unknown, so nothing more is written or
// acknowledged. A restart recovers from the segments.
func (s *Store) fail(err error) {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	if s.writeErr != nil {
		return
	}
	s.writeErr = err
	s.failed.Store(true)
	s.log.Error("ledger writer stopped; restart to recover", "err", err)
}

func (s *Store) stoppedErr() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return fmt.Errorf("%w: writer stopped after: %v", ledger.ErrClosed, s.writeErr)
}

// rotate seals the active segment and starts the next one.
func (s *Store) rotate() error {
	next := s.activeSeg + 1
	f, err := createSegment(s.cfg.Dir, next)
	if err != nil {
		return err
	}
	if err := s.active.Close(); err != nil {
		f.Close()
		return fmt.Errorf("close sealed segment: %w", err)
	}
	s.log.Info("segment sealed", "segment", segmentName(s.activeSeg), "bytes", s.activeOff)
	s.active, s.activeSeg, s.activeOff = f, next, 0
	return nil
}
