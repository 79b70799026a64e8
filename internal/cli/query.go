package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/logline/logline/internal/client"
)

type queryOptions struct {
	serverFlags
	q    client.Query
	all  bool
	json bool
}

func (a *app) newQuery() *cobra.Command {
	var o queryOptions
	cmd := &cobra.Command{
		Use:   "query --tenant T [filters]",
		Short: "List stored spans of a tenant that match filters",
		Long: `List the spans of one tenant that match every given filter, in log order.

People get a table (log_index, when, who, did, this, id); --json prints
the stored entries as NDJSON, byte for byte. One page of --limit entries
is printed; --all follows the cursors to the last page. Without --all,
the cursor of the next page is printed on standard error.

--since and --until are RFC 3339 times (inclusive / exclusive) on the
span's "when".`,
		Example: `  logline query --tenant t_receipt --this case:case-891
  logline query --tenant acme --did shipped --since 2026-01-01T00:00:00Z --all --json`,
		Args: noArgs,
		RunE: run(func(cmd *cobra.Command, _ []string) error {
			return a.query(cmd.Context(), o)
		}),
	}
	o.serverFlags.register(cmd)
	f := cmd.Flags()
	f.StringVar(&o.q.Tenant, "tenant", "", "tenant to query (required)")
	f.StringVar(&o.q.This, "this", "", "only spans about this thing")
	f.StringVar(&o.q.Who, "who", "", "only spans by this actor")
	f.StringVar(&o.q.Did, "did", "", "only spans with this action")
	f.StringVar(&o.q.EntityType, "entity-type", "", "only spans of this entity_type")
	f.StringVar(&o.q.TraceID, "trace-id", "", "only spans of this trace")
	f.StringVar(&o.q.Since, "since", "", "only spans with when >= this RFC 3339 time")
	f.StringVar(&o.q.Until, "until", "", "only spans with when < this RFC 3339 time")
	f.StringVar(&o.q.Cursor, "cursor", "", "start at this cursor (from a previous page)")
	f.IntVar(&o.q.Limit, "limit", 100, "entries per page (1-1000)")
	f.BoolVar(&o.all, "all", false, "follow cursors and print every page")
	f.BoolVar(&o.json, "json", false, "print the stored entries as NDJSON")
	return cmd
}

func (a *app) query(ctx context.Context, o queryOptions) error {
	if o.q.Tenant == "" {
		return usageErrorf("query: --tenant is required")
	}
	if o.q.Limit < 1 || o.q.Limit > 1000 {
		return usageErrorf("query: --limit must be between 1 and 1000")
	}
	for _, t := range []struct{ flag, v string }{{"since", o.q.Since}, {"until", o.q.Until}} {
		if t.v == "" {
			continue
		}
		if _, err := time.Parse(time.RFC3339Nano, t.v); err != nil {
			return usageErrorf("query: --%s %q is not an RFC 3339 time (like 2026-01-02T15:04:05Z)", t.flag, t.v)
		}
	}
	c, err := a.client(o.serverFlags)
	if err != nil {
		return err
	}
	total := 0
	q := o.q
	for {
		page, err := c.Query(ctx, q)
		if err != nil {
			return err
		}
		if err := a.printPage(page, o.json, total == 0); err != nil {
			return err
		}
		total += len(page.Spans)
		if page.NextCursor == "" {
			break
		}
		if !o.all {
			fmt.Fprintf(a.io.Err, "more results: --cursor %s (or --all)\n", page.NextCursor)
			break
		}
		q.Cursor = page.NextCursor
	}
	if total == 0 && !o.json {
		fmt.Fprintln(a.io.Err, "no matching spans")
	}
	return nil
}

// printPage prints one page as NDJSON or as table rows.
func (a *app) printPage(page client.Page, asJSON, header bool) error {
	if asJSON {
		for _, e := range page.Spans {
			if err := writeEntry(a.io.Out, e, false); err != nil {
				return err
			}
		}
		return nil
	}
	if len(page.Spans) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(a.io.Out, 0, 4, 2, ' ', 0)
	if header {
		fmt.Fprintln(tw, "LOG_INDEX\tWHEN\tWHO\tDID\tTHIS\tID")
	}
	for _, e := range page.Spans {
		v, err := parseEntryView(e)
		if err != nil {
			return err
		}
		id := v.ID
		if v.Seq > 0 {
			id = fmt.Sprintf("%s@%d", v.ID, v.Seq)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", *v.LogIndex, cell(v.When, 35),
			cell(v.Who, 32), cell(v.Did, 40), cell(v.This, 40), id)
	}
	if err := tw.Flush(); err != nil {
		return ioErrorf("write: %w", err)
	}
	return nil
}
