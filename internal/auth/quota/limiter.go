package quota

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures a Limiter. The zero value works: no limits until
// Set, real time, idle tenants dropped after ten minutes, at most 100,000
// tenants tracked.
type Config struct {
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Sleep waits d or until ctx is done, returning ctx's error then; Wait
	// uses it. Default: a timer and a select on ctx.Done.
	Sleep func(ctx context.Context, d time.Duration) error

	// Default are the tenant-scope limits of a tenant Set never named, and
	// DefaultRoles its role-scope limits. Zero: unlimited.
	Default      Limits
	DefaultRoles map[string]Limits

	// IdleAfter is how long a tenant must go uncharged, with all its
	// buckets refilled, before its entry is dropped; default 10 minutes.
	IdleAfter time.Duration
	// MaxTenants bounds the entries kept; default 100,000. The bound is
	// kept per shard (MaxTenants/shards each), so a shard may drop a
	// tenant before the total reaches it; below 32 there is one shard.
	MaxTenants int
}

// Limiter enforces token-bucket quotas per tenant and per (tenant, role).
// All methods are safe for concurrent use.
type Limiter struct {
	now       func() time.Time
	sleep     func(context.Context, time.Duration) error
	epoch     time.Time
	def       *tenantLimits // immutable
	idleAfter int64         // ns
	perShard  int           // entries a shard may hold
	shards    []shard       // len is a power of two
}

// shard holds the tenants whose name hashes to it. Readers load its view
// and take no lock: the hot path writes nothing shared between tenants.
// Writers (a new tenant, Set, a sweep) hold mu and store a new view.
type shard struct {
	view      atomic.Pointer[shardView]
	mu        sync.Mutex // serialises writers
	lastSweep int64      // guarded by mu
	_         [64]byte   // keeps shards on separate cache lines
}

// shardView is an immutable snapshot of a shard's maps; writers copy the
// map they change.
type shardView struct {
	entries map[string]*entry        // tenants with buckets
	configs map[string]*tenantLimits // tenants named by Set
}

// tenantLimits is one tenant's configuration; immutable once built.
type tenantLimits struct {
	tenant Limits
	roles  map[string]Limits // limited roles only
}

// limits reports whether a charge by role meets any bucket.
func (tl *tenantLimits) limits(role string) bool {
	if !tl.tenant.Unlimited() {
		return true
	}
	_, ok := tl.roles[role]
	return ok
}

// entry is the bucket state of one tenant.
type entry struct {
	mu     sync.Mutex
	dead   bool                // guarded by mu; dropped from its shard: look up again
	seen   int64               // guarded by mu; last charge
	tenant buckets             // guarded by mu
	roles  map[string]*buckets // guarded by mu; limited roles only
	_      [64]byte            // keeps entries' locks on separate cache lines
}

