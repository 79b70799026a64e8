package pgstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/span"
)

const (
	// readChunk is how many entries one ReadRaw transaction fetches; the
	// callback runs after the transaction, so a slow stream reader never
	// holds one open.
	readChunk = 512
)

// parse parses a stored line, naming the log index when it is bad.
func parse(idx uint64, line []byte) (*span.Entry, error) {
	e, err := span.ParseEntry(line)
	if err != nil {
		return nil, fmt.Errorf("%w: log index %d: %v", ledger.ErrCorrupt, idx, err)
	}
	return e, nil
}

// Get returns a version of id; see ledger.Store. It reads in the tenant's
// scope; without a tenant, the system scope finds the one tenant holding
// id first.
func (s *Store) Get(ctx context.Context, tenant, id string, seq int64) (*span.Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if tenant == "" {
		t, err := s.soleTenant(ctx, id)
		if err != nil {
			return nil, err
		}
		tenant = t
	}
	var (
		idx  int64
		line []byte
	)
	q := `SELECT log_index, line FROM ledger.universal_registry WHERE id = $1 AND tenant_id = $2 ORDER BY seq DESC LIMIT 1`
	args := []any{id, tenant}
	if seq >= 0 {
		q = `SELECT log_index, line FROM ledger.universal_registry WHERE id = $1 AND tenant_id = $2 AND seq = $3`
		args = append(args, seq)
	}
	err := s.inTx(ctx, tenantScope(tenant), true, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, q, args...).Scan(&idx, &line)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("span %q: %w", id, ledger.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get %q: %w", id, err)
	}
	return parse(uint64(idx), line)
}

