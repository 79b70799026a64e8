package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"sync"
	"time"

	"github.com/logline/logline/internal/auth/tenantcfg"
	"github.com/logline/logline/internal/dataplane"
	"github.com/logline/logline/internal/derive"
	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/lll/check"
	"github.com/logline/logline/internal/lll/eval"
	"github.com/logline/logline/internal/programs"
	"github.com/logline/logline/internal/span"
)

// The dataplane section (issue 7, "Speed"): what deriving trajectories,
// quality scores and diamond candidates costs on ingest, and how fast
// the data plane itself goes. Three in-process servers like the
// validators section's — tenant programs as serve loads them, here the
// canonical_contract_v1 — with one tenant whose tenant.yaml differs, and
// the data-plane worker run as serve runs it (internal/dataplane over the
// server's store, the tenant's program and its feature flags from
// tenant.yaml, its state in DATA/derive/state.json, the gateway
// appending through its backpressure):
//
//   - none: no worker (serve --no-derive);
//   - off: the worker, features.trajectory off — serve's default: it
//     follows the log and derives nothing;
//   - on: the worker, features.trajectory and features.diamond on.
//
// Each server gets the same bodies in interleaved rounds (the orders of
// the validators section). After each run the section waits until the
// worker has applied every entry, the derived spans it appended
// included, so that each run measures ingest with derivation running
// alongside, never a backlog left by the run before.
const (
	// dpTenant is the tenant of the three servers.
	dpTenant = "bench-dataplane"
	// dpRounds is how many rounds each server ingests.
	dpRounds = valRounds
	// dpPoll is how often the worker's progress is looked at while the
	// section waits for it to catch up.
	dpPoll = time.Millisecond
	// targetDataPlaneCost is the target of issue 7: ingest with
	// trajectories and quality on at most 25% slower than with them off.
	targetDataPlaneCost = 0.25
)

// dpRunSpans is how many spans each run of the section posts: half of
// Config.Spans, as in the validators section.
func dpRunSpans(spans int) int { return valRunSpans(spans) }

// dpVariants are the three servers.
var dpVariants = []string{"none", "off", "on"}

// dpOrders are the orders of the rounds: valOrders with the variants
// renamed (none → off, default → none, full → on), so that each server
// runs first, second and last equally often, and off and on swap places
// in rounds 1 and 2, 3 and 4, 5 and 6.
func dpOrders() [dpRounds][3]string {
	rename := map[string]string{"none": "off", "default": "none", "full": "on"}
	var out [dpRounds][3]string
	for i, o := range valOrders {
		for j, k := range o {
			out[i][j] = rename[k]
		}
	}
	return out
}

// dpFiles are the files of dpTenant's directory on the server of each
// variant: canonical_contract_v1 (what a tenant without programs runs)
// and a tenant.yaml whose features.trajectory and features.diamond are
// on for "on", off for the others.
func dpFiles(key string) map[string][]byte {
	on := strconv.FormatBool(key == "on")
	yaml := fmt.Sprintf("# The bench's tenant (%s).\nversion: %d\nfeatures:\n  trajectory: %s\n  diamond: %s\n", key, tenantcfg.Version, on, on)
	return map[string][]byte{
		check.CanonicalContractFile: check.CanonicalContractSource(),
		"tenant.yaml":               []byte(yaml),
	}
}

