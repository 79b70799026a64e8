// Package quota enforces per-tenant and per-role rate limits with token
// buckets and keeps the canonical per-tenant usage counters (v8 §24:
// ingest_spans_count, derived_spans_count, exports_gb, ws_minutes).
//
// # Limits
//
// A [Limiter] holds, for every tenant it has seen, three buckets at tenant
// scope — requests, spans and bytes per second, each with a burst — and the
// same three for every role the tenant's configuration limits. A charge
// ([Cost]) passes only when every bucket it touches has room, and then takes
// from all of them; a refused charge takes nothing. The caller maps
// tenant.yaml onto [Limits] and applies it with [Limiter.Set] whenever the
// configuration changes: buckets whose limit did not change keep their
// state, changed ones keep their tokens (capped at the new burst).
//
// The gateway uses [Limiter.Allow] to fail fast (and [WriteTooMany] to
// answer 429), and [Limiter.Wait] or [Limiter.Reader] to push back on a
// streamed NDJSON ingest whose spans and bytes are charged batch by batch
// as they arrive.
//
// A charge larger than a bucket's burst (one big NDJSON batch) is admitted
// when the bucket is full and leaves it in debt, so the long-run rate still
// holds and no request is refused forever.
//
// # Why not golang.org/x/time/rate
//
// The buckets are written here rather than taken from x/time/rate because:
//
//   - a charge must be checked against up to six buckets and taken from all
//     or none; one lock per tenant makes that exact, while six rate.Limiters
//     need Reserve and Cancel, and Cancel restores tokens only
//     approximately when other reservations came in between;
//   - rate.Limiter refuses forever a charge larger than its burst, and a
//     batch of NDJSON bytes can be larger than the byte burst;
//   - Wait here sleeps through an injected function, so tests need no real
//     time; rate.Limiter.Wait reads time.Now and arms real timers;
//   - eviction needs to know whether a bucket has refilled, which is one
//     comparison on our own fields.
//
// The arithmetic is one float64 of tokens and the time of its last refill
// per bucket, the same model as rate.Limiter.
//
// # Concurrency and memory
//
// Tenants are spread over shards by an FNV-1a hash of their name. A
// shard's maps are an immutable snapshot behind an atomic pointer, copied
// by the rare writers (a new tenant, Set, a sweep), so the hot path takes
// no shared lock and writes nothing shared: it loads the snapshot, finds
// the tenant's entry and takes that entry's own mutex. Tenants never wait
// for each other, and a tenant far over its quota does not slow the
// others (BenchmarkQuietTenantP99).
//
// An entry is created on a tenant's first limited charge (a tenant whose
// limits are all zero costs nothing) and dropped once it has been idle for
// [Config.IdleAfter] and all its buckets have refilled — dropping it then
// is invisible, since a new entry starts full. At most [Config.MaxTenants]
// entries are kept; when a shard is full the least recently seen tenant of
// that shard is dropped even if its buckets are not full, which hands that
// tenant a fresh burst, so set MaxTenants well above the number of tenants.
//
// # The 429 answer
//
// [WriteTooMany] writes an RFC 9457 problem shaped like the gateway's:
//
//	HTTP/1.1 429 Too Many Requests
//	Content-Type: application/problem+json
//	Retry-After: 2
//
//	{"type":"https://logline.dev/problems/too-many-requests",
//	 "title":"Too Many Requests","status":429,
//	 "detail":"the tenant's spans-per-second quota is exhausted; retry in 1.5s",
//	 "code":"too_many_requests","dimension":"spans","scope":"tenant",
//	 "retry_after_ms":1500}
//
// Retry-After is in whole seconds rounded up and at least 1; retry_after_ms
// is the exact wait rounded up to a millisecond.
//
// # Usage counters
//
// [Usage] counts per tenant with atomic adds, found the same lock-free way.
// [Counters] marshal to JSON with the canonical names, for GET
// /metrics/public:
//
//	{"ingest_spans_count":120,"derived_spans_count":14,"exports_gb":0.25,"ws_minutes":1.5}
//
// exports_gb is bytes / 10^9 and ws_minutes is the summed duration of
// WebSocket connections in minutes. Counters start at zero when the
// process starts; [Usage.Each] feeds them to whatever exposition the
// server uses.
package quota
