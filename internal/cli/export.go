package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"

	"github.com/logline/logline/internal/client"
	"github.com/logline/logline/internal/durable"
	"github.com/logline/logline/internal/export"
	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/ledger/segment"
	"github.com/logline/logline/internal/span"
	"github.com/logline/logline/internal/tlog"
)

type exportOptions struct {
	serverFlags
	data   string
	store  string // PostgreSQL URL (exportstore.go)
	tenant string
	since  string
	until  string
	out    string
	json   bool
}

func (a *app) newExport() *cobra.Command {
	var o exportOptions
	cmd := &cobra.Command{
		Use:   "export --tenant T --out FILE [--since TIME] [--until TIME] [--server URL | --data DIR [--store URL]]",
		Short: "Write a signed, self-contained export of one tenant's entries",
		Long: `Write a signed export bundle of tenant T (docs/exports.md): its entries
received in [--since, --until) (RFC 3339, since inclusive, until exclusive;
unbounded when absent), each with its inclusion proof against one signed
checkpoint, the checkpoint, the tenant's entries just before and after the
range as witnesses that nothing is left out, and a manifest signed with the
log key. 'logline verify --export FILE --log-key KEYFILE' checks it offline.

From a running server (--server URL, the default) the server writes the
bundle (POST /exports) and it is downloaded into FILE. From a stopped
server's data directory (--data DIR) the store and its log key are opened
as 'logline serve' opens them and the bundle is written directly; a
directory in use by a running server is refused (use --server). --data
takes precedence over --server; to use --server where a configuration file
sets data, pass --data ''.

From a PostgreSQL ledger (--store URL --data DIR) the bundle is written
directly from the database, running servers or not, as a node would
write it: DIR is the data directory of a node of this log, whose key
signs the tree head the database records (checked by the node's no-fork
guard in DIR/keys, as serve does) and the manifest; the key is registered
in the database if it is not yet.

FILE is written atomically (it appears whole or not at all); --out -
writes standard output. A progress bar is drawn on standard error when it
is a terminal. A summary goes to standard output (standard error with
--out -), as JSON with --json.`,
		Example: `  logline export --tenant acme --out acme.ndjson
  logline export --tenant acme --since 2026-01-01T00:00:00Z --until 2026-02-01T00:00:00Z --out acme-jan.ndjson
  logline export --data ./data --tenant acme --out - | gzip > acme.ndjson.gz
  logline export --store postgres://postgres@localhost/logline --data ./data --tenant acme --out acme.ndjson`,
		Args: noArgs,
		RunE: run(func(cmd *cobra.Command, _ []string) error {
			return a.export(cmd.Context(), o)
		}),
	}
	o.serverFlags.register(cmd)
	f := cmd.Flags()
	f.StringVar(&o.data, "data", "", "export from this stopped server's data directory instead of --server (with --store: a node's data directory, whose key signs the manifest)")
	f.StringVar(&o.store, "store", "", "export from this PostgreSQL ledger (postgres://user@host/db; needs --data)")
	f.StringVar(&o.tenant, "tenant", "", "the tenant to export (required)")
	f.StringVar(&o.since, "since", "", "first received_at of the range (RFC 3339, inclusive)")
	f.StringVar(&o.until, "until", "", "end of the range on received_at (RFC 3339, exclusive)")
	f.StringVarP(&o.out, "out", "o", "", "file to write the bundle to, - for standard output (required)")
	f.BoolVar(&o.json, "json", false, "print the summary as JSON")
	_ = cmd.MarkFlagDirname("data")
	_ = cmd.MarkFlagFilename("out", "ndjson")
	return cmd
}

// exportResult is the summary of export (its JSON form with --json).
type exportResult struct {
	Tenant         string  `json:"tenant"`
	Since          *string `json:"since"`
	Until          *string `json:"until"`
	Out            string  `json:"out"`
	ID             string  `json:"id,omitempty"` // with --server
	Bytes          int64   `json:"bytes"`
	Entries        uint64  `json:"entries"`
	FirstIndex     *uint64 `json:"first_index"`
	LastIndex      *uint64 `json:"last_index"`
	CheckpointSize uint64  `json:"checkpoint_size"`
	Before         *bool   `json:"before_witness,omitempty"`
	After          *bool   `json:"after_witness,omitempty"`
	Seconds        float64 `json:"seconds"`
}