// New returns a Limiter. It fails only when cfg's default limits are bad.
func New(cfg Config) (*Limiter, error) {
	def, err := buildLimits(cfg.Default, cfg.DefaultRoles)
	if err != nil {
		return nil, fmt.Errorf("quota: default limits: %w", err)
	}
	l := &Limiter{now: cfg.Now, sleep: cfg.Sleep, def: def}
	if l.now == nil {
		l.now = time.Now
	}
	if l.sleep == nil {
		l.sleep = sleepCtx
	}
	l.epoch = l.now()
	idle := cfg.IdleAfter
	if idle <= 0 {
		idle = 10 * time.Minute
	}
	l.idleAfter = int64(idle)
	maxTenants := cfg.MaxTenants
	if maxTenants <= 0 {
		maxTenants = 100_000
	}
	// About 16 tenants a shard, between 1 and 256 shards: small bounds
	// (tests) get one shard and an exact least-recently-seen order.
	n := 1
	if maxTenants >= 32 {
		n = min(256, 1<<(bits.Len(uint(maxTenants/16))-1))
	}
	l.shards = make([]shard, n)
	l.perShard = max(1, maxTenants/n)
	for i := range l.shards {
		l.shards[i].view.Store(&shardView{entries: map[string]*entry{}, configs: map[string]*tenantLimits{}})
	}
	return l, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func buildLimits(tenant Limits, roles map[string]Limits) (*tenantLimits, error) {
	if err := tenant.Validate(); err != nil {
		return nil, fmt.Errorf("tenant scope: %w", err)
	}
	tl := &tenantLimits{tenant: tenant, roles: make(map[string]Limits, len(roles))}
	for role, lim := range roles {
		if err := lim.Validate(); err != nil {
			return nil, fmt.Errorf("role %q: %w", role, err)
		}
		if !lim.Unlimited() {
			tl.roles[role] = lim
		}
	}
	return tl, nil
}

// Set applies a tenant's limits at tenant scope and per role, live: a
// bucket whose limit is unchanged keeps its state, a changed one keeps its
// tokens (capped at the new burst), a new one starts full. Roles missing
// from roleLimits are unlimited at role scope (Config.DefaultRoles applies
// only to tenants never Set). Bad limits are refused with ErrBadLimit and
// change nothing.
func (l *Limiter) Set(tenant string, tenantLimits Limits, roleLimits map[string]Limits) error {
	tl, err := buildLimits(tenantLimits, roleLimits)
	if err != nil {
		return fmt.Errorf("quota: set limits of tenant %q: %w", tenant, err)
	}
	l.configure(tenant, tl)
	return nil
}

// Delete forgets the limits Set gave tenant; Config.Default applies again.
func (l *Limiter) Delete(tenant string) { l.configure(tenant, nil) }

func (l *Limiter) configure(tenant string, tl *tenantLimits) {
	now := l.nowNs()
	sh := l.shardOf(tenant)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	v := sh.view.Load()
	nv := &shardView{entries: v.entries, configs: maps.Clone(v.configs)}
	if tl == nil {
		delete(nv.configs, tenant)
		tl = l.def
	} else {
		nv.configs[tenant] = tl
	}
	sh.view.Store(nv)
	if e := v.entries[tenant]; e != nil {
		e.mu.Lock()
		e.reconfigure(tl, now)
		e.mu.Unlock()
	}
}

func newEntry(tl *tenantLimits, now int64) *entry {
	e := &entry{seen: now, tenant: *newBuckets(tl.tenant, now), roles: make(map[string]*buckets, len(tl.roles))}
	for role, lim := range tl.roles {
		e.roles[role] = newBuckets(lim, now)
	}
	return e
}

// reconfigure applies tl. The caller holds e.mu.
func (e *entry) reconfigure(tl *tenantLimits, now int64) {
	e.tenant.reconfigure(tl.tenant, now)
	for role, bs := range e.roles {
		lim, ok := tl.roles[role]
		if !ok {
			delete(e.roles, role)
			continue
		}
		bs.reconfigure(lim, now)
	}
	for role, lim := range tl.roles {
		if _, ok := e.roles[role]; !ok {
			e.roles[role] = newBuckets(lim, now)
		}
	}
}

// full reports whether every bucket has refilled at now. The caller holds
// e.mu.
func (e *entry) full(now int64) bool {
	if !e.tenant.full(now) {
		return false
	}
	for _, bs := range e.roles {
		if !bs.full(now) {
			return false
		}
	}
	return true
}

// Allow charges n to tenant and to (tenant, role) if every bucket it
// touches has room, and otherwise charges nothing and says which bucket
// needs the longest wait. A role the tenant's configuration does not
// limit is only charged at tenant scope.
func (l *Limiter) Allow(tenant, role string, n Cost) Decision {
	d, _ := l.charge(tenant, role, n, false, time.Time{})
	return d
}

// Wait charges n like Allow but, when a bucket lacks room, reserves the
// tokens and sleeps until they have flowed in; tokens reserved by waiters
// make later charges wait behind them. It returns ctx's error (wrapped),
// with the reservation given back, if ctx ends first, and a *LimitError
// at once, charging nothing, when the wait would outlast ctx's deadline.
func (l *Limiter) Wait(ctx context.Context, tenant, role string, n Cost) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("quota: wait: %w", err)
	}
	deadline, _ := ctx.Deadline()
	d, e := l.charge(tenant, role, n, true, deadline)
	if !d.OK {
		return &LimitError{Decision: d}
	}
	if d.RetryAfter == 0 {
		return nil
	}
	if err := l.sleep(ctx, d.RetryAfter); err != nil {
		e.mu.Lock()
		if !e.dead {
			e.refund(role, n)
		}
		e.mu.Unlock()
		return fmt.Errorf("quota: wait %v for the %s's %s quota: %w", d.RetryAfter, d.Scope, d.Dimension, err)
	}
	return nil
}

