package pgstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/span"
)

// The append path: one writer goroutine per node takes every queued
// request (up to MaxBatchSpans spans) and commits them in one transaction
// (a flight). Append has already encoded each span's own columns, in the
// caller's goroutine. The writer prepares flights one after another, each
// on the state the flight before it will leave, and hands each to a
// goroutine that commits it, so that up to three flights overlap: one
// prepared, one inserted, one committing (fsync).
//
//	prepare (writer goroutine, connection of the flight before last)
//	  BEGIN; SET LOCAL ROLE logline_app, app.*; read log_state, the
//	  versions the spans collide with and the chain heads; build on the
//	  state the previous flight will leave (its plan): log indexes,
//	  prev_hash, lines, leaf and stored hashes, root; COPY the rows into
//	  a temporary staging table (COPY FROM is refused on RLS tables)
//	finish (its own goroutine), one batch queued at once:
//	  pg_advisory_lock (the commit lock, serializing commits across
//	  nodes); INSERT … SELECT the rows; insert the stored-hash runs and
//	  the checkpoint row; NOTIFY; ledger.expect_log_state (waits for the
//	  previous commit, fails unless the log is where the flight was built);
//	  update tenant_heads and log_state; pg_advisory_unlock; COMMIT
//
// The commit lock is released just before COMMIT: the next flight inserts
// while this one's WAL is flushed, and cannot commit before it (the
// log_state row it checks and updates is locked until this COMMIT ends);
// a reader that needs the committed state reads log_state FOR UPDATE.
// When the check fails (the previous flight failed, another node
// committed), a span taken for new was stored already (errStored), or a
// seq conflict needs the latest stored version, the flight is built again
// under the lock, with a round trip per step. While other nodes commit
// between this node's commits, flights are built under the lock only.
//
// Only after COMMIT succeeds is the tree head published (signed) and the
// flight answered, in log order. A failed or unknown COMMIT answers every
// request of the flight with an error and acknowledges nothing; the
// connection is dropped (a COMMIT that did succeed is simply part of the
// log, and a retry of its spans is answered as duplicates).

// flight is one commit batch, from prepare to its answers.
type flight struct {
	reqs []*appendReq
	slot int       // writer connection
	conn *pgx.Conn // in the flight's transaction once prepare began it
	plan *plan     // built before the lock; nil to build under it
	err  error     // prepare failed: answer this
	prev *flight   // answered before this one
	// notes are this node's signed notes the flight's transaction
	// records (given back if it rolls back).
	notes []ledger.Checkpoint
	done  chan struct{}
}

// plan is a flight's batch built on one log state.
type plan struct {
	base     logState
	size     uint64 // after the batch
	root     [32]byte
	now      time.Time
	rows     int
	copy     []byte  // binary COPY stream of the rows
	hashes   hashRun // stored hashes the batch adds
	frontier []int64 // stored hashes the root read (cached after COMMIT)
	heads    map[string]chainHead
	versions versions       // the versions the batch adds
	latest   map[tid]uint64 // latest seq of the ids the batch adds
	// The batch before's versions and latest seqs, not committed yet.
	beforeVersions *versions
	before         map[tid]uint64
	pending        []pendingConflict
	unsure         bool // built without a version it needs (check): build again with every key read
}

func (p *plan) after() logState {
	st := p.base
	st.size, st.root = p.size, p.root
	if p.rows > 0 {
		st.receivedAt = p.now
	}
	return st
}

// writerSlot is one of the writer's connections. It belongs to the
// flight that uses it, and to the writer goroutine in between.
type writerSlot struct {
	conn   *pgx.Conn
	staged bool // the staging table exists on conn
}

