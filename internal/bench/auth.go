package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/logline/logline/internal/auth"
	"github.com/logline/logline/internal/auth/llst"
	"github.com/logline/logline/internal/auth/quota"
	"github.com/logline/logline/internal/authlog"
	"github.com/logline/logline/internal/gateway"
	"github.com/logline/logline/internal/ledger"
)

// The auth section (issue 5, "Speed"): a second in-process server, the
// same as the embedded one but with authentication on as `logline serve`
// runs it without --dev.
const (
	// authIssuer and authAudience are the iss and aud of the bench's LLSTs.
	authIssuer   = "logline:" + benchLogOrigin
	authAudience = llst.DefaultAudience
	// authRole is the role every bench token is issued for (its quota
	// role).
	authRole = auth.RoleWriter
	// quietTenant and noisyTenant are the two tenants of the noisy
	// neighbour test.
	quietTenant = "bench-quiet"
	noisyTenant = "bench-noisy"
	// noisyFactor is how far over its request quota the noisy tenant is
	// driven.
	noisyFactor = 10
	// maxLeadIn is how long the noisy tenant runs before the quiet one
	// starts and after it ends (its burst is spent by then: steady
	// state), at most; a fifth of a half period with short periods.
	maxLeadIn = time.Second
	// maxVerifyTokens bounds the distinct tokens the verify loops cycle.
	maxVerifyTokens = 1000
	// maxInFlight bounds the requests of one paced tenant in flight; a
	// request that would pass it is dropped and counted.
	maxInFlight = 256
)

// Defaults of the auth section's Config fields.
const (
	DefaultAuthVerifies    = 20_000
	DefaultNoisyLimit      = 200 // requests/s
	DefaultQuietRate       = 100 // requests/s
	DefaultNeighbourPeriod = 20 * time.Second
)

// ingestLimits are the quotas of the tenant of the auth-on ingest: far
// above any rate this machine reaches, so that every request, span and
// byte is charged to a limited bucket (the quota code runs) and none
// waits.
var ingestLimits = quota.Limits{
	Requests: quota.Limit{PerSecond: 1e6},
	Spans:    quota.Limit{PerSecond: 1e9},
	Bytes:    quota.Limit{PerSecond: 1e12},
}

// Auth is the cost of authentication: ingest with a bearer token, LLST
// verification, and one tenant over its quota beside another.
type Auth struct {
	// Ingest is the unsigned NDJSON ingest of the corpus, durable, with
	// a bearer token on every request; IngestOff is the same bodies into
	// a server with authentication off, in the same section. Each is two
	// rounds of Config.Spans (fresh ids each round), run off, on, on, off
	// so that drift in the machine's state cancels; the figures are of
	// both rounds together. Share is Ingest ÷ IngestOff in spans/s.
	Ingest    Throughput `json:"ingest"`
	IngestOff Throughput `json:"ingest_off"`
	Share     float64    `json:"auth_on_share"`
	Verify    LLSTVerify `json:"llst_verify"`
	Neighbour Neighbour  `json:"noisy_neighbour"`
	Skipped   string     `json:"skipped,omitempty"`
	Error     string     `json:"error,omitempty"`
}

// LLSTVerify times llst.Verifier.Verify in this process (no HTTP).
type LLSTVerify struct {
	Verifies int `json:"verifies"` // per loop
	Tokens   int `json:"tokens"`   // distinct tokens cycled
	// FirstPerSec: one goroutine, a Verifier whose cache is disabled
	// (every call checks the signature and the claims): per core.
	FirstPerSec float64 `json:"first_time_per_sec"`
	// FirstParallelPerSec: the same with GOMAXPROCS goroutines.
	FirstParallelPerSec float64 `json:"first_time_parallel_per_sec"`
	// CachedPerSec: one goroutine, every token already verified once.
	CachedPerSec float64 `json:"cached_per_sec"`
	Partial      bool    `json:"partial,omitempty"`
	Error        string  `json:"error,omitempty"`
}

