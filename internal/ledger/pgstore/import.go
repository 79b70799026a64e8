package pgstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/span"
)

// ErrNotEmpty is returned by Import for a database that already holds
// entries (or records another log's origin).
var ErrNotEmpty = errors.New("the database already holds a ledger")

// ImportOptions configure Import.
type ImportOptions struct {
	// Origin is the imported log's name, recorded in ledger.log_state.
	// The database must record none yet, or this one.
	Origin string
	// VerifierKeys are the imported log's checkpoint verifier keys
	// ("origin+id+base64"): registered in ledger.log_keys, so that every
	// node's GET /log/key lists them and checkpoints and receipts signed
	// before the import keep verifying.
	VerifierKeys []string
	// Checkpoints are the imported log's checkpoints to keep as rows of
	// ledger.checkpoints, notes included. Each root must be the root of
	// the imported entries at its size (checked); a row (size, root) for
	// the final size is added when none is given.
	Checkpoints []ledger.Checkpoint
	// Node names the importer in ledger.log_keys and app.user_id;
	// default "import".
	Node string
	// Progress, when set, is called after every chunk with the entries
	// written so far.
	Progress func(entries uint64)
	// Verify are the options of the verification Import runs on the copy
	// inside its transaction, before COMMIT (its Progress is ignored).
	Verify VerifyOptions
}

// ImportResult says what Import wrote.
type ImportResult struct {
	Entries uint64
	Root    [32]byte
	// Verify is the report of the verification of the copy (Verify's
	// checks, run in the import transaction before COMMIT).
	Verify VerifyReport
}

// importChunk is how many entries Import stages and inserts at once.
const importChunk = 4096

// Import writes a ledger into the migrated, empty database at url from
// its entry lines: next returns them in log order (the exact stored
// bytes, without newline; Import copies each before calling next again)
// and io.EOF after the last. Nothing is re-stamped: every row is built
// from its line exactly as the writer builds the row of a new entry, so
// log_index, prev_hash and received_at stay those of the line (the
// received_at column keeps microseconds; the line keeps it exactly).
//
// Each line must parse (span.ParseEntry: canonical form, curr_hash,
// signature), name the next log index and link its tenant's chain; an
// error wrapping ledger.ErrCorrupt names the first that does not. The
// whole import is one transaction under the commit lock, so servers on
// the database wait for it and a failure leaves the database as it was.
// Before COMMIT the copy is verified as Verify would (a *VerifyError if
// it does not hold). A database that already holds entries, or records
// another origin, is refused with ErrNotEmpty.
func Import(ctx context.Context, url string, next func() ([]byte, error), opts ImportOptions) (ImportResult, error) {
	var res ImportResult
	if opts.Origin == "" {
		return res, errors.New("import: ImportOptions.Origin is empty")
	}
	if opts.Node == "" {
		opts.Node = "import"
	}
	conn, err := connect(ctx, url)
	if err != nil {
		return res, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if err := checkSchema(ctx, conn); err != nil {
		return res, err
	}
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		im := &importer{ctx: ctx, tx: tx, opts: opts, tree: newFrontier(), heads: map[string]chainHead{}, cps: map[uint64]ledger.Checkpoint{}}
		if err := im.begin(); err != nil {
			return err
		}
		if err := im.copy(next); err != nil {
			return err
		}
		if err := im.finish(); err != nil {
			return err
		}
		vo := opts.Verify
		vo.Progress = nil
		rep, err := verifyTx(ctx, tx, vo)
		if err != nil {
			return err
		}
		if rep.Entries != im.tree.size || rep.Root != im.root {
			return fmt.Errorf("import: the copy verifies with %d entries and root %x, %d with root %x were written", rep.Entries, rep.Root[:], im.tree.size, im.root[:])
		}
		res = ImportResult{Entries: im.tree.size, Root: im.root, Verify: rep}
		return nil
	})
	if err != nil {
		return ImportResult{}, err
	}
	return res, nil
}

