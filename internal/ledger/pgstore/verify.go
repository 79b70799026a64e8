package pgstore

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/span"
)

// Verify reads the ledger in the database at url in one snapshot
// (REPEATABLE READ, read only, as logline_app in the system scope, so it
// may run beside serving nodes) and checks it as `logline verify --data`
// checks a data directory:
//
//   - every row of ledger.universal_registry in log order: log_index
//     dense from 0; its line parses (span.ParseEntry: canonical JCS,
//     curr_hash, signature) and names that log index; every column the
//     writer derives from the line (id, tenant_id, seq, prev_hash,
//     curr_hash, leaf_hash, at, received_at, data, …) holds what the
//     writer would have stored for it; prev_hash links each tenant's
//     chain;
//   - ledger.tree_hash_runs holds exactly the tlog stored hashes of those
//     entries;
//   - every row of ledger.checkpoints has the root of the tree of its
//     size, and its signed note, when it has one, verifies
//     (VerifyOptions.Notes) and names that size and root;
//   - ledger.log_state (size, root) and ledger.tenant_heads agree.
//
// It returns a *VerifyError (wrapping ledger.ErrCorrupt) for the first
// problem found, or the failing operation's error.
func Verify(ctx context.Context, url string, opts VerifyOptions) (VerifyReport, error) {
	conn, err := connect(ctx, url)
	if err != nil {
		return VerifyReport{}, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if err := checkSchema(ctx, conn); err != nil {
		return VerifyReport{}, err
	}
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return VerifyReport{}, fmt.Errorf("verify: begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only
	if _, err := tx.Exec(ctx, setupSQL, "system", "", "system:verify"); err != nil {
		return VerifyReport{}, fmt.Errorf("postgres session setup: %w", err)
	}
	return verifyTx(ctx, tx, opts)
}

// VerifyOptions control Verify. The zero value works.
type VerifyOptions struct {
	// Progress, when set, is called after every chunk of entries with the
	// entries checked so far and the log size ledger.log_state records.
	Progress func(done, total uint64)
	// TreeSizes asks for the roots of these tree sizes (a node's archived
	// checkpoints, say); VerifyReport.Roots has those the log reaches.
	TreeSizes []uint64
	// Notes, when set, is called once with the log's origin and the
	// verifier keys registered in ledger.log_keys, and returns the check
	// of a signed checkpoint note: that one of those keys signed it for
	// that origin, and the size and root it signs. Without it notes are
	// not checked (the roots of the rows still are).
	Notes func(origin string, keys []string) (NoteCheck, error)
}

// NoteCheck checks a signed checkpoint note and returns what it signs.
type NoteCheck func(note []byte) (size uint64, root [32]byte, err error)

// VerifyReport says what Verify checked.
type VerifyReport struct {
	Origin     string // the log's origin (ledger.log_state)
	Entries    uint64
	Signed     uint64 // entries whose span carries a client signature
	Tenants    int
	Root       [32]byte
	TreeHashes int64 // stored Merkle hashes compared
	// Checkpoints counts the rows of ledger.checkpoints checked (their
	// sizes from MinCheckpoint to MaxCheckpoint), Notes those with a
	// signed note, every one verified when VerifyOptions.Notes was given.
	Checkpoints                  int
	Notes                        int
	NotesChecked                 bool
	MinCheckpoint, MaxCheckpoint uint64
	Keys                         int // verifier keys in ledger.log_keys
	// Roots holds the root of each VerifyOptions.TreeSizes size that is
	// at most Entries.
	Roots map[uint64][32]byte
}

// VerifyError is the first problem Verify found: a table (and column)
// that disagrees with the entries or with itself. It wraps
// ledger.ErrCorrupt.
type VerifyError struct {
	Table  string // e.g. "ledger.universal_registry"
	Column string // "" when the row as a whole is the problem
	// Index is the log index concerned, -1 when none applies. For a
	// checkpoint it is the first log index of the damaged range (the
	// size of the last checkpoint below that verified).
	Index int64
	// Checkpoint is set when the problem is a checkpoint row (Size) or
	// its note.
	Checkpoint bool
	Size       uint64
	Reason     string
}

func (e *VerifyError) Error() string {
	var b strings.Builder
	b.WriteString(e.Table)
	if e.Column != "" {
		b.WriteString("." + e.Column)
	}
	if e.Index >= 0 {
		fmt.Fprintf(&b, " at log index %d", e.Index)
	}
	b.WriteString(": " + e.Reason)
	return b.String()
}

func (e *VerifyError) Unwrap() error { return ledger.ErrCorrupt }

const (
	tableRegistry    = "ledger.universal_registry"
	tableTree        = "ledger.tree_hash_runs"
	tableCheckpoints = "ledger.checkpoints"
	tableState       = "ledger.log_state"
	tableHeads       = "ledger.tenant_heads"
	tableKeys        = "ledger.log_keys"
)

// verifyChunk is how many entries one read of Verify fetches.
const verifyChunk = 2048

// jsonColumns are the registry's jsonb columns: Verify reads them as text
// and compares them as JSON values (jsonb reorders keys and rewrites
// numbers).
var jsonColumns = map[string]bool{"input": true, "output": true, "error": true, "metadata": true, "data": true}

// verifySelectSQL reads the registry rows of a chunk: log_index, line,
// is_deleted, then registryColumns in order (jsonb as text).
var verifySelectSQL = func() string {
	cols := []string{"log_index", "line", "is_deleted"}
	for _, c := range registryColumns {
		col := `"` + c + `"`
		if jsonColumns[c] {
			col += "::text"
		}
		cols = append(cols, col)
	}
	// A bounded range, not LIMIT: the planner misjudges the row-level
	// security filter and would sort every row past $1 for each chunk.
	return "SELECT " + strings.Join(cols, ", ") + " FROM ledger.universal_registry WHERE log_index >= $1 AND log_index < $1 + $2 ORDER BY log_index"
}()

// verifier is the state of one verifyTx.
type verifier struct {
	ctx   context.Context
	tx    pgx.Tx
	opts  VerifyOptions
	rep   VerifyReport
	check NoteCheck

	next   uint64               // the next log index expected
	tree   *frontier            // the tree of the entries checked
	heads  map[string]chainHead // tenant → last entry
	sizes  map[uint64]bool      // VerifyOptions.TreeSizes
	goodCP uint64               // the largest checkpoint size that verified
}

type chainHead struct {
	hash  span.Hash
	index uint64
}

// verifyTx runs the checks of Verify in tx, which must be set up in the
// system scope (Import runs them on its own transaction before COMMIT).
func verifyTx(ctx context.Context, tx pgx.Tx, opts VerifyOptions) (VerifyReport, error) {
	v := &verifier{ctx: ctx, tx: tx, opts: opts, tree: newFrontier(), heads: map[string]chainHead{}, sizes: map[uint64]bool{}}
	st, err := readState(ctx, tx)
	if err != nil {
		return v.rep, err
	}
	v.rep.Origin = st.origin
	if err := v.loadKeys(); err != nil {
		return v.rep, err
	}
	if len(opts.TreeSizes) > 0 {
		v.rep.Roots = map[uint64][32]byte{}
		for _, n := range opts.TreeSizes {
			v.sizes[n] = true
		}
		if v.sizes[0] {
			v.rep.Roots[0] = emptyRoot
		}
	}
	if err := v.checkpointZero(); err != nil {
		return v.rep, err
	}
	for {
		n, err := v.chunk()
		if err != nil {
			return v.rep, err
		}
		if opts.Progress != nil {
			opts.Progress(v.next, max(st.size, v.next))
		}
		if n < verifyChunk {
			break
		}
		if err := ctx.Err(); err != nil {
			return v.rep, err
		}
	}
	v.rep.Entries, v.rep.Tenants = v.next, len(v.heads)
	root, err := v.tree.root()
	if err != nil {
		return v.rep, err
	}
	v.rep.Root = root
	if err := v.finish(st); err != nil {
		return v.rep, err
	}
	return v.rep, nil
}

// loadKeys reads the registered verifier keys and builds the note check.
func (v *verifier) loadKeys() error {
	rows, err := v.tx.Query(v.ctx, "SELECT verifier FROM ledger.log_keys ORDER BY created_at, verifier")
	if err != nil {
		return fmt.Errorf("verify: read ledger.log_keys: %w", err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("verify: read ledger.log_keys: %w", err)
	}
	v.rep.Keys = len(keys)
	if v.opts.Notes == nil {
		return nil
	}
	v.rep.NotesChecked = true
	if v.check, err = v.opts.Notes(v.rep.Origin, keys); err != nil {
		return &VerifyError{Table: tableKeys, Index: -1, Checkpoint: true, Reason: err.Error()}
	}
	return nil
}

// registryRow is one row of verifySelectSQL.
type registryRow struct {
	index   int64
	line    []byte
	deleted bool
	cols    []any // registryColumns, in order
}

// chunk checks the next verifyChunk entries (fewer at the end) and
// returns how many rows it read.
func (v *verifier) chunk() (int, error) {
	rows, err := v.tx.Query(v.ctx, verifySelectSQL, int64(v.next), int64(verifyChunk))
	if err != nil {
		return 0, fmt.Errorf("verify: read %s: %w", tableRegistry, err)
	}
	var chunk []registryRow
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			rows.Close()
			return 0, fmt.Errorf("verify: read %s: %w", tableRegistry, err)
		}
		r := registryRow{cols: vals[3:]}
		r.index, _ = vals[0].(int64)
		r.line, _ = vals[1].([]byte)
		r.deleted, _ = vals[2].(bool)
		chunk = append(chunk, r)
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("verify: read %s: %w", tableRegistry, err)
	}
	if len(chunk) == 0 {
		return 0, nil
	}
	end := v.next + uint64(len(chunk)) // if the rows are dense
	stored, err := v.storedHashes(v.next, end)
	if err != nil {
		return 0, err
	}
	cps, err := v.checkpointRows(v.next, end)
	if err != nil {
		return 0, err
	}
	for _, r := range chunk {
		if err := v.entry(r, stored); err != nil {
			return 0, err
		}
		if err := v.checkpointAt(cps); err != nil {
			return 0, err
		}
		if v.sizes[v.next] {
			root, err := v.tree.root()
			if err != nil {
				return 0, err
			}
			v.rep.Roots[v.next] = root
		}
	}
	for idx := range stored {
		return 0, &VerifyError{Table: tableTree, Index: -1, Reason: fmt.Sprintf("holds stored hash %d, which no entry of the tree adds", idx)}
	}
	v.tree.prune()
	return len(chunk), nil
}

// entry checks one registry row, the next entry of the log, and its
// stored hashes (taken out of stored as they match).
func (v *verifier) entry(r registryRow, stored map[int64][]byte) error {
	idx := v.next
	bad := func(column, format string, args ...any) error {
		return &VerifyError{Table: tableRegistry, Column: column, Index: int64(idx), Reason: fmt.Sprintf(format, args...)}
	}
	if r.index != int64(idx) {
		return bad("", "log index %d is missing (the next row holds log index %d)", idx, r.index)
	}
	e, err := span.ParseEntry(r.line)
	if err != nil {
		return bad("line", "the stored entry does not verify: %v", err)
	}
	if e.LogIndex != idx {
		return bad("line", "the row is at log index %d, its line says %d", idx, e.LogIndex)
	}
	head := v.heads[e.Tenant]
	if e.PrevHash != head.hash {
		return bad("line", "prev_hash %s, but the previous entry of tenant %q has curr_hash %s (the chain is broken)", e.PrevHash, e.Tenant, head.hash)
	}
	if r.deleted {
		return bad("is_deleted", "is true; LogLine never deletes an entry")
	}
	leaf := tlog.RecordHash(r.line)
	want := row(&e.Span, e.LogIndex, e.PrevHash, e.ReceivedAt, leaf, r.line)
	for i, c := range registryColumns {
		if c == "line" || c == "log_index" {
			continue // the row's key and source, checked above
		}
		if !sameColumn(c, r.cols[i], want[i]) {
			return bad(c, "holds %s, the line gives %s", clip(columnValue(c, r.cols[i])), clip(columnValue(c, want[i])))
		}
	}
	first, hashes, err := v.tree.add(leaf)
	if err != nil {
		return err
	}
	for i, h := range hashes {
		at := first + int64(i)
		got, ok := stored[at]
		switch {
		case !ok:
			return &VerifyError{Table: tableTree, Index: int64(idx), Reason: fmt.Sprintf("stored hash %d is missing", at)}
		case !bytes.Equal(got, h[:]):
			return &VerifyError{Table: tableTree, Index: int64(idx), Reason: fmt.Sprintf("stored hash %d is %x, the entries give %x", at, got, h[:])}
		}
		delete(stored, at)
	}
	v.rep.TreeHashes += int64(len(hashes))
	if e.Signed {
		v.rep.Signed++
	}
	v.heads[e.Tenant] = chainHead{hash: e.Hash, index: idx}
	v.next++
	return nil
}

// storedHashes reads the stored hashes that entries [from, to) add, from
// the runs of ledger.tree_hash_runs that hold them.
func (v *verifier) storedHashes(from, to uint64) (map[int64][]byte, error) {
	lo, hi := tlog.StoredHashIndex(0, int64(from)), tlog.StoredHashIndex(0, int64(to))
	rows, err := v.tx.Query(v.ctx, `SELECT first, hashes FROM ledger.tree_hash_runs
		WHERE first >= coalesce((SELECT max(first) FROM ledger.tree_hash_runs WHERE first <= $1), $1) AND first < $2
		ORDER BY first`, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("verify: read %s: %w", tableTree, err)
	}
	out := map[int64][]byte{}
	var (
		first  int64
		hashes []byte
	)
	_, err = pgx.ForEachRow(rows, []any{&first, &hashes}, func() error {
		for j := 0; j+32 <= len(hashes); j += 32 {
			idx := first + int64(j/32)
			if idx < lo || idx >= hi {
				continue
			}
			if _, dup := out[idx]; dup {
				return &VerifyError{Table: tableTree, Index: -1, Reason: fmt.Sprintf("holds stored hash %d twice (runs overlap at %d)", idx, first)}
			}
			out[idx] = bytes.Clone(hashes[j : j+32])
		}
		return nil
	})
	if err != nil {
		var ve *VerifyError
		if errors.As(err, &ve) {
			return nil, ve
		}
		return nil, fmt.Errorf("verify: read %s: %w", tableTree, err)
	}
	return out, nil
}

// checkpointRow is one row of ledger.checkpoints.
type checkpointRow struct {
	size uint64
	root []byte
	note *string
}

// checkpointRows reads the checkpoints of sizes in (from, to], by size.
func (v *verifier) checkpointRows(from, to uint64) ([]checkpointRow, error) {
	rows, err := v.tx.Query(v.ctx, "SELECT size, root, note FROM ledger.checkpoints WHERE size > $1 AND size <= $2 ORDER BY size", int64(from), int64(to))
	if err != nil {
		return nil, fmt.Errorf("verify: read %s: %w", tableCheckpoints, err)
	}
	var (
		out  []checkpointRow
		cp   checkpointRow
		size int64
	)
	_, err = pgx.ForEachRow(rows, []any{&size, &cp.root, &cp.note}, func() error {
		cp.size = uint64(size)
		out = append(out, checkpointRow{size: cp.size, root: bytes.Clone(cp.root), note: cp.note})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("verify: read %s: %w", tableCheckpoints, err)
	}
	return out, nil
}

// checkpointZero checks the row of the empty tree (migrate writes it).
func (v *verifier) checkpointZero() error {
	cp := checkpointRow{size: 0}
	err := v.tx.QueryRow(v.ctx, "SELECT root, note FROM ledger.checkpoints WHERE size = 0").Scan(&cp.root, &cp.note)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("verify: read %s: %w", tableCheckpoints, err)
	}
	return v.checkpointAt([]checkpointRow{cp})
}

// checkpointAt checks the row of cps whose size is the current tree size,
// if there is one.
func (v *verifier) checkpointAt(cps []checkpointRow) error {
	n := v.next
	var cp *checkpointRow
	for i := range cps {
		if cps[i].size == n {
			cp = &cps[i]
			break
		}
	}
	if cp == nil {
		return nil
	}
	bad := func(column, format string, args ...any) error {
		return &VerifyError{Table: tableCheckpoints, Column: column, Index: int64(v.goodCP), Checkpoint: true, Size: n,
			Reason: fmt.Sprintf("the checkpoint of size %d ", n) + fmt.Sprintf(format, args...)}
	}
	root, err := v.tree.root()
	if err != nil {
		return err
	}
	if cp.note != nil {
		v.rep.Notes++
		if v.check != nil {
			if v.rep.Origin == "" {
				return bad("note", "has a signed note, but %s records no origin to check it against", tableState)
			}
			size, signed, err := v.check([]byte(*cp.note))
			switch {
			case err != nil:
				return bad("note", "has a note that does not verify with the registered log keys: %v", err)
			case size != n || !bytes.Equal(signed[:], cp.root):
				return bad("root", "records root %x, its signed note signs size %d with root %x: the row was altered", cp.root, size, signed[:])
			}
		}
	}
	if !bytes.Equal(cp.root, root[:]) {
		return bad("root", "records root %x, the entries give %x: the history was rewritten at a log index in [%d, %d), or the row was altered", cp.root, root[:], v.goodCP, n)
	}
	if v.rep.Checkpoints == 0 {
		v.rep.MinCheckpoint = n
	}
	v.rep.Checkpoints++
	v.rep.MaxCheckpoint = n
	v.goodCP = n
	return nil
}

// finish checks what lies beyond the entries: log_state, the tree's end,
// checkpoints of larger sizes, and the tenant chain heads.
func (v *verifier) finish(st logState) error {
	n := v.next
	switch {
	case st.size > n:
		return &VerifyError{Table: tableRegistry, Index: int64(n), Reason: fmt.Sprintf("log index %d is missing: %s says the log holds %d entries, the registry has %d", n, tableState, st.size, n)}
	case st.size < n:
		return &VerifyError{Table: tableState, Column: "size", Index: int64(st.size), Reason: fmt.Sprintf("is %d, but the registry holds %d entries (log index %d on is not part of the log)", st.size, n, st.size)}
	case st.root != v.rep.Root:
		return &VerifyError{Table: tableState, Column: "root", Index: -1, Reason: fmt.Sprintf("is %x, the entries give %x", st.root[:], v.rep.Root[:])}
	}
	var (
		extra *int64
		cp    *int64
	)
	if err := v.tx.QueryRow(v.ctx, "SELECT min(log_index) FROM ledger.universal_registry WHERE log_index >= $1", int64(n)).Scan(&extra); err != nil {
		return fmt.Errorf("verify: read %s: %w", tableRegistry, err)
	}
	if extra != nil {
		return &VerifyError{Table: tableRegistry, Index: int64(n), Reason: fmt.Sprintf("log index %d is missing (the next row holds log index %d)", n, *extra)}
	}
	if err := v.tx.QueryRow(v.ctx, `SELECT min(greatest(first, $1)) FROM ledger.tree_hash_runs
		WHERE first >= $1 - $2 AND first + octet_length(hashes) / 32 > $1`, tlog.StoredHashCount(int64(n)), runHashes).Scan(&extra); err != nil {
		return fmt.Errorf("verify: read %s: %w", tableTree, err)
	}
	if extra != nil {
		return &VerifyError{Table: tableTree, Index: -1, Reason: fmt.Sprintf("holds stored hash %d, beyond the tree of %d entries", *extra, n)}
	}
	if err := v.tx.QueryRow(v.ctx, "SELECT min(size) FROM ledger.checkpoints WHERE size > $1", int64(n)).Scan(&cp); err != nil {
		return fmt.Errorf("verify: read %s: %w", tableCheckpoints, err)
	}
	if cp != nil {
		return &VerifyError{Table: tableCheckpoints, Index: int64(n), Checkpoint: true, Size: uint64(*cp),
			Reason: fmt.Sprintf("a checkpoint of size %d, but the registry holds %d entries: acknowledged entries from log index %d on are missing", *cp, n, n)}
	}
	rows, err := v.tx.Query(v.ctx, "SELECT tenant_id, curr_hash, log_index FROM ledger.tenant_heads")
	if err != nil {
		return fmt.Errorf("verify: read %s: %w", tableHeads, err)
	}
	var (
		tenant, hash string
		idx          int64
		seen         = map[string]bool{}
	)
	_, err = pgx.ForEachRow(rows, []any{&tenant, &hash, &idx}, func() error {
		seen[tenant] = true
		h, ok := v.heads[tenant]
		if !ok {
			return &VerifyError{Table: tableHeads, Index: idx, Reason: fmt.Sprintf("has a chain head for tenant %q, which has no entries", tenant)}
		}
		if hash != h.hash.String() || uint64(idx) != h.index {
			return &VerifyError{Table: tableHeads, Index: int64(h.index), Reason: fmt.Sprintf("says tenant %q ends at log index %d with %s, the entries end it at %d with %s", tenant, idx, hash, h.index, h.hash)}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for t, h := range v.heads {
		if !seen[t] {
			return &VerifyError{Table: tableHeads, Index: int64(h.index), Reason: fmt.Sprintf("has no chain head for tenant %q (last entry at log index %d)", t, h.index)}
		}
	}
	return nil
}

// sameColumn reports whether a registry column's value as read (got) is
// the value row builds for the line (want): the common cases compared
// directly, anything else through columnValue.
func sameColumn(column string, got, want any) bool {
	switch w := want.(type) {
	case nil:
		return got == nil
	case string:
		if g, ok := got.(string); ok && !jsonColumns[column] {
			return g == w
		}
	case int64:
		g, ok := got.(int64)
		return ok && g == w
	case int32:
		g, ok := got.(int32)
		return ok && g == w
	case []byte:
		g, ok := got.(string)
		if !ok || !jsonColumns[column] {
			break
		}
		// jsonb prints its own key order and spacing; in JCS form it is
		// usually the span's bytes exactly.
		if c, err := span.Canonicalize([]byte(g)); err == nil && bytes.Equal(c, w) {
			return true
		}
	}
	return columnValue(column, got) == columnValue(column, want)
}

// columnValue renders a registry column's value, as read from the
// database or as row builds it, in one comparable form.
func columnValue(column string, v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case string:
		if jsonColumns[column] {
			return normalJSON([]byte(x))
		}
		return strconv.Quote(x)
	case []byte:
		if jsonColumns[column] {
			return normalJSON(x)
		}
		return `\x` + hex.EncodeToString(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case bool:
		return strconv.FormatBool(x)
	case time.Time:
		// timestamptz keeps microseconds (pgx truncates on the way in).
		return x.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano)
	case []string:
		b, _ := json.Marshal(x)
		return string(b)
	case []any:
		ss := make([]string, len(x))
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				return fmt.Sprintf("%#v", x)
			}
			ss[i] = s
		}
		b, _ := json.Marshal(ss)
		return string(b)
	}
	return fmt.Sprintf("%T(%v)", v, v)
}

// normalJSON re-encodes a JSON value with sorted keys and every number as
// the float64 it denotes: a span's canonical JSON and PostgreSQL's jsonb
// text of it come out the same.
func normalJSON(raw []byte) string {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return "invalid JSON " + strconv.Quote(string(raw))
	}
	b, err := json.Marshal(floatNumbers(v))
	if err != nil {
		return "invalid JSON " + strconv.Quote(string(raw))
	}
	return string(b)
}

func floatNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if f, err := strconv.ParseFloat(string(x), 64); err == nil {
			return f
		}
		return string(x)
	case map[string]any:
		for k, e := range x {
			x[k] = floatNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = floatNumbers(e)
		}
	}
	return v
}

// clip shortens a value for a message.
func clip(s string) string {
	const n = 120
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
