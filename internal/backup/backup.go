package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/transparency-dev/merkle/compact"

	"github.com/logline/logline/internal/client"
	"github.com/logline/logline/internal/durable"
	"github.com/logline/logline/internal/tlog"
)

// Source is the server a backup copies: the verification routes and the
// log stream of docs/http-api.md. *client.Client implements it.
type Source interface {
	LogKey(ctx context.Context) ([]byte, error)
	Checkpoint(ctx context.Context) ([]byte, error)
	ConsistencyProof(ctx context.Context, from, to uint64) ([]byte, error)
	Stream(ctx context.Context, opts client.StreamOptions, fn func(line []byte) error) (client.StreamEnd, error)
}

var _ Source = (*client.Client)(nil)

// Config configures Run. Dir and Source are required.
type Config struct {
	Dir    string // the backup directory; created if missing
	Source Source

	// ChunkEntries is the most entries one chunk file holds; default
	// 1,048,576. A run writes one chunk or more.
	ChunkEntries uint64
	// Now stamps the run's checkpoint; default time.Now.
	Now func() time.Time
	// Progress, when set, is called as entries arrive with the number
	// copied so far in this run and the number the run copies.
	Progress func(done, total uint64)
	// CatchUp bounds how long Run waits for the server's stream to reach
	// the size of the checkpoint it signed (the checkpoint may be a few
	// milliseconds ahead of what the stream serves); default 10 s.
	CatchUp time.Duration
}

// Result says what a run did.
type Result struct {
	Origin   string
	From     uint64 // entries the backup held before the run
	Size     uint64 // entries it holds now (the checkpoint's size)
	Root     [32]byte
	Copied   uint64 // entries copied by this run
	Bytes    int64  // bytes of entry lines copied
	Chunks   []Chunk
	NewKeys  int    // verifier keys log.key gained (a rotation); 0 on a first run
	UpToDate bool   // the server had nothing new; nothing was written
	Note     string // the checkpoint file of this run
}

// errStop ends a stream once the checkpoint's size is reached.
var errStop = errors.New("stop")

// Run takes a backup of the server cfg.Source into cfg.Dir, or extends the
// backup already there (docs/backup.md):
//
//  1. fetch the log key(s) and the latest checkpoint, verify its signature
//     (the origin is pinned by an existing backup);
//  2. with a previous backup of size M, fetch the consistency proof from M
//     to the checkpoint's size N and verify it against the saved root: a
//     history that forked is refused (ErrFork) before anything is copied;
//  3. stream the entries [M, N) — stopping at N even if the log has grown —
//     into new chunk files (temporary file, fsync, rename, fsync dir),
//     extending the saved compact range, and check that the root of size N
//     is the checkpoint's (ErrServer otherwise);
//  4. write the checkpoint note and log.key (the union of the keys seen),
//     then replace backup.json atomically: the commit point.
//
// A run stopped at any point (an error, ctx cancelled, the process killed)
// leaves the previous backup.json, and every file it names, untouched; the
// next run removes the leftovers and succeeds.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Dir == "" || cfg.Source == nil {
		return Result{}, errors.New("backup: Config.Dir and Config.Source are required")
	}
	if cfg.ChunkEntries == 0 {
		cfg.ChunkEntries = 1 << 20
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.CatchUp <= 0 {
		cfg.CatchUp = 10 * time.Second
	}
	if err := durable.MkdirAll(cfg.Dir, 0o755); err != nil {
		return Result{}, err
	}
	unlock, err := lockDir(cfg.Dir)
	if err != nil {
		return Result{}, err
	}
	defer unlock()
	r := &run{cfg: cfg}
	return r.run(ctx)
}

type run struct {
	cfg   Config
	st    *State   // the backup before this run; nil for a first run
	saved []string // verifier keys of log.key before this run
	keys  []string // the union: the server's, then saved ones it no longer lists
	cp    tlog.Checkpoint
	note  []byte
}

