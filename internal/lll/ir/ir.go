package ir

import (
	"fmt"
	"strconv"
	"strings"
)

// Program is one tenant's compiled program set: every block of every
// file, names resolved, types checked, policies' defaults filled and
// constants folded. Blocks keep source order (files in the order given to
// the checker, blocks in file order). A Program is plain data: build it
// with internal/lll/check or Decode, and do not modify it once an
// evaluator holds it.
type Program struct {
	Files  []string // source file names, indexed by Pos.File
	Consts []Value  // constant pool, indexed by OpConst, OpEnv and OpSelect/OpMap operands
	Paths  []Path   // span field paths, indexed by OpField, OpHas and FieldRule.Path
	Nodes  []Node   // expression nodes; operands always precede the nodes using them

	Policies   []Policy
	Validators []Validator
	Routers    []Router
	Pipelines  []Pipeline
	Schemas    []Schema
	Alarms     []Alarm
}

// Pos is a source position: File indexes Program.Files, Line and Col are
// 1-based (Col in bytes). The zero Pos is "no position".
type Pos struct {
	File int32
	Line int32
	Col  int32
}

// IsValid reports whether p is a real position.
func (p Pos) IsValid() bool { return p.Line > 0 }

// Position formats pos as "file:line:col" (or "-" when it has none).
func (p *Program) Position(pos Pos) string {
	if !pos.IsValid() {
		return "-"
	}
	name := "?"
	if int(pos.File) < len(p.Files) {
		name = p.Files[pos.File]
	}
	return name + ":" + strconv.Itoa(int(pos.Line)) + ":" + strconv.Itoa(int(pos.Col))
}

// Type is the static type of an expression, or the type of a Value.
type Type uint8

// The types of the language (docs/lll.md, "Expressions"). TAny is the
// static type of span data whose type is only known at run time.
const (
	TAny Type = iota
	TNull
	TBool
	TNumber
	TString
	TDuration
	TTime
	TPercentile
	TList
	TMap
	TTrigger // the result of a data-plane trigger builtin (pipelines only)
	numTypes
)

var typeNames = [numTypes]string{"any", "null", "bool", "number", "string", "duration", "time", "percentile", "list", "map", "trigger"}

func (t Type) String() string {
	if t < numTypes {
		return typeNames[t]
	}
	return "type(" + strconv.Itoa(int(t)) + ")"
}

// Value is a constant: a literal, a policy entry, a folded expression.
// Type says which fields are meaningful.
type Value struct {
	Type  Type     // TNull … TMap (never TAny or TTrigger)
	Bool  bool     // TBool
	Num   float64  // TNumber, TPercentile (0 < p ≤ 100); always finite
	Int   int64    // TDuration: nanoseconds; TTime: Unix seconds
	Nsec  int32    // TTime: nanoseconds within the second, 0 ≤ Nsec < 1e9
	Str   string   // TString
	Elems []Value  // TList: elements; TMap: values, in the order of Keys
	Keys  []string // TMap: keys, sorted (byte order) and distinct
}

// Constructors for Values.
func Null() Value                    { return Value{Type: TNull} }
func Bool(b bool) Value              { return Value{Type: TBool, Bool: b} }
func Number(f float64) Value         { return Value{Type: TNumber, Num: f} }
func String(s string) Value          { return Value{Type: TString, Str: s} }
func Duration(nanos int64) Value     { return Value{Type: TDuration, Int: nanos} }
func Time(sec int64, ns int32) Value { return Value{Type: TTime, Int: sec, Nsec: ns} }
func Percentile(p float64) Value     { return Value{Type: TPercentile, Num: p} }
func List(elems ...Value) Value      { return Value{Type: TList, Elems: elems} }

// Map returns a map Value; keys and vals are parallel and keys must be
// sorted and distinct (use SortMap otherwise).
func Map(keys []string, vals []Value) Value { return Value{Type: TMap, Keys: keys, Elems: vals} }