func (s *Store) writer() {
	defer close(s.done)
	var (
		prev, older *flight // older used the connection the next one takes
		slot        int
	)
	for {
		var r *appendReq
		select {
		case r = <-s.queue.Requests():
		case <-s.queue.Quit():
			wait(prev)
			s.drain()
			return
		}
		batch := s.fill([]*appendReq{r})
		if spansOf(batch) < pipelineSpans && inFlight(prev) {
			// A small batch: let more gather while the flight before
			// commits (each flight costs a dozen statements).
			wait(prev)
			batch = s.fill(batch)
		}
		s.queue.Batch(spansOf(batch))
		wait(older)
		f := s.prepare(batch, slot, prev)
		older, prev, slot = prev, f, slot^1
		go s.finish(f)
	}
}

func wait(f *flight) {
	if f != nil {
		<-f.done
	}
}

// inFlight reports whether f has requests and has not answered them.
func inFlight(f *flight) bool {
	if f == nil || len(f.reqs) == 0 {
		return false
	}
	select {
	case <-f.done:
		return false
	default:
		return true
	}
}

// pipelineSpans is the smallest batch prepared while the flight before
// is still in flight.
const pipelineSpans = 256

func spansOf(batch []*appendReq) int {
	n := 0
	for _, r := range batch {
		n += len(r.spans)
	}
	return n
}

// fill adds queued requests to batch up to MaxBatchSpans spans.
func (s *Store) fill(batch []*appendReq) []*appendReq {
	n := spansOf(batch)
	for n < s.cfg.MaxBatchSpans {
		select {
		case r := <-s.queue.Requests():
			batch = append(batch, r)
			n += len(r.spans)
		default:
			return batch
		}
	}
	return batch
}

// drain commits what was queued before Close took the lock, records the
// last notes and closes the writer's connections.
func (s *Store) drain() {
	for {
		batch := s.fill(nil)
		if len(batch) == 0 {
			break
		}
		s.queue.Batch(spansOf(batch))
		s.finish(s.prepare(batch, 0, nil))
	}
	if notes := s.takeNotes(); len(notes) > 0 && !s.failed.Load() {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.CommitTimeout)
		err := s.recordNotes(ctx, notes)
		cancel()
		if err != nil {
			s.log.Warn("recording the last checkpoint notes", "err", err)
		}
	}
	for i := range s.wslots {
		s.dropWriterConn(i)
	}
}

// prepare starts a flight: it answers the requests given up already,
// reads and builds the batch on the state the flight before, prev, will
// leave (or on the state read) and stages its rows. What fails here
// fails the flight; finish answers.
func (s *Store) prepare(reqs []*appendReq, slot int, prev *flight) *flight {
	f := &flight{slot: slot, prev: prev, done: make(chan struct{})}
	if s.failed.Load() {
		f.reqs, f.err = reqs, s.stoppedErr()
		return f
	}
	for _, r := range reqs {
		if err := r.ctx.Err(); err != nil {
			r.done <- err // given up before anything was written
			continue
		}
		f.reqs = append(f.reqs, r)
	}
	if len(f.reqs) == 0 {
		return f
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.CommitTimeout)
	f.err = s.prepareTx(ctx, f, prev)
	cancel()
	return f
}

func (s *Store) prepareTx(ctx context.Context, f *flight, prevFlight *flight) error {
	var prev *plan // set by prepare, never changed after
	if prevFlight != nil {
		prev = prevFlight.plan
	}
	if !s.speculate.Load() || (prev == nil && inFlight(prevFlight)) {
		// Another node committed between this node's last two commits
		// (a plan built now would likely be stale at the lock), or the
		// flight before, still in flight, is built under the lock.
		return s.beginWrite(ctx, f, nil)
	}
	// Reads in the commit transaction before the lock, log_state first:
	// every later read sees at least what it saw, and whatever commits
	// in between changes log_state, which the lock then finds.
	var rd reads
	if err := s.beginWrite(ctx, f, func(b *pgx.Batch) { rd.queue(b, batchKeys(f.reqs, false), false) }); err != nil {
		return err
	}
	base := rd.state
	if prev != nil {
		// The previous flight has not answered yet: build on the state
		// it will leave, with its entries, heads and hashes, if that is
		// where the log stands.
		after := prev.after()
		if !rd.state.same(prev.base) && !rd.state.same(after) {
			return nil // another node committed meanwhile: build under the lock
		}
		base = after
	}
	p, err := s.build(ctx, f.conn, f.reqs, base, &rd, prev, false)
	if err != nil {
		return err
	}
	if err := s.stage(ctx, f.conn, p); err != nil {
		return err
	}
	f.plan = p
	return nil
}

