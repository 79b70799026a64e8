package openapi

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// ErrInvalidSchema is wrapped by Build's errors about Options.Schemas.
var ErrInvalidSchema = errors.New("invalid entity schema")

// EntitySchema is the shape of one entity type, the neutral form of a
// .lll `schema NAME { entity_type: "…" require field … allow field … }`
// block (docs/lll.md). Build turns it into the component schema
// Span_<Name>: the Span schema plus these constraints.
type EntitySchema struct {
	// Name is the schema block's name: 1–64 characters from
	// [A-Za-z0-9_.-] (it becomes part of a component name).
	Name string
	// EntityType is the entity_type the schema describes, required,
	// 1–64 characters from [a-z0-9_.:-]. No two schemas may describe the
	// same entity type.
	EntityType string
	// Description is free text ("" for none).
	Description string
	// Fields are the block's require/allow field statements, in order.
	Fields []Field
}

// Field is one `require field "PATH" [as "TYPE"]` (Required) or
// `allow field "PATH" [as "TYPE"]` statement.
type Field struct {
	// Path is a top-level span member ("who") or a dotted path into an
	// object member ("data.total", "data.customer.id").
	Path string
	// Type is one of string, number, integer, bool, array, object,
	// rfc3339 (a string holding an RFC 3339 time), or "" for any type.
	Type string
	// Required: the member must be present (require field); otherwise
	// it may be absent, but when present it must have Type (allow field).
	Required bool
}

var (
	schemaNameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
	entityTypeRE = regexp.MustCompile(`^[a-z0-9_.:-]{1,64}$`)
)

// fieldTypeSchema maps a .lll field type to a JSON Schema.
func fieldTypeSchema(t string) (m, bool) {
	switch t {
	case "":
		return m{}, true
	case "string", "number", "integer", "array", "object":
		return m{"type", t}, true
	case "bool":
		return m{"type", "boolean"}, true
	case "rfc3339":
		return m{"type", "string", "format", "date-time"}, true
	}
	return nil, false
}

// pathNode is one member of the tree built from dotted paths.
type pathNode struct {
	name     string
	typ      string // the field's type at a leaf ("" inside the tree)
	leaf     bool   // a Field names this member itself
	required bool   // a required Field is at or below this member
	children []*pathNode
}

func (n *pathNode) child(name string) *pathNode {
	for _, c := range n.children {
		if c.name == name {
			return c
		}
	}
	c := &pathNode{name: name}
	n.children = append(n.children, c)
	return c
}

// SchemaError is why Build refuses one of Options.Schemas. It wraps
// ErrInvalidSchema and says which schema (and field) is at fault, so a
// caller holding the source of the schemas (a .lll schema block) can
// point at it.
type SchemaError struct {
	// Schema indexes Options.Schemas.
	Schema int
	// Field indexes that schema's Fields; -1 when the schema itself
	// (its name or entity type) is at fault.
	Field int
	// Msg says what is wrong: "schema order: field \"data.total.cents\": …".
	Msg string
}

func (e *SchemaError) Error() string { return ErrInvalidSchema.Error() + ": " + e.Msg }

// Unwrap makes errors.Is(err, ErrInvalidSchema) hold.
func (e *SchemaError) Unwrap() error { return ErrInvalidSchema }

// CheckSchemas reports the first of ss that Build would refuse, as a
// *SchemaError; nil when Build accepts them all.
func CheckSchemas(ss []EntitySchema) error {
	if err := checkEntitySchemas(ss); err != nil {
		return err
	}
	return nil
}

// checkEntitySchemas validates every schema, and that names and entity
// types are unique.
func checkEntitySchemas(ss []EntitySchema) *SchemaError {
	names, types := map[string]bool{}, map[string]string{}
	for i, s := range ss {
		bad := func(format string, args ...any) *SchemaError {
			return &SchemaError{Schema: i, Field: -1, Msg: fmt.Sprintf(format, args...)}
		}
		if !schemaNameRE.MatchString(s.Name) {
			return bad("name %q: want 1–64 characters from [A-Za-z0-9_.-]", s.Name)
		}
		if names[s.Name] {
			return bad("schema %s is declared twice", s.Name)
		}
		names[s.Name] = true
		if !entityTypeRE.MatchString(s.EntityType) {
			return bad("schema %s: entity_type %q: want 1–64 characters from [a-z0-9_.:-]", s.Name, s.EntityType)
		}
		if other, ok := types[s.EntityType]; ok {
			return bad("schemas %s and %s both describe entity_type %q", other, s.Name, s.EntityType)
		}
		types[s.EntityType] = s.Name
		if _, err := fieldTree(s); err != nil {
			err.Schema = i
			return err
		}
	}
	return nil
}