// Get returns the value of key in a map Value.
func (v Value) Get(key string) (Value, bool) {
	lo, hi := 0, len(v.Keys)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		switch c := strings.Compare(v.Keys[m], key); {
		case c == 0:
			return v.Elems[m], true
		case c < 0:
			lo = m + 1
		default:
			hi = m
		}
	}
	return Value{}, false
}

// String formats v as the language writes it: "text" (quoted as in
// JSON), 42, 1h30m, p96, 2024-01-02T03:04:05Z, [a, b], {k: v}.
func (v Value) String() string {
	var b strings.Builder
	v.format(&b)
	return b.String()
}

func (v Value) format(b *strings.Builder) {
	switch v.Type {
	case TNull:
		b.WriteString("null")
	case TBool:
		b.WriteString(strconv.FormatBool(v.Bool))
	case TNumber:
		b.WriteString(FormatNumber(v.Num))
	case TString:
		b.WriteString(strconv.Quote(v.Str))
	case TDuration:
		b.WriteString(FormatDuration(v.Int))
	case TTime:
		b.WriteString(FormatTime(v.Int, v.Nsec))
	case TPercentile:
		b.WriteString("p" + FormatNumber(v.Num))
	case TList:
		b.WriteByte('[')
		for i, e := range v.Elems {
			if i > 0 {
				b.WriteString(", ")
			}
			e.format(b)
		}
		b.WriteByte(']')
	case TMap:
		b.WriteByte('{')
		for i, k := range v.Keys {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(strconv.Quote(k))
			b.WriteString(": ")
			v.Elems[i].format(b)
		}
		b.WriteByte('}')
	default:
		fmt.Fprintf(b, "<%s>", v.Type)
	}
}

// FormatNumber writes f the shortest way that reads back exactly
// (integers without a fraction or exponent up to 1e21).
func FormatNumber(f float64) string {
	if f == float64(int64(f)) && f < 1e21 && f > -1e21 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// Path is a span field path: a top-level field of the span (one of
// SpanFields, never a server field) and steps into its JSON value.
type Path struct {
	Field string
	Steps []Step
}

// Step is one step of a Path: a member Key of an object, or (Index ≥ 0)
// an element of an array.
type Step struct {
	Key   string
	Index int32 // -1 for a member step
}

// String writes the path as the language does: data.items[0].sku.
func (p Path) String() string {
	var b strings.Builder
	b.WriteString(p.Field)
	for _, s := range p.Steps {
		if s.Index >= 0 {
			b.WriteString("[" + strconv.Itoa(int(s.Index)) + "]")
		} else if isIdent(s.Key) {
			b.WriteString("." + s.Key)
		} else {
			b.WriteString("[" + strconv.Quote(s.Key) + "]")
		}
	}
	return b.String()
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9' {
			continue
		}
		return false
	}
	return true
}

// Op is the operation of an expression Node.
type Op uint8

// Operations. The operand fields A, B and Args of a Node mean:
//
//	OpConst              A: constant index
//	OpField              A: path index (the value at the path; null when absent)
//	OpHas                A: path index (whether the span has that member)
//	OpFeature            A: Feature
//	OpEnv                A: constant index of the variable's name (a string)
//	OpNot, OpNeg         A: operand node
//	OpAnd … OpMod        A, B: operand nodes (OpAnd/OpOr short-circuit)
//	OpSelect             A: operand node, B: constant index of the key (a string)
//	OpIndex              A: operand node, B: index node
//	OpCall               A: Builtin, Args: argument nodes
//	OpList               Args: element nodes
//	OpMap                B: constant index of the keys (a list of strings, sorted, distinct), Args: value nodes in key order
const (
	OpInvalid Op = iota
	OpConst
	OpField
	OpHas
	OpFeature
	OpEnv
	OpNot
	OpNeg
	OpAnd
	OpOr
	OpEq
	OpNe
	OpLt
	OpLe
	OpGt
	OpGe
	OpIn
	OpMatches
	OpAdd
	OpSub
	OpMul
	OpDiv
	OpMod
	OpSelect
	OpIndex
	OpCall
	OpList
	OpMap
	numOps
)

