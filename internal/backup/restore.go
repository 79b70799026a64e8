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
	"github.com/logline/logline/internal/ledger/segment"
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
// A failure after step 1 removes what was written (Data itself when
// Restore created it). Errors: an *Error (ErrInvalid) for a backup that
// does not verify, ErrTarget, ErrKeys, or the failing operation's.
func Restore(ctx context.Context, cfg RestoreConfig) (res RestoreResult, err error) {
	if cfg.From == "" || cfg.Data == "" {
		return res, errors.New("restore: From and Data are required")
	}
	if cfg.Keys != "" && cfg.NewLogKey {
		return res, fmt.Errorf("%w: give a key directory or ask for a new log key, not both", ErrKeys)
	}
	if cfg.Keys == "" && !cfg.NewLogKey {
		return res, fmt.Errorf("%w: the restored server needs the log's signing key: give a copy of the old data/keys directory, or ask for a new log key (the old keys stay published as retired, so old checkpoints keep verifying)", ErrKeys)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	exists, err := checkTarget(cfg.Data)
	if err != nil {
		return res, err
	}
	start := time.Now()
	b, err := openBackup(cfg.From)
	if err != nil {
		return res, err
	}
	cp, note := b.latest()
	if cfg.Keys != "" {
		if err := checkKeyDir(cfg.Keys, cp, note); err != nil {
			return res, err
		}
	}
	if res.Report, err = b.verifyEntries(ctx, VerifyOptions{Workers: cfg.Workers, Progress: cfg.VerifyProgress}); err != nil {
		return res, err
	}
	res.VerifyTime = time.Since(start)

	start = time.Now()
	if !exists {
		if err := durable.MkdirAll(cfg.Data, 0o755); err != nil {
			return res, err
		}
	}
	defer func() {
		if err != nil {
			if rerr := clearTarget(cfg.Data, exists); rerr != nil {
				err = fmt.Errorf("%w (and removing the partial restore failed: %v)", err, rerr)
			}
		}
	}()
	if err := b.restoreKeys(cfg, &res); err != nil {
		return res, err
	}
	archived := make([]checkpointlog.Archived, len(b.cps))
	for i, ref := range b.st.Checkpoints {
		archived[i] = checkpointlog.Archived{Day: ref.Taken, Size: ref.Size, Note: b.notes[i]}
	}
	if err := checkpointlog.WriteAll(filepath.Join(cfg.Data, ArchiveDir), archived); err != nil {
		return res, err
	}
	r := newChunkReader(b.dir, b.st.Chunks)
	defer r.close()
	var progress func(uint64)
	if cfg.WriteProgress != nil {
		progress = func(n uint64) { cfg.WriteProgress(n, b.st.Size) }
	}
	sr, err := segment.Restore(ctx, cfg.Data, r.next, segment.RestoreOptions{
		SegmentSize: cfg.SegmentSize, BatchEntries: cfg.BatchEntries, IndexCacheBytes: cfg.IndexCacheBytes,
		Logger: cfg.Logger, Progress: progress,
	})
	if err != nil {
		return res, fmt.Errorf("restore %s: %w", cfg.Data, err)
	}
	if sr.Entries != b.st.Size || sr.Root != b.st.Root {
		return res, invalid(StateFile, 0, -1, "the backup changed while it was restored: wrote %d entries with root %s, verified %d with root %s",
			sr.Entries, b64(sr.Root), b.st.Size, b64(b.st.Root))
	}
	res.Segments, res.SegmentBytes = sr.Segments, sr.Bytes
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

// checkKeyDir checks that dir holds the key directory of the log whose
// latest backed-up checkpoint is cp, with a key that signed it, and that
// its guard does not record a tree this backup contradicts.
func checkKeyDir(dir string, cp tlog.Checkpoint, note []byte) error {
	origin, err := tlog.KeysOrigin(dir)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrKeys, dir, err)
	}
	if origin != cp.Origin {
		return fmt.Errorf("%w: %s holds the keys of the log %q, the backup is of %q", ErrKeys, dir, origin, cp.Origin)
	}
	keys, err := tlog.LoadOrCreateKeys(dir, origin, nil, nil)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrKeys, err)
	}
	if _, err := tlog.ParseCheckpoint(note, keys.Verifiers(), origin); err != nil {
		return fmt.Errorf("%w: no key in %s signed the backup's checkpoint of size %d: %v", ErrKeys, dir, cp.Size, err)
	}
	guard, err := tlog.OpenGuard(dir, origin)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrKeys, err)
	}
	size, root, ok := guard.Last()
	switch {
	case !ok:
	case size > cp.Size:
		return fmt.Errorf("%w: %s records that the log already signed a tree of size %d, beyond this backup's %d: the restored server would sign other trees of those sizes (a fork). Restore a newer backup; to accept the loss of entries %d..%d anyway, remove %s from a copy of the directory (clients that saw those checkpoints will see the fork)",
			ErrKeys, filepath.Join(dir, tlog.GuardFile), size, cp.Size, cp.Size, size-1, tlog.GuardFile)
	case size == cp.Size && root != cp.Root:
		return fmt.Errorf("%w: %s records another root for size %d than this backup's: the backup is of another history", ErrKeys, filepath.Join(dir, tlog.GuardFile), size)
	}
	return nil
}

// restoreKeys writes Data/keys: first the guard's record of the backup's
// tree, so that whatever a crash leaves of the restore is never served as
// a smaller log; then a copy of cfg.Keys (its own, older record aside), or
// a new key that keeps the backup's keys as retired.
func (b *backupDir) restoreKeys(cfg RestoreConfig, res *RestoreResult) error {
	dir := filepath.Join(cfg.Data, KeysDir)
	origin := b.st.Origin
	if err := durable.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("restore keys: %w", err)
	}
	guard, err := tlog.OpenGuard(dir, origin)
	if err != nil {
		return fmt.Errorf("restore keys: %w", err)
	}
	if err := guard.Advance(b.st.Size, b.st.Root); err != nil {
		return fmt.Errorf("restore keys: %w", err)
	}
	var keys *tlog.Keyring
	if cfg.NewLogKey {
		keys, err = tlog.CreateKeysWithRetired(dir, origin, b.keys.Keys, cfg.Rand, cfg.Now)
		res.NewKey, res.RetiredKeys = true, len(b.keys.Keys)
	} else {
		// checkKeyDir made sure its record is not ahead of the backup's.
		if err := copyDir(cfg.Keys, dir, tlog.GuardFile); err != nil {
			return err
		}
		keys, err = tlog.LoadOrCreateKeys(dir, origin, nil, nil)
	}
	if err != nil {
		return fmt.Errorf("restore keys: %w", err)
	}
	all := keys.Keys()
	res.KeyID = all[len(all)-1].ID()
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