// DataPlane is what the data plane costs on ingest, and its own speed.
type DataPlane struct {
	// None, Off and On are the unsigned NDJSON ingest of the corpus,
	// durable, into the server without a worker, the one whose worker
	// derives nothing (features.trajectory off) and the one whose worker
	// derives trajectories, scores and candidates; dpRounds runs of half
	// Config.Spans each (fresh ids each round, the same bodies for the
	// three), in the orders of dpOrders. The figures are of all rounds
	// together; a run's time ends with the last response, before the
	// worker has caught up.
	None Throughput `json:"ingest_no_worker"`
	Off  Throughput `json:"ingest_trajectory_off"`
	On   Throughput `json:"ingest_trajectory_on"`
	// Share is On ÷ Off in spans/s and Cost is 1 − Share (the target is
	// Cost ≤ 25%); OffShare is Off ÷ None (what following the log costs
	// when nothing is derived).
	Share    float64 `json:"on_share"`
	Cost     float64 `json:"on_cost"`
	OffShare float64 `json:"off_share"`
	// WallMicros is 1e6/On − 1e6/Off µs per span.
	WallMicros float64 `json:"wall_us_per_span"`
	// The rates above end with the last response, while the worker may
	// still be behind. OnSustainedPerSec and OffSustainedPerSec count the
	// catch-up too: spans ÷ (ingest + catch-up seconds), the ingest rate
	// the worker keeps up with; SustainedShare is their ratio and
	// SustainedCost 1 − that.
	OnSustainedPerSec  float64 `json:"on_sustained_spans_per_sec"`
	OffSustainedPerSec float64 `json:"off_sustained_spans_per_sec"`
	SustainedShare     float64 `json:"sustained_share"`
	SustainedCost      float64 `json:"sustained_cost"`
	// CPU time of this process (clients, server and worker) per ingested
	// span, µs, during each server's ingest runs, and during its runs and
	// the worker's catch-up after them (…All); 0 when unknown.
	// CPUMicros is OnAll − OffAll: the data plane's CPU per span.
	CPUMicrosNone   float64 `json:"cpu_us_per_span_none"`
	CPUMicrosOff    float64 `json:"cpu_us_per_span_off"`
	CPUMicrosOn     float64 `json:"cpu_us_per_span_on"`
	CPUMicrosOffAll float64 `json:"cpu_us_per_span_off_with_catch_up"`
	CPUMicrosOnAll  float64 `json:"cpu_us_per_span_on_with_catch_up"`
	CPUMicros       float64 `json:"cpu_us_per_span_data_plane"`
	// Derived is how many spans the on worker appended during the timed
	// rounds, DerivedPerSpan that ÷ On.Spans.
	Derived        int64   `json:"derived"`
	DerivedPerSpan float64 `json:"derived_per_span"`
	// MaxLag is the largest backlog (entries appended, not yet applied)
	// of the on worker when an ingest run ended.
	MaxLag uint64 `json:"max_lag"`
	// The on worker's catch-ups after the runs, together: how long they
	// took, entries applied per second (derived spans read back
	// included) and derived spans appended per second. The worker alone
	// on the machine: the data plane's own speed.
	CatchUpSeconds       float64 `json:"catch_up_seconds"`
	CatchUpEntriesPerSec float64 `json:"catch_up_entries_per_sec"`
	CatchUpDerivedPerSec float64 `json:"catch_up_derived_per_sec"`
	// OffCatchUpSeconds is the off worker's catch-ups together.
	OffCatchUpSeconds float64 `json:"off_catch_up_seconds"`
	// OtherCPUShare is the part of all cores' time other processes used
	// during the timed rounds (-1 when unknown).
	OtherCPUShare float64 `json:"other_cpu_share"`
	// SettleSeconds is how long the section waited, in all, for the
	// process to be idle after each run (and its catch-up).
	SettleSeconds float64 `json:"settle_seconds"`
	// Rounds are the figures of each round; PairShares the geometric
	// means of On ÷ Off of rounds 1 and 2, 3 and 4, 5 and 6 (on and off
	// swap places), MedianPairShare their median.
	Rounds          []DataPlaneRound `json:"rounds,omitempty"`
	PairShares      []float64        `json:"pair_shares,omitempty"`
	MedianPairShare float64          `json:"median_pair_share"`
	// Derive alone in this process, on one goroutine, over the corpus
	// spans decoded, DeriveCalls input spans: Engine.Apply with every
	// derived span encoded (Derived.AppendJSON), µs per input span; and
	// the same with every derived span built as the span the worker
	// appends (Derived.Span, span.Builder).
	DeriveMicros      float64 `json:"derive_us_per_span"`
	DeriveBuildMicros float64 `json:"derive_and_build_us_per_span"`
	DeriveCalls       int     `json:"derive_calls"`
	DerivePerSpan     float64 `json:"derive_derived_per_span"`
	Skipped           string  `json:"skipped,omitempty"`
	Error             string  `json:"error,omitempty"`
}