// beginWrite begins the flight's commit transaction on its connection,
// in one round trip with the session identity, the staging table
// (created once per connection; again after a rollback) and whatever
// more queues.
func (s *Store) beginWrite(ctx context.Context, f *flight, more func(*pgx.Batch)) error {
	conn, err := s.writerConn(ctx, f.slot)
	if err != nil {
		return err
	}
	f.conn = conn
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue(setupSQL, s.setupArgs(systemScope)...)
	if !s.wslots[f.slot].staged {
		b.Queue(stageSQL)
	}
	if more != nil {
		more(b)
	}
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	s.wslots[f.slot].staged = true
	return nil
}

var (
	// errStored: a span the flight took for new without reading the
	// database (seq 0, not probed) was stored already.
	errStored = errors.New("pgstore: a span of the batch is stored already")
	// errStale: the log is not where the flight was built.
	errStale = errors.New("pgstore: the log moved since the batch was built")
)

// finish commits the flight, then, once the flight before it answered,
// publishes the new tree head and answers.
func (s *Store) finish(f *flight) {
	defer close(f.done)
	if len(f.reqs) == 0 {
		wait(f.prev)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.CommitTimeout)
	defer cancel()
	p, err := f.plan, f.err
	probeAll, staged := false, p != nil
	if err == nil && p != nil && len(p.pending) == 0 && !p.unsure {
		err = s.commitPlanned(ctx, f)
		switch {
		case err == nil:
		case errors.Is(err, errStored):
			probeAll, err, p, staged = true, nil, nil, false
		case errors.Is(err, errStale):
			// Most often the flight before failed or took the lock
			// later; the plan may still fit once it is done.
			err, staged = nil, false
		}
		if err == nil && !staged {
			err = s.beginWrite(ctx, f, nil) // commitPlanned rolled back
		}
	}
	wait(f.prev) // answers and checkpoints go out in log order
	if err == nil && (!staged || len(p.pending) > 0 || p.unsure) {
		p, err = s.commitLocked(ctx, f, p, staged, probeAll)
	}
	if err != nil {
		if !errors.Is(err, ledger.ErrClosed) {
			s.log.Error("commit batch failed; nothing of it is acknowledged", "err", err)
		}
		s.dropWriterConn(f.slot)
		for _, r := range f.reqs {
			if errors.Is(err, ledger.ErrClosed) {
				r.done <- err
			} else {
				r.done <- fmt.Errorf("postgres commit (outcome unknown, retrying is safe): %w", err)
			}
		}
		return
	}
	s.committed = p.after()
	// Committed: the frontier of the new tree is safe to cache.
	for _, idx := range p.frontier {
		if h, ok := p.hashes.get(idx); ok {
			s.hashes.add(idx, h)
		}
	}
	if err := s.publish(p.size, p.root); err != nil {
		for _, r := range f.reqs {
			r.done <- s.stoppedErr()
		}
		return
	}
	cp := s.Checkpoint()
	if p.rows > 0 && cp.Size == p.size && cp.Note != nil {
		s.addNote(cp)
	}
	for _, r := range f.reqs {
		for i := range r.out {
			if r.out[i].Err == nil {
				r.out[i].Result.Checkpoint = cp
			}
		}
		r.done <- nil
	}
}

