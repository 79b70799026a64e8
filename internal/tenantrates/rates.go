// Package tenantrates keeps, for each tenant, how its requests to the
// gateway fared over the last few minutes — the figures
// metric("gateway.status_5xx_rate") and metric("auth.jwt_invalid_rate")
// of `alarm` blocks (docs/quality.md, "Alarms") and GET /metrics/public.
//
// Each tenant has a fixed ring of counters, one per Bucket (10 s) of the
// Window (5 min): a figure sums the ring's buckets that are still inside
// the window, so it slides by a bucket at a time. A tenant with nothing
// counted for a whole window has only zeros and is evicted; at most
// MaxTenants are kept. Counting takes one short lock of one of a few
// shards and does not allocate, except for a tenant's first request.
package tenantrates

import (
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"time"
)

// The figures' names, as metric("…") reads them (ir.MetricNames).
const (
	// Status5xxRate is the share of the tenant's requests with a token
	// that verified that were answered 5xx; 0 without requests.
	Status5xxRate = "gateway.status_5xx_rate"
	// JWTInvalidRate is the share of the tenant's token attempts (tokens
	// that verified for it, and refused tokens attributed to it) that
	// were refused as invalid; 0 without attempts.
	JWTInvalidRate = "auth.jwt_invalid_rate"
	// Requests counts the tenant's requests with a token that verified,
	// over the window: the volume Status5xxRate is a share of (alarms
	// guard on it, so that one failed request of one is not 100%).
	Requests = "gateway.requests_5m"
	// TokenAttempts counts the token attempts JWTInvalidRate is a share of.
	TokenAttempts = "auth.token_attempts_5m"
)

// Names are the figures Figure knows, sorted.
func Names() []string { return []string{TokenAttempts, JWTInvalidRate, Requests, Status5xxRate} }

// Defaults of Config.
const (
	DefaultWindow     = 5 * time.Minute
	DefaultBucket     = 10 * time.Second
	DefaultMaxTenants = 10_000
)

// numShards is how many locks the tenants are spread over.
const numShards = 16

// Config configures Rates. The zero Config works.
type Config struct {
	Window time.Duration // DefaultWindow when 0
	// Bucket is the step the window slides by; DefaultBucket when 0. The
	// window is rounded up to a whole number of buckets.
	Bucket time.Duration
	// MaxTenants bounds the tenants kept (DefaultMaxTenants when 0): past
	// it, a new tenant is not counted until an idle one is evicted.
	MaxTenants int
	Now        func() time.Time // time.Now when nil
}

// Rates counts each tenant's request outcomes. Its methods are safe for
// concurrent use.
type Rates struct {
	now      func() time.Time
	bucket   int64 // nanoseconds
	n        int64 // buckets in the window
	perShard int   // tenants kept per shard
	seed     maphash.Seed
	shards   [numShards]shard
}

type shard struct {
	mu      sync.Mutex
	tenants map[string]*tenant // guarded by mu
}

// tenant is one tenant's ring; guarded by its shard's mu.
type tenant struct {
	last    int64    // the bucket of the last outcome counted
	buckets []counts // bucket b at index b mod n
}

// counts are the outcomes of one bucket.
type counts struct {
	at        int64  // the bucket (Unix time / Bucket) counted here
	requests  uint32 // requests with a token that verified
	status5xx uint32 // of those, answered 5xx
	attempts  uint32 // tokens presented: verified, or refused and attributed
	refused   uint32 // of those, refused as invalid
}

