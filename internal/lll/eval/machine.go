// Package eval runs compiled .lll programs (internal/lll/ir) over spans:
// the validators in the ingest path, routers, alarms, and the match of
// pipelines for the data plane.
//
// Evaluation is deterministic (no clock, no randomness, nothing iterated
// in map order; the same program, configuration and span always give the
// same result), bounded (every call has a step budget: one step per
// expression node and per field rule) and cancellable (the context is
// polled when a call starts and about every 256 steps, so a cancelled context
// stops a long evaluation within a bounded number of steps). Running out
// of steps or being cancelled is an error of the call (ErrStepBudget,
// the context's error), never a verdict.
//
// Span fields are read lazily through Fields.Field (canonical JSON of one
// top-level member) at most once per call and walked in place; strings
// without escapes are not copied. A missing field is null, except
// entity_type, which reads as the span's effective entity type ("span"
// when the span names none).
//
// A type error that depends on span data (the static type was "any")
// fails at run time: in a validator's `when` it is a failed rule, with
// the validator's action; in a router's, a route's or an alarm's
// condition it makes the condition false. Builtins of the data plane
// (percentile, components, link_open_or_continue,
// close_by_timeout_or_rule) are never evaluated here.
package eval

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unsafe"

	"github.com/logline/logline/internal/lll/ir"
	"github.com/logline/logline/internal/span"
)

// DefaultStepBudget is the step budget of one call when Config leaves it 0.
const DefaultStepBudget = 100_000

// cancelEvery is how many steps pass between polls of the context.
const cancelEvery = 256

// ErrStepBudget is returned (wrapped) when a call runs out of steps.
var ErrStepBudget = errors.New("eval: step budget exhausted")

// Features are a tenant's feature flags (features.X).
type Features struct {
	Trajectory bool
	Diamond    bool
}

// Config configures a Machine. The zero Config works.
type Config struct {
	// StepBudget bounds the steps of one call (Validate, Route, …);
	// 0 means DefaultStepBudget.
	StepBudget int64
	// Env holds the values env("NAME") reads; an absent name reads as null.
	Env map[string]string
	// Features are the tenant's feature flags.
	Features Features
}

// Fields is what evaluation reads of a span: the canonical JSON of a
// top-level member and whether the span has it. *span.Span and
// *span.Entry implement it (and are read faster: their decoded fields
// need no JSON); RawSpan reads a JSON object. The bytes returned must not
// change afterwards.
type Fields interface {
	Field(name string) ([]byte, bool)
}

var (
	_ Fields = (*span.Span)(nil)
	_ Fields = (*span.Entry)(nil)
)

// stringFields is implemented by spans that can give a member's JSON
// without copying it (*span.Span, *span.Entry): read that way when they
// do.
type stringFields interface {
	FieldString(name string) (string, bool)
}

// fieldText is the JSON text of top-level member name of src, without a
// copy when src can give it so.
func fieldText(src Fields, name string) (string, bool) {
	if sf, ok := src.(stringFields); ok {
		return sf.FieldString(name)
	}
	b, ok := src.Field(name)
	return bytesString(b), ok
}

// RawSpan is a span as a JSON object, not validated (for offline runs and
// tests). Its Field finds the top-level member named name.
type RawSpan []byte

// Field returns the JSON text of member name.
func (r RawSpan) Field(name string) ([]byte, bool) {
	v, ok := member(bytesString(r), name)
	if !ok {
		return nil, false
	}
	return []byte(v), true
}

// Verdict is one failed rule of a validator.
type Verdict struct {
	Validator string
	Rule      string    // the rule as written: require field "when" as "rfc3339", or when EXPR
	Action    ir.Action // the validator's on_fail
	Message   string    // why the span fails it
	Where     string    // file:line:col of the rule
}

// Alarm is an alarm a span raised.
type Alarm struct {
	Name     string
	Severity ir.Severity
	Message  string
}

// Event is a derived event a passing validator emits.
type Event struct {
	Validator string
	Type      string // entity type of the derived event
	Data      []byte // its data: a canonical JSON object ({} without `with`)
}

