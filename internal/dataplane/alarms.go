package dataplane

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/logline/logline/internal/derive"
	"github.com/logline/logline/internal/lll/eval"
	"github.com/logline/logline/internal/lll/ir"
	"github.com/logline/logline/internal/span"
)

// Who writes the alert spans of `alarm` blocks.
const AlarmWho = "system:alarm"

// alarmMachine is the evaluator of a tenant's alarm blocks; nil when its
// program has none (or cannot run).
func (w *Worker) alarmMachine(tenant string) *eval.Machine { return w.runOf(tenant).alarms }

// raiseAlarms evaluates the tenant's alarm blocks on a span of its own
// and queues an alert span per alarm raised: entity_type "alert", who
// "system:alarm", this the alarm's name, when the span's, related_to
// the span; its id derives from the span and the alarm, so deriving
// again finds it stored.
func (w *Worker) raiseAlarms(ctx context.Context, in *derive.Input, index uint64, now time.Time, backlog uint64) error {
	if derive.Reserved(in.Who, in.EntityType) {
		return nil
	}
	m := w.alarmMachine(in.Tenant)
	if m == nil {
		return nil
	}
	alarms, err := m.Alarms(ctx, in.Fields)
	if err != nil {
		return err
	}
	for _, a := range alarms {
		if !w.admitDerived(in.Tenant, index, now, backlog) {
			continue
		}
		sp, err := alertSpan(in, index, a)
		if err != nil {
			return err
		}
		w.pending = append(w.pending, sp)
	}
	return nil
}

// alertSpan is the alert the span in (at log index index) raised.
func alertSpan(in *derive.Input, index uint64, a eval.Alarm) (*span.Span, error) {
	h := sha256.New()
	h.Write([]byte(in.Tenant))
	h.Write([]byte{0})
	h.Write([]byte(in.ID))
	h.Write([]byte{0})
	h.Write(strconv.AppendUint(nil, in.Seq, 10))
	h.Write([]byte{0})
	h.Write([]byte(a.Name))
	sum := h.Sum(nil)
	b := []byte(`{"id":"a_` + hex.EncodeToString(sum[:20]) + `","tenant":`)
	b = span.AppendString(b, in.Tenant)
	b = append(b, `,"entity_type":"alert","who":"`+AlarmWho+`","did":"raise","this":`...)
	b = span.AppendString(b, a.Name)
	b = append(b, `,"when":`...)
	b = span.AppendString(b, in.WhenText)
	b = append(b, `,"related_to":[`...)
	b = span.AppendString(b, in.ID)
	b = append(b, `],"data":{"alarm":`...)
	b = span.AppendString(b, a.Name)
	b = append(b, `,"severity":`...)
	b = span.AppendString(b, a.Severity.String())
	b = append(b, `,"message":`...)
	b = span.AppendString(b, a.Message)
	b = append(b, `,"src_span_id":`...)
	b = span.AppendString(b, in.ID)
	b = append(b, `,"src_log_index":`...)
	b = strconv.AppendUint(b, index, 10)
	b = append(b, "}}"...)
	return span.Decode(b, span.DecodeOptions{})
}

// RequestFigures are figures of metric(…) the worker does not compute
// itself: each tenant's requests to the gateway over the last minutes
// (internal/tenantrates: gateway.status_5xx_rate, auth.jwt_invalid_rate).
// Its methods must be safe for concurrent use.
type RequestFigures interface {
	// Figure is tenant's figure of that name; false for a name it does
	// not have.
	Figure(tenant, name string) (float64, bool)
	// Tenants are the tenants it has figures of now.
	Tenants() []string
}

// DefaultAlarms are alarm blocks every tenant runs besides its own
// (check.DefaultAlarms: the v8 §20 alarms). A tenant alarm block of the
// same name replaces one. Immutable: several workers may share one.
type DefaultAlarms struct {
	machines [4]*eval.Machine // by feature flags: featureIndex
}

// NewDefaultAlarms prepares prog's alarms, all over metric(…), to run
// for every tenant, whatever its feature flags.
func NewDefaultAlarms(prog *ir.Program) (*DefaultAlarms, error) {
	for _, a := range prog.Alarms {
		if !a.Metric {
			return nil, fmt.Errorf("dataplane: default alarm %s reads spans: only alarms over metric(…) can be defaults", a.Name)
		}
	}
	d := &DefaultAlarms{}
	for i := range d.machines {
		m, err := eval.New(prog, eval.Config{Features: eval.Features{Trajectory: i&1 != 0, Diamond: i&2 != 0}})
		if err != nil {
			return nil, fmt.Errorf("dataplane: default alarms: %w", err)
		}
		d.machines[i] = m
	}
	return d, nil
}

// machine is the defaults' evaluator under the flags f.
func (d *DefaultAlarms) machine(f eval.Features) *eval.Machine {
	i := 0
	if f.Trajectory {
		i |= 1
	}
	if f.Diamond {
		i |= 2
	}
	return d.machines[i]
}

// alarmState is where one metric alarm of a tenant stands.
type alarmState struct {
	tenant string
	since  time.Time // when its conditions started to hold (zero: they do not)
	firing bool
}

