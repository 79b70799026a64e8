package pgstore

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/span"
)

// The append path: one writer goroutine per node takes every queued
// request (up to MaxBatchSpans spans) and commits them in one transaction:
//
//	SET LOCAL ROLE logline_app; SET LOCAL app.scope = 'system', …
//	pg_advisory_xact_lock            serializes batches across nodes
//	read log_state, versions, chain heads (and the Merkle frontier)
//	assign log indexes, build lines, leaf and stored hashes, root
//	COPY rows into a temporary staging table, INSERT … SELECT them
//	INSERT stored hashes; UPDATE log_state; INSERT the checkpoint row
//	COMMIT
//
// Only after COMMIT succeeds is the tree head published (signed) and the
// batch answered. A failed or unknown COMMIT answers every request of the
// batch with an error and acknowledges nothing; the writer reconnects and
// goes on (the next batch reads the state afresh, so a COMMIT that did
// succeed is simply part of the log, and a retry of its spans is
// answered as duplicates).

func (s *Store) writer() {
	defer close(s.done)
	var batch []*appendReq
	for {
		batch = batch[:0]
		select {
		case r := <-s.reqs:
			batch = append(batch, r)
		case <-s.quit:
			s.drain()
			return
		}
		batch = s.fill(batch)
		s.commit(batch)
	}
}

// fill adds queued requests to batch up to MaxBatchSpans spans.
func (s *Store) fill(batch []*appendReq) []*appendReq {
	n := 0
	for _, r := range batch {
		n += len(r.spans)
	}
	for n < s.cfg.MaxBatchSpans {
		select {
		case r := <-s.reqs:
			batch = append(batch, r)
			n += len(r.spans)
		default:
			return batch
		}
	}
	return batch
}

// drain commits what was queued before Close took the lock, records the
// last note and closes the writer's connection.
func (s *Store) drain() {
	for {
		batch := s.fill(nil)
		if len(batch) == 0 {
			break
		}
		s.commit(batch)
	}
	if s.note != nil && !s.failed.Load() {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.CommitTimeout)
		err := s.recordNote(ctx)
		cancel()
		if err != nil {
			s.log.Warn("recording the last checkpoint note", "err", err)
		}
	}
	if s.wconn != nil {
		s.wconn.Close(context.Background())
		s.wconn = nil
	}
}

