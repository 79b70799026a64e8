package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"time"
)

// The validators and dataplane sections measure alike, and this file is
// what they share. Three in-process servers (a section's variants) get
// the same NDJSON bodies in interleaved rounds: a warm-up round, not
// counted, then one round per order of the section's orders, fresh ids
// each round. Each timed run starts after a GC; after it the section may
// wait for its own work (a follower: the data plane's worker catching
// up), then for this process to be idle (settle), so that no run is
// charged with what the run before left behind. The figures: each
// server's runs added up, this process's CPU time per server, the share
// of all cores' time other processes used per round and over the rounds,
// each round's share (one server's spans/s ÷ another's), and the
// geometric means of pairs of rounds in which those two swap places,
// with their median. What the figures mean is the section's.

// follower is a section's own work around each timed run: the data
// plane's worker, which must catch up before the next run. Its methods
// are called on the section's goroutine, one run at a time.
type follower interface {
	// start is called before each run of server k, before its GC.
	start(k string)
	// catchUp is called when a run of server k ingested without failing.
	// It waits, until deadline at the most, for the server's own work on
	// what the run ingested, and says whether there was any: the run's CPU
	// time "with catch-up" then ends after it.
	catchUp(ctx context.Context, k string, deadline time.Time) (waited bool, err error)
}

// roundsOptions are what a section of rounds needs of Config.
type roundsOptions struct {
	Work           string
	Spans, Clients int
	Batch          int
	Timeout        time.Duration
	Log            *slog.Logger // progress
	ServerLog      *slog.Logger
}

// roundsPlan is how a section's rounds run.
type roundsPlan struct {
	Options roundsOptions
	// Section is the progress log's key for the server: "validators",
	// "dataplane".
	Section string
	// Variants are the servers in the section's order (of its figures and
	// of its errors); Names name their figures. Orders is the order of
	// each round.
	Variants []string
	Names    map[string]string
	Orders   [][3]string
	// A round's share is Num's spans/s ÷ Den's; in each pair of rounds
	// (1 and 2, 3 and 4, …) the two swap places.
	Num, Den string
	// Kind starts the span ids: Kind+"w-" in the warm-up, Kind+"<round>-"
	// in round <round> (from 0). Each run posts PerRun spans.
	Kind   string
	PerRun int
	// WarmUpRuns makes each post of the warm-up a timed run as the
	// rounds' (see run), its CPU time then forgotten; otherwise the
	// warm-up only posts (see post).
	WarmUpRuns bool
	// Settle waits after each run until this process is idle and says
	// how long it waited.
	Settle func(context.Context) (time.Duration, error)
	// Follow is the section's own wait after each run; nil: none.
	Follow follower
}

// rounds runs a section's warm-up and rounds. Close ends its connections.
type rounds struct {
	plan     roundsPlan
	sums     map[string]*Throughput
	hc       *http.Client
	targets  map[string]*target
	deadline time.Time
	cpu      cpuAccount
}

// newRounds starts the rounds of plan with the servers at url(variant),
// their runs to add up in sums (variant → the section's figures, named
// here). It waits for every server to answer /readyz; the section's
// deadline, Options.Timeout, starts then.
func newRounds(ctx context.Context, plan roundsPlan, url func(k string) string, sums map[string]*Throughput) (*rounds, error) {
	r := &rounds{plan: plan, sums: sums, hc: newHTTPClient(), targets: map[string]*target{}, cpu: newCPUAccount()}
	for _, k := range plan.Variants {
		r.targets[k] = &target{base: url(k), hc: r.hc}
		if _, err := r.targets[k].get(ctx, "/readyz"); err != nil {
			r.Close()
			return nil, fmt.Errorf("the %s server at %s not ready: %w", k, r.targets[k].base, err)
		}
	}
	for k, s := range sums {
		*s = Throughput{Name: plan.Names[k], Clients: plan.Options.Clients, Batch: plan.Options.Batch}
	}
	r.deadline = time.Now().Add(plan.Options.Timeout)
	return r, nil
}

// Close closes the idle connections to the servers.
func (r *rounds) Close() { r.hc.CloseIdleConnections() }

