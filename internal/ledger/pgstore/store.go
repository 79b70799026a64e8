package pgstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/span"
)

// AppRole is the application role every ledger transaction runs as.
const AppRole = "logline_app"

// Config configures a Store. The zero value plus URL works.
type Config struct {
	// URL is the PostgreSQL connection string (postgres://…). Its user is
	// the application role itself, a login role that is a member of it,
	// or an administrator (superuser or member): every transaction does
	// SET LOCAL ROLE logline_app.
	URL string
	// Node names this server in ledger.log_keys and in app.user_id
	// ("system:<node>"); default "<hostname>/<pid>".
	Node string

	MaxBatchSpans int           // most spans one commit transaction holds; default 4096
	QueueLen      int           // append requests waiting for the writer; default 1024
	MaxConns      int32         // read connections; default 8
	CommitTimeout time.Duration // bound on one commit transaction; default 1 minute
	// PollInterval is how often the node reads the log size when no
	// notification arrived (a safety net under LISTEN); default 2s.
	PollInterval time.Duration

	Logger *slog.Logger
	Now    func() time.Time // received_at clock; default time.Now

	// SignCheckpoint, when set, signs tree heads: every size this node
	// publishes, after the COMMIT that made it durable (its own batches
	// and, through notifications, other nodes'). Sizes are signed in
	// increasing order and a size's root is fixed by the checkpoints
	// table, so one size is never signed with two roots. A signing error
	// stops the store.
	SignCheckpoint func(size uint64, root [32]byte) ([]byte, error)
	// VerifierKeys are this node's checkpoint verifier keys
	// ("origin+id+base64"), registered in ledger.log_keys on open so that
	// every node's GET /log/key lists them. Each must be named after the
	// origin recorded in the database (ClaimOrigin).
	VerifierKeys []string
	// Observer, when set, is told about every append and commit batch
	// (internal/metrics).
	Observer ledger.Observer
}

func (c *Config) fill() {
	if c.Node == "" {
		host, _ := os.Hostname()
		c.Node = host + "/" + strconv.Itoa(os.Getpid())
	}
	if c.MaxBatchSpans <= 0 {
		c.MaxBatchSpans = 4096
	}
	if c.QueueLen <= 0 {
		c.QueueLen = 1024
	}
	if c.MaxConns <= 0 {
		c.MaxConns = 8
	}
	if c.CommitTimeout <= 0 {
		c.CommitTimeout = time.Minute
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 2 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Store is the PostgreSQL ledger store. It implements ledger.Store and
// ledger.Prover; several Stores (nodes) may share one database.
type Store struct {
	cfg  Config
	log  *slog.Logger
	pool *pgxpool.Pool
	user string // app.user_id of this node's transactions

	queue *ledger.Queue[*appendReq] // Close closes it: the writer drains and exits
	done  chan struct{}             // closed when the writer has exited

	stopListen context.CancelFunc
	listenDone chan struct{}

	pubMu      sync.Mutex // serializes publish: signing in size order
	size       atomic.Uint64
	checkpoint atomic.Pointer[ledger.Checkpoint]
	notifyMu   sync.Mutex
	notify     chan struct{} // closed and replaced whenever size grows

	hashes *hashCache // stored Merkle hashes (immutable once committed)

	// Owned by the writer goroutine and the flight it hands each to
	// (writer.go).
	wslots    [2]writerSlot
	committed logState    // the state this node's last commit left (or found on open); flights in log order
	speculate atomic.Bool // build flights before the commit lock (see writer.go)

	notesMu sync.Mutex          // guards notes
	notes   []ledger.Checkpoint // this node's signed notes, to record in ledger.checkpoints

	failed atomic.Bool
	errMu  sync.Mutex
	err    error // why the store stopped (a signing failure)
}

var (
	_ ledger.Store  = (*Store)(nil)
	_ ledger.Prover = (*Store)(nil)
)

type appendReq struct {
	ctx   context.Context
	spans []*span.Span
	cols  [][]byte // each span's spanColumns, binary COPY fields (copy.go)
	out   []ledger.Outcome
	done  chan error
}

// Open connects to the database (which must be migrated: Migrate),
// registers the node's verifier keys, signs the current tree head and
// starts the writer and the listener.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	cfg.fill()
	if cfg.URL == "" {
		return nil, errors.New("pgstore: Config.URL is empty")
	}
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("postgres URL: %w", err)
	}
	pc.MaxConns = cfg.MaxConns
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	s := &Store{
		cfg:        cfg,
		log:        cfg.Logger,
		pool:       pool,
		user:       "system:" + cfg.Node,
		queue:      ledger.NewQueue[*appendReq](cfg.QueueLen, cfg.Observer),
		done:       make(chan struct{}),
		listenDone: make(chan struct{}),
		notify:     make(chan struct{}),
		hashes:     newHashCache(),
	}
	if err := s.open(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	lctx, cancel := context.WithCancel(context.Background())
	s.stopListen = cancel
	go s.listen(lctx)
	go s.writer()
	return s, nil
}

func (s *Store) open(ctx context.Context) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("connect to postgres: %w", err)
	}
	err = checkSchema(ctx, conn.Conn())
	conn.Release()
	if err != nil {
		return err
	}
	var st logState
	err = s.inTx(ctx, systemScope, false, func(tx pgx.Tx) error {
		var err error
		if st, err = readState(ctx, tx); err != nil {
			return err
		}
		return registerKeys(ctx, tx, st.origin, s.cfg.Node, s.cfg.VerifierKeys)
	})
	if err != nil {
		return err
	}
	if err := s.publish(st.size, st.root); err != nil {
		return err
	}
	s.committed = st
	s.speculate.Store(true)
	s.log.Info("ledger opened", "store", "postgres", "entries", st.size, "node", s.cfg.Node)
	return nil
}

