// Package check is the front end of the .lll compiler for one tenant's
// program set: it resolves names (span fields, span.X, features.X,
// policy.NAME.KEY across files, builtins), checks types, checks each
// block kind's items, required entries, unknown keys, duplicate names and
// the known policies' typed keys, fills defaults, folds constants, and
// produces an ir.Program. Problems are syntax.Errors (file:line:col:
// message) collected in a syntax.ErrorList, several per run, so one
// formatter prints parse and check errors alike.
//
// What the checker cannot know (the type of span data such as
// data.total) is left to run time, where a mismatch fails the rule
// instead of the program (internal/lll/eval).
package check

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/logline/logline/internal/lll/ir"
	"github.com/logline/logline/internal/lll/syntax"
)

// Options configure Check. The zero value works.
type Options struct {
	// MaxErrors stops checking after that many errors; 0 means 100.
	MaxErrors int
}

// errTooMany stops a check that has reported MaxErrors errors.
var errTooMany = errors.New("too many errors")

// Check compiles the parsed files of one tenant into a program. Files are
// taken in the order given; blocks keep their source order. The error,
// when not nil, is a syntax.ErrorList sorted by file and position, and
// the program is nil.
func Check(files []*syntax.File, opts Options) (prog *ir.Program, err error) {
	if opts.MaxErrors <= 0 {
		opts.MaxErrors = 100
	}
	c := &checker{
		opts:   opts,
		prog:   &ir.Program{},
		consts: map[string]int32{},
		paths:  map[string]int32{},
		pols:   map[string]*policyInfo{},
	}
	func() {
		defer func() {
			if r := recover(); r != nil && r != errTooMany { //nolint:errorlint // sentinel identity
				panic(r)
			}
		}()
		c.run(files)
	}()
	if len(c.errs) > 0 {
		c.errs.Sort()
		return nil, c.errs
	}
	if err := c.prog.Validate(); err != nil {
		// A checker bug: report it as an error of the program rather
		// than hand out an invalid one.
		return nil, syntax.ErrorList{{Msg: "internal error: compiled program is invalid: " + err.Error()}}
	}
	return c.prog, nil
}

type checker struct {
	opts Options
	errs syntax.ErrorList
	prog *ir.Program

	file    string // name of the file being checked
	fileIdx int32

	consts map[string]int32 // constant key → index, to share constants
	paths  map[string]int32 // path string → index
	depth  []int32          // depth of each node

	pols map[string]*policyInfo // declared policies by name

	schemaTypes map[string]string // entity type → "NAME at FILE:LINE:COL" of the schema declaring it

	// scope of the expression being checked
	scope scope
}

// scope says what an expression may use.
type scope uint8

const (
	scopeConst    scope = iota // policy entries and block entries: constants only
	scopeSpan                  // validators, routers, alarms: span, features, policy, env
	scopePipeline              // pipelines' when: as scopeSpan
	scopeTrigger               // a derive's trigger call
	scopeAlarm                 // an alarm's when: as scopeSpan, plus metric("…")
)

type policyInfo struct {
	block *syntax.Block
	file  string
	index int // in prog.Policies; -1 while being checked
}

func (c *checker) errorf(pos syntax.Pos, format string, args ...any) {
	c.errs.Add(c.file, pos, fmt.Sprintf(format, args...))
	if len(c.errs) >= c.opts.MaxErrors {
		panic(errTooMany)
	}
}

func (c *checker) pos(p syntax.Pos) ir.Pos {
	if !p.IsValid() {
		return ir.Pos{}
	}
	return ir.Pos{File: c.fileIdx, Line: int32(p.Line), Col: int32(p.Col)}
}

// where formats a position of the current file for messages.
func where(file string, p syntax.Pos) string {
	return file + ":" + p.String()
}

type blockRef struct {
	b       *syntax.Block
	file    string
	fileIdx int32
}