// fieldTree arranges a schema's fields by path. A path's first member
// must be a span member a client may send, and only object members (data,
// input, output, error, metadata) may be entered; a member given as a
// leaf of another type than object cannot also have members. An error
// names the field (its Schema is left 0 for the caller to set).
func fieldTree(s EntitySchema) (*pathNode, *SchemaError) {
	root := &pathNode{}
	for i, f := range s.Fields {
		bad := func(why string) *SchemaError {
			return &SchemaError{Field: i, Msg: fmt.Sprintf("schema %s: field %q: %s", s.Name, f.Path, why)}
		}
		if _, ok := fieldTypeSchema(f.Type); !ok {
			return nil, bad(fmt.Sprintf("type %q: want string, number, integer, bool, array, object or rfc3339", f.Type))
		}
		if !utf8.ValidString(f.Path) {
			return nil, bad("the path is not valid UTF-8")
		}
		parts := strings.Split(f.Path, ".")
		if slices.Contains(parts, "") {
			return nil, bad("empty member name in the path")
		}
		known, object := isSpanField(parts[0])
		switch {
		case !known:
			return nil, bad(fmt.Sprintf("%q is not a span member a client may send (ARCHITECTURE.md §2)", parts[0]))
		case len(parts) > 1 && !object:
			return nil, bad(fmt.Sprintf("%q is not an object: a path can enter data, input, output, error or metadata only", parts[0]))
		case len(parts) == 1 && object && f.Type != "" && f.Type != "object":
			return nil, bad(fmt.Sprintf("%q is always an object", parts[0]))
		}
		n := root
		for j, p := range parts {
			n = n.child(p)
			if f.Required {
				n.required = true
			}
			if j < len(parts)-1 && n.leaf && n.typ != "" && n.typ != "object" {
				return nil, bad(fmt.Sprintf("%q is declared as %s, so it has no members", strings.Join(parts[:j+1], "."), n.typ))
			}
		}
		if n.leaf && n.typ != f.Type {
			return nil, bad(fmt.Sprintf("declared twice, as %q and %q", n.typ, f.Type))
		}
		if len(n.children) > 0 && f.Type != "" && f.Type != "object" {
			return nil, bad(fmt.Sprintf("has members, so it cannot be of type %s", f.Type))
		}
		n.leaf, n.typ = true, f.Type
	}
	return root, nil
}

// entitySchema is the component Span_<Name>: allOf the Span schema and
// the schema's constraints.
func entitySchema(s EntitySchema) m {
	tree, _ := fieldTree(s) // checked by checkEntitySchemas
	c := objectSchema(tree)
	// The entity type selects this schema: entity_type must name it.
	props := c.props
	props = append(m{"entity_type", m{"const", s.EntityType}}, props...)
	required := append([]string{"entity_type"}, c.required...)
	if s.EntityType == "span" {
		// "span" is also what a span without entity_type is.
		required = required[1:]
	}
	constraint := m{"type", "object"}
	if len(required) > 0 {
		constraint = append(constraint, "required", required)
	}
	constraint = append(constraint, "properties", props)
	out := m{"title", "Span_" + s.Name}
	desc := fmt.Sprintf("A span of entity_type %q, as the .lll schema %s describes it.", s.EntityType, s.Name)
	if s.Description != "" {
		desc = s.Description + "\n\n" + desc
	}
	out = append(out, "description", desc, "allOf", l{schemaRef("Span"), constraint})
	return append(out, "x-logline-schema", s.Name)
}

// objectParts are the properties and required members of one level.
type objectParts struct {
	props    m
	required []string
}

func objectSchema(n *pathNode) objectParts {
	var out objectParts
	for _, c := range n.children {
		if c.required {
			out.required = append(out.required, c.name)
		}
		var s m
		if len(c.children) > 0 {
			sub := objectSchema(c)
			s = m{"type", "object"}
			if len(sub.required) > 0 {
				s = append(s, "required", sub.required)
			}
			s = append(s, "properties", sub.props)
		} else {
			s, _ = fieldTypeSchema(c.typ)
		}
		out.props = append(out.props, c.name, s)
	}
	return out
}

// spanInputSchema is the body of a single-span ingest: a Span, and when
// entity schemas exist exactly one of them for a span of their entity
// types.
func spanInputSchema(ss []EntitySchema) m {
	if len(ss) == 0 {
		return m{"description", "A span (POST /ingest). No entity schemas are loaded: any valid span.", "allOf", l{schemaRef("Span")}}
	}
	alts := l{}
	var types []string
	hasSpan := false
	for _, s := range ss {
		alts = append(alts, schemaRef("Span_"+s.Name))
		types = append(types, s.EntityType)
		hasSpan = hasSpan || s.EntityType == "span"
	}
	// The generic alternative: a span of any other entity type.
	var other m
	if hasSpan {
		// A span without entity_type is of type span, so it must match
		// that schema: properties alone (vacuous when absent) excludes it.
		other = m{"not", m{"properties", m{"entity_type", m{"enum", types}}}}
	} else {
		other = m{"not", m{"required", l{"entity_type"}, "properties", m{"entity_type", m{"enum", types}}}}
	}
	alts = append(alts, m{"title", "Span of another entity type", "allOf", l{schemaRef("Span"), other}})
	return m{
		"description", "A span (POST /ingest). A span whose entity_type has an entity schema must match it (Span_<name>); any other span only the Span schema.",
		"oneOf", alts,
	}
}