var opNames = [numOps]string{"invalid", "const", "field", "has", "feature", "env", "not", "neg", "and", "or",
	"==", "!=", "<", "<=", ">", ">=", "in", "matches", "+", "-", "*", "/", "%", "select", "index", "call", "list", "map"}

func (o Op) String() string {
	if o < numOps {
		return opNames[o]
	}
	return "op(" + strconv.Itoa(int(o)) + ")"
}

// IsBinary reports whether o takes two operand nodes A and B.
func (o Op) IsBinary() bool { return o >= OpAnd && o <= OpMod }

// Node is one expression node. Operands are indexes of earlier nodes, so
// the node list is a topologically sorted DAG and evaluation terminates.
type Node struct {
	Op   Op
	Type Type // static type (TAny when known only at run time)
	A, B int32
	Args []int32
	Pos  Pos
}

// Feature is a tenant feature flag (features.X).
type Feature int32

// The feature flags (ARCHITECTURE.md §6).
const (
	FeatureTrajectory Feature = iota
	FeatureDiamond
	NumFeatures
)

var featureNames = [NumFeatures]string{"trajectory", "diamond"}

func (f Feature) String() string {
	if f >= 0 && f < NumFeatures {
		return featureNames[f]
	}
	return "feature(" + strconv.Itoa(int(f)) + ")"
}

// LookupFeature returns the feature named name.
func LookupFeature(name string) (Feature, bool) {
	for i, n := range featureNames {
		if n == name {
			return Feature(i), true
		}
	}
	return 0, false
}

// Cond is a condition (`when EXPR`): its root node, its text as
// formatted by the checker (it names the rule in verdicts) and where it
// was written.
type Cond struct {
	Node int32
	Text string
	Pos  Pos
}

// Action is what a failed validator does.
type Action uint8

// The on_fail actions (docs/lll.md, "Statements").
const (
	ActionReject Action = iota + 1
	ActionWarn
)

func (a Action) String() string {
	switch a {
	case ActionReject:
		return "reject"
	case ActionWarn:
		return "warn"
	}
	return "action(" + strconv.Itoa(int(a)) + ")"
}

// LookupAction returns the action named name.
func LookupAction(name string) (Action, bool) {
	switch name {
	case "reject":
		return ActionReject, true
	case "warn":
		return ActionWarn, true
	}
	return 0, false
}

// FieldType is the `as "TYPE"` of a field rule.
type FieldType uint8

// The field types (docs/lll.md, "Statements"). FieldAny means no `as`.
const (
	FieldAny FieldType = iota
	FieldString
	FieldNumber
	FieldInteger
	FieldBool
	FieldArray
	FieldObject
	FieldRFC3339
	numFieldTypes
)

var fieldTypeNames = [numFieldTypes]string{"", "string", "number", "integer", "bool", "array", "object", "rfc3339"}

func (t FieldType) String() string {
	if t < numFieldTypes {
		return fieldTypeNames[t]
	}
	return "fieldtype(" + strconv.Itoa(int(t)) + ")"
}

// LookupFieldType returns the field type named name ("" is not one).
func LookupFieldType(name string) (FieldType, bool) {
	for i := FieldString; i < numFieldTypes; i++ {
		if fieldTypeNames[i] == name {
			return i, true
		}
	}
	return 0, false
}

// FieldTypeNames lists the names `as` accepts, in order.
func FieldTypeNames() []string {
	return append([]string(nil), fieldTypeNames[1:]...)
}

// FieldRule is `require field "NAME" [as "TYPE"]` (Required) or
// `allow field …`.
type FieldRule struct {
	Required bool
	Path     int32 // index into Program.Paths
	Type     FieldType
	Text     string // the rule as written canonically: require field "when" as "rfc3339"
	Pos      Pos
}

