package segment

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/transparency-dev/merkle/compact"

	"github.com/logline/logline/internal/durable"
	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/span"
)

// Config configures a Store. The zero value (plus Dir) works.
type Config struct {
	Dir string // data directory; the store uses <Dir>/ledger

	SegmentSize   int64 // rotate the active segment past this size; default 64 MiB
	MaxBatchSpans int   // most spans one commit batch holds; default 8192
	QueueLen      int   // append requests waiting for the writer; default 1024
	// IndexCacheBytes sizes the index's block cache; default
	// DefaultIndexCacheBytes (256 MiB).
	IndexCacheBytes int64

	Logger *slog.Logger
	Now    func() time.Time // received_at clock; default time.Now

	// SignCheckpoint, when set, signs the tree head after every commit
	// batch (and once on open), returning the signed note. It is called
	// only for durable trees, never twice for one size with different
	// roots. A signing error stops the store like a write error.
	SignCheckpoint func(size uint64, root [32]byte) ([]byte, error)

	// Observer, when set, is told about every append and commit batch
	// (internal/metrics).
	Observer ledger.Observer

	// syncFile replaces fdatasync in tests (fault injection).
	syncFile func(*os.File) error
	// idFilterMinCap is the smallest id filter built (keys); default
	// 1<<20. Tests set it low to make the filter grow.
	idFilterMinCap uint
	// noIDFilter makes every append look its id up in the index (tests
	// and benchmarks compare the two paths).
	noIDFilter bool
	// idFilterSync scans the index for the id filter in the writer before
	// its first append (tests: the filter is in use from the start).
	idFilterSync bool
}