// Neighbour is the noisy-neighbour test: the noisy tenant, limited to
// NoisyLimit requests/s, is driven at noisyFactor times that with
// single-span POSTs while the quiet tenant (unlimited) posts at QuietRate;
// the quiet tenant's latency is measured alone first (Unloaded), then
// beside the noisy one (Loaded).
type Neighbour struct {
	NoisyLimit float64 `json:"noisy_limit_per_sec"` // request quota, burst one second's worth
	NoisyRate  float64 `json:"noisy_rate_per_sec"`  // offered
	QuietRate  float64 `json:"quiet_rate_per_sec"`  // offered, both phases
	Seconds    float64 `json:"seconds"`             // quiet tenant's time in each state (two halves)
	LeadIn     float64 `json:"lead_in_seconds"`     // noisy tenant's time before and after each half
	// The noisy tenant's answers over both its runs (NoisySeconds).
	NoisySeconds  float64 `json:"noisy_seconds"`
	NoisySent     int     `json:"noisy_sent"`
	NoisyAccepted int     `json:"noisy_accepted"` // 201
	NoisyRefused  int     `json:"noisy_refused"`  // 429
	NoisyOther    int     `json:"noisy_other"`    // any other answer, or dropped
	RefusedShare  float64 `json:"noisy_refused_share"`
	// NoisyAllowed is the most its quota lets through in its runs
	// (burst + rate × time, each).
	NoisyAllowed int     `json:"noisy_allowed"`
	Unloaded     Latency `json:"quiet_unloaded"`
	Loaded       Latency `json:"quiet_loaded"`
	// P99Ratio is Loaded.P99 ÷ Unloaded.P99.
	P99Ratio float64 `json:"quiet_p99_ratio"`
	Error    string  `json:"error,omitempty"`
}

// authEnv is what serve builds for authentication, in the bench: LLST
// keys in the server's data directory, an issuer, a verifier with its
// cache, quotas, and the auth-event log's refusal counter.
type authEnv struct {
	ring     *llst.Keyring
	issuer   *llst.Issuer
	verifier *llst.Verifier
	limiter  *quota.Limiter
	keys     llst.KeyStore
}

