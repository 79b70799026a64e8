// Package policyyaml reads YAML policy files (the v8 seed's §17
// "políticas por tenant", docs/lll.md "YAML policy files") as the
// equivalent .lll policy blocks. A YAML policy file is a mapping of
// policy names to mappings of entries:
//
//	trajectory_linker:
//	  key_fields: [this]
//	  window: 24h
//	quality_meter:
//	  weights: {mass: 0.4, persistence: 0.3, verification: 0.3}
//	  min_score: 60
//
// is the same program as
//
//	policy trajectory_linker {
//	  key_fields: ["this"]
//	  window: "24h"
//	}
//
//	policy quality_meter {
//	  weights: {mass: 0.4, persistence: 0.3, verification: 0.3}
//	  min_score: 60
//	}
//
// Parse returns the syntax tree of those blocks, with the YAML file's
// lines and columns, so that the checker's messages and carets point
// into the YAML. YAML strings become strings (a string such as "24h" is
// accepted where a duration is expected, as in .lll), integers and
// floats numbers, true/false booleans, null null, sequences lists and
// mappings maps. What has no .lll equivalent is refused with its
// position: anchors and aliases (and so merge keys), tags other than
// the core schema's, binary scalars, infinities and NaN, non-string
// keys, duplicate keys, and more than one document.
package policyyaml

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/logline/logline/internal/lll/syntax"
)

// IsPolicyFile reports whether name (a path or a base name) is a YAML
// policy file: it ends in .yaml or .yml and is not tenant.yaml, the
// tenant's configuration file that shares its directory.
func IsPolicyFile(name string) bool {
	base := filepath.Base(name)
	if base == "tenant.yaml" || base == "tenant.yml" {
		return false
	}
	ext := filepath.Ext(base)
	return (ext == ".yaml" || ext == ".yml") && len(base) > len(ext)
}

// ParseSource parses one program source by its name: a YAML policy file
// (IsPolicyFile) with Parse, anything else as .lll with syntax.Parse.
func ParseSource(name string, src []byte) (*syntax.File, error) {
	if IsPolicyFile(name) {
		return Parse(name, src)
	}
	return syntax.Parse(name, src)
}

// Parse reads the YAML policy file src (named name in messages) into the
// syntax tree of the equivalent policy blocks. Its errors are a
// syntax.ErrorList, as syntax.Parse's are.
func Parse(name string, src []byte) (*syntax.File, error) {
	c := &converter{name: name, src: src, lines: lineStarts(src)}
	f := &syntax.File{Name: name, EOF: c.eof()}
	if !utf8.Valid(src) {
		c.errs.Add(name, syntax.Pos{}, "not UTF-8 text")
		return nil, c.errs
	}
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var doc yaml.Node
	err := dec.Decode(&doc)
	switch {
	case errors.Is(err, io.EOF):
		return f, nil // an empty file: no policies
	case err != nil:
		c.yamlError(err)
		return nil, c.errs
	}
	var more yaml.Node
	if err := dec.Decode(&more); err == nil {
		c.errorf(&more, "a policy file holds one YAML document; found another")
	} else if !errors.Is(err, io.EOF) {
		c.yamlError(err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return f, c.errs.Err()
		}
		root = root.Content[0]
	}
	switch {
	case root.Kind == yaml.ScalarNode && root.Tag == "!!null":
		// A file of comments only: no policies.
	case root.Kind != yaml.MappingNode:
		c.errorf(root, "a policy file is a mapping of policy names to their entries (name: {key: value, …}); found %s", kindName(root))
	default:
		f.Blocks = c.blocks(root)
	}
	if len(c.errs) > 0 {
		c.errs.Sort()
		return nil, c.errs
	}
	return f, nil
}

type converter struct {
	name  string
	src   []byte
	lines []int // byte offset of the start of each line
	errs  syntax.ErrorList
}

// maxDepth bounds nesting, as the .lll parser does.
const maxDepth = 100

