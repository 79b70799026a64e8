package segment

import (
	"errors"
	"fmt"
	"io"

	"github.com/cockroachdb/pebble/v2"

	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/span"
)

// writer is the only goroutine that touches the active segment. It takes
// every queued request it can get (up to MaxBatchSpans spans), writes them
// and their commit line with one write, fdatasyncs once, indexes the batch
// and then answers all the requests: group commit.
func (s *Store) writer() {
	defer close(s.done)
	var batch []*appendReq
	for {
		batch = batch[:0]
		select {
		case r := <-s.reqs:
			batch = append(batch, r)
		case <-s.quit:
			// Drain what was queued before Close took the lock.
			for {
				select {
				case r := <-s.reqs:
					s.commit([]*appendReq{r})
				default:
					return
				}
			}
		}
		n := len(batch[0].spans)
	fill:
		for n < s.cfg.MaxBatchSpans {
			select {
			case r := <-s.reqs:
				batch = append(batch, r)
				n += len(r.spans)
			default:
				break fill
			}
		}
		s.commit(batch)
	}
}

// pendingVersion is what the batch being built knows of an (id, tenant).
type pendingVersion struct {
	seq  uint64
	hash span.Hash
	res  ledger.Result
}

type idTenant struct{ id, tenant string }

// commit carries out one group commit. Every request gets its answer.
func (s *Store) commit(reqs []*appendReq) {
	if s.werr != nil {
		for _, r := range reqs {
			r.done <- fmt.Errorf("%w: writer stopped after: %v", ledger.ErrClosed, s.werr)
		}
		return
	}
	var (
		first    = s.size.Load()
		next     = first
		now      = s.cfg.Now().UTC()
		pending  = make(map[idTenant]*pendingVersion)
		entries  []indexedEntry
		accepted []*ledger.Outcome
		treeSnap = cloneRange(s.tree)
		chainOld = make(map[string]span.Hash)
	)
	buf := s.buf[:0]
	start := s.activeOff
	var live []*appendReq // requests still wanted by their callers
	for _, r := range reqs {
		if err := r.ctx.Err(); err != nil {
			r.done <- err // given up before anything was written
			continue
		}
		live = append(live, r)
		for i, sp := range r.spans {
			out := &r.out[i]
			key := idTenant{sp.ID, sp.Tenant}
			dup, err := s.checkVersion(pending, key, sp)
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
			if _, ok := chainOld[sp.Tenant]; !ok {
				chainOld[sp.Tenant] = prev
			}
			off := start + int64(len(buf))
			buf = sp.AppendEntry(buf, next, prev, now)
			line := buf[off-start:]
			loc := location{seg: s.activeSeg, off: off, n: len(line)}
			buf = append(buf, '\n')
			if err := s.tree.Append(leafHash(line), nil); err != nil {
				s.fail(fmt.Errorf("merkle append: %w", err))
				break
			}
			s.chain[sp.Tenant] = sp.Hash
			out.Result = ledger.Result{
				ID: sp.ID, Seq: sp.Seq, Tenant: sp.Tenant, LogIndex: next,
				Hash: sp.Hash, PrevHash: prev, ReceivedAt: now,
			}
			pending[key] = &pendingVersion{seq: sp.Seq, hash: sp.Hash, res: out.Result}
			entries = append(entries, newIndexedEntry(sp, loc))
			accepted = append(accepted, out)
			next++
		}
	}
	if s.werr == nil && len(entries) > 0 {
		buf = appendCommitLine(buf, rootOf(s.tree), next)
		end := position{s.activeSeg, start + int64(len(buf))}
		if err := s.writeAndSync(buf); err != nil {
			s.fail(err)
		} else if err := s.indexCommitted(first, entries, end, next); err != nil {
			s.fail(err)
		} else {
			s.activeOff = end.off
			s.publish(next)
		}
	}
	if len(buf) <= 4<<20 {
		s.buf = buf[:0]
	} else {
		s.buf = nil
	}
	if s.werr != nil {
		// Nothing of this batch is acknowledged. Roll the in-memory state
		// back so that it matches what a restart would find.
		s.tree = treeSnap
		for t, h := range chainOld {
			s.chain[t] = h
		}
		for _, r := range live {
			r.done <- fmt.Errorf("%w: %v", ledger.ErrClosed, s.werr)
		}
		return
	}
	for _, r := range live {
		r.done <- nil
	}
	if s.activeOff >= s.cfg.SegmentSize {
		if err := s.rotate(); err != nil {
			s.fail(err)
		}
	}
}

// checkVersion applies the seq rules to sp. It returns the original result
// for an idempotent re-append, an error wrapping ledger.ErrConflict, or
// (nil, nil) when sp is the next version.
func (s *Store) checkVersion(pending map[idTenant]*pendingVersion, key idTenant, sp *span.Span) (*ledger.Result, error) {
	if pv, ok := pending[key]; ok {
		switch {
		case sp.Seq == pv.seq && sp.Hash == pv.hash:
			r := pv.res
			return &r, nil
		case sp.Seq == pv.seq+1:
			return nil, nil
		case sp.Seq > pv.seq:
			return nil, fmt.Errorf("%w: seq %d of %q: latest version is %d, the next must be %d", ledger.ErrConflict, sp.Seq, sp.ID, pv.seq, pv.seq+1)
		}
		// An older version: look it up in the index below.
	}
	iv, found, err := s.lookupVersion(key, sp.Seq)
	if err != nil {
		return nil, err
	}
	if found {
		if iv.hash != sp.Hash {
			return nil, fmt.Errorf("%w: %q seq %d is already stored with different content (curr_hash %s)", ledger.ErrConflict, sp.ID, sp.Seq, span.Hash(iv.hash))
		}
		e, err := s.readEntryAt(iv.loc)
		if err != nil {
			return nil, err
		}
		return &ledger.Result{ID: e.ID, Seq: e.Seq, Tenant: e.Tenant, LogIndex: e.LogIndex, Hash: e.Hash, PrevHash: e.PrevHash, ReceivedAt: e.ReceivedAt}, nil
	}
	if _, ok := pending[key]; ok {
		return nil, fmt.Errorf("%w: seq %d of %q is older than the latest version", ledger.ErrConflict, sp.Seq, sp.ID)
	}
	// Versions are dense from 0, so "seq is absent and seq-1 is present"
	// means seq-1 is the latest: two point lookups, bloom-filtered.
	if sp.Seq == 0 {
		return nil, nil
	}
	if _, ok, err := s.lookupVersion(key, sp.Seq-1); err != nil || ok {
		return nil, err
	}
	latest, ok, err := s.latestSeq(key)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: seq %d of %q: no version is stored, the first must be 0", ledger.ErrConflict, sp.Seq, sp.ID)
	}
	return nil, fmt.Errorf("%w: seq %d of %q: latest version is %d, the next must be %d", ledger.ErrConflict, sp.Seq, sp.ID, latest, latest+1)
}

func (s *Store) lookupVersion(key idTenant, seq uint64) (idValue, bool, error) {
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
	b := s.db.NewBatch()
	defer b.Close()
	if err := indexBatch(b, first, entries, end, size); err != nil {
		return fmt.Errorf("index batch: %w", err)
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("index batch: %w", err)
	}
	return nil
}

// fail stops the writer for good: after a write or fsync error the state of
// the file is unknown, so nothing more is written or acknowledged.
func (s *Store) fail(err error) {
	if s.werr != nil {
		return
	}
	s.werr = err
	s.errMu.Lock()
	s.writeErr = err
	s.errMu.Unlock()
	s.log.Error("ledger writer stopped; restart to recover", "err", err)
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
