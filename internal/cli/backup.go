package cli

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/logline/logline/internal/backup"
)

type backupOptions struct {
	serverFlags
	out  string
	json bool
}

func (a *app) newBackup() *cobra.Command {
	var o backupOptions
	cmd := &cobra.Command{
		Use:   "backup --out DIR",
		Short: "Copy a running server's log into a backup directory (incremental)",
		Long: `Take a consistent copy of a running server's log into --out, or extend
the backup already there with what the log gained since (docs/backup.md).

backup fetches the log key and the latest signed checkpoint first and
copies the entries up to exactly that checkpoint's size, checking that
they give its Merkle root. With a previous backup in DIR it first checks
the server's consistency proof from the backup's size: a server whose
history forked from the backup, or that went back, is refused (exit 1)
and the backup stays as it was. A DIR holding another log's backup, or
other files, is refused (exit 2).

Each run writes new chunk files of entry lines and the checkpoint note,
then replaces DIR/backup.json atomically; a run interrupted at any point
(Ctrl-C, kill -9, a lost connection) leaves the previous backup whole and
the next run completes. When the server has nothing new, nothing is
written. A progress bar is drawn on standard error when it is a terminal.`,
		Example: `  logline backup --out /backups/ledger
  logline backup --out /backups/ledger --server http://10.0.0.5:8420 --json`,
		Args: noArgs,
		RunE: run(func(cmd *cobra.Command, _ []string) error {
			return a.backup(cmd.Context(), o)
		}),
	}
	o.serverFlags.register(cmd)
	f := cmd.Flags()
	f.StringVar(&o.out, "out", "", "backup directory (created if missing)")
	f.BoolVar(&o.json, "json", false, "print the result as JSON")
	_ = cmd.MarkFlagDirname("out")
	return cmd
}

// backupResult is the JSON report of backup.
type backupResult struct {
	Out        string   `json:"out"`
	Server     string   `json:"server"`
	Origin     string   `json:"origin"`
	From       uint64   `json:"from"`
	Size       uint64   `json:"size"`
	Root       string   `json:"root"`
	Copied     uint64   `json:"copied"`
	Bytes      int64    `json:"bytes"`
	Chunks     []string `json:"chunks"`
	Checkpoint string   `json:"checkpoint,omitempty"`
	NewKeys    int      `json:"new_keys"`
	UpToDate   bool     `json:"up_to_date"`
	Seconds    float64  `json:"seconds"`
}

func (a *app) backup(ctx context.Context, o backupOptions) error {
	if o.out == "" {
		return cmdlineErrorf("backup needs --out DIR")
	}
	c, err := a.client(o.serverFlags)
	if err != nil {
		return err
	}
	onProgress, progressDone := a.countProgress("backup")
	start := time.Now()
	res, err := backup.Run(ctx, backup.Config{Dir: o.out, Source: c, Progress: onProgress})
	progressDone()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		switch {
		case errors.Is(err, backup.ErrFork), errors.Is(err, backup.ErrServer), errors.Is(err, backup.ErrInvalid):
			return failErrorf("backup refused: %w", err)
		case errors.Is(err, backup.ErrOtherLog), errors.Is(err, backup.ErrNotBackup):
			return usageErrorf("--out: %w", err)
		case errors.Is(err, backup.ErrBusy):
			return ioErrorf("--out: %w", err)
		}
		return err
	}
	out := backupResult{
		Out: o.out, Server: c.BaseURL(), Origin: res.Origin, From: res.From, Size: res.Size,
		Root: base64.StdEncoding.EncodeToString(res.Root[:]), Copied: res.Copied, Bytes: res.Bytes,
		Chunks: []string{}, Checkpoint: res.Note, NewKeys: res.NewKeys, UpToDate: res.UpToDate,
		Seconds: time.Since(start).Seconds(),
	}
	for _, ch := range res.Chunks {
		out.Chunks = append(out.Chunks, ch.File)
	}
	if o.json {
		return writeJSON(a.io.Out, out)
	}
	w := a.io.Out
	fmt.Fprintf(w, "backup      %s (log %s)\n", out.Out, out.Origin)
	if out.UpToDate {
		fmt.Fprintf(w, "up to date  the server's checkpoint (size %d) is what the backup holds: nothing copied\n", out.Size)
		return nil
	}
	fmt.Fprintf(w, "copied      %d entries, log index %d..%d, %s in %d chunk(s) in %.2fs (%.0f entries/s)\n",
		out.Copied, out.From, out.Size-1, humanBytes(out.Bytes), len(out.Chunks), out.Seconds, rate(int(out.Copied), time.Since(start)))
	fmt.Fprintf(w, "checkpoint  size %d, root %s (%s)\n", out.Size, out.Root, out.Checkpoint)
	if out.From > 0 {
		fmt.Fprintf(w, "consistent  the server's tree of size %d extends the backup's of size %d (consistency proof verified)\n", out.Size, out.From)
	}
	if out.NewKeys > 0 {
		fmt.Fprintf(w, "log.key     %d new verifier key(s) since the last run (a key rotation); old keys kept\n", out.NewKeys)
	}
	return nil
}

// countProgress returns a callback for progress in entries (done of total)
// that draws a bar on standard error when it is a terminal (nil
// otherwise), and the function that removes the bar.
func (a *app) countProgress(desc string) (func(done, total uint64), func()) {
	if !a.io.ErrTTY {
		return nil, func() {}
	}
	var bar *progress
	return func(done, total uint64) {
			if bar == nil {
				bar = newProgress(a.io.Err, true, int64(total), desc, false)
			}
			bar.set(int64(done))
		}, func() {
			bar.done()
			bar = nil
		}
}