// DataPlaneRound is one round: each server's rate, in the order run, and
// the on worker's lag and catch-up.
type DataPlaneRound struct {
	Order      []string `json:"order"` // "none", "off", "on"
	NonePerSec float64  `json:"none_spans_per_sec"`
	OffPerSec  float64  `json:"off_spans_per_sec"`
	OnPerSec   float64  `json:"on_spans_per_sec"`
	Share      float64  `json:"on_share"`
	// Lag is the on worker's backlog when its ingest run ended (entries);
	// OffLag the off worker's, OffCatchUpSeconds its catch-up.
	Lag               uint64  `json:"lag"`
	OffLag            uint64  `json:"off_lag"`
	OffCatchUpSeconds float64 `json:"off_catch_up_seconds"`
	// CatchUpSeconds is how long the on worker took to apply them (and
	// what they derived); CatchUpEntries and CatchUpDerived what it
	// applied and appended meanwhile.
	CatchUpSeconds float64 `json:"catch_up_seconds"`
	CatchUpEntries uint64  `json:"catch_up_entries"`
	CatchUpDerived int64   `json:"catch_up_derived"`
	// Derived is what the on worker appended during the run and its
	// catch-up; DerivedPerSpan that ÷ the spans of the run.
	Derived        int64   `json:"derived"`
	DerivedPerSpan float64 `json:"derived_per_span"`
	OtherCPUShare  float64 `json:"other_cpu_share"`
}

// dataPlaneOptions are what measureDataPlane needs of Config.
type dataPlaneOptions = roundsOptions

// dpServer is a server with tenant programs and tenant.yaml files, and
// (unless nil) the data-plane worker, as serve runs them.
type dpServer struct {
	*valServer
	tenants *tenantcfg.Watcher
	worker  *dataplane.Worker // nil: serve --no-derive
	stop    func() error      // ends the worker and the tenant.yaml reloads
}

