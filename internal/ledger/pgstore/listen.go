package pgstore

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// notifyChannel is Blueprint4's channel. Its payload is the last log
// index a committed INSERT added (one notification per statement), never
// the row: NOTIFY payloads are limited to 8000 bytes, which Blueprint4's
// row_to_json(NEW) exceeds for large spans.
const notifyChannel = "timeline_updates"

// listen follows other nodes' commits: on a notification past this node's
// size, and every PollInterval in any case, it reads the committed log
// state and publishes it (Wait returns, the stream reads on). A lost
// connection is re-established with a catch-up read.
func (s *Store) listen(ctx context.Context) {
	defer close(s.listenDone)
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := s.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("ledger listener: connection lost; reconnecting", "err", err, "in", backoff.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (s *Store) listenOnce(ctx context.Context) error {
	conn, err := connect(ctx, s.cfg.URL)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{notifyChannel}.Sanitize()); err != nil {
		return err
	}
	s.catchUp(ctx)
	for {
		wctx, cancel := context.WithTimeout(ctx, s.cfg.PollInterval)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, context.DeadlineExceeded):
			s.catchUp(ctx)
			continue
		case err != nil:
			return err
		}
		idx, err := strconv.ParseUint(n.Payload, 10, 63)
		if err != nil || idx+1 > s.Size() {
			s.catchUp(ctx)
		}
	}
}

// catchUp publishes the committed log state. Errors are logged: the next
// notification or poll tries again.
func (s *Store) catchUp(ctx context.Context) {
	var st logState
	err := s.inTx(ctx, systemScope, true, func(tx pgx.Tx) error {
		var err error
		st, err = readState(ctx, tx)
		return err
	})
	if err != nil {
		if ctx.Err() == nil && !s.isClosed() {
			s.log.Warn("ledger listener: read log state", "err", err)
		}
		return
	}
	if st.size > s.Size() {
		_ = s.publish(st.size, st.root) // a signing failure stops the store
	}
}
