package ir

import "strconv"

// Builtin names a builtin function (docs/lll.md, "Builtins").
type Builtin int32

// The builtins. has and env take a literal argument and compile to
// OpHas and OpEnv; the others are OpCall nodes. The last four belong to
// the data plane (issue 7): they appear only as the trigger of a
// pipeline's derive and are never evaluated by internal/lll/eval.
const (
	BuiltinInvalid Builtin = iota
	BuiltinLen
	BuiltinLower
	BuiltinUpper
	BuiltinStartsWith
	BuiltinEndsWith
	BuiltinHas
	BuiltinTime
	BuiltinDuration
	BuiltinEnv
	BuiltinPercentile
	BuiltinComponents
	BuiltinLinkOpenOrContinue
	BuiltinCloseByTimeoutOrRule
	// BuiltinMetric is metric("NAME"): one of the server's figures
	// (MetricNames), only in an alarm's conditions.
	BuiltinMetric
	numBuiltins
)

// BuiltinInfo describes a builtin.
type BuiltinInfo struct {
	Name      string
	Arity     int
	Optional  int // how many of the last Arity arguments may be left out
	Result    Type
	DataPlane bool // computed by the data plane; only a derive's trigger
	Alarm     bool // reads the server's figures; only in an alarm's conditions
}

var builtins = [numBuiltins]BuiltinInfo{
	BuiltinLen:                {Name: "len", Arity: 1, Result: TNumber},
	BuiltinLower:              {Name: "lower", Arity: 1, Result: TString},
	BuiltinUpper:              {Name: "upper", Arity: 1, Result: TString},
	BuiltinStartsWith:         {Name: "starts_with", Arity: 2, Result: TBool},
	BuiltinEndsWith:           {Name: "ends_with", Arity: 2, Result: TBool},
	BuiltinHas:                {Name: "has", Arity: 1, Result: TBool},
	BuiltinTime:               {Name: "time", Arity: 1, Result: TTime},
	BuiltinDuration:           {Name: "duration", Arity: 1, Result: TDuration},
	BuiltinEnv:                {Name: "env", Arity: 1, Result: TString},
	BuiltinPercentile:         {Name: "percentile", Arity: 1, Result: TPercentile, DataPlane: true},
	BuiltinComponents:         {Name: "components", Arity: 3, Result: TMap, DataPlane: true},
	BuiltinLinkOpenOrContinue: {Name: "link_open_or_continue", Arity: 0, Result: TTrigger, DataPlane: true},
	// close_by_timeout_or_rule(COND): COND (a bool over the span) is the
	// close rule; without it only timeouts and windows close.
	BuiltinCloseByTimeoutOrRule: {Name: "close_by_timeout_or_rule", Arity: 1, Optional: 1, Result: TTrigger, DataPlane: true},
	BuiltinMetric:               {Name: "metric", Arity: 1, Result: TNumber, Alarm: true},
}

// Info returns what b is; the zero BuiltinInfo for an invalid b.
func (b Builtin) Info() BuiltinInfo {
	if b > BuiltinInvalid && b < numBuiltins {
		return builtins[b]
	}
	return BuiltinInfo{}
}

// Valid reports whether b is a builtin.
func (b Builtin) Valid() bool { return b > BuiltinInvalid && b < numBuiltins }

func (b Builtin) String() string {
	if b.Valid() {
		return builtins[b].Name
	}
	return "builtin(" + strconv.Itoa(int(b)) + ")"
}

// LookupBuiltin returns the builtin named name.
func LookupBuiltin(name string) (Builtin, bool) {
	for b := BuiltinLen; b < numBuiltins; b++ {
		if builtins[b].Name == name {
			return b, true
		}
	}
	return BuiltinInvalid, false
}

// MetricNames are the figures metric("NAME") reads: a tenant's data plane
// (docs/quality.md) with the v8 names, its requests to the gateway over
// the last five minutes (internal/tenantrates), and the server's
// derivation backlog. Sorted.
func MetricNames() []string {
	return []string{
		"auth.jwt_invalid_rate",
		"auth.token_attempts_5m",
		"dataplane.backlog",
		"gateway.requests_5m",
		"gateway.status_5xx_rate",
		"quality.candidate_share",
		"quality.candidates_total",
		"quality.p50.current",
		"quality.p95.current",
		"quality.p99.current",
		"quality.score_count",
		"quality.threshold.current",
		"trajectory.active",
		"trajectory.closed_total",
	}
}