// charge is Allow and, with reserve, the first half of Wait: it charges
// even without room unless the wait would pass deadline (when not zero),
// and returns a Decision whose RetryAfter is the wait, the entry charged
// (nil if nothing was limited).
func (l *Limiter) charge(tenant, role string, n Cost, reserve bool, deadline time.Time) (Decision, *entry) {
	for locked := false; ; locked = true {
		e, limited := l.lookup(tenant, role, locked)
		if !limited {
			return Decision{OK: true}, nil
		}
		now := l.nowNs()
		if e == nil {
			e = l.create(tenant, role, now)
			if e == nil { // Set lifted the limits meanwhile
				return Decision{OK: true}, nil
			}
		}
		e.mu.Lock()
		if e.dead { // a sweep dropped it: look again, behind the sweep
			e.mu.Unlock()
			continue
		}
		if now > e.seen {
			e.seen = now
		}
		// Check every bucket, then take from all or none. The first bucket
		// (tenant before role; requests, spans, bytes) with the longest
		// wait is named.
		scopes := [2]*buckets{&e.tenant, e.roles[role]}
		cost := n.each()
		var worst Decision
		for s, bs := range scopes {
			for i, c := range cost {
				if bs == nil || c <= 0 || bs[i].unlimited() {
					continue
				}
				bs[i].advance(now)
				if w := bs[i].delay(c); w > worst.RetryAfter {
					worst = Decision{RetryAfter: w, Dimension: dimensionNames[i], Scope: scopeNames[s]}
				}
			}
		}
		if worst.RetryAfter > 0 && (!reserve || l.pastDeadline(now, worst.RetryAfter, deadline)) {
			e.mu.Unlock()
			return worst, e
		}
		for _, bs := range scopes {
			for i, c := range cost {
				if bs != nil && c > 0 && !bs[i].unlimited() {
					bs[i].take(c)
				}
			}
		}
		e.mu.Unlock()
		worst.OK = true
		return worst, e
	}
}

// pastDeadline reports whether a wait of d from now ends after deadline
// (never when deadline is zero).
func (l *Limiter) pastDeadline(now int64, d time.Duration, deadline time.Time) bool {
	return !deadline.IsZero() && l.epoch.Add(time.Duration(now)+d).After(deadline)
}

var scopeNames = [2]string{ScopeTenant, ScopeRole}

// refund gives back a charge of n by role taken earlier. The caller
// holds e.mu.
func (e *entry) refund(role string, n Cost) {
	for _, bs := range [2]*buckets{&e.tenant, e.roles[role]} {
		for i, c := range n.each() {
			if bs != nil && c > 0 && !bs[i].unlimited() {
				bs[i].refund(c)
			}
		}
	}
}

// lookup returns tenant's entry, and whether a charge by role meets a
// limit at all (if not, no entry is needed). A nil entry with limited set
// means: create it. With locked, it waits for the shard's writers first.
func (l *Limiter) lookup(tenant, role string, locked bool) (*entry, bool) {
	sh := l.shardOf(tenant)
	if locked {
		sh.mu.Lock()
		defer sh.mu.Unlock()
	}
	v := sh.view.Load()
	if e := v.entries[tenant]; e != nil {
		return e, true
	}
	tl := v.configs[tenant]
	if tl == nil {
		tl = l.def
	}
	return nil, tl.limits(role)
}

// create returns tenant's entry, making it if needed, or nil when Set has
// lifted the limits meanwhile. It sweeps the shard at most once per
// IdleAfter, and drops the least recently seen tenant of a full shard.
func (l *Limiter) create(tenant, role string, now int64) *entry {
	sh := l.shardOf(tenant)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	v := sh.view.Load()
	if e := v.entries[tenant]; e != nil {
		return e
	}
	tl := v.configs[tenant]
	if tl == nil {
		tl = l.def
	}
	if !tl.limits(role) {
		return nil
	}
	entries := v.entries // copied before it changes: readers hold v
	if now-sh.lastSweep >= l.idleAfter || len(entries) >= l.perShard {
		entries = l.sweepLocked(sh, entries, now)
	}
	if len(entries) >= l.perShard {
		entries = evictOldest(entries)
	}
	if len(entries) == len(v.entries) { // neither dropped any: not yet copied
		entries = maps.Clone(entries)
	}
	e := newEntry(tl, now)
	entries[tenant] = e
	sh.view.Store(&shardView{entries: entries, configs: v.configs})
	return e
}