// importer is the state of one Import transaction.
type importer struct {
	ctx  context.Context
	tx   pgx.Tx
	opts ImportOptions

	tree  *frontier
	root  [32]byte
	heads map[string]chainHead
	cps   map[uint64]ledger.Checkpoint // opts.Checkpoints by size
	last  time.Time                    // received_at of the last entry

	rows      [][]any
	hashFirst int64       // stored-hash index of hashes[0]
	hashes    []tlog.Hash // the chunk's stored hashes
}

// importInsertSQL moves the staged rows into the registry.
var importInsertSQL = func() string {
	cols := `"` + strings.Join(registryColumns, `", "`) + `"`
	return "INSERT INTO ledger.universal_registry (" + cols + ") SELECT " + cols + " FROM pg_temp.ur_import"
}()

// begin sets up the transaction, takes the commit lock and checks that
// the database is empty.
func (im *importer) begin() error {
	ctx, tx := im.ctx, im.tx
	if _, err := tx.Exec(ctx, setupSQL, "system", "", "system:"+im.opts.Node); err != nil {
		return fmt.Errorf("postgres session setup: %w", err)
	}
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", commitLockKey); err != nil {
		return fmt.Errorf("import: take the commit lock: %w", err)
	}
	// FOR UPDATE: a server releases the commit lock just before its
	// COMMIT; this waits for that COMMIT.
	st, err := scanState(tx.QueryRow(ctx, stateSQL+" FOR UPDATE"))
	if err != nil {
		return err
	}
	var found bool
	if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM ledger.universal_registry)").Scan(&found); err != nil {
		return fmt.Errorf("import: %w", err)
	}
	switch {
	case st.size > 0 || found:
		return fmt.Errorf("%w: it holds %d entries; import only into a new database", ErrNotEmpty, st.size)
	case st.origin != "" && st.origin != im.opts.Origin:
		return fmt.Errorf("%w: it records the origin %q (a server started on it?), the imported log is %q", ErrNotEmpty, st.origin, im.opts.Origin)
	}
	for _, c := range im.opts.Checkpoints {
		if _, ok := im.cps[c.Size]; !ok || im.cps[c.Size].Note == nil {
			im.cps[c.Size] = c
		}
	}
	_, err = tx.Exec(ctx, "CREATE TEMPORARY TABLE ur_import (LIKE ledger.universal_registry INCLUDING DEFAULTS) ON COMMIT DROP")
	if err != nil {
		return fmt.Errorf("import: create the staging table: %w", err)
	}
	return nil
}

// copy reads every line, checks it and writes it in chunks.
func (im *importer) copy(next func() ([]byte, error)) error {
	for {
		line, err := next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if err := im.add(bytes.Clone(line)); err != nil {
			return err
		}
		if len(im.rows) >= importChunk {
			if err := im.flush(); err != nil {
				return err
			}
		}
	}
	return im.flush()
}

// add checks one entry line and queues its row and stored hashes.
func (im *importer) add(line []byte) error {
	n := im.tree.size
	e, err := span.ParseEntry(line)
	if err != nil {
		return fmt.Errorf("%w: entry %d: %v", ledger.ErrCorrupt, n, err)
	}
	if e.LogIndex != n {
		return fmt.Errorf("%w: entry %d has log_index %d (lines missing, duplicated or out of order)", ledger.ErrCorrupt, n, e.LogIndex)
	}
	if head := im.heads[e.Tenant]; e.PrevHash != head.hash {
		return fmt.Errorf("%w: entry %d: prev_hash %s, but the previous entry of tenant %q has curr_hash %s", ledger.ErrCorrupt, n, e.PrevHash, e.Tenant, head.hash)
	}
	leaf := tlog.RecordHash(line)
	first, hashes, err := im.tree.add(leaf)
	if err != nil {
		return err
	}
	if len(im.hashes) == 0 {
		im.hashFirst = first
	}
	im.hashes = append(im.hashes, hashes...)
	im.rows = append(im.rows, row(&e.Span, n, e.PrevHash, e.ReceivedAt, leaf, line))
	im.heads[e.Tenant] = chainHead{hash: e.Hash, index: n}
	im.last = e.ReceivedAt
	if c, ok := im.cps[im.tree.size]; ok {
		root, err := im.tree.root()
		if err != nil {
			return err
		}
		if root != c.Root {
			return fmt.Errorf("%w: the imported log's checkpoint of size %d has root %x, its entries give %x", ledger.ErrCorrupt, c.Size, c.Root[:], root[:])
		}
	}
	return nil
}

