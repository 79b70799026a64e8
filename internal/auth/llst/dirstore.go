package llst

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/logline/logline/internal/durable"
)

// DirStore is a KeyStore in a directory (DATA/keys/llst): one
// "<kid>.json" file per key, mode 0600, written atomically; a ".lock"
// file whose flock serialises Updates across processes. See doc.go.
type DirStore struct {
	dir string
	log *slog.Logger

	mu       sync.Mutex      // guards reported
	reported map[string]bool // problems already logged, by file and kind
}

var _ KeyStore = (*DirStore)(nil)

// lockFileName is the flock target inside the key directory.
const lockFileName = ".lock"

// lockRetry is how often Update retries a busy lock.
const lockRetry = 5 * time.Millisecond

// NewDirStore returns the store in dir, created at the first Update.
// log receives reports of files it ignores (slog.Default() if nil).
func NewDirStore(dir string, log *slog.Logger) *DirStore {
	if log == nil {
		log = slog.Default()
	}
	return &DirStore{dir: dir, log: log, reported: map[string]bool{}}
}

// Dir returns the store's directory.
func (s *DirStore) Dir() string { return s.dir }

// Load reads every key file. Temporary files of an interrupted write,
// unexpected files and key files that do not parse are skipped and
// logged (once per file). A missing directory holds no keys.
func (s *DirStore) Load(ctx context.Context) ([]Key, error) {
	keys, _, err := s.load(ctx)
	return keys, err
}

// load returns the keys and the names of leftover temporary files.
func (s *DirStore) load(ctx context.Context) (keys []Key, temps []string, err error) {
	ents, err := os.ReadDir(s.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read LLST key directory: %w", err)
	}
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		name := e.Name()
		switch {
		case name == lockFileName:
			continue
		case strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp"):
			s.report(name, "temp", slog.LevelWarn, "ignoring the temporary file of an interrupted key write; the next rotation removes it")
			temps = append(temps, name)
			continue
		}
		kid, ok := strings.CutSuffix(name, ".json")
		if !ok || !ValidKeyID(kid) || !e.Type().IsRegular() {
			s.report(name, "unexpected", slog.LevelWarn, "ignoring a file that is not an LLST key file")
			continue
		}
		path := filepath.Join(s.dir, name)
		data, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed by a rotation since ReadDir
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read LLST key %s: %w", name, err)
		}
		k, err := UnmarshalKey(data)
		if err == nil && k.ID != kid {
			err = fmt.Errorf("%w: kid %q in a file named %q", ErrBadKeyFile, k.ID, name)
		}
		if err != nil {
			s.report(name, "bad", slog.LevelError, "ignoring an LLST key file that does not load", "err", err)
			continue
		}
		if info, err := e.Info(); err == nil && info.Mode().Perm()&0o077 != 0 {
			s.report(name, "mode", slog.LevelWarn, "LLST key file is readable by others than its owner", "mode", info.Mode().Perm().String())
		}
		keys = append(keys, k)
	}
	return keys, temps, nil
}

// report logs a problem with a file once per store.
func (s *DirStore) report(name, kind string, level slog.Level, msg string, args ...any) {
	s.mu.Lock()
	seen := s.reported[kind+"\x00"+name]
	s.reported[kind+"\x00"+name] = true
	s.mu.Unlock()
	if !seen {
		s.log.Log(context.Background(), level, msg, append([]any{"dir", s.dir, "file", name}, args...)...)
	}
}

// Update locks the directory (flock on .lock, waiting while another
// process holds it), removes temporary files left by a crash, loads the
// keys, runs fn and applies its change: each new key is written to a
// temporary file, fsynced and renamed into place, then the directory is
// fsynced (durable.WriteFile); removed keys are unlinked and the
// directory fsynced.
func (s *DirStore) Update(ctx context.Context, fn func([]Key) (Change, error)) error {
	if err := durable.MkdirAll(s.dir, 0o700); err != nil {
		return fmt.Errorf("LLST key directory: %w", err)
	}
	unlock, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()

	keys, temps, err := s.load(ctx)
	if err != nil {
		return err
	}
	// Every writer holds the lock, so a temporary file now is a crash's.
	for _, name := range temps {
		if err := durable.Remove(filepath.Join(s.dir, name)); err != nil {
			return fmt.Errorf("remove interrupted LLST key write: %w", err)
		}
		s.log.Info("removed the temporary file of an interrupted key write", "dir", s.dir, "file", name)
	}
	ch, err := fn(keys)
	if err != nil {
		return err
	}
	for _, k := range ch.Add {
		data, err := MarshalKey(k)
		if err != nil {
			return err
		}
		path := filepath.Join(s.dir, k.ID+".json")
		if _, err := os.Lstat(path); err == nil {
			return fmt.Errorf("add LLST key %s: already stored", k.ID)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("add LLST key %s: %w", k.ID, err)
		}
		if err := durable.WriteFile(path, data, 0o600); err != nil {
			return fmt.Errorf("add LLST key %s: %w", k.ID, err)
		}
	}
	for _, kid := range ch.Remove {
		if !ValidKeyID(kid) {
			return fmt.Errorf("remove LLST key: invalid kid %q", kid)
		}
		if err := durable.Remove(filepath.Join(s.dir, kid+".json")); err != nil {
			return fmt.Errorf("remove LLST key %s: %w", kid, err)
		}
	}
	return nil
}

// lock takes the directory's flock, retrying until ctx is done. The lock
// is released by unlock or when the process ends, so a crash never leaves
// it held.
func (s *DirStore) lock(ctx context.Context) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(s.dir, lockFileName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock LLST key directory: %w", err)
	}
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock LLST key directory: %w", err)
		}
		t := time.NewTimer(lockRetry)
		select {
		case <-ctx.Done():
			t.Stop()
			f.Close()
			return nil, fmt.Errorf("lock LLST key directory: %w", ctx.Err())
		case <-t.C:
		}
	}
}
