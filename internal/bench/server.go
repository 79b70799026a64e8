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
	"github.com/logline/logline/internal/ledger/segment"
	"github.com/logline/logline/internal/receiptlog"
	"github.com/logline/logline/internal/tlog"
)

// localServer is what `logline serve` runs — the segment store in dir, the
// gateway, an HTTP server on 127.0.0.1 — inside this process.
type localServer struct {
	store    *segment.Store
	receipts *receiptlog.Log
	archive  *checkpointlog.Log
	gw       *gateway.Server
	srv      *http.Server
	url      string
	errc     chan error
}

// startLocal opens the store in dir and serves it on a free loopback port.
// maxBody 0 keeps the gateway's default request body limit.
func startLocal(ctx context.Context, dir string, maxBody int64, log *slog.Logger) (*localServer, error) {
	// Like serve: a log key in dir/keys, every durable tree signed and
	// checked against the no-fork guard.
	keysDir := filepath.Join(dir, "keys")
	keys, err := tlog.LoadOrCreateKeys(keysDir, "logline.bench/ledger", nil, nil)
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
	store, err := segment.Open(ctx, segment.Config{Dir: dir, Logger: log, SignCheckpoint: archive.Signing(signer.Sign)})
	if err != nil {
		archive.Close()
		return nil, fmt.Errorf("open store in %s: %w", dir, err)
	}
	receipts, err := receiptlog.Open(receiptlog.Config{Dir: filepath.Join(dir, "receipts"), Format: gateway.ReceiptFormatter(), Logger: log})
	if err != nil {
		store.Close()
		archive.Close()
		return nil, fmt.Errorf("receipts: %w", err)
	}
	closeAll := func() { store.Close(); receipts.Close(); archive.Close() }
	gw, err := gateway.New(gateway.Config{Store: store, Logger: log, Ready: store.Ready, MaxBodyBytes: maxBody, Log: store, LogKeys: keys.VerifierKeys, Receipts: receipts})
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
