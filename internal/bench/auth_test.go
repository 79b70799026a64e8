package bench

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/logline/logline/internal/span"
)

// checkAuth checks the auth section of a small run: every part filled
// in, the noisy tenant both served and refused. No timed assertion.
func checkAuth(t *testing.T, a Auth, cfg Config) {
	t.Helper()
	if a.Skipped != "" || a.Error != "" {
		t.Fatalf("auth: %+v", a)
	}
	for _, in := range []Throughput{a.IngestOff, a.Ingest} {
		if in.Spans != 2*cfg.Spans || in.SpansPerSec <= 0 || in.Bytes <= 0 || in.Partial || in.Error != "" {
			t.Errorf("auth ingest %s: %+v", in.Name, in)
		}
	}
	if a.Ingest.Bytes != a.IngestOff.Bytes || a.Share <= 0 {
		t.Errorf("auth on and off sent different bodies (%d and %d bytes), share %v", a.Ingest.Bytes, a.IngestOff.Bytes, a.Share)
	}
	if v := a.Verify; v.Verifies != cfg.AuthVerifies || v.Tokens != min(cfg.AuthVerifies, maxVerifyTokens) ||
		v.FirstPerSec <= 0 || v.FirstParallelPerSec <= 0 || v.CachedPerSec <= 0 || v.Error != "" {
		t.Errorf("LLST verify: %+v", v)
	}
	n := a.Neighbour
	half := int(cfg.QuietRate * cfg.NeighbourPeriod.Seconds() / 2)
	for what, l := range map[string]Latency{"alone": n.Unloaded, "beside": n.Loaded} {
		if l.Requests != 2*half || l.P50 <= 0 || l.P50 > l.P99 || l.P99 > l.Max {
			t.Errorf("quiet tenant %s: %+v", what, l)
		}
	}
	if n.NoisySent == 0 || n.NoisyAccepted+n.NoisyRefused != n.NoisySent || n.NoisyAccepted == 0 || n.NoisyRefused == 0 ||
		n.NoisyOther != 0 || n.NoisyAllowed <= 0 || n.P99Ratio <= 0 || n.Error != "" {
		t.Errorf("noisy neighbour: %+v", n)
	}
}

func TestRetenant(t *testing.T) {
	c, err := loadCorpus("") // generated: tenant "bench"
	if err != nil {
		t.Fatal(err)
	}
	if !c.oneTenant() {
		t.Fatal("generated corpus has several tenants")
	}
	r, err := c.retenant(quietTenant)
	if err != nil {
		t.Fatal(err)
	}
	d := newIDs()
	for i, line := range r.lines(d, "r", len(c.tmpl)+1) {
		sp, err := span.Decode(line, span.DecodeOptions{})
		if err != nil {
			t.Fatalf("span %d: %v", i, err)
		}
		if sp.Tenant != quietTenant || sp.ID != d.id("r", i) || r.tenant(i) != quietTenant {
			t.Errorf("span %d: tenant %q id %q", i, sp.Tenant, sp.ID)
		}
	}
	c.tmpl = append(c.tmpl, r.tmpl[0])
	if c.oneTenant() {
		t.Error("a corpus of two tenants reported as one")
	}
}

func TestPaced(t *testing.T) {
	var calls atomic.Int64
	seen := make([]atomic.Bool, 100)
	dropped := paced(context.Background(), 1e6, len(seen), func(_ context.Context, i int) {
		calls.Add(1)
		seen[i].Store(true)
	})
	if dropped != 0 || calls.Load() != int64(len(seen)) {
		t.Errorf("paced: %d calls, %d dropped; want %d, 0", calls.Load(), dropped, len(seen))
	}
	for i := range seen {
		if !seen[i].Load() {
			t.Errorf("op %d not called", i)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if dropped := paced(ctx, 1, 5, func(context.Context, int) { t.Error("op called after ctx ended") }); dropped != 5 {
		t.Errorf("paced with ctx done: %d dropped, want 5", dropped)
	}
}
