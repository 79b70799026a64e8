package cli

import (
	"bufio"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/logline/logline/internal/span"
)

type signOptions struct {
	key string
}

func (a *app) newSign() *cobra.Command {
	var o signOptions
	cmd := &cobra.Command{
		Use:   "sign --key FILE [IN|-]",
		Short: "Sign NDJSON spans client-side with an Ed25519 key",
		Long: `Sign every span of an NDJSON file (or standard input) with the key pair
in --key and write the signed spans, one per line, to standard output.

Each output span carries public_key, curr_hash (BLAKE3-256 of its JCS
form) and signature (Ed25519 over the 32 hash bytes). A span without an
id gets one ("s_" + ULID) before signing, because the server must not
change what was signed. Blank lines are skipped.

A line that is not a valid span is reported on standard error with its
line number and left out; the other lines are still written, and the
exit code is 1.`,
		Example: `  logline sign --key alice.key spans.ndjson > signed.ndjson
  cat spans.ndjson | logline sign --key alice.key - | logline ingest -`,
		Args: maxArgs(1),
		RunE: run(func(cmd *cobra.Command, args []string) error {
			in := "-"
			if len(args) == 1 {
				in = args[0]
			}
			return a.sign(o, in)
		}),
	}
	cmd.Flags().StringVar(&o.key, "key", "", "key pair file written by 'logline keys new' (required)")
	_ = cmd.MarkFlagFilename("key")
	return cmd
}

func (a *app) sign(o signOptions, in string) error {
	if o.key == "" {
		return usageErrorf("sign: --key FILE is required")
	}
	keyData, err := os.ReadFile(o.key)
	if err != nil {
		return ioErrorf("sign: read key: %w", err)
	}
	kp, err := span.ParseKeyFile(keyData)
	if err != nil {
		return usageErrorf("sign: key file %s: %v", o.key, err)
	}
	r, name, closeIn, err := a.openInput(in)
	if err != nil {
		return err
	}
	defer closeIn()

	opts := span.DecodeOptions{NewID: span.NewIDGenerator(time.Now, rand.Reader)}
	out := bufio.NewWriterSize(a.io.Out, 256<<10)
	lr := newLineReader(r, maxInputLine)
	var signed, bad int
	for {
		line, no, err := lr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if errors.Is(err, errLineTooLong) {
			bad++
			fmt.Fprintf(a.io.Err, "%s:%d: %v\n", name, no, err)
			continue
		}
		if err != nil {
			return ioErrorf("sign: read %s: %w", name, err)
		}
		if blank(line) {
			continue
		}
		res, err := span.Sign(line, kp, opts)
		if err != nil {
			bad++
			fmt.Fprintf(a.io.Err, "%s:%d: %v\n", name, no, err)
			continue
		}
		out.Write(res)
		if err := out.WriteByte('\n'); err != nil {
			return ioErrorf("sign: write: %w", err)
		}
		signed++
	}
	if err := out.Flush(); err != nil {
		return ioErrorf("sign: write: %w", err)
	}
	if bad > 0 {
		fmt.Fprintf(a.io.Err, "sign: %d span(s) signed, %d line(s) rejected\n", signed, bad)
		return silentFail(ExitFailed)
	}
	return nil
}

// openInput opens a file argument, "-" meaning standard input. name is
// what messages call it.
func (a *app) openInput(arg string) (r io.Reader, name string, closeFn func(), err error) {
	if arg == "-" || arg == "" {
		return a.io.In, "<stdin>", func() {}, nil
	}
	f, err := os.Open(arg)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, "", nil, usageErrorf("%s: no such file", arg)
		}
		return nil, "", nil, ioErrorf("open %s: %w", arg, err)
	}
	return f, arg, func() { f.Close() }, nil
}
