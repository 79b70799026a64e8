package check

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/logline/logline/internal/lll/ir"
	"github.com/logline/logline/internal/lll/syntax"
)

// blockSpec says what a block kind accepts.
type blockSpec struct {
	entries    []string // allowed entry keys
	statements []string // allowed statements, as named in messages
}

var blockSpecs = map[syntax.BlockKind]blockSpec{
	syntax.KindValidator: {entries: []string{"description", "input"}, statements: []string{"require field", "allow field", "require", "when", "on_fail", "emit"}},
	syntax.KindRouter:    {entries: []string{"description", "input"}, statements: []string{"route", "when"}},
	syntax.KindPipeline:  {entries: []string{"description", "input", "policy_ref"}, statements: []string{"when", "derive"}},
	syntax.KindSchema:    {entries: []string{"description", "entity_type"}, statements: []string{"require field", "allow field"}},
	syntax.KindAlarm:     {entries: []string{"description", "for", "input", "message", "severity"}, statements: []string{"when"}},
}

func statementName(it syntax.Item) string {
	switch it := it.(type) {
	case *syntax.FieldRule:
		if it.Required {
			return "require field"
		}
		return "allow field"
	case *syntax.Require:
		return "require"
	case *syntax.When:
		return "when"
	case *syntax.Derive:
		return "derive"
	case *syntax.Emit:
		return "emit"
	case *syntax.OnFail:
		return "on_fail"
	case *syntax.Route:
		return "route"
	}
	return fmt.Sprintf("%T", it)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// blockItems sorts a block's items: entries by key (checking allowed
// keys and duplicates) and statements (checking they are allowed).
func (c *checker) blockItems(b *syntax.Block) (map[string]*syntax.Entry, []syntax.Item) {
	spec := blockSpecs[b.Kind]
	entries := map[string]*syntax.Entry{}
	var stmts []syntax.Item
	for _, it := range b.Items {
		switch it := it.(type) {
		case nil:
		case *syntax.Entry:
			key := it.Key.Name
			if !contains(spec.entries, key) {
				c.errorf(it.Key.NamePos, "%s %s: unknown key %s (keys: %s)", b.Kind, b.Name.Name, key, strings.Join(spec.entries, ", "))
				continue
			}
			if prev, dup := entries[key]; dup {
				c.errorf(it.Key.NamePos, "%s %s: duplicate key %s (first at %s)", b.Kind, b.Name.Name, key, prev.Key.NamePos)
				continue
			}
			entries[key] = it
		default:
			if name := statementName(it); !contains(spec.statements, name) {
				c.errorf(it.Pos(), "%s %s: %s is not allowed in a %s (it takes %s)", b.Kind, b.Name.Name, name, b.Kind, strings.Join(spec.statements, ", "))
				continue
			}
			stmts = append(stmts, it)
		}
	}
	return entries, stmts
}

// constEntry checks an entry's value as a constant.
func (c *checker) constEntry(e *syntax.Entry) (ir.Value, bool) {
	saved := c.scope
	c.scope = scopeConst
	defer func() { c.scope = saved }()
	o := c.value(c.expr(e.Value))
	if o.kind == oBad {
		return ir.Value{}, false
	}
	if o.kind != oConst {
		c.errorf(e.Value.Pos(), "%s: needs a constant", e.Key.Name)
		return ir.Value{}, false
	}
	return o.val, true
}

// stringEntry checks an entry holding a string.
func (c *checker) stringEntry(e *syntax.Entry) (string, bool) {
	if e == nil {
		return "", false
	}
	v, ok := c.constEntry(e)
	if !ok {
		return "", false
	}
	if v.Type != ir.TString {
		c.errorf(e.Value.Pos(), "%s: needs a string, got a %s", e.Key.Name, v.Type)
		return "", false
	}
	return v.Str, true
}

// inputEntry checks `input`: entity types as "a|b" or ["a", "b"].
func (c *checker) inputEntry(e *syntax.Entry) []string {
	if e == nil {
		return nil
	}
	v, ok := c.constEntry(e)
	if !ok {
		return nil
	}
	var names []string
	switch v.Type {
	case ir.TString:
		names = strings.Split(v.Str, "|")
	case ir.TList:
		for _, x := range v.Elems {
			if x.Type != ir.TString {
				c.errorf(e.Value.Pos(), "input: entity types are strings, got a %s", x.Type)
				return nil
			}
			names = append(names, x.Str)
		}
	default:
		c.errorf(e.Value.Pos(), "input: needs entity types, \"a|b\" or [\"a\", \"b\"], got a %s", v.Type)
		return nil
	}
	var out []string
	for _, n := range names {
		n = strings.TrimSpace(n)
		if !validEntityType(n) {
			c.errorf(e.Value.Pos(), "input: %q is not an entity type ([a-z0-9_.:-], 1 to 64 characters)", n)
			return nil
		}
		if !contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// conds checks `when` conditions in scope sc.
func (c *checker) cond(expr syntax.Expr, sc scope) (int32, bool) {
	saved := c.scope
	c.scope = sc
	defer func() { c.scope = saved }()
	o := c.value(c.expr(expr))
	if o.kind == oBad {
		return -1, false
	}
	if o.t != ir.TBool && o.t != ir.TAny {
		c.errorf(expr.Pos(), "a condition must be a bool, got a %s", o.t)
		return -1, false
	}
	n := c.toNode(o)
	return n, n >= 0
}

func (c *checker) whenCond(w *syntax.When, sc scope) (ir.Cond, bool) {
	n, ok := c.cond(w.Cond, sc)
	return ir.Cond{Node: n, Text: formatExpr(w.Cond), Pos: c.pos(w.Keyword)}, ok
}

// fieldRule checks a require/allow field rule.
func (c *checker) fieldRule(r *syntax.FieldRule, seen map[string]syntax.Pos) (ir.FieldRule, bool) {
	name := r.Field.Value
	p, msg := parseFieldPath(name)
	if msg != "" {
		c.errorf(r.Field.ValuePos, "%s", msg)
		return ir.FieldRule{}, false
	}
	if prev, dup := seen[p.String()]; dup {
		c.errorf(r.Field.ValuePos, "field %q already has a rule (at %s)", name, prev)
		return ir.FieldRule{}, false
	}
	seen[p.String()] = r.Keyword
	out := ir.FieldRule{Required: r.Required, Path: c.pathIndex(p), Pos: c.pos(r.Keyword)}
	kw := "allow"
	if r.Required {
		kw = "require"
	}
	out.Text = kw + " field " + quote(name)
	if r.As != nil {
		t, ok := ir.LookupFieldType(r.As.Value)
		if !ok {
			c.errorf(r.As.ValuePos, "unknown field type %q (types: %s)", r.As.Value, strings.Join(ir.FieldTypeNames(), ", "))
			return ir.FieldRule{}, false
		}
		out.Type = t
		out.Text += " as " + quote(r.As.Value)
		if len(p.Steps) == 0 {
			f, _ := ir.LookupSpanField(p.Field)
			if !fieldTypeFits(f.Type, t) {
				c.errorf(r.As.ValuePos, "field %q is %s; it can never be %s", name, spanTypeName(f.Type), quote(r.As.Value))
				return ir.FieldRule{}, false
			}
		}
	}
	return out, true
}

// spanTypeName names a span field's type in the words of field types.
func spanTypeName(t ir.Type) string {
	switch t {
	case ir.TMap:
		return "an object"
	case ir.TList:
		return "an array"
	case ir.TNumber:
		return "a number"
	case ir.TTime:
		return "an RFC 3339 time"
	case ir.TBool:
		return "a bool"
	}
	return "a string"
}

// fieldTypeFits reports whether a span field of static type st can hold
// a value of field type ft.
func fieldTypeFits(st ir.Type, ft ir.FieldType) bool {
	switch ft {
	case ir.FieldString: // when is a string on the wire
		return st == ir.TString || st == ir.TTime
	case ir.FieldRFC3339:
		return st == ir.TString || st == ir.TTime
	case ir.FieldNumber, ir.FieldInteger:
		return st == ir.TNumber
	case ir.FieldBool:
		return st == ir.TBool
	case ir.FieldArray:
		return st == ir.TList
	case ir.FieldObject:
		return st == ir.TMap
	}
	return true
}

// fieldShapes checks the rules of one block together: a member typed as
// anything but an object cannot have members of its own.
func (c *checker) fieldShapes(rules []*syntax.FieldRule) {
	typed := map[string]*syntax.FieldRule{} // name → rule typing it as a non-object
	for _, r := range rules {
		if r.As != nil && r.As.Value != "object" {
			typed[r.Field.Value] = r
		}
	}
	for _, r := range rules {
		name := r.Field.Value
		for i := len(name) - 1; i > 0; i-- {
			if name[i] != '.' {
				continue
			}
			if t := typed[name[:i]]; t != nil {
				c.errorf(r.Field.ValuePos, "field %q is inside %q, which is declared %s at %s; only an object has members", name, name[:i], quote(t.As.Value), t.As.ValuePos)
				break
			}
		}
	}
}

func (c *checker) entityTypeLit(s *syntax.StringLit, what string) bool {
	if !validEntityType(s.Value) {
		c.errorf(s.ValuePos, "%s: %q is not an entity type ([a-z0-9_.:-], 1 to 64 characters)", what, s.Value)
		return false
	}
	return true
}

func (c *checker) validator(b *syntax.Block) {
	entries, stmts := c.blockItems(b)
	v := ir.Validator{Name: b.Name.Name, Pos: c.pos(b.Name.NamePos), OnFail: ir.ActionReject}
	v.Description, _ = c.stringEntry(entries["description"])
	v.Input = c.inputEntry(entries["input"])
	seen := map[string]syntax.Pos{}
	var onFail *syntax.OnFail
	var rules []*syntax.FieldRule
	defer func() { c.fieldShapes(rules) }()
	for _, it := range stmts {
		switch it := it.(type) {
		case *syntax.FieldRule:
			if r, ok := c.fieldRule(it, seen); ok {
				rules = append(rules, it)
				v.Rules = append(v.Rules, r)
			}
		case *syntax.When:
			if cnd, ok := c.whenCond(it, scopeSpan); ok {
				v.When = append(v.When, cnd)
			}
		case *syntax.Require:
			if s, ok := it.Cond.(*syntax.StringLit); ok {
				c.errorf(it.Cond.Pos(), "require %s: a condition is expected; to require a field write require field %s", s.Raw, s.Raw)
				continue
			}
			if n, ok := c.cond(it.Cond, scopeSpan); ok {
				v.Requires = append(v.Requires, ir.Cond{Node: n, Text: formatExpr(it.Cond), Pos: c.pos(it.Keyword)})
			}
		case *syntax.OnFail:
			if onFail != nil {
				c.errorf(it.Keyword, "validator %s: on_fail given twice (first at %s)", b.Name.Name, onFail.Keyword)
				continue
			}
			onFail = it
			a, ok := ir.LookupAction(it.Action.Value)
			if !ok {
				c.errorf(it.Action.ValuePos, "unknown on_fail action %q (actions: \"reject\", \"warn\")", it.Action.Value)
				continue
			}
			v.OnFail = a
		case *syntax.Emit:
			if !c.entityTypeLit(it.Type, "emit") {
				continue
			}
			em := ir.Emit{Type: it.Type.Value, With: -1, Pos: c.pos(it.Keyword)}
			if it.With != nil {
				saved := c.scope
				c.scope = scopeSpan
				o := c.value(c.expr(it.With))
				c.scope = saved
				if o.kind == oBad {
					continue
				}
				if o.t != ir.TMap && o.t != ir.TAny {
					c.errorf(it.With.Pos(), "emit with: the event's data must be a map ({key: value, …}), got a %s", o.t)
					continue
				}
				if em.With = c.toNode(o); em.With < 0 {
					continue
				}
			}
			v.Emits = append(v.Emits, em)
		}
	}
	c.prog.Validators = append(c.prog.Validators, v)
}

func (c *checker) router(b *syntax.Block) {
	entries, stmts := c.blockItems(b)
	r := ir.Router{Name: b.Name.Name, Pos: c.pos(b.Name.NamePos)}
	r.Description, _ = c.stringEntry(entries["description"])
	r.Input = c.inputEntry(entries["input"])
	for _, it := range stmts {
		switch it := it.(type) {
		case *syntax.When:
			if cnd, ok := c.whenCond(it, scopeSpan); ok {
				r.When = append(r.When, cnd)
			}
		case *syntax.Route:
			if it.Target.Value == "" {
				c.errorf(it.Target.ValuePos, "route: empty target")
				continue
			}
			rt := ir.Route{Target: it.Target.Value, When: -1, Pos: c.pos(it.Keyword)}
			if it.When != nil {
				n, ok := c.cond(it.When, scopeSpan)
				if !ok {
					continue
				}
				rt.When = n
			}
			r.Routes = append(r.Routes, rt)
		}
	}
	if !hasStatement(stmts, "route") {
		c.errorf(b.Name.NamePos, "router %s has no route (route \"TARGET\" [when EXPR])", b.Name.Name)
	}
	c.prog.Routers = append(c.prog.Routers, r)
}

func hasStatement(stmts []syntax.Item, name string) bool {
	for _, s := range stmts {
		if statementName(s) == name {
			return true
		}
	}
	return false
}

func (c *checker) pipeline(b *syntax.Block) {
	entries, stmts := c.blockItems(b)
	p := ir.Pipeline{Name: b.Name.Name, Pos: c.pos(b.Name.NamePos)}
	p.Description, _ = c.stringEntry(entries["description"])
	p.Input = c.inputEntry(entries["input"])
	if e := entries["policy_ref"]; e != nil {
		if ref, ok := c.stringEntry(e); ok {
			_, known := ir.KnownPolicy(ref)
			if c.pols[ref] == nil && !known {
				c.errorf(e.Value.Pos(), "policy_ref: unknown policy %q (declare it: policy %s { … })", ref, ref)
			} else {
				p.PolicyRef = ref
			}
		}
	}
	for _, it := range stmts {
		switch it := it.(type) {
		case *syntax.When:
			if cnd, ok := c.whenCond(it, scopePipeline); ok {
				p.When = append(p.When, cnd)
			}
		case *syntax.Derive:
			if d, ok := c.derive(it); ok {
				p.Derives = append(p.Derives, d)
			}
		}
	}
	if !hasStatement(stmts, "derive") {
		c.errorf(b.Name.NamePos, "pipeline %s has no derive (derive \"TYPE\" on TRIGGER())", b.Name.Name)
	}
	c.prog.Pipelines = append(c.prog.Pipelines, p)
}

// derive checks `derive "TYPE" on TRIGGER(ARGS)`.
func (c *checker) derive(d *syntax.Derive) (ir.Derive, bool) {
	if !c.entityTypeLit(d.Type, "derive") {
		return ir.Derive{}, false
	}
	on := d.On
	for {
		p, ok := on.(*syntax.Paren)
		if !ok {
			break
		}
		on = p.X
	}
	call, ok := on.(*syntax.Call)
	var b ir.Builtin
	if ok {
		if id, isID := call.Fun.(*syntax.Ident); isID {
			b, _ = ir.LookupBuiltin(id.Name)
		}
	}
	if !b.Info().DataPlane {
		c.errorf(d.On.Pos(), "derive … on needs a trigger of the data plane: link_open_or_continue(), close_by_timeout_or_rule(), percentile(x) or components(m, p, v)")
		return ir.Derive{}, false
	}
	saved := c.scope
	c.scope = scopeTrigger
	defer func() { c.scope = saved }()
	o := c.expr(call)
	if o.kind != oNode {
		return ir.Derive{}, false
	}
	n := c.prog.Nodes[o.node]
	// The trigger is not a node of its own: the data plane evaluates it.
	c.prog.Nodes = c.prog.Nodes[:o.node]
	c.depth = c.depth[:o.node]
	return ir.Derive{Type: d.Type.Value, Builtin: b, Args: n.Args, Pos: c.pos(d.Keyword)}, true
}

func (c *checker) schema(b *syntax.Block) {
	entries, stmts := c.blockItems(b)
	s := ir.Schema{Name: b.Name.Name, Pos: c.pos(b.Name.NamePos)}
	s.Description, _ = c.stringEntry(entries["description"])
	if e := entries["entity_type"]; e != nil {
		if et, ok := c.stringEntry(e); ok {
			if validEntityType(et) {
				s.EntityType = et
				if prev, dup := c.schemaTypes[et]; dup {
					c.errorf(e.Value.Pos(), "schema %s: entity type %q already has a schema (%s)", b.Name.Name, et, prev)
				} else {
					if c.schemaTypes == nil {
						c.schemaTypes = map[string]string{}
					}
					c.schemaTypes[et] = b.Name.Name + " at " + where(c.file, b.Name.NamePos)
				}
			} else {
				c.errorf(e.Value.Pos(), "entity_type: %q is not an entity type ([a-z0-9_.:-], 1 to 64 characters)", et)
			}
		}
	} else {
		c.errorf(b.Name.NamePos, "schema %s: missing entity_type (entity_type: \"TYPE\")", b.Name.Name)
	}
	seen := map[string]syntax.Pos{}
	var rules []*syntax.FieldRule
	for _, it := range stmts {
		if fr, ok := it.(*syntax.FieldRule); ok {
			if r, ok := c.fieldRule(fr, seen); ok {
				rules = append(rules, fr)
				s.Fields = append(s.Fields, r)
			}
		}
	}
	c.fieldShapes(rules)
	c.prog.Schemas = append(c.prog.Schemas, s)
}

func (c *checker) alarm(b *syntax.Block) {
	entries, stmts := c.blockItems(b)
	a := ir.Alarm{Name: b.Name.Name, Pos: c.pos(b.Name.NamePos), Severity: ir.SeverityWarning}
	a.Description, _ = c.stringEntry(entries["description"])
	a.Input = c.inputEntry(entries["input"])
	if e := entries["severity"]; e != nil {
		if s, ok := c.stringEntry(e); ok {
			sev, ok := ir.LookupSeverity(s)
			if !ok {
				c.errorf(e.Value.Pos(), "severity: unknown severity %q (\"info\", \"warning\", \"critical\")", s)
			}
			a.Severity = sev
		}
	}
	if e := entries["message"]; e != nil {
		a.Message, _ = c.stringEntry(e)
	} else {
		a.Message = "alarm " + b.Name.Name
	}
	reads := nodeUse{}
	for _, it := range stmts {
		if w, ok := it.(*syntax.When); ok {
			if cnd, ok := c.whenCond(w, scopeAlarm); ok {
				a.When = append(a.When, cnd)
				c.uses(cnd.Node, &reads)
			}
		}
	}
	if !hasStatement(stmts, "when") {
		c.errorf(b.Name.NamePos, "alarm %s has no condition (when EXPR)", b.Name.Name)
	}
	a.Metric = reads.metric
	if reads.metric && reads.span {
		c.errorf(b.Name.NamePos, "alarm %s reads both metric(…) and the span: an alarm is over spans (raised by each span) or over figures (evaluated over time), not both", b.Name.Name)
	}
	if e := entries["for"]; e != nil {
		switch v, ok := c.constEntry(e); {
		case !ok:
		case !reads.metric:
			c.errorf(e.Key.NamePos, "alarm %s: for applies to alarms over metric(…) (a span raises its alarm at once)", b.Name.Name)
		default:
			d, ok := durationOf(v)
			if !ok || d < 0 {
				c.errorf(e.Value.Pos(), "for: needs a duration (such as 5m), got %s", v)
			}
			a.For = d
		}
	}
	if reads.metric && len(a.Input) > 0 {
		c.errorf(entries["input"].Key.NamePos, "alarm %s: input filters spans; an alarm over metric(…) reads no span", b.Name.Name)
	}
	if a.Severity == 0 {
		a.Severity = ir.SeverityWarning
	}
	c.prog.Alarms = append(c.prog.Alarms, a)
}

// policy checks a policy block: a known policy's typed keys with
// defaults, or a tenant's own constants.
func (c *checker) policy(b *syntax.Block) {
	name := b.Name.Name
	info := c.pols[name]
	spec, known := ir.KnownPolicy(name)
	pol := ir.Policy{Name: name, Known: known, Pos: c.pos(b.Name.NamePos)}
	seen := map[string]*syntax.Entry{}
	for _, it := range b.Items {
		e, ok := it.(*syntax.Entry)
		if !ok {
			if it != nil {
				c.errorf(it.Pos(), "policy %s: %s is not allowed in a policy (it holds key: value entries)", name, statementName(it))
			}
			continue
		}
		key := e.Key.Name
		var ks ir.PolicyKey
		if known {
			if ks, ok = spec.Key(key); ok {
				key = ks.Key // an alias is stored under the key's name
			}
		}
		if prev, dup := seen[key]; dup {
			if prev.Key.Name != e.Key.Name {
				c.errorf(e.Key.NamePos, "policy %s: %s and %s are the same key (given at %s)", name, e.Key.Name, prev.Key.Name, prev.Key.NamePos)
				continue
			}
			c.errorf(e.Key.NamePos, "policy %s: duplicate key %s (first at %s)", name, key, prev.Key.NamePos)
			continue
		}
		seen[key] = e
		if known {
			if _, ok = spec.Key(key); !ok {
				names := make([]string, len(spec.Keys))
				for i, k := range spec.Keys {
					names[i] = k.Key
				}
				c.errorf(e.Key.NamePos, "policy %s: unknown key %s (keys: %s)", name, key, strings.Join(names, ", "))
				continue
			}
		}
		v, ok := c.constEntry(e)
		if !ok {
			continue
		}
		if known {
			written := ks
			written.Key = e.Key.Name // messages name the key as written
			if v, ok = c.typedKey(name, written, v, e); !ok {
				continue
			}
		}
		pol.Entries = append(pol.Entries, ir.Entry{Key: key, Value: v, Pos: c.pos(e.Key.NamePos)})
	}
	if known {
		for _, k := range spec.Keys {
			if seen[k.Key] != nil {
				continue
			}
			if k.HasDefault {
				pol.Entries = append(pol.Entries, ir.Entry{Key: k.Key, Value: k.Default, Default: true})
			} else if k.Key != "horizon" {
				c.errorf(b.Name.NamePos, "policy %s: missing %s (it has no default)", name, k.Key)
			}
		}
	}
	sort.Slice(pol.Entries, func(i, j int) bool { return pol.Entries[i].Key < pol.Entries[j].Key })
	info.index = len(c.prog.Policies)
	c.prog.Policies = append(c.prog.Policies, pol)
}

// typedKey checks and converts the value of a known policy's key.
func (c *checker) typedKey(pol string, ks ir.PolicyKey, v ir.Value, e *syntax.Entry) (ir.Value, bool) {
	at := e.Value.Pos()
	fail := func(format string, args ...any) (ir.Value, bool) {
		c.errorf(at, "policy %s: %s: %s", pol, ks.Key, fmt.Sprintf(format, args...))
		return ir.Value{}, false
	}
	switch ks.Kind {
	case ir.KeyNumber, ir.KeyInteger:
		if v.Type != ir.TNumber {
			return fail("needs a number, got %s", v)
		}
		if ks.Kind == ir.KeyInteger && v.Num != math.Trunc(v.Num) {
			return fail("needs an integer, got %s", v)
		}
		if v.Num < ks.Min || v.Num > ks.Max {
			return fail("%s is out of range [%s, %s]", v, ir.FormatNumber(ks.Min), ir.FormatNumber(ks.Max))
		}
		return v, true
	case ir.KeyDuration:
		switch v.Type {
		case ir.TString:
			d, ok := ir.ParseDuration(v.Str)
			if !ok {
				return fail("%q is not a duration (such as 24h, 1h30m, 500ms)", v.Str)
			}
			v = ir.Duration(d)
		case ir.TDuration:
		default:
			return fail("needs a duration (24h or \"24h\"), got %s", v)
		}
		if v.Int <= 0 {
			return fail("needs a positive duration, got %s", v)
		}
		return v, true
	case ir.KeyPercentile:
		if v.Type == ir.TPercentile {
			return v, true
		}
		if v.Type == ir.TString {
			if p, ok := ir.ParsePercentile(v.Str); ok {
				return ir.Percentile(p), true
			}
		}
		return fail("needs a percentile such as \"p96\", got %s", v)
	case ir.KeyFieldList, ir.KeyExceptions:
		if v.Type != ir.TList {
			return fail("needs a list of strings, got %s", v)
		}
		if ks.Kind == ir.KeyFieldList && len(v.Elems) == 0 {
			return fail("needs at least one field")
		}
		for _, x := range v.Elems {
			if x.Type != ir.TString {
				return fail("needs strings, got %s", x)
			}
			field := x.Str
			if ks.Kind == ir.KeyExceptions {
				i := strings.IndexByte(x.Str, ':')
				if i < 0 {
					return fail("%q is not \"field:glob\" (such as \"this:heartbeat-*\")", x.Str)
				}
				field = x.Str[:i]
			}
			if _, msg := parseFieldPath(field); msg != "" {
				return fail("%s", msg)
			}
		}
		return v, true
	case ir.KeyWeights:
		if v.Type != ir.TMap {
			return fail("needs a map {mass: 0.4, persistence: 0.3, verification: 0.3}, got %s", v)
		}
		keys := ir.WeightKeys()
		vals := make([]ir.Value, len(keys))
		for i, k := range keys {
			vals[i], _ = ks.Default.Get(k)
		}
		for i, k := range v.Keys {
			j := sort.SearchStrings(keys, k)
			if j == len(keys) || keys[j] != k {
				return fail("unknown weight %s (weights: %s)", k, strings.Join(keys, ", "))
			}
			w := v.Elems[i]
			if w.Type != ir.TNumber || w.Num < 0 || w.Num > 1 {
				return fail("weight %s must be a number in [0, 1], got %s", k, w)
			}
			vals[j] = w
		}
		sum := 0.0
		for _, w := range vals {
			sum += w.Num
		}
		if math.Abs(sum-1) > 1e-9 {
			return fail("the weights must sum to 1, they sum to %s", ir.FormatNumber(sum))
		}
		return ir.Map(keys, vals), true
	case ir.KeyEnum:
		if v.Type != ir.TString || !contains(ks.Enum, v.Str) {
			return fail("needs one of %s, got %s", quoteAll(ks.Enum), v)
		}
		return v, true
	}
	return fail("unsupported key kind")
}

// policyValue resolves policy.NAME.KEY.
func (c *checker) policyValue(name, key string, pos syntax.Pos) (ir.Value, bool) {
	if spec, known := ir.KnownPolicy(name); known {
		if k, ok := spec.Key(key); ok {
			key = k.Key // an alias reads the key it names
		}
	}
	if info := c.pols[name]; info != nil {
		if info.index < 0 {
			c.errorf(pos, "policy %s is not checked yet (a policy cannot read a policy)", name)
			return ir.Value{}, false
		}
		pol := &c.prog.Policies[info.index]
		if v, ok := pol.Get(key); ok {
			return v, true
		}
		keys := make([]string, len(pol.Entries))
		for i, e := range pol.Entries {
			keys[i] = e.Key
		}
		if spec, known := ir.KnownPolicy(name); known {
			if _, ok := spec.Key(key); ok {
				c.errorf(pos, "policy %s does not set %s, which has no default", name, key)
				return ir.Value{}, false
			}
		}
		c.errorf(pos, "policy %s has no key %s (keys: %s)", name, key, strings.Join(keys, ", "))
		return ir.Value{}, false
	}
	spec, _ := ir.KnownPolicy(name)
	k, ok := spec.Key(key)
	if !ok {
		names := make([]string, len(spec.Keys))
		for i, k := range spec.Keys {
			names[i] = k.Key
		}
		c.errorf(pos, "policy %s has no key %s (keys: %s)", name, key, strings.Join(names, ", "))
		return ir.Value{}, false
	}
	if !k.HasDefault {
		c.errorf(pos, "policy %s.%s has no default and the program does not declare policy %s", name, key, name)
		return ir.Value{}, false
	}
	return k.Default, true
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = quote(s)
	}
	return strings.Join(q, ", ")
}

// nodeUse says what an expression reads.
type nodeUse struct {
	metric bool // metric("…")
	span   bool // a span field (or has(…))
}

// uses walks the expression rooted at node n.
func (c *checker) uses(n int32, u *nodeUse) {
	if n < 0 || int(n) >= len(c.prog.Nodes) {
		return
	}
	nd := &c.prog.Nodes[n]
	switch nd.Op {
	case ir.OpField, ir.OpHas:
		u.span = true
	case ir.OpCall:
		if ir.Builtin(nd.A) == ir.BuiltinMetric {
			u.metric = true
		}
	case ir.OpConst, ir.OpEnv, ir.OpFeature:
		return
	}
	switch nd.Op {
	case ir.OpNot, ir.OpNeg, ir.OpSelect:
		c.uses(nd.A, u)
	case ir.OpAnd, ir.OpOr, ir.OpEq, ir.OpNe, ir.OpLt, ir.OpLe, ir.OpGt, ir.OpGe, ir.OpIn, ir.OpMatches,
		ir.OpAdd, ir.OpSub, ir.OpMul, ir.OpDiv, ir.OpMod, ir.OpIndex:
		c.uses(nd.A, u)
		c.uses(nd.B, u)
	}
	for _, a := range nd.Args {
		c.uses(a, u)
	}
}

// durationOf reads a constant duration: a duration literal or a string
// such as "5m".
func durationOf(v ir.Value) (int64, bool) {
	switch v.Type {
	case ir.TDuration:
		return v.Int, true
	case ir.TString:
		return ir.ParseDuration(v.Str)
	}
	return 0, false
}