// commitPlanned commits a flight built before the lock, in one round
// trip queued at once: it waits on the server for the commit lock. It
// returns errStale or errStored (the transaction rolled back) when the
// flight must be built again under the lock.
func (s *Store) commitPlanned(ctx context.Context, f *flight) error {
	p := f.plan
	b := &pgx.Batch{}
	b.Queue(lockSQL, commitLockKey)
	s.queueNotes(b, f)
	if p.rows > 0 {
		s.queueWrites(b, p, true)
	} else {
		b.Queue(expectSQL, int64(p.base.size), p.base.root[:])
	}
	b.Queue(unlockSQL, commitLockKey)
	queueCommit(b)
	err := f.conn.SendBatch(ctx, b).Close()
	if err == nil {
		return nil
	}
	s.rollback(ctx, f)
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == staleCode:
			return errStale
		case pe.Code == "23505" && pe.ConstraintName == "universal_registry_pkey":
			return errStored
		case pe.Code == "23505":
			return errStale // another node's rows where this flight expected the log's end
		}
	}
	return err
}

// commitLocked commits a flight with plan p (if any; its rows in the
// staging table if staged) checked, or built again, under the commit
// lock. f.conn is in the flight's transaction.
func (s *Store) commitLocked(ctx context.Context, f *flight, p *plan, staged, probeAll bool) (_ *plan, err error) {
	conn := f.conn
	defer func() {
		if err != nil {
			s.rollback(ctx, f)
		}
	}()
	var st logState
	b := &pgx.Batch{}
	b.Queue(lockSQL, commitLockKey)
	s.queueNotes(b, f)
	// FOR UPDATE: waits for a commit in flight (the commit lock is
	// released just before COMMIT).
	b.Queue(stateSQL + " FOR UPDATE").QueryRow(func(row pgx.Row) error {
		var err error
		st, err = scanState(row)
		return err
	})
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return nil, err
	}
	// Build before the lock while no other node commits in between.
	s.speculate.Store(st.same(s.committed))
	if p != nil && !staged && st.same(p.base) && !p.unsure {
		if err := s.stage(ctx, conn, p); err != nil {
			return nil, err
		}
		staged = true
	}
	for p == nil || !st.same(p.base) || (p.unsure && !probeAll) {
		// Built on another state, or on too little: again, under the lock.
		b = &pgx.Batch{}
		if p != nil {
			probeAll = probeAll || p.unsure
			if staged && p.rows > 0 {
				b.Queue("TRUNCATE pg_temp.ur_stage")
			}
		}
		var rd reads
		rd.queue(b, batchKeys(f.reqs, probeAll), true)
		if err := conn.SendBatch(ctx, b).Close(); err != nil {
			return nil, err
		}
		if p, err = s.build(ctx, conn, f.reqs, st, &rd, nil, probeAll); err != nil {
			return nil, err
		}
		if err := s.stage(ctx, conn, p); err != nil {
			return nil, err
		}
		staged = true
	}
	if err := p.fillLatest(ctx, conn); err != nil {
		return nil, err
	}
	b = &pgx.Batch{}
	if p.rows > 0 {
		s.queueWrites(b, p, false)
	}
	// With nothing new (only duplicates and rejections) the state read
	// under the lock is committed, so it may be published.
	b.Queue(unlockSQL, commitLockKey)
	queueCommit(b)
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		var pe *pgconn.PgError
		if !probeAll && errors.As(err, &pe) && pe.Code == "23505" && pe.ConstraintName == "universal_registry_pkey" {
			// Unprobed spans found stored: once more, every key read.
			s.rollback(ctx, f)
			if err := s.beginWrite(ctx, f, nil); err != nil {
				return nil, err
			}
			return s.commitLocked(ctx, f, nil, false, true)
		}
		return nil, err
	}
	return p, nil
}