// soleTenant finds the one tenant that holds id.
func (s *Store) soleTenant(ctx context.Context, id string) (string, error) {
	var tenants []string
	err := s.inTx(ctx, systemScope, true, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT DISTINCT tenant_id FROM ledger.universal_registry WHERE id = $1 ORDER BY tenant_id LIMIT 2`, id)
		if err != nil {
			return err
		}
		tenants, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	switch {
	case err != nil:
		return "", fmt.Errorf("get %q: %w", id, err)
	case len(tenants) == 0:
		return "", fmt.Errorf("span %q: %w", id, ledger.ErrNotFound)
	case len(tenants) > 1:
		return "", fmt.Errorf("span %q exists in tenants %q and %q: %w", id, tenants[0], tenants[1], ledger.ErrAmbiguous)
	}
	return tenants[0], nil
}

// Query returns one page of matching entries, in the embedded store's
// order (docs/http-api.md, "Order"): log order when the query names
// this, trace_id or a non-default entity_type; otherwise, with
// since/until, event-time order (`when`, then log order); otherwise log
// order. The SQL narrows by the columns; every row is then matched
// against the parsed line, so the page is exact even where a column holds
// a stand-in (U+FFFD for NUL). A page holds at most Limit entries and may
// hold fewer while Next is set.
func (s *Store) Query(ctx context.Context, q ledger.Query) (ledger.Page, error) {
	if q.Tenant == "" {
		return ledger.Page{}, errors.New("query: tenant is required")
	}
	limit := q.PageLimit()
	byTime := (q.This == "" && q.TraceID == "" && (q.EntityType == "" || q.EntityType == span.DefaultEntityType)) &&
		(!q.Since.IsZero() || !q.Until.IsZero())
	fp := fingerprint(q, byTime)
	var after *cursor
	if q.Cursor != "" {
		c, err := decodeCursor(q.Cursor, fp, byTime)
		if err != nil {
			return ledger.Page{}, err
		}
		after = &c
	}
	var (
		where []string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	where = append(where, "tenant_id = "+arg(q.Tenant))
	for _, f := range []struct{ col, val string }{
		{`"this"`, q.This}, {"who", q.Who}, {"did", q.Did}, {"entity_type", q.EntityType}, {"trace_id", q.TraceID},
	} {
		if f.val != "" {
			where = append(where, f.col+" = "+arg(columnText(f.val)))
		}
	}
	if !q.Since.IsZero() {
		where = append(where, "(at, at_nanos) >= ("+arg(q.Since)+", "+arg(nanosOf(q.Since))+")")
	}
	if !q.Until.IsZero() {
		where = append(where, "(at, at_nanos) < ("+arg(q.Until)+", "+arg(nanosOf(q.Until))+")")
	}
	order := "log_index"
	if byTime {
		order = "at, at_nanos, log_index"
	}
	if after != nil {
		if byTime {
			where = append(where, "(at, at_nanos, log_index) > ("+arg(after.when)+", "+arg(nanosOf(after.when))+", "+arg(int64(after.index))+")")
		} else {
			where = append(where, "log_index > "+arg(int64(after.index)))
		}
	}
	sql := "SELECT log_index, line FROM ledger.universal_registry WHERE " + strings.Join(where, " AND ") +
		" ORDER BY " + order + " LIMIT " + strconv.Itoa(limit+1)
	type found struct {
		idx  int64
		line []byte
	}
	var rows []found
	err := s.inTx(ctx, tenantScope(q.Tenant), true, func(tx pgx.Tx) error {
		r, err := tx.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		var f found
		_, err = pgx.ForEachRow(r, []any{&f.idx, &f.line}, func() error {
			rows = append(rows, f)
			return nil
		})
		return err
	})
	if err != nil {
		return ledger.Page{}, fmt.Errorf("query: %w", err)
	}
	var (
		page ledger.Page
		last *span.Entry
	)
	for _, f := range rows[:min(len(rows), limit)] {
		e, err := parse(uint64(f.idx), f.line)
		if err != nil {
			return ledger.Page{}, err
		}
		if q.Matches(e) {
			page.Entries = append(page.Entries, e)
		}
		last = e
	}
	if len(rows) > limit {
		page.Next = encodeCursor(fp, byTime, last)
	}
	return page, nil
}

func nanosOf(t time.Time) int32 { return int32(t.Nanosecond() % 1000) }

// cursor is the position after which the next page starts.
type cursor struct {
	index uint64
	when  time.Time // event-time order only
}

// Cursors: base64url of version 1, an 8-byte fingerprint of the query's
// filters (a cursor works only with the query that issued it), the last
// log index returned and, in event-time order, its `when` (Unix seconds,
// nanoseconds).
const cursorVersion = 1

func fingerprint(q ledger.Query, byTime bool) []byte {
	h := sha256.New()
	for _, v := range []string{q.Tenant, q.This, q.Who, q.Did, q.EntityType, q.TraceID,
		q.Since.UTC().Format(time.RFC3339Nano), q.Until.UTC().Format(time.RFC3339Nano), strconv.FormatBool(byTime)} {
		h.Write([]byte(strconv.Itoa(len(v))))
		h.Write([]byte{':'})
		h.Write([]byte(v))
	}
	return h.Sum(nil)[:8]
}

func encodeCursor(fp []byte, byTime bool, last *span.Entry) string {
	b := append([]byte{cursorVersion}, fp...)
	b = binary.BigEndian.AppendUint64(b, last.LogIndex)
	if byTime {
		b = binary.BigEndian.AppendUint64(b, uint64(last.When.Unix()))
		b = binary.BigEndian.AppendUint32(b, uint32(last.When.Nanosecond()))
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string, fp []byte, byTime bool) (cursor, error) {
	bad := fmt.Errorf("%w: the cursor does not belong to this query", ledger.ErrBadCursor)
	b, err := base64.RawURLEncoding.DecodeString(s)
	want := 1 + len(fp) + 8
	if byTime {
		want += 12
	}
	if err != nil || len(b) != want || b[0] != cursorVersion || !bytes.Equal(b[1:1+len(fp)], fp) {
		return cursor{}, bad
	}
	b = b[1+len(fp):]
	c := cursor{index: binary.BigEndian.Uint64(b)}
	if byTime {
		sec := int64(binary.BigEndian.Uint64(b[8:]))
		nsec := binary.BigEndian.Uint32(b[16:])
		if nsec >= 1e9 {
			return cursor{}, bad
		}
		c.when = time.Unix(sec, int64(nsec)).UTC()
	}
	return c, nil
}

// Read calls fn with each parsed entry in [from, to).
func (s *Store) Read(ctx context.Context, from, to uint64, fn func(*span.Entry) error) error {
	return s.ReadRaw(ctx, from, to, func(idx uint64, line []byte) error {
		e, err := parse(idx, bytes.Clone(line))
		if err != nil {
			return err
		}
		return fn(e)
	})
}

// ReadRaw calls fn with the exact stored line of each entry in [from, to),
// to clamped to Size(). Entries are read in chunks, each in its own short
// system-scope transaction; fn runs outside any transaction.
func (s *Store) ReadRaw(ctx context.Context, from, to uint64, fn func(uint64, []byte) error) error {
	to = min(to, s.Size())
	var lines [][]byte
	for from < to {
		end := min(from+readChunk, to)
		lines = lines[:0]
		err := s.inTx(ctx, systemScope, true, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, `SELECT log_index, line FROM ledger.universal_registry
				WHERE log_index >= $1 AND log_index < $2 ORDER BY log_index`, int64(from), int64(end))
			if err != nil {
				return err
			}
			var (
				idx  int64
				line []byte
			)
			_, err = pgx.ForEachRow(rows, []any{&idx, &line}, func() error {
				if want := from + uint64(len(lines)); uint64(idx) != want {
					return fmt.Errorf("%w: log index %d is missing (next stored is %d)", ledger.ErrCorrupt, want, idx)
				}
				lines = append(lines, line)
				return nil
			})
			return err
		})
		if err != nil {
			return fmt.Errorf("read log [%d, %d): %w", from, end, err)
		}
		if uint64(len(lines)) != end-from {
			return fmt.Errorf("%w: log index %d is missing", ledger.ErrCorrupt, from+uint64(len(lines)))
		}
		for i, line := range lines {
			if err := fn(from+uint64(i), line); err != nil {
				return err
			}
		}
		from = end
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}
