package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/logline/logline/internal/checkpointlog"
	"github.com/logline/logline/internal/durable"
	"github.com/logline/logline/internal/tlog"
)

// Directories of a data directory that Restore writes besides the ledger,
// where `logline serve` keeps them.
const (
	KeysDir    = "keys"        // the log keys and the guard's last-signed.json
	ArchiveDir = "checkpoints" // the checkpoint archive (checkpointlog)
)

// RestoreConfig configures Restore. From and Data are required, and
// exactly one of Keys and NewLogKey.
type RestoreConfig struct {
	From string // the backup directory
	Data string // the data directory to create; must not exist or be empty

	// Keys is a copy of the log's key directory (data/keys: keys.json, the
	// active private key, last-signed.json). It is copied to Data/keys
	// after checking that it is the log's and that one of its keys signed
	// the backup's latest checkpoint.
	Keys string
	// NewLogKey creates a new log key for the backup's origin instead; its
	// keys.json lists every key of the backup's log.key as retired, so
	// checkpoints signed before keep verifying through GET /log/key.
	NewLogKey bool

	// Segment layout of the restored ledger (segment.RestoreOptions).
	SegmentSize     int64
	BatchEntries    int
	IndexCacheBytes int64
	// Workers parse entries during verification; default GOMAXPROCS.
	Workers int
	Logger  *slog.Logger
	Rand    io.Reader        // randomness of a new log key; default crypto/rand
	Now     func() time.Time // default time.Now

	// VerifyProgress and WriteProgress, when set, are called with the
	// entries verified (written) so far and the total.
	VerifyProgress func(done, total uint64)
	WriteProgress  func(done, total uint64)
}

// RestoreResult says what Restore did.
type RestoreResult struct {
	Report              // what the verification of the backup checked
	Segments     int    // segment files written
	SegmentBytes int64  // their bytes, commit lines included
	KeyID        string // the active log key of the restored directory
	NewKey       bool   // KeyID was created by this restore
	RetiredKeys  int    // verifier keys kept as retired with a new key
	VerifyTime   time.Duration
	WriteTime    time.Duration // segments, index and keys
}

// Restore rebuilds a data directory from the backup cfg.From:
//
//  1. it verifies the backup completely (Verify) and checks the key
//     choice; any problem refuses the restore before anything is written;
//  2. it creates Data/keys: first last-signed.json recording the backup's
//     checkpoint (size, root), so that the restored server never signs
//     another tree of that size (nor a smaller one: a partly written
//     restore cannot be served), then a copy of cfg.Keys or a new key;
//  3. it puts the backup's checkpoint notes into the checkpoint archive
//     (Data/checkpoints, by the day each run took them);
//  4. it writes the segments with segment.Restore (deterministic: the same
//     backup and options give the same bytes) and builds the index.
//
// Steps 2–4 are Rebuild's.
//
// A failure after step 1 removes what was written (Data itself when
// Restore created it). Errors: an *Error (ErrInvalid) for a backup that
// does not verify, ErrTarget, ErrKeys, or the failing operation's.
func Restore(ctx context.Context, cfg RestoreConfig) (res RestoreResult, err error) {
	if cfg.From == "" || cfg.Data == "" {
		return res, errors.New("restore: From and Data are required")
	}
	if err := checkKeyChoice(cfg.Keys, cfg.NewLogKey); err != nil {
		return res, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if _, err := checkTarget(cfg.Data); err != nil {
		return res, err
	}
	start := time.Now()
	b, err := openBackup(cfg.From)
	if err != nil {
		return res, err
	}
	cp, note := b.latest()
	if cfg.Keys != "" {
		if err := checkKeyDir(cfg.Keys, "this backup", cp.Origin, cp.Size, cp.Root, note); err != nil {
			return res, err
		}
	}
	if res.Report, err = b.verifyEntries(ctx, VerifyOptions{Workers: cfg.Workers, Progress: cfg.VerifyProgress}); err != nil {
		return res, err
	}
	res.VerifyTime = time.Since(start)

	start = time.Now()
	archived := make([]checkpointlog.Archived, len(b.cps))
	for i, ref := range b.st.Checkpoints {
		archived[i] = checkpointlog.Archived{Day: ref.Taken, Size: ref.Size, Note: b.notes[i]}
	}
	r := newChunkReader(b.dir, b.st.Chunks)
	defer r.close()
	var progress func(uint64)
	if cfg.WriteProgress != nil {
		progress = func(n uint64) { cfg.WriteProgress(n, b.st.Size) }
	}
	rb, err := Rebuild(ctx, RebuildConfig{
		Data: cfg.Data, Keys: cfg.Keys, NewLogKey: cfg.NewLogKey,
		Name: "this backup", Origin: b.st.Origin, VerifierKeys: b.keys.Keys, Size: b.st.Size, Root: b.st.Root, Note: note,
		Archive: archived, Lines: r.next,
		SegmentSize: cfg.SegmentSize, BatchEntries: cfg.BatchEntries, IndexCacheBytes: cfg.IndexCacheBytes,
		Logger: cfg.Logger, Rand: cfg.Rand, Now: cfg.Now, Progress: progress,
	})
	if errors.Is(err, ErrChanged) {
		return res, invalid(StateFile, 0, -1, "the backup changed while it was restored: %v", err)
	}
	if err != nil {
		return res, err
	}
	res.Segments, res.SegmentBytes = rb.Segments, rb.SegmentBytes
	res.KeyID, res.NewKey, res.RetiredKeys = rb.KeyID, rb.NewKey, rb.RetiredKeys
	res.WriteTime = time.Since(start)
	return res, nil
}

// checkTarget checks that dir does not exist or is an empty directory and
// reports whether it exists.
func checkTarget(dir string) (bool, error) {
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("restore target: %w", err)
	}
	if !fi.IsDir() {
		return false, fmt.Errorf("%s is not a directory: %w", dir, ErrTarget)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false, fmt.Errorf("restore target: %w", err)
	}
	if len(ents) > 0 {
		return false, fmt.Errorf("%s holds %q: a restore never overwrites a data directory: %w", dir, ents[0].Name(), ErrTarget)
	}
	return true, nil
}