// Result is everything a program decides about one span (Run).
type Result struct {
	Verdicts  []Verdict
	Events    []Event
	Routes    []string
	Alarms    []Alarm
	Pipelines []string // names of the pipelines whose input and conditions match
}

// Machine evaluates one program with one configuration. It is immutable
// once built and safe for concurrent use.
type Machine struct {
	prog   *ir.Program
	nodes  []rnode
	paths  []rpath
	comps  []*composite // the lists and maps of constants; read-only
	budget int64

	closeRules bool // a pipeline has close_by_timeout_or_rule(COND)
}

// rnode is an ir.Node prepared for evaluation.
type rnode struct {
	op   ir.Op
	typ  ir.Type
	a, b int32
	args []int32
	v    value // OpConst, OpEnv, OpFeature: the value; OpSelect: the key
	glob glob  // OpMatches with a constant pattern
}

// rpath is an ir.Path prepared for evaluation.
type rpath struct {
	field string
	steps []ir.Step
	top   int32     // the path of field alone (itself when it has no steps)
	slot  int32     // per-call cache slot; -1: not cached
	fast  fastField // read from *span.Span's decoded fields
}

// fastField names the top-level fields a decoded *span.Span holds
// decoded: reading them needs no JSON and no copy.
type fastField uint8

const (
	fastNone    fastField = iota
	fastID                // always present (Decode assigns one)
	fastTenant            // always present (required)
	fastWho               // always present (required)
	fastThis              // always present (required)
	fastWhen              // always present (required), a valid RFC 3339 time
	fastDid               // present when non-empty
	fastStatus            // present when non-empty
	fastTraceID           // present when non-empty
)

func fastFieldOf(name string) fastField {
	switch name {
	case span.FieldID:
		return fastID
	case span.FieldTenant:
		return fastTenant
	case span.FieldWho:
		return fastWho
	case span.FieldThis:
		return fastThis
	case span.FieldWhen:
		return fastWhen
	case span.FieldDid:
		return fastDid
	case span.FieldStatus:
		return fastStatus
	case span.FieldTraceID:
		return fastTraceID
	}
	return fastNone
}

// maxSlots bounds the paths whose JSON text a call caches (the state
// lives on the stack); paths beyond are read each time.
const maxSlots = 24

// New prepares prog for evaluation with cfg. prog must not change
// afterwards. It refuses a program that does not validate.
func New(prog *ir.Program, cfg Config) (*Machine, error) {
	if err := prog.Validate(); err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	m := &Machine{prog: prog, budget: cfg.StepBudget}
	if m.budget <= 0 {
		m.budget = DefaultStepBudget
	}
	for _, p := range prog.Pipelines {
		for _, d := range p.Derives {
			m.closeRules = m.closeRules || (d.Builtin == ir.BuiltinCloseByTimeoutOrRule && len(d.Args) > 0)
		}
	}
	m.paths = make([]rpath, len(prog.Paths), len(prog.Paths)+4)
	tops := map[string]int32{}
	for i, p := range prog.Paths {
		m.paths[i] = rpath{field: p.Field, steps: p.Steps, top: int32(i)}
		if len(p.Steps) == 0 {
			m.paths[i].fast = fastFieldOf(p.Field)
			if _, ok := tops[p.Field]; !ok {
				tops[p.Field] = int32(i)
			}
		}
	}
	for i := range m.paths {
		p := &m.paths[i]
		if len(p.steps) == 0 {
			continue
		}
		top, ok := tops[p.field]
		if !ok {
			top = int32(len(m.paths))
			m.paths = append(m.paths, rpath{field: p.field, top: top, fast: fastFieldOf(p.field)})
			tops[p.field] = top
			p = &m.paths[i]
		}
		p.top = top
	}
	for i := range m.paths {
		m.paths[i].slot = -1
		if i < maxSlots {
			m.paths[i].slot = int32(i)
		}
	}
	consts := make([]value, len(prog.Consts))
	for i, c := range prog.Consts {
		consts[i] = m.fromConst(c)
	}
	m.nodes = make([]rnode, len(prog.Nodes))
	for i, n := range prog.Nodes {
		r := rnode{op: n.Op, typ: n.Type, a: n.A, b: n.B, args: n.Args}
		switch n.Op {
		case ir.OpConst:
			r.v = consts[n.A]
		case ir.OpEnv:
			if s, ok := cfg.Env[prog.Consts[n.A].Str]; ok {
				r.v = strV(s)
			}
		case ir.OpFeature:
			switch ir.Feature(n.A) {
			case ir.FeatureTrajectory:
				r.v = boolV(cfg.Features.Trajectory)
			case ir.FeatureDiamond:
				r.v = boolV(cfg.Features.Diamond)
			}
		case ir.OpSelect:
			r.v = consts[n.B]
		case ir.OpMap:
			r.v = consts[n.B]
		case ir.OpMatches:
			if pat := prog.Nodes[n.B]; pat.Op == ir.OpConst && prog.Consts[pat.A].Type == ir.TString {
				r.glob = compileGlob(prog.Consts[pat.A].Str)
			}
		}
		m.nodes[i] = r
	}
	return m, nil
}

