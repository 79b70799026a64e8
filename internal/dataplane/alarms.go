package dataplane

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
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
func (w *Worker) alarmMachine(tenant string) *eval.Machine { return w.run(tenant).alarms }

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

// alarmState is where one metric alarm of a tenant stands.
type alarmState struct {
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
		if !ok {
			return 0, false
		}
		return ts.Figure(name)
	}
}

// metricAlarms evaluates the tenants' alarms over metric(…) at now: one
// that has held for its `for` fires (an alert span, did "fire"), and
// resolves (did "resolve") when it no longer holds. Where alarms stand
// is not saved: after a restart, one still holding fires again once its
// `for` has passed.
func (w *Worker) metricAlarms(ctx context.Context, now time.Time, backlog uint64) ([]*span.Span, error) {
	var out []*span.Span
	for _, t := range w.eng.Tenants() {
		m := w.alarmMachine(t)
		if m == nil || !m.HasMetricAlarms() {
			continue
		}
		as, err := m.MetricAlarms(ctx, w.metricValues(t, backlog))
		if err != nil {
			return nil, err
		}
		for _, a := range as {
			key := t + "\x00" + a.Name
			st := w.alarmStates[key]
			did := ""
			switch {
			case a.Holds && st.since.IsZero():
				st.since = now
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
			w.alarmStates[key] = st
			if did == "" {
				continue
			}
			sp, err := metricAlertSpan(t, a, did, now, w.metricValues(t, backlog))
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