// newAuthEnv opens the LLST keys under dir (DATA/keys/llst, as serve).
func newAuthEnv(ctx context.Context, dir string, log *slog.Logger) (*authEnv, error) {
	store := llst.NewDirStore(filepath.Join(dir, "keys", "llst"), log)
	ring, err := llst.Open(ctx, llst.Config{Store: store, Issuer: authIssuer, Audience: authAudience, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("token keys: %w", err)
	}
	limiter, err := quota.New(quota.Config{})
	if err != nil {
		return nil, err
	}
	return &authEnv{ring: ring, issuer: llst.NewIssuer(ring), verifier: llst.NewVerifier(ring), limiter: limiter, keys: store}, nil
}

// access builds the gateway's Access on the server's store: the
// verifier, the quotas, refusals counted by the auth-event log (its
// per-minute flush is not run: the bench is shorter than a window).
func (e *authEnv) access(store ledger.Store) (*gateway.Access, error) {
	alog, err := authlog.New(authlog.Config{Store: store, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	v := e.verifier
	return &gateway.Access{
		Verify: func(_ context.Context, token string) (*auth.Principal, error) { return v.Verify(token) },
		Quotas: e.limiter,
		Denied: alog.Denied,
		Routes: map[string]http.Handler{"GET /.well-known/jwks.json": e.ring.JWKSHandler()},
	}, nil
}

// token issues a writer's service token for tenant.
func (e *authEnv) token(ctx context.Context, tenant, subject string) (string, error) {
	tok, _, err := e.issuer.Issue(ctx, llst.Claims{
		Subject: subject, Tenant: tenant, Roles: []string{authRole},
		Grants: auth.Grants(auth.BuiltinRoles()[authRole]), Kind: auth.KindService,
	})
	if err != nil {
		return "", fmt.Errorf("issue a token for %s: %w", tenant, err)
	}
	return tok, nil
}

// authOptions size the auth section.
type authOptions struct {
	Work           string
	Spans, Clients int
	Batch          int
	Verifies       int
	NoisyLimit     float64
	QuietRate      float64
	Period         time.Duration
	Timeout        time.Duration
	Log            *slog.Logger // progress
	ServerLog      *slog.Logger
}

// measureAuth runs the auth section on a fresh in-process server with
// authentication on (and, for the ingest, one with it off): the unsigned
// NDJSON ingest with a bearer token, the LLST verify rates, the noisy
// neighbour. Each part fills its own error; the returned error joins
// them.
func measureAuth(ctx context.Context, c *corpus, d ids, o authOptions) (Auth, error) {
	var res Auth
	dir := filepath.Join(o.Work, "auth")
	env, err := newAuthEnv(ctx, dir, o.ServerLog)
	if err != nil {
		return res, err
	}
	srv, err := startLocalWith(ctx, dir, serverOptions{access: env.access}, o.ServerLog)
	if err != nil {
		return res, fmt.Errorf("start the server with authentication: %w", err)
	}
	defer srv.Close()
	var errs []error

	res.IngestOff, res.Ingest, err = ingestOffOn(ctx, c, d, env, srv.url, o)
	if err != nil {
		return res, err
	}
	res.Share = rate(res.Ingest.SpansPerSec, res.IngestOff.SpansPerSec)
	for _, t := range []Throughput{res.IngestOff, res.Ingest} {
		if t.Error != "" {
			errs = append(errs, fmt.Errorf("ingest %s: %s", t.Name, t.Error))
		}
	}
	runtime.GC()

	o.Log.Info("bench: LLST verification", "verifies", o.Verifies)
	res.Verify = measureLLSTVerify(ctx, env, o.Verifies, time.Now().Add(o.Timeout), o.ServerLog)
	if res.Verify.Error != "" {
		errs = append(errs, fmt.Errorf("LLST verify: %s", res.Verify.Error))
	}

	o.Log.Info("bench: noisy neighbour", "limit", o.NoisyLimit, "noisy_rate", o.NoisyLimit*noisyFactor, "quiet_rate", o.QuietRate, "period", o.Period)
	res.Neighbour = noisyNeighbour(ctx, env, srv.url, c, d, o)
	if res.Neighbour.Error != "" {
		errs = append(errs, fmt.Errorf("noisy neighbour: %s", res.Neighbour.Error))
	}
	return res, errors.Join(errs...)
}

// ingestOffOn posts the corpus as unsigned NDJSON bodies into a fresh
// server with authentication off and into the one at base (on, with a
// token), in two rounds of o.Spans with fresh ids each: off, on, then
// on, off. The bodies are those of the auth-off run at the start of the
// report (the first round's are the same bytes); a token acts in one
// tenant, so a corpus of several is put in the first one's.
func ingestOffOn(ctx context.Context, c *corpus, d ids, env *authEnv, base string, o authOptions) (off, on Throughput, err error) {
	offSrv, err := startLocal(ctx, filepath.Join(o.Work, "auth-off"), 0, o.ServerLog)
	if err != nil {
		return off, on, fmt.Errorf("start the server without authentication: %w", err)
	}
	defer func() {
		if cerr := offSrv.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close the server without authentication: %w", cerr)
		}
	}()
	tenant := c.tenant(0)
	if !c.oneTenant() {
		if c, err = c.retenant(tenant); err != nil {
			return off, on, err
		}
	}
	if err := env.limiter.Set(tenant, ingestLimits, nil); err != nil {
		return off, on, err
	}
	tok, err := env.token(ctx, tenant, "bench-ingest")
	if err != nil {
		return off, on, err
	}
	hc := newHTTPClient()
	defer hc.CloseIdleConnections()
	targets := map[bool]*target{
		false: {base: offSrv.url, hc: hc},
		true:  {base: base, hc: hc, token: tok},
	}
	for _, t := range targets {
		if _, err := t.get(ctx, "/readyz"); err != nil {
			return off, on, fmt.Errorf("server at %s not ready: %w", t.base, err)
		}
	}
	off = Throughput{Name: "unsigned, auth off", Clients: o.Clients, Batch: o.Batch}
	on = Throughput{Name: "unsigned, auth on", Clients: o.Clients, Batch: o.Batch}
	deadline := time.Now().Add(o.Timeout)
	for round, order := range [][]bool{{false, true}, {true, false}} {
		kind := "u"
		if round > 0 {
			kind = "u" + strconv.Itoa(round+1) + "-"
		}
		bodies, _, _, err := makeBodies(ctx, c, d, kind, o.Spans, o.Batch, nil)
		if err != nil {
			return off, on, fmt.Errorf("make spans: %w", err)
		}
		for _, withAuth := range order {
			o.Log.Info("bench: NDJSON ingest, unsigned", "auth", withAuth, "round", round+1, "spans", o.Spans)
			r, _ := ingestBodies(ctx, targets[withAuth], "", bodies, o.Clients, o.Batch, deadline)
			sum := &off
			if withAuth {
				sum = &on
			}
			addThroughput(sum, r)
			hc.CloseIdleConnections()
		}
		bodies = nil
		runtime.GC()
	}
	return off, on, nil
}

// addThroughput adds run r to sum: spans, bytes and seconds add up, the
// rates are of the total.
func addThroughput(sum *Throughput, r Throughput) {
	sum.Spans += r.Spans
	sum.Bytes += r.Bytes
	sum.Seconds += r.Seconds
	sum.Partial = sum.Partial || r.Partial
	if sum.Error == "" {
		sum.Error = r.Error
	}
	sum.SpansPerSec = rate(float64(sum.Spans), sum.Seconds)
	sum.MBPerSec = rate(mb(sum.Bytes), sum.Seconds)
}

// measureLLSTVerify times n first-time verifications (a Verifier on the
// same keys with its cache disabled, one goroutine then GOMAXPROCS) and n
// cached ones (a Verifier that has seen every token), cycling up to
// maxVerifyTokens distinct tokens.
func measureLLSTVerify(ctx context.Context, env *authEnv, n int, deadline time.Time, log *slog.Logger) LLSTVerify {
	res := LLSTVerify{Verifies: n, Tokens: min(n, maxVerifyTokens)}
	fail := func(err error) LLSTVerify { res.Error = err.Error(); return res }
	uncachedRing, err := llst.Open(ctx, llst.Config{Store: env.keys, Issuer: authIssuer, Audience: authAudience, CacheSize: -1, Logger: log})
	if err != nil {
		return fail(fmt.Errorf("keys without a cache: %w", err))
	}
	tokens := make([]string, res.Tokens)
	for i := range tokens {
		if tokens[i], err = env.token(ctx, quietTenant, fmt.Sprintf("bench-verify-%d", i)); err != nil {
			return fail(err)
		}
	}
	first := llst.NewVerifier(uncachedRing)
	cached := llst.NewVerifier(env.ring)
	for _, tok := range tokens {
		if _, err := cached.Verify(tok); err != nil {
			return fail(fmt.Errorf("verify a token just issued: %w", err))
		}
	}
	// loop verifies tokens[lo..hi) cyclically with v and returns how many
	// it did before the deadline.
	loop := func(v *llst.Verifier, lo, hi int) (int, error) {
		for i := lo; i < hi; i++ {
			if i%1024 == 0 && time.Now().After(deadline) {
				return i - lo, nil
			}
			if _, err := v.Verify(tokens[i%len(tokens)]); err != nil {
				return i - lo, err
			}
		}
		return hi - lo, nil
	}
	timed := func(v *llst.Verifier, workers int) (float64, error) {
		done := make([]int, workers)
		errs := make([]error, workers)
		start := time.Now()
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() { done[w], errs[w] = loop(v, w*n/workers, (w+1)*n/workers) })
		}
		wg.Wait()
		secs := sinceSecs(start)
		total := 0
		for _, k := range done {
			total += k
		}
		if total < n {
			res.Partial = true
		}
		return rate(float64(total), secs), errors.Join(errs...)
	}
	if res.FirstPerSec, err = timed(first, 1); err != nil {
		return fail(err)
	}
	if res.FirstParallelPerSec, err = timed(first, runtime.GOMAXPROCS(0)); err != nil {
		return fail(err)
	}
	if res.CachedPerSec, err = timed(cached, 1); err != nil {
		return fail(err)
	}
	return res
}

