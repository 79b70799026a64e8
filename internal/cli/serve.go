package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/logline/logline/internal/durable"
	"github.com/logline/logline/internal/gateway"
	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/ledger/segment"
)

// Defaults of `logline serve`.
const (
	DefaultData = "./data"
	DefaultAddr = "127.0.0.1:8420"
)

// HTTP server limits. There is deliberately no ReadTimeout and no
// WriteTimeout: an NDJSON ingest body and a followed stream may last for
// hours; the gateway bounds each streamed chunk with its own write
// deadline instead.
const (
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 64 << 10
)

type serveOptions struct {
	data            string
	addr            string
	addrFile        string
	shutdownTimeout time.Duration
	indexCacheMB    int
}

func (a *app) newServe() *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the LogLine server on the embedded store",
		Long: `Run the LogLine HTTP server (docs/http-api.md) on the embedded store in
--data (created if missing).

On start the store recovers from a crash: a torn last line is cut, the
un-indexed tail is replayed into the index. Corruption of acknowledged
data stops the start with the file and byte offset named (exit 1).

Once listening, serve logs "listening on http://HOST:PORT" (the real port
also with --addr 127.0.0.1:0) and, with --addr-file, writes HOST:PORT to
that file. SIGINT or SIGTERM stops it gracefully: no new connections,
in-flight requests drain (at most --shutdown-timeout), then the store is
closed. A second signal exits at once.`,
		Example: `  logline serve
  logline serve --data /var/lib/logline --addr 0.0.0.0:8420
  logline serve --addr 127.0.0.1:0 --addr-file ./addr`,
		Args: noArgs,
		RunE: run(func(cmd *cobra.Command, _ []string) error {
			return a.serve(cmd.Context(), o)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&o.data, "data", DefaultData, "data directory of the embedded store")
	f.StringVar(&o.addr, "addr", DefaultAddr, "HOST:PORT to listen on (port 0 picks a free port)")
	f.StringVar(&o.addrFile, "addr-file", "", "write the address actually listened on (HOST:PORT) to this file")
	_ = cmd.MarkFlagDirname("data")
	f.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long a graceful shutdown waits for in-flight requests")
	f.IntVar(&o.indexCacheMB, "index-cache-mb", segment.DefaultIndexCacheBytes>>20, "block cache of the index in MiB (every append looks up its id there)")
	return cmd
}

func (a *app) serve(ctx context.Context, o serveOptions) error {
	log, err := a.logger()
	if err != nil {
		return err
	}
	if o.shutdownTimeout <= 0 {
		return usageErrorf("--shutdown-timeout must be positive")
	}
	if o.indexCacheMB < 8 {
		return usageErrorf("--index-cache-mb must be at least 8")
	}
	if _, _, err := net.SplitHostPort(o.addr); err != nil {
		return usageErrorf("--addr %q: want HOST:PORT", o.addr)
	}

	if o.addrFile != "" {
		// A file left by a killed run must not be mistaken for this one.
		if err := os.Remove(o.addrFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return ioErrorf("--addr-file: %w", err)
		}
	}

	start := time.Now()
	store, err := segment.Open(ctx, segment.Config{Dir: o.data, Logger: log, IndexCacheBytes: int64(o.indexCacheMB) << 20})
	if err != nil {
		if errors.Is(err, ledger.ErrCorrupt) {
			log.Error("refusing to start: the ledger is corrupt", "data", o.data, "err", err)
			return failErrorf("refusing to start: %v\n  acknowledged data failed verification; run 'logline verify --data %s' for a full report", err, o.data)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return ioErrorf("open ledger in %s: %w", o.data, err)
	}
	log.Info("ledger open", "data", o.data, "entries", store.Size(), "took", time.Since(start).Round(time.Millisecond).String())
	closeStore := func() error {
		if err := store.Close(); err != nil {
			log.Error("closing the ledger", "err", err)
			return ioErrorf("close ledger: %w", err)
		}
		return nil
	}

	gw, err := gateway.New(gateway.Config{Store: store, Logger: log, Ready: store.Ready})
	if err != nil {
		_ = closeStore()
		return fmt.Errorf("gateway: %w", err)
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		_ = closeStore()
		return ioErrorf("listen on %s: %w", o.addr, err)
	}
	addr := ln.Addr().String()
	if o.addrFile != "" {
		if err := durable.WriteFile(o.addrFile, []byte(addr+"\n"), 0o644); err != nil {
			_ = ln.Close()
			_ = closeStore()
			return ioErrorf("--addr-file: %w", err)
		}
		defer os.Remove(o.addrFile)
	}

	srv := &http.Server{
		Handler:           gw.Handler(),
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("listening on http://"+addr, "addr", addr, "data", o.data)

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down: draining in-flight requests", "timeout", o.shutdownTimeout.String())
	case err := <-serveErr:
		log.Error("http server stopped", "err", err)
		runErr = ioErrorf("serve: %w", err)
	}

	shCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.shutdownTimeout)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() {
		// Ends followed streams and NDJSON ingests at a clean boundary;
		// http.Server.Shutdown alone would wait for them forever.
		if err := gw.Shutdown(shCtx); err != nil {
			log.Warn("gateway did not wind down in time", "err", err)
		}
	})
	if err := srv.Shutdown(shCtx); err != nil {
		log.Warn("in-flight requests did not finish in time; closing their connections", "err", err)
		_ = srv.Close()
	}
	wg.Wait()
	if err := closeStore(); err != nil && runErr == nil {
		runErr = err
	}
	if runErr == nil {
		log.Info("stopped", "entries", store.Size())
	}
	return runErr
}
