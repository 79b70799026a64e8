package ir

import "time"

// KeyKind is the type of a known policy's key.
type KeyKind uint8

// Key kinds of known policies.
const (
	KeyNumber     KeyKind = iota + 1 // a number within [Min, Max]
	KeyInteger                       // an integer within [Min, Max]
	KeyDuration                      // a duration > 0 (a literal or a string such as "24h")
	KeyPercentile                    // "pNN"
	KeyFieldList                     // a non-empty list of span field paths ("this", "data.case")
	KeyExceptions                    // a list of "field:glob"
	KeyWeights                       // a map {mass, persistence, verification} of numbers in [0, 1] summing to 1
	KeyEnum                          // one of Enum
)

// PolicyKey is one typed key of a known policy.
type PolicyKey struct {
	Key        string
	Kind       KeyKind
	HasDefault bool
	Default    Value
	Min, Max   float64  // KeyNumber, KeyInteger
	Enum       []string // KeyEnum
	// Alias is another spelling of the key, accepted in source and
	// stored under Key (the v8 seed's names where ARCHITECTURE.md
	// chose another).
	Alias string
}

// PolicySpec is a known policy: the data plane reads it (ARCHITECTURE.md §6).
type PolicySpec struct {
	Name string
	Keys []PolicyKey // sorted by key
}

// Key returns the spec of key, or of the key key is an alias of.
func (s PolicySpec) Key(key string) (PolicyKey, bool) {
	for _, k := range s.Keys {
		if k.Key == key || (k.Alias != "" && k.Alias == key) {
			return k, true
		}
	}
	return PolicyKey{}, false
}

// Names of the known policies.
const (
	PolicyTrajectoryLinker  = "trajectory_linker"
	PolicyQualityMeter      = "quality_meter"
	PolicyDerivedEventsPerf = "derived_events_perf"
)

// WeightKeys are the keys of quality_meter.weights, sorted.
var weightKeys = [...]string{"mass", "persistence", "verification"}

// WeightKeys returns the keys quality_meter.weights holds, sorted.
func WeightKeys() []string { return append([]string(nil), weightKeys[:]...) }

// KnownPolicies returns the known policies, sorted by name (a fresh copy).
func KnownPolicies() []PolicySpec {
	return []PolicySpec{
		{Name: PolicyDerivedEventsPerf, Keys: []PolicyKey{
			{Key: "max_per_minute", Kind: KeyInteger, Min: 1, Max: 1e9},
			// ARCHITECTURE.md §6 names it on_overload; the v8 seed (§15.3)
			// overflow_action. Ingest is never slowed unless asked.
			{Key: "on_overload", Alias: "overflow_action", Kind: KeyEnum, Enum: []string{"shed_derived", "slow_ingest", "reject_429"},
				HasDefault: true, Default: String("shed_derived")},
		}},
		{Name: PolicyQualityMeter, Keys: []PolicyKey{
			{Key: "horizon", Kind: KeyDuration},
			{Key: "mass_saturation", Kind: KeyNumber, HasDefault: true, Default: Number(32), Min: 1, Max: 1e9},
			{Key: "min_samples", Kind: KeyInteger, HasDefault: true, Default: Number(100), Min: 0, Max: 1e9},
			{Key: "min_score", Kind: KeyNumber, HasDefault: true, Default: Number(60), Min: 0, Max: 100},
			{Key: "percentile_target", Kind: KeyPercentile, HasDefault: true, Default: Percentile(96)},
			{Key: "weights", Kind: KeyWeights, HasDefault: true, Default: Map(WeightKeys(), []Value{Number(0.4), Number(0.3), Number(0.3)})},
		}},
		{Name: PolicyTrajectoryLinker, Keys: []PolicyKey{
			{Key: "close_timeout", Kind: KeyDuration, HasDefault: true, Default: Duration(int64(6 * time.Hour))},
			{Key: "exceptions", Kind: KeyExceptions, HasDefault: true, Default: List()},
			{Key: "key_fields", Kind: KeyFieldList, HasDefault: true, Default: List(String("this"))},
			{Key: "window", Kind: KeyDuration, HasDefault: true, Default: Duration(int64(24 * time.Hour))},
		}},
	}
}

