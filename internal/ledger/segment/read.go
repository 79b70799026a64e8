package segment

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"

	"github.com/cockroachdb/pebble/v2"

	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/span"
)

const (
	// scanBudget bounds the index keys one Query page examines, so that a
	// selective filter on a large tenant answers quickly with a cursor.
	scanBudget = 20000
)

// readLineAt reads the entry line at loc.
func (s *Store) readLineAt(loc location) ([]byte, error) {
	f, err := s.file(loc.seg)
	if err != nil {
		return nil, err
	}
	line := make([]byte, loc.n)
	if _, err := f.ReadAt(line, loc.off); err != nil {
		return nil, fmt.Errorf("%w: read %s at offset %d: %v", ledger.ErrCorrupt, segmentName(loc.seg), loc.off, err)
	}
	return line, nil
}

func (s *Store) readEntryAt(loc location) (*span.Entry, error) {
	line, err := s.readLineAt(loc)
	if err != nil {
		return nil, err
	}
	e, err := span.ParseEntry(line)
	if err != nil {
		return nil, &CorruptError{File: segmentPath(s.cfg.Dir, loc.seg), Offset: loc.off, Index: -1, Reason: err.Error()}
	}
	return e, nil
}

// Get returns a version of id; see ledger.Store.
func (s *Store) Get(ctx context.Context, tenant, id string, seq int64) (*span.Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if tenant == "" {
		t, err := s.soleTenant(id)
		if err != nil {
			return nil, err
		}
		tenant = t
	}
	key := idTenant{id, tenant}
	var (
		iv    idValue
		found bool
		err   error
	)
	if seq >= 0 {
		iv, found, err = s.lookupVersion(key, uint64(seq))
	} else {
		var latest uint64
		latest, found, err = s.latestSeq(key)
		if err == nil && found {
			iv, found, err = s.lookupVersion(key, latest)
		}
	}
	if err != nil {
		return nil, err
	}
	if !found || iv.index >= s.Size() {
		return nil, fmt.Errorf("span %q: %w", id, ledger.ErrNotFound)
	}
	return s.readEntryAt(iv.loc)
}

// soleTenant finds the one tenant that holds id.
func (s *Store) soleTenant(id string) (string, error) {
	p := idPrefix(id)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return "", fmt.Errorf("index lookup: %w", err)
	}
	defer it.Close()
	var tenant string
	for it.First(); it.Valid(); {
		rest := it.Key()[len(p):]
		if len(rest) < 8 {
			return "", fmt.Errorf("index lookup: %w at key %q", errBadValue, it.Key())
		}
		t, ok := unescapeLast(rest[:len(rest)-8])
		if !ok {
			return "", fmt.Errorf("index lookup: %w at key %q", errBadValue, it.Key())
		}
		if tenant != "" && t != tenant {
			return "", fmt.Errorf("span %q exists in tenants %q and %q: %w", id, tenant, t, ledger.ErrAmbiguous)
		}
		tenant = t
		// Skip the other versions of this tenant.
		it.SeekGE(prefixEnd(idTenantPrefix(id, t)))
	}
	if err := it.Error(); err != nil {
		return "", fmt.Errorf("index lookup: %w", err)
	}
	if tenant == "" {
		return "", fmt.Errorf("span %q: %w", id, ledger.ErrNotFound)
	}
	return tenant, nil
}

// queryPlan is the index range a query walks.
type queryPlan struct {
	kind   byte
	prefix []byte
	lower  []byte // first key (inclusive)
	upper  []byte // end key (exclusive)
}

func planQuery(q ledger.Query) queryPlan {
	var p queryPlan
	switch {
	case q.This != "":
		p.kind, p.prefix = pfxThis, tenantValuePrefix(pfxThis, q.Tenant, q.This)
	case q.TraceID != "":
		p.kind, p.prefix = pfxTrace, tenantValuePrefix(pfxTrace, q.Tenant, q.TraceID)
	case q.EntityType != "" && q.EntityType != span.DefaultEntityType:
		// Spans of the default type have no e/ key: they fall through to
		// the time or tenant plan and are filtered there.
		p.kind, p.prefix = pfxType, tenantValuePrefix(pfxType, q.Tenant, q.EntityType)
	case !q.Since.IsZero() || !q.Until.IsZero():
		p.kind, p.prefix = pfxWhen, tenantPrefix(pfxWhen, q.Tenant)
	default:
		p.kind, p.prefix = pfxTenant, tenantPrefix(pfxTenant, q.Tenant)
	}
	p.lower, p.upper = p.prefix, prefixEnd(p.prefix)
	if p.kind == pfxWhen {
		if !q.Since.IsZero() {
			p.lower = appendTime(append([]byte(nil), p.prefix...), q.Since)
		}
		if !q.Until.IsZero() {
			p.upper = appendTime(append([]byte(nil), p.prefix...), q.Until)
		}
	}
	return p
}

