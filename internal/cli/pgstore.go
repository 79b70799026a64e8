package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/logline/logline/internal/checkpointlog"
	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/ledger/pgstore"
	"github.com/logline/logline/internal/tlog"
)

// servedStore is what serve runs on: the embedded store or PostgreSQL.
type servedStore interface {
	ledger.Store
	ledger.Prover
	Ready() error
}

// openServeLedger opens the store serve was asked for: the embedded one
// in --data, or PostgreSQL with --store (the log key, receipts and the
// checkpoint archive stay in --data either way).
func openServeLedger(ctx context.Context, o serveOptions, obs ledger.Observer, log *slog.Logger) (*ledgerHandle, error) {
	if o.store == "" {
		return openLedger(ctx, o.data, o.logOrigin, int64(o.indexCacheMB)<<20, obs, log)
	}
	return openPGLedger(ctx, o, obs, log)
}

// checkStoreURL accepts a postgres:// or postgresql:// URL.
func checkStoreURL(u string) error {
	if !strings.HasPrefix(u, "postgres://") && !strings.HasPrefix(u, "postgresql://") {
		return usageErrorf("--store %q: want a postgres:// URL (without --store, the embedded store in --data is used)", redactURL(u))
	}
	return nil
}

// redactURL hides the password of a connection URL for messages and logs.
func redactURL(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	userinfo, host, ok := strings.Cut(rest, "@")
	if !ok {
		return u
	}
	if user, _, hasPw := strings.Cut(userinfo, ":"); hasPw {
		return scheme + "://" + user + ":xxxxx@" + host
	}
	return u
}

// openPGLedger migrates (unless --no-migrate), settles the log's origin
// (the one the database records; the first server records its own),
// opens this node's log key in --data/keys and the store, which registers
// the key so every node's GET /log/key lists it.
func openPGLedger(ctx context.Context, o serveOptions, obs ledger.Observer, log *slog.Logger) (*ledgerHandle, error) {
	if err := checkStoreURL(o.store); err != nil {
		return nil, err
	}
	if !o.noMigrate {
		if _, err := pgstore.Migrate(ctx, o.store, log); err != nil {
			return nil, pgError("migrate", o.store, err)
		}
	}
	keysDir := filepath.Join(o.data, keysDirName)
	origin, err := pgstore.ClaimOrigin(ctx, o.store, "")
	if err != nil {
		return nil, pgError("read the log origin", o.store, err)
	}
	if origin == "" {
		want := o.logOrigin
		if want == "" {
			if want, err = tlog.KeysOrigin(keysDir); errors.Is(err, fs.ErrNotExist) {
				want, err = generateOrigin(rand.Reader)
			}
			if err != nil {
				return nil, failErrorf("%w", err)
			}
		}
		if origin, err = pgstore.ClaimOrigin(ctx, o.store, want); err != nil {
			return nil, pgError("record the log origin", o.store, err)
		}
	}
	if o.logOrigin != "" && o.logOrigin != origin {
		return nil, usageErrorf("--log-origin %q: the database records the origin %q; a log's origin is chosen once (omit --log-origin)", o.logOrigin, origin)
	}
	keys, signer, archive, err := openSigning(o.data, origin, log)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	store, err := pgstore.Open(ctx, pgstore.Config{
		URL:            o.store,
		Logger:         log,
		SignCheckpoint: archive.Signing(signer.Sign),
		VerifierKeys:   keys.VerifierKeys(),
		Observer:       obs,
	})
	if err != nil {
		_ = archive.Close()
		if errors.Is(err, tlog.ErrRollback) || errors.Is(err, tlog.ErrConflict) {
			log.Error("refusing to start: the database contradicts a checkpoint this node signed", "err", err)
			return nil, failErrorf("refusing to start: %v\n  the ledger in the database is not the history this log signed (restored from an older backup?); signing it would fork the log", err)
		}
		return nil, pgError("open the ledger", o.store, err)
	}
	log.Info("ledger open", "store", redactURL(o.store), "entries", store.Size(), "took", time.Since(start).Round(time.Millisecond).String())
	closeStore := closeSignedStore(store, signer, archive, log)
	logKeys := func() []string {
		// Every node's key, so checkpoints from any node verify. The
		// node's own keys answer when the database does not.
		lctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ks, err := store.LogKeys(lctx)
		if err != nil {
			log.Warn("listing the log keys of all nodes", "err", err)
			return keys.VerifierKeys()
		}
		return ks
	}
	return &ledgerHandle{keys: keys, store: store, close: closeStore, logKeys: logKeys}, nil
}