// queueWrites queues the statements that write plan p, the lock held:
// the rows, stored-hash runs, checkpoint row and notification, then (with
// check: p is verified to be built on the log's state first) the chain
// heads and log state.
func (s *Store) queueWrites(b *pgx.Batch, p *plan, check bool) {
	var (
		headT, headH []string
		headI        []int64
	)
	for t, h := range p.heads {
		headT, headH, headI = append(headT, t), append(headH, h.hash.String()), append(headI, int64(h.index))
	}
	runFirst, runs := hashRuns(p.hashes.first, p.hashes.hashes)
	b.Queue(insertSQL)
	b.Queue(insertRunsSQL, runFirst, runs)
	b.Queue(`INSERT INTO ledger.checkpoints (size, root) VALUES ($1, $2)`, int64(p.size), p.root[:])
	b.Queue(notifySQL, strconv.FormatUint(p.size-1, 10))
	if check {
		b.Queue(expectSQL, int64(p.base.size), p.base.root[:])
	}
	b.Queue(setHeadSQL, headT, headH, headI)
	b.Queue(`UPDATE ledger.log_state SET size = $1, root = $2, received_at = $3`, int64(p.size), p.root[:], p.now)
}

// queueCommit queues COMMIT, failing unless it committed.
func queueCommit(b *pgx.Batch) {
	b.Queue("COMMIT").Exec(func(ct pgconn.CommandTag) error {
		if ct.String() != "COMMIT" {
			return fmt.Errorf("commit: the transaction was rolled back (%s)", ct)
		}
		return nil
	})
}

// rollback ends the flight's transaction and releases the commit lock if
// it is held; a connection that cannot is dropped. The notes it was to
// record wait for the next transaction.
func (s *Store) rollback(ctx context.Context, f *flight) {
	for _, c := range f.notes {
		s.addNote(c)
	}
	f.notes = nil
	s.wslots[f.slot].staged = false // a CREATE in the transaction is undone
	if f.conn.IsClosed() {
		return
	}
	b := &pgx.Batch{}
	b.Queue("ROLLBACK")
	b.Queue("SELECT pg_advisory_unlock_all()")
	if err := f.conn.SendBatch(context.WithoutCancel(ctx), b).Close(); err != nil {
		s.dropWriterConn(f.slot)
	}
}

// addNote queues this node's signed note of a checkpoint it committed,
// to be recorded in ledger.checkpoints by a later transaction.
func (s *Store) addNote(c ledger.Checkpoint) {
	s.notesMu.Lock()
	defer s.notesMu.Unlock()
	s.notes = append(s.notes, c)
}

func (s *Store) takeNotes() []ledger.Checkpoint {
	s.notesMu.Lock()
	defer s.notesMu.Unlock()
	n := s.notes
	s.notes = nil
	return n
}

// queueNotes has f's transaction record the notes waiting.
func (s *Store) queueNotes(b *pgx.Batch, f *flight) {
	f.notes = s.takeNotes()
	for _, c := range f.notes {
		b.Queue(noteSQL, int64(c.Size), string(c.Note))
	}
}

func (s *Store) dropWriterConn(slot int) {
	if w := &s.wslots[slot]; w.conn != nil {
		w.conn.Close(context.Background())
		w.conn, w.staged = nil, false
	}
}

func (s *Store) writerConn(ctx context.Context, slot int) (*pgx.Conn, error) {
	w := &s.wslots[slot]
	if w.conn != nil && !w.conn.IsClosed() {
		return w.conn, nil
	}
	conn, err := connect(ctx, s.cfg.URL)
	if err != nil {
		return nil, err
	}
	w.conn, w.staged = conn, false
	return conn, nil
}

// Statements of the commit transaction.
const (
	// The commit lock: a session lock, released by the batch just before
	// COMMIT (and by rollback).
	lockSQL   = `SELECT pg_advisory_lock($1)`
	unlockSQL = `SELECT pg_advisory_unlock($1)`
	stateSQL  = `SELECT size, root, origin, received_at FROM ledger.log_state`
	// expectSQL fails with staleCode unless the log is at this size and
	// root, once the commit in flight (if any) has ended.
	expectSQL = `SELECT ledger.expect_log_state($1, $2)`
	staleCode = "LL001"
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
	// notifySQL tells every node's listener (and Blueprint4 clients) the
	// last log index committed; delivered at COMMIT.
	notifySQL = `SELECT pg_notify('` + notifyChannel + `', $1)`
)

