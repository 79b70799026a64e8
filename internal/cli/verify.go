package cli

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/logline/logline/internal/ledger/segment"
	"github.com/logline/logline/internal/tlog"
)

type verifyOptions struct {
	serverFlags
	log        bool   // verify --log: the server's log only grew
	trustDir   string // with --log
	data       string
	store      string // verify --store: a PostgreSQL ledger (verifystore.go)
	json       bool
	receipt    string
	logKey     string
	checkpoint string
	export     string // verify --export: an export bundle (exportverify.go)
}

func (a *app) newVerify() *cobra.Command {
	var o verifyOptions
	cmd := &cobra.Command{
		Use:   "verify --data DIR | --store URL",
		Short: "Check a ledger offline: hashes, signatures, chains, Merkle roots, index",
		Long: `Check every byte of the embedded store in --data without changing it:
every entry line is canonical (JCS), its curr_hash matches its content,
its signature (if any) verifies, its log_index is dense and its prev_hash
links the tenant chain; every commit line's Merkle root matches the
entries; and, when the index can be opened (not while a server holds it),
every index entry agrees with the segments and none is extra.

The exit code is 0 only when everything holds. On failure the first bad
entry is named (file, byte offset, log index, reason) and the exit code
is 1. Unacknowledged bytes after the last commit (a torn tail, cut when
the server next starts) are reported as a warning, not a failure.

A progress bar is drawn on standard error when it is a terminal.

With --receipt FILE (a receipt, or an ingest answer or NDJSON result line
holding one) and --log-key KEYFILE (the text of GET /log/key), verify checks
the receipt offline instead: the checkpoint note is signed by the log key,
covers the receipt's log index, and — when the receipt carries an inclusion
proof (ingest with ?proof=1) — the entry's leaf hash is in the checkpoint's
tree. Receipts of an NDJSON answer after the first under a checkpoint name
it by size only: pass that note with --checkpoint FILE.

With --log, verify asks the server (--server) for its latest checkpoint
and checks, trusting only the log key, that it is signed and that the log
only grew since the newest checkpoint this client verified before (a
consistency proof); a log that went back or forked fails. The key is
pinned on first use (or given with --log-key) and the checkpoint
remembered in --trust-dir, shared with 'logline get --verify'.

With --export FILE (a bundle written by 'logline export', - for standard
input) and --log-key KEYFILE, verify checks the export offline: the
checkpoint's and the manifest's signatures, every entry's inclusion proof,
hash and signature, the tenant's chain and the range, and that the bundle
is complete; it reports what is proven and what is only attested.

With --store postgres://USER@HOST/DB, verify checks the ledger in
PostgreSQL instead (docs/postgres.md), in one snapshot, so servers may
keep running: every row in log order (dense log_index; its line parses,
hashes and verifies; every column agrees with the line; prev_hash links
the tenant chains), the stored Merkle hashes, every row of the checkpoints
table (the root at its size, the note signed by a registered node key),
the log state and the chain heads. The problem names the table, column
and log index. With --data DIR as well, that node's checkpoint archive and
last-signed record are checked against the database's roots.`,
		Example: `  logline verify --data ./data
  logline verify --data ./data --json
  logline verify --store postgres://postgres@localhost/logline
  curl -s localhost:8420/log/key > log.key
  logline verify --receipt receipt.json --log-key log.key
  logline verify --log --server https://ledger.example
  logline verify --export acme.ndjson --log-key log.key`,
		Args: noArgs,
		RunE: run(func(cmd *cobra.Command, _ []string) error {
			if o.export != "" {
				return a.verifyExport(cmd.Context(), o)
			}
			if o.log {
				return a.verifyLog(cmd.Context(), o)
			}
			if o.receipt != "" || o.logKey != "" || o.checkpoint != "" {
				return a.verifyReceipt(o)
			}
			if o.store != "" {
				return a.verifyStore(cmd.Context(), o, cmd.Flags().Changed("data"))
			}
			return a.verify(cmd.Context(), o)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&o.data, "data", DefaultData, "data directory of the embedded store")
	f.StringVar(&o.store, "store", "", "check the ledger in this PostgreSQL database (postgres://user@host/db) instead of --data")
	f.BoolVar(&o.json, "json", false, "print the report as JSON")
	f.StringVar(&o.receipt, "receipt", "", "check this receipt offline instead of a data directory (needs --log-key)")
	f.StringVar(&o.logKey, "log-key", "", "file with the log's verifier key(s), the text of GET /log/key")
	f.StringVar(&o.checkpoint, "checkpoint", "", "file with the checkpoint note a receipt names by size only")
	f.StringVar(&o.export, "export", "", "check this export bundle offline instead of a data directory (needs --log-key)")
	f.BoolVar(&o.log, "log", false, "check the server's log only grew since the checkpoint this client verified before (with --server, --trust-dir)")
	f.StringVar(&o.trustDir, "trust-dir", defaultTrustDir(), "with --log: where pinned log keys and verified checkpoints are kept")
	o.serverFlags.register(cmd)
	_ = cmd.MarkFlagDirname("data")
	return cmd
}

// verifyProblem is the first bad entry or index key found.
type verifyProblem struct {
	Kind     string `json:"kind"` // "corrupt" (segments, rows), "index" or "checkpoint"
	File     string `json:"file,omitempty"`
	Line     int    `json:"line,omitempty"` // 1-based, in File
	Offset   *int64 `json:"offset,omitempty"`
	LogIndex *int64 `json:"log_index,omitempty"`
	Key      string `json:"key,omitempty"`
	// With --store: the table and column that disagree, and the size of
	// a checkpoint row that does.
	Table          string  `json:"table,omitempty"`
	Column         string  `json:"column,omitempty"`
	CheckpointSize *uint64 `json:"checkpoint_size,omitempty"`
	Reason         string  `json:"reason"`
}

// verifyResult is the JSON report of verify.
type verifyResult struct {
	OK           bool           `json:"ok"`
	Data         string         `json:"data"`
	Segments     int            `json:"segments"`
	Bytes        int64          `json:"bytes"`
	Entries      uint64         `json:"entries"`
	Signed       uint64         `json:"signed"`
	Tenants      int            `json:"tenants"`
	MerkleRoot   string         `json:"merkle_root,omitempty"`
	IndexChecked bool           `json:"index_checked"`
	IndexNote    string         `json:"index_note,omitempty"`
	TornTail     string         `json:"torn_tail,omitempty"`
	Seconds      float64        `json:"seconds"`
	Problem      *verifyProblem `json:"problem,omitempty"`
	// Checkpoints: the archived signed checkpoints and the last-signed
	// record checked against the roots the segments give.
	Checkpoints *checkpointCheck `json:"checkpoints,omitempty"`
}

// checkDataDir rejects a --data that holds no ledger, so a typo does not
// pass as an empty, valid ledger.
func checkDataDir(dir string) error {
	st, err := os.Stat(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return usageErrorf("--data %s: no such directory", dir)
		}
		return ioErrorf("--data %s: %w", dir, err)
	}
	if !st.IsDir() {
		return usageErrorf("--data %s: not a directory", dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "ledger", "segments")); err != nil {
		return usageErrorf("--data %s: no ledger here (no ledger/segments directory)", dir)
	}
	return nil
}

func (a *app) verify(ctx context.Context, o verifyOptions) error {
	if err := checkDataDir(o.data); err != nil {
		return err
	}
	bar := newProgress(a.io.Err, a.io.ErrTTY, -1, "verify", true)
	var opts segment.VerifyOptions
	if bar != nil {
		opts.Progress = func(done, total int64) {
			if bar.bar.GetMax64() != total {
				bar.bar.ChangeMax64(total)
			}
			bar.set(done)
		}
	}
	start := time.Now()
	heads, cc, cpProblem, err := loadSignedHeads(o.data)
	if err != nil {
		bar.done()
		return ioErrorf("verify %s: %w", o.data, err)
	}
	opts.TreeSizes = treeSizes(heads)
	rep, err := segment.Verify(ctx, o.data, opts)
	bar.done()
	res := verifyResult{
		OK:           err == nil,
		Data:         o.data,
		Segments:     rep.Segments,
		Bytes:        rep.Bytes,
		Entries:      rep.Entries,
		Signed:       rep.Signed,
		Tenants:      rep.Tenants,
		IndexChecked: rep.IndexChecked,
		IndexNote:    rep.IndexNote,
		TornTail:     rep.TornTail,
		Seconds:      time.Since(start).Seconds(),
	}
	if len(rep.Root) > 0 {
		res.MerkleRoot = hex.EncodeToString(rep.Root)
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var ce *segment.CorruptError
		var ie *segment.IndexError
		switch {
		case errors.As(err, &ce):
			res.Problem = &verifyProblem{Kind: "corrupt", File: ce.File, Offset: &ce.Offset, Reason: ce.Reason}
			if ce.Index >= 0 {
				res.Problem.LogIndex = &ce.Index
			}
		case errors.As(err, &ie):
			res.Problem = &verifyProblem{Kind: "index", Key: ie.Key, Reason: ie.Reason}
			if ie.Index >= 0 {
				res.Problem.LogIndex = &ie.Index
			}
		default:
			return ioErrorf("verify %s: %w", o.data, err)
		}
	}
	if res.Problem == nil {
		res.Checkpoints = &cc
		if p := headsProblem(cpProblem, heads, rep.Entries, rep.Roots); p != nil {
			res.OK, res.Problem = false, p
		}
	}
	return a.finishVerify(o.json, res, res.OK, func() { a.printVerify(res) })
}

// finishVerify writes a verify report, as JSON with asJSON or else with
// print, and returns the command's result: exit 1 unless ok.
func (a *app) finishVerify(asJSON bool, res any, ok bool, print func()) error {
	if asJSON {
		if err := writeJSON(a.io.Out, res); err != nil {
			return err
		}
	} else {
		print()
	}
	if !ok {
		return silentFail(ExitFailed)
	}
	return nil
}

func (a *app) printVerify(r verifyResult) {
	w := a.io.Out
	fmt.Fprintf(w, "data        %s\n", r.Data)
	fmt.Fprintf(w, "segments    %d (%s)\n", r.Segments, humanBytes(r.Bytes))
	if p := r.Problem; p != nil {
		what := "acknowledged data is corrupt"
		switch p.Kind {
		case "index":
			what = fmt.Sprintf("an index entry disagrees with the segments (rebuild it with 'logline reindex --data %s')", r.Data)
		case "checkpoint":
			what = "the segments contradict a checkpoint the log signed"
		}
		printVerifyProblem(w, p, what)
		return
	}
	fmt.Fprintf(w, "entries     %d (%d signed) in %d tenant(s)\n", r.Entries, r.Signed, r.Tenants)
	if r.MerkleRoot != "" {
		fmt.Fprintf(w, "merkle root %s (size %d)\n", r.MerkleRoot, r.Entries)
	}
	if r.IndexChecked {
		fmt.Fprintf(w, "index       checked: every entry agrees with the segments\n")
	} else {
		fmt.Fprintf(w, "index       not checked: %s\n", strings.TrimPrefix(r.IndexNote, "index not checked: "))
	}
	if c := r.Checkpoints; c != nil {
		c.print(w, "checkpoints")
	}
	if r.TornTail != "" {
		fmt.Fprintf(w, "warning     torn tail (never acknowledged; cut on the next start): %s\n", r.TornTail)
	}
	fmt.Fprintf(w, "OK          every hash, signature, chain link and commit root holds (%.2fs)\n", r.Seconds)
}

// printVerifyProblem prints the first problem verify found.
func printVerifyProblem(w io.Writer, p *verifyProblem, what string) {
	printProblem(w, "the ledger does not verify", what, p)
}

// printProblem prints a failed check — the headline, what failed when
// known, and every known part of where — for verify, verify --export and
// restore alike.
func printProblem(w io.Writer, headline, what string, p *verifyProblem) {
	fmt.Fprintf(w, "FAILED      %s\n", headline)
	if what != "" {
		fmt.Fprintf(w, "  what      %s\n", what)
	}
	if p.File != "" {
		fmt.Fprintf(w, "  file      %s\n", p.File)
	}
	if p.Line > 0 {
		fmt.Fprintf(w, "  line      %d\n", p.Line)
	}
	if p.Offset != nil {
		fmt.Fprintf(w, "  offset    %d\n", *p.Offset)
	}
	if p.Table != "" {
		fmt.Fprintf(w, "  table     %s\n", p.Table)
	}
	if p.Column != "" {
		fmt.Fprintf(w, "  column    %s\n", p.Column)
	}
	if p.CheckpointSize != nil {
		fmt.Fprintf(w, "  size      %d (the checkpoint)\n", *p.CheckpointSize)
	}
	if p.LogIndex != nil {
		fmt.Fprintf(w, "  log index %d\n", *p.LogIndex)
	}
	if p.Key != "" {
		fmt.Fprintf(w, "  key       %s\n", p.Key)
	}
	fmt.Fprintf(w, "  reason    %s\n", p.Reason)
}

// receiptResult is the JSON report of verify --receipt.
type receiptResult struct {
	OK             bool   `json:"ok"`
	SpanID         string `json:"span_id,omitempty"`
	Tenant         string `json:"tenant,omitempty"`
	LogIndex       uint64 `json:"log_index"`
	Origin         string `json:"origin,omitempty"`
	CheckpointSize uint64 `json:"checkpoint_size,omitempty"`
	Included       bool   `json:"inclusion_verified"`
	Problem        string `json:"problem,omitempty"`
}

func (a *app) verifyReceipt(o verifyOptions) error {
	if o.receipt == "" || o.logKey == "" {
		return usageErrorf("--receipt and --log-key go together")
	}
	data, err := os.ReadFile(o.receipt)
	if err != nil {
		return ioErrorf("--receipt: %w", err)
	}
	rcpt, err := tlog.ParseReceipt(data)
	if err != nil {
		return usageErrorf("--receipt %s: %v", o.receipt, err)
	}
	keyText, err := os.ReadFile(o.logKey)
	if err != nil {
		return ioErrorf("--log-key: %w", err)
	}
	origin, verifiers, err := parseLogKeys(keyText, "--log-key "+o.logKey)
	if err != nil {
		return err
	}
	var cpNote []byte
	if o.checkpoint != "" {
		if cpNote, err = os.ReadFile(o.checkpoint); err != nil {
			return ioErrorf("--checkpoint: %w", err)
		}
	}
	check, verr := rcpt.Verify(verifiers, origin, cpNote)
	res := receiptResult{
		OK: verr == nil, SpanID: rcpt.SpanID, Tenant: rcpt.Tenant, LogIndex: rcpt.LogIndex,
		Origin: origin, CheckpointSize: check.Checkpoint.Size, Included: check.Included,
	}
	if verr != nil {
		res.Problem = verr.Error()
	}
	if o.json {
		if err := writeJSON(a.io.Out, res); err != nil {
			return err
		}
	} else {
		w := a.io.Out
		if verr != nil {
			fmt.Fprintf(w, "FAILED      the receipt does not verify\n  reason    %s\n", verr)
		} else {
			fmt.Fprintf(w, "span        %s (tenant %s) at log index %d\n", res.SpanID, res.Tenant, res.LogIndex)
			fmt.Fprintf(w, "checkpoint  size %d, signed by a key of %s\n", res.CheckpointSize, origin)
			if res.Included {
				fmt.Fprintf(w, "OK          the entry is in the checkpoint's tree (inclusion proof verified)\n")
			} else {
				fmt.Fprintf(w, "OK          checkpoint verified; inclusion NOT checked: the receipt has no proof\n")
				fmt.Fprintf(w, "            (ingest with ?proof=1, or GET /proof/inclusion?index=%d&size=%d)\n", res.LogIndex, res.CheckpointSize)
			}
		}
	}
	if verr != nil {
		return silentFail(ExitFailed)
	}
	return nil
}
