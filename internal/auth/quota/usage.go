package quota

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// The canonical names of the usage counters (v8 §24), as JSON members.
const (
	CounterIngestSpans  = "ingest_spans_count"
	CounterDerivedSpans = "derived_spans_count"
	CounterExportsGB    = "exports_gb"
	CounterWSMinutes    = "ws_minutes"
)

// bytesPerGB is the decimal gigabyte billing uses.
const bytesPerGB = 1e9

// Counters are one tenant's usage since the process started.
type Counters struct {
	IngestSpans  uint64        // spans appended through ingest
	DerivedSpans uint64        // spans the server derived (trajectories, quality, runtime)
	ExportBytes  uint64        // bytes of exports written
	WS           time.Duration // summed WebSocket connection time
}

// ExportsGB returns ExportBytes in decimal gigabytes (10^9 bytes).
func (c Counters) ExportsGB() float64 { return float64(c.ExportBytes) / bytesPerGB }

// WSMinutes returns WS in minutes.
func (c Counters) WSMinutes() float64 { return c.WS.Minutes() }

// countersJSON is the wire form, with the canonical names.
type countersJSON struct {
	IngestSpans  uint64  `json:"ingest_spans_count"`
	DerivedSpans uint64  `json:"derived_spans_count"`
	ExportsGB    float64 `json:"exports_gb"`
	WSMinutes    float64 `json:"ws_minutes"`
}

// MarshalJSON writes the canonical names:
// {"ingest_spans_count":…,"derived_spans_count":…,"exports_gb":…,"ws_minutes":…}.
func (c Counters) MarshalJSON() ([]byte, error) {
	return json.Marshal(countersJSON{c.IngestSpans, c.DerivedSpans, c.ExportsGB(), c.WSMinutes()})
}

// ErrBadCounters is returned (wrapped) by UnmarshalJSON for a negative,
// non-finite or too large exports_gb or ws_minutes.
var ErrBadCounters = errors.New("bad usage counters")

// UnmarshalJSON reads what MarshalJSON wrote, converting exports_gb back
// to bytes and ws_minutes to a duration (rounded to the nearest byte and
// nanosecond). Unknown members are ignored.
func (c *Counters) UnmarshalJSON(b []byte) error {
	var j countersJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("usage counters: %w", err)
	}
	bytes := j.ExportsGB * bytesPerGB
	if !(bytes >= 0 && bytes < math.MaxUint64) {
		return fmt.Errorf("%w: %s %v", ErrBadCounters, CounterExportsGB, j.ExportsGB)
	}
	ns := j.WSMinutes * float64(time.Minute)
	if !(ns >= 0 && ns < math.MaxInt64) {
		return fmt.Errorf("%w: %s %v", ErrBadCounters, CounterWSMinutes, j.WSMinutes)
	}
	*c = Counters{
		IngestSpans:  j.IngestSpans,
		DerivedSpans: j.DerivedSpans,
		ExportBytes:  uint64(math.Round(bytes)),
		WS:           time.Duration(math.Round(ns)),
	}
	return nil
}

// UsageConfig configures a Usage; the zero value works.
type UsageConfig struct {
	Now func() time.Time // default time.Now; times WebSocket sessions
}

// Usage holds the usage counters of every tenant that used something. All
// methods are safe for concurrent use; adding is a map lookup in an
// immutable snapshot and an atomic add, with no lock and no write shared
// between tenants. Tenants are never dropped: the counters are what billing
// reads, and tenants are authenticated, so there are as many as the
// configuration names.
type Usage struct {
	now    func() time.Time
	shards [usageShards]usageShard
}

const usageShards = 64

// usageShard holds the tenants whose name hashes to it: readers load m,
// writers (a new tenant) hold mu and store a copy with it added.
type usageShard struct {
	m  atomic.Pointer[map[string]*counters]
	mu sync.Mutex // serialises writers
	_  [64]byte
}

// counters are one tenant's atomics, padded so that two tenants' never
// share a cache line.
type counters struct {
	ingestSpans  atomic.Uint64
	derivedSpans atomic.Uint64
	exportBytes  atomic.Uint64
	wsNanos      atomic.Int64
	_            [64]byte
}