func (r *run) run(ctx context.Context) (Result, error) {
	dir := r.cfg.Dir
	st, err := loadState(dir)
	if err != nil {
		return Result{}, err
	}
	r.st = st
	if st == nil {
		if err := checkLayout(dir); err != nil {
			return Result{}, err
		}
	} else if r.saved, err = readKeys(dir, st.Origin); err != nil {
		return Result{}, err
	}
	if err := r.fetchCheckpoint(ctx); err != nil {
		return Result{}, err
	}
	res := Result{Origin: r.cp.Origin, Size: r.cp.Size, Root: r.cp.Root}
	var tree *compact.Range
	if st != nil {
		res.From = st.Size
		if err := r.checkExtends(ctx); err != nil {
			return res, err
		}
		if st.Size == r.cp.Size {
			res.UpToDate = true
			return res, nil
		}
		if tree, err = st.tree(); err != nil {
			return res, invalid(StateFile, 0, -1, "frontier: %v", err)
		}
	} else {
		tree = treeFactory.NewEmptyRange(0)
	}
	if err := removeOrphans(dir, st); err != nil {
		return res, err
	}
	chunks, copied, err := r.copyEntries(ctx, tree, res.From)
	if err != nil {
		return res, err
	}
	res.Chunks, res.Bytes, res.Copied = chunks, copied, r.cp.Size-res.From
	if got := rangeRoot(tree); got != r.cp.Root {
		return res, fmt.Errorf("%w: the entries the server streamed give root %s at size %d, its checkpoint says %s",
			ErrServer, b64(got), r.cp.Size, b64(r.cp.Root))
	}
	next := &State{Origin: r.cp.Origin, Size: r.cp.Size, Root: r.cp.Root, Frontier: frontierOf(tree)}
	if st != nil {
		next.Chunks = slices.Clone(st.Chunks)
		next.Checkpoints = slices.Clone(st.Checkpoints)
	}
	next.Chunks = append(next.Chunks, chunks...)
	ref := CheckpointRef{Size: r.cp.Size, File: checkpointName(r.cp.Size), Taken: r.cfg.Now().UTC().Truncate(time.Second)}
	next.Checkpoints = append(next.Checkpoints, ref)
	res.Note = ref.File
	if err := durable.MkdirAll(filepath.Join(dir, CheckpointsDir), 0o755); err != nil {
		return res, err
	}
	if err := durable.WriteFile(filepath.Join(dir, ref.File), r.note, 0o644); err != nil {
		return res, err
	}
	if st != nil {
		res.NewKeys = len(r.keys) - len(r.saved)
	}
	if res.NewKeys > 0 || st == nil {
		if err := durable.WriteFile(filepath.Join(dir, KeyFile), []byte(strings.Join(r.keys, "\n")+"\n"), 0o644); err != nil {
			return res, err
		}
	}
	// The commit point.
	if err := durable.WriteFile(filepath.Join(dir, StateFile), next.Marshal(), 0o644); err != nil {
		return res, err
	}
	return res, nil
}

// readKeys reads log.key of a backup of the log origin.
func readKeys(dir, origin string) ([]string, error) {
	data, err := os.ReadFile(filepath.Join(dir, KeyFile))
	if err != nil {
		return nil, invalid(KeyFile, 0, -1, "%v", err)
	}
	lk, err := tlog.ParseLogKeys(data)
	if err != nil {
		return nil, invalid(KeyFile, 0, -1, "%v", err)
	}
	if lk.Origin != origin {
		return nil, invalid(KeyFile, 0, -1, "keys of %q, the backup is of %q", lk.Origin, origin)
	}
	return lk.Keys, nil
}

// fetchCheckpoint fetches the log keys and the latest checkpoint and
// verifies the checkpoint with them.
func (r *run) fetchCheckpoint(ctx context.Context) error {
	text, err := r.cfg.Source.LogKey(ctx)
	if err != nil {
		return err
	}
	lk, err := tlog.ParseLogKeys(text)
	if err != nil {
		return fmt.Errorf("%w: GET /log/key: %v", ErrServer, err)
	}
	if r.st != nil && lk.Origin != r.st.Origin {
		return fmt.Errorf("%s holds a backup of the log %q, the server is the log %q: %w", r.cfg.Dir, r.st.Origin, lk.Origin, ErrOtherLog)
	}
	r.keys = slices.Clone(lk.Keys)
	for _, k := range r.saved {
		if !slices.Contains(r.keys, k) {
			r.keys = append(r.keys, k)
		}
	}
	union, err := tlog.ParseLogKeys([]byte(strings.Join(r.keys, "\n")))
	if err != nil {
		return fmt.Errorf("%w: GET /log/key with the keys saved before: %v", ErrServer, err)
	}
	if r.note, err = r.cfg.Source.Checkpoint(ctx); err != nil {
		return err
	}
	if r.cp, err = tlog.ParseCheckpoint(r.note, union.Verifiers, lk.Origin); err != nil {
		return fmt.Errorf("%w: the checkpoint does not verify with the log key: %v", ErrServer, err)
	}
	return nil
}