func (a *app) export(ctx context.Context, o exportOptions) error {
	if o.tenant == "" {
		return cmdlineErrorf("export: --tenant is required")
	}
	if !span.ValidTenant(o.tenant) {
		return usageErrorf("export: --tenant %q: want [a-z0-9_-]{1,64}", o.tenant)
	}
	if o.out == "" {
		return cmdlineErrorf("export: --out is required (- for standard output)")
	}
	since, err := parseRangeTime("since", o.since)
	if err != nil {
		return err
	}
	until, err := parseRangeTime("until", o.until)
	if err != nil {
		return err
	}
	if !since.IsZero() && !until.IsZero() && !until.After(since) {
		return usageErrorf("export: --until must be after --since")
	}
	res := exportResult{Tenant: o.tenant, Out: o.out}
	if !since.IsZero() {
		s := since.UTC().Format(time.RFC3339Nano)
		res.Since = &s
	}
	if !until.IsZero() {
		s := until.UTC().Format(time.RFC3339Nano)
		res.Until = &s
	}

	out, commit, abort, err := a.exportOutput(o.out)
	if err != nil {
		return err
	}
	defer abort()
	start := time.Now()
	switch {
	case o.store != "":
		err = a.exportStore(ctx, o, since, until, out, &res)
	case o.data != "":
		err = a.exportLocal(ctx, o, since, until, out, &res)
	default:
		err = a.exportRemote(ctx, o, out, &res)
	}
	if err != nil {
		return err
	}
	if err := commit(); err != nil {
		return ioErrorf("export: --out %s: %w", o.out, err)
	}
	res.Seconds = time.Since(start).Seconds()

	w := a.io.Out
	if o.out == "-" {
		w = a.io.Err
	}
	if o.json {
		return writeJSON(w, res)
	}
	a.printExport(w, res)
	return nil
}

// parseRangeTime parses --since or --until (zero when empty).
func parseRangeTime(flag, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, usageErrorf("export: --%s %q is not an RFC 3339 time (like 2026-01-02T15:04:05Z)", flag, v)
	}
	return t, nil
}

// exportOutput opens --out: a file that appears whole on commit (and not
// at all on abort), or standard output.
func (a *app) exportOutput(path string) (w io.Writer, commit func() error, abort func(), err error) {
	if path == "-" {
		return a.io.Out, func() error { return nil }, func() {}, nil
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return nil, nil, nil, usageErrorf("export: --out %s is a directory", path)
	}
	f, err := durable.Create(path, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, nil, usageErrorf("export: --out %s: no such directory", path)
		}
		return nil, nil, nil, ioErrorf("export: --out: %w", err)
	}
	return f, f.Commit, f.Abort, nil
}

// exportLocal opens the data directory as serve does and writes the
// bundle itself.
func (a *app) exportLocal(ctx context.Context, o exportOptions, since, until time.Time, out io.Writer, res *exportResult) error {
	if err := checkDataDir(o.data); err != nil {
		return err
	}
	if _, err := exportKeysOrigin(o.data); err != nil {
		return err
	}
	if err := ledgerInUse(o.data); err != nil {
		return usageErrorf("export: %v\n  export through the server instead: logline export --server URL …", err)
	}
	log, err := a.quietLogger()
	if err != nil {
		return err
	}
	led, err := openLedger(ctx, o.data, "", segment.DefaultIndexCacheBytes, nil, log)
	if err != nil {
		return err
	}
	return a.writeExport(ctx, exportSource{
		store: led.store, checkpoint: led.store.Checkpoint(), origin: led.keys.Origin(), signer: led.keys.Signer(),
		close: led.close, verify: "logline verify --data " + o.data,
	}, o, since, until, out, res)
}

// exportKeysOrigin returns the origin of the log key in data/keys, which
// signs the manifest of an export written locally.
func exportKeysOrigin(data string) (string, error) {
	keysDir := filepath.Join(data, keysDirName)
	origin, err := tlog.KeysOrigin(keysDir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", usageErrorf("export: --data %s has no log key (%s): a server never ran on it", data, keysDir)
		}
		return "", failErrorf("export: %w", err)
	}
	return origin, nil
}

// exportSource is an open store an export is written from, with the
// signed checkpoint its proofs refer to and the log key that signs the
// manifest.
type exportSource struct {
	store      export.Source
	checkpoint ledger.Checkpoint
	origin     string
	signer     note.Signer
	close      func() error
	verify     string // the command that checks the store, for messages
}

// writeExport writes the bundle from src into out, closes src and fills
// in res.
func (a *app) writeExport(ctx context.Context, src exportSource, o exportOptions, since, until time.Time, out io.Writer, res *exportResult) error {
	cp := src.checkpoint
	bar := newProgress(a.io.Err, a.io.ErrTTY, int64(cp.Size), "export", false)
	opts := export.Options{Tenant: o.tenant, Since: since, Until: until, Checkpoint: cp,
		Origin: src.origin, Signer: src.signer}
	if bar != nil {
		opts.Progress = func(done, _ uint64) { bar.set(int64(done)) }
	}
	cw := &countingWriter{w: out}
	m, werr := export.Write(ctx, cw, src.store, opts)
	bar.done()
	if cerr := src.close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		if errors.Is(werr, export.ErrSource) {
			return failErrorf("export: %w\n  run '%s'", werr, src.verify)
		}
		if errors.Is(werr, context.Canceled) {
			return werr
		}
		return ioErrorf("export: %w", werr)
	}
	res.Bytes = cw.n
	res.Entries, res.CheckpointSize = m.Entries, m.CheckpointSize
	if m.Entries > 0 {
		res.FirstIndex, res.LastIndex = &m.FirstIndex, &m.LastIndex
	}
	res.Before, res.After = &m.Before, &m.After
	return nil
}

