package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/logline/logline/internal/client"
)

type tailOptions struct {
	serverFlags
	cursor uint64
	tenant string
	follow bool
	json   bool
}

func (a *app) newTail() *cobra.Command {
	var o tailOptions
	cmd := &cobra.Command{
		Use:   "tail [--follow]",
		Short: "Print the log from a cursor on, optionally following it",
		Long: `Print stored entries in log order from --cursor (a log index, default 0)
through GET /ledger/stream: with --json as NDJSON, byte for byte as stored;
otherwise one compact line per entry.

Without --follow, tail stops at the end of the log. With --follow it keeps
printing new entries as they are committed and, when the connection
breaks or the server cuts it off, reconnects and resumes right after the
last entry printed: nothing is missed or repeated. Stop it with Ctrl-C
(exit 0).`,
		Example: `  logline tail --json > log.ndjson
  logline tail --follow --tenant acme
  logline tail --cursor 8000 --follow`,
		Args: noArgs,
		RunE: run(func(cmd *cobra.Command, _ []string) error {
			return a.tail(cmd.Context(), o)
		}),
	}
	o.serverFlags.register(cmd)
	f := cmd.Flags()
	f.Uint64Var(&o.cursor, "cursor", 0, "log index to start at")
	f.StringVar(&o.tenant, "tenant", "", "only entries of this tenant")
	f.BoolVar(&o.follow, "follow", false, "keep following the log; reconnect on errors")
	f.BoolVar(&o.json, "json", false, "print entries as NDJSON (the stored bytes)")
	return cmd
}

func (a *app) tail(ctx context.Context, o tailOptions) error {
	c, err := a.client(o.serverFlags)
	if err != nil {
		return err
	}
	next := o.cursor
	delay := firstRetryDelay
	emit := func(line []byte) error {
		v, err := parseEntryView(line)
		if err != nil {
			return err
		}
		if *v.LogIndex < next {
			return nil // already printed (never expected; guards a resume)
		}
		if o.json {
			err = writeEntry(a.io.Out, line, false)
		} else {
			_, err = fmt.Fprintln(a.io.Out, v.oneLine())
			if err != nil {
				err = ioErrorf("write: %w", err)
			}
		}
		next = *v.LogIndex + 1
		delay = firstRetryDelay
		return err
	}
	for {
		from := next
		end, err := c.Stream(ctx, client.StreamOptions{Cursor: from, Tenant: o.tenant, Follow: o.follow}, emit)
		if end.HasNext && end.Next > next {
			next = end.Next // entries of other tenants were skipped
		}
		switch {
		case err == nil && !o.follow:
			// Without follow the response ends at the end of the log,
			// or earlier when the server cut a slow reader off: go on
			// until a response makes no progress.
			if next == from {
				return nil
			}
			continue
		case errors.Is(err, context.Canceled) || ctx.Err() != nil:
			if o.follow {
				return nil // Ctrl-C is how a follow ends
			}
			return ctx.Err()
		case err != nil && !o.follow:
			return err
		case err != nil && !client.Retryable(err):
			return err
		}
		// Following: the server ended the response (shutdown, cut-off)
		// or the connection broke. Resume after the last entry.
		if err != nil {
			fmt.Fprintf(a.io.Err, "tail: %v; reconnecting in %s at log index %d\n", err, delay, next)
		}
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return nil
		}
		delay = min(2*delay, maxRetryDelay)
	}
}