// Emit is `emit "TYPE" [with EXPR]`.
type Emit struct {
	Type string
	With int32 // node of the data map, -1 when absent
	Pos  Pos
}

// Entry is one key of a policy.
type Entry struct {
	Key     string
	Value   Value
	Default bool // filled from the known policy's default, not written
	Pos     Pos
}

// Policy is a `policy NAME` block.
type Policy struct {
	Name    string
	Known   bool    // one of KnownPolicies: typed keys, defaults filled
	Entries []Entry // sorted by key
	Pos     Pos
}

// Get returns the entry key of the policy.
func (p *Policy) Get(key string) (Value, bool) {
	for i := range p.Entries {
		if p.Entries[i].Key == key {
			return p.Entries[i].Value, true
		}
	}
	return Value{}, false
}

// Validator is a `validator NAME` block.
type Validator struct {
	Name        string
	Description string
	Input       []string // entity types it applies to; empty: all
	When        []Cond   // guards, all required
	Rules       []FieldRule
	Requires    []Cond // `require EXPR`: each must be true
	OnFail      Action
	Emits       []Emit
	Pos         Pos
}

// Route is `route "TARGET" [when EXPR]`.
type Route struct {
	Target string
	When   int32 // node, -1 when absent
	Pos    Pos
}

// Router is a `router NAME` block.
type Router struct {
	Name        string
	Description string
	Input       []string
	When        []Cond
	Routes      []Route
	Pos         Pos
}

// Derive is `derive "TYPE" on TRIGGER(ARGS)`: the trigger is a builtin of
// the data plane, evaluated there.
type Derive struct {
	Type    string
	Builtin Builtin // a data-plane builtin (Builtin.DataPlane)
	Args    []int32 // argument nodes
	Pos     Pos
}

// Pipeline is a `pipeline NAME` block.
type Pipeline struct {
	Name        string
	Description string
	Input       []string
	PolicyRef   string // a policy of the program or a known policy; "" when absent
	When        []Cond
	Derives     []Derive
	Pos         Pos
}

// Schema is a `schema NAME` block.
type Schema struct {
	Name        string
	Description string
	EntityType  string
	Fields      []FieldRule
	Pos         Pos
}

// Severity is an alarm's severity.
type Severity uint8

// Alarm severities.
const (
	SeverityInfo Severity = iota + 1
	SeverityWarning
	SeverityCritical
)

func (s Severity) String() string {
	switch s {
	case SeverityInfo:
		return "info"
	case SeverityWarning:
		return "warning"
	case SeverityCritical:
		return "critical"
	}
	return "severity(" + strconv.Itoa(int(s)) + ")"
}

// LookupSeverity returns the severity named name.
func LookupSeverity(name string) (Severity, bool) {
	for s := SeverityInfo; s <= SeverityCritical; s++ {
		if s.String() == name {
			return s, true
		}
	}
	return 0, false
}

// Alarm is an `alarm NAME` block.
type Alarm struct {
	Name        string
	Description string
	Input       []string
	Severity    Severity
	Message     string
	When        []Cond
	// Metric: the conditions read metric("…"), not spans; the server
	// evaluates them over time, and For is how long they must hold
	// before the alarm fires (nanoseconds, 0: at once).
	Metric bool
	For    int64
	Pos    Pos
}

// Operands appends the operand nodes of n to dst.
func (n *Node) Operands(dst []int32) []int32 {
	switch {
	case n.Op == OpNot || n.Op == OpNeg || n.Op == OpSelect:
		return append(dst, n.A)
	case n.Op.IsBinary() || n.Op == OpIndex:
		return append(dst, n.A, n.B)
	case n.Op == OpCall || n.Op == OpList || n.Op == OpMap:
		return append(dst, n.Args...)
	}
	return dst
}
