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
// program has none (or cannot run). Cached while the program and flags
// do not change.
func (w *Worker) alarmMachine(tenant string) *eval.Machine {
	prog := w.cfg.Program(tenant)
	feats := w.cfg.Features(tenant)
	if c, ok := w.alarms[tenant]; ok && c.prog == prog && c.feats == feats {
		return c.m
	}
	var m *eval.Machine
	if prog != nil && len(prog.Alarms) > 0 {
		var err error
		if m, err = eval.New(prog, eval.Config{Features: feats}); err != nil {
			w.cfg.Logger.Error("data plane: the tenant's alarms cannot run", "tenant", tenant, "err", err)
			m = nil
		}
	}
	w.alarms[tenant] = cachedAlarms{prog: prog, feats: feats, m: m}
	return m
}

type cachedAlarms struct {
	prog  *ir.Program
	feats eval.Features
	m     *eval.Machine
}

// raiseAlarms evaluates the tenant's alarm blocks on a span of its own
// and queues an alert span per alarm raised: entity_type "alert", who
// "system:alarm", this the alarm's name, when the span's, related_to
// the span; its id derives from the span and the alarm, so deriving
// again finds it stored.
func (w *Worker) raiseAlarms(ctx context.Context, e *span.Entry, now time.Time, backlog uint64) error {
	if e.EntityType == derive.TypeAlert || derive.Reserved(e.Who, e.EntityType) {
		return nil
	}
	m := w.alarmMachine(e.Tenant)
	if m == nil {
		return nil
	}
	alarms, err := m.Alarms(ctx, &e.Span)
	if err != nil {
		return err
	}
	for _, a := range alarms {
		if !w.admitDerived(e.Tenant, e.LogIndex, now, backlog) {
			continue
		}
		sp, err := alertSpan(e, a)
		if err != nil {
			return err
		}
		w.pending = append(w.pending, sp)
	}
	return nil
}

// alertSpan is the alert a span raised.
func alertSpan(e *span.Entry, a eval.Alarm) (*span.Span, error) {
	h := sha256.New()
	h.Write([]byte(e.Tenant))
	h.Write([]byte{0})
	h.Write([]byte(e.ID))
	h.Write([]byte{0})
	h.Write(strconv.AppendUint(nil, e.Seq, 10))
	h.Write([]byte{0})
	h.Write([]byte(a.Name))
	sum := h.Sum(nil)
	when, _ := e.FieldString("when")
	b := []byte(`{"id":"a_` + hex.EncodeToString(sum[:20]) + `","tenant":`)
	b = span.AppendString(b, e.Tenant)
	b = append(b, `,"entity_type":"alert","who":"`+AlarmWho+`","did":"raise","this":`...)
	b = span.AppendString(b, a.Name)
	b = append(b, `,"when":`...)
	b = append(b, when...)
	b = append(b, `,"related_to":[`...)
	b = span.AppendString(b, e.ID)
	b = append(b, `],"data":{"alarm":`...)
	b = span.AppendString(b, a.Name)
	b = append(b, `,"severity":`...)
	b = span.AppendString(b, a.Severity.String())
	b = append(b, `,"message":`...)
	b = span.AppendString(b, a.Message)
	b = append(b, `,"src_span_id":`...)
	b = span.AppendString(b, e.ID)
	b = append(b, `,"src_log_index":`...)
	b = strconv.AppendUint(b, e.LogIndex, 10)
	b = append(b, "}}"...)
	return span.Decode(b, span.DecodeOptions{})
}
