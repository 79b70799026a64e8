package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/logline/logline/internal/ledger"
)

const (
	// trailerNextCursor names the trailer that tells where to resume.
	trailerNextCursor = "Logline-Next-Cursor"
	// streamChunkEntries bounds the entries read per Store.ReadRaw call;
	// each chunk is written and flushed as a whole.
	streamChunkEntries = 256
)

// streamEnd says why a stream ended.
type streamEnd int

const (
	endOfLog       streamEnd = iota // not following: the log's end was reached
	endClientGone                   // the request context ended or a write failed
	endSlowClient                   // a chunk took more than half the write timeout
	endShutdown                     // Server.Shutdown was called
	endStoreClosed                  // the store is closed
	endError                        // the store failed (logged)
)

func (e streamEnd) String() string {
	return [...]string{"end_of_log", "client_gone", "slow_client", "shutdown", "store_closed", "error"}[e]
}

// handleStream serves GET /ledger/stream: stored entries from a cursor on,
// as NDJSON or SSE, optionally following the log. It pulls from the store
// (ReadRaw, then Wait), so a slow reader never slows ingest; one that does
// not take data for StreamWriteTimeout is dropped, and one whose chunks
// take more than half of it is cut off cleanly with its resume cursor.
func (s *Server) handleStream(w http.ResponseWriter, r *http.Request) {
	sp, err := parseStream(r.URL.RawQuery, r.Header.Get("Accept"), r.Header.Get("Last-Event-ID"))
	if err == nil {
		sp.tenant, err = scopeTenant(r.Context(), sp.tenant)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.begin()
	defer s.end()

	h := w.Header()
	h.Set("Trailer", trailerNextCursor)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if sp.sse {
		h.Set("Content-Type", "text/event-stream")
		h.Set("X-Accel-Buffering", "no")
	} else {
		h.Set("Content-Type", "application/x-ndjson")
	}
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	if !s.writeChunk(w, rc, nil) { // send the headers now
		return
	}

	ctx, cancel := s.stoppable(r.Context())
	defer cancel()

	next, end := s.streamFrom(ctx, w, rc, sp)
	if s.isStopping() && end == endClientGone && r.Context().Err() == nil {
		end = endShutdown
	}
	h.Set(trailerNextCursor, strconv.FormatUint(next, 10))
	if sp.sse && end != endOfLog && end != endClientGone {
		s.writeChunk(w, rc, []byte("event: cutoff\ndata: {\"cursor\":"+strconv.FormatUint(next, 10)+"}\n\n"))
	}
	if end != endOfLog {
		s.log.LogAttrs(r.Context(), slog.LevelDebug, "gateway: stream ended",
			slog.String("reason", end.String()), slog.Uint64("next_cursor", next))
	}
}

// streamFrom sends entries from sp.cursor on and returns the log index to
// resume at (every entry before it was sent or filtered out) and why it
// stopped.
func (s *Server) streamFrom(ctx context.Context, w http.ResponseWriter, rc *http.ResponseController, sp streamParams) (uint64, streamEnd) {
	next := sp.cursor
	buf := make([]byte, 0, 64<<10)
	for {
		if ctx.Err() != nil {
			return next, endClientGone
		}
		size := s.store.Size()
		if next < size {
			end := min(size, next+streamChunkEntries)
			buf = buf[:0]
			scanned := next
			err := s.store.ReadRaw(ctx, next, end, func(i uint64, line []byte) error {
				scanned = i + 1
				if sp.tenant != "" && tenantOf(line) != sp.tenant {
					return nil
				}
				buf = appendStreamEntry(buf, sp.sse, i, line)
				return nil
			})
			if err != nil {
				if ctx.Err() != nil {
					return next, endClientGone
				}
				if errors.Is(err, ledger.ErrClosed) {
					return next, endStoreClosed
				}
				s.log.ErrorContext(ctx, "gateway: stream read", "from", next, "err", err)
				return next, endError
			}
			if scanned == next { // the store gave nothing below its own size
				s.log.ErrorContext(ctx, "gateway: stream read returned no entries", "from", next, "size", size)
				return next, endError
			}
			if len(buf) > 0 {
				start := time.Now()
				if !s.writeChunk(w, rc, buf) {
					return next, endClientGone // the connection is broken: no marker can follow
				}
				next = scanned
				if time.Since(start) > s.writeTimeout/2 {
					return next, endSlowClient
				}
			}
			next = scanned
			continue
		}
		if !sp.follow {
			return next, endOfLog
		}
		wctx, wcancel := context.WithTimeout(ctx, s.heartbeat)
		_, err := s.store.Wait(wctx, size)
		wcancel()
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return next, endClientGone
		case errors.Is(err, context.DeadlineExceeded):
			if sp.sse && !s.writeChunk(w, rc, []byte(": heartbeat\n\n")) {
				return next, endClientGone
			}
		case errors.Is(err, ledger.ErrClosed):
			return next, endStoreClosed
		default:
			s.log.ErrorContext(ctx, "gateway: stream wait", "size", size, "err", err)
			return next, endError
		}
	}
}

// appendStreamEntry frames one stored line: NDJSON "line\n", or an SSE
// event whose id is the log index (a JCS line never holds a raw newline,
// so one data field carries it).
func appendStreamEntry(b []byte, sse bool, index uint64, line []byte) []byte {
	if !sse {
		b = append(b, line...)
		return append(b, '\n')
	}
	b = append(b, "id: "...)
	b = strconv.AppendUint(b, index, 10)
	b = append(b, "\nevent: span\ndata: "...)
	b = append(b, line...)
	return append(b, "\n\n"...)
}

// tenantOf returns the tenant of a stored entry ("" if it has none).
func tenantOf(line []byte) string {
	var v struct {
		Tenant string `json:"tenant"`
	}
	if json.Unmarshal(line, &v) != nil {
		return ""
	}
	return v.Tenant
}