// clearTarget removes what a failed restore wrote.
func clearTarget(dir string, existed bool) error {
	if !existed {
		return os.RemoveAll(dir)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// checkKeyDir checks that dir holds the key directory of the log origin
// (named name in messages), with a key that signed its latest checkpoint
// note, and that its guard does not record a tree the log of size and
// root contradicts.
func checkKeyDir(dir, name, origin string, size uint64, root [32]byte, note []byte) error {
	got, err := tlog.KeysOrigin(dir)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrKeys, dir, err)
	}
	if got != origin {
		return fmt.Errorf("%w: %s holds the keys of the log %q, %s is of %q", ErrKeys, dir, got, name, origin)
	}
	keys, err := tlog.LoadOrCreateKeys(dir, origin, nil, nil)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrKeys, err)
	}
	if _, err := tlog.ParseCheckpoint(note, keys.Verifiers(), origin); err != nil {
		return fmt.Errorf("%w: no key in %s signed the latest checkpoint of %s: %v", ErrKeys, dir, name, err)
	}
	guard, err := tlog.OpenGuard(dir, origin)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrKeys, err)
	}
	last, lastRoot, ok := guard.Last()
	switch {
	case !ok:
	case last > size:
		return fmt.Errorf("%w: %s records that the log already signed a tree of size %d, beyond %s's %d: the restored server would sign other trees of those sizes (a fork). Restore a newer copy of the log; to accept the loss of entries %d..%d anyway, remove %s from a copy of the directory (clients that saw those checkpoints will see the fork)",
			ErrKeys, filepath.Join(dir, tlog.GuardFile), last, name, size, size, last-1, tlog.GuardFile)
	case last == size && lastRoot != root:
		return fmt.Errorf("%w: %s records another root for size %d than %s's: it is of another history", ErrKeys, filepath.Join(dir, tlog.GuardFile), last, name)
	}
	return nil
}

// copyDir copies the regular files of from (not temporary ones, nor
// those named in skip) to the directory to (created with mode 0700), each
// file 0600 and durable.
func copyDir(from, to string, skip ...string) error {
	ents, err := os.ReadDir(from)
	if err != nil {
		return fmt.Errorf("copy keys: %w", err)
	}
	if err := durable.MkdirAll(to, 0o700); err != nil {
		return fmt.Errorf("copy keys: %w", err)
	}
	for _, e := range ents {
		if !e.Type().IsRegular() || isTemp(e.Name()) || slices.Contains(skip, e.Name()) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			return fmt.Errorf("copy keys: %w", err)
		}
		if err := durable.WriteFile(filepath.Join(to, e.Name()), data, 0o600); err != nil {
			return fmt.Errorf("copy keys: %w", err)
		}
	}
	return nil
}
