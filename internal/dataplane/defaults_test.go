package dataplane

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logline/logline/internal/ledger/segment"
	"github.com/logline/logline/internal/lll/check"
	"github.com/logline/logline/internal/lll/eval"
	"github.com/logline/logline/internal/lll/ir"
	"github.com/logline/logline/internal/span"
)

// fakeRequests is a RequestFigures whose figures the test sets.
type fakeRequests struct {
	mu      sync.Mutex
	figures map[string]map[string]float64 // by tenant, then name
}

// set gives tenant these rates over 1,000 requests and token attempts.
func (f *fakeRequests) set(tenant string, rate5xx, invalid float64) {
	f.setVolume(tenant, rate5xx, invalid, 1000)
}

func (f *fakeRequests) setVolume(tenant string, rate5xx, invalid, volume float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.figures == nil {
		f.figures = map[string]map[string]float64{}
	}
	f.figures[tenant] = map[string]float64{"gateway.status_5xx_rate": rate5xx, "auth.jwt_invalid_rate": invalid,
		"gateway.requests_5m": volume, "auth.token_attempts_5m": volume}
}

func (f *fakeRequests) Figure(tenant, name string) (float64, bool) {
	switch name {
	case "gateway.status_5xx_rate", "auth.jwt_invalid_rate", "gateway.requests_5m", "auth.token_attempts_5m":
	default:
		return 0, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.figures[tenant][name], true
}

func (f *fakeRequests) Tenants() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for t := range f.figures {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// defaultsWorker opens a worker over a new store with the default
// alarms, the tenants' program prog, the request figures reqs and a
// clock the test sets; the test drives its ticks.
func defaultsWorker(t *testing.T, prog *ir.Program, reqs RequestFigures) (*segment.Store, *Worker, *fixedClock) {
	t.Helper()
	dir := t.TempDir()
	s := openStore(t, dir)
	t.Cleanup(func() { s.Close() })
	clock := &fixedClock{t: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
	w, err := Open(Config{Store: s, Program: func(string) *ir.Program { return prog },
		StatePath: filepath.Join(dir, StateFile), Now: clock.Now, Requests: reqs, DefaultAlarms: defaultAlarms(t)})
	if err != nil {
		t.Fatal(err)
	}
	return s, w, clock
}

func defaultAlarms(t *testing.T) *DefaultAlarms {
	t.Helper()
	p, err := check.DefaultAlarms()
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDefaultAlarms(p)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestDefaultAlarmsThroughWorker: the default alarms run for a tenant
// without alarm blocks of its own — fire once their conditions have held
// for 5 minutes of the worker's clock, resolve when they stop — and a
// tenant alarm of the same name replaces a default (tuned, or turned
// off with when false). The worker's ticks are driven by the test.
func TestDefaultAlarmsThroughWorker(t *testing.T) {
	type step struct {
		at      time.Duration // on the worker's clock, from the start
		rate5xx float64       // acme's gateway.status_5xx_rate
		invalid float64       // acme's auth.jwt_invalid_rate
		volume  float64       // acme's requests and token attempts; 1,000 when 0
		want    []string      // the alert spans this tick appends: "this did"
	}
	tests := []struct {
		name  string
		own   string // the tenant's alarm blocks
		steps []step
	}{
		{
			name: "5xx rate fires after 5 minutes, then resolves",
			steps: []step{
				{at: 0, rate5xx: 0.05},
				{at: 4 * time.Minute, rate5xx: 0.05},
				{at: 5 * time.Minute, rate5xx: 0.05, want: []string{"gateway_5xx_rate fire"}},
				{at: 6 * time.Minute, rate5xx: 0.05},
				{at: 7 * time.Minute, rate5xx: 0.02, want: []string{"gateway_5xx_rate resolve"}},
				{at: 20 * time.Minute, rate5xx: 0},
			},
		},
		{
			name: "a blip shorter than 5 minutes does not fire",
			steps: []step{
				{at: 0, rate5xx: 0.5},
				{at: 4 * time.Minute, rate5xx: 0},
				{at: 5 * time.Minute, rate5xx: 0.5},
				{at: 9 * time.Minute, rate5xx: 0.5},
				{at: 10 * time.Minute, rate5xx: 0.5, want: []string{"gateway_5xx_rate fire"}},
			},
		},
		{
			name: "a few requests, all failing, do not fire",
			steps: []step{
				{at: 0, rate5xx: 1, invalid: 1, volume: 20},
				{at: time.Hour, rate5xx: 1, invalid: 1, volume: 49},
				{at: 2 * time.Hour, rate5xx: 1, invalid: 1, volume: 50},
				{at: 3 * time.Hour, rate5xx: 1, invalid: 1, volume: 50, want: []string{"gateway_5xx_rate fire"}},
			},
		},
		{
			name: "invalid tokens fire after 5 minutes",
			steps: []step{
				{at: 0, invalid: 0.011},
				{at: 5 * time.Minute, invalid: 0.011, rate5xx: 0.03, want: []string{"jwt_invalid_rate fire"}},
				{at: 10 * time.Minute, invalid: 0.01, rate5xx: 0.03, want: []string{"gateway_5xx_rate fire", "jwt_invalid_rate resolve"}},
			},
		},
		{
			name: "a tenant alarm of the same name replaces the default",
			own: `alarm gateway_5xx_rate {
  when metric("gateway.status_5xx_rate") > 0.5
  for: 1m
  severity: "info"
  message: "tuned"
}
`,
			steps: []step{
				{at: 0, rate5xx: 0.1, invalid: 0.5},
				{at: 10 * time.Minute, rate5xx: 0.1, invalid: 0.5, want: []string{"jwt_invalid_rate fire"}},
				{at: 11 * time.Minute, rate5xx: 0.6, invalid: 0.5},
				{at: 12 * time.Minute, rate5xx: 0.6, invalid: 0.5, want: []string{"gateway_5xx_rate fire"}},
			},
		},
		{
			name: "a tenant turns a default off",
			own: `alarm jwt_invalid_rate {
  when false
}
`,
			steps: []step{
				{at: 0, invalid: 1},
				{at: time.Hour, invalid: 1},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prog := defaultProgram(t)
			if tt.own != "" {
				prog = compile(t, tt.own)
			}
			reqs := &fakeRequests{}
			s, w, clock := defaultsWorker(t, prog, reqs)
			start := clock.Now()
			seen := 0
			for _, st := range tt.steps {
				clock.Set(start.Add(st.at))
				volume := st.volume
				if volume == 0 {
					volume = 1000
				}
				reqs.setVolume("acme", st.rate5xx, st.invalid, volume)
				if err := w.tick(context.Background()); err != nil {
					t.Fatal(err)
				}
				var got []string
				_ = s.Read(context.Background(), uint64(seen), s.Size(), func(e *span.Entry) error {
					got = append(got, e.This+" "+e.Did)
					if e.Tenant != "acme" || e.EntityType != "alert" || e.Who != AlarmWho {
						t.Errorf("at %v: appended %s %s by %s for %s", st.at, e.EntityType, e.ID, e.Who, e.Tenant)
					}
					return nil
				})
				seen = int(s.Size())
				if !slices.Equal(got, st.want) {
					t.Errorf("at %v: alerts %q, want %q", st.at, got, st.want)
				}
			}
		})
	}
}

// TestDefaultAlertSpan: a default alarm's alert carries its severity and
// message and the tenant's figures, the gateway's among them.
func TestDefaultAlertSpan(t *testing.T) {
	reqs := &fakeRequests{}
	reqs.set("acme", 0.25, 0)
	s, w, clock := defaultsWorker(t, defaultProgram(t), reqs)
	for _, at := range []time.Duration{0, 5 * time.Minute} {
		clock.Set(clock.Now().Add(at))
		if err := w.tick(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if s.Size() != 1 {
		t.Fatalf("%d spans appended, want the alert", s.Size())
	}
	_ = s.Read(context.Background(), 0, 1, func(e *span.Entry) error {
		data, _ := e.FieldString("data")
		for _, want := range []string{`"severity":"critical"`, `"state":"firing"`, `"gateway.status_5xx_rate":0.25`, `"auth.jwt_invalid_rate":0`, `"message":"more than 2% of requests answered 5xx over 5 minutes"`} {
			if !strings.Contains(data, want) {
				t.Errorf("alert data %s, want %s in it", data, want)
			}
		}
		return nil
	})
}

// TestCandidateEnvelope: the default candidate envelope holds when
// diamond candidates are outside 0.5–10% of closed trajectories, once
// 1000 have closed, and only with features.diamond.
func TestCandidateEnvelope(t *testing.T) {
	d := defaultAlarms(t)
	tests := []struct {
		name    string
		diamond bool
		closed  float64
		share   float64
		hasData bool // quality.candidate_share has a value
		want    bool
	}{
		{"too few", true, 1000, 0.001, true, true},
		{"too many", true, 5000, 0.2, true, true},
		{"inside", true, 5000, 0.04, true, false},
		{"at the edges", true, 5000, 0.005, true, false},
		{"at the upper edge", true, 5000, 0.10, true, false},
		{"not enough closed", true, 999, 0, true, false},
		{"diamond off", false, 5000, 0, true, false},
		{"no share yet", true, 5000, 0, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			figures := func(name string) (float64, bool) {
				switch name {
				case "trajectory.closed_total":
					return tt.closed, true
				case "quality.candidate_share":
					return tt.share, tt.hasData
				}
				return 0, true
			}
			as, err := d.machine(eval.Features{Trajectory: true, Diamond: tt.diamond}).MetricAlarms(context.Background(), figures)
			if err != nil {
				t.Fatal(err)
			}
			i := slices.IndexFunc(as, func(a eval.MetricAlarm) bool { return a.Name == "candidate_envelope" })
			if i < 0 {
				t.Fatal("no candidate_envelope among the defaults")
			}
			if as[i].Holds != tt.want || as[i].For != time.Hour {
				t.Errorf("holds %v for %v, want %v for 1h", as[i].Holds, as[i].For, tt.want)
			}
		})
	}
}

// TestDefaultAlarmsOverSpansRefused: a default must be over metric(…).
func TestDefaultAlarmsOverSpansRefused(t *testing.T) {
	if _, err := NewDefaultAlarms(compile(t, "alarm a {\n  when did == \"x\"\n}\n")); err == nil {
		t.Error("a default alarm over spans was accepted")
	}
}
