package cli

import (
	"context"
	"errors"
	"fmt"
)

// logResult is the JSON report of verify --log.
type logResult struct {
	OK           bool    `json:"ok"`
	Server       string  `json:"server"`
	Origin       string  `json:"origin,omitempty"`
	Size         uint64  `json:"size"`
	Root         []byte  `json:"root,omitempty"` // standard base64
	PreviousSize *uint64 `json:"previous_size,omitempty"`
	Problem      string  `json:"problem,omitempty"`
}

// verifyLog checks, trusting only the log key, that the server's latest
// checkpoint is signed and extends the newest checkpoint this client
// verified before, and then remembers it. Run regularly (or before relying
// on a proof), it detects a log that was rolled back or forked.
func (a *app) verifyLog(ctx context.Context, o verifyOptions) error {
	c, err := a.client(o.serverFlags)
	if err != nil {
		return err
	}
	tl, said, err := checkLogGrowth(ctx, c, o.server, o.trustDir, o.logKey)
	if err == nil {
		err = tl.remember()
	}
	res := logResult{OK: err == nil, Server: o.server}
	if tl != nil {
		res.Origin, res.Size, res.Root = tl.origin, tl.checkpoint.Size, tl.checkpoint.Root[:]
		if tl.previous != nil {
			res.PreviousSize = &tl.previous.Size
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != ExitFailed {
			return err // usage, network, I/O
		}
		res.Problem = ee.err.Error()
	}
	if o.json {
		if werr := writeJSON(a.io.Out, res); werr != nil {
			return werr
		}
	} else {
		w := a.io.Out
		for _, s := range said {
			fmt.Fprintln(w, s)
		}
		if err != nil {
			fmt.Fprintf(w, "FAILED      %s\n", res.Problem)
		} else {
			fmt.Fprintf(w, "OK          checkpoint of size %d verified and remembered\n", res.Size)
		}
	}
	if err != nil {
		return silentFail(ExitFailed)
	}
	return nil
}
