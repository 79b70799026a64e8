package export

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/logline/logline/internal/durable"
)

// ErrNotFound: no export with that id (or a malformed id).
var ErrNotFound = errors.New("no such export")

// bundleExt ends the name of every bundle in a Dir.
const bundleExt = ".ndjson"

// DirConfig configures a Dir. The zero value (plus Path) works.
type DirConfig struct {
	Path string           // the directory, created if missing (data/exports)
	Now  func() time.Time // time of new ids; default time.Now
	Rand io.Reader        // randomness of new ids; default crypto/rand
}

// Dir keeps the bundles a server writes, as <Path>/<id>.ndjson: each is
// written under a temporary name, fsynced and renamed into place, so a
// failed, canceled or crashed export leaves no bundle. Ids are ULIDs (26
// characters of Crockford base32, time-ordered). Safe for concurrent use.
type Dir struct {
	path string
	now  func() time.Time

	mu      sync.Mutex // guards entropy
	entropy *ulid.MonotonicEntropy
}

// OpenDir opens (creating) the directory and removes temporary files that
// a crash in the middle of an export left behind.
func OpenDir(cfg DirConfig) (*Dir, error) {
	if cfg.Path == "" {
		return nil, errors.New("export: DirConfig.Path is empty")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if err := durable.MkdirAll(cfg.Path, 0o750); err != nil {
		return nil, fmt.Errorf("exports: %w", err)
	}
	ents, err := os.ReadDir(cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("exports: %w", err)
	}
	for _, e := range ents {
		if name := e.Name(); strings.HasPrefix(name, ".") && strings.Contains(name, bundleExt+".tmp") {
			if err := durable.Remove(filepath.Join(cfg.Path, name)); err != nil {
				return nil, fmt.Errorf("exports: remove a leftover temporary file: %w", err)
			}
		}
	}
	return &Dir{path: cfg.Path, now: cfg.Now, entropy: ulid.Monotonic(cfg.Rand, 0)}, nil
}

// Created describes a bundle Dir.Create wrote.
type Created struct {
	ID       string
	Bytes    int64
	Manifest Manifest
}

// Create writes a bundle (see Write) into the directory under a new id.
// On any error nothing is left behind.
func (d *Dir) Create(ctx context.Context, src Source, o Options) (Created, error) {
	id, err := d.newID()
	if err != nil {
		return Created{}, err
	}
	f, err := durable.Create(d.bundlePath(id), 0o640)
	if err != nil {
		return Created{}, fmt.Errorf("exports: %w", err)
	}
	defer f.Abort()
	m, err := Write(ctx, f, src, o)
	if err != nil {
		return Created{}, err
	}
	st, err := f.Stat()
	if err != nil {
		return Created{}, fmt.Errorf("exports: %w", err)
	}
	if err := f.Commit(); err != nil {
		return Created{}, fmt.Errorf("exports: %w", err)
	}
	return Created{ID: id, Bytes: st.Size(), Manifest: m}, nil
}

// Open opens the bundle id. A malformed or unknown id gives an error
// wrapping ErrNotFound.
func (d *Dir) Open(id string) (*os.File, error) {
	if !ValidID(id) {
		return nil, fmt.Errorf("export %q: %w", id, ErrNotFound)
	}
	f, err := os.Open(d.bundlePath(id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("export %s: %w", id, ErrNotFound)
	}
	return f, err
}

// Tenant returns the tenant bundle id was exported for, read from its
// header line (the gateway answers another tenant's export as not
// found). A malformed or unknown id gives an error wrapping ErrNotFound.
func (d *Dir) Tenant(id string) (string, error) {
	f, err := d.Open(id)
	if err != nil {
		return "", err
	}
	defer f.Close()
	line, err := bufio.NewReader(io.LimitReader(f, maxHeaderBytes)).ReadBytes('\n')
	if err != nil {
		return "", fmt.Errorf("export %s: read header: %w", id, err)
	}
	var h header
	if err := json.Unmarshal(line, &h); err != nil || h.Version == 0 {
		return "", fmt.Errorf("export %s: not an export bundle header", id)
	}
	return h.Tenant, nil
}

// maxHeaderBytes bounds the header line Tenant reads (a checkpoint note
// and a few fields).
const maxHeaderBytes = 64 << 10

func (d *Dir) bundlePath(id string) string { return filepath.Join(d.path, id+bundleExt) }

func (d *Dir) newID() (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	id, err := ulid.New(ulid.Timestamp(d.now()), d.entropy)
	if err != nil {
		return "", fmt.Errorf("exports: new id: %w", err)
	}
	return id.String(), nil
}

// ValidID reports whether id is an export id: a ULID in its canonical
// spelling (26 upper-case Crockford base32 characters).
func ValidID(id string) bool {
	u, err := ulid.ParseStrict(id)
	return err == nil && u.String() == id
}
