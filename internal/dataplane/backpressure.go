package dataplane

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/logline/logline/internal/span"
)

// The overload actions of policy derived_events_perf (ARCHITECTURE.md §6).
const (
	ShedDerived = "shed_derived"
	SlowIngest  = "slow_ingest"
	Reject429   = "reject_429"
)

// DefaultMaxBacklog bounds the derivation queue: entries appended but
// not yet applied.
const DefaultMaxBacklog = 100_000

// maxSlowWait bounds how long Admit holds an ingest under slow_ingest
// before refusing it.
const maxSlowWait = 10 * time.Second

// OverloadError refuses an ingest while the tenant's derivation is over
// its policy's limits (reject_429, or slow_ingest past its wait).
type OverloadError struct {
	Tenant     string
	Reason     string // "max_per_minute" or "backlog"
	RetryAfter time.Duration
}

func (e *OverloadError) Error() string {
	return e.Problem() + "; retry in " + e.RetryAfter.Round(time.Second).String()
}

// Problem says what is overloaded and why, without when to retry.
func (e *OverloadError) Problem() string {
	return fmt.Sprintf("the data plane of tenant %s is overloaded (%s)", e.Tenant, e.Reason)
}

// rate is one tenant's derived spans in the current wall-clock minute.
type rate struct {
	minute   time.Time // start of the minute
	derived  int       // appended this minute
	shed     int       // shed this minute
	shedFrom uint64    // log index of the first and last cause shed
	shedTo   uint64
	reason   string
}

// overloads is what Admit reads: the tenants over their limits, until
// when. Written by the worker, read by ingest goroutines.
type overloads struct {
	mu sync.Mutex
	m  map[string]overload
	ch chan struct{} // closed and replaced whenever an overload clears
}

type overload struct {
	action string
	reason string
	until  time.Time // wall clock
}

func newOverloads() *overloads { return &overloads{m: map[string]overload{}, ch: make(chan struct{})} }

func (o *overloads) set(tenant string, ov overload) {
	o.mu.Lock()
	o.m[tenant] = ov
	o.mu.Unlock()
}

// clear drops the overloads that ended at now (all with force).
func (o *overloads) clear(now time.Time, backlogOK bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	changed := false
	for t, ov := range o.m {
		if !now.Before(ov.until) && (backlogOK || ov.reason != "backlog") {
			delete(o.m, t)
			changed = true
		}
	}
	if changed {
		close(o.ch)
		o.ch = make(chan struct{})
	}
}

func (o *overloads) get(tenant string) (overload, bool, <-chan struct{}) {
	o.mu.Lock()
	defer o.mu.Unlock()
	ov, ok := o.m[tenant]
	return ov, ok, o.ch
}