// scope says which rows a transaction may see: one tenant's, or (system)
// every tenant's.
type scope struct {
	system bool
	tenant string
}

var systemScope = scope{system: true}

func tenantScope(t string) scope { return scope{tenant: t} }

// setupSQL opens every transaction: the application role and the session
// identity, all transaction-local (SET LOCAL), so nothing survives on a
// pooled connection.
const setupSQL = `SELECT set_config('role', '` + AppRole + `', true),
	set_config('app.scope', $1, true), set_config('app.tenant_id', $2, true), set_config('app.user_id', $3, true)`

func (s *Store) setupArgs(sc scope) []any {
	sys := ""
	if sc.system {
		sys = "system"
	}
	return []any{sys, sc.tenant, s.user}
}

// inTx runs fn in a transaction of the read pool, in scope sc.
func (s *Store) inTx(ctx context.Context, sc scope, readOnly bool, fn func(pgx.Tx) error) error {
	if s.isClosed() {
		return ledger.ErrClosed
	}
	opts := pgx.TxOptions{}
	if readOnly {
		opts.AccessMode = pgx.ReadOnly
	}
	return pgx.BeginTxFunc(ctx, s.pool, opts, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, setupSQL, s.setupArgs(sc)...); err != nil {
			return fmt.Errorf("postgres session setup: %w", err)
		}
		return fn(tx)
	})
}

func (s *Store) isClosed() bool { return s.queue.Closed() }

// logState is the ledger.log_state row.
type logState struct {
	size       uint64
	root       [32]byte
	origin     string
	receivedAt time.Time
}

func readState(ctx context.Context, tx pgx.Tx) (logState, error) {
	return scanState(tx.QueryRow(ctx, stateSQL))
}

// Size returns the number of entries this node has published: its own
// commits and those of other nodes it has been notified of.
func (s *Store) Size() uint64 { return s.size.Load() }

// Checkpoint returns the latest tree head this node published.
func (s *Store) Checkpoint() ledger.Checkpoint {
	if c := s.checkpoint.Load(); c != nil {
		return *c
	}
	return ledger.Checkpoint{Root: emptyRoot}
}

// publish makes a committed tree head visible: signs it (when configured)
// and advances Size, waking waiters. Older or equal sizes are ignored, so
// signatures go out in increasing size order.
func (s *Store) publish(size uint64, root [32]byte) error {
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	if cur := s.checkpoint.Load(); cur != nil && size <= cur.Size {
		return nil
	}
	c := &ledger.Checkpoint{Size: size, Root: root}
	if s.cfg.SignCheckpoint != nil {
		note, err := s.cfg.SignCheckpoint(size, root)
		if err != nil {
			err = fmt.Errorf("sign checkpoint of size %d: %w", size, err)
			s.fail(err)
			return err
		}
		c.Note = note
	}
	s.checkpoint.Store(c)
	s.size.Store(size)
	s.notifyMu.Lock()
	close(s.notify)
	s.notify = make(chan struct{})
	s.notifyMu.Unlock()
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

// Ready reports whether the store accepts appends.
func (s *Store) Ready() error {
	if s.isClosed() {
		return ledger.ErrClosed
	}
	if s.failed.Load() {
		return s.stoppedErr()
	}
	return nil
}

// fail stops the store for good (a signing failure: the guard refused a
// tree head, which means the database contradicts what this node signed).
func (s *Store) fail(err error) {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	if s.err != nil {
		return
	}
	s.err = err
	s.failed.Store(true)
	s.log.Error("ledger stopped", "err", err)
}

func (s *Store) stoppedErr() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return fmt.Errorf("%w: stopped after: %v", ledger.ErrClosed, s.err)
}

// Append queues spans for the writer and waits until they are committed.
func (s *Store) Append(ctx context.Context, spans []*span.Span) ([]ledger.Outcome, error) {
	if len(spans) == 0 {
		return nil, nil
	}
	// The columns of each span are encoded here, in the caller's
	// goroutine, so that the writer only adds what depends on the log.
	cols := make([][]byte, len(spans))
	for i, sp := range spans {
		var err error
		if cols[i], err = spanFields(sp); err != nil {
			return nil, err
		}
	}
	req := &appendReq{ctx: ctx, spans: spans, cols: cols, out: make([]ledger.Outcome, len(spans)), done: make(chan error, 1)}
	// Once taken by the writer a request is carried out; waiting keeps
	// the answer truthful.
	if err := s.queue.Call(ctx, req, req.out, req.done); err != nil {
		return nil, err
	}
	return req.out, nil
}

// Close stops accepting appends, commits what is queued, records the last
// signed note and closes the connections. It returns why the store
// stopped, if it did.
func (s *Store) Close() error {
	if !s.queue.Close() {
		<-s.done
		<-s.listenDone
		return nil
	}
	<-s.done
	s.stopListen()
	<-s.listenDone
	s.pool.Close()
	if s.failed.Load() {
		return s.stoppedErr()
	}
	return nil
}

// connect opens one connection (migrations, the writer, the listener).
func connect(ctx context.Context, url string) (*pgx.Conn, error) {
	cc, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres URL: %w", err)
	}
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return nil, fmt.Errorf("connect to postgres %s:%d: %w", cc.Host, cc.Port, err)
	}
	return conn, nil
}
