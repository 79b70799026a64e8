package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/logline/logline/internal/client"
)

type getOptions struct {
	serverFlags
	tenant   string
	seq      int64
	json     bool
	verify   bool
	logKey   string
	trustDir string
}

func (a *app) newGet() *cobra.Command {
	var o getOptions
	cmd := &cobra.Command{
		Use:   "get ID",
		Short: "Print one stored span by id",
		Long: `Print the stored entry of span ID (its latest version, or --seq N).

On a terminal the entry is indented; with --json, or when the output is
piped, it is printed byte for byte as stored (one JCS line, the Merkle
leaf). Without --tenant, an id found in exactly one tenant is returned.
A missing span exits with 1.

With --verify the client proves the entry is in the server's log, trusting
only the log key: the entry's content hash (and signature), the signature
of the latest checkpoint, the checkpoint's consistency with the newest one
this client verified before (a rollback or a fork fails), and the entry's
inclusion proof. The log key is pinned on first use (or given with
--log-key) and the newest verified checkpoint kept, in --trust-dir. What
was verified is reported on standard error; any failure exits with 1.`,
		Example: `  logline get s_c97abf2e3398ec71a1d3
  logline get --tenant acme --seq 0 order-17 --json
  logline get s_c97abf2e3398ec71a1d3 --verify`,
		Args: exactArgs(1),
		RunE: run(func(cmd *cobra.Command, args []string) error {
			return a.get(cmd.Context(), o, args[0])
		}),
	}
	o.serverFlags.register(cmd)
	f := cmd.Flags()
	f.StringVar(&o.tenant, "tenant", "", "tenant of the span")
	f.Int64Var(&o.seq, "seq", -1, "version to print (default: the latest)")
	f.BoolVar(&o.json, "json", false, "print the stored line as is")
	f.BoolVar(&o.verify, "verify", false, "prove the entry is in the log (checkpoint, consistency, inclusion)")
	f.StringVar(&o.logKey, "log-key", "", "with --verify: file with the log key(s) to trust (default: pinned on first use)")
	f.StringVar(&o.trustDir, "trust-dir", defaultTrustDir(), "with --verify: where pinned log keys and verified checkpoints are kept")
	return cmd
}

func (a *app) get(ctx context.Context, o getOptions, id string) error {
	c, err := a.client(o.serverFlags)
	if err != nil {
		return err
	}
	entry, err := c.Get(ctx, id, o.tenant, o.seq)
	if err != nil {
		if client.IsNotFound(err) {
			return failErrorf("get %s: not found", id)
		}
		return err
	}
	if err := writeEntry(a.io.Out, entry, a.io.OutTTY && !o.json); err != nil {
		return err
	}
	if !o.verify {
		return nil
	}
	said, err := a.verifyEntry(ctx, c, o, entry)
	if err != nil {
		fmt.Fprintf(a.io.Err, "NOT VERIFIED\n")
		return err
	}
	for _, line := range said {
		fmt.Fprintln(a.io.Err, line)
	}
	fmt.Fprintln(a.io.Err, "VERIFIED    the entry is in the log this client trusts")
	return nil
}