// Admit is asked before a tenant's spans are appended. Under the
// tenant's derived_events_perf policy, while its derivation is over
// max_per_minute or the derivation backlog is over its bound: with
// slow_ingest it waits (up to 10 s, then refuses); with reject_429 it
// refuses at once with an *OverloadError carrying Retry-After. Otherwise,
// and with shed_derived (the worker drops derived spans instead), it
// returns nil at once. It never blocks the worker.
func (w *Worker) Admit(ctx context.Context, tenant string) error {
	deadline := time.Now().Add(maxSlowWait)
	for {
		ov, ok, changed := w.over.get(tenant)
		if !ok {
			return nil
		}
		retry := max(ov.until.Sub(w.cfg.Now()), time.Second)
		if ov.action == Reject429 || time.Now().After(deadline) {
			return &OverloadError{Tenant: tenant, Reason: ov.reason, RetryAfter: retry}
		}
		t := time.NewTimer(min(retry, time.Until(deadline)+time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-changed:
		case <-t.C:
		}
		t.Stop()
	}
}

// admitDerived decides, in the worker, whether a derived span caused by
// the entry at index is appended (false: shed). It counts the tenant's
// derived spans per wall-clock minute and marks overloads for Admit.
func (w *Worker) admitDerived(tenant string, index uint64, now time.Time, backlog uint64) bool {
	p := w.policy(tenant)
	if p == nil || !p.Perf.Set {
		return true
	}
	r := w.rateOf(tenant, now)
	reason := ""
	switch {
	case p.Perf.MaxPerMinute > 0 && r.derived >= p.Perf.MaxPerMinute:
		reason = "max_per_minute"
	case backlog > w.cfg.MaxBacklog:
		reason = "backlog"
	}
	if reason == "" {
		r.derived++
		return true
	}
	action := p.Perf.OnOverload
	if action == "" {
		action = ShedDerived
	}
	if action == ShedDerived {
		if r.shed == 0 {
			r.shedFrom, r.reason = index, reason
		}
		r.shed++
		r.shedTo = index
		return false
	}
	// slow_ingest, reject_429: everything is derived; ingest is held.
	until := r.minute.Add(time.Minute)
	if reason == "backlog" {
		until = now.Add(time.Second)
	}
	w.over.set(strings.Clone(tenant), overload{action: action, reason: reason, until: until})
	r.derived++
	return true
}

// rateOf returns tenant's counters for the minute of now, recording the
// previous minute's shed spans first.
func (w *Worker) rateOf(tenant string, now time.Time) *rate {
	minute := now.Truncate(time.Minute)
	r := w.rates[tenant]
	if r == nil {
		r = &rate{minute: minute}
		w.rates[strings.Clone(tenant)] = r
	}
	w.roll(tenant, r, minute)
	return r
}

// roll starts minute for r when r counts an earlier one, first queueing
// the record of the spans shed in it.
func (w *Worker) roll(tenant string, r *rate, minute time.Time) {
	if r.minute.Equal(minute) {
		return
	}
	if r.shed > 0 {
		w.recordShed(tenant, r)
	}
	*r = rate{minute: minute}
}

// recordSheds queues the records of the spans shed so far in every
// tenant's current minute (tenants in name order) and starts counting
// anew: the minute may get more records, each naming its own causes.
func (w *Worker) recordSheds() {
	for _, t := range slices.Sorted(maps.Keys(w.rates)) {
		r := w.rates[t]
		if r.shed == 0 {
			continue
		}
		w.recordShed(t, r)
		r.shed, r.shedFrom, r.shedTo, r.reason = 0, 0, 0, ""
	}
}

// recordShed queues the record of r's shed spans.
func (w *Worker) recordShed(tenant string, r *rate) {
	sp, err := shedSpan(tenant, r)
	if err != nil {
		w.fail(err)
		return
	}
	w.records = append(w.records, pendingRecord{span: sp, shed: r.shed})
}

// pendingRecord is a record of the data plane's own waiting to be
// stored: a derivation_shed span, with how many shed spans it names
// (Status.Shed counts them once it is stored), or a derivation_policy
// span (policy; Status.Policies counts it).
type pendingRecord struct {
	span   *span.Span
	shed   int
	policy bool
}

// shedSpan records that derived spans of tenant were shed in a minute:
// which causes (a log index range), how many, why. `logline replay`
// reads them; replay --backfill appends what was shed.
//
// A minute can have several records (one per save of the worker's
// state, and a restarted worker may shed the same causes again, or
// not): the id names the record's content, so that the same record
// comes back a duplicate and another one is stored beside it.
func shedSpan(tenant string, r *rate) (*span.Span, error) {
	end := r.minute.Add(time.Minute)
	sum := sha256.Sum256([]byte(tenant + "\x00" + strconv.FormatInt(r.minute.Unix(), 10) + "\x00" + strconv.Itoa(r.shed) + "\x00" +
		strconv.FormatUint(r.shedFrom, 10) + "\x00" + strconv.FormatUint(r.shedTo, 10) + "\x00" + r.reason))
	line := `{"id":"shed_` + strconv.FormatInt(r.minute.Unix(), 10) + "_" + hex.EncodeToString(sum[:8]) + `","tenant":` + strconv.Quote(tenant) +
		`,"entity_type":"derivation_shed","who":"system:dataplane","did":"shed","this":"derivation","when":"` +
		end.UTC().Format(time.RFC3339) + `","data":{"shed":` + strconv.Itoa(r.shed) +
		`,"from_log_index":` + strconv.FormatUint(r.shedFrom, 10) + `,"to_log_index":` + strconv.FormatUint(r.shedTo, 10) +
		`,"reason":` + strconv.Quote(r.reason) + `,"minute":"` + r.minute.UTC().Format(time.RFC3339) + `"}}`
	sp, err := span.Decode([]byte(line), span.DecodeOptions{})
	if err != nil {
		return nil, fmt.Errorf("dataplane: shed record: %w", err)
	}
	return sp, nil
}

// rollMinutes closes every tenant's finished minute and clears the
// overloads that ended.
func (w *Worker) rollMinutes(now time.Time, backlog uint64) {
	minute := now.Truncate(time.Minute)
	for t, r := range w.rates {
		w.roll(t, r, minute)
	}
	w.over.clear(now, backlog <= w.cfg.MaxBacklog)
}