// blocks turns the root mapping into one policy block per key.
func (c *converter) blocks(root *yaml.Node) []*syntax.Block {
	var out []*syntax.Block
	seen := map[string]bool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		name, ok := c.name1(k, "policy name", seen)
		if !ok {
			continue
		}
		if c.aliased(v) {
			continue
		}
		b := &syntax.Block{
			Kind:    syntax.KindPolicy,
			KindPos: c.pos(k),
			Name:    &syntax.Ident{NamePos: c.pos(k), Name: name},
			LBrace:  c.pos(v),
			RBrace:  c.pos(v),
		}
		switch {
		case v.Kind == yaml.ScalarNode && v.Tag == "!!null":
			// `name:` with nothing: a policy with no entries (its defaults).
		case v.Kind != yaml.MappingNode:
			c.errorf(v, "policy %s: its entries are a mapping (key: value); found %s", name, kindName(v))
			continue
		default:
			keys := map[string]bool{}
			for j := 0; j+1 < len(v.Content); j += 2 {
				ek, ev := v.Content[j], v.Content[j+1]
				key, ok := c.name1(ek, "entry key", keys)
				if !ok {
					continue
				}
				val := c.expr(ev, 1)
				if val == nil {
					continue
				}
				b.Items = append(b.Items, &syntax.Entry{Key: &syntax.Ident{NamePos: c.pos(ek), Name: key}, Colon: c.pos(ek), Value: val})
			}
		}
		out = append(out, b)
	}
	return out
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// name1 reads a mapping key that must be an identifier (a policy name or
// an entry key), reporting duplicates.
func (c *converter) name1(k *yaml.Node, what string, seen map[string]bool) (string, bool) {
	if c.aliased(k) {
		return "", false
	}
	if k.Kind != yaml.ScalarNode || (k.Tag != "!!str" && k.Tag != "!!int" && k.Tag != "!!bool" && k.Tag != "!!null") {
		c.errorf(k, "a %s is a plain name; found %s", what, kindName(k))
		return "", false
	}
	name := k.Value
	switch {
	case !identRE.MatchString(name):
		c.errorf(k, "%s %q is not a name: a letter or _, then letters, digits or _", what, name)
		return "", false
	case syntax.IsKeyword(name):
		c.errorf(k, "%s %q is a reserved word of the language", what, name)
		return "", false
	case seen[name]:
		c.errorf(k, "%s %q appears twice", what, name)
		return "", false
	}
	seen[name] = true
	return name, true
}

// expr converts a value.
func (c *converter) expr(n *yaml.Node, depth int) syntax.Expr {
	if c.aliased(n) {
		return nil
	}
	if depth > maxDepth {
		c.errorf(n, "nested deeper than %d levels", maxDepth)
		return nil
	}
	p := c.pos(n)
	switch n.Kind {
	case yaml.SequenceNode:
		l := &syntax.ListLit{LBrack: p, RBrack: p}
		for _, e := range n.Content {
			x := c.expr(e, depth+1)
			if x == nil {
				return nil
			}
			l.Elems = append(l.Elems, x)
		}
		return l
	case yaml.MappingNode:
		m := &syntax.MapLit{LBrace: p, RBrace: p}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if c.aliased(k) {
				return nil
			}
			if k.Kind != yaml.ScalarNode || (k.Tag != "!!str" && k.Tag != "!!int" && k.Tag != "!!bool" && k.Tag != "!!null" && k.Tag != "!!float") {
				c.errorf(k, "a map key is a string; found %s", kindName(k))
				return nil
			}
			if seen[k.Value] {
				c.errorf(k, "map key %q appears twice", k.Value)
				return nil
			}
			seen[k.Value] = true
			var key syntax.Expr
			if identRE.MatchString(k.Value) && !syntax.IsKeyword(k.Value) {
				key = &syntax.Ident{NamePos: c.pos(k), Name: k.Value}
			} else {
				key = c.str(k, k.Value)
			}
			x := c.expr(v, depth+1)
			if x == nil {
				return nil
			}
			m.Entries = append(m.Entries, &syntax.MapEntry{Key: key, Colon: c.pos(k), Value: x})
		}
		return m
	case yaml.ScalarNode:
		return c.scalar(n)
	}
	c.errorf(n, "unexpected %s", kindName(n))
	return nil
}