func (c *checker) run(files []*syntax.File) {
	var blocks []blockRef
	first := map[string]blockRef{} // kind/name → first definition
	for _, f := range files {
		if f == nil {
			continue
		}
		c.prog.Files = append(c.prog.Files, f.Name)
		idx := int32(len(c.prog.Files) - 1)
		for _, b := range f.Blocks {
			if b == nil || b.Name == nil {
				continue
			}
			c.file, c.fileIdx = f.Name, idx
			key := string(b.Kind) + " " + b.Name.Name
			if prev, dup := first[key]; dup {
				c.errorf(b.Name.NamePos, "duplicate %s %s (first defined at %s)", b.Kind, b.Name.Name, where(prev.file, prev.b.Name.NamePos))
				continue
			}
			ref := blockRef{b, f.Name, idx}
			first[key] = ref
			blocks = append(blocks, ref)
			if b.Kind == syntax.KindPolicy {
				c.pols[b.Name.Name] = &policyInfo{block: b, file: f.Name, index: -1}
			}
		}
	}
	// Policies first: expressions elsewhere read them.
	for _, r := range blocks {
		if r.b.Kind == syntax.KindPolicy {
			c.file, c.fileIdx = r.file, r.fileIdx
			c.policy(r.b)
		}
	}
	for _, r := range blocks {
		c.file, c.fileIdx = r.file, r.fileIdx
		switch r.b.Kind {
		case syntax.KindPolicy:
		case syntax.KindValidator:
			c.validator(r.b)
		case syntax.KindRouter:
			c.router(r.b)
		case syntax.KindPipeline:
			c.pipeline(r.b)
		case syntax.KindSchema:
			c.schema(r.b)
		case syntax.KindAlarm:
			c.alarm(r.b)
		default:
			c.errorf(r.b.KindPos, "unknown block kind %s", r.b.Kind)
		}
	}
}

// constIndex returns the index of constant v in the pool, adding it.
func (c *checker) constIndex(v ir.Value) int32 {
	key := strconv.Itoa(int(v.Type)) + ":" + v.String()
	if i, ok := c.consts[key]; ok {
		return i
	}
	i := int32(len(c.prog.Consts))
	c.prog.Consts = append(c.prog.Consts, v)
	c.consts[key] = i
	return i
}

// pathIndex returns the index of path p, adding it.
func (c *checker) pathIndex(p ir.Path) int32 {
	key := p.String()
	if i, ok := c.paths[key]; ok {
		return i
	}
	i := int32(len(c.prog.Paths))
	p.Steps = append([]ir.Step(nil), p.Steps...)
	c.prog.Paths = append(c.prog.Paths, p)
	c.paths[key] = i
	return i
}

// addNode appends a node whose operands are earlier nodes; -1 (and an
// error) when it would be deeper than the evaluator allows.
func (c *checker) addNode(n ir.Node, pos syntax.Pos) int32 {
	d := int32(0)
	var buf [2]int32
	for _, r := range n.Operands(buf[:0]) {
		d = max(d, c.depth[r])
	}
	if d+1 > ir.MaxDepth {
		c.errorf(pos, "expression nested too deeply (more than %d levels)", ir.MaxDepth)
		return -1
	}
	n.Pos = c.pos(pos)
	c.prog.Nodes = append(c.prog.Nodes, n)
	c.depth = append(c.depth, d+1)
	return int32(len(c.prog.Nodes) - 1)
}

// parseFieldPath parses a field rule's or policy's field name: a
// top-level span field, then .member steps (data.total).
func parseFieldPath(name string) (ir.Path, string) {
	if name == "" {
		return ir.Path{}, "empty field name"
	}
	parts := strings.Split(name, ".")
	f, ok := ir.LookupSpanField(parts[0])
	switch {
	case !ok:
		return ir.Path{}, fmt.Sprintf("%q is not a span field (fields: %s; a member of data is \"data.%s\")", parts[0], spanFieldList(), parts[0])
	case f.Server:
		return ir.Path{}, fmt.Sprintf("%q is assigned by the server when the span is appended; programs never see it", parts[0])
	}
	p := ir.Path{Field: parts[0]}
	for _, s := range parts[1:] {
		if s == "" {
			return ir.Path{}, fmt.Sprintf("field name %q has an empty member", name)
		}
		p.Steps = append(p.Steps, ir.Step{Key: s, Index: -1})
	}
	if len(p.Steps) > 0 && f.Type != ir.TMap {
		return ir.Path{}, fmt.Sprintf("%s is a %s; it has no members", f.Name, f.Type)
	}
	return p, ""
}

func spanFieldList() string {
	var names []string
	for _, f := range ir.SpanFields() {
		if !f.Server {
			names = append(names, f.Name)
		}
	}
	return strings.Join(names, ", ")
}

// validEntityType reports whether s is an entity type name as spans
// write it ([a-z0-9_.:-]{1,64}).
func validEntityType(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}