// Program returns the program m runs.
func (m *Machine) Program() *ir.Program { return m.prog }

// slot caches the JSON text of one path for the length of a call.
type slot struct {
	loaded bool
	ok     bool
	raw    string
}

// state is one call's evaluation state.
type state struct {
	m     *Machine
	src   Fields
	sp    *span.Span // src, when it is one
	done  <-chan struct{}
	ctx   context.Context
	steps int64
	limit int64
	check int64 // the next step count at which slowStep runs
	poll_ int64 // the next step count at which the context is polled
	fatal error // ErrStepBudget or the context's error: stops the call
	etype string
	comps comps // composites values refer to

	metrics func(string) (float64, bool) // metric("…"): MetricAlarms only
	slots   [maxSlots]slot
}

func (m *Machine) begin(st *state, ctx context.Context, src Fields) error {
	st.m, st.src, st.ctx, st.done, st.limit = m, src, ctx, ctx.Done(), m.budget
	st.comps.machine = m.comps
	st.poll_ = cancelEvery
	st.check = min(st.limit+1, st.poll_)
	sp, ok := src.(*span.Span)
	if e, isEntry := src.(*span.Entry); isEntry {
		sp, ok = &e.Span, true
	}
	if ok {
		st.sp = sp
		st.etype = sp.EntityType
		if st.etype == "" {
			st.etype = span.DefaultEntityType
		}
	} else if raw, ok := src.Field(span.FieldEntityType); ok {
		st.etype = unquote(bytesString(raw))
	} else {
		st.etype = span.DefaultEntityType
	}
	return st.poll()
}

// poll checks the context.
func (st *state) poll() error {
	if st.done == nil {
		return nil
	}
	select {
	case <-st.done:
		st.fatal = fmt.Errorf("eval: %w", context.Cause(st.ctx))
		return st.fatal
	default:
		return nil
	}
}

// step charges one step.
func (st *state) step() error {
	st.steps++
	if st.steps >= st.check {
		return st.slowStep()
	}
	return nil
}

// slowStep checks the budget and, every cancelEvery steps, the context.
func (st *state) slowStep() error {
	if st.steps > st.limit {
		if st.fatal == nil {
			st.fatal = fmt.Errorf("%w after %d steps", ErrStepBudget, st.limit)
		}
		return st.fatal
	}
	if st.steps >= st.poll_ {
		st.poll_ = st.steps + cancelEvery
		if err := st.poll(); err != nil {
			return err
		}
	}
	st.check = min(st.limit+1, st.poll_)
	return nil
}

// bytesString views b as a string without copying; b must not change
// afterwards (Fields promises so).
func bytesString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// raw returns the JSON text at path i, read once per call.
func (st *state) raw(i int32) (string, bool) {
	p := &st.m.paths[i]
	var sl *slot
	if p.slot >= 0 {
		sl = &st.slots[p.slot]
		if sl.loaded {
			return sl.raw, sl.ok
		}
	}
	var raw string
	var ok bool
	if len(p.steps) == 0 {
		raw, ok = fieldText(st.src, p.field)
	} else {
		raw, ok = st.raw(p.top)
		for _, s := range p.steps {
			if !ok {
				break
			}
			if s.Index >= 0 {
				raw, ok = element(raw, int(s.Index))
			} else {
				raw, ok = member(raw, s.Key)
			}
		}
	}
	if sl != nil {
		sl.loaded, sl.ok, sl.raw = true, ok, raw
	}
	return raw, ok
}