// New returns an empty Rates.
func New(cfg Config) *Rates {
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.Bucket <= 0 {
		cfg.Bucket = DefaultBucket
	}
	if cfg.MaxTenants <= 0 {
		cfg.MaxTenants = DefaultMaxTenants
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	r := &Rates{
		now:      cfg.Now,
		bucket:   int64(cfg.Bucket),
		n:        max(1, int64((cfg.Window+cfg.Bucket-1)/cfg.Bucket)),
		perShard: max(1, (cfg.MaxTenants+numShards-1)/numShards),
		seed:     maphash.MakeSeed(),
	}
	for i := range r.shards {
		r.shards[i].tenants = map[string]*tenant{}
	}
	return r
}

// slot is the bucket of now.
func (r *Rates) slot() int64 {
	ns := r.now().UnixNano()
	s := ns / r.bucket
	if ns < 0 && ns%r.bucket != 0 {
		s-- // floor, for times before 1970
	}
	return s
}

func (r *Rates) shard(tenant string) *shard {
	return &r.shards[maphash.String(r.seed, tenant)%numShards]
}

// Served counts a request whose token verified for tenant, answered
// status: a request for Status5xxRate and a token attempt for
// JWTInvalidRate. Its first request makes the tenant known.
func (r *Rates) Served(tenant string, status int) {
	now := r.slot()
	sh := r.shard(tenant)
	sh.mu.Lock()
	t := sh.tenants[tenant]
	if t == nil {
		t = r.addLocked(sh, tenant, now)
	}
	if t != nil {
		c := t.countsLocked(r.n, now)
		c.requests++
		if status >= 500 {
			c.status5xx++
		}
		c.attempts++
	}
	sh.mu.Unlock()
}

// Refused counts a token refused as invalid (bad signature, expired,
// unknown key, malformed, …) that names tenant without proof. It counts
// only toward a tenant already known — one a token verified for within
// the window — so that names in forged tokens never make Rates keep
// anything.
func (r *Rates) Refused(tenant string) {
	now := r.slot()
	sh := r.shard(tenant)
	sh.mu.Lock()
	if t := sh.tenants[tenant]; t != nil {
		c := t.countsLocked(r.n, now)
		c.attempts++
		c.refused++
	}
	sh.mu.Unlock()
}

// addLocked adds the tenant name, evicting the shard's idle tenants when it is
// full; nil when it is still full.
func (r *Rates) addLocked(sh *shard, name string, now int64) *tenant {
	if len(sh.tenants) >= r.perShard {
		r.sweepLocked(sh, now)
		if len(sh.tenants) >= r.perShard {
			return nil
		}
	}
	t := &tenant{last: now, buckets: make([]counts, r.n)}
	sh.tenants[strings.Clone(name)] = t
	return t
}

// sweepLocked evicts the tenants with nothing counted within the window.
func (r *Rates) sweepLocked(sh *shard, now int64) {
	for name, t := range sh.tenants {
		if t.last <= now-r.n {
			delete(sh.tenants, name)
		}
	}
}

// countsLocked returns the counters of bucket now, emptied when they
// held an older bucket.
func (t *tenant) countsLocked(n, now int64) *counts {
	i := now % n
	if i < 0 {
		i += n
	}
	c := &t.buckets[i]
	if c.at != now {
		*c = counts{at: now}
	}
	t.last = max(t.last, now)
	return c
}

// Figure returns tenant's figure of that name over the window ending
// now: 0 for a tenant with no requests (or not known); false for a name
// that is not one of Names.
func (r *Rates) Figure(tenant, name string) (float64, bool) {
	switch name {
	case Status5xxRate, JWTInvalidRate, Requests, TokenAttempts:
	default:
		return 0, false
	}
	var sum counts
	now := r.slot()
	sh := r.shard(tenant)
	sh.mu.Lock()
	if t := sh.tenants[tenant]; t != nil {
		for _, c := range t.buckets {
			if c.at > now-r.n && c.at <= now {
				sum.requests += c.requests
				sum.status5xx += c.status5xx
				sum.attempts += c.attempts
				sum.refused += c.refused
			}
		}
	}
	sh.mu.Unlock()
	switch name {
	case Status5xxRate:
		return share(sum.status5xx, sum.requests), true
	case Requests:
		return float64(sum.requests), true
	case TokenAttempts:
		return float64(sum.attempts), true
	}
	return share(sum.refused, sum.attempts), true
}

// Figures returns tenant's figures by name (GET /metrics/public).
func (r *Rates) Figures(tenant string) map[string]float64 {
	out := make(map[string]float64, len(Names()))
	for _, name := range Names() {
		out[name], _ = r.Figure(tenant, name)
	}
	return out
}

func share(part, whole uint32) float64 {
	if whole == 0 {
		return 0
	}
	return float64(part) / float64(whole)
}

// Tenants evicts the idle tenants and returns the others, sorted: those
// with something counted within the window.
func (r *Rates) Tenants() []string {
	now := r.slot()
	var out []string
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		r.sweepLocked(sh, now)
		for name := range sh.tenants {
			out = append(out, name)
		}
		sh.mu.Unlock()
	}
	slices.Sort(out)
	return out
}