// commit carries out one group commit and answers every request.
func (s *Store) commit(reqs []*appendReq) {
	if s.failed.Load() {
		for _, r := range reqs {
			r.done <- s.stoppedErr()
		}
		return
	}
	var live []*appendReq
	for _, r := range reqs {
		if err := r.ctx.Err(); err != nil {
			r.done <- err // given up before anything was written
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.CommitTimeout)
	size, root, note, err := s.commitBatch(ctx, live)
	cancel()
	if err != nil {
		s.log.Error("commit batch failed; nothing of it is acknowledged", "err", err)
		s.dropWriterConn()
		for _, r := range live {
			r.done <- fmt.Errorf("postgres commit (outcome unknown, retrying is safe): %w", err)
		}
		return
	}
	if err := s.publish(size, root); err != nil {
		for _, r := range live {
			r.done <- s.stoppedErr()
		}
		return
	}
	if note {
		if c := s.Checkpoint(); c.Size == size && c.Note != nil {
			s.note = &c
		}
	}
	cp := s.Checkpoint()
	for _, r := range live {
		for i := range r.out {
			if r.out[i].Err == nil {
				r.out[i].Result.Checkpoint = cp
			}
		}
		r.done <- nil
	}
}

func (s *Store) dropWriterConn() {
	if s.wconn != nil {
		s.wconn.Close(context.Background())
		s.wconn = nil
	}
	s.wstaged = false
}

func (s *Store) writerConn(ctx context.Context) (*pgx.Conn, error) {
	if s.wconn != nil && !s.wconn.IsClosed() {
		return s.wconn, nil
	}
	conn, err := connect(ctx, s.cfg.URL)
	if err != nil {
		return nil, err
	}
	s.wconn, s.wstaged = conn, false
	return conn, nil
}

// Statements of the commit transaction.
const (
	lockSQL  = `SELECT pg_advisory_xact_lock($1)`
	stateSQL = `SELECT size, root, origin, received_at FROM ledger.log_state`
	// One primary-key probe per key: LIMIT 1 keeps the subquery a
	// nested loop (a plain join may hash the whole table).
	versionsSQL = `SELECT u.tenant_id, u.id, u.seq, u.log_index, u.curr_hash, u.prev_hash, u.received_at, u.leaf_hash
		FROM unnest($1::text[], $2::text[], $3::bigint[]) AS k(tenant_id, id, seq)
		CROSS JOIN LATERAL (SELECT * FROM ledger.universal_registry r
			WHERE r.id = k.id AND r.tenant_id = k.tenant_id AND r.seq = k.seq LIMIT 1) u`
	headsSQL   = `SELECT tenant_id, curr_hash FROM ledger.tenant_heads WHERE tenant_id = ANY($1)`
	setHeadSQL = `INSERT INTO ledger.tenant_heads (tenant_id, curr_hash, log_index)
		SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
		ON CONFLICT (tenant_id) DO UPDATE SET curr_hash = EXCLUDED.curr_hash, log_index = EXCLUDED.log_index`
	latestSQL = `SELECT k.tenant_id, k.id, (SELECT max(u.seq) FROM ledger.universal_registry u
			WHERE u.tenant_id = k.tenant_id AND u.id = k.id)
		FROM unnest($1::text[], $2::text[]) AS k(tenant_id, id)`
	stageSQL = `CREATE TEMPORARY TABLE IF NOT EXISTS ur_stage
		(LIKE ledger.universal_registry INCLUDING DEFAULTS) ON COMMIT DELETE ROWS`
	noteSQL = `UPDATE ledger.checkpoints SET note = $2 WHERE size = $1 AND note IS NULL`
)

type tis struct {
	tenant, id string
	seq        uint64
}

type tid struct{ tenant, id string }

// batchState is what commitBatch knows while it builds a batch.
type batchState struct {
	stored  map[tis]ledger.Result // versions already in the database
	added   map[tis]ledger.Result // versions new in this batch
	latest  map[tid]uint64        // latest seq added in this batch
	heads   map[string]span.Hash  // tenant chain heads
	headAt  map[string]uint64     // log index of a head this batch added
	pending []pendingConflict
}

// commitBatch runs the commit transaction of reqs, filling their outcomes.
// It returns the log's size and root after the batch and whether this
// batch added entries (so its checkpoint row is this node's to annotate).
func (s *Store) commitBatch(ctx context.Context, reqs []*appendReq) (uint64, [32]byte, bool, error) {
	var root [32]byte
	conn, err := s.writerConn(ctx)
	if err != nil {
		return 0, root, false, err
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return 0, root, false, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after COMMIT

	// Round trip 1: identity, lock, state, what the batch's spans collide
	// with, and the tenants' chain heads.
	var tenants, ids []string
	var seqs []int64
	seenT := map[string]bool{}
	seenK := map[tis]bool{}
	key := func(t, id string, seq uint64) {
		k := tis{t, id, seq}
		if !seenK[k] {
			seenK[k] = true
			tenants, ids, seqs = append(tenants, t), append(ids, id), append(seqs, int64(seq))
		}
	}
	var heads []string
	for _, r := range reqs {
		for _, sp := range r.spans {
			key(sp.Tenant, sp.ID, sp.Seq)
			if sp.Seq > 0 {
				key(sp.Tenant, sp.ID, sp.Seq-1)
			}
			if !seenT[sp.Tenant] {
				seenT[sp.Tenant] = true
				heads = append(heads, sp.Tenant)
			}
		}
	}
	b := &pgx.Batch{}
	b.Queue(setupSQL, s.setupArgs(systemScope)...)
	b.Queue(lockSQL, commitLockKey)
	if s.note != nil {
		b.Queue(noteSQL, int64(s.note.Size), string(s.note.Note))
	}
	if !s.wstaged {
		b.Queue(stageSQL)
	}
	var st logState
	bs := &batchState{
		stored: map[tis]ledger.Result{}, added: map[tis]ledger.Result{},
		latest: map[tid]uint64{}, heads: map[string]span.Hash{}, headAt: map[string]uint64{},
	}
	b.Queue(stateSQL).QueryRow(func(row pgx.Row) error {
		var err error
		st, err = scanState(row)
		return err
	})
	b.Queue(versionsSQL, tenants, ids, seqs).Query(func(rows pgx.Rows) error {
		return scanVersions(rows, bs.stored)
	})
	b.Queue(headsSQL, heads).Query(func(rows pgx.Rows) error {
		var t, h string
		_, err := pgx.ForEachRow(rows, []any{&t, &h}, func() error {
			hash, err := span.ParseHash(h)
			if err != nil {
				return fmt.Errorf("%w: chain head of tenant %q: %v", ledger.ErrCorrupt, t, err)
			}
			bs.heads[t] = hash
			return nil
		})
		return err
	})
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return 0, root, false, err
	}
	s.note = nil // recorded (or the transaction fails and it is moot)

	// Build the batch.
	now := s.cfg.Now().UTC().Truncate(time.Microsecond)
	if now.Before(st.receivedAt) {
		now = st.receivedAt.UTC() // received_at never decreases in log order
	}
	next := st.size
	reader := &hashReader{ctx: ctx, cache: s.hashes, overlay: map[int64]tlog.Hash{}, tx: tx}
	var (
		rows     [][]any
		hashIdx  []int64
		hashVals [][]byte
		buf      []byte
	)
	for _, r := range reqs {
		for i, sp := range r.spans {
			out := &r.out[i]
			k := tis{sp.Tenant, sp.ID, sp.Seq}
			dup, err := bs.check(k, sp)
			if err != nil {
				out.Err = err
				continue
			}
			if dup != nil {
				out.Result = *dup
				out.Result.Duplicate = true
				continue
			}
			prev := bs.heads[sp.Tenant]
			buf = sp.AppendEntry(buf[:0], next, prev, now)
			line := append([]byte(nil), buf...)
			leaf := leafHash(line)
			hashes, err := tlog.StoredHashesForRecordHash(int64(next), leaf, reader)
			if err != nil {
				return 0, root, false, fmt.Errorf("merkle tree at %d: %w", next, err)
			}
			base := tlog.StoredHashIndex(0, int64(next))
			for j, h := range hashes {
				reader.overlay[base+int64(j)] = h
				hashIdx = append(hashIdx, base+int64(j))
				hashVals = append(hashVals, h[:])
			}
			rows = append(rows, row(sp, next, prev, now, leaf, line))
			res := ledger.Result{
				ID: sp.ID, Seq: sp.Seq, Tenant: sp.Tenant, LogIndex: next,
				Hash: sp.Hash, PrevHash: prev, ReceivedAt: now, LeafHash: leaf,
			}
			out.Result = res
			bs.added[k] = res
			bs.latest[tid{sp.Tenant, sp.ID}] = sp.Seq
			bs.heads[sp.Tenant] = sp.Hash
			bs.headAt[sp.Tenant] = next
			next++
		}
	}
	if err := bs.fillLatest(ctx, tx); err != nil {
		return 0, root, false, err
	}
	if len(rows) == 0 {
		// Only duplicates and rejections: nothing to write. The state read
		// under the lock is committed, so it may be published.
		if err := tx.Commit(ctx); err != nil {
			return 0, root, false, fmt.Errorf("commit: %w", err)
		}
		return st.size, st.root, false, nil
	}
	reader.read = []int64{}
	rh, err := tlog.TreeHash(int64(next), reader)
	if err != nil {
		return 0, root, false, fmt.Errorf("merkle root at %d: %w", next, err)
	}
	root = rh
	frontier := reader.read

	// COPY FROM is refused on tables with row-level security, so rows go
	// through a temporary staging table and one INSERT … SELECT, which
	// the insert policy checks row by row.
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"ur_stage"}, registryColumns, pgx.CopyFromRows(rows)); err != nil {
		return 0, root, false, fmt.Errorf("copy rows: %w", err)
	}
	var (
		headT, headH []string
		headI        []int64
	)
	for t, h := range bs.heads {
		if i, ok := bs.headAt[t]; ok {
			headT, headH, headI = append(headT, t), append(headH, h.String()), append(headI, int64(i))
		}
	}
	b = &pgx.Batch{}
	b.Queue(insertSQL)
	b.Queue(`INSERT INTO ledger.tree_hashes (idx, hash) SELECT * FROM unnest($1::bigint[], $2::bytea[])`, hashIdx, hashVals)
	b.Queue(setHeadSQL, headT, headH, headI)
	b.Queue(`UPDATE ledger.log_state SET size = $1, root = $2, received_at = $3`, int64(next), root[:], now)
	b.Queue(`INSERT INTO ledger.checkpoints (size, root) VALUES ($1, $2)`, int64(next), root[:])
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return 0, root, false, err
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, root, false, fmt.Errorf("commit: %w", err)
	}
	s.wstaged = true
	// Committed: the frontier of the new tree is safe to cache.
	for _, idx := range frontier {
		if h, ok := reader.overlay[idx]; ok {
			s.hashes.add(idx, h)
		}
	}
	return next, root, true, nil
}

