package eval

import "strings"

// Lookup returns the JSON text of the member at path (a top-level span
// field, or a dotted path into one: "this", "data.case") of sp, and
// whether it is there. It reads as programs read: the data plane keys
// trajectories and matches exceptions with it.
func Lookup(sp Fields, path string) (string, bool) {
	field, rest, nested := strings.Cut(path, ".")
	v, ok := fieldText(sp, field)
	if !ok {
		return "", false
	}
	for nested {
		var key string
		key, rest, nested = strings.Cut(rest, ".")
		if v, ok = member(v, key); !ok {
			return "", false
		}
	}
	return v, true
}

// StringValue returns the string a JSON value holds: a JSON string
// unquoted, anything else as its JSON text.
func StringValue(raw string) string {
	if len(raw) >= 2 && raw[0] == '"' {
		if strings.IndexByte(raw, '\\') < 0 {
			return raw[1 : len(raw)-1]
		}
		return unquote(raw)
	}
	return raw
}

// Object is a JSON object's members, split once: reading several
// members of one span costs one scan of its text. It does not validate
// what it does not read. The zero Object is empty; Parse reuses its
// memory.
type Object struct {
	keys, vals []string // raw keys (quotes included) and values
}

// ParseObject splits the JSON object raw into its members; false when
// raw is not an object or is malformed where the scan reaches it (a
// member without a value, an unterminated string or container, text
// after the closing brace).
func ParseObject(raw string) (Object, bool) {
	var o Object
	ok := o.Parse(raw)
	return o, ok
}

// Parse is ParseObject into o, reusing its memory.
func (o *Object) Parse(raw string) bool {
	o.keys, o.vals = o.keys[:0], o.vals[:0]
	i := skipWS(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return false
	}
	i = skipWS(raw, i+1)
	if i < len(raw) && raw[i] == '}' {
		return skipWS(raw, i+1) == len(raw)
	}
	for {
		if i >= len(raw) || raw[i] != '"' {
			return false
		}
		k := skipString(raw, i)
		if k < 0 {
			return false
		}
		key := raw[i:k]
		i = skipWS(raw, k)
		if i >= len(raw) || raw[i] != ':' {
			return false
		}
		i = skipWS(raw, i+1)
		j := skipValue(raw, i)
		if j < 0 || j == i {
			return false
		}
		o.keys = append(o.keys, key)
		o.vals = append(o.vals, raw[i:j])
		i = skipWS(raw, j)
		if i >= len(raw) {
			return false
		}
		if raw[i] == '}' {
			return skipWS(raw, i+1) == len(raw)
		}
		if raw[i] != ',' {
			return false
		}
		i = skipWS(raw, i+1)
	}
}

// Len is the number of members; Key(i) and Value(i) are the raw key
// (quotes included) and value text of member i, in source order.
func (o *Object) Len() int           { return len(o.keys) }
func (o *Object) Key(i int) string   { return o.keys[i] }
func (o *Object) Value(i int) string { return o.vals[i] }

// Field returns the JSON text of member name (the first, if repeated).
func (o *Object) Field(name string) ([]byte, bool) {
	v, ok := o.Member(name)
	if !ok {
		return nil, false
	}
	return []byte(v), true
}

// Member is Field without the conversion to bytes.
func (o *Object) Member(name string) (string, bool) {
	for i, k := range o.keys {
		if keyIs(k, name) {
			return o.vals[i], true
		}
	}
	return "", false
}
