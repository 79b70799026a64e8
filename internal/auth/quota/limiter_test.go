package quota

import (
	"context"
	"errors"
	"io"
	"math"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"
)

// fakeClock is a clock tests move by hand. Its sleep advances the clock by
// the duration asked and records it, so Wait returns at once.
type fakeClock struct {
	mu     sync.Mutex
	t      time.Time
	slept  []time.Duration
	sleepF func(ctx context.Context, d time.Duration) error // overrides sleep when set
}

// newFakeClock starts in the future, so that a context deadline taken from
// the fake clock has not passed in real time.
func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2100, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if c.sleepF != nil {
		return c.sleepF(ctx, d)
	}
	c.mu.Lock()
	c.slept = append(c.slept, d)
	c.t = c.t.Add(d)
	c.mu.Unlock()
	return nil
}

func newTestLimiter(t testing.TB, clk *fakeClock, cfg Config) *Limiter {
	t.Helper()
	cfg.Now = clk.Now
	cfg.Sleep = clk.Sleep
	l, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return l
}

func mustSet(t testing.TB, l *Limiter, tenant string, tl Limits, roles map[string]Limits) {
	t.Helper()
	if err := l.Set(tenant, tl, roles); err != nil {
		t.Fatalf("Set(%q): %v", tenant, err)
	}
}

var ok = Decision{OK: true}

func denied(d time.Duration, dim, scope string) Decision {
	return Decision{RetryAfter: d, Dimension: dim, Scope: scope}
}

// step is one charge at a time offset from the previous step.
type step struct {
	after time.Duration
	role  string
	cost  Cost
	want  Decision
}

func runSteps(t *testing.T, l *Limiter, clk *fakeClock, tenant string, steps []step) {
	t.Helper()
	for i, s := range steps {
		clk.Advance(s.after)
		if got := l.Allow(tenant, s.role, s.cost); got != s.want {
			t.Fatalf("step %d: Allow(%q, %q, %+v) = %+v, want %+v", i, tenant, s.role, s.cost, got, s.want)
		}
	}
}