// ledgerInUse refuses a data directory whose index a running server
// holds (the caller says what to do instead).
// It probes the index's lock (Pebble's LOCK file in ledger/index, see
// docs/storage.md) before anything is opened: opening the store's
// companions (the checkpoint archive cuts a torn tail) next to a running
// server would race with it.
func ledgerInUse(data string) error {
	lockPath := filepath.Join(data, "ledger", "index", "LOCK")
	if _, err := os.Stat(lockPath); err != nil {
		return nil // no index yet: nothing holds it
	}
	l, err := vfs.Default.Lock(lockPath)
	if err != nil {
		return fmt.Errorf("the ledger in %s is in use by a running server (%v)", data, err)
	}
	return l.Close()
}

// quietLogger is the process logger without info messages (unless
// --log-level debug): commands that open the store for one job need not
// narrate it.
func (a *app) quietLogger() (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(a.logLevel)); err != nil {
		return nil, usageErrorf("--log-level %q: want debug, info, warn or error", a.logLevel)
	}
	if level == slog.LevelInfo {
		level = slog.LevelWarn
	}
	return slog.New(slog.NewTextHandler(a.io.Err, &slog.HandlerOptions{Level: level})), nil
}

// exportRemote has the server write the bundle, then downloads it.
func (a *app) exportRemote(ctx context.Context, o exportOptions, out io.Writer, res *exportResult) error {
	c, err := a.client(o.serverFlags)
	if err != nil {
		return err
	}
	spin := newProgress(a.io.Err, a.io.ErrTTY, -1, "export: the server writes the bundle", false)
	stop := make(chan struct{})
	spun := make(chan struct{})
	go func() { // keep the spinner turning while the server works
		defer close(spun)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				spin.add(1)
			}
		}
	}()
	req := client.ExportRequest{Tenant: o.tenant}
	if res.Since != nil {
		req.Since = *res.Since
	}
	if res.Until != nil {
		req.Until = *res.Until
	}
	info, err := c.CreateExport(ctx, req)
	close(stop)
	<-spun
	spin.done()
	if err != nil {
		return err
	}
	body, size, err := c.OpenExport(ctx, info.ID)
	if err != nil {
		return err
	}
	defer body.Close()
	bar := newProgress(a.io.Err, a.io.ErrTTY, size, "download", true)
	n, err := io.Copy(out, io.TeeReader(body, progressWriter{bar}))
	bar.done()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return ioErrorf("export: download %s from %s: %w", info.Href, c.BaseURL(), err)
	}
	if n != info.Bytes {
		return ioErrorf("export: downloaded %d bytes of %s, the server wrote %d", n, info.Href, info.Bytes)
	}
	res.ID, res.Bytes, res.Entries, res.CheckpointSize = info.ID, n, info.Entries, info.CheckpointSize
	return nil
}

// progressWriter advances a bar by what is written through it.
type progressWriter struct{ p *progress }

func (w progressWriter) Write(b []byte) (int, error) {
	w.p.add(int64(len(b)))
	return len(b), nil
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func (a *app) printExport(w io.Writer, r exportResult) {
	where := r.Out
	if where == "-" {
		where = "standard output"
	}
	fmt.Fprintf(w, "exported    %d entries of tenant %s, %s\n", r.Entries, r.Tenant, rangeText(r.Since, r.Until))
	if r.FirstIndex != nil {
		fmt.Fprintf(w, "log indexes %d to %d\n", *r.FirstIndex, *r.LastIndex)
	}
	var wit []string
	if r.Before != nil && *r.Before {
		wit = append(wit, "before")
	}
	if r.After != nil && *r.After {
		wit = append(wit, "after")
	}
	if len(wit) > 0 {
		fmt.Fprintf(w, "witnesses   %s\n", strings.Join(wit, ", "))
	}
	fmt.Fprintf(w, "checkpoint  tree size %d\n", r.CheckpointSize)
	fmt.Fprintf(w, "written     %s (%s) in %.2fs\n", where, humanBytes(r.Bytes), r.Seconds)
}

// rangeText describes an export's range for people.
func rangeText(since, until *string) string {
	switch {
	case since != nil && until != nil:
		return "received in [" + *since + ", " + *until + ")"
	case since != nil:
		return "received from " + *since
	case until != nil:
		return "received before " + *until
	}
	return "every entry up to the checkpoint"
}