// fast reads a top-level field of a decoded span without JSON, when the
// span's decoded fields tell: its string (empty for when, a time), and
// whether they tell.
func (st *state) fast(f fastField) (string, bool) {
	sp := st.sp
	switch f {
	case fastID:
		return sp.ID, true
	case fastTenant:
		return sp.Tenant, true
	case fastWho:
		return sp.Who, true
	case fastThis:
		return sp.This, true
	case fastWhen:
		return "", true
	case fastDid:
		return sp.Did, sp.Did != ""
	case fastStatus:
		return sp.Status, sp.Status != ""
	case fastTraceID:
		return sp.TraceID, sp.TraceID != ""
	}
	return "", false
}

// fastValue is the value of a field fast read.
func (st *state) fastValue(f fastField, s string) value {
	if f == fastWhen {
		return timeV(st.sp.When.Unix(), int32(st.sp.When.Nanosecond()))
	}
	return strV(s)
}

// lookup reads path i: the JSON text, or (fast != fastNone) the string
// a decoded span holds.
func (st *state) lookup(i int32) (raw string, f fastField, ok bool) {
	if f = st.m.paths[i].fast; f != fastNone && st.sp != nil {
		if s, ok := st.fast(f); ok {
			return s, f, true
		}
	}
	raw, ok = st.raw(i)
	return raw, fastNone, ok
}

func matchInput(input []string, etype string) bool {
	if len(input) == 0 {
		return true
	}
	for _, in := range input {
		if in == etype {
			return true
		}
	}
	return false
}

// guards evaluates conditions: applies is false when one is false; err
// is a run-time error of one (its index in bad).
func (st *state) guards(conds []ir.Cond) (applies bool, bad int, err error) {
	for i, c := range conds {
		ok, err := st.cond(c.Node)
		if err != nil {
			return false, i, err
		}
		if !ok {
			return false, 0, nil
		}
	}
	return true, 0, nil
}

// cond evaluates a condition node to a bool.
func (st *state) cond(n int32) (bool, error) {
	v, err := st.eval(n)
	if err != nil {
		return false, err
	}
	if v.k() != kBool {
		return false, st.errorf(n, "the condition is %s, not a bool", describe(v))
	}
	return v.b(), nil
}