// columnList is the registry's columns in COPY order, quoted.
var columnList = `"` + strings.Join(registryColumns, `", "`) + `"`

var (
	// copyStageSQL stages a flight's rows.
	copyStageSQL = "COPY pg_temp.ur_stage (" + columnList + ") FROM STDIN (FORMAT binary)"
	// insertSQL moves the staged rows into the registry.
	insertSQL = "INSERT INTO ledger.universal_registry (" + columnList + ") SELECT " + columnList + " FROM pg_temp.ur_stage"
)

type tis struct {
	tenant, id string
	seq        uint64
}

type tid struct{ tenant, id string }

// keys are what a batch reads before it is built: the versions its spans
// collide with (their own and the one before) and its tenants. Without
// all, a span of seq 0 is not looked up: it is new unless the insert
// finds its key taken (errStored), and most spans are new.
type keys struct {
	tenants, ids []string
	seqs         []int64
	heads        []string
}

func batchKeys(reqs []*appendReq, all bool) keys {
	var k keys
	seenT := map[string]bool{}
	seenK := map[tis]bool{}
	add := func(t, id string, seq uint64) {
		if key := (tis{t, id, seq}); !seenK[key] {
			seenK[key] = true
			k.tenants, k.ids, k.seqs = append(k.tenants, t), append(k.ids, id), append(k.seqs, int64(seq))
		}
	}
	for _, r := range reqs {
		for _, sp := range r.spans {
			if all || sp.Seq > 0 {
				add(sp.Tenant, sp.ID, sp.Seq)
			}
			if sp.Seq > 0 {
				add(sp.Tenant, sp.ID, sp.Seq-1)
			}
			if !seenT[sp.Tenant] {
				seenT[sp.Tenant] = true
				k.heads = append(k.heads, sp.Tenant)
			}
		}
	}
	return k
}

// reads is what a batch is built on: the log state, the stored versions
// its spans collide with and its tenants' chain heads.
type reads struct {
	state  logState
	stored map[tis]ledger.Result
	heads  map[string]span.Hash
}

// queue adds the reads for keys k to b; with locked, log_state is read
// FOR UPDATE (after the commit in flight, if any).
func (rd *reads) queue(b *pgx.Batch, k keys, locked bool) {
	rd.stored, rd.heads = map[tis]ledger.Result{}, map[string]span.Hash{}
	q := stateSQL
	if locked {
		q += " FOR UPDATE"
	}
	b.Queue(q).QueryRow(func(row pgx.Row) error {
		var err error
		rd.state, err = scanState(row)
		return err
	})
	b.Queue(versionsSQL, k.tenants, k.ids, k.seqs).Query(func(rows pgx.Rows) error {
		return scanVersions(rows, rd.stored)
	})
	b.Queue(headsSQL, k.heads).Query(func(rows pgx.Rows) error {
		var t, h string
		_, err := pgx.ForEachRow(rows, []any{&t, &h}, func() error {
			hash, err := span.ParseHash(h)
			if err != nil {
				return fmt.Errorf("%w: chain head of tenant %q: %v", ledger.ErrCorrupt, t, err)
			}
			rd.heads[t] = hash
			return nil
		})
		return err
	})
}

