package cli

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/logline/logline/internal/backup"
	"github.com/logline/logline/internal/tlog"
)

type restoreOptions struct {
	data      string
	keys      string
	newLogKey bool
	check     bool
	json      bool
}

func (a *app) newRestore() *cobra.Command {
	var o restoreOptions
	cmd := &cobra.Command{
		Use:   "restore FROM --data DIR (--keys KEYDIR | --new-log-key)",
		Short: "Rebuild a data directory from a backup, after verifying all of it",
		Long: `Rebuild the data directory --data from the backup directory FROM (made by
'logline backup'; docs/backup.md).

The backup is verified completely before anything is written: backup.json,
every chunk's SHA-256, every entry (canonical form, curr_hash, client
signature, dense log_index, each tenant's prev_hash chain), the Merkle root
of every checkpoint, and the checkpoint signatures with the backup's
log.key. A backup that does not verify is refused (exit 1) naming the file,
line and log index. --check stops there.

DIR must not exist or be empty: a restore never overwrites a data
directory. The restored server needs the log's signing key:

  --keys KEYDIR    a copy of the old data/keys directory (keys.json, the
                   private key, last-signed.json); one of its keys must
                   have signed the backup's latest checkpoint
  --new-log-key    a new key for the same log; the backup's keys stay
                   published by GET /log/key as retired, so checkpoints
                   signed before keep verifying

Either way DIR/keys/last-signed.json records the backup's checkpoint, so
the restored server never signs another tree of that size. The segments
and the index are rebuilt deterministically (the same backup gives the
same bytes), and the backup's checkpoints go into DIR/checkpoints. Then
'logline verify --data DIR' passes and 'logline serve --data DIR'
continues the same log.`,
		Example: `  logline restore /backups/ledger --data /srv/logline --keys /safe/old-data/keys
  logline restore /backups/ledger --data /srv/logline --new-log-key
  logline restore /backups/ledger --check`,
		Args: exactArgs(1),
		RunE: run(func(cmd *cobra.Command, args []string) error {
			return a.restore(cmd.Context(), args[0], o)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&o.data, "data", "", "data directory to create (must not exist, or be empty)")
	f.StringVar(&o.keys, "keys", "", "copy of the log's old key directory (data/keys) to restore")
	f.BoolVar(&o.newLogKey, "new-log-key", false, "create a new log key; the backup's keys stay published as retired")
	f.BoolVar(&o.check, "check", false, "only verify the backup; write nothing")
	f.BoolVar(&o.json, "json", false, "print the result as JSON")
	_ = cmd.MarkFlagDirname("data")
	_ = cmd.MarkFlagDirname("keys")
	return cmd
}

// backupProblem is the first thing of a backup that does not verify.
type backupProblem struct {
	File     string `json:"file"`
	Line     int    `json:"line,omitempty"`
	LogIndex *int64 `json:"log_index,omitempty"`
	Reason   string `json:"reason"`
}

// restoreResult is the JSON report of restore.
type restoreResult struct {
	OK            bool           `json:"ok"`
	From          string         `json:"from"`
	Data          string         `json:"data,omitempty"`
	Origin        string         `json:"origin,omitempty"`
	Entries       uint64         `json:"entries"`
	Root          string         `json:"root,omitempty"`
	Signed        uint64         `json:"signed"`
	Tenants       int            `json:"tenants"`
	Chunks        int            `json:"chunks"`
	Checkpoints   int            `json:"checkpoints"`
	Bytes         int64          `json:"bytes"`
	Segments      int            `json:"segments,omitempty"`
	KeyID         string         `json:"key_id,omitempty"`
	NewKey        bool           `json:"new_key,omitempty"`
	RetiredKeys   int            `json:"retired_keys,omitempty"`
	VerifySeconds float64        `json:"verify_seconds"`
	WriteSeconds  float64        `json:"write_seconds,omitempty"`
	Problem       *backupProblem `json:"problem,omitempty"`
}

func (a *app) restore(ctx context.Context, from string, o restoreOptions) error {
	if !o.check {
		switch {
		case o.data == "":
			return cmdlineErrorf("restore needs --data DIR (a new or empty directory), or --check")
		case o.keys == "" && !o.newLogKey:
			return cmdlineErrorf("restore needs the log's signing key: --keys KEYDIR (a copy of the old data/keys directory)\n" +
				"  or --new-log-key (a new key; the backup's keys stay published as retired, so old checkpoints keep verifying)")
		case o.keys != "" && o.newLogKey:
			return cmdlineErrorf("--keys and --new-log-key exclude each other")
		}
	}
	log, err := a.logger()
	if err != nil {
		return err
	}
	verifyProgress, verifyDone := a.countProgress("verify")
	writeProgress, writeDone := a.countProgress("restore")
	if p := writeProgress; p != nil {
		writeProgress = func(done, total uint64) { verifyDone(); p(done, total) }
	}
	res := restoreResult{From: from}
	var (
		rep  backup.Report
		done backup.RestoreResult
	)
	start := time.Now()
	if o.check {
		rep, err = backup.Verify(ctx, from, backup.VerifyOptions{Progress: verifyProgress})
	} else {
		res.Data = o.data
		done, err = backup.Restore(ctx, backup.RestoreConfig{
			From: from, Data: o.data, Keys: o.keys, NewLogKey: o.newLogKey, Logger: log,
			VerifyProgress: verifyProgress, WriteProgress: writeProgress,
		})
		rep = done.Report
	}
	verifyDone()
	writeDone()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var be *backup.Error
		switch {
		case errors.As(err, &be):
			res.Problem = &backupProblem{File: filepath.Join(from, be.File), Line: be.Line, Reason: be.Reason}
			if be.Index >= 0 {
				res.Problem.LogIndex = &be.Index
			}
		case errors.Is(err, backup.ErrTarget), errors.Is(err, backup.ErrKeys), errors.Is(err, backup.ErrNotBackup), errors.Is(err, fs.ErrNotExist):
			return usageErrorf("restore refused: %w", err)
		default:
			return ioErrorf("restore: %w", err)
		}
	} else {
		res.OK = true
		res.Origin, res.Entries, res.Signed, res.Tenants = rep.Origin, rep.Size, rep.Signed, rep.Tenants
		res.Chunks, res.Checkpoints, res.Bytes = rep.Chunks, rep.Checkpoints, rep.Bytes
		res.Root = base64.StdEncoding.EncodeToString(rep.Root[:])
		res.Segments, res.KeyID, res.NewKey, res.RetiredKeys = done.Segments, done.KeyID, done.NewKey, done.RetiredKeys
		res.VerifySeconds, res.WriteSeconds = done.VerifyTime.Seconds(), done.WriteTime.Seconds()
		if o.check {
			res.VerifySeconds = time.Since(start).Seconds()
		}
	}
	if o.json {
		if err := writeJSON(a.io.Out, res); err != nil {
			return err
		}
	} else {
		a.printRestore(res, o)
	}
	if !res.OK {
		return silentFail(ExitFailed)
	}
	return nil
}

func (a *app) printRestore(r restoreResult, o restoreOptions) {
	w := a.io.Out
	if p := r.Problem; p != nil {
		printProblem(w, "the backup does not verify; nothing was written", "", &verifyProblem{File: p.File, Line: p.Line, LogIndex: p.LogIndex, Reason: p.Reason})
		return
	}
	fmt.Fprintf(w, "verified    %s: %d entries (%d signed) of %d tenant(s) in %d chunk(s), %s, in %.2fs\n",
		r.From, r.Entries, r.Signed, r.Tenants, r.Chunks, humanBytes(r.Bytes), r.VerifySeconds)
	fmt.Fprintf(w, "checkpoint  size %d, root %s, signed by %s (%d checkpoint(s) checked)\n", r.Entries, r.Root, r.Origin, r.Checkpoints)
	if o.check {
		fmt.Fprintf(w, "OK          the backup verifies\n")
		return
	}
	fmt.Fprintf(w, "restored    %s: %d segment(s), index built, in %.2fs\n", r.Data, r.Segments, r.WriteSeconds)
	if r.NewKey {
		fmt.Fprintf(w, "keys        new log key %s; %d key(s) of the backup kept as retired (old checkpoints keep verifying)\n", r.KeyID, r.RetiredKeys)
	} else {
		fmt.Fprintf(w, "keys        copied from %s (active key %s)\n", o.keys, r.KeyID)
	}
	fmt.Fprintf(w, "guard       %s records size %d: the server will not sign another tree of that size\n",
		filepath.Join(r.Data, backup.KeysDir, tlog.GuardFile), r.Entries)
	fmt.Fprintf(w, "next        logline verify --data %s && logline serve --data %s\n", r.Data, r.Data)
}
