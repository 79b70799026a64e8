package tenantrates

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// clock is a settable clock, safe for concurrent use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// op is one outcome counted at t0+at: a request served with status, or
// (status 0) a refused token.
type op struct {
	at     time.Duration
	tenant string
	status int
}

// want is what a tenant's figures are at t0+at.
type want struct {
	at       time.Duration
	tenant   string
	rate5xx  float64
	invalid  float64
	tenants  []string // Tenants() then, when not nil
	noTenant bool     // Tenants() is empty then
}

func TestFigures(t *testing.T) {
	served := func(at time.Duration, tenant string, status int) op { return op{at, tenant, status} }
	refused := func(at time.Duration, tenant string) op { return op{at, tenant, 0} }
	tests := []struct {
		name  string
		ops   []op
		wants []want
	}{
		{
			name:  "no requests is 0",
			wants: []want{{at: 0, tenant: "acme", noTenant: true}},
		},
		{
			name: "share of 5xx answers",
			ops: []op{served(0, "acme", 200), served(time.Second, "acme", 201), served(2*time.Second, "acme", 404),
				served(3*time.Second, "acme", 503)},
			wants: []want{{at: 4 * time.Second, tenant: "acme", rate5xx: 0.25, tenants: []string{"acme"}}},
		},
		{
			name:  "4xx and 429 are not 5xx",
			ops:   []op{served(0, "acme", 403), served(0, "acme", 429), served(0, "acme", 500), served(0, "acme", 599)},
			wants: []want{{at: 0, tenant: "acme", rate5xx: 0.5}},
		},
		{
			name: "the window slides by buckets",
			ops:  []op{served(0, "acme", 500), served(2*time.Minute, "acme", 200)},
			wants: []want{
				{at: time.Minute, tenant: "acme", rate5xx: 1},
				{at: 4*time.Minute + 59*time.Second, tenant: "acme", rate5xx: 0.5},
				{at: 5 * time.Minute, tenant: "acme", rate5xx: 0}, // the first bucket left the window
				{at: 6*time.Minute + 59*time.Second, tenant: "acme", rate5xx: 0, tenants: []string{"acme"}},
				{at: 7 * time.Minute, tenant: "acme", rate5xx: 0, noTenant: true}, // evicted
			},
		},
		{
			name:  "a bucket reused after a ring is emptied first",
			ops:   []op{served(0, "acme", 500), served(5*time.Minute, "acme", 200)},
			wants: []want{{at: 5 * time.Minute, tenant: "acme", rate5xx: 0}},
		},
		{
			name:  "refused tokens of a known tenant",
			ops:   []op{served(0, "acme", 200), refused(time.Second, "acme"), refused(time.Second, "acme"), refused(time.Second, "acme")},
			wants: []want{{at: time.Minute, tenant: "acme", rate5xx: 0, invalid: 0.75}},
		},
		{
			name:  "refused tokens naming an unknown tenant are not kept",
			ops:   []op{refused(0, "ghost"), served(0, "acme", 200)},
			wants: []want{{at: 0, tenant: "ghost", invalid: 0, tenants: []string{"acme"}}},
		},
		{
			name: "refused tokens keep a tenant known",
			ops:  []op{served(0, "acme", 200), refused(4*time.Minute, "acme")},
			wants: []want{
				{at: 6 * time.Minute, tenant: "acme", invalid: 1, tenants: []string{"acme"}},
				{at: 9 * time.Minute, tenant: "acme", invalid: 0, noTenant: true},
			},
		},
		{
			name: "tenants apart",
			ops:  []op{served(0, "acme", 500), served(0, "beta", 200), refused(0, "beta")},
			wants: []want{
				{at: 0, tenant: "acme", rate5xx: 1, invalid: 0, tenants: []string{"acme", "beta"}},
				{at: 0, tenant: "beta", rate5xx: 0, invalid: 0.5},
			},
		},
		{
			name:  "time before the last bucket counted",
			ops:   []op{served(time.Minute, "acme", 500), served(0, "acme", 200)},
			wants: []want{{at: time.Minute, tenant: "acme", rate5xx: 0.5}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &clock{t: t0}
			r := New(Config{Now: c.Now})
			for _, o := range tt.ops {
				c.Set(t0.Add(o.at))
				if o.status == 0 {
					r.Refused(o.tenant)
				} else {
					r.Served(o.tenant, o.status)
				}
			}
			for _, w := range tt.wants {
				c.Set(t0.Add(w.at))
				if got, ok := r.Figure(w.tenant, Status5xxRate); !ok || got != w.rate5xx {
					t.Errorf("at %v: %s %s = %v, %v; want %v", w.at, w.tenant, Status5xxRate, got, ok, w.rate5xx)
				}
				if got, ok := r.Figure(w.tenant, JWTInvalidRate); !ok || got != w.invalid {
					t.Errorf("at %v: %s %s = %v, %v; want %v", w.at, w.tenant, JWTInvalidRate, got, ok, w.invalid)
				}
				switch got := r.Tenants(); {
				case w.noTenant && len(got) != 0:
					t.Errorf("at %v: tenants %v, want none", w.at, got)
				case w.tenants != nil && !slices.Equal(got, w.tenants):
					t.Errorf("at %v: tenants %v, want %v", w.at, got, w.tenants)
				}
			}
		})
	}
}