// insertSQL moves the staged rows into the registry.
var insertSQL = func() string {
	cols := ""
	for i, c := range registryColumns {
		if i > 0 {
			cols += ", "
		}
		cols += `"` + c + `"`
	}
	return "INSERT INTO ledger.universal_registry (" + cols + ") SELECT " + cols + " FROM pg_temp.ur_stage"
}()

func scanState(row pgx.Row) (logState, error) {
	var (
		st     logState
		size   int64
		root   []byte
		origin *string
		recv   *time.Time
	)
	if err := row.Scan(&size, &root, &origin, &recv); err != nil {
		return st, fmt.Errorf("read ledger.log_state: %w", err)
	}
	if len(root) != 32 || size < 0 {
		return st, fmt.Errorf("%w: ledger.log_state holds size %d and a %d-byte root", ledger.ErrCorrupt, size, len(root))
	}
	st.size, st.root = uint64(size), [32]byte(root)
	if origin != nil {
		st.origin = *origin
	}
	if recv != nil {
		st.receivedAt = *recv
	}
	return st, nil
}

// scanVersions reads stored versions into m.
func scanVersions(rows pgx.Rows, m map[tis]ledger.Result) error {
	var (
		tenant, id, curr, prev string
		seq, idx               int64
		recv                   time.Time
		leaf                   []byte
	)
	_, err := pgx.ForEachRow(rows, []any{&tenant, &id, &seq, &idx, &curr, &prev, &recv, &leaf}, func() error {
		ch, err1 := span.ParseHash(curr)
		ph, err2 := span.ParseHash(prev)
		if err := errors.Join(err1, err2); err != nil || len(leaf) != 32 {
			return fmt.Errorf("%w: log index %d: bad stored hashes: %v", ledger.ErrCorrupt, idx, err)
		}
		m[tis{tenant, id, uint64(seq)}] = ledger.Result{
			ID: id, Seq: uint64(seq), Tenant: tenant, LogIndex: uint64(idx),
			Hash: ch, PrevHash: ph, ReceivedAt: recv.UTC(), LeafHash: [32]byte(leaf),
		}
		return nil
	})
	return err
}