func TestAllow(t *testing.T) {
	req := Cost{Requests: 1}
	tests := []struct {
		name   string
		tenant Limits
		roles  map[string]Limits
		steps  []step
	}{
		{
			name:   "burst then refill",
			tenant: Limits{Requests: Limit{PerSecond: 10, Burst: 3}},
			steps: []step{
				{cost: req, want: ok},
				{cost: req, want: ok},
				{cost: req, want: ok},
				{cost: req, want: denied(100*time.Millisecond, DimRequests, ScopeTenant)},
				{after: 40 * time.Millisecond, cost: req, want: denied(60*time.Millisecond, DimRequests, ScopeTenant)},
				{after: 60 * time.Millisecond, cost: req, want: ok},
				{cost: req, want: denied(100*time.Millisecond, DimRequests, ScopeTenant)},
				// A long pause refills up to the burst, not beyond.
				{after: time.Hour, cost: req, want: ok},
				{cost: req, want: ok},
				{cost: req, want: ok},
				{cost: req, want: denied(100*time.Millisecond, DimRequests, ScopeTenant)},
			},
		},
		{
			name:   "burst defaults to one second",
			tenant: Limits{Spans: Limit{PerSecond: 2.5}},
			steps: []step{
				{cost: Cost{Spans: 3}, want: ok},
				{cost: Cost{Spans: 1}, want: denied(400*time.Millisecond, DimSpans, ScopeTenant)},
			},
		},
		{
			name:   "charge above the burst fills a full bucket into debt",
			tenant: Limits{Bytes: Limit{PerSecond: 1000, Burst: 1000}},
			steps: []step{
				{cost: Cost{Bytes: 3000}, want: ok},
				// 2000 bytes of debt plus the one byte asked.
				{cost: Cost{Bytes: 1}, want: denied(2001*time.Millisecond, DimBytes, ScopeTenant)},
				// A big charge waits only for a full bucket.
				{after: 2 * time.Second, cost: Cost{Bytes: 5000}, want: denied(1000*time.Millisecond, DimBytes, ScopeTenant)},
				{after: time.Second, cost: Cost{Bytes: 5000}, want: ok},
			},
		},
		{
			name:   "zero and negative costs take nothing",
			tenant: Limits{Requests: Limit{PerSecond: 1, Burst: 1}},
			steps: []step{
				{cost: Cost{}, want: ok},
				{cost: Cost{Requests: -5}, want: ok},
				{cost: req, want: ok},
				{cost: Cost{Spans: 100, Bytes: 100}, want: ok},
				{cost: req, want: denied(time.Second, DimRequests, ScopeTenant)},
			},
		},
		{
			name:  "role scope",
			roles: map[string]Limits{"writer": {Spans: Limit{PerSecond: 100, Burst: 100}}},
			steps: []step{
				{role: "writer", cost: Cost{Spans: 100}, want: ok},
				{role: "writer", cost: Cost{Spans: 10}, want: denied(100*time.Millisecond, DimSpans, ScopeRole)},
				// Another role, and no role, are not limited.
				{role: "reader", cost: Cost{Spans: 1000}, want: ok},
				{role: "", cost: Cost{Spans: 1000}, want: ok},
			},
		},
		{
			name:   "tenant and role scopes both enforced",
			tenant: Limits{Requests: Limit{PerSecond: 10, Burst: 3}},
			roles:  map[string]Limits{"reader": {Requests: Limit{PerSecond: 1, Burst: 1}}},
			steps: []step{
				{role: "reader", cost: req, want: ok},
				{role: "reader", cost: req, want: denied(time.Second, DimRequests, ScopeRole)},
				{role: "writer", cost: req, want: ok},
				{role: "writer", cost: req, want: ok},
				// The tenant bucket is empty now: every role waits for it.
				{role: "writer", cost: req, want: denied(100*time.Millisecond, DimRequests, ScopeTenant)},
				// Both empty: the longer wait is named.
				{role: "reader", cost: req, want: denied(time.Second, DimRequests, ScopeRole)},
				{after: 100 * time.Millisecond, role: "reader", cost: req, want: denied(900*time.Millisecond, DimRequests, ScopeRole)},
				{role: "writer", cost: req, want: ok},
			},
		},
		{
			name: "the longest wait is named across dimensions",
			tenant: Limits{
				Requests: Limit{PerSecond: 100, Burst: 1},
				Spans:    Limit{PerSecond: 10, Burst: 10},
				Bytes:    Limit{PerSecond: 1000, Burst: 1000},
			},
			steps: []step{
				{cost: Cost{Requests: 1, Spans: 10, Bytes: 1000}, want: ok},
				{cost: Cost{Requests: 1, Spans: 5, Bytes: 200}, want: denied(500*time.Millisecond, DimSpans, ScopeTenant)},
				{cost: Cost{Requests: 1, Spans: 1, Bytes: 900}, want: denied(900*time.Millisecond, DimBytes, ScopeTenant)},
				// Equal waits: the first dimension in order is named.
				{cost: Cost{Requests: 1, Spans: 1, Bytes: 100}, want: denied(100*time.Millisecond, DimSpans, ScopeTenant)},
			},
		},
		{
			name:   "a refused charge takes from no bucket",
			tenant: Limits{Requests: Limit{PerSecond: 1, Burst: 2}, Spans: Limit{PerSecond: 1, Burst: 10}},
			roles:  map[string]Limits{"writer": {Bytes: Limit{PerSecond: 1, Burst: 10}}},
			steps: []step{
				{role: "writer", cost: Cost{Requests: 1, Spans: 5, Bytes: 10}, want: ok},
				// Role bytes are empty: requests and spans must stay untouched.
				{role: "writer", cost: Cost{Requests: 1, Spans: 5, Bytes: 10}, want: denied(10*time.Second, DimBytes, ScopeRole)},
				{role: "writer", cost: Cost{Requests: 1, Spans: 5, Bytes: 10}, want: denied(10*time.Second, DimBytes, ScopeRole)},
				{role: "writer", cost: Cost{Requests: 1, Spans: 5}, want: ok},
				{role: "writer", cost: Cost{Spans: 1}, want: denied(time.Second, DimSpans, ScopeTenant)},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newFakeClock()
			l := newTestLimiter(t, clk, Config{})
			mustSet(t, l, "acme", tt.tenant, tt.roles)
			runSteps(t, l, clk, "acme", tt.steps)
		})
	}
}