func TestFigureUnknownName(t *testing.T) {
	r := New(Config{})
	r.Served("acme", 500)
	if v, ok := r.Figure("acme", "quality.p95.current"); ok {
		t.Errorf("got %v, true for a name Rates does not have; want false", v)
	}
	got := r.Figures("acme")
	if len(got) != 4 || got[Status5xxRate] != 1 || got[JWTInvalidRate] != 0 || got[Requests] != 1 || got[TokenAttempts] != 1 {
		t.Errorf("Figures = %v", got)
	}
}

// TestBounded: past MaxTenants new tenants are not counted, until idle
// ones are evicted to make room.
func TestBounded(t *testing.T) {
	c := &clock{t: t0}
	r := New(Config{Now: c.Now, MaxTenants: numShards}) // one per shard
	for i := range 200 {
		r.Served(fmt.Sprintf("t%d", i), 200)
	}
	if got := len(r.Tenants()); got > numShards || got == 0 {
		t.Fatalf("%d tenants kept, want 1 to %d", got, numShards)
	}
	// A window later every one of them is idle: a new tenant takes the
	// place of the one in its shard.
	c.Set(t0.Add(DefaultWindow))
	r.Served("late", 500)
	if v, _ := r.Figure("late", Status5xxRate); v != 1 {
		t.Errorf("late tenant's 5xx rate %v, want 1", v)
	}
	if got := r.Tenants(); !slices.Equal(got, []string{"late"}) {
		t.Errorf("tenants %v, want [late]", got)
	}
}

func TestConcurrent(t *testing.T) {
	r := New(Config{})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			tenant := fmt.Sprintf("t%d", g%3)
			for i := range 1000 {
				r.Served(tenant, 200+300*(i%2))
				r.Refused(tenant)
				_, _ = r.Figure(tenant, Status5xxRate)
				if i%100 == 0 {
					_ = r.Tenants()
				}
			}
		})
	}
	wg.Wait()
	for _, tenant := range []string{"t0", "t1", "t2"} {
		if v, _ := r.Figure(tenant, Status5xxRate); v != 0.5 {
			t.Errorf("%s 5xx rate %v, want 0.5", tenant, v)
		}
		if v, _ := r.Figure(tenant, JWTInvalidRate); v != 0.5 {
			t.Errorf("%s invalid rate %v, want 0.5", tenant, v)
		}
	}
}

// BenchmarkServed is what the gateway adds to each request with a token
// that verified: one Served call (its clock read, the shard's lock, the
// bucket's counters).
func BenchmarkServed(b *testing.B) {
	for _, tenants := range []int{1, 1000} {
		names := make([]string, tenants)
		for i := range names {
			names[i] = fmt.Sprintf("tenant-%d", i)
		}
		b.Run(fmt.Sprintf("tenants=%d", tenants), func(b *testing.B) {
			r := New(Config{})
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				r.Served(names[i%tenants], 200)
				i++
			}
		})
		b.Run(fmt.Sprintf("tenants=%d/parallel", tenants), func(b *testing.B) {
			r := New(Config{})
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					r.Served(names[i%tenants], 200)
					i++
				}
			})
		})
	}
}