// checkExtends checks that the server's checkpoint extends the backup.
func (r *run) checkExtends(ctx context.Context) error {
	m, n := r.st.Size, r.cp.Size
	switch {
	case n < m:
		return fmt.Errorf("%w: the server's checkpoint has size %d, smaller than this backup's size %d: the server lost entries, or it is another server of the log", ErrFork, n, m)
	case n == m && r.cp.Root != r.st.Root:
		return fmt.Errorf("%w: the server's tree of size %d has root %s, this backup's tree of that size has root %s: the history forked",
			ErrFork, n, b64(r.cp.Root), b64(r.st.Root))
	case n == m || m == 0:
		return nil
	}
	body, err := retryRange(ctx, r.cfg.CatchUp, func() ([]byte, error) { return r.cfg.Source.ConsistencyProof(ctx, m, n) })
	if err != nil {
		return err
	}
	var p tlog.ConsistencyProof
	if err := p.UnmarshalJSON(bytes.TrimSpace(body)); err != nil {
		return fmt.Errorf("%w: consistency proof %d → %d: %v", ErrServer, m, n, err)
	}
	if p.From != m || p.To != n {
		return fmt.Errorf("%w: asked for the consistency proof %d → %d, got %d → %d", ErrServer, m, n, p.From, p.To)
	}
	if err := tlog.VerifyConsistency(m, n, p.Hashes, r.st.Root, r.cp.Root); err != nil {
		return fmt.Errorf("%w: the server's tree of size %d does not contain this backup's tree of size %d (the history forked): %v", ErrFork, n, m, err)
	}
	return nil
}

// retryRange calls fn until it stops failing with 400 out_of_range (the
// checkpoint can be a moment ahead of what the server's routes serve), for
// at most wait.
func retryRange(ctx context.Context, wait time.Duration, fn func() ([]byte, error)) ([]byte, error) {
	deadline := time.Now().Add(wait)
	for {
		b, err := fn()
		var p *client.Problem
		if err == nil || !errors.As(err, &p) || p.Code != "out_of_range" || time.Now().After(deadline) {
			return b, err
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return nil, err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// copyEntries streams the entries [from, checkpoint size) into chunk files
// and appends their leaves to tree.
func (r *run) copyEntries(ctx context.Context, tree *compact.Range, from uint64) ([]Chunk, int64, error) {
	n := r.cp.Size
	var (
		chunks []Chunk
		total  int64
		cw     *chunkWriter
	)
	defer func() { cw.abort() }()
	next := from
	add := func(line []byte) error {
		if cw == nil {
			w, err := newChunkWriter(r.cfg.Dir, next)
			if err != nil {
				return err
			}
			cw = w
		}
		if err := cw.add(line); err != nil {
			return err
		}
		leaf := tlog.LeafHash(line)
		if err := tree.Append(leaf[:], nil); err != nil {
			return fmt.Errorf("merkle append: %w", err)
		}
		next++
		if cw.n == r.cfg.ChunkEntries || next == n {
			c, err := cw.finish()
			cw = nil
			if err != nil {
				return err
			}
			chunks = append(chunks, c)
			total += c.Bytes
		}
		if r.cfg.Progress != nil && (next%4096 == 0 || next == n) {
			r.cfg.Progress(next-from, n-from)
		}
		if next == n {
			return errStop
		}
		return nil
	}
	deadline := time.Now().Add(r.cfg.CatchUp)
	for next < n {
		before := next
		_, err := r.cfg.Source.Stream(ctx, client.StreamOptions{Cursor: next}, add)
		switch {
		case errors.Is(err, errStop):
		case err == nil:
			// The stream ended at the log's end as the server saw it.
		case client.Retryable(err) && ctx.Err() == nil && time.Now().Before(deadline):
		default:
			return nil, 0, err
		}
		if next > before {
			deadline = time.Now().Add(r.cfg.CatchUp)
		} else if next < n {
			if time.Now().After(deadline) {
				return nil, 0, fmt.Errorf("%w: the stream ends at log index %d, before the checkpoint's size %d", ErrServer, next, n)
			}
			if err := sleep(ctx, 20*time.Millisecond); err != nil {
				return nil, 0, err
			}
		}
	}
	return chunks, total, nil
}
