package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/ledger/segment"
)

type reindexOptions struct {
	data string
	json bool
}

func (a *app) newReindex() *cobra.Command {
	var o reindexOptions
	cmd := &cobra.Command{
		Use:   "reindex --data DIR",
		Short: "Rebuild the index of a data directory from its segments",
		Long: `Throw away the Pebble index in --data and rebuild it from the segment
files, which are the source of truth. The result is the same index the
server built while ingesting. The server must not be running on DIR.`,
		Example: `  logline reindex --data ./data`,
		Args:    noArgs,
		RunE: run(func(cmd *cobra.Command, _ []string) error {
			return a.reindex(cmd.Context(), o)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&o.data, "data", DefaultData, "data directory of the embedded store")
	f.BoolVar(&o.json, "json", false, "print {\"entries\",\"seconds\"} as JSON")
	_ = cmd.MarkFlagDirname("data")
	return cmd
}

func (a *app) reindex(ctx context.Context, o reindexOptions) error {
	if err := checkDataDir(o.data); err != nil {
		return err
	}
	log, err := a.logger()
	if err != nil {
		return err
	}
	n, took, err := segment.Reindex(ctx, segment.Config{Dir: o.data, Logger: log})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, ledger.ErrCorrupt) {
			return failErrorf("reindex %s: %w", o.data, err)
		}
		return ioErrorf("reindex %s: %w", o.data, err)
	}
	if o.json {
		return writeJSON(a.io.Out, struct {
			Data    string  `json:"data"`
			Entries uint64  `json:"entries"`
			Seconds float64 `json:"seconds"`
		}{o.data, n, took.Seconds()})
	}
	fmt.Fprintf(a.io.Out, "reindexed %d entries in %s\n", n, took.Round(time.Millisecond))
	return nil
}
