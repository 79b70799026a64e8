package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/logline/logline/internal/checkpointlog"
	"github.com/logline/logline/internal/gateway"
	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/ledger/pgstore"
	"github.com/logline/logline/internal/ledger/segment"
	"github.com/logline/logline/internal/receiptlog"
	"github.com/logline/logline/internal/tlog"
)

// localServer is what `logline serve` runs — a store (the embedded one
// in a data directory, or PostgreSQL), the gateway, an HTTP server on
// 127.0.0.1 — inside this process.
type localServer struct {
	store    servedStore
	receipts *receiptlog.Log
	archive  *checkpointlog.Log
	gw       *gateway.Server
	srv      *http.Server
	url      string
	errc     chan error
}

// servedStore is what the gateway serves.
type servedStore interface {
	ledger.Store
	ledger.Prover
	Ready() error
}

// benchLogOrigin names the bench servers' log.
const benchLogOrigin = "logline.bench/ledger"

// startLocal opens the embedded store in dir and serves it on a free
// loopback port. maxBody 0 keeps the gateway's default request body
// limit.
func startLocal(ctx context.Context, dir string, maxBody int64, log *slog.Logger) (*localServer, error) {
	return startLocalWith(ctx, dir, serverOptions{maxBody: maxBody}, log)
}

// serverOptions are what may differ between the bench's servers.
type serverOptions struct {
	// maxBody is the request body limit (0: the gateway's default).
	maxBody int64
	// access, when set, turns authentication on (as serve without --dev):
	// it builds the gateway's Access once the store is open. nil runs the
	// server as --dev.
	access func(ledger.Store) (*gateway.Access, error)
	// validate, when set, runs the tenants' validators before every
	// append (as serve wires its tenant programs); nil runs none.
	validate gateway.ValidateFunc
	// ingest, when set, gives the store the gateway appends to, once the
	// store is open (serve's dataplane.Admitting over it); nil: the store.
	ingest func(ledger.Store) (ledger.Store, error)
}

// startLocalWith is startLocal with every option.
func startLocalWith(ctx context.Context, dir string, o serverOptions, log *slog.Logger) (*localServer, error) {
	return startServer(dir, benchLogOrigin, o, log, func(sign func(uint64, [32]byte) ([]byte, error), _ []string) (servedStore, func() []string, error) {
		st, err := segment.Open(ctx, segment.Config{Dir: dir, Logger: log, SignCheckpoint: sign})
		if err != nil {
			return nil, nil, fmt.Errorf("open store in %s: %w", dir, err)
		}
		return st, nil, nil
	})
}

// startLocalPG is `logline serve --store url --data dir` in this process:
// the schema migrated, the log's origin taken from the database (the
// first node records it), this node's log key in dir registered, so that
// GET /log/key lists every node's.
func startLocalPG(ctx context.Context, dir, url, node string, log *slog.Logger) (*localServer, error) {
	if _, err := pgstore.Migrate(ctx, url, log); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	origin, err := pgstore.ClaimOrigin(ctx, url, benchLogOrigin)
	if err != nil {
		return nil, err
	}
	return startServer(dir, origin, serverOptions{}, log, func(sign func(uint64, [32]byte) ([]byte, error), verifiers []string) (servedStore, func() []string, error) {
		st, err := pgstore.Open(ctx, pgstore.Config{URL: url, Node: node, Logger: log, SignCheckpoint: sign, VerifierKeys: verifiers})
		if err != nil {
			return nil, nil, fmt.Errorf("open the ledger in PostgreSQL: %w", err)
		}
		logKeys := func() []string {
			lctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if ks, err := st.LogKeys(lctx); err == nil {
				return ks
			}
			return verifiers
		}
		return st, logKeys, nil
	})
}

// storeOpener opens the store a server serves, signing every durable tree
// with sign; verifiers are the server's checkpoint keys. It returns the
// keys GET /log/key lists (nil: verifiers).
type storeOpener func(sign func(uint64, [32]byte) ([]byte, error), verifiers []string) (servedStore, func() []string, error)

// startServer is what serve does around the store: a log key in
// dir/keys named origin, every durable tree signed through the no-fork
// guard and archived, receipts kept, the gateway on a free loopback port
// with serve's HTTP limits; authentication as o says.
func startServer(dir, origin string, o serverOptions, log *slog.Logger, open storeOpener) (*localServer, error) {
	keysDir := filepath.Join(dir, "keys")
	keys, err := tlog.LoadOrCreateKeys(keysDir, origin, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("log keys: %w", err)
	}
	guard, err := tlog.OpenGuard(keysDir, keys.Origin())
	if err != nil {
		return nil, fmt.Errorf("log guard: %w", err)
	}
	signer := tlog.NewGuardedSigner(keys, guard, time.Second, time.Now)
	archive, err := checkpointlog.Open(checkpointlog.Config{Dir: filepath.Join(dir, "checkpoints"), Logger: log})
	if err != nil {
		return nil, err
	}
	store, logKeys, err := open(archive.Signing(signer.Sign), keys.VerifierKeys())
	if err != nil {
		archive.Close()
		return nil, err
	}
	if logKeys == nil {
		logKeys = keys.VerifierKeys
	}
	receipts, err := receiptlog.Open(receiptlog.Config{Dir: filepath.Join(dir, "receipts"), Format: gateway.ReceiptFormatter(), Logger: log})
	if err != nil {
		store.Close()
		archive.Close()
		return nil, fmt.Errorf("receipts: %w", err)
	}
	closeAll := func() { store.Close(); receipts.Close(); archive.Close() }
	var access *gateway.Access
	if o.access != nil {
		if access, err = o.access(store); err != nil {
			closeAll()
			return nil, fmt.Errorf("access: %w", err)
		}
	}
	var ingest ledger.Store = store
	if o.ingest != nil {
		if ingest, err = o.ingest(store); err != nil {
			closeAll()
			return nil, fmt.Errorf("ingest store: %w", err)
		}
	}
	gw, err := gateway.New(gateway.Config{Store: ingest, Dev: access == nil, Access: access, Logger: log, Ready: store.Ready, MaxBodyBytes: o.maxBody, Log: store, LogKeys: logKeys, Receipts: receipts, Validate: o.validate})
	if err != nil {
		closeAll()
		return nil, fmt.Errorf("gateway: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		closeAll()
		return nil, fmt.Errorf("listen: %w", err)
	}
	// The same limits as `logline serve`.
	srv := &http.Server{
		Handler:           gw.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	l := &localServer{store: store, receipts: receipts, archive: archive, gw: gw, srv: srv, url: "http://" + ln.Addr().String(), errc: make(chan error, 1)}
	go func() { l.errc <- srv.Serve(ln) }()
	return l, nil
}

// Close shuts the server down gracefully and closes the store.
func (l *localServer) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	gwErr := l.gw.Shutdown(ctx)
	if err := l.srv.Shutdown(ctx); err != nil {
		_ = l.srv.Close()
	}
	serveErr := <-l.errc
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}
	return errors.Join(gwErr, serveErr, l.store.Close(), l.receipts.Close(), l.archive.Close())
}

// newHTTPClient is a client that keeps enough idle connections for the
// highest concurrency level and never goes through a proxy.
func newHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        512,
		MaxIdleConnsPerHost: 512,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}}
}