// startDPServer writes files (tenant → file → content) under
// dir/cfg/tenants and starts a server in dir as serve does: tenant.yaml
// read and polled (tenantcfg), the programs loaded with the tenants'
// flags, the gateway running them, and with worker the data-plane worker
// following the store, the gateway appending through its backpressure.
func startDPServer(ctx context.Context, dir string, files map[string]map[string][]byte, worker bool, log *slog.Logger) (*dpServer, error) {
	if err := writeTenantFiles(dir, files); err != nil {
		return nil, err
	}
	tenants, err := tenantcfg.New(ctx, tenantcfg.Config{DataDir: dir, ValidTenant: span.ValidTenant, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("tenant configuration: %w", err)
	}
	if errs := tenants.Status().Problems(); len(errs) > 0 {
		return nil, fmt.Errorf("tenant configuration: %w", errs.Err())
	}
	// As serve's tenantFeatures (internal/cli).
	features := func(tenant string) eval.Features {
		f := tenants.Current().TenantOrDefaults(tenant).Features()
		return eval.Features{Trajectory: f.Trajectory, Diamond: f.Diamond}
	}
	// As serve: the worker over the store, and the gateway appending
	// through its backpressure (dataplane.Admitting).
	var w *dataplane.Worker
	var ingest func(ledger.Store, *programs.Set) (ledger.Store, error)
	if worker {
		ingest = func(store ledger.Store, set *programs.Set) (ledger.Store, error) {
			var err error
			w, err = dataplane.Open(dataplane.Config{
				Store:     store,
				Program:   set.Program,
				Features:  features,
				StatePath: filepath.Join(dir, dataplane.StateFile),
				Logger:    log.With("component", "dataplane"),
			})
			if err != nil {
				return nil, err
			}
			return dataplane.Admitting(store, w), nil
		}
	}
	vs, err := startProgServer(ctx, dir, len(files), features, ingest, log)
	if err != nil {
		return nil, err
	}
	s := &dpServer{valServer: vs, tenants: tenants, worker: w}
	loops := []func(context.Context) error{tenants.Run}
	if w != nil {
		loops = append(loops, w.Run)
	}
	loopCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	errs := make([]error, len(loops))
	for i, loop := range loops {
		wg.Go(func() { errs[i] = loop(loopCtx) })
	}
	s.stop = func() error { cancel(); wg.Wait(); return errors.Join(errs...) }
	return s, nil
}

// Close stops the worker (before the store closes, as serve does), the
// reloads and the server.
func (s *dpServer) Close() error {
	return errors.Join(s.stop(), s.valServer.Close())
}

// backlog is how many entries the worker has yet to apply, the ledger's
// head read now.
func (s *dpServer) backlog() (dataplane.Status, uint64) {
	st := s.worker.Status()
	st.Head = max(st.Head, s.store.Size())
	return st, st.Backlog()
}

// catchUp waits until the worker has applied every entry of the store —
// the derived spans it appended too — and returns how long that took. A
// worker error, ctx's end or the deadline ends the wait with an error.
func (s *dpServer) catchUp(ctx context.Context, deadline time.Time) (time.Duration, error) {
	start := time.Now()
	t := time.NewTicker(dpPoll)
	defer t.Stop()
	for {
		st := s.worker.Status()
		switch {
		case st.Err != "":
			return time.Since(start), fmt.Errorf("data-plane worker: %s", st.Err)
		case st.Cursor >= s.store.Size():
			return time.Since(start), nil
		case time.Now().After(deadline):
			return time.Since(start), fmt.Errorf("the data-plane worker did not catch up in time: at %d of %d entries", st.Cursor, s.store.Size())
		}
		select {
		case <-ctx.Done():
			return time.Since(start), ctx.Err()
		case <-t.C:
		}
	}
}

// dpPlan is how the section's rounds run (rounds.go): in the orders of
// dpOrders, on ÷ off each round, follow's catch-up after each run, the
// warm-up as timed runs (the workers' first trajectories open, and each
// worker catches up before the rounds).
func dpPlan(o dataPlaneOptions, follow *dpFollower) roundsPlan {
	orders := dpOrders()
	return roundsPlan{
		Options: o, Section: "dataplane", Variants: dpVariants, Orders: orders[:], Num: "on", Den: "off",
		Names:      map[string]string{"none": "no worker (serve --no-derive)", "off": "worker, features.trajectory off", "on": "worker, trajectory + diamond on"},
		WarmUpRuns: true, Kind: "d", PerRun: dpRunSpans(o.Spans), Settle: settle, Follow: follow,
	}
}

// sums are the servers' ingest figures by variant.
func (dp *DataPlane) sums() map[string]*Throughput {
	return map[string]*Throughput{"none": &dp.None, "off": &dp.Off, "on": &dp.On}
}

// dpFollower is the data plane's part of each timed run (a follower):
// the off and on servers' workers catch up after each ingest run. last is
// what the last run's catch-up saw.
type dpFollower struct {
	servers map[string]*dpServer
	before  dataplane.Status // the last run's worker, before the run
	last    dpCatchUp
}

// dpCatchUp is what a worker did after an ingest run: its backlog when
// the run ended (lag), how long it took to apply it (took), the entries
// it applied and the spans it derived meanwhile (caught, during), and the
// spans it derived during the run and its catch-up (derived).
type dpCatchUp struct {
	lag, caught     uint64
	derived, during int64
	took            time.Duration
}

// start notes where server k's worker, if it has one, stands before the
// run.
func (f *dpFollower) start(k string) {
	f.last = dpCatchUp{}
	if w := f.servers[k].worker; w != nil {
		f.before = w.Status()
	}
}

// catchUp waits for server k's worker, if it has one, to apply every
// entry of its store.
func (f *dpFollower) catchUp(ctx context.Context, k string, deadline time.Time) (bool, error) {
	srv := f.servers[k]
	if srv.worker == nil {
		return false, nil
	}
	end, lag := srv.backlog()
	f.last.lag = lag
	took, err := srv.catchUp(ctx, deadline)
	if err != nil {
		return true, err
	}
	after := srv.worker.Status()
	f.last.took = took
	f.last.caught = after.Cursor - end.Cursor
	f.last.during = after.Derived - end.Derived
	f.last.derived = after.Derived - f.before.Derived
	return true, nil
}

// measureDataPlane runs the dataplane section in o.Work/dataplane-*.
func measureDataPlane(ctx context.Context, c *corpus, d ids, o dataPlaneOptions) (res DataPlane, err error) {
	res.OtherCPUShare = -1
	servers := map[string]*dpServer{}
	defer func() {
		if cerr := closeServers(dpVariants, servers); cerr != nil && err == nil {
			err = cerr
		}
	}()
	for _, k := range dpVariants {
		// The server's goroutines (HTTP handlers, the store's writer, the
		// worker) carry the profiler label bench_server=dataplane-<k>,
		// so that a --cpuprofile tells the servers apart.
		var srv *dpServer
		var err error
		pprof.Do(ctx, pprof.Labels("bench_server", "dataplane-"+k), func(ctx context.Context) {
			srv, err = startDPServer(ctx, filepath.Join(o.Work, "dataplane-"+k), map[string]map[string][]byte{dpTenant: dpFiles(k)}, k != "none", o.ServerLog)
		})
		if err != nil {
			return res, fmt.Errorf("start the %s server: %w", k, err)
		}
		servers[k] = srv
	}
	// The flags each server's worker sees.
	for _, k := range dpVariants {
		f := servers[k].tenants.Current().TenantOrDefaults(dpTenant).Features()
		if want := k == "on"; f.Trajectory != want || f.Diamond != want {
			return res, fmt.Errorf("the %s server's tenant has features %+v, want trajectory and diamond %v", k, f, want)
		}
	}
	prog := servers["on"].set.Program(dpTenant)
	policy, err := derive.PolicyOf(prog, true, true)
	if err != nil {
		return res, fmt.Errorf("the tenant's data-plane policy: %w", err)
	}
	dc, err := c.retenant(dpTenant)
	if err != nil {
		return res, err
	}

	follow := &dpFollower{servers: servers}
	rs, err := newRounds(ctx, dpPlan(o, follow), func(k string) string { return servers[k].url }, res.sums())
	if err != nil {
		return res, err
	}
	defer rs.Close()

	// What the workers did in each round, and in all.
	workers := make([]DataPlaneRound, dpRounds)
	var caughtEntries uint64
	var caughtDerived int64
	rr, err := rs.measure(ctx, dc, d, func(round int, k string, t Throughput) {
		cu, rd := follow.last, &workers[round]
		switch k {
		case "off":
			rd.OffLag = cu.lag
			rd.OffCatchUpSeconds = cu.took.Seconds()
			res.OffCatchUpSeconds += cu.took.Seconds()
		case "on":
			rd.Lag = cu.lag
			rd.CatchUpSeconds = cu.took.Seconds()
			rd.CatchUpEntries = cu.caught
			rd.CatchUpDerived = cu.during
			rd.Derived = cu.derived
			rd.DerivedPerSpan = rate(float64(cu.derived), float64(t.Spans))
			res.Derived += cu.derived
			res.MaxLag = max(res.MaxLag, cu.lag)
			res.CatchUpSeconds += cu.took.Seconds()
			caughtEntries += cu.caught
			caughtDerived += cu.during
		}
	})
	res.SettleSeconds = rr.SettleSeconds
	for i, f := range rr.Rounds {
		rd := workers[i]
		rd.Order, rd.Share, rd.OtherCPUShare = f.Order, f.Share, f.OtherCPUShare
		rd.NonePerSec, rd.OffPerSec, rd.OnPerSec = f.PerSec["none"], f.PerSec["off"], f.PerSec["on"]
		res.Rounds = append(res.Rounds, rd)
	}
	if err != nil {
		return res, err
	}
	res.OtherCPUShare, res.PairShares, res.MedianPairShare = rr.OtherCPUShare, rr.PairShares, rr.MedianPairShare
	errs := rs.ingestErrors()
	res.Share, res.Cost, res.WallMicros = compare(res.On.SpansPerSec, res.Off.SpansPerSec)
	res.OffShare = rate(res.Off.SpansPerSec, res.None.SpansPerSec)
	res.OnSustainedPerSec = rate(float64(res.On.Spans), res.On.Seconds+res.CatchUpSeconds)
	res.OffSustainedPerSec = rate(float64(res.Off.Spans), res.Off.Seconds+res.OffCatchUpSeconds)
	res.SustainedShare, res.SustainedCost, _ = compare(res.OnSustainedPerSec, res.OffSustainedPerSec)
	res.DerivedPerSpan = rate(float64(res.Derived), float64(res.On.Spans))
	res.CatchUpEntriesPerSec = rate(float64(caughtEntries), res.CatchUpSeconds)
	res.CatchUpDerivedPerSec = rate(float64(caughtDerived), res.CatchUpSeconds)
	if run, all, ok := rs.cpuMicros(); ok {
		res.CPUMicrosNone, res.CPUMicrosOff, res.CPUMicrosOn = run["none"], run["off"], run["on"]
		res.CPUMicrosOffAll, res.CPUMicrosOnAll = all["off"], all["on"]
		res.CPUMicros = res.CPUMicrosOnAll - res.CPUMicrosOffAll
	}

	// Derivation alone, on the same spans: as many as the on server
	// ingested.
	if len(errs) == 0 {
		spans, err := dc.decodeAll()
		if err != nil {
			return res, err
		}
		res.DeriveCalls = dpRounds * dpRunSpans(o.Spans)
		o.Log.Info("bench: derive in this process", "spans", res.DeriveCalls)
		if res.DeriveMicros, res.DerivePerSpan, err = deriveMicros(policy, spans, res.DeriveCalls, false, rs.deadline); err == nil {
			res.DeriveBuildMicros, _, err = deriveMicros(policy, spans, res.DeriveCalls, true, rs.deadline)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("derive alone: %w", err))
		}
	}
	return res, errors.Join(errs...)
}

