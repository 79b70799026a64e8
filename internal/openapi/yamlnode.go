package openapi

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// m is an ordered YAML mapping written as alternating keys and values:
// m{"type", "object", "required", l{"id"}}. Keys are strings; values are
// anything toNode accepts. Order is kept, so the document is the same
// bytes on every run.
type m []any

// l is a YAML sequence.
type l []any

// toNode converts the document tree to a yaml.Node. Every string is
// tagged !!str, so the encoder quotes the ones that would otherwise read
// as numbers or booleans (status codes "200", enum values "1" and "true").
func toNode(v any) *yaml.Node {
	switch v := v.(type) {
	case *yaml.Node:
		return v
	case m:
		if len(v)%2 != 0 {
			panic(fmt.Sprintf("openapi: mapping with odd length %d", len(v)))
		}
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		for i := 0; i < len(v); i += 2 {
			k, ok := v[i].(string)
			if !ok {
				panic(fmt.Sprintf("openapi: mapping key %v is not a string", v[i]))
			}
			n.Content = append(n.Content, str(k), toNode(v[i+1]))
		}
		return n
	case l:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, e := range v {
			n.Content = append(n.Content, toNode(e))
		}
		return n
	case []string:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, e := range v {
			n.Content = append(n.Content, str(e))
		}
		return n
	case string:
		return str(v)
	case int:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(v)}
	case int64:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(v, 10)}
	case uint64:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatUint(v, 10)}
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(v)}
	case nil:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
	}
	panic(fmt.Sprintf("openapi: cannot encode %T", v))
}

// str is a string scalar; text of several lines is written as a literal
// block.
func str(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	if strings.Contains(s, "\n") {
		n.Style = yaml.LiteralStyle
	}
	return n
}

// ref is a reference to a component: ref("schemas", "Span").
func ref(kind, name string) m { return m{"$ref", "#/components/" + kind + "/" + name} }

// schemaRef is ref("schemas", name).
func schemaRef(name string) m { return ref("schemas", name) }