// KnownPolicy returns the known policy named name.
func KnownPolicy(name string) (PolicySpec, bool) {
	for _, s := range KnownPolicies() {
		if s.Name == name {
			return s, true
		}
	}
	return PolicySpec{}, false
}

// Policy returns the policy block named name, or nil.
func (p *Program) Policy(name string) *Policy {
	for i := range p.Policies {
		if p.Policies[i].Name == name {
			return &p.Policies[i]
		}
	}
	return nil
}

// policyValue returns key of the program's policy name, or the known
// policy's default.
func (p *Program) policyValue(name, key string) (Value, bool) {
	if pol := p.Policy(name); pol != nil {
		if v, ok := pol.Get(key); ok {
			return v, true
		}
	}
	if spec, ok := KnownPolicy(name); ok {
		if k, ok := spec.Key(key); ok && k.HasDefault {
			return k.Default, true
		}
	}
	return Value{}, false
}

// TrajectoryLinker is the typed trajectory_linker policy.
type TrajectoryLinker struct {
	KeyFields    []string // span field paths
	Window       time.Duration
	CloseTimeout time.Duration
	Exceptions   []string // "field:glob"
}

// TrajectoryLinker returns the program's trajectory_linker policy, its
// defaults where the program does not set a key.
func (p *Program) TrajectoryLinker() TrajectoryLinker {
	var t TrajectoryLinker
	v, _ := p.policyValue(PolicyTrajectoryLinker, "key_fields")
	t.KeyFields = strs(v)
	v, _ = p.policyValue(PolicyTrajectoryLinker, "window")
	t.Window = time.Duration(v.Int)
	v, _ = p.policyValue(PolicyTrajectoryLinker, "close_timeout")
	t.CloseTimeout = time.Duration(v.Int)
	v, _ = p.policyValue(PolicyTrajectoryLinker, "exceptions")
	t.Exceptions = strs(v)
	return t
}

// QualityMeter is the typed quality_meter policy.
type QualityMeter struct {
	Mass, Persistence, Verification float64 // weights
	MassSaturation                  float64
	PercentileTarget                float64 // 96 for "p96"
	MinScore                        float64
	MinSamples                      int
	Horizon                         time.Duration // 0: none
}

// QualityMeter returns the program's quality_meter policy, its defaults
// where the program does not set a key.
func (p *Program) QualityMeter() QualityMeter {
	var q QualityMeter
	w, _ := p.policyValue(PolicyQualityMeter, "weights")
	for i, k := range w.Keys {
		switch k {
		case "mass":
			q.Mass = w.Elems[i].Num
		case "persistence":
			q.Persistence = w.Elems[i].Num
		case "verification":
			q.Verification = w.Elems[i].Num
		}
	}
	v, _ := p.policyValue(PolicyQualityMeter, "mass_saturation")
	q.MassSaturation = v.Num
	v, _ = p.policyValue(PolicyQualityMeter, "percentile_target")
	q.PercentileTarget = v.Num
	v, _ = p.policyValue(PolicyQualityMeter, "min_score")
	q.MinScore = v.Num
	v, _ = p.policyValue(PolicyQualityMeter, "min_samples")
	q.MinSamples = int(v.Num)
	if v, ok := p.policyValue(PolicyQualityMeter, "horizon"); ok {
		q.Horizon = time.Duration(v.Int)
	}
	return q
}

// DerivedEventsPerf is the typed derived_events_perf policy.
type DerivedEventsPerf struct {
	Set          bool // the program declares the policy (it has no defaults)
	MaxPerMinute int
	OnOverload   string // shed_derived | slow_ingest | reject_429
}

// DerivedEventsPerf returns the program's derived_events_perf policy.
func (p *Program) DerivedEventsPerf() DerivedEventsPerf {
	pol := p.Policy(PolicyDerivedEventsPerf)
	if pol == nil {
		return DerivedEventsPerf{}
	}
	d := DerivedEventsPerf{Set: true}
	if v, ok := pol.Get("max_per_minute"); ok {
		d.MaxPerMinute = int(v.Num)
	}
	if v, ok := pol.Get("on_overload"); ok {
		d.OnOverload = v.Str
	}
	return d
}

func strs(v Value) []string {
	out := make([]string, 0, len(v.Elems))
	for _, e := range v.Elems {
		out = append(out, e.Str)
	}
	return out
}