func encodeCursor(key []byte) string { return base64.RawURLEncoding.EncodeToString(key) }

// Query returns one page of matching entries. Pages are in log order when
// the query names this, trace_id or a non-default entity_type; otherwise,
// with since/until, in event-time order (`when`, then log order); otherwise
// in log order. A page examines at most scanBudget index keys, so it may
// hold fewer than Limit entries while Next is set.
func (s *Store) Query(ctx context.Context, q ledger.Query) (ledger.Page, error) {
	if q.Tenant == "" {
		return ledger.Page{}, errors.New("query: tenant is required")
	}
	limit := q.PageLimit()
	plan := planQuery(q)
	lower := plan.lower
	if q.Cursor != "" {
		last, err := base64.RawURLEncoding.DecodeString(q.Cursor)
		if err != nil || !bytes.HasPrefix(last, plan.prefix) || bytes.Compare(last, plan.lower) < 0 {
			return ledger.Page{}, fmt.Errorf("%w: the cursor does not belong to this query", ledger.ErrBadCursor)
		}
		lower = append(last, 0) // just after the last key returned
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: plan.upper})
	if err != nil {
		return ledger.Page{}, fmt.Errorf("query: %w", err)
	}
	defer it.Close()
	size := s.Size()
	var page ledger.Page
	examined := 0
	for it.First(); it.Valid(); it.Next() {
		if err := ctx.Err(); err != nil {
			return ledger.Page{}, err
		}
		idx, ok := lastU64(it.Key())
		if !ok {
			return ledger.Page{}, fmt.Errorf("query: %w at key %q", errBadValue, it.Key())
		}
		if idx >= size {
			// Indexed but not yet published. Log-ordered plans end here;
			// the time-ordered one skips it.
			if plan.kind == pfxWhen {
				continue
			}
			break
		}
		examined++
		loc, _, err := decodeLocation(it.Value())
		if err != nil {
			return ledger.Page{}, fmt.Errorf("query: %w", err)
		}
		e, err := s.readEntryAt(loc)
		if err != nil {
			return ledger.Page{}, err
		}
		if q.Matches(e) {
			page.Entries = append(page.Entries, e)
		}
		if len(page.Entries) == limit || examined == scanBudget {
			// More may follow: hand out a cursor unless this was the last key.
			key := bytes.Clone(it.Key())
			if it.Next() {
				if nidx, ok := lastU64(it.Key()); ok && (nidx < size || plan.kind == pfxWhen) {
					page.Next = encodeCursor(key)
				}
			}
			break
		}
	}
	if err := it.Error(); err != nil {
		return ledger.Page{}, fmt.Errorf("query: %w", err)
	}
	return page, nil
}

// Read calls fn with each parsed entry in [from, to).
func (s *Store) Read(ctx context.Context, from, to uint64, fn func(*span.Entry) error) error {
	return s.ReadRaw(ctx, from, to, func(idx uint64, line []byte) error {
		e, err := span.ParseEntry(bytes.Clone(line))
		if err != nil {
			return fmt.Errorf("%w: log index %d: %v", ledger.ErrCorrupt, idx, err)
		}
		return fn(e)
	})
}

// ReadRaw calls fn with the exact stored line of each entry in [from, to).
func (s *Store) ReadRaw(ctx context.Context, from, to uint64, fn func(uint64, []byte) error) error {
	to = min(to, s.Size())
	if from >= to {
		return nil
	}
	// Find the batch holding `from`: the last batch key <= from.
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix(pfxBatch), UpperBound: batchKey(from + 1)})
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	if !it.Last() {
		err := it.Error()
		it.Close()
		if err == nil {
			err = fmt.Errorf("%w: no batch index entry at or before log index %d", ledger.ErrCorrupt, from)
		}
		return err
	}
	pos, _ := lastU64(it.Key())
	loc, _, err := decodeLocation(it.Value())
	it.Close()
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	seg, off := loc.seg, loc.off
	for pos < to {
		f, err := s.file(seg)
		if err != nil {
			return err
		}
		r := bufio.NewReaderSize(io.NewSectionReader(f, off, 1<<62), 256<<10)
		for pos < to {
			line, err := r.ReadSlice('\n')
			if err == io.EOF && len(line) == 0 {
				break // end of this segment: continue in the next one
			}
			if err != nil {
				return fmt.Errorf("%w: read %s near offset %d: %v", ledger.ErrCorrupt, segmentName(seg), off, err)
			}
			off += int64(len(line))
			content := line[:len(line)-1]
			if isCommitLine(content) {
				continue
			}
			if pos >= from {
				if err := fn(pos, content); err != nil {
					return err
				}
			}
			pos++
			if pos&1023 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
		}
		seg, off = seg+1, 0
	}
	return nil
}
