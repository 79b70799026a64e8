package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/logline/logline/internal/checkpointlog"
	"github.com/logline/logline/internal/durable"
	"github.com/logline/logline/internal/ledger/segment"
	"github.com/logline/logline/internal/tlog"
)

// ErrChanged: the entry lines Rebuild wrote do not give the size and root
// it was told (the source changed while it was read).
var ErrChanged = errors.New("the log changed while it was copied")

// RebuildConfig describes the data directory Rebuild writes: a log read
// elsewhere (a verified backup; another store, `logline migrate-store`).
type RebuildConfig struct {
	Data string // must not exist or be empty

	// Keys and NewLogKey are the key choice, exactly one of them, as in
	// RestoreConfig: a copy of the log's key directory (checked against
	// Origin, Note and the log's size and root), or a new key that keeps
	// VerifierKeys as retired.
	Keys      string
	NewLogKey bool

	// The log: its name in messages ("this backup"), origin, every
	// verifier key it signed with (GET /log/key order, newest first), its
	// size and root (Data/keys/last-signed.json records them) and its
	// latest signed checkpoint note.
	Name         string
	Origin       string
	VerifierKeys []string
	Size         uint64
	Root         [32]byte
	Note         []byte

	// Archive is written as the checkpoint archive (Data/checkpoints).
	Archive []checkpointlog.Archived
	// Lines returns the entry lines in log order, then io.EOF
	// (segment.Restore's next).
	Lines func() ([]byte, error)

	// Segment layout (segment.RestoreOptions).
	SegmentSize     int64
	BatchEntries    int
	IndexCacheBytes int64
	Logger          *slog.Logger
	Rand            io.Reader        // randomness of a new log key; default crypto/rand
	Now             func() time.Time // default time.Now
	// Progress, when set, is called with the entries written so far.
	Progress func(entries uint64)
}

// RebuildResult says what Rebuild wrote.
type RebuildResult struct {
	Segments     int
	SegmentBytes int64
	KeyID        string // the active log key of Data/keys
	NewKey       bool   // KeyID was created by this rebuild
	RetiredKeys  int    // verifier keys kept as retired with a new key
}

// Rebuild writes a data directory for a log whose entries, keys and
// checkpoints were verified elsewhere:
//
//  1. Data/keys: first last-signed.json recording (Size, Root), so that
//     the server never signs another tree of that size (nor a smaller one:
//     a partly written directory cannot be served), then a copy of Keys
//     or a new key that keeps VerifierKeys as retired;
//  2. the checkpoint archive Data/checkpoints from Archive;
//  3. the segments, with segment.Restore (deterministic, each line
//     verified), and the index.
//
// The lines must give Size entries with root Root (ErrChanged otherwise).
// A failure removes what was written (Data itself when Rebuild created
// it). Errors: ErrTarget, ErrKeys, ErrChanged, or the failing operation's.
func Rebuild(ctx context.Context, cfg RebuildConfig) (res RebuildResult, err error) {
	if err := checkKeyChoice(cfg.Keys, cfg.NewLogKey); err != nil {
		return res, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	exists, err := checkTarget(cfg.Data)
	if err != nil {
		return res, err
	}
	if cfg.Keys != "" {
		if err := checkKeyDir(cfg.Keys, cfg.Name, cfg.Origin, cfg.Size, cfg.Root, cfg.Note); err != nil {
			return res, err
		}
	}
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
	if err := writeKeys(cfg, &res); err != nil {
		return res, err
	}
	if err := checkpointlog.WriteAll(filepath.Join(cfg.Data, ArchiveDir), cfg.Archive); err != nil {
		return res, err
	}
	sr, err := segment.Restore(ctx, cfg.Data, cfg.Lines, segment.RestoreOptions{
		SegmentSize: cfg.SegmentSize, BatchEntries: cfg.BatchEntries, IndexCacheBytes: cfg.IndexCacheBytes,
		Logger: cfg.Logger, Progress: cfg.Progress,
	})
	if err != nil {
		return res, fmt.Errorf("restore %s: %w", cfg.Data, err)
	}
	if sr.Entries != cfg.Size || sr.Root != cfg.Root {
		return res, fmt.Errorf("%w: wrote %d entries with root %s, %s has %d with root %s",
			ErrChanged, sr.Entries, b64(sr.Root), cfg.Name, cfg.Size, b64(cfg.Root))
	}
	res.Segments, res.SegmentBytes = sr.Segments, sr.Bytes
	return res, nil
}

// checkKeyChoice requires exactly one of a key directory and a new key.
func checkKeyChoice(keys string, newKey bool) error {
	switch {
	case keys != "" && newKey:
		return fmt.Errorf("%w: give a key directory or ask for a new log key, not both", ErrKeys)
	case keys == "" && !newKey:
		return fmt.Errorf("%w: the restored server needs the log's signing key: give a copy of the old data/keys directory, or ask for a new log key (the old keys stay published as retired, so old checkpoints keep verifying)", ErrKeys)
	}
	return nil
}

// writeKeys writes Data/keys: first the guard's record of the log's tree,
// so that whatever a crash leaves of the rebuild is never served as a
// smaller log; then a copy of cfg.Keys (its own, older record aside), or
// a new key that keeps the log's keys as retired.
func writeKeys(cfg RebuildConfig, res *RebuildResult) error {
	dir := filepath.Join(cfg.Data, KeysDir)
	if err := durable.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("restore keys: %w", err)
	}
	guard, err := tlog.OpenGuard(dir, cfg.Origin)
	if err != nil {
		return fmt.Errorf("restore keys: %w", err)
	}
	if err := guard.Advance(cfg.Size, cfg.Root); err != nil {
		return fmt.Errorf("restore keys: %w", err)
	}
	var keys *tlog.Keyring
	if cfg.NewLogKey {
		keys, err = tlog.CreateKeysWithRetired(dir, cfg.Origin, cfg.VerifierKeys, cfg.Rand, cfg.Now)
		res.NewKey, res.RetiredKeys = true, len(cfg.VerifierKeys)
	} else {
		// checkKeyDir made sure its record is not ahead of the log's.
		if err := copyDir(cfg.Keys, dir, tlog.GuardFile); err != nil {
			return err
		}
		keys, err = tlog.LoadOrCreateKeys(dir, cfg.Origin, nil, nil)
	}
	if err != nil {
		return fmt.Errorf("restore keys: %w", err)
	}
	all := keys.Keys()
	res.KeyID = all[len(all)-1].ID()
	return nil
}