func TestRetryAfterIsEnough(t *testing.T) {
	// Odd rates: waiting exactly RetryAfter always lets the same charge
	// through, whatever the float rounding.
	for _, rate := range []float64{3, 7, 1.0 / 3, 1e9 / 7, 12345.678, 1e9} {
		clk := newFakeClock()
		l := newTestLimiter(t, clk, Config{})
		mustSet(t, l, "t", Limits{Bytes: Limit{PerSecond: rate, Burst: 100}}, nil)
		for i := range 200 {
			n := int64(i%97 + 1)
			d := l.Allow("t", "", Cost{Bytes: n})
			if d.OK {
				continue
			}
			clk.Advance(d.RetryAfter)
			if got := l.Allow("t", "", Cost{Bytes: n}); !got.OK {
				t.Fatalf("rate %v, charge %d: after waiting %v got %+v, want OK", rate, n, d.RetryAfter, got)
			}
		}
	}
}

func TestDefaults(t *testing.T) {
	clk := newFakeClock()
	l := newTestLimiter(t, clk, Config{
		Default:      Limits{Requests: Limit{PerSecond: 1, Burst: 1}},
		DefaultRoles: map[string]Limits{"reader": {Spans: Limit{PerSecond: 1, Burst: 1}}, "idle": {}},
	})
	runSteps(t, l, clk, "stranger", []step{
		{role: "reader", cost: Cost{Requests: 1, Spans: 1}, want: ok},
		{role: "reader", cost: Cost{Spans: 1}, want: denied(time.Second, DimSpans, ScopeRole)},
		{role: "writer", cost: Cost{Requests: 1}, want: denied(time.Second, DimRequests, ScopeTenant)},
	})
	// A tenant Set names gets its own limits and no default roles.
	mustSet(t, l, "named", Limits{}, nil)
	runSteps(t, l, clk, "named", []step{
		{role: "reader", cost: Cost{Requests: 1000, Spans: 1000}, want: ok},
	})
	if got := l.Len(); got != 1 {
		t.Errorf("Len = %d, want 1 (an unlimited tenant needs no entry)", got)
	}
	tl, roles := l.Limits("stranger")
	if tl.Requests.PerSecond != 1 || len(roles) != 1 {
		t.Errorf("Limits(stranger) = %+v, %v; want the defaults without the unlimited role", tl, roles)
	}
}

