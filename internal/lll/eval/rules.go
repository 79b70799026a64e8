package eval

import (
	"math"
	"strconv"

	"github.com/logline/logline/internal/lll/ir"
)

// fieldRule checks a require/allow field rule; msg says why it fails.
func (st *state) fieldRule(r *ir.FieldRule) (msg string, ok bool) {
	raw, f, present := st.lookup(r.Path)
	if !present {
		if r.Required {
			return "required field " + strconv.Quote(st.m.prog.Paths[r.Path].String()) + " is missing", false
		}
		return "", true
	}
	if r.Type == ir.FieldAny {
		return "", true
	}
	var v value
	if f != fastNone {
		// A decoded span's string fields; its when is a valid time.
		if r.Type == ir.FieldString || r.Type == ir.FieldRFC3339 && f == fastWhen {
			return "", true
		}
		v = st.fastValue(f, raw)
		if r.Type == ir.FieldRFC3339 && v.k() == kStr {
			if _, _, ok := ir.ParseRFC3339(v.s); ok {
				return "", true
			}
		}
	} else {
		if hasType(raw, r.Type) {
			return "", true
		}
		v, _ = fromJSON(raw)
	}
	return "field " + strconv.Quote(st.m.prog.Paths[r.Path].String()) + " must be " + typeArticle(r.Type) + ", got " + describe(v), false
}

// hasType reports whether the JSON text raw is of field type t.
func hasType(raw string, t ir.FieldType) bool {
	if raw == "" {
		return false
	}
	switch c := raw[0]; t {
	case ir.FieldString:
		return c == '"'
	case ir.FieldNumber, ir.FieldInteger:
		if c != '-' && (c < '0' || c > '9') {
			return false
		}
		f, err := strconv.ParseFloat(raw, 64)
		if err != nil || math.IsInf(f, 0) {
			return false
		}
		return t == ir.FieldNumber || f == math.Trunc(f)
	case ir.FieldBool:
		return raw == "true" || raw == "false"
	case ir.FieldArray:
		return c == '['
	case ir.FieldObject:
		return c == '{'
	case ir.FieldRFC3339:
		if c != '"' {
			return false
		}
		_, _, ok := ir.ParseRFC3339(unquote(raw))
		return ok
	}
	return false
}

func typeArticle(t ir.FieldType) string {
	switch t {
	case ir.FieldString:
		return "a string"
	case ir.FieldNumber:
		return "a number"
	case ir.FieldInteger:
		return "an integer"
	case ir.FieldBool:
		return "a bool"
	case ir.FieldArray:
		return "an array"
	case ir.FieldObject:
		return "an object"
	case ir.FieldRFC3339:
		return "an RFC 3339 time"
	}
	return t.String()
}