// noisyNeighbour measures the quiet tenant's latency alone and beside
// the noisy one, limited to o.NoisyLimit requests/s and sending
// noisyFactor times that. The quiet tenant posts for o.Period in each
// state, in halves interleaved alone, beside, alone, beside, so that
// drift in the machine's load falls on both alike; the noisy tenant runs
// from a lead-in before each "beside" half to as long after it (its burst
// is spent before the quiet tenant starts, and its bucket refills during
// the next "alone" half). Each tenant has its own token and HTTP client.
func noisyNeighbour(ctx context.Context, env *authEnv, base string, c *corpus, d ids, o authOptions) Neighbour {
	res := Neighbour{NoisyLimit: o.NoisyLimit, NoisyRate: o.NoisyLimit * noisyFactor, QuietRate: o.QuietRate, Seconds: o.Period.Seconds()}
	fail := func(err error) Neighbour { res.Error = err.Error(); return res }
	if err := env.limiter.Set(noisyTenant, quota.Limits{Requests: quota.Limit{PerSecond: o.NoisyLimit}}, nil); err != nil {
		return fail(err)
	}
	quietC, err := c.retenant(quietTenant)
	if err != nil {
		return fail(err)
	}
	noisyC, err := c.retenant(noisyTenant)
	if err != nil {
		return fail(err)
	}
	quiet, noisy := &target{base: base, hc: newHTTPClient()}, &target{base: base, hc: newHTTPClient()}
	defer quiet.hc.CloseIdleConnections()
	defer noisy.hc.CloseIdleConnections()
	if quiet.token, err = env.token(ctx, quietTenant, "bench-quiet"); err != nil {
		return fail(err)
	}
	if noisy.token, err = env.token(ctx, noisyTenant, "bench-noisy"); err != nil {
		return fail(err)
	}

	half := o.Period / 2
	quietN := max(1, int(o.QuietRate*half.Seconds()))
	leadIn := min(maxLeadIn, half/5)
	res.LeadIn = leadIn.Seconds()
	noisyN := max(1, int(res.NoisyRate*(half+2*leadIn).Seconds()))

	// Warm-up: connections open, tokens in the verifier's cache. The
	// noisy tenant's warm-up takes one request from its bucket, back
	// long before it runs.
	for i, l := range quietC.lines(d, "qw", 10) {
		if err := quiet.postOne(ctx, l); err != nil {
			return fail(fmt.Errorf("quiet warm-up %d: %w", i, err))
		}
	}
	if err := noisy.postOne(ctx, noisyC.appendLine(nil, d.id("nw", 0), 0)); err != nil {
		return fail(fmt.Errorf("noisy warm-up: %w", err))
	}

	// quietHalf posts quietN spans at o.QuietRate and returns their
	// latencies, from each request's start to its answer.
	quietHalf := func(kind string) ([]time.Duration, error) {
		lines := quietC.lines(d, kind, quietN)
		durs := make([]time.Duration, quietN)
		var firstErr atomic.Pointer[error]
		dropped := paced(ctx, o.QuietRate, quietN, func(ctx context.Context, i int) {
			t0 := time.Now()
			status, b, err := quiet.postSingle(ctx, lines[i])
			if err == nil && status != http.StatusCreated {
				err = fmt.Errorf("POST /ingest: %d %s: %.300s", status, http.StatusText(status), b)
			}
			if err != nil {
				firstErr.CompareAndSwap(nil, &err)
				return
			}
			durs[i] = time.Since(t0)
		})
		if p := firstErr.Load(); p != nil {
			return nil, *p
		}
		if dropped > 0 {
			return nil, fmt.Errorf("%d requests dropped: more than %d in flight", dropped, maxInFlight)
		}
		return durs, nil
	}

	// noisyRun sends noisyN spans at res.NoisyRate and counts the answers.
	var accepted, refused, other atomic.Int64
	var otherErr atomic.Pointer[string]
	noisyRun := func(kind string) (seconds float64) {
		lines := noisyC.lines(d, kind, noisyN)
		start := time.Now()
		dropped := paced(ctx, res.NoisyRate, noisyN, func(ctx context.Context, i int) {
			status, b, err := noisy.postSingle(ctx, lines[i])
			switch {
			case err == nil && status == http.StatusCreated:
				accepted.Add(1)
			case err == nil && status == http.StatusTooManyRequests:
				refused.Add(1)
			default:
				other.Add(1)
				msg := fmt.Sprintf("%d %.200s", status, b)
				if err != nil {
					msg = err.Error()
				}
				otherErr.CompareAndSwap(nil, &msg)
			}
		})
		other.Add(int64(dropped))
		return sinceSecs(start)
	}

	var alone, beside []time.Duration
	var aloneSecs, besideSecs float64
	for round := range 2 {
		r := strconv.Itoa(round)
		o.Log.Info("bench: quiet tenant alone", "rate", o.QuietRate, "requests", quietN, "half", round+1)
		start := time.Now()
		durs, err := quietHalf("qa" + r + "-")
		aloneSecs += sinceSecs(start)
		if err != nil {
			return fail(fmt.Errorf("quiet tenant alone: %w", err))
		}
		alone = append(alone, durs...)

		o.Log.Info("bench: quiet tenant beside the noisy one", "noisy_rate", res.NoisyRate, "noisy_requests", noisyN, "half", round+1)
		noisySecs := make(chan float64, 1)
		go func() { noisySecs <- noisyRun("nn" + r + "-") }()
		select {
		case <-time.After(leadIn):
		case <-ctx.Done():
		}
		start = time.Now()
		durs, err = quietHalf("qb" + r + "-")
		besideSecs += sinceSecs(start)
		secs := <-noisySecs
		res.NoisySeconds += secs
		res.NoisySent += noisyN
		// The bucket starts full (burst = one second's worth) each run.
		res.NoisyAllowed += int(math.Ceil(o.NoisyLimit)) + int(math.Ceil(o.NoisyLimit*secs))
		if err != nil {
			return fail(fmt.Errorf("quiet tenant beside the noisy one: %w", err))
		}
		beside = append(beside, durs...)
	}
	res.Unloaded = pacedLatency(alone, aloneSecs)
	res.Loaded = pacedLatency(beside, besideSecs)
	res.NoisyAccepted, res.NoisyRefused, res.NoisyOther = int(accepted.Load()), int(refused.Load()), int(other.Load())
	res.RefusedShare = rate(float64(res.NoisyRefused), float64(res.NoisySent))
	res.P99Ratio = rate(res.Loaded.P99, res.Unloaded.P99)
	if p := otherErr.Load(); p != nil || res.NoisyOther > 0 {
		msg := "dropped: too many in flight"
		if p != nil {
			msg = *p
		}
		return fail(fmt.Errorf("noisy tenant: %d answers neither 201 nor 429 (first: %s)", res.NoisyOther, msg))
	}
	return res
}