func TestSetLive(t *testing.T) {
	req := Cost{Requests: 1}
	clk := newFakeClock()
	l := newTestLimiter(t, clk, Config{})
	mustSet(t, l, "acme", Limits{
		Requests: Limit{PerSecond: 1, Burst: 2},
		Spans:    Limit{PerSecond: 10, Burst: 100},
	}, map[string]Limits{"writer": {Bytes: Limit{PerSecond: 10, Burst: 10}}})
	runSteps(t, l, clk, "acme", []step{
		{cost: req, want: ok},
		{cost: req, want: ok},
		{cost: Cost{Spans: 90}, want: ok},
		{role: "writer", cost: Cost{Bytes: 10}, want: ok},
	})

	t.Run("unchanged bucket keeps its state", func(t *testing.T) {
		mustSet(t, l, "acme", Limits{
			Requests: Limit{PerSecond: 1, Burst: 2},
			Spans:    Limit{PerSecond: 10, Burst: 100},
			Bytes:    Limit{PerSecond: 100, Burst: 100},
		}, map[string]Limits{"writer": {Bytes: Limit{PerSecond: 10, Burst: 10}}})
		runSteps(t, l, clk, "acme", []step{
			{cost: req, want: denied(time.Second, DimRequests, ScopeTenant)},
			{role: "writer", cost: Cost{Bytes: 1}, want: denied(100*time.Millisecond, DimBytes, ScopeRole)},
			// A newly limited bucket starts full.
			{cost: Cost{Bytes: 100}, want: ok},
			{cost: Cost{Bytes: 1}, want: denied(10*time.Millisecond, DimBytes, ScopeTenant)},
		})
	})
	t.Run("changed bucket keeps its tokens under the new burst", func(t *testing.T) {
		// 10 spans left; the burst drops to 5 and the rate rises.
		mustSet(t, l, "acme", Limits{
			Requests: Limit{PerSecond: 1, Burst: 2},
			Spans:    Limit{PerSecond: 100, Burst: 5},
		}, map[string]Limits{"writer": {Bytes: Limit{PerSecond: 10, Burst: 10}}})
		runSteps(t, l, clk, "acme", []step{
			{cost: Cost{Spans: 5}, want: ok},
			{cost: Cost{Spans: 1}, want: denied(10*time.Millisecond, DimSpans, ScopeTenant)},
			// Bytes became unlimited.
			{cost: Cost{Bytes: 1 << 30}, want: ok},
		})
	})
	t.Run("a raised rate refills faster from the same level", func(t *testing.T) {
		mustSet(t, l, "acme", Limits{Requests: Limit{PerSecond: 10, Burst: 2}}, map[string]Limits{"writer": {Bytes: Limit{PerSecond: 10, Burst: 10}}})
		runSteps(t, l, clk, "acme", []step{
			{cost: req, want: denied(100*time.Millisecond, DimRequests, ScopeTenant)},
		})
	})
	t.Run("removed role is no longer limited", func(t *testing.T) {
		mustSet(t, l, "acme", Limits{Requests: Limit{PerSecond: 10, Burst: 2}}, nil)
		runSteps(t, l, clk, "acme", []step{
			{role: "writer", cost: Cost{Bytes: 1 << 20}, want: ok},
		})
	})
	t.Run("delete reverts to the defaults", func(t *testing.T) {
		l.Delete("acme")
		runSteps(t, l, clk, "acme", []step{
			{cost: Cost{Requests: 1000}, want: ok},
		})
		if tl, _ := l.Limits("acme"); !tl.Unlimited() {
			t.Errorf("Limits after Delete = %+v, want unlimited", tl)
		}
	})
}