func (c *converter) scalar(n *yaml.Node) syntax.Expr {
	p := c.pos(n)
	switch n.Tag {
	case "!!str", "!!timestamp":
		return c.str(n, n.Value)
	case "!!null":
		return &syntax.NullLit{ValuePos: p}
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			c.errorf(n, "%v", err)
			return nil
		}
		return &syntax.BoolLit{ValuePos: p, Value: b}
	case "!!int", "!!float":
		var f float64
		if err := n.Decode(&f); err != nil {
			c.errorf(n, "number %s: %v", n.Value, err)
			return nil
		}
		if math.IsInf(f, 0) || math.IsNaN(f) {
			c.errorf(n, "number %s: infinities and NaN are not numbers of the language", n.Value)
			return nil
		}
		neg := f < 0 || (f == 0 && math.Signbit(f))
		lit := &syntax.NumberLit{ValuePos: p, Value: math.Abs(f), Raw: strconv.FormatFloat(math.Abs(f), 'g', -1, 64)}
		if neg {
			// .lll numbers have no sign: -5 is the unary minus of 5.
			lit.ValuePos = c.after(p)
			return &syntax.Unary{OpPos: p, Op: syntax.OpNeg, X: lit}
		}
		return lit
	case "!!binary":
		c.errorf(n, "binary values have no equivalent in the language")
		return nil
	}
	c.errorf(n, "tag %s has no equivalent in the language (plain strings, numbers, booleans, null, lists and maps do)", n.Tag)
	return nil
}

// str is a string literal whose Raw is the .lll spelling of v.
func (c *converter) str(n *yaml.Node, v string) *syntax.StringLit {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // a string always encodes
	return &syntax.StringLit{ValuePos: c.pos(n), Value: v, Raw: strings.TrimSuffix(b.String(), "\n")}
}

// aliased refuses anchors and aliases: a policy file spells every value
// out (no sharing, no merge keys, no exponential expansion).
func (c *converter) aliased(n *yaml.Node) bool {
	switch {
	case n.Kind == yaml.AliasNode:
		c.errorf(n, "aliases (*%s) are not supported in policy files: write the value out", n.Value)
		return true
	case n.Anchor != "":
		c.errorf(n, "anchors (&%s) are not supported in policy files", n.Anchor)
		return true
	}
	return false
}

// pos converts a node's line and column (yaml counts columns in
// characters) to a Pos with a byte offset and a byte column.
func (c *converter) pos(n *yaml.Node) syntax.Pos {
	return c.posAt(n.Line, n.Column)
}

func (c *converter) posAt(line, col int) syntax.Pos {
	if line < 1 || line > len(c.lines) {
		return syntax.Pos{}
	}
	start := c.lines[line-1]
	off := start
	for i := 1; i < col && off < len(c.src) && c.src[off] != '\n'; i++ {
		_, size := utf8.DecodeRune(c.src[off:])
		off += size
	}
	return syntax.Pos{Offset: off, Line: line, Col: off - start + 1}
}

// after is the position one byte after p (past a minus sign).
func (c *converter) after(p syntax.Pos) syntax.Pos {
	if !p.IsValid() {
		return p
	}
	return syntax.Pos{Offset: p.Offset + 1, Line: p.Line, Col: p.Col + 1}
}

func (c *converter) eof() syntax.Pos {
	if len(c.lines) == 0 {
		return syntax.Pos{Line: 1, Col: 1}
	}
	last := c.lines[len(c.lines)-1]
	return syntax.Pos{Offset: len(c.src), Line: len(c.lines), Col: len(c.src) - last + 1}
}

func (c *converter) errorf(n *yaml.Node, format string, args ...any) {
	c.errs.Add(c.name, c.pos(n), fmt.Sprintf(format, args...))
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlError reports a YAML syntax error at its line when the message
// names one.
func (c *converter) yamlError(err error) {
	msg := err.Error()
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		c.errs.Add(c.name, c.posAt(line, 1), "YAML: "+m[2])
		return
	}
	c.errs.Add(c.name, syntax.Pos{}, "YAML: "+strings.TrimPrefix(msg, "yaml: "))
}

func lineStarts(src []byte) []int {
	out := []int{0}
	for i, b := range src {
		if b == '\n' && i+1 < len(src) {
			out = append(out, i+1)
		}
	}
	return out
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.DocumentNode:
		return "a document"
	}
	switch n.Tag {
	case "!!str":
		return fmt.Sprintf("the string %q", n.Value)
	case "!!null":
		return "null"
	}
	return fmt.Sprintf("the value %s", n.Value)
}