// openSigning opens what signs a server's checkpoints, all in the data
// directory: the log keys (created on first use, named origin or as
// recorded; the key is logged), the no-fork guard behind the signer, and
// the checkpoint archive.
func openSigning(data, origin string, log *slog.Logger) (*tlog.Keyring, *tlog.GuardedSigner, *checkpointlog.Log, error) {
	keys, guard, err := openLogKeys(filepath.Join(data, keysDirName), origin, rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	all := keys.Keys()
	active := all[len(all)-1]
	log.Info("log key", "origin", keys.Origin(), "key_id", active.ID(), "verifier", active.Verifier)
	signer := tlog.NewGuardedSigner(keys, guard, time.Second, time.Now)
	archive, err := checkpointlog.Open(checkpointlog.Config{Dir: filepath.Join(data, checkpointsDirName), Logger: log})
	if err != nil {
		return nil, nil, nil, ioErrorf("%w", err)
	}
	return keys, signer, archive, nil
}

// closeSignedStore returns serve's close for a store whose checkpoints
// signer signs: close the store, record the last tree signed (so the next
// start checks against it), close the checkpoint archive.
func closeSignedStore(store servedStore, signer *tlog.GuardedSigner, archive *checkpointlog.Log, log *slog.Logger) func() error {
	return func() error {
		if err := store.Close(); err != nil {
			log.Error("closing the ledger", "err", err)
			return ioErrorf("close ledger: %w", err)
		}
		if c := store.Checkpoint(); c.Note != nil {
			if err := signer.Record(c.Size, c.Root); err != nil {
				log.Error("recording the last signed checkpoint", "err", err)
				return ioErrorf("record last signed checkpoint: %w", err)
			}
		}
		if err := archive.Close(); err != nil {
			// The archive is an audit aid; the ledger itself is safe.
			log.Error("closing the checkpoint archive", "err", err)
			return ioErrorf("close checkpoint archive: %w", err)
		}
		return nil
	}
}

// pgError classifies a PostgreSQL failure: a schema of another version is
// a usage problem (run migrate / upgrade), anything else I/O.
func pgError(doing, url string, err error) error {
	if errors.Is(err, pgstore.ErrSchemaVersion) {
		return usageErrorf("%s: %v", doing, err)
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	return ioErrorf("%s on %s: %v", doing, redactURL(url), err)
}

// generateOrigin returns a new log origin: generatedOriginPrefix plus 12
// random hex digits.
func generateOrigin(rnd io.Reader) (string, error) {
	var b [6]byte
	if _, err := io.ReadFull(rnd, b[:]); err != nil {
		return "", ioErrorf("generate a log origin: %w", err)
	}
	return generatedOriginPrefix + hex.EncodeToString(b[:]), nil
}

type migrateOptions struct {
	store string
	json  bool
}

func (a *app) newMigrate() *cobra.Command {
	var o migrateOptions
	cmd := &cobra.Command{
		Use:   "migrate --store postgres://…",
		Short: "Create or upgrade the LogLine schema in a PostgreSQL database",
		Long: `Apply LogLine's schema migrations (embedded in the binary) to the
PostgreSQL database named by --store: the ledger schema, its row-level
security and the application role logline_app (docs/postgres.md). Each
migration runs in its own transaction; an advisory lock makes concurrent
runs safe and applied versions are recorded, so running it again does
nothing. The URL's user must be able to create schemas and roles (an
administrator). 'logline serve --store URL' migrates on start unless
--no-migrate is given.`,
		Example: `  logline migrate --store postgres://postgres@localhost/logline`,
		Args:    noArgs,
		RunE: run(func(cmd *cobra.Command, _ []string) error {
			return a.migrate(cmd.Context(), o)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&o.store, "store", "", "PostgreSQL URL (postgres://user@host/db)")
	f.BoolVar(&o.json, "json", false, "print {\"applied\",\"version\"} as JSON")
	return cmd
}

func (a *app) migrate(ctx context.Context, o migrateOptions) error {
	if o.store == "" {
		return usageErrorf("--store is required")
	}
	if err := checkStoreURL(o.store); err != nil {
		return err
	}
	log, err := a.logger()
	if err != nil {
		return err
	}
	applied, err := pgstore.Migrate(ctx, o.store, log)
	if err != nil {
		return pgError("migrate", o.store, err)
	}
	if applied == nil {
		applied = []int{}
	}
	if o.json {
		return writeJSON(a.io.Out, struct {
			Applied []int `json:"applied"`
			Version int   `json:"version"`
		}{applied, pgstore.SchemaVersion()})
	}
	if len(applied) == 0 {
		_, err = fmt.Fprintf(a.io.Out, "schema up to date (version %d)\n", pgstore.SchemaVersion())
	} else {
		_, err = fmt.Fprintf(a.io.Out, "applied migrations %v; schema at version %d\n", applied, pgstore.SchemaVersion())
	}
	return err
}
