package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/logline/logline/internal/client"
)

type getOptions struct {
	serverFlags
	tenant string
	seq    int64
	json   bool
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
A missing span exits with 1.`,
		Example: `  logline get s_c97abf2e3398ec71a1d3
  logline get --tenant acme --seq 0 order-17 --json`,
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
	return writeEntry(a.io.Out, entry, a.io.OutTTY && !o.json)
}