// metricValues are a tenant's values for metric("…") (ir.MetricNames).
func (w *Worker) metricValues(tenant string, backlog uint64) func(string) (float64, bool) {
	ts, ok := w.eng.TenantStats(tenant)
	return func(name string) (float64, bool) {
		if name == "dataplane.backlog" {
			return float64(backlog), true
		}
		if w.cfg.Requests != nil {
			if v, ok := w.cfg.Requests.Figure(tenant, name); ok {
				return v, true
			}
		}
		if !ok {
			return 0, false
		}
		return ts.Figure(name)
	}
}

// alarmTenants are the tenants whose metric alarms run: those with data
// plane state, with figures of their requests, with spans of their own
// applied since the start, and with an alarm holding (so that it
// resolves once the tenant is gone from the others). Sorted.
func (w *Worker) alarmTenants() []string {
	seen := map[string]bool{}
	for _, t := range w.eng.Tenants() {
		seen[t] = true
	}
	if w.cfg.Requests != nil {
		for _, t := range w.cfg.Requests.Tenants() {
			seen[t] = true
		}
	}
	for t := range w.lastSeen {
		seen[t] = true
	}
	for _, st := range w.alarmStates {
		seen[st.tenant] = true
	}
	return slices.Sorted(maps.Keys(seen))
}

// tenantMetricAlarms evaluates tenant's alarms over metric(…): its own,
// then the defaults its own alarm blocks do not replace.
func (w *Worker) tenantMetricAlarms(ctx context.Context, tenant string, figures func(string) (float64, bool)) ([]eval.MetricAlarm, error) {
	r := w.run(tenant)
	var out []eval.MetricAlarm
	if r.alarms != nil && r.alarms.HasMetricAlarms() {
		as, err := r.alarms.MetricAlarms(ctx, figures)
		if err != nil {
			return nil, err
		}
		out = as
	}
	if w.cfg.DefaultAlarms == nil {
		return out, nil
	}
	defaults, err := w.cfg.DefaultAlarms.machine(r.feats).MetricAlarms(ctx, figures)
	if err != nil {
		return nil, err
	}
	for _, a := range defaults {
		if r.prog == nil || !slices.ContainsFunc(r.prog.Alarms, func(own ir.Alarm) bool { return own.Name == a.Name }) {
			out = append(out, a)
		}
	}
	return out, nil
}

// metricAlarms evaluates the tenants' alarms over metric(…), their own
// and the defaults, at now: one that has held for its `for` fires (an
// alert span, did "fire"), and resolves (did "resolve") when it no
// longer holds. Where alarms stand is not saved: after a restart, one
// still holding fires again once its `for` has passed.
func (w *Worker) metricAlarms(ctx context.Context, now time.Time, backlog uint64) ([]*span.Span, error) {
	var out []*span.Span
	for _, t := range w.alarmTenants() {
		figures := w.metricValues(t, backlog)
		as, err := w.tenantMetricAlarms(ctx, t, figures)
		if err != nil {
			return nil, err
		}
		for _, a := range as {
			key := t + "\x00" + a.Name
			st := w.alarmStates[key]
			did := ""
			switch {
			case a.Holds && st.since.IsZero():
				st.since, st.tenant = now, t
				if a.For == 0 {
					st.firing, did = true, "fire"
				}
			case a.Holds && !st.firing && now.Sub(st.since) >= a.For:
				st.firing, did = true, "fire"
			case !a.Holds && st.firing:
				st, did = alarmState{}, "resolve"
			case !a.Holds:
				st = alarmState{}
			}
			if st.since.IsZero() {
				delete(w.alarmStates, key)
			} else {
				w.alarmStates[key] = st
			}
			if did == "" {
				continue
			}
			sp, err := metricAlertSpan(t, a, did, now, figures)
			if err != nil {
				return nil, err
			}
			out = append(out, sp)
		}
	}
	return out, nil
}

// metricAlertSpan is the alert of a metric alarm firing or resolving,
// with the figures of that moment.
func metricAlertSpan(tenant string, a eval.MetricAlarm, did string, now time.Time, figures func(string) (float64, bool)) (*span.Span, error) {
	h := sha256.Sum256([]byte(tenant + "\x00" + a.Name + "\x00" + did + "\x00" + strconv.FormatInt(now.UnixNano(), 10)))
	state := "firing"
	if did == "resolve" {
		state = "resolved"
	}
	b := []byte(`{"id":"a_` + hex.EncodeToString(h[:20]) + `","tenant":`)
	b = span.AppendString(b, tenant)
	b = append(b, `,"entity_type":"alert","who":"`+AlarmWho+`","did":"`+did+`","this":`...)
	b = span.AppendString(b, a.Name)
	b = append(b, `,"when":"`+now.UTC().Format(time.RFC3339Nano)+`","data":{"alarm":`...)
	b = span.AppendString(b, a.Name)
	b = append(b, `,"severity":`...)
	b = span.AppendString(b, a.Severity.String())
	b = append(b, `,"message":`...)
	b = span.AppendString(b, a.Message)
	b = append(b, `,"state":"`+state+`","figures":{`...)
	for i, n := range ir.MetricNames() {
		v, ok := figures(n)
		if !ok {
			continue
		}
		if i > 0 && b[len(b)-1] != '{' {
			b = append(b, ',')
		}
		b = span.AppendString(b, n)
		b = append(b, ':')
		b = strconv.AppendFloat(b, v, 'g', -1, 64)
	}
	b = append(b, "}}}"...)
	return span.Decode(b, span.DecodeOptions{})
}