// build builds the batch of reqs on state base with what rd read; prev,
// when set, is the plan of the flight before, not committed yet: base is
// the state it leaves, and its entries count as stored. It fills the
// requests' outcomes (so a rebuild overwrites them).
func (s *Store) build(ctx context.Context, q queryer, reqs []*appendReq, base logState, rd *reads, prev *plan, probedAll bool) (*plan, error) {
	p := &plan{
		base: base, size: base.size, root: base.root,
		hashes: hashRun{first: tlog.StoredHashIndex(0, int64(base.size))},
		heads:  map[string]chainHead{}, versions: versions{at: map[tis]int32{}}, latest: map[tid]uint64{},
	}
	heads := rd.heads
	reader := &hashReader{ctx: ctx, cache: s.hashes, overlay: &p.hashes, q: q}
	if prev != nil {
		p.before, p.beforeVersions = prev.latest, &prev.versions
		for t, h := range prev.heads {
			heads[t] = h.hash
		}
		reader.pending = &prev.hashes
	}
	p.now = s.cfg.Now().UTC().Truncate(time.Microsecond)
	if p.now.Before(base.receivedAt) {
		p.now = base.receivedAt.UTC() // received_at never decreases in log order
	}
	n := len(copySignature) + 2
	for _, r := range reqs {
		for _, c := range r.cols {
			n += 2*len(c) + 512 // the line is about the size of the columns
		}
	}
	buf := append(make([]byte, 0, n), copySignature...)
	lh := sha256.New()
	var leaf [32]byte
	for _, r := range reqs {
		for i, sp := range r.spans {
			out := &r.out[i]
			*out = ledger.Outcome{}
			k := tis{sp.Tenant, sp.ID, sp.Seq}
			dup, err := p.check(k, sp, rd.stored, probedAll)
			if err != nil {
				out.Err = err
				continue
			}
			if dup != nil {
				out.Result = *dup
				out.Result.Duplicate = true
				continue
			}
			next := p.size
			prevHash := heads[sp.Tenant]
			// The row: the span's own fields, then entryColumns, the
			// line written straight into the stream.
			buf = binary.BigEndian.AppendUint16(buf, uint16(len(spanColumns)+len(entryColumns)))
			buf = append(buf, r.cols[i]...)
			buf = appendText(buf, prevHash.AppendHex)
			buf = appendInt8(buf, int64(next))
			buf = appendTimestamptz(buf, p.now)
			at := len(buf)
			buf = appendText(buf, func(dst []byte) []byte { return sp.AppendEntry(dst, next, prevHash, p.now) })
			lh.Reset()
			lh.Write([]byte{0})
			lh.Write(buf[at+4:])
			lh.Sum(leaf[:0])
			buf = appendBytes(buf, leaf[:])
			hashes, err := tlog.StoredHashesForRecordHash(int64(next), leaf, reader)
			if err != nil {
				return nil, fmt.Errorf("merkle tree at %d: %w", next, err)
			}
			p.hashes.hashes = append(p.hashes.hashes, hashes...)
			res := ledger.Result{
				ID: sp.ID, Seq: sp.Seq, Tenant: sp.Tenant, LogIndex: next,
				Hash: sp.Hash, PrevHash: prevHash, ReceivedAt: p.now, LeafHash: leaf,
			}
			out.Result = res
			p.versions.add(k, res)
			p.latest[tid{sp.Tenant, sp.ID}] = sp.Seq
			heads[sp.Tenant] = sp.Hash
			p.heads[sp.Tenant] = chainHead{hash: sp.Hash, index: next}
			p.size++
			p.rows++
		}
	}
	if p.rows == 0 {
		return p, nil
	}
	p.copy = binary.BigEndian.AppendUint16(buf, 0xffff)
	reader.read = []int64{}
	root, err := tlog.TreeHash(int64(p.size), reader)
	if err != nil {
		return nil, fmt.Errorf("merkle root at %d: %w", p.size, err)
	}
	p.root, p.frontier = root, reader.read
	return p, nil
}

// stage copies the plan's rows into the staging table.
func (s *Store) stage(ctx context.Context, conn *pgx.Conn, p *plan) error {
	if p.rows == 0 {
		return nil
	}
	if _, err := conn.PgConn().CopyFrom(ctx, bytes.NewReader(p.copy), copyStageSQL); err != nil {
		return fmt.Errorf("copy rows: %w", err)
	}
	return nil
}

func (st logState) same(o logState) bool {
	return st.size == o.size && st.root == o.root && st.receivedAt.Equal(o.receivedAt)
}

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