func TestSetRefusesBadLimits(t *testing.T) {
	tests := []struct {
		name   string
		tenant Limits
		roles  map[string]Limits
	}{
		{"negative rate", Limits{Requests: Limit{PerSecond: -1}}, nil},
		{"negative burst", Limits{Spans: Limit{PerSecond: 1, Burst: -1}}, nil},
		{"burst without rate", Limits{Bytes: Limit{Burst: 10}}, nil},
		{"infinite rate", Limits{Bytes: Limit{PerSecond: math.Inf(1)}}, nil},
		{"NaN rate", Limits{Bytes: Limit{PerSecond: math.NaN()}}, nil},
		{"bad role", Limits{}, map[string]Limits{"writer": {Requests: Limit{PerSecond: -3}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newFakeClock()
			l := newTestLimiter(t, clk, Config{})
			mustSet(t, l, "acme", Limits{Requests: Limit{PerSecond: 1, Burst: 1}}, nil)
			err := l.Set("acme", tt.tenant, tt.roles)
			if !errors.Is(err, ErrBadLimit) {
				t.Fatalf("Set: got %v, want ErrBadLimit", err)
			}
			if tl, _ := l.Limits("acme"); tl.Requests.PerSecond != 1 {
				t.Errorf("limits after a refused Set = %+v, want the previous ones", tl)
			}
			if _, err := New(Config{Default: tt.tenant, DefaultRoles: tt.roles}); !errors.Is(err, ErrBadLimit) {
				t.Errorf("New: got %v, want ErrBadLimit", err)
			}
		})
	}
}

func TestEviction(t *testing.T) {
	lim := Limits{Requests: Limit{PerSecond: 1, Burst: 5}}
	t.Run("idle and refilled tenants are dropped", func(t *testing.T) {
		clk := newFakeClock()
		l := newTestLimiter(t, clk, Config{Default: lim, IdleAfter: time.Minute})
		l.Allow("a", "", Cost{Requests: 1})
		l.Allow("b", "", Cost{Requests: 1})
		clk.Advance(59 * time.Second)
		if got := l.Sweep(); got != 0 {
			t.Errorf("Sweep before IdleAfter dropped %d, want 0", got)
		}
		l.Allow("b", "", Cost{Requests: 1})
		clk.Advance(time.Second)
		if got := l.Sweep(); got != 1 {
			t.Errorf("Sweep dropped %d, want 1 (a)", got)
		}
		if got := l.Len(); got != 1 {
			t.Errorf("Len = %d, want 1", got)
		}
	})
	t.Run("a tenant in debt is kept until refilled", func(t *testing.T) {
		clk := newFakeClock()
		l := newTestLimiter(t, clk, Config{Default: Limits{Bytes: Limit{PerSecond: 1, Burst: 10}}, IdleAfter: time.Minute})
		l.Allow("a", "", Cost{Bytes: 200}) // 190 s of debt
		clk.Advance(2 * time.Minute)
		if got := l.Sweep(); got != 0 {
			t.Errorf("Sweep dropped %d, want 0", got)
		}
		if got := l.Allow("a", "", Cost{Bytes: 1}); got.OK {
			t.Errorf("charge after a kept debt = %+v, want refused", got)
		}
		clk.Advance(4 * time.Minute)
		if got := l.Sweep(); got != 1 {
			t.Errorf("Sweep dropped %d, want 1", got)
		}
	})
	t.Run("new tenants sweep their shard", func(t *testing.T) {
		clk := newFakeClock()
		l := newTestLimiter(t, clk, Config{Default: lim, IdleAfter: time.Minute, MaxTenants: 16})
		for _, tenant := range []string{"a", "b", "c"} {
			l.Allow(tenant, "", Cost{Requests: 1})
		}
		clk.Advance(2 * time.Minute)
		l.Allow("d", "", Cost{Requests: 1})
		if got := l.Len(); got != 1 {
			t.Errorf("Len = %d, want 1", got)
		}
	})
	t.Run("MaxTenants drops the least recently seen", func(t *testing.T) {
		clk := newFakeClock()
		l := newTestLimiter(t, clk, Config{Default: lim, MaxTenants: 2, IdleAfter: time.Hour})
		for _, tenant := range []string{"a", "b", "a"} {
			clk.Advance(time.Millisecond)
			l.Allow(tenant, "", Cost{Requests: 5})
		}
		clk.Advance(time.Millisecond)
		l.Allow("c", "", Cost{Requests: 1}) // drops b
		if got := l.Len(); got != 2 {
			t.Errorf("Len = %d, want 2", got)
		}
		if got := l.Allow("a", "", Cost{Requests: 1}); got.OK {
			t.Errorf("a was dropped: %+v", got)
		}
		if got := l.Allow("b", "", Cost{Requests: 5}); !got.OK {
			t.Errorf("b kept its state: %+v, want a fresh burst", got)
		}
	})
	t.Run("bound holds with many shards", func(t *testing.T) {
		clk := newFakeClock()
		l := newTestLimiter(t, clk, Config{Default: lim, MaxTenants: 1000, IdleAfter: time.Hour})
		for i := range 5000 {
			l.Allow(tenantName(i), "", Cost{Requests: 1})
		}
		if got := l.Len(); got > 1000 || got < 500 {
			t.Errorf("Len = %d, want at most 1000 and not far below", got)
		}
	})
}

func tenantName(i int) string {
	const digits = "0123456789abcdef"
	b := []byte("tenant-")
	for {
		b = append(b, digits[i%16])
		i /= 16
		if i == 0 {
			return string(b)
		}
	}
}

func TestWait(t *testing.T) {
	lim := Limits{Spans: Limit{PerSecond: 10, Burst: 10}}
	t.Run("fits now", func(t *testing.T) {
		clk := newFakeClock()
		l := newTestLimiter(t, clk, Config{Default: lim})
		if err := l.Wait(context.Background(), "a", "", Cost{Spans: 10}); err != nil {
			t.Fatalf("Wait: %v", err)
		}
		if len(clk.slept) != 0 {
			t.Errorf("slept %v, want nothing", clk.slept)
		}
	})
	t.Run("reserves and sleeps", func(t *testing.T) {
		clk := newFakeClock()
		l := newTestLimiter(t, clk, Config{Default: lim})
		ctx := context.Background()
		for range 3 {
			if err := l.Wait(ctx, "a", "", Cost{Spans: 10}); err != nil {
				t.Fatalf("Wait: %v", err)
			}
		}
		want := []time.Duration{time.Second, time.Second}
		if len(clk.slept) != 2 || clk.slept[0] != want[0] || clk.slept[1] != want[1] {
			t.Errorf("slept %v, want %v", clk.slept, want)
		}
	})
	t.Run("waiters queue behind each other", func(t *testing.T) {
		clk := newFakeClock()
		l := newTestLimiter(t, clk, Config{Default: lim})
		var mu sync.Mutex
		var asked []time.Duration
		release := make(chan struct{})
		clk.sleepF = func(ctx context.Context, d time.Duration) error {
			mu.Lock()
			asked = append(asked, d)
			mu.Unlock()
			<-release
			return nil
		}
		l.Allow("a", "", Cost{Spans: 10})
		errs := make(chan error, 2)
		go func() { errs <- l.Wait(context.Background(), "a", "", Cost{Spans: 5}) }()
		waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(asked) == 1 })
		go func() { errs <- l.Wait(context.Background(), "a", "", Cost{Spans: 5}) }()
		waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(asked) == 2 })
		close(release)
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatalf("Wait: %v", err)
			}
		}
		if asked[0] != 500*time.Millisecond || asked[1] != time.Second {
			t.Errorf("waits %v, want [500ms 1s]", asked)
		}
	})
	t.Run("cancel gives the reservation back", func(t *testing.T) {
		clk := newFakeClock()
		l := newTestLimiter(t, clk, Config{Default: lim})
		sleeping := make(chan struct{})
		clk.sleepF = func(ctx context.Context, d time.Duration) error {
			close(sleeping)
			<-ctx.Done()
			return ctx.Err()
		}
		ctx, cancel := context.WithCancel(context.Background())
		l.Allow("a", "", Cost{Spans: 10})
		errc := make(chan error)
		go func() { errc <- l.Wait(ctx, "a", "", Cost{Spans: 10}) }()
		<-sleeping
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("Wait after cancel: got %v, want context.Canceled", err)
		}
		clk.Advance(time.Second)
		if got := l.Allow("a", "", Cost{Spans: 10}); !got.OK {
			t.Errorf("Allow after a canceled Wait = %+v, want OK (reservation given back)", got)
		}
	})
	t.Run("canceled context charges nothing", func(t *testing.T) {
		clk := newFakeClock()
		l := newTestLimiter(t, clk, Config{Default: lim})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := l.Wait(ctx, "a", "", Cost{Spans: 10}); !errors.Is(err, context.Canceled) {
			t.Fatalf("Wait: got %v, want context.Canceled", err)
		}
		if got := l.Allow("a", "", Cost{Spans: 10}); !got.OK {
			t.Errorf("Allow = %+v, want OK", got)
		}
	})
	t.Run("a wait past the deadline is refused at once", func(t *testing.T) {
		clk := newFakeClock()
		l := newTestLimiter(t, clk, Config{Default: lim})
		l.Allow("a", "", Cost{Spans: 10})
		ctx, cancel := context.WithDeadline(context.Background(), clk.Now().Add(500*time.Millisecond))
		defer cancel()
		err := l.Wait(ctx, "a", "", Cost{Spans: 6})
		var le *LimitError
		if !errors.As(err, &le) || !errors.Is(err, ErrLimited) {
			t.Fatalf("Wait: got %v, want a *LimitError", err)
		}
		if want := denied(600*time.Millisecond, DimSpans, ScopeTenant); le.Decision != want {
			t.Errorf("Decision = %+v, want %+v", le.Decision, want)
		}
		if len(clk.slept) != 0 {
			t.Errorf("slept %v, want nothing", clk.slept)
		}
		// Nothing was charged: 5 spans fit within the deadline.
		if err := l.Wait(ctx, "a", "", Cost{Spans: 5}); err != nil {
			t.Errorf("Wait within the deadline: %v", err)
		}
	})
	t.Run("unlimited never sleeps", func(t *testing.T) {
		clk := newFakeClock()
		l := newTestLimiter(t, clk, Config{})
		if err := l.Wait(context.Background(), "a", "", Cost{Spans: 1 << 40}); err != nil {
			t.Fatalf("Wait: %v", err)
		}
	})
}

