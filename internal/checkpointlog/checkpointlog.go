// Package checkpointlog keeps the signed checkpoints a server hands out in
// data/checkpoints/YYYY-MM-DD.ndjson (by the UTC date they were archived),
// so that `logline verify --data` can later check the log against every
// tree head it ever signed: a rewritten history whose commit lines were
// recomputed still contradicts the checkpoints clients may hold.
//
// The server signs a checkpoint after every commit batch; keeping all of
// them would cost a write per batch. The archive keeps at most one per
// Every (default one second) — always the newest — plus the last one on
// Close, written by one goroutine off the hot path and fsynced with each
// write. A crash loses at most the checkpoints of the last interval; a
// torn last line is cut when the archive is next opened and skipped by
// Read.
//
// Each line is a JSON object:
//
//	{"size":N,"checkpoint":"<the signed note, JSON-escaped>"}
package checkpointlog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/logline/logline/internal/durable"
)

// Config configures a Log.
type Config struct {
	Dir    string        // data/checkpoints
	Every  time.Duration // minimum time between two archived checkpoints; default 1s
	Logger *slog.Logger
	Now    func() time.Time // default time.Now; names the day files
}

// Log is the checkpoint archive. Add and Close are safe for concurrent use.
type Log struct {
	cfg  Config
	wake chan struct{} // capacity 1: a checkpoint is pending
	quit chan struct{}
	done chan struct{}
	err  error // first write error; read after done

	mu      sync.Mutex // guards pending, closed
	pending *record
	closed  bool

	// Owned by the writer goroutine.
	day      string
	f        *os.File
	lastSize uint64
	wrote    bool
}

type record struct {
	Size       uint64 `json:"size"`
	Checkpoint string `json:"checkpoint"`
}

// Open creates cfg.Dir if needed, cuts a torn last line left by a crash,
// and starts the writer.
func Open(cfg Config) (*Log, error) {
	if cfg.Dir == "" {
		return nil, errors.New("checkpointlog: Dir is required")
	}
	if cfg.Every <= 0 {
		cfg.Every = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if err := durable.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("checkpoint archive: %w", err)
	}
	if err := repairTail(cfg.Dir, cfg.Logger); err != nil {
		return nil, fmt.Errorf("checkpoint archive: %w", err)
	}
	l := &Log{cfg: cfg, wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	go l.run()
	return l, nil
}

// Add offers the checkpoint (size, note) to the archive. It never blocks:
// a newer checkpoint replaces one not written yet.
func (l *Log) Add(size uint64, note []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	l.pending = &record{Size: size, Checkpoint: string(note)}
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// SignFunc signs the checkpoint of a tree (segment.Config.SignCheckpoint).
type SignFunc func(size uint64, root [32]byte) ([]byte, error)

// Signing wraps sign so that every checkpoint it signs is offered to l.
func (l *Log) Signing(sign SignFunc) SignFunc {
	return func(size uint64, root [32]byte) ([]byte, error) {
		note, err := sign(size, root)
		if err == nil {
			l.Add(size, note)
		}
		return note, err
	}
}

// Close writes the pending checkpoint, fsyncs and closes the file. It
// returns the first write error the writer met.
func (l *Log) Close() error {
	l.mu.Lock()
	if !l.closed {
		l.closed = true
		close(l.quit)
	}
	l.mu.Unlock()
	<-l.done
	return l.err
}

func (l *Log) take() *record {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.pending
	l.pending = nil
	return r
}

func (l *Log) run() {
	defer close(l.done)
	defer func() {
		if l.f != nil {
			l.fail(l.f.Close())
		}
	}()
	for {
		select {
		case <-l.wake:
		case <-l.quit:
			l.write(l.take())
			return
		}
		l.write(l.take())
		// Rate limit: the next write waits for the interval; checkpoints
		// offered meanwhile replace each other.
		t := time.NewTimer(l.cfg.Every)
		select {
		case <-t.C:
		case <-l.quit:
			t.Stop()
			l.write(l.take())
			return
		}
	}
}

// write appends r and fsyncs. A checkpoint of the size written last (the
// one re-signed when the server reopens the log) is skipped.
func (l *Log) write(r *record) {
	if r == nil || (l.wrote && r.Size == l.lastSize) {
		return
	}
	line, err := json.Marshal(r)
	if err != nil {
		l.fail(err)
		return
	}
	if err := l.open(); err != nil {
		l.fail(err)
		return
	}
	if _, err := l.f.Write(append(line, '\n')); err != nil {
		l.fail(fmt.Errorf("write %s: %w", l.f.Name(), err))
		return
	}
	if err := l.f.Sync(); err != nil {
		l.fail(fmt.Errorf("sync %s: %w", l.f.Name(), err))
		return
	}
	l.lastSize, l.wrote = r.Size, true
}

// open makes l.f the file of today's date.
func (l *Log) open() error {
	day := l.cfg.Now().UTC().Format(time.DateOnly)
	if l.f != nil && day == l.day {
		return nil
	}
	if l.f != nil {
		if err := l.f.Close(); err != nil {
			return err
		}
		l.f = nil
	}
	path := filepath.Join(l.cfg.Dir, day+".ndjson")
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("checkpoint archive: %w", err)
	}
	if statErr != nil {
		if err := durable.SyncDir(l.cfg.Dir); err != nil {
			f.Close()
			return fmt.Errorf("checkpoint archive: %w", err)
		}
	}
	l.f, l.day = f, day
	return nil
}

func (l *Log) fail(err error) {
	if err == nil {
		return
	}
	if l.err == nil {
		l.err = err
	}
	l.cfg.Logger.Error("checkpoint archive write failed (the ledger is not affected)", "err", err)
}

// files lists the day files of dir in date order.
func files(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		name := e.Name()
		day, ok := strings.CutSuffix(name, ".ndjson")
		if !ok || e.IsDir() {
			continue
		}
		if _, err := time.Parse(time.DateOnly, day); err != nil {
			continue
		}
		out = append(out, filepath.Join(dir, name))
	}
	slices.Sort(out)
	return out, nil
}