// pacedLatency is the Latency of paced requests that took durs (sorted in
// place) over secs.
func pacedLatency(durs []time.Duration, secs float64) Latency {
	l := Latency{Requests: len(durs), Seconds: secs, PerSec: rate(float64(len(durs)), secs)}
	latencyOf(&l, durs)
	return l
}

// paced starts op(ctx, i) for i in [0, n) at rate per second, each in its
// own goroutine (open loop: a slow answer does not delay the next
// request), and waits for them all. A request that finds maxInFlight
// already running is not sent; paced returns how many were dropped.
func paced(ctx context.Context, perSec float64, n int, op func(ctx context.Context, i int)) (dropped int) {
	interval := time.Duration(float64(time.Second) / perSec)
	sem := make(chan struct{}, maxInFlight)
	var wg sync.WaitGroup
	start := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for i := range n {
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			dropped += n - i
			break
		}
		select {
		case sem <- struct{}{}:
		default:
			dropped++
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			op(ctx, i)
		})
	}
	wg.Wait()
	return dropped
}

// oneTenant reports whether every template has the same tenant.
func (c *corpus) oneTenant() bool {
	for _, t := range c.tmpl {
		if t.tenant != c.tmpl[0].tenant {
			return false
		}
	}
	return true
}

// retenant returns the corpus with every span in tenant.
func (c *corpus) retenant(tenant string) (*corpus, error) {
	out := &corpus{source: c.source, tmpl: make([]template, len(c.tmpl))}
	for i := range c.tmpl {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(c.tmpl[i].appendLine(nil, "probe-id"), &m); err != nil {
			return nil, fmt.Errorf("corpus span %d: %w", i, err)
		}
		delete(m, "tenant_id")
		m["tenant"], _ = json.Marshal(tenant)
		line, err := json.Marshal(m)
		if err != nil {
			return nil, err
		}
		if out.tmpl[i], err = newTemplate(line); err != nil {
			return nil, fmt.Errorf("corpus span %d in tenant %s: %w", i, tenant, err)
		}
	}
	return out, nil
}