// deriveMicros runs one engine with policy p over spans (cycled) for
// calls input spans on this goroutine, as the worker does without the
// store: derive.FromSpan, Engine.Apply, every derived span encoded (or,
// with build, built as the span the worker appends), and returns µs per
// input span and derived spans per input span.
func deriveMicros(p *derive.Policy, spans []*span.Span, calls int, build bool, deadline time.Time) (us, perSpan float64, err error) {
	if len(spans) == 0 || calls <= 0 {
		return 0, 0, errors.New("nothing to derive")
	}
	e := derive.New(func(string) *derive.Policy { return p })
	var buf []byte
	var b span.Builder
	var derived int
	var derr error
	emit := func(d *derive.Derived) {
		derived++
		if !build {
			buf = d.AppendJSON(buf[:0])
			return
		}
		if _, err := d.Span(&b); err != nil && derr == nil {
			derr = fmt.Errorf("derived span %s: %w", d.ID, err)
		}
	}
	start := time.Now()
	done := 0
	for ; done < calls; done++ {
		if done%4096 == 0 && done > 0 && time.Now().After(deadline) {
			break
		}
		if err := e.Apply(derive.FromSpan(spans[done%len(spans)]), emit); err != nil {
			return 0, 0, err
		}
		if derr != nil {
			return 0, 0, derr
		}
	}
	return sinceSecs(start) * 1e6 / float64(done), float64(derived) / float64(done), nil
}
