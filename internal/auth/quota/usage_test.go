package quota

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestUsage(t *testing.T) {
	clk := newFakeClock()
	u := NewUsage(UsageConfig{Now: clk.Now})
	u.AddIngestSpans("acme", 100)
	u.AddIngestSpans("acme", 20)
	u.AddDerivedSpans("acme", 14)
	u.AddExportBytes("acme", 250_000_000)
	u.AddWS("acme", 90*time.Second)
	u.AddWS("acme", -time.Second)
	u.AddIngestSpans("beta", 1)

	want := map[string]Counters{
		"acme": {IngestSpans: 120, DerivedSpans: 14, ExportBytes: 250_000_000, WS: 90 * time.Second},
		"beta": {IngestSpans: 1},
	}
	if diff := cmp.Diff(want, u.Snapshot()); diff != "" {
		t.Errorf("Snapshot (-want +got):\n%s", diff)
	}
	if got := u.Get("acme"); got.ExportsGB() != 0.25 || got.WSMinutes() != 1.5 {
		t.Errorf("ExportsGB, WSMinutes = %v, %v, want 0.25, 1.5", got.ExportsGB(), got.WSMinutes())
	}
	if got := u.Get("nobody"); got != (Counters{}) {
		t.Errorf("Get(nobody) = %+v, want zero", got)
	}
	var order []string
	u.Each(func(tenant string, c Counters) {
		order = append(order, tenant)
		if c != want[tenant] {
			t.Errorf("Each(%s) = %+v, want %+v", tenant, c, want[tenant])
		}
	})
	if diff := cmp.Diff([]string{"acme", "beta"}, order); diff != "" {
		t.Errorf("Each order (-want +got):\n%s", diff)
	}
}

func TestUsageJSON(t *testing.T) {
	snap := map[string]Counters{
		"acme": {IngestSpans: 120, DerivedSpans: 14, ExportBytes: 250_000_000, WS: 90 * time.Second},
		"beta": {IngestSpans: 1},
	}
	b, err := json.Marshal(snap)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "metrics_public.json", append(b, '\n'))
	var back map[string]Counters
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	if diff := cmp.Diff(snap, back); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestCountersUnmarshalRefuses(t *testing.T) {
	tests := []struct {
		name, in string
		want     error
	}{
		{"negative gb", `{"exports_gb":-1}`, ErrBadCounters},
		{"huge gb", `{"exports_gb":1e300}`, ErrBadCounters},
		{"negative minutes", `{"ws_minutes":-0.5}`, ErrBadCounters},
		{"huge minutes", `{"ws_minutes":1e20}`, ErrBadCounters},
		{"negative count", `{"ingest_spans_count":-1}`, nil},
		{"not an object", `[1]`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Counters
			err := json.Unmarshal([]byte(tt.in), &c)
			if err == nil {
				t.Fatalf("Unmarshal(%s) = %+v, want an error", tt.in, c)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("Unmarshal(%s): got %v, want %v", tt.in, err, tt.want)
			}
		})
	}
}

func TestWSSession(t *testing.T) {
	clk := newFakeClock()
	u := NewUsage(UsageConfig{Now: clk.Now})
	s := u.StartWS("acme")
	clk.Advance(30 * time.Second)
	s.Flush()
	if got := u.Get("acme").WS; got != 30*time.Second {
		t.Errorf("after Flush: %v, want 30s", got)
	}
	clk.Advance(45 * time.Second)
	s.End()
	clk.Advance(time.Hour)
	s.End()
	s.Flush()
	if got := u.Get("acme").WSMinutes(); got != 1.25 {
		t.Errorf("after End: %v minutes, want 1.25", got)
	}
}

func TestUsageConcurrent(t *testing.T) {
	u := NewUsage(UsageConfig{})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				tenant := fmt.Sprintf("t%d", (g+i)%10)
				u.AddIngestSpans(tenant, 1)
				u.AddExportBytes(tenant, 2)
				if i%100 == 0 {
					u.Snapshot()
				}
			}
		})
	}
	wg.Wait()
	var spans, bytes uint64
	u.Each(func(_ string, c Counters) { spans += c.IngestSpans; bytes += c.ExportBytes })
	if spans != 8000 || bytes != 16000 {
		t.Errorf("totals %d spans, %d bytes, want 8000, 16000", spans, bytes)
	}
}