// waitFor polls cond: only to learn that another goroutine reached a
// point, never to assert timing.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for !cond() {
		time.Sleep(time.Millisecond)
	}
}

func TestIncrementalCharging(t *testing.T) {
	// A streamed ingest: one request, then spans and bytes batch by batch.
	clk := newFakeClock()
	l := newTestLimiter(t, clk, Config{})
	mustSet(t, l, "acme", Limits{
		Requests: Limit{PerSecond: 1, Burst: 1},
		Spans:    Limit{PerSecond: 100, Burst: 100},
		Bytes:    Limit{PerSecond: 10_000, Burst: 10_000},
	}, nil)
	ctx := context.Background()
	if d := l.Allow("acme", "writer", Cost{Requests: 1}); !d.OK {
		t.Fatalf("request: %+v", d)
	}
	for range 10 {
		if err := l.Wait(ctx, "acme", "writer", Cost{Spans: 50, Bytes: 2_000}); err != nil {
			t.Fatalf("batch: %v", err)
		}
	}
	// 500 spans at 100/s with a burst of 100: 4 s of waiting in all.
	var total time.Duration
	for _, d := range clk.slept {
		total += d
	}
	if total != 4*time.Second {
		t.Errorf("waited %v (%v), want 4s", total, clk.slept)
	}
	// Fail-fast batches see the debt the stream left.
	if d := l.Allow("acme", "writer", Cost{Spans: 1}); d.OK {
		t.Errorf("Allow after the stream = %+v, want refused", d)
	}
}

func TestReader(t *testing.T) {
	clk := newFakeClock()
	l := newTestLimiter(t, clk, Config{})
	mustSet(t, l, "acme", Limits{Bytes: Limit{PerSecond: 1000, Burst: 1000}}, nil)
	body := strings.Repeat("x", 10_000)
	got, err := io.ReadAll(l.Reader(context.Background(), "acme", "writer", iotest.OneByteReader(strings.NewReader(body))))
	if err != nil || len(got) != len(body) {
		t.Fatalf("ReadAll = %d bytes, %v; want %d, nil", len(got), err, len(body))
	}
	// 10,000 bytes at 1000/s after a burst of 1000: 9 s of waiting.
	var total time.Duration
	for _, d := range clk.slept {
		total += d
	}
	if total != 9*time.Second {
		t.Errorf("waited %v in all, want 9s", total)
	}

	t.Run("a failed wait ends the read", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		clk.sleepF = func(ctx context.Context, d time.Duration) error {
			cancel()
			return ctx.Err()
		}
		n, err := io.Copy(io.Discard, l.Reader(ctx, "acme", "", strings.NewReader(body)))
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Copy = %d, %v; want context.Canceled", n, err)
		}
	})
}