// check applies the seq rules (as the embedded store does) against what
// is stored and what the batch added: the original result for an
// identical re-append, an error wrapping ledger.ErrConflict, or (nil,
// nil) when sp is the next version.
func (p *plan) check(k tis, sp *span.Span, stored map[tis]ledger.Result, probedAll bool) (*ledger.Result, error) {
	r, ok := p.versions.get(k)
	if !ok {
		r, ok = p.beforeVersions.get(k)
	}
	if !ok {
		var v ledger.Result
		if v, ok = stored[k]; ok {
			r = &v
		}
	}
	if ok {
		if r.Hash != sp.Hash {
			return nil, &ledger.ConflictError{Kind: ledger.ContentConflict, ID: sp.ID, Seq: sp.Seq, Stored: r.Hash}
		}
		res := *r
		return &res, nil
	}
	l, ok := p.latest[tid{k.tenant, k.id}]
	if !ok {
		l, ok = p.before[tid{k.tenant, k.id}]
	}
	if ok {
		if sp.Seq == l+1 {
			return nil, nil
		}
		if sp.Seq == 0 && !probedAll {
			// Version 0 exists, but was not read: a duplicate or a
			// content conflict, not a seq conflict. Read it.
			p.unsure = true
		}
		return nil, &ledger.ConflictError{Kind: ledger.SeqConflict, ID: sp.ID, Seq: sp.Seq, Latest: int64(l)}
	}
	if sp.Seq == 0 {
		return nil, nil
	}
	if _, ok := stored[tis{k.tenant, k.id, sp.Seq - 1}]; ok {
		return nil, nil
	}
	if _, ok := p.beforeVersions.get(tis{k.tenant, k.id, sp.Seq - 1}); ok {
		return nil, nil
	}
	// A seq conflict against the database: its latest version is read
	// once for all such spans (fillLatest) before anyone is answered.
	ce := &ledger.ConflictError{Kind: ledger.SeqConflict, ID: sp.ID, Seq: sp.Seq, Latest: -1}
	p.pending = append(p.pending, pendingConflict{ce: ce, tenant: k.tenant})
	return nil, ce
}

// versions are the results of a batch's new entries by (tenant, id,
// seq); the map holds indexes (small entries: lookups miss most often).
type versions struct {
	at   map[tis]int32
	list []ledger.Result
}

func (v *versions) add(k tis, r ledger.Result) {
	v.at[k] = int32(len(v.list))
	v.list = append(v.list, r)
}

func (v *versions) get(k tis) (*ledger.Result, bool) {
	if v == nil {
		return nil, false
	}
	i, ok := v.at[k]
	if !ok {
		return nil, false
	}
	return &v.list[i], true
}

// pendingConflict is a seq conflict whose latest stored seq is not known
// yet.
type pendingConflict struct {
	ce     *ledger.ConflictError
	tenant string
}

// fillLatest reads the latest stored seq of every pending conflict
// (under the commit lock: what is stored then).
func (p *plan) fillLatest(ctx context.Context, q queryer) error {
	if len(p.pending) == 0 {
		return nil
	}
	tenants := make([]string, len(p.pending))
	ids := make([]string, len(p.pending))
	for i, c := range p.pending {
		tenants[i], ids[i] = c.tenant, c.ce.ID
	}
	rows, err := q.Query(ctx, latestSQL, tenants, ids)
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
	for _, c := range p.pending {
		if l, ok := latest[tid{c.tenant, c.ce.ID}]; ok {
			c.ce.Latest = l
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

// recordNotes writes this node's signed notes into their checkpoint rows
// (Close; during operation the next batch does it).
func (s *Store) recordNotes(ctx context.Context, notes []ledger.Checkpoint) error {
	conn, err := s.writerConn(ctx, 0)
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, setupSQL, s.setupArgs(systemScope)...); err != nil {
			return err
		}
		for _, c := range notes {
			if _, err := tx.Exec(ctx, noteSQL, int64(c.Size), string(c.Note)); err != nil {
				return err
			}
		}
		return nil
	})
}
