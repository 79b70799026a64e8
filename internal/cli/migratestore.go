package cli

import (
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/logline/logline/internal/backup"
	"github.com/logline/logline/internal/checkpointlog"
	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/ledger/pgstore"
	"github.com/logline/logline/internal/ledger/segment"
	"github.com/logline/logline/internal/tlog"
)

type migrateStoreOptions struct {
	from, to  string
	keys      string
	newLogKey bool
	noMigrate bool
	json      bool
}

func (a *app) newMigrateStore() *cobra.Command {
	var o migrateStoreOptions
	cmd := &cobra.Command{
		Use:   "migrate-store --from SRC --to DST [--keys KEYDIR | --new-log-key]",
		Short: "Copy a ledger between a data directory and PostgreSQL, and prove the copy",
		Long: `Copy the ledger SRC into DST, where each is a data directory of the
embedded store or a postgres:// URL (docs/postgres.md): every entry line
byte for byte, in log order, with its log_index, prev_hash and
received_at. Then prove the copy: DST is verified completely (as 'logline
verify' would), it must hold as many entries as SRC with the same Merkle
root (both are printed), and SRC's latest signed checkpoint must verify
against DST's tree at its size.

SRC is only read. A data directory must not be in use by a running
server (a torn tail a crash left is cut first, as serve would); a
database may be served while it is copied (the copy is the log as it was
when the command started). Stop writing to SRC for good before serving
DST: two servers continuing one log fork it.

DST must be new: a data directory that does not exist or is empty, or a
database that holds no entries (its schema is migrated first unless
--no-migrate). Nothing is left in DST when the copy fails: a data
directory is removed again, a database import is one transaction.

Keys. A PostgreSQL destination keeps no private key: SRC's verifier keys
are registered in ledger.log_keys (old checkpoints and receipts keep
verifying at every node's GET /log/key) and its origin is recorded; each
server then keeps its own key in its --data/keys (SRC's data directory
may be one of them: its keys are named after the same origin). A data
directory destination needs the log's signing key, as 'logline restore'
does:

  --keys KEYDIR    a copy of a key directory of the log (data/keys); one
                   of its keys must have signed SRC's latest checkpoint
                   it can verify, and it must not record a larger tree
  --new-log-key    a new key for the same origin; SRC's keys stay
                   published as retired

SRC's signed checkpoints go into DST's checkpoint table (PostgreSQL) or
checkpoint archive (data directory; with --keys only those its keys
verify), and DST/keys/last-signed.json records the copied tree.

A progress bar is drawn on standard error when it is a terminal.`,
		Example: `  logline migrate-store --from ./data --to postgres://postgres@localhost/logline
  logline migrate-store --from postgres://postgres@localhost/logline --to ./data2 --new-log-key
  logline migrate-store --from postgres://postgres@localhost/logline --to ./data2 --keys ./node1/keys`,
		Args: noArgs,
		RunE: run(func(cmd *cobra.Command, _ []string) error {
			return a.migrateStore(cmd.Context(), o)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&o.from, "from", "", "the ledger to copy: a data directory or a postgres:// URL")
	f.StringVar(&o.to, "to", "", "where to copy it: a new data directory or a postgres:// URL of a database without entries")
	f.StringVar(&o.keys, "keys", "", "to a data directory: copy of a key directory of the log (data/keys)")
	f.BoolVar(&o.newLogKey, "new-log-key", false, "to a data directory: create a new log key; the source's keys stay published as retired")
	f.BoolVar(&o.noMigrate, "no-migrate", false, "to PostgreSQL: do not apply schema migrations first")
	f.BoolVar(&o.json, "json", false, "print the result as JSON")
	_ = cmd.MarkFlagDirname("keys")
	return cmd
}

// migrateStoreResult is the report of migrate-store (its JSON form).
type migrateStoreResult struct {
	OK         bool   `json:"ok"`
	From       string `json:"from"`
	To         string `json:"to"`
	Origin     string `json:"origin"`
	Entries    uint64 `json:"entries"`
	Bytes      int64  `json:"bytes"` // entry lines copied, without newlines
	SourceRoot string `json:"source_root"`
	CopyRoot   string `json:"copy_root"`
	// The source's latest signed checkpoint, verified against the copy.
	CheckpointSize *uint64 `json:"checkpoint_size,omitempty"`
	Checkpoints    int     `json:"checkpoints"` // signed checkpoints copied
	LeftOut        int     `json:"checkpoints_left_out,omitempty"`
	Keys           int     `json:"keys"` // verifier keys of the source
	KeyID          string  `json:"key_id,omitempty"`
	NewKey         bool    `json:"new_key,omitempty"`
	Seconds        float64 `json:"seconds"`
}

func (a *app) migrateStore(ctx context.Context, o migrateStoreOptions) error {
	if o.from == "" || o.to == "" {
		return cmdlineErrorf("migrate-store needs --from SRC and --to DST (data directories or postgres:// URLs)")
	}
	if o.from == o.to {
		return usageErrorf("migrate-store: --from and --to are the same ledger")
	}
	toPG := isStoreURL(o.to)
	switch {
	case toPG && (o.keys != "" || o.newLogKey):
		return cmdlineErrorf("--keys and --new-log-key are for a data directory destination: a PostgreSQL ledger keeps no private key (each server keeps its own in its --data/keys)")
	case !toPG && o.keys == "" && !o.newLogKey:
		return cmdlineErrorf("a data directory destination needs the log's signing key: --keys KEYDIR (a copy of a data/keys directory of the log)\n" +
			"  or --new-log-key (a new key; the source's keys stay published as retired, so old checkpoints keep verifying)")
	case o.keys != "" && o.newLogKey:
		return cmdlineErrorf("--keys and --new-log-key exclude each other")
	}
	log, err := a.quietLogger()
	if err != nil {
		return err
	}
	start := time.Now()
	src, err := openMigrationSource(ctx, o.from, log)
	if err != nil {
		return err
	}
	defer src.close()
	res := migrateStoreResult{From: src.name, To: o.to, Origin: src.origin, Keys: len(src.keys)}
	if toPG {
		res.To = redactURL(o.to)
	}
	progress, progressDone := a.countProgress("copy")
	lines, stop := src.lines(ctx, progress)
	defer stop()
	var proof copyProof
	if toPG {
		proof, err = migrateToPG(ctx, o, src, lines.next, log)
	} else {
		proof, err = migrateToDir(ctx, o, src, lines.next, log, &res)
	}
	progressDone()
	if err != nil {
		return err
	}
	if lines.err != nil {
		return ioErrorf("migrate-store: read %s: %w", src.name, lines.err)
	}
	res.Entries, res.Bytes, res.Checkpoints, res.LeftOut = lines.n, lines.bytes, proof.checkpoints, proof.leftOut
	res.SourceRoot, res.CopyRoot = hex.EncodeToString(src.root[:]), hex.EncodeToString(proof.root[:])
	res.Seconds = time.Since(start).Seconds()
	read := lines.root()
	switch {
	case lines.n != src.size || read != src.root:
		return failErrorf("migrate-store: %s records %d entries with root %x, its lines give %d with root %x", src.name, src.size, src.root[:], lines.n, read[:])
	case proof.entries != src.size || proof.root != src.root:
		return failErrorf("migrate-store: the copy holds %d entries with root %x, %s %d with root %x", proof.entries, proof.root[:], src.name, src.size, src.root[:])
	}
	if cp := src.latest; cp != nil {
		if got, ok := proof.roots[cp.Size]; !ok || got != cp.Root {
			return failErrorf("migrate-store: %s's latest checkpoint (size %d, root %x) does not verify against the copy (root %x at that size)", src.name, cp.Size, cp.Root[:], got[:])
		}
		size := cp.Size
		res.CheckpointSize = &size
	}
	res.OK = true
	if o.json {
		return writeJSON(a.io.Out, res)
	}
	a.printMigrateStore(res, o, toPG)
	return nil
}

// isStoreURL reports whether s names a PostgreSQL database.
func isStoreURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// migrationSource is the ledger migrate-store reads, opened read-only:
// its origin and keys, its size and root as the store records them, and
// its signed checkpoints (each verified with its keys).
type migrationSource struct {
	name   string // for messages: the directory, or the URL without password
	store  ledger.Store
	origin string
	keys   []string // verifier keys, newest first (GET /log/key order)
	size   uint64
	root   [32]byte
	cps    []signedCheckpoint // by size
	latest *signedCheckpoint  // the largest, nil when there is none
	close  func() error
}

// signedCheckpoint is a checkpoint note of the source and what it signs.
type signedCheckpoint struct {
	ledger.Checkpoint
	day time.Time // when it was archived or committed
}

// openMigrationSource opens SRC: a data directory (not in use) or a
// database.
func openMigrationSource(ctx context.Context, from string, log *slog.Logger) (*migrationSource, error) {
	var (
		src *migrationSource
		err error
	)
	if isStoreURL(from) {
		src, err = openPGSource(ctx, from, log)
	} else {
		src, err = openDirSource(ctx, from, log)
	}
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(src.cps, func(a, b signedCheckpoint) int { return cmp.Compare(a.Size, b.Size) })
	for i := range src.cps {
		if src.cps[i].Size > src.size {
			_ = src.close()
			return nil, failErrorf("migrate-store: %s signed a checkpoint of size %d, but holds %d entries: acknowledged entries are missing; run 'logline verify' on it", src.name, src.cps[i].Size, src.size)
		}
	}
	if n := len(src.cps); n > 0 {
		src.latest = &src.cps[n-1]
	}
	return src, nil
}

func openDirSource(ctx context.Context, dir string, log *slog.Logger) (*migrationSource, error) {
	if err := checkDataDir(dir); err != nil {
		return nil, err
	}
	keysDir := filepath.Join(dir, keysDirName)
	origin, infos, verifiers, err := tlog.ReadVerifiers(keysDir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, usageErrorf("migrate-store: %s has no log key (%s): a server never ran on it", dir, keysDir)
	case err != nil:
		return nil, failErrorf("migrate-store: %w", err)
	}
	if err := ledgerInUse(dir); err != nil {
		return nil, usageErrorf("migrate-store: %v\n  stop the server first", err)
	}
	src := &migrationSource{name: dir, origin: origin}
	for i := len(infos) - 1; i >= 0; i-- {
		src.keys = append(src.keys, infos[i].Verifier)
	}
	_, err = checkpointlog.Read(filepath.Join(dir, checkpointsDirName), func(r checkpointlog.Record) error {
		c, err := tlog.ParseCheckpoint(r.Note, verifiers, origin)
		if err != nil {
			return failErrorf("migrate-store: %s:%d: the archived checkpoint does not verify with the log's keys: %v", r.File, r.Line, err)
		}
		day, _ := time.Parse(time.DateOnly, strings.TrimSuffix(filepath.Base(r.File), ".ndjson"))
		src.cps = append(src.cps, signedCheckpoint{Checkpoint: ledger.Checkpoint{Size: c.Size, Root: c.Root, Note: r.Note}, day: day})
		return nil
	})
	var ee *exitError
	switch {
	case errors.As(err, &ee):
		return nil, err
	case err != nil:
		return nil, failErrorf("migrate-store: %v", err)
	}
	store, err := segment.Open(ctx, segment.Config{Dir: dir, Logger: log})
	if err != nil {
		if errors.Is(err, ledger.ErrCorrupt) {
			return nil, failErrorf("migrate-store: %v\n  run 'logline verify --data %s'", err, dir)
		}
		return nil, ioErrorf("migrate-store: open %s: %w", dir, err)
	}
	src.store, src.close = store, store.Close
	src.size, src.root = store.Size(), store.Checkpoint().Root
	return src, nil
}

func openPGSource(ctx context.Context, url string, log *slog.Logger) (*migrationSource, error) {
	origin, err := pgstore.ClaimOrigin(ctx, url, "")
	if err != nil {
		return nil, pgError("migrate-store", url, err)
	}
	if origin == "" {
		return nil, usageErrorf("migrate-store: %s records no log origin: no server ever ran on it", redactURL(url))
	}
	store, err := pgstore.Open(ctx, pgstore.Config{URL: url, Logger: log, Node: "migrate-store"})
	if err != nil {
		return nil, pgError("migrate-store: open the ledger", url, err)
	}
	src := &migrationSource{name: redactURL(url), store: store, origin: origin, close: store.Close}
	fail := func(err error) (*migrationSource, error) {
		_ = store.Close()
		return nil, err
	}
	src.size, src.root = store.Size(), store.Checkpoint().Root
	if src.keys, err = store.LogKeys(ctx); err != nil {
		return fail(pgError("migrate-store", url, err))
	}
	rows, err := store.Checkpoints(ctx, true)
	if err != nil {
		return fail(pgError("migrate-store", url, err))
	}
	check, err := storeNotes(origin, src.keys)
	if err != nil {
		return fail(failErrorf("migrate-store: %s: ledger.log_keys: %v", src.name, err))
	}
	for _, r := range rows {
		size, root, err := check(r.Note)
		if err != nil || size != r.Size || root != r.Root {
			return fail(failErrorf("migrate-store: %s: the note of the checkpoint of size %d does not verify with the registered keys (%v); run 'logline verify --store'", src.name, r.Size, err))
		}
		src.cps = append(src.cps, signedCheckpoint{Checkpoint: r.Checkpoint, day: r.Created})
	}
	return src, nil
}

// copiedLines pulls the source's entry lines for the destination, and
// counts them and builds their Merkle tree on the way: the source's size
// and root as read.
type copiedLines struct {
	next  func() ([]byte, error)
	n     uint64
	bytes int64
	tree  *compact.Range
	err   error // the source's read error, if it ended the lines
}

func (c *copiedLines) root() [32]byte {
	if c.n == 0 {
		return tlog.EmptyRoot()
	}
	r, err := c.tree.GetRootHash(nil)
	if err != nil {
		return [32]byte{}
	}
	return [32]byte(r)
}

// lines returns the entry lines of the source in log order, and the
// function that stops reading them. Each line is valid until next is
// called again (both destinations copy it).
func (s *migrationSource) lines(ctx context.Context, progress func(done, total uint64)) (*copiedLines, func()) {
	seq := func(yield func([]byte, error) bool) {
		err := s.store.ReadRaw(ctx, 0, s.size, func(_ uint64, line []byte) error {
			if !yield(line, nil) {
				return errStop
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStop) {
			yield(nil, err)
		}
	}
	pull, stop := iter.Pull2(iter.Seq2[[]byte, error](seq))
	c := &copiedLines{tree: (&compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}).NewEmptyRange(0)}
	c.next = func() ([]byte, error) {
		line, err, ok := pull()
		switch {
		case !ok:
			return nil, io.EOF
		case err != nil:
			c.err = err
			return nil, err
		}
		if err := c.tree.Append(rfc6962.DefaultHasher.HashLeaf(line), nil); err != nil {
			return nil, err
		}
		c.n++
		c.bytes += int64(len(line))
		if progress != nil && (c.n%1024 == 0 || c.n == s.size) {
			progress(c.n, s.size)
		}
		return line, nil
	}
	return c, stop
}

// copyProof is what the destination holds after the copy, as its own
// verification found it.
type copyProof struct {
	entries     uint64
	root        [32]byte
	roots       map[uint64][32]byte // at the source's latest checkpoint size
	checkpoints int                 // signed checkpoints kept
	leftOut     int
}

// migrateToPG imports the lines into the database DST; the copy is
// verified inside the import transaction before it commits.
func migrateToPG(ctx context.Context, o migrateStoreOptions, src *migrationSource, next func() ([]byte, error), log *slog.Logger) (copyProof, error) {
	if !o.noMigrate {
		if _, err := pgstore.Migrate(ctx, o.to, log); err != nil {
			return copyProof{}, pgError("migrate-store: migrate", o.to, err)
		}
	}
	opts := pgstore.ImportOptions{Origin: src.origin, VerifierKeys: src.keys, Node: "migrate-store", Verify: pgstore.VerifyOptions{Notes: storeNotes}}
	for _, c := range src.cps {
		opts.Checkpoints = append(opts.Checkpoints, c.Checkpoint)
	}
	if src.latest != nil {
		opts.Verify.TreeSizes = []uint64{src.latest.Size}
	}
	res, err := pgstore.Import(ctx, o.to, next, opts)
	var ve *pgstore.VerifyError
	switch {
	case err == nil:
	case errors.Is(err, pgstore.ErrNotEmpty):
		return copyProof{}, usageErrorf("migrate-store refused: --to %s: %v", redactURL(o.to), err)
	case errors.As(err, &ve):
		return copyProof{}, failErrorf("migrate-store: the copy does not verify (nothing was committed): %v", ve)
	case errors.Is(err, ledger.ErrCorrupt):
		return copyProof{}, failErrorf("migrate-store: %s: %v (nothing was committed)\n  run 'logline verify' on it", src.name, err)
	case ctx.Err() != nil:
		return copyProof{}, ctx.Err()
	default:
		return copyProof{}, pgError("migrate-store: import", o.to, err)
	}
	return copyProof{entries: res.Verify.Entries, root: res.Verify.Root, roots: res.Verify.Roots, checkpoints: res.Verify.Notes}, nil
}

// migrateToDir rebuilds the data directory DST from the lines (as restore
// does), then verifies it as verify --data would.
func migrateToDir(ctx context.Context, o migrateStoreOptions, src *migrationSource, next func() ([]byte, error), log *slog.Logger, res *migrateStoreResult) (copyProof, error) {
	// With --keys, archive only what its keys verify: the destination's
	// verify checks every archived note with them.
	keep := src.cps
	if o.keys != "" {
		_, _, verifiers, err := tlog.ReadVerifiers(o.keys)
		if err != nil {
			return copyProof{}, usageErrorf("migrate-store: --keys %s: %v", o.keys, err)
		}
		keep = nil
		for _, c := range src.cps {
			if _, err := tlog.ParseCheckpoint(c.Note, verifiers, src.origin); err == nil {
				keep = append(keep, c)
			}
		}
	}
	var (
		archive []checkpointlog.Archived
		note    []byte
	)
	for _, c := range keep {
		archive = append(archive, checkpointlog.Archived{Day: c.day, Size: c.Size, Note: c.Note})
		note = c.Note
	}
	rb, err := backup.Rebuild(ctx, backup.RebuildConfig{
		Data: o.to, Keys: o.keys, NewLogKey: o.newLogKey,
		Name: src.name, Origin: src.origin, VerifierKeys: src.keys, Size: src.size, Root: src.root, Note: note,
		Archive: archive, Lines: next, Logger: log,
	})
	switch {
	case err == nil:
	case errors.Is(err, backup.ErrTarget), errors.Is(err, backup.ErrKeys):
		return copyProof{}, usageErrorf("migrate-store refused: %v", err)
	case errors.Is(err, ledger.ErrCorrupt), errors.Is(err, backup.ErrChanged):
		return copyProof{}, failErrorf("migrate-store: %s: %v (nothing was left in %s)", src.name, err, o.to)
	case ctx.Err() != nil:
		return copyProof{}, ctx.Err()
	default:
		return copyProof{}, ioErrorf("migrate-store: %v", err)
	}
	res.KeyID, res.NewKey = rb.KeyID, rb.NewKey
	// Verify the new directory as verify --data does: segments, index,
	// the archive and last-signed record against the roots.
	heads, _, cpProblem, err := loadSignedHeads(o.to)
	if err != nil {
		return copyProof{}, ioErrorf("migrate-store: verify %s: %w", o.to, err)
	}
	sizes := treeSizes(heads)
	if src.latest != nil {
		sizes = append(sizes, src.latest.Size)
	}
	rep, err := segment.Verify(ctx, o.to, segment.VerifyOptions{TreeSizes: sizes})
	if err != nil {
		return copyProof{}, failErrorf("migrate-store: the copy in %s does not verify: %v", o.to, err)
	}
	if p := headsProblem(cpProblem, heads, rep.Entries, rep.Roots); p != nil {
		return copyProof{}, failErrorf("migrate-store: the copy in %s does not verify: %s", o.to, p.Reason)
	}
	return copyProof{entries: rep.Entries, root: [32]byte(rep.Root), roots: rep.Roots, checkpoints: len(keep), leftOut: len(src.cps) - len(keep)}, nil
}

func (a *app) printMigrateStore(r migrateStoreResult, o migrateStoreOptions, toPG bool) {
	w := a.io.Out
	fmt.Fprintf(w, "from        %s (log %s): %d entries, merkle root %s\n", r.From, r.Origin, r.Entries, r.SourceRoot)
	fmt.Fprintf(w, "to          %s: %d entries, merkle root %s\n", r.To, r.Entries, r.CopyRoot)
	fmt.Fprintf(w, "copied      %d entry lines (%s) byte for byte; copied and verified in %.2fs\n", r.Entries, humanBytes(r.Bytes), r.Seconds)
	if r.CheckpointSize != nil {
		fmt.Fprintf(w, "checkpoint  the source's latest signed checkpoint (size %d) verifies against the copy\n", *r.CheckpointSize)
	} else {
		fmt.Fprintf(w, "checkpoint  the source has no signed checkpoint to check\n")
	}
	switch {
	case toPG:
		fmt.Fprintf(w, "keys        %d verifier key(s) registered in ledger.log_keys; each server keeps its own key in its --data/keys\n", r.Keys)
		fmt.Fprintf(w, "checkpoints %d signed checkpoint(s) kept in ledger.checkpoints\n", r.Checkpoints)
	case r.NewKey:
		fmt.Fprintf(w, "keys        new log key %s; the source's %d key(s) kept as retired\n", r.KeyID, r.Keys)
		fmt.Fprintf(w, "checkpoints %d signed checkpoint(s) archived\n", r.Checkpoints)
	default:
		fmt.Fprintf(w, "keys        copied from %s (active key %s)\n", o.keys, r.KeyID)
		fmt.Fprintf(w, "checkpoints %d signed checkpoint(s) archived", r.Checkpoints)
		if r.LeftOut > 0 {
			fmt.Fprintf(w, "; %d signed by keys not in %s left out (--new-log-key keeps them all)", r.LeftOut, o.keys)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "OK          the copy verifies and holds the same %d entries with the same Merkle root\n", r.Entries)
	if toPG {
		fmt.Fprintf(w, "next        logline serve --store %s --data DIR\n", r.To)
	} else {
		fmt.Fprintf(w, "next        logline serve --data %s\n", r.To)
	}
}
