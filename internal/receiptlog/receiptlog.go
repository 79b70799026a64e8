// Package receiptlog keeps a copy of every append receipt in
// data/receipts/YYYY-MM-DD.ndjson (by the UTC date of the entry's
// received_at), written by one goroutine off the ingest hot path: no
// second fsync per commit. Lines are flushed as soon as the queue is empty
// and fsynced at most once per SyncEvery, and on Close.
//
// The copy is a convenience for audits, not a source of truth: every
// receipt can be rebuilt from the ledger (leaf hash and log index from
// the segments, a checkpoint covering it from the log key). A crash may
// lose the receipts of the last SyncEvery; nothing else is lost, since
// Add blocks (pushing back on ingest) rather than drop when the queue is
// full.
package receiptlog

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/logline/logline/internal/durable"
	"github.com/logline/logline/internal/ledger"
)

// FormatFunc appends one receipt line (ending in "\n") to b.
type FormatFunc func(b []byte, res ledger.Result, kid string) []byte

// Config configures a Log.
type Config struct {
	Dir       string     // data/receipts
	Format    FormatFunc // required
	Logger    *slog.Logger
	QueueLen  int           // default 65536 receipts
	SyncEvery time.Duration // default 1s
}

// Log is the receipt copy. Add and Close are safe for concurrent use; an
// Add after Close is dropped (a request that outlived a forced shutdown).
type Log struct {
	cfg  Config
	ch   chan item
	done chan struct{}
	err  error // set by the writer goroutine; read after done

	closeMu sync.RWMutex // guards closed against concurrent sends
	closed  bool

	// Owned by the writer goroutine.
	day      string
	f        *os.File
	w        *bufio.Writer
	buf      []byte
	lastSync time.Time
	dirty    bool
}

type item struct {
	res ledger.Result
	kid string
}

// Open creates cfg.Dir if needed and starts the writer.
func Open(cfg Config) (*Log, error) {
	if cfg.Format == nil || cfg.Dir == "" {
		return nil, errors.New("receiptlog: Dir and Format are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.QueueLen <= 0 {
		cfg.QueueLen = 1 << 16
	}
	if cfg.SyncEvery <= 0 {
		cfg.SyncEvery = time.Second
	}
	if err := durable.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("receipts dir: %w", err)
	}
	l := &Log{cfg: cfg, ch: make(chan item, cfg.QueueLen), done: make(chan struct{})}
	go l.run()
	return l, nil
}

// Add queues a copy of a receipt. It blocks only when the queue is full.
func (l *Log) Add(res ledger.Result, kid string) {
	l.closeMu.RLock()
	defer l.closeMu.RUnlock()
	if l.closed {
		l.cfg.Logger.Warn("receipt copy closed; receipt not kept", "log_index", res.LogIndex)
		return
	}
	l.ch <- item{res, kid}
}

// Close writes what is queued, fsyncs and closes the file. It returns the
// first write error the writer met.
func (l *Log) Close() error {
	l.closeMu.Lock()
	if !l.closed {
		l.closed = true
		close(l.ch)
	}
	l.closeMu.Unlock()
	<-l.done
	return l.err
}

func (l *Log) run() {
	defer close(l.done)
	tick := time.NewTicker(l.cfg.SyncEvery)
	defer tick.Stop()
	for {
		select {
		case it, ok := <-l.ch:
			if !ok {
				l.fail(l.sync())
				if l.f != nil {
					l.fail(l.f.Close())
				}
				return
			}
			l.write(it)
			if len(l.ch) == 0 {
				l.fail(l.flush())
			}
		case <-tick.C:
			if l.dirty {
				l.fail(l.sync())
			}
		}
	}
}

// fail records the first error; the writer keeps going (the next day's
// file may work), and the error is logged once per occurrence.
func (l *Log) fail(err error) {
	if err == nil {
		return
	}
	l.cfg.Logger.Error("receipt copy", "err", err)
	if l.err == nil {
		l.err = err
	}
}

func (l *Log) write(it item) {
	day := it.res.ReceivedAt.UTC().Format(time.DateOnly)
	if day != l.day || l.f == nil {
		if err := l.rotate(day); err != nil {
			l.fail(err)
			return
		}
	}
	l.buf = l.cfg.Format(l.buf[:0], it.res, it.kid)
	if _, err := l.w.Write(l.buf); err != nil {
		l.fail(fmt.Errorf("write %s: %w", l.f.Name(), err))
		return
	}
	l.dirty = true
}

func (l *Log) flush() error {
	if l.w == nil {
		return nil
	}
	if err := l.w.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", l.f.Name(), err)
	}
	if time.Since(l.lastSync) >= l.cfg.SyncEvery {
		return l.sync()
	}
	return nil
}

func (l *Log) sync() error {
	if l.f == nil || !l.dirty {
		return nil
	}
	if err := l.w.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", l.f.Name(), err)
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", l.f.Name(), err)
	}
	l.lastSync, l.dirty = time.Now(), false
	return nil
}

// rotate switches to the file of day, creating it durably.
func (l *Log) rotate(day string) error {
	if l.f != nil {
		if err := l.sync(); err != nil {
			return err
		}
		if err := l.f.Close(); err != nil {
			return fmt.Errorf("close %s: %w", l.f.Name(), err)
		}
		l.f = nil
	}
	path := filepath.Join(l.cfg.Dir, day+".ndjson")
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("open receipts file: %w", err)
	}
	if errors.Is(statErr, os.ErrNotExist) {
		if err := durable.SyncDir(l.cfg.Dir); err != nil {
			f.Close()
			return err
		}
	}
	l.f, l.day = f, day
	l.w = bufio.NewWriterSize(f, 256<<10)
	return nil
}