// run is one timed run: bodies to server k after a GC, then, unless the
// ingest failed, the follower's wait. This process's CPU time is added to
// k's (see cpuAccount). A run that did not fail ends with a wait until
// the process is idle; run returns the run's figures and that wait.
func (r *rounds) run(ctx context.Context, k string, bodies []body) (Throughput, time.Duration, error) {
	if r.plan.Follow != nil {
		r.plan.Follow.start(k)
	}
	runtime.GC() // every run starts from the same heap
	a, okA := readCPUTimes()
	t, _ := ingestBodies(ctx, r.targets[k], "", bodies, r.plan.Options.Clients, r.plan.Options.Batch, r.deadline)
	b, okB := readCPUTimes()
	all, okAll := b, okB
	if r.plan.Follow != nil && t.Error == "" {
		waited, err := r.plan.Follow.catchUp(ctx, k, r.deadline)
		if err != nil {
			return t, 0, err
		}
		if waited {
			all, okAll = readCPUTimes()
		}
	}
	r.cpu.add(k, a, b, all, okA && okB && okAll)
	if t.Error != "" {
		return t, 0, nil // the section stops here
	}
	settled, err := r.settle(ctx)
	return t, settled, err
}

// post posts bodies to server k and, unless that failed, waits until the
// process is idle: no GC before, no CPU time counted, no follower.
func (r *rounds) post(ctx context.Context, k string, bodies []body) (Throughput, time.Duration, error) {
	t, _ := ingestBodies(ctx, r.targets[k], "", bodies, r.plan.Options.Clients, r.plan.Options.Batch, r.deadline)
	if t.Error != "" {
		return t, 0, nil
	}
	settled, err := r.settle(ctx)
	return t, settled, err
}

// settle closes the idle connections (each run opens its own) and waits
// until the process is idle.
func (r *rounds) settle(ctx context.Context) (time.Duration, error) {
	r.hc.CloseIdleConnections()
	return r.plan.Settle(ctx)
}

// warmUp is the warm-up round, not counted: the first spans into an
// empty store go faster than any later ones, which would favour the
// server that runs first. The same bodies go to each server in the
// section's order, as timed runs or as posts (roundsPlan.WarmUpRuns).
func (r *rounds) warmUp(ctx context.Context, c *corpus, d ids) error {
	warm, _, _, err := makeBodies(ctx, c, d, r.plan.Kind+"w-", r.plan.PerRun, r.plan.Options.Batch, nil)
	if err != nil {
		return fmt.Errorf("make spans: %w", err)
	}
	ingest := r.post
	if r.plan.WarmUpRuns {
		ingest = r.run
	}
	for _, k := range r.plan.Variants {
		r.plan.Options.Log.Info("bench: NDJSON ingest, unsigned, warm-up", r.plan.Section, k, "spans", r.plan.PerRun)
		t, _, err := ingest(ctx, k, warm)
		if err != nil {
			return fmt.Errorf("warm-up of the %s server: %w", k, err)
		}
		if t.Error != "" {
			return fmt.Errorf("warm-up of the %s server: %s", k, t.Error)
		}
	}
	r.cpu = newCPUAccount()
	return nil
}

// roundFigures are one round's figures.
type roundFigures struct {
	Order  []string
	PerSec map[string]float64 // each server's spans/s (0: it did not run)
	Share  float64            // Num's spans/s ÷ Den's
	// OtherCPUShare is the part of all cores' time other processes used
	// during the round (-1 when unknown).
	OtherCPUShare float64
}

// roundsResult are the figures of all rounds.
type roundsResult struct {
	Rounds []roundFigures
	// OtherCPUShare is as a round's, over all rounds; SettleSeconds is
	// how long the runs waited for the process to be idle, in all.
	OtherCPUShare float64
	SettleSeconds float64
	// PairShares are the geometric means of the shares of rounds 1 and
	// 2, 3 and 4, …; MedianPairShare their median.
	PairShares      []float64
	MedianPairShare float64
}