// Validate runs every validator whose input and conditions match sp and
// returns one Verdict per failed rule, in program order (nil when all
// pass). The error is ErrStepBudget or the context's error.
func (m *Machine) Validate(ctx context.Context, sp Fields) ([]Verdict, error) {
	var st state
	if err := m.begin(&st, ctx, sp); err != nil {
		return nil, err
	}
	var out []Verdict
	for i := range m.prog.Validators {
		v := &m.prog.Validators[i]
		var err error
		out, _, err = st.validator(v, out)
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// validator runs one validator, appending its failures to out; ran says
// it applied and passed.
func (st *state) validator(v *ir.Validator, out []Verdict) (_ []Verdict, passed bool, _ error) {
	if !matchInput(v.Input, st.etype) {
		return out, false, nil
	}
	applies, bad, err := st.guards(v.When)
	if st.fatal != nil {
		return nil, false, st.fatal
	}
	if err != nil {
		c := v.When[bad]
		return append(out, Verdict{Validator: v.Name, Rule: "when " + c.Text, Action: v.OnFail,
			Message: err.Error(), Where: st.m.prog.Position(c.Pos)}), false, nil
	}
	if !applies {
		return out, false, nil
	}
	passed = true
	for j := range v.Rules {
		r := &v.Rules[j]
		if err := st.step(); err != nil {
			return nil, false, err
		}
		if msg, ok := st.fieldRule(r); !ok {
			passed = false
			out = append(out, Verdict{Validator: v.Name, Rule: r.Text, Action: v.OnFail,
				Message: msg, Where: st.m.prog.Position(r.Pos)})
		}
	}
	for j := range v.Requires {
		c := &v.Requires[j]
		ok, err := st.cond(c.Node)
		if st.fatal != nil {
			return nil, false, st.fatal
		}
		if err != nil || !ok {
			msg := "the condition is false"
			if err != nil {
				msg = err.Error()
			}
			passed = false
			out = append(out, Verdict{Validator: v.Name, Rule: "require " + c.Text, Action: v.OnFail,
				Message: msg, Where: st.m.prog.Position(c.Pos)})
		}
	}
	return out, passed, nil
}

// Emits returns the derived events of the validators that apply to sp
// and pass it, in program order.
func (m *Machine) Emits(ctx context.Context, sp Fields) ([]Event, error) {
	var st state
	if err := m.begin(&st, ctx, sp); err != nil {
		return nil, err
	}
	return st.emits(nil)
}

func (st *state) emits(out []Event) ([]Event, error) {
	var scratch []Verdict
	for i := range st.m.prog.Validators {
		v := &st.m.prog.Validators[i]
		if len(v.Emits) == 0 {
			continue
		}
		var passed bool
		var err error
		scratch, passed, err = st.validator(v, scratch[:0])
		if err != nil {
			return nil, err
		}
		if !passed {
			continue
		}
		for _, e := range v.Emits {
			data := []byte("{}")
			if e.With >= 0 {
				w, err := st.eval(e.With)
				if st.fatal != nil {
					return nil, st.fatal
				}
				if err != nil || !w.k().isMap() {
					continue // a data-dependent failure: nothing to emit
				}
				canon, cerr := span.Canonicalize(st.appendJSON(nil, w))
				if cerr != nil {
					continue
				}
				data = canon
			}
			out = append(out, Event{Validator: v.Name, Type: e.Type, Data: data})
		}
	}
	return out, nil
}

// Route returns the targets of the routes sp takes, in program order,
// each once. A condition that fails at run time is false.
func (m *Machine) Route(ctx context.Context, sp Fields) ([]string, error) {
	var st state
	if err := m.begin(&st, ctx, sp); err != nil {
		return nil, err
	}
	return st.routes(nil)
}

func (st *state) routes(out []string) ([]string, error) {
	for i := range st.m.prog.Routers {
		r := &st.m.prog.Routers[i]
		if !matchInput(r.Input, st.etype) {
			continue
		}
		applies, _, _ := st.guards(r.When)
		if st.fatal != nil {
			return nil, st.fatal
		}
		if !applies {
			continue
		}
	routes:
		for _, rt := range r.Routes {
			if rt.When >= 0 {
				ok, _ := st.cond(rt.When)
				if st.fatal != nil {
					return nil, st.fatal
				}
				if !ok {
					continue
				}
			}
			for _, t := range out {
				if t == rt.Target {
					continue routes
				}
			}
			out = append(out, rt.Target)
		}
	}
	return out, nil
}

// Alarms returns the alarms sp raises, in program order. A condition
// that fails at run time is false.
func (m *Machine) Alarms(ctx context.Context, sp Fields) ([]Alarm, error) {
	var st state
	if err := m.begin(&st, ctx, sp); err != nil {
		return nil, err
	}
	return st.alarms(nil)
}

func (st *state) alarms(out []Alarm) ([]Alarm, error) {
	for i := range st.m.prog.Alarms {
		a := &st.m.prog.Alarms[i]
		if a.Metric || !matchInput(a.Input, st.etype) {
			continue
		}
		fires, _, _ := st.guards(a.When)
		if st.fatal != nil {
			return nil, st.fatal
		}
		if fires {
			out = append(out, Alarm{Name: a.Name, Severity: a.Severity, Message: a.Message})
		}
	}
	return out, nil
}

// Pipelines returns the names of the pipelines whose input and `when`
// conditions match sp, in program order: the data plane runs their
// derives. A condition that fails at run time is false.
func (m *Machine) Pipelines(ctx context.Context, sp Fields) ([]string, error) {
	var st state
	if err := m.begin(&st, ctx, sp); err != nil {
		return nil, err
	}
	return st.pipelines(nil)
}

func (st *state) pipelines(out []string) ([]string, error) {
	for i := range st.m.prog.Pipelines {
		p := &st.m.prog.Pipelines[i]
		if !matchInput(p.Input, st.etype) {
			continue
		}
		ok, _, _ := st.guards(p.When)
		if st.fatal != nil {
			return nil, st.fatal
		}
		if ok {
			out = append(out, p.Name)
		}
	}
	return out, nil
}

// Run evaluates everything the program decides about sp, with one step
// budget for the whole call.
func (m *Machine) Run(ctx context.Context, sp Fields) (Result, error) {
	var st state
	var res Result
	if err := m.begin(&st, ctx, sp); err != nil {
		return res, err
	}
	for i := range m.prog.Validators {
		var err error
		res.Verdicts, _, err = st.validator(&m.prog.Validators[i], res.Verdicts)
		if err != nil {
			return Result{}, err
		}
	}
	var err error
	if res.Events, err = st.emits(nil); err != nil {
		return Result{}, err
	}
	if res.Routes, err = st.routes(nil); err != nil {
		return Result{}, err
	}
	if res.Alarms, err = st.alarms(nil); err != nil {
		return Result{}, err
	}
	if res.Pipelines, err = st.pipelines(nil); err != nil {
		return Result{}, err
	}
	return res, nil
}

// rtError is a run-time error of an expression: its message names where.
type rtError struct {
	msg   string
	where string
}

func (e *rtError) Error() string { return e.msg + " (at " + e.where + ")" }

func (st *state) errorf(n int32, format string, args ...any) error {
	return &rtError{msg: fmt.Sprintf(format, args...), where: st.m.prog.Position(st.m.prog.Nodes[n].Pos)}
}

// HasCloseRules reports whether a pipeline has a close rule
// (close_by_timeout_or_rule(COND)).
func (m *Machine) HasCloseRules() bool { return m.closeRules }

// Closes reports whether sp closes its trajectory by rule: some pipeline
// whose input and `when` match sp derives on close_by_timeout_or_rule
// (COND) and COND is true of sp. A condition that fails at run time is
// false, as pipelines' guards are; the error is ErrStepBudget or the
// context's.
func (m *Machine) Closes(ctx context.Context, sp Fields) (bool, error) {
	if !m.closeRules {
		return false, nil
	}
	var st state
	if err := m.begin(&st, ctx, sp); err != nil {
		return false, err
	}
	for i := range st.m.prog.Pipelines {
		p := &st.m.prog.Pipelines[i]
		if !matchInput(p.Input, st.etype) {
			continue
		}
		for _, d := range p.Derives {
			if d.Builtin != ir.BuiltinCloseByTimeoutOrRule || len(d.Args) == 0 {
				continue
			}
			ok, _, _ := st.guards(p.When)
			if st.fatal != nil {
				return false, st.fatal
			}
			if !ok {
				break
			}
			yes, err := st.cond(d.Args[0])
			if st.fatal != nil {
				return false, st.fatal
			}
			if err == nil && yes {
				return true, nil
			}
		}
	}
	return false, nil
}

// MetricAlarm is an alarm over figures and whether its conditions hold
// now (the server decides when it fires: after For of holding).
type MetricAlarm struct {
	Alarm
	For   time.Duration
	Holds bool
}

// HasMetricAlarms reports whether the program has alarms over metric(…).
func (m *Machine) HasMetricAlarms() bool {
	for _, a := range m.prog.Alarms {
		if a.Metric {
			return true
		}
	}
	return false
}

// MetricAlarms evaluates the alarms over metric(…) with the figures
// metrics gives (false: no value yet), in program order. A condition
// that fails at run time — a figure without a value — does not hold.
func (m *Machine) MetricAlarms(ctx context.Context, metrics func(name string) (float64, bool)) ([]MetricAlarm, error) {
	var out []MetricAlarm
	for i := range m.prog.Alarms {
		a := &m.prog.Alarms[i]
		if !a.Metric {
			continue
		}
		var st state
		if err := m.begin(&st, ctx, RawSpan(`{}`)); err != nil {
			return nil, err
		}
		st.metrics = metrics
		holds, _, _ := st.guards(a.When)
		if st.fatal != nil {
			return nil, st.fatal
		}
		out = append(out, MetricAlarm{Alarm: Alarm{Name: a.Name, Severity: a.Severity, Message: a.Message},
			For: time.Duration(a.For), Holds: holds})
	}
	return out, nil
}
