package cli

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"path/filepath"
	"time"

	"github.com/logline/logline/internal/ledger/pgstore"
	"github.com/logline/logline/internal/tlog"
)

// exportStore writes the bundle from a PostgreSQL ledger, running
// servers or not, as a node would: the key in --data/keys signs the tree
// head the database records (through the node's no-fork guard) and the
// manifest; the key is registered if it is not yet, so that GET /log/key
// lists it.
func (a *app) exportStore(ctx context.Context, o exportOptions, since, until time.Time, out io.Writer, res *exportResult) error {
	if err := checkStoreURL(o.store); err != nil {
		return err
	}
	if o.data == "" {
		return cmdlineErrorf("export --store needs --data DIR: the data directory of a node of the log, whose key signs the export")
	}
	origin, err := exportKeysOrigin(o.data)
	if err != nil {
		return err
	}
	dbOrigin, err := pgstore.ClaimOrigin(ctx, o.store, "")
	if err != nil {
		return pgError("export: read the log origin", o.store, err)
	}
	if dbOrigin != origin {
		return usageErrorf("export: the key in %s is of the log %q, the database holds %q", filepath.Join(o.data, keysDirName), origin, dbOrigin)
	}
	keys, guard, err := openLogKeys(filepath.Join(o.data, keysDirName), origin, rand.Reader)
	if err != nil {
		return err
	}
	log, err := a.quietLogger()
	if err != nil {
		return err
	}
	store, err := pgstore.Open(ctx, pgstore.Config{URL: o.store, Logger: log, Node: "export", VerifierKeys: keys.VerifierKeys()})
	if err != nil {
		return pgError("export: open the ledger", o.store, err)
	}
	cp := store.Checkpoint()
	signer := tlog.NewGuardedSigner(keys, guard, time.Second, time.Now)
	if cp.Note, err = signer.Sign(cp.Size, cp.Root); err != nil {
		_ = store.Close()
		if errors.Is(err, tlog.ErrRollback) || errors.Is(err, tlog.ErrConflict) {
			return failErrorf("export: %v\n  the ledger in the database is not the history this node signed (restored from an older backup?)", err)
		}
		return ioErrorf("export: sign the checkpoint: %w", err)
	}
	return a.writeExport(ctx, exportSource{
		store: store, checkpoint: cp, origin: origin, signer: keys.Signer(),
		close: store.Close, verify: "logline verify --store " + redactURL(o.store),
	}, o, since, until, out, res)
}
