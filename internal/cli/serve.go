package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/logline/logline/internal/auth/oidclogin"
	"github.com/logline/logline/internal/dataplane"
	"github.com/logline/logline/internal/durable"
	"github.com/logline/logline/internal/gateway"
	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/ledger/segment"
	"github.com/logline/logline/internal/metrics"
	"github.com/logline/logline/internal/receiptlog"
	"github.com/logline/logline/internal/tenantrates"
	"github.com/logline/logline/internal/tlog"
)

// Defaults of `logline serve`.
const (
	DefaultData = "./data"
	DefaultAddr = "127.0.0.1:8420"

	// keysDirName is the log key directory inside --data.
	keysDirName = "keys"
	// generatedOriginPrefix starts the origin serve invents for a new log
	// when --log-origin is not given.
	generatedOriginPrefix = "logline.local/"
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
	logOrigin       string
	store           string // PostgreSQL URL; "" is the embedded store in data
	noMigrate       bool
	noDerive        bool
	metricsListen   string // serves GET /metrics alone, without a token
	identity        identityOptions
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
closed. A second signal exits at once.

The log signing key lives in DATA/keys/ (created on first start). Every
commit is covered by a checkpoint signed with it (GET /checkpoint); its
public key is served at GET /log/key. --log-origin names the log once:
without it an existing key directory keeps its origin and a new one gets
"logline.local/" plus 12 random hex digits. The origin and key id are
logged at start.

With --store postgres://USER@HOST/DB the ledger lives in PostgreSQL
instead (docs/postgres.md): serve applies the schema migrations first
(unless --no-migrate), takes the log's origin from the database (the
first server records its own), keeps its own log key in DATA/keys and
registers it, so GET /log/key lists every node's key. Several servers may
share one database.`,
		Example: `  logline serve
  logline serve --data /var/lib/logline --addr 0.0.0.0:8420
  logline serve --addr 127.0.0.1:0 --addr-file ./addr
  logline serve --log-origin ledger.example.com/prod`,
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
	f.StringVar(&o.store, "store", "", "PostgreSQL URL (postgres://user@host/db) to keep the ledger in; default: the embedded store in --data")
	f.BoolVar(&o.noMigrate, "no-migrate", false, "with --store: do not apply schema migrations on start (run 'logline migrate')")
	f.BoolVar(&o.noDerive, "no-derive", false, "do not run the data plane (trajectories, scores) on this node: with several PostgreSQL nodes on one database, run it on exactly one")
	f.StringVar(&o.metricsListen, "metrics-listen", "", "also serve GET /metrics (Prometheus) WITHOUT a token on this HOST:PORT: a loopback or private-network IP only (docs/metrics.md)")
	f.StringVar(&o.logOrigin, "log-origin", "", "the log's name (first line of every checkpoint, name of its keys); default: the one in DATA/keys, else logline.local/<random>")
	id := &o.identity
	f.BoolVar(&id.dev, "dev", false, "turn authentication OFF (every request may read and write every tenant); only on a loopback --addr")
	f.StringVar(&id.publicURL, "public-url", "", "the URL clients reach this server at (token endpoint audience, login callback); default: http(s)://ADDR")
	f.StringSliceVar(&id.corsOrigins, "cors-origin", nil, "browser origin allowed to call the API (exact, e.g. https://app.example; repeatable)")
	f.StringVar(&id.oidcIssuer, "oidc-issuer", oidclogin.GoogleIssuer, "OpenID provider for /auth/login")
	f.StringVar(&id.oidcClientID, "oidc-client-id", "", "OAuth client id at the provider; login is off without it")
	f.StringVar(&id.oidcClientSecret, "oidc-client-secret", "", "OAuth client secret (better: env LOGLINE_OIDC_CLIENT_SECRET)")
	f.StringVar(&id.oidcRedirectURL, "oidc-redirect-url", "", "the callback URL exactly as registered at the provider; default: PUBLIC-URL/auth/callback")
	f.StringSliceVar(&id.oidcDomains, "oidc-allowed-domain", nil, "admit only accounts of this Google Workspace domain (hd claim; repeatable)")
	f.StringVar(&id.tlsCert, "tls-cert", "", "serve HTTPS with this certificate (PEM; with --tls-key)")
	f.StringVar(&id.tlsKey, "tls-key", "", "private key of --tls-cert (PEM)")
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
	host, _, err := net.SplitHostPort(o.addr)
	if err != nil {
		return usageErrorf("--addr %q: want HOST:PORT", o.addr)
	}
	if o.identity.dev && !isLoopback(host) {
		return usageErrorf("--dev turns authentication off and is allowed only on a loopback address (--addr 127.0.0.1:PORT), not %q", o.addr)
	}
	if o.metricsListen != "" {
		if err := checkMetricsListen(o.metricsListen); err != nil {
			return err
		}
	}
	if (o.identity.tlsCert == "") != (o.identity.tlsKey == "") {
		return usageErrorf("--tls-cert and --tls-key go together")
	}
	var tlsCert *tls.Certificate
	if o.identity.tlsCert != "" {
		c, err := tls.LoadX509KeyPair(o.identity.tlsCert, o.identity.tlsKey)
		if err != nil {
			return usageErrorf("--tls-cert/--tls-key: %w", err)
		}
		tlsCert = &c
	}
	if o.identity.oidcClientSecret == "" {
		o.identity.oidcClientSecret = os.Getenv("LOGLINE_OIDC_CLIENT_SECRET")
	}
	if o.identity.publicURL != "" {
		u, err := url.Parse(o.identity.publicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return usageErrorf("--public-url %q: want http(s)://HOST[:PORT] without a path", o.identity.publicURL)
		}
		o.identity.publicURL = strings.TrimSuffix(o.identity.publicURL, "/")
	}

	if o.addrFile != "" {
		// A file left by a killed run must not be mistaken for this one.
		if err := os.Remove(o.addrFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return ioErrorf("--addr-file: %w", err)
		}
	}

	reg, err := metrics.New(metrics.Config{Logger: log})
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	led, err := openServeLedger(ctx, o, reg.Ledger(), log)
	if err != nil {
		return err
	}
	keys, store, closeStore := led.keys, led.store, led.close
	if err := reg.RegisterLogSize(store.Size); err != nil {
		_ = closeStore()
		return fmt.Errorf("metrics: %w", err)
	}

	receipts, err := receiptlog.Open(receiptlog.Config{Dir: filepath.Join(o.data, "receipts"), Format: gateway.ReceiptFormatter(), Logger: log})
	if err != nil {
		_ = closeStore()
		return ioErrorf("receipts: %w", err)
	}
	closeLedger := closeStore
	closeStore = func() error {
		err := closeLedger()
		if rerr := receipts.Close(); rerr != nil && err == nil {
			log.Error("closing the receipt copy", "err", rerr)
			err = ioErrorf("close receipts: %w", rerr)
		}
		return err
	}

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		_ = closeStore()
		return ioErrorf("listen on %s: %w", o.addr, err)
	}
	addr := ln.Addr().String()
	baseURL := o.identity.publicURL
	if baseURL == "" {
		scheme := "http"
		if tlsCert != nil {
			scheme = "https"
		}
		baseURL = scheme + "://" + addr
	}
	idn, err := openIdentity(ctx, o.identity, identityDeps{
		data: o.data, origin: keys.Origin(), baseURL: baseURL, store: store,
		receipts: receipts, logKeys: led.logKeys, log: log,
	})
	if err != nil {
		_ = ln.Close()
		_ = closeStore()
		return err
	}
	progs, err := openPrograms(ctx, o.data, idn.tenants, log)
	if err != nil {
		_ = ln.Close()
		_ = closeStore()
		return err
	}
	idn.loops = append(idn.loops, progs.Run)
	// The gateway appends through the data plane's backpressure
	// (derived_events_perf); the data plane and the server's own writers
	// append to the store itself.
	var ingestStore ledger.Store = store
	var quality func(string) (map[string]float64, bool)
	// Each tenant's requests of the last five minutes, counted by the
	// gateway, read by metric() alarms and GET /metrics/public.
	requests := tenantrates.New(tenantrates.Config{})
	if !o.noDerive {
		dp, err := openDataPlane(o.data, store, progs, idn.tenants, requests, idn.usage, log)
		if err == nil {
			err = reg.RegisterDataPlane(dataPlaneFigures(dp))
		}
		if err != nil {
			_ = ln.Close()
			_ = closeStore()
			return err
		}
		idn.loops = append(idn.loops, dp.Run)
		ingestStore = dataplane.Admitting(store, dp)
		quality = publicQuality(dp)
	}
	gw, err := gateway.New(gateway.Config{
		Store:       ingestStore,
		Logger:      log,
		Ready:       store.Ready,
		Log:         store,
		LogKeys:     led.logKeys,
		Receipts:    receipts,
		Exports:     &gateway.Exports{Dir: filepath.Join(o.data, exportsDirName), Origin: keys.Origin(), Signer: keys.Signer},
		Access:      idn.access,
		Dev:         idn.access == nil,
		CORSOrigins: o.identity.corsOrigins,
		Usage:       idn.usage,
		Validate:    validateWith(progs),
		OpenAPI:     newOpenAPIDocs(a.version, baseURL, progs).document,
		Metrics:     reg,
		Quality:     quality,
		Requests:    requests,

		// POST /quality/dryrun: the tenant's program, trajectories on.
		DataPlanePolicy: dryRunPolicy(progs, tenantFeatures(idn.tenants)),
	})
	if err != nil {
		_ = ln.Close()
		_ = closeStore()
		return fmt.Errorf("gateway: %w", err)
	}
	if o.addrFile != "" {
		if err := durable.WriteFile(o.addrFile, []byte(addr+"\n"), 0o644); err != nil {
			_ = ln.Close()
			_ = closeStore()
			return ioErrorf("--addr-file: %w", err)
		}
		defer os.Remove(o.addrFile)
	}
	loopCtx, stopLoops := context.WithCancel(context.WithoutCancel(ctx))
	var loops sync.WaitGroup
	for _, loop := range idn.loops {
		loops.Go(func() {
			if err := loop(loopCtx); err != nil && !errors.Is(err, context.Canceled) {
				log.Error("background loop stopped", "err", err)
			}
		})
	}
	// The loops append auth events: they stop before the store closes.
	stopBackground := func() { stopLoops(); loops.Wait() }
	defer stopBackground()
	if o.identity.dev {
		log.Warn("AUTHENTICATION IS OFF (--dev): anyone who can reach " + addr + " may read and write every tenant")
	}

	var metricsSrv *http.Server
	if o.metricsListen != "" {
		mln, err := net.Listen("tcp", o.metricsListen)
		if err != nil {
			stopBackground()
			_ = ln.Close()
			_ = closeStore()
			return ioErrorf("--metrics-listen %s: %w", o.metricsListen, err)
		}
		metricsSrv = newMetricsServer(reg, log)
		go func() {
			if err := metricsSrv.Serve(mln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("metrics listener stopped", "err", err)
			}
		}()
		maddr := mln.Addr().String()
		log.Info("serving GET /metrics without a token on http://"+maddr+"/metrics", "metrics_addr", maddr)
	}

	srv := &http.Server{
		Handler:           gw.Handler(),
		TLSConfig:         serverTLS(tlsCert),
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	if tlsCert != nil {
		go func() { serveErr <- srv.ServeTLS(ln, "", "") }()
	} else {
		go func() { serveErr <- srv.Serve(ln) }()
	}
	log.Info("listening on "+baseURL, "addr", addr, "data", o.data, "auth", !o.identity.dev)

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
	if metricsSrv != nil {
		if err := metricsSrv.Shutdown(shCtx); err != nil {
			_ = metricsSrv.Close()
		}
	}
	wg.Wait()
	stopBackground()
	if err := closeStore(); err != nil && runErr == nil {
		runErr = err
	}
	if runErr == nil {
		log.Info("stopped", "entries", store.Size())
	}
	return runErr
}

// serverTLS is serve's TLS configuration (nil without a certificate):
// TLS 1.2 at least, Go's default cipher suites.
func serverTLS(c *tls.Certificate) *tls.Config {
	if c == nil {
		return nil
	}
	return &tls.Config{Certificates: []tls.Certificate{*c}, MinVersion: tls.VersionTLS12}
}

// openLogKeys opens (creating on first use) the log key directory dir and
// the guard kept in it. The origin is origin when set; else the one dir
// already records; else a new one, generatedOriginPrefix plus 12 hex
// digits from rnd, which keys.json then keeps for every later start.
func openLogKeys(dir, origin string, rnd io.Reader) (*tlog.Keyring, *tlog.Guard, error) {
	if origin == "" {
		existing, err := tlog.KeysOrigin(dir)
		switch {
		case err == nil:
			origin = existing
		case errors.Is(err, fs.ErrNotExist):
			if origin, err = generateOrigin(rnd); err != nil {
				return nil, nil, err
			}
		case errors.Is(err, tlog.ErrCorruptKeys):
			return nil, nil, failErrorf("refusing to start: %w", err)
		default:
			return nil, nil, ioErrorf("%w", err)
		}
	}
	keys, err := tlog.LoadOrCreateKeys(dir, origin, nil, nil)
	switch {
	case err == nil:
	case errors.Is(err, tlog.ErrMalformed):
		return nil, nil, usageErrorf("--log-origin %q: %w", origin, err)
	case errors.Is(err, tlog.ErrWrongOrigin):
		return nil, nil, usageErrorf("--log-origin %q: %w\n  a log's origin is chosen once; omit --log-origin to keep the recorded one", origin, err)
	case errors.Is(err, tlog.ErrCorruptKeys):
		return nil, nil, failErrorf("refusing to start: %w", err)
	default:
		return nil, nil, ioErrorf("%w", err)
	}
	guard, err := tlog.OpenGuard(dir, origin)
	switch {
	case err == nil:
		return keys, guard, nil
	case errors.Is(err, tlog.ErrCorruptKeys), errors.Is(err, tlog.ErrWrongOrigin):
		return nil, nil, failErrorf("refusing to start: %w", err)
	default:
		return nil, nil, ioErrorf("%w", err)
	}
}

// checkpointsDirName is the checkpoint archive under the data directory.
const checkpointsDirName = "checkpoints"

// exportsDirName holds the bundles of POST /exports under the data
// directory.
const exportsDirName = "exports"

// ledgerHandle is the embedded store of a data directory opened the way
// serve opens it.
type ledgerHandle struct {
	keys  *tlog.Keyring
	store servedStore
	// logKeys lists the verifier keys for GET /log/key.
	logKeys func() []string
	// close closes the store, records the last tree signed (so the next
	// start checks against it) and closes the checkpoint archive.
	close func() error
}

// openLedger opens the log keys of data (creating them on first use,
// named origin or as recorded), the no-fork guard, the checkpoint archive
// and the store, whose checkpoints it signs through the guard, and logs
// the key and the store's size. obs, when not nil, is told about every
// append (metrics). Errors carry serve's exit codes.
func openLedger(ctx context.Context, data, origin string, indexCacheBytes int64, obs ledger.Observer, log *slog.Logger) (*ledgerHandle, error) {
	keys, signer, archive, err := openSigning(data, origin, log)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	store, err := segment.Open(ctx, segment.Config{
		Dir:             data,
		Logger:          log,
		IndexCacheBytes: indexCacheBytes,
		SignCheckpoint:  archive.Signing(signer.Sign),
		Observer:        obs,
	})
	if err != nil {
		_ = archive.Close()
		if errors.Is(err, ledger.ErrCorrupt) {
			log.Error("refusing to start: the ledger is corrupt", "data", data, "err", err)
			return nil, failErrorf("refusing to start: %v\n  acknowledged data failed verification; run 'logline verify --data %s' for a full report", err, data)
		}
		if errors.Is(err, tlog.ErrRollback) || errors.Is(err, tlog.ErrConflict) {
			log.Error("refusing to start: the ledger contradicts a checkpoint already signed", "data", data, "err", err)
			return nil, failErrorf("refusing to start: %v\n  the ledger in %s is not the history this log signed (lost or replaced segments?); signing it would fork the log", err, data)
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, ioErrorf("open ledger in %s: %w", data, err)
	}
	log.Info("ledger open", "data", data, "entries", store.Size(), "took", time.Since(start).Round(time.Millisecond).String())
	closeStore := closeSignedStore(store, signer, archive, log)
	return &ledgerHandle{keys: keys, store: store, close: closeStore, logKeys: keys.VerifierKeys}, nil
}
