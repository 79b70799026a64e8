package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/ledger/segment"
	"github.com/logline/logline/internal/span"
)

// overloadedStore refuses every append as the data plane's backpressure
// does (reject_429).
type overloadedStore struct{ ledger.Store }

func (overloadedStore) Append(context.Context, []*span.Span) ([]ledger.Outcome, error) {
	return nil, &ledger.OverloadError{Reason: "the data plane of tenant acme is overloaded (max_per_minute)", RetryAfter: 42 * time.Second}
}

// TestOverloadIs429: an append refused under load answers 429 with
// Retry-After, for one span and for an NDJSON body (per line).
func TestOverloadIs429(t *testing.T) {
	st, err := segment.Open(context.Background(), segment.Config{Dir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvWith(t, st, overloadedStore{st}, nil)
	resp, body := e.postJSON("/ingest", spanJSON(nil), nil)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "42" ||
		!strings.Contains(string(body), `"retry_after_ms":42000`) || !strings.Contains(string(body), "max_per_minute") {
		t.Fatalf("one span: %d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	resp, body = e.do("POST", "/ingest", "application/x-ndjson", strings.NewReader(spanJSON(map[string]any{"id": "a"})+"\n"+spanJSON(map[string]any{"id": "b"})+"\n"), nil)
	if !strings.Contains(string(body), `"code":"too_many_requests"`) {
		t.Fatalf("NDJSON: %d %s", resp.StatusCode, body)
	}
	if st.Size() != 0 {
		t.Fatalf("%d entries stored under overload", st.Size())
	}
}