// repairTail cuts a last line without its newline from the newest file.
func repairTail(dir string, log *slog.Logger) error {
	fs, err := files(dir)
	if err != nil || len(fs) == 0 {
		return err
	}
	path := fs[len(fs)-1]
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if len(data) == 0 || data[len(data)-1] == '\n' {
		return nil
	}
	keep := bytes.LastIndexByte(data, '\n') + 1
	log.Warn("cut the torn last line of the checkpoint archive", "file", path, "bytes", len(data)-keep)
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if err := f.Truncate(int64(keep)); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Record is one archived checkpoint.
type Record struct {
	File string // path of the day file
	Line int    // 1-based line number
	Size uint64
	Note []byte // the signed checkpoint note
}

// ReadReport says what Read found besides the records.
type ReadReport struct {
	Files int
	// Torn describes a last line without its newline (a crash during a
	// write; cut on the next Open); empty when there is none.
	Torn string
}

// ErrMalformed is wrapped by the errors of Read for a line that is not a
// well-formed archive record.
var ErrMalformed = errors.New("malformed checkpoint archive")

// Read calls fn for every archived checkpoint of dir, in order. A missing
// dir holds no checkpoints. The signatures are not checked here: the
// caller knows the keys.
func Read(dir string, fn func(Record) error) (ReadReport, error) {
	var rep ReadReport
	fs, err := files(dir)
	if errors.Is(err, os.ErrNotExist) {
		return rep, nil
	}
	if err != nil {
		return rep, fmt.Errorf("checkpoint archive: %w", err)
	}
	rep.Files = len(fs)
	for i, path := range fs {
		torn, err := readFile(path, i == len(fs)-1, fn)
		if err != nil {
			return rep, err
		}
		rep.Torn = torn
	}
	return rep, nil
}

func readFile(path string, last bool, fn func(Record) error) (torn string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("checkpoint archive: %w", err)
	}
	defer f.Close()
	return readRecords(f, path, last, fn)
}

// maxLine bounds one archive line (a checkpoint note is at most 64 KiB,
// escaped at most six times longer).
const maxLine = 512 << 10

func readRecords(r io.Reader, path string, last bool, fn func(Record) error) (torn string, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	for n := 1; ; n++ {
		line, err := readLine(br)
		switch {
		case err == io.EOF && len(line) == 0:
			return "", nil
		case err == io.EOF && last:
			return fmt.Sprintf("%s:%d: %d bytes without a newline (a write cut by a crash)", path, n, len(line)), nil
		case err == io.EOF:
			return "", fmt.Errorf("%w: %s:%d: last line has no newline", ErrMalformed, path, n)
		case err != nil:
			return "", fmt.Errorf("%w: %s:%d: %v", ErrMalformed, path, n, err)
		}
		rec, err := parseRecord(line)
		if err != nil {
			return "", fmt.Errorf("%w: %s:%d: %v", ErrMalformed, path, n, err)
		}
		rec.File, rec.Line = path, n
		if err := fn(rec); err != nil {
			return "", err
		}
	}
}

// readLine returns the next line with its newline; at the end of the input
// the bytes after the last newline and io.EOF.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > maxLine {
			return nil, fmt.Errorf("line longer than %d bytes", maxLine)
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return line, err
		}
	}
}

func parseRecord(line []byte) (Record, error) {
	var r struct {
		Size       *uint64 `json:"size"`
		Checkpoint *string `json:"checkpoint"`
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return Record{}, err
	}
	if dec.More() {
		return Record{}, errors.New("more than one JSON value on the line")
	}
	if r.Size == nil || r.Checkpoint == nil {
		return Record{}, errors.New(`"size" and "checkpoint" are required`)
	}
	return Record{Size: *r.Size, Note: []byte(*r.Checkpoint)}, nil
}