// measure runs the warm-up and the rounds over spans of c, each server's
// runs added to its sums. After each run that did not fail, record (unless nil) gets
// the round (from 0), the server and the run's figures; the follower
// still holds what its wait after the run saw. A failed run ends the
// rounds after its own: the rest would not compare. On an error only the
// rounds finished and SettleSeconds are set.
func (r *rounds) measure(ctx context.Context, c *corpus, d ids, record func(round int, k string, t Throughput)) (res roundsResult, err error) {
	if err := r.warmUp(ctx, c, d); err != nil {
		return res, err
	}
	secStart, okSecStart := readCPUTimes()
	failed := false
	for round := 0; round < len(r.plan.Orders) && !failed; round++ {
		order := r.plan.Orders[round][:]
		bodies, _, _, err := makeBodies(ctx, c, d, r.plan.Kind+strconv.Itoa(round)+"-", r.plan.PerRun, r.plan.Options.Batch, nil)
		if err != nil {
			return res, fmt.Errorf("make spans: %w", err)
		}
		fig := roundFigures{Order: order, PerSec: map[string]float64{}}
		roundStart, okRoundStart := readCPUTimes()
		for _, k := range order {
			r.plan.Options.Log.Info("bench: NDJSON ingest, unsigned", r.plan.Section, k, "round", round+1, "spans", r.plan.PerRun)
			t, settled, err := r.run(ctx, k, bodies)
			addThroughput(r.sums[k], t)
			res.SettleSeconds += settled.Seconds()
			if err != nil {
				return res, fmt.Errorf("round %d, %s server: %w", round+1, k, err)
			}
			if t.Error != "" {
				failed = true
				break
			}
			fig.PerSec[k] = t.SpansPerSec
			if record != nil {
				record(round, k, t)
			}
		}
		roundEnd, okRoundEnd := readCPUTimes()
		fig.OtherCPUShare = otherCPUShare(roundStart, roundEnd, okRoundStart, okRoundEnd)
		fig.Share = rate(fig.PerSec[r.plan.Num], fig.PerSec[r.plan.Den])
		res.Rounds = append(res.Rounds, fig)
		bodies = nil
		runtime.GC()
	}
	secEnd, okSecEnd := readCPUTimes()
	res.OtherCPUShare = otherCPUShare(secStart, secEnd, okSecStart, okSecEnd)
	shares := make([]float64, len(res.Rounds))
	for i, f := range res.Rounds {
		shares[i] = f.Share
	}
	res.PairShares = pairShares(shares)
	res.MedianPairShare = median(slices.Clone(res.PairShares))
	return res, nil
}

// ingestErrors are the servers' failed ingests, in the section's order.
func (r *rounds) ingestErrors() []error {
	var errs []error
	for _, k := range r.plan.Variants {
		if s := r.sums[k]; s.Error != "" {
			errs = append(errs, fmt.Errorf("ingest %s: %s", s.Name, s.Error))
		}
	}
	return errs
}

// cpuMicros are this process's CPU µs per span of each server's timed
// runs, and of them with the follower's waits after them (all); ok is
// false, and the maps nil, when a reading failed or a server has no
// spans.
func (r *rounds) cpuMicros() (run, all map[string]float64, ok bool) {
	if !r.cpu.known {
		return nil, nil, false
	}
	for _, k := range r.plan.Variants {
		if r.sums[k].Spans <= 0 {
			return nil, nil, false
		}
	}
	run, all = map[string]float64{}, map[string]float64{}
	for _, k := range r.plan.Variants {
		spans := float64(r.sums[k].Spans)
		run[k] = r.cpu.run[k] * 1e6 / spans
		all[k] = r.cpu.all[k] * 1e6 / spans
	}
	return run, all, true
}

// cpuAccount adds up this process's CPU seconds (clients, servers and
// their workers) per server: during its ingest runs (run), and during
// them and the follower's waits after them (all).
type cpuAccount struct {
	run, all map[string]float64
	known    bool // every reading succeeded
}

func newCPUAccount() cpuAccount {
	return cpuAccount{run: map[string]float64{}, all: map[string]float64{}, known: true}
}

// add adds a run of server k: from a to b ingest, from a to all with the
// wait after it; ok says all three readings succeeded.
func (c *cpuAccount) add(k string, a, b, all cpuTimes, ok bool) {
	c.known = c.known && ok
	c.run[k] += b.self - a.self
	c.all[k] += all.self - a.self
}

// compare compares two rates: share is a ÷ b (0 when either is 0), cost
// 1 − share and wallMicros the µs a adds to each span in wall-clock
// time, 1e6/a − 1e6/b; cost and wallMicros are 0 when share is.
func compare(a, b float64) (share, cost, wallMicros float64) {
	share = rate(a, b)
	if share > 0 {
		cost = 1 - share
		wallMicros = 1e6/a - 1e6/b
	}
	return share, cost, wallMicros
}

// closeServers closes a section's servers (variant → server; a variant
// not started is absent) in the order of variants, and returns the first
// error with its server's name.
func closeServers[S io.Closer](variants []string, servers map[string]S) error {
	var first error
	for _, k := range variants {
		if srv, ok := servers[k]; ok {
			if err := srv.Close(); err != nil && first == nil {
				first = fmt.Errorf("close the %s server: %w", k, err)
			}
		}
	}
	return first
}

// pairShares are the geometric means of shares[2i] and shares[2i+1]
// (the shares of rounds in which two variants swap places); a round
// without its pair is left out.
func pairShares(shares []float64) []float64 {
	var out []float64
	for i := 0; i+1 < len(shares); i += 2 {
		out = append(out, math.Sqrt(shares[i]*shares[i+1]))
	}
	return out
}

// median is the median of xs (sorted in place); 0 when empty.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	if n := len(xs); n%2 == 1 {
		return xs[n/2]
	}
	n := len(xs)
	return (xs[n/2-1] + xs[n/2]) / 2
}