// flush writes the queued rows and stored hashes.
func (im *importer) flush() error {
	if len(im.rows) == 0 {
		return nil
	}
	ctx, tx := im.ctx, im.tx
	// COPY FROM is refused on a table with row-level security: stage,
	// then INSERT … SELECT (the insert policy checks every row).
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"ur_import"}, registryColumns, pgx.CopyFromRows(im.rows)); err != nil {
		return fmt.Errorf("import: copy rows: %w", err)
	}
	b := &pgx.Batch{}
	b.Queue(importInsertSQL)
	b.Queue("TRUNCATE pg_temp.ur_import")
	firsts, runs := hashRuns(im.hashFirst, im.hashes)
	b.Queue(insertRunsSQL, firsts, runs)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("import: insert entries up to %d: %w", im.tree.size, err)
	}
	im.rows, im.hashes = im.rows[:0], im.hashes[:0]
	im.tree.prune()
	if im.opts.Progress != nil {
		im.opts.Progress(im.tree.size)
	}
	return nil
}

// finish writes the checkpoints, chain heads, log state and keys.
func (im *importer) finish() error {
	ctx, tx := im.ctx, im.tx
	n := im.tree.size
	root, err := im.tree.root()
	if err != nil {
		return err
	}
	im.root = root
	if _, ok := im.cps[n]; !ok && n > 0 {
		im.cps[n] = ledger.Checkpoint{Size: n, Root: root}
	}
	b := &pgx.Batch{}
	for size, c := range im.cps {
		switch {
		case size > n:
			return fmt.Errorf("%w: the imported log has a checkpoint of size %d, but only %d entries", ledger.ErrCorrupt, size, n)
		case size == 0 && c.Root != emptyRoot:
			return fmt.Errorf("%w: the imported log's checkpoint of size 0 has root %x, not the empty tree's", ledger.ErrCorrupt, c.Root[:])
		case size == 0 && c.Note != nil:
			// migrate wrote the empty tree's row; its note may be filled in.
			b.Queue(`UPDATE ledger.checkpoints SET note = $1 WHERE size = 0 AND note IS NULL`, string(c.Note))
			continue
		case size == 0:
			continue
		}
		var note *string
		if c.Note != nil {
			s := string(c.Note)
			note = &s
		}
		b.Queue("INSERT INTO ledger.checkpoints (size, root, note) VALUES ($1, $2, $3)", int64(size), c.Root[:], note)
	}
	var (
		tenants, hashes []string
		indexes         []int64
	)
	for t, h := range im.heads {
		tenants, hashes, indexes = append(tenants, t), append(hashes, h.hash.String()), append(indexes, int64(h.index))
	}
	b.Queue(`INSERT INTO ledger.tenant_heads (tenant_id, curr_hash, log_index) SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])`, tenants, hashes, indexes)
	// Later batches stamp at least this (received_at never decreases in
	// log order); the column keeps microseconds, so round up.
	var last any
	if n > 0 {
		last = im.last.UTC().Add(time.Microsecond - 1).Truncate(time.Microsecond)
	}
	b.Queue(`UPDATE ledger.log_state SET size = $1, root = $2, origin = coalesce(origin, $3), received_at = $4`, int64(n), root[:], im.opts.Origin, last)
	if n > 0 {
		b.Queue(notifySQL, strconv.FormatUint(n-1, 10))
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("import: write checkpoints and log state: %w", err)
	}
	return registerKeys(ctx, tx, im.opts.Origin, im.opts.Node, im.opts.VerifierKeys)
}