// Sweep drops the entries of tenants idle for Config.IdleAfter whose
// buckets have all refilled, and returns how many it dropped. New tenants
// trigger a sweep of their shard at most once per IdleAfter; a server may
// also call Sweep from a ticker.
func (l *Limiter) Sweep() int {
	now := l.nowNs()
	dropped := 0
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		v := sh.view.Load()
		if entries := l.sweepLocked(sh, v.entries, now); len(entries) != len(v.entries) {
			dropped += len(v.entries) - len(entries)
			sh.view.Store(&shardView{entries: entries, configs: v.configs})
		}
		sh.mu.Unlock()
	}
	return dropped
}

// sweepLocked returns entries without those idle and refilled at now,
// marked dead: a copy if it dropped any, else entries itself. The caller
// holds sh.mu and stores the result.
func (l *Limiter) sweepLocked(sh *shard, entries map[string]*entry, now int64) map[string]*entry {
	sh.lastSweep = now
	var out map[string]*entry
	for tenant, e := range entries {
		e.mu.Lock()
		if now-e.seen >= l.idleAfter && e.full(now) {
			e.dead = true
			if out == nil {
				out = maps.Clone(entries)
			}
			delete(out, tenant)
		}
		e.mu.Unlock()
	}
	if out == nil {
		return entries
	}
	return out
}

// evictOldest returns a copy of entries without the least recently
// charged one (ties: the first name), marked dead whatever its buckets
// hold. The caller holds the shard's mu and stores the result.
func evictOldest(entries map[string]*entry) map[string]*entry {
	var (
		oldest     string
		oldestSeen int64
		found      bool
	)
	for tenant, e := range entries {
		e.mu.Lock()
		seen := e.seen
		e.mu.Unlock()
		if !found || seen < oldestSeen || seen == oldestSeen && tenant < oldest {
			oldest, oldestSeen, found = tenant, seen, true
		}
	}
	out := maps.Clone(entries)
	if found {
		e := out[oldest]
		e.mu.Lock()
		e.dead = true
		e.mu.Unlock()
		delete(out, oldest)
	}
	return out
}

// Len returns the number of tenants whose buckets are tracked.
func (l *Limiter) Len() int {
	n := 0
	for i := range l.shards {
		n += len(l.shards[i].view.Load().entries)
	}
	return n
}

// Limits returns the limits that apply to tenant at tenant scope and per
// role (Set's, or the defaults), for diagnostics.
func (l *Limiter) Limits(tenant string) (Limits, map[string]Limits) {
	tl := l.shardOf(tenant).view.Load().configs[tenant]
	if tl == nil {
		tl = l.def
	}
	return tl.tenant, maps.Clone(tl.roles)
}

func (l *Limiter) nowNs() int64 { return int64(l.now().Sub(l.epoch)) }

// shardOf hashes tenant with FNV-1a: deterministic, and tenant names are
// authenticated, so nobody picks them to collide.
func (l *Limiter) shardOf(tenant string) *shard {
	return &l.shards[fnv1a(tenant)&uint32(len(l.shards)-1)]
}

func fnv1a(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

// Reader returns a reader of r that charges every chunk it reads as bytes
// to tenant and role, waiting (Wait) when the byte buckets are empty: a
// streamed ingest then slows to its quota instead of failing. A wait that
// fails ends the read with its error, after the chunk it was charging.
func (l *Limiter) Reader(ctx context.Context, tenant, role string, r io.Reader) io.Reader {
	return &reader{l: l, ctx: ctx, tenant: tenant, role: role, r: r}
}

type reader struct {
	l            *Limiter
	ctx          context.Context
	tenant, role string
	r            io.Reader
}

func (r *reader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		if werr := r.l.Wait(r.ctx, r.tenant, r.role, Cost{Bytes: int64(n)}); werr != nil {
			return n, werr
		}
	}
	return n, err
}