func (c *Config) fill() {
	if c.SegmentSize <= 0 {
		c.SegmentSize = 64 << 20
	}
	if c.MaxBatchSpans <= 0 {
		c.MaxBatchSpans = 8192
	}
	if c.QueueLen <= 0 {
		c.QueueLen = 1024
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.syncFile == nil {
		c.syncFile = fdatasync
	}
	if c.idFilterMinCap == 0 {
		c.idFilterMinCap = 1 << 20
	}
}

// Store is the embedded ledger store. It implements ledger.Store.
type Store struct {
	cfg Config
	log *slog.Logger
	db  *pebble.DB

	queue *ledger.Queue[*appendReq] // Close closes it: the writer drains and exits
	done  chan struct{}             // closed when the writer has exited

	size atomic.Uint64 // durable, indexed entries

	notifyMu sync.Mutex
	notify   chan struct{} // closed and replaced whenever size grows

	filesMu sync.Mutex
	files   map[uint32]*os.File // read handles, by segment number

	// Owned by the writer goroutine.
	active    *os.File
	activeSeg uint32
	activeOff int64
	next      uint64 // log index of the next entry written
	tree      *compact.Range
	chain     map[string]span.Hash
	recent    *recentTable
	ids       *idFilter     // nil with noIDFilter
	lookups   atomic.Uint64 // index lookups of (id, tenant, seq), for tests
	buf       []byte
	// lastReceived is the received_at of the last entry: batches never
	// stamp an earlier time, so received_at never decreases in log order
	// even when the wall clock steps back.
	lastReceived time.Time

	indexed    atomic.Uint64                     // entries the index covers (set by the indexer)
	checkpoint atomic.Pointer[ledger.Checkpoint] // latest tree head, published with the size
	hashes     *hashCache                        // upper Merkle levels, for proofs
	failed     atomic.Bool                       // set once with writeErr; nothing is written after

	errMu    sync.Mutex
	writeErr error // first write, sync or index error
}

var _ ledger.Store = (*Store)(nil)

type appendReq struct {
	ctx   context.Context
	spans []*span.Span
	out   []ledger.Outcome
	done  chan error
}

// Open opens (creating if needed) the store in cfg.Dir, recovers from a
// crash (cutting a torn tail, replaying the un-indexed tail into the index)
// and starts the writer. Corruption of acknowledged data returns an error
// wrapping ledger.ErrCorrupt (a *CorruptError naming file and offset).
func Open(ctx context.Context, cfg Config) (*Store, error) {
	cfg.fill()
	if cfg.Dir == "" {
		return nil, errors.New("segment: Config.Dir is empty")
	}
	if err := durable.MkdirAll(segmentsDir(cfg.Dir), 0o755); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	s := &Store{
		cfg:    cfg,
		log:    cfg.Logger,
		queue:  ledger.NewQueue[*appendReq](cfg.QueueLen, cfg.Observer),
		done:   make(chan struct{}),
		notify: make(chan struct{}),
		files:  make(map[uint32]*os.File),
		hashes: newHashCache(),
	}
	if err := s.recover(ctx); err != nil {
		s.closeFiles()
		if s.db != nil {
			s.db.Close()
		}
		return nil, err
	}
	if !cfg.noIDFilter {
		s.ids = newIDFilter(s.db, s.log, cfg.idFilterMinCap)
		s.ids.sync = cfg.idFilterSync
	}
	go s.writer()
	return s, nil
}

// recover brings segments and index into agreement; see doc.go.
func (s *Store) recover(ctx context.Context) error {
	start := time.Now()
	segs, err := listSegments(s.cfg.Dir)
	if err != nil {
		return err
	}
	db, err := openIndex(s.cfg.Dir, false, s.cfg.IndexCacheBytes)
	if err != nil {
		return err
	}
	s.db = db
	st, ok, err := readIndexState(db)
	if err != nil {
		return err
	}
	chains := map[string]span.Hash{}
	if ok {
		if chains, err = readChains(db); err != nil {
			return err
		}
	} else if err := s.resetIndex(); err != nil {
		return err
	}
	parseFrom := st.end // zero without an index state: parse everything
	sc, torn, err := s.scan(ctx, segs, parseFrom, chains)
	if err != nil {
		return err
	}
	if ok && sc.size < st.size {
		// The index says more entries were acknowledged than the segments
		// hold: acknowledged data is gone (segments truncated or replaced
		// with an older copy). Refuse rather than silently rebuild;
		// `logline reindex` is the explicit way to accept the segments.
		last := segs[len(segs)-1]
		var end int64
		if fi, err := os.Stat(segmentPath(s.cfg.Dir, last)); err == nil {
			end = fi.Size()
		}
		return &CorruptError{
			File: segmentPath(s.cfg.Dir, last), Offset: end, Index: int64(sc.size),
			Reason: fmt.Sprintf("the segments end after %d entries but %d were acknowledged (the index covers them): entries %d..%d are missing — truncated or replaced segments; run 'logline reindex' only to accept the segments as they are",
				sc.size, st.size, sc.size, st.size-1),
		}
	}
	if len(segs) == 0 {
		segs = []uint32{1}
		f, err := createSegment(s.cfg.Dir, 1)
		if err != nil {
			return err
		}
		s.active = f
	} else {
		last := segs[len(segs)-1]
		f, err := os.OpenFile(segmentPath(s.cfg.Dir, last), os.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("open active segment: %w", err)
		}
		s.active = f
		if torn != nil {
			s.log.Warn("cut torn tail of the last segment (never acknowledged)",
				"file", segmentPath(s.cfg.Dir, torn.seg), "offset", torn.cutAt, "bytes", torn.size-torn.cutAt, "reason", torn.reason)
			if err := truncateSync(f, torn.cutAt); err != nil {
				return err
			}
		}
	}
	s.activeSeg = segs[len(segs)-1]
	off, err := s.active.Seek(0, 2)
	if err != nil {
		return fmt.Errorf("seek active segment: %w", err)
	}
	s.activeOff = off
	s.tree = sc.tree
	s.chain = sc.chain
	s.next = sc.size
	s.recent = newRecentTable()
	s.indexed.Store(sc.size)
	if err := s.setCheckpoint(sc.size, [32]byte(rootOf(sc.tree))); err != nil {
		return err
	}
	s.size.Store(sc.size)
	if sc.size > 0 {
		err := s.Read(ctx, sc.size-1, sc.size, func(e *span.Entry) error {
			s.lastReceived = e.ReceivedAt
			return nil
		})
		if err != nil {
			return fmt.Errorf("read the last entry: %w", err)
		}
	}
	s.log.Info("ledger opened", "dir", s.cfg.Dir, "entries", sc.size, "segments", len(segs),
		"replayed_from", parseFrom.seg, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// scan runs the recovery scanner, indexing every batch past parseFrom.
func (s *Store) scan(ctx context.Context, segs []uint32, parseFrom position, chains map[string]span.Hash) (*scanner, *tornTail, error) {
	sc := newScanner(s.cfg.Dir, parseFrom, chains)
	sc.onBatch = func(b *scannedBatch) error {
		if len(b.entries) == 0 || b.entries[0].entry == nil {
			return nil // below the watermark: already indexed
		}
		return s.indexScanned(b)
	}
	torn, err := sc.scanAll(ctx, segs)
	return sc, torn, err
}

func (s *Store) indexScanned(b *scannedBatch) error {
	entries := make([]indexedEntry, len(b.entries))
	for i, se := range b.entries {
		entries[i] = newIndexedEntry(&se.entry.Span, se.loc, se.leaf)
	}
	batch := s.db.NewBatch()
	defer batch.Close()
	if err := indexBatch(s.db, batch, b.first, entries, b.end, b.first+uint64(len(entries))); err != nil {
		return fmt.Errorf("index replay: %w", err)
	}
	if err := batch.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("index replay: %w", err)
	}
	return nil
}

// resetIndex deletes every key of the index.
func (s *Store) resetIndex() error {
	if err := s.db.DeleteRange([]byte{0}, []byte{0xFF}, pebble.NoSync); err != nil {
		return fmt.Errorf("reset index: %w", err)
	}
	return nil
}

// Size returns the number of durable, readable entries.
func (s *Store) Size() uint64 { return s.size.Load() }

// Ready reports whether the writer accepts appends.
func (s *Store) Ready() error {
	if s.queue.Closed() {
		return ledger.ErrClosed
	}
	s.errMu.Lock()
	defer s.errMu.Unlock()
	if s.writeErr != nil {
		return fmt.Errorf("%w: writer stopped: %v", ledger.ErrClosed, s.writeErr)
	}
	return nil
}

// Wait blocks until Size() > n.
func (s *Store) Wait(ctx context.Context, n uint64) (uint64, error) {
	for {
		s.notifyMu.Lock()
		ch := s.notify
		s.notifyMu.Unlock()
		if sz := s.size.Load(); sz > n {
			return sz, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return s.size.Load(), ctx.Err()
		case <-s.queue.Quit():
			return s.size.Load(), ledger.ErrClosed
		}
	}
}

func (s *Store) publish(size uint64) {
	s.size.Store(size)
	s.notifyMu.Lock()
	close(s.notify)
	s.notify = make(chan struct{})
	s.notifyMu.Unlock()
}

// Append queues spans for the writer and waits until they are durable.
func (s *Store) Append(ctx context.Context, spans []*span.Span) ([]ledger.Outcome, error) {
	if len(spans) == 0 {
		return nil, nil
	}
	req := &appendReq{ctx: ctx, spans: spans, out: make([]ledger.Outcome, len(spans)), done: make(chan error, 1)}
	// A request whose ctx ends before the writer takes it is dropped
	// (ctx.Err()); once taken it is carried out, and waiting for it keeps
	// the answer truthful.
	if err := s.queue.Call(ctx, req, req.out, req.done); err != nil {
		return nil, err
	}
	return req.out, nil
}

// Close stops accepting appends, lets the writer finish what is queued and
// releases files. It returns the writer's first error, if any.
func (s *Store) Close() error {
	if !s.queue.Close() {
		<-s.done
		return nil
	}
	<-s.done

	var err error
	if s.active != nil {
		err = closeAll(err, s.active)
	}
	s.closeFiles()
	if s.db != nil {
		// Flush the memtables (up to 2 × 128 MiB of index writes) so that
		// the next open does not replay them from Pebble's log.
		if !s.failed.Load() {
			if ferr := s.db.Flush(); ferr != nil && err == nil {
				err = fmt.Errorf("flush index: %w", ferr)
			}
		}
		err = closeAll(err, s.db)
	}
	s.errMu.Lock()
	if s.writeErr != nil {
		err = s.writeErr
	}
	s.errMu.Unlock()
	return err
}

func (s *Store) closeFiles() {
	s.filesMu.Lock()
	defer s.filesMu.Unlock()
	for n, f := range s.files {
		f.Close()
		delete(s.files, n)
	}
}

// file returns a read handle for segment n.
func (s *Store) file(n uint32) (*os.File, error) {
	s.filesMu.Lock()
	defer s.filesMu.Unlock()
	if f, ok := s.files[n]; ok {
		return f, nil
	}
	f, err := os.Open(segmentPath(s.cfg.Dir, n))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: segment %s is missing", ledger.ErrCorrupt, segmentName(n))
	}
	if err != nil {
		return nil, fmt.Errorf("open segment: %w", err)
	}
	s.files[n] = f
	return f, nil
}