// NewUsage returns empty counters.
func NewUsage(cfg UsageConfig) *Usage {
	u := &Usage{now: cfg.Now}
	if u.now == nil {
		u.now = time.Now
	}
	for i := range u.shards {
		u.shards[i].m.Store(&map[string]*counters{})
	}
	return u
}

func (u *Usage) of(tenant string) *counters {
	sh := &u.shards[fnv1a(tenant)%usageShards]
	if c := (*sh.m.Load())[tenant]; c != nil {
		return c
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	m := *sh.m.Load()
	if c := m[tenant]; c != nil {
		return c
	}
	c := new(counters)
	m = maps.Clone(m)
	m[tenant] = c
	sh.m.Store(&m)
	return c
}

// AddIngestSpans counts n spans appended for tenant through ingest.
func (u *Usage) AddIngestSpans(tenant string, n uint64) { u.of(tenant).ingestSpans.Add(n) }

// AddDerivedSpans counts n spans the server derived for tenant.
func (u *Usage) AddDerivedSpans(tenant string, n uint64) { u.of(tenant).derivedSpans.Add(n) }

// AddExportBytes counts n bytes of export written for tenant.
func (u *Usage) AddExportBytes(tenant string, n uint64) { u.of(tenant).exportBytes.Add(n) }

// AddWS counts d of WebSocket connection time for tenant; d ≤ 0 counts
// nothing.
func (u *Usage) AddWS(tenant string, d time.Duration) {
	if d > 0 {
		u.of(tenant).wsNanos.Add(int64(d))
	}
}

// Get returns tenant's counters (zero if it used nothing).
func (u *Usage) Get(tenant string) Counters {
	return (*u.shards[fnv1a(tenant)%usageShards].m.Load())[tenant].load()
}

func (c *counters) load() Counters {
	if c == nil {
		return Counters{}
	}
	return Counters{
		IngestSpans:  c.ingestSpans.Load(),
		DerivedSpans: c.derivedSpans.Load(),
		ExportBytes:  c.exportBytes.Load(),
		WS:           time.Duration(c.wsNanos.Load()),
	}
}

// Snapshot returns every tenant's counters, for GET /metrics/public. Each
// tenant's four counters are read one after the other, not atomically
// together.
func (u *Usage) Snapshot() map[string]Counters {
	out := make(map[string]Counters)
	for i := range u.shards {
		for t, c := range *u.shards[i].m.Load() {
			out[t] = c.load()
		}
	}
	return out
}

// Each calls f with every tenant's counters in tenant order, holding no
// lock, for whatever exposition the server wires (Prometheus collectors,
// logs).
func (u *Usage) Each(f func(tenant string, c Counters)) {
	snap := u.Snapshot()
	tenants := make([]string, 0, len(snap))
	for t := range snap {
		tenants = append(tenants, t)
	}
	slices.Sort(tenants)
	for _, t := range tenants {
		f(t, snap[t])
	}
}

// StartWS starts timing a WebSocket connection of tenant. The connection's
// handler calls Flush now and then (each ping, say), so that ws_minutes
// grows while the connection lasts, and End when it closes.
func (u *Usage) StartWS(tenant string) *WSSession {
	return &WSSession{u: u, c: u.of(tenant), last: u.now()}
}

// WSSession times one WebSocket connection; its methods are safe for
// concurrent use.
type WSSession struct {
	u    *Usage
	c    *counters
	mu   sync.Mutex
	last time.Time // guarded by mu
	done bool      // guarded by mu
}

// Flush counts the time since the session started or was last flushed.
func (s *WSSession) Flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flushLocked()
}

func (s *WSSession) flushLocked() {
	if s.done {
		return
	}
	now := s.u.now()
	if d := now.Sub(s.last); d > 0 {
		s.c.wsNanos.Add(int64(d))
		s.last = now
	}
}

// End counts the rest of the session; later calls count nothing.
func (s *WSSession) End() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flushLocked()
	s.done = true
}