// check applies the seq rules (as the embedded store does): the original
// result for an identical re-append, an error wrapping ledger.ErrConflict,
// or (nil, nil) when sp is the next version.
func (bs *batchState) check(k tis, sp *span.Span) (*ledger.Result, error) {
	for _, m := range []map[tis]ledger.Result{bs.added, bs.stored} {
		if r, ok := m[k]; ok {
			if r.Hash != sp.Hash {
				return nil, &ledger.ConflictError{Kind: ledger.ContentConflict, ID: sp.ID, Seq: sp.Seq, Stored: r.Hash}
			}
			return &r, nil
		}
	}
	if l, ok := bs.latest[tid{k.tenant, k.id}]; ok {
		if sp.Seq == l+1 {
			return nil, nil
		}
		return nil, &ledger.ConflictError{Kind: ledger.SeqConflict, ID: sp.ID, Seq: sp.Seq, Latest: int64(l)}
	}
	if sp.Seq == 0 {
		return nil, nil
	}
	if _, ok := bs.stored[tis{k.tenant, k.id, sp.Seq - 1}]; ok {
		return nil, nil
	}
	// A seq conflict against the database: its latest version is read
	// once for all such spans (fillLatest) before anyone is answered.
	ce := &ledger.ConflictError{Kind: ledger.SeqConflict, ID: sp.ID, Seq: sp.Seq, Latest: -1}
	bs.pending = append(bs.pending, pendingConflict{ce: ce, tenant: k.tenant})
	return nil, ce
}

// pendingConflict is a seq conflict whose latest stored seq is not known
// yet.
type pendingConflict struct {
	ce     *ledger.ConflictError
	tenant string
}

// fillLatest reads the latest stored seq of every pending conflict.
func (bs *batchState) fillLatest(ctx context.Context, tx pgx.Tx) error {
	if len(bs.pending) == 0 {
		return nil
	}
	tenants := make([]string, len(bs.pending))
	ids := make([]string, len(bs.pending))
	for i, p := range bs.pending {
		tenants[i], ids[i] = p.tenant, p.ce.ID
	}
	rows, err := tx.Query(ctx, latestSQL, tenants, ids)
	if err != nil {
		return fmt.Errorf("read latest versions: %w", err)
	}
	latest := map[tid]int64{}
	var (
		t, id string
		seq   *int64
	)
	if _, err := pgx.ForEachRow(rows, []any{&t, &id, &seq}, func() error {
		if seq != nil {
			latest[tid{t, id}] = *seq
		}
		return nil
	}); err != nil {
		return fmt.Errorf("read latest versions: %w", err)
	}
	for _, p := range bs.pending {
		if l, ok := latest[tid{p.tenant, p.ce.ID}]; ok {
			p.ce.Latest = l
		}
	}
	return nil
}

// leafHash is the RFC 6962 leaf hash of an entry line.
func leafHash(line []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte{0})
	h.Write(line)
	return [32]byte(h.Sum(nil))
}

// recordNote writes this node's last signed note into its checkpoint row
// (Close; during operation the next batch does it).
func (s *Store) recordNote(ctx context.Context) error {
	conn, err := s.writerConn(ctx)
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, setupSQL, s.setupArgs(systemScope)...); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, noteSQL, int64(s.note.Size), string(s.note.Note))
		return err
	})
}
