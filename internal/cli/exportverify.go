package cli

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/logline/logline/internal/export"
)

// exportVerifyResult is the report of verify --export (its JSON form with
// --json).
type exportVerifyResult struct {
	OK             bool           `json:"ok"`
	File           string         `json:"file"`
	Bytes          int64          `json:"bytes"`
	Origin         string         `json:"origin,omitempty"`
	Tenant         string         `json:"tenant,omitempty"`
	Since          *string        `json:"since,omitempty"`
	Until          *string        `json:"until,omitempty"`
	Entries        uint64         `json:"entries"`
	Signed         uint64         `json:"signed"`
	FirstIndex     *uint64        `json:"first_index,omitempty"`
	LastIndex      *uint64        `json:"last_index,omitempty"`
	BeforeWitness  *uint64        `json:"before_witness,omitempty"`
	AfterWitness   *uint64        `json:"after_witness,omitempty"`
	CheckpointSize uint64         `json:"checkpoint_size,omitempty"`
	CheckpointRoot string         `json:"checkpoint_root,omitempty"`
	Proven         []string       `json:"proven,omitempty"`
	Attested       []string       `json:"attested,omitempty"`
	Seconds        float64        `json:"seconds"`
	Problem        *exportProblem `json:"problem,omitempty"`
}

// exportProblem is why a bundle does not verify.
type exportProblem struct {
	Line     int    `json:"line,omitempty"`
	LogIndex *int64 `json:"log_index,omitempty"`
	Reason   string `json:"reason"`
}

func (a *app) verifyExport(ctx context.Context, o verifyOptions) error {
	if o.logKey == "" {
		return cmdlineErrorf("verify --export needs --log-key KEYFILE (the text of GET /log/key)")
	}
	if o.receipt != "" || o.checkpoint != "" || o.log {
		return cmdlineErrorf("verify --export goes with --log-key and --json only")
	}
	keyText, err := readInput(o.logKey, "--log-key")
	if err != nil {
		return err
	}
	origin, verifiers, err := parseLogKeys(keyText, "--log-key "+o.logKey)
	if err != nil {
		return err
	}
	var in io.Reader = a.io.In
	size := int64(-1)
	if o.export != "-" {
		f, err := os.Open(o.export)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return usageErrorf("--export %s: no such file", o.export)
			}
			return ioErrorf("--export: %w", err)
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil {
			if st.IsDir() {
				return usageErrorf("--export %s is a directory", o.export)
			}
			size = st.Size()
		}
		in = f
	}
	bar := newProgress(a.io.Err, a.io.ErrTTY, size, "verify", true)
	opts := export.VerifyOptions{Origin: origin}
	if bar != nil {
		opts.Progress = func(read int64) { bar.set(read) }
	}
	start := time.Now()
	rep, verr := export.Verify(ctx, bufio.NewReaderSize(in, 1<<20), verifiers, opts)
	bar.done()
	res := exportVerifyResult{OK: verr == nil, File: o.export, Bytes: rep.Bytes, Seconds: time.Since(start).Seconds()}
	if verr != nil {
		var e *export.Error
		if !errors.As(verr, &e) {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return ioErrorf("verify --export %s: %w", o.export, verr)
		}
		res.Problem = &exportProblem{Line: e.Line, Reason: e.Reason}
		if e.LogIndex >= 0 {
			res.Problem.LogIndex = &e.LogIndex
		}
	} else {
		m := rep.Manifest
		res.Origin, res.Tenant, res.Entries, res.Signed = m.Origin, m.Tenant, m.Entries, rep.Signed
		res.Since, res.Until = rangeBound(m.Since), rangeBound(m.Until)
		if m.Entries > 0 {
			res.FirstIndex, res.LastIndex = &m.FirstIndex, &m.LastIndex
		}
		if m.Before {
			res.BeforeWitness = &rep.BeforeIndex
		}
		if m.After {
			res.AfterWitness = &rep.AfterIndex
		}
		res.CheckpointSize = m.CheckpointSize
		res.CheckpointRoot = base64.StdEncoding.EncodeToString(m.CheckpointRoot[:])
		res.Proven, res.Attested = rep.Proven(), rep.Attested()
	}
	if o.json {
		if err := writeJSON(a.io.Out, res); err != nil {
			return err
		}
	} else {
		printExportVerify(a.io.Out, res)
	}
	if !res.OK {
		return silentFail(ExitFailed)
	}
	return nil
}

// readInput reads a small input file named by flag: a missing file is a
// usage error.
func readInput(path, flag string) ([]byte, error) {
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, usageErrorf("%s %s: no such file", flag, path)
	case err != nil:
		return nil, ioErrorf("%s: %w", flag, err)
	}
	return b, nil
}

func rangeBound(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(time.RFC3339Nano)
	return &s
}

func printExportVerify(w io.Writer, r exportVerifyResult) {
	fmt.Fprintf(w, "export      %s (%s)\n", r.File, humanBytes(r.Bytes))
	if p := r.Problem; p != nil {
		printProblem(w, "the export does not verify", "", &verifyProblem{Line: p.Line, LogIndex: p.LogIndex, Reason: p.Reason})
		return
	}
	fmt.Fprintf(w, "tenant      %s, %s\n", r.Tenant, rangeText(r.Since, r.Until))
	if r.FirstIndex != nil {
		fmt.Fprintf(w, "entries     %d (log indexes %d to %d), %d signed by clients\n", r.Entries, *r.FirstIndex, *r.LastIndex, r.Signed)
	} else {
		fmt.Fprintf(w, "entries     none in the range\n")
	}
	fmt.Fprintf(w, "checkpoint  tree size %d, root %s, log %s\n", r.CheckpointSize, r.CheckpointRoot, r.Origin)
	for i, s := range r.Proven {
		label := "proven"
		if i > 0 {
			label = ""
		}
		fmt.Fprintf(w, "%-11s %s\n", label, s)
	}
	for i, s := range r.Attested {
		label := "attested"
		if i > 0 {
			label = ""
		}
		fmt.Fprintf(w, "%-11s %s\n", label, s)
	}
	if len(r.Attested) == 0 {
		fmt.Fprintf(w, "OK          the export verifies; everything in it is proven (%.2fs)\n", r.Seconds)
	} else {
		fmt.Fprintf(w, "OK          the export verifies; what is attested rests on the log's signature (%.2fs)\n", r.Seconds)
	}
}
