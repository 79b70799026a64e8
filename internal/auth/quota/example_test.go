package quota_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/logline/logline/internal/auth/quota"
)

// The gateway charges a request, then the spans and bytes of a streamed
// NDJSON ingest batch by batch, and answers 429 when a fail-fast charge is
// refused.
func Example() {
	now := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	l, err := quota.New(quota.Config{Now: func() time.Time { return now }})
	if err != nil {
		panic(err)
	}
	// From tenant.yaml: 5 requests/s (burst 2) for the tenant, 100 spans/s
	// for its writers.
	err = l.Set("acme",
		quota.Limits{Requests: quota.Limit{PerSecond: 5, Burst: 2}},
		map[string]quota.Limits{"writer": {Spans: quota.Limit{PerSecond: 100, Burst: 100}}})
	if err != nil {
		panic(err)
	}

	handler := func(w http.ResponseWriter, r *http.Request) {
		if d := l.Allow("acme", "writer", quota.Cost{Requests: 1}); !d.OK {
			quota.WriteTooMany(w, d)
			return
		}
		// For each batch of decoded lines: fail fast here, or
		// l.Wait(r.Context(), …) to slow the stream to its quota. (A
		// single-span POST charges its request, span and bytes at once.)
		if d := l.Allow("acme", "writer", quota.Cost{Spans: 60, Bytes: 12_000}); !d.OK {
			quota.WriteTooMany(w, d)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}
	for range 3 {
		rec := httptest.NewRecorder()
		handler(rec, httptest.NewRequest("POST", "/ingest", nil))
		if rec.Code != http.StatusTooManyRequests {
			fmt.Println(rec.Code)
			continue
		}
		fmt.Printf("%d Retry-After: %s\n%s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	// Output:
	// 202
	// 429 Retry-After: 1
	// {"type":"https://logline.dev/problems/too-many-requests","title":"Too Many Requests","status":429,"detail":"the role's spans-per-second quota is exhausted; retry in 200ms","code":"too_many_requests","dimension":"spans","scope":"role","retry_after_ms":200}
	// 429 Retry-After: 1
	// {"type":"https://logline.dev/problems/too-many-requests","title":"Too Many Requests","status":429,"detail":"the tenant's requests-per-second quota is exhausted; retry in 200ms","code":"too_many_requests","dimension":"requests","scope":"tenant","retry_after_ms":200}
}

func ExampleUsage() {
	u := quota.NewUsage(quota.UsageConfig{})
	u.AddIngestSpans("acme", 1200)
	u.AddExportBytes("acme", 1_500_000_000)
	u.AddWS("acme", 90*time.Second)
	u.Each(func(tenant string, c quota.Counters) {
		fmt.Printf("%s ingest_spans_count=%d exports_gb=%g ws_minutes=%g\n",
			tenant, c.IngestSpans, c.ExportsGB(), c.WSMinutes())
	})
	// Output:
	// acme ingest_spans_count=1200 exports_gb=1.5 ws_minutes=1.5
}
