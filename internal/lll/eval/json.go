package eval

import (
	"encoding/json"
	"strings"
)

// Span members arrive as JSON text (canonical JCS from internal/span, but
// these helpers accept any valid JSON with whitespace). They walk the
// text in place: nothing is decoded until a scalar is needed, and a
// string without escapes is used as it stands. Malformed input never
// panics; it reads as absent.

func isWS(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipWS(s string, i int) int {
	for i < len(s) && isWS(s[i]) {
		i++
	}
	return i
}

// skipString returns the index just past the string starting at s[i]
// (a '"'), or -1. It jumps from quote to quote: a quote preceded by an
// odd run of backslashes is escaped.
func skipString(s string, i int) int {
	i++
	for {
		j := strings.IndexByte(s[i:], '"')
		if j < 0 {
			return -1
		}
		j += i
		bs := 0
		for k := j - 1; k >= i && s[k] == '\\'; k-- {
			bs++
		}
		if bs%2 == 0 {
			return j + 1
		}
		i = j + 1
	}
}

// skipValue returns the index just past the JSON value starting at s[i]
// (after whitespace), or -1. Containers are skipped by counting brackets
// outside strings, without recursion.
func skipValue(s string, i int) int {
	i = skipWS(s, i)
	if i >= len(s) {
		return -1
	}
	switch c := s[i]; c {
	case '"':
		return skipString(s, i)
	case '{', '[':
		depth := 0
		for i < len(s) {
			switch s[i] {
			case '"':
				i = skipString(s, i)
				if i < 0 {
					return -1
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return -1
	default:
		j := i
		for j < len(s) && !isWS(s[j]) && s[j] != ',' && s[j] != '}' && s[j] != ']' {
			j++
		}
		if j == i {
			return -1
		}
		return j
	}
}

// elemIter iterates over the elements of a JSON array or the members of a
// JSON object.
type elemIter struct {
	s   string
	i   int
	key string // the current member's raw key, quotes included (objects)
	val string // the current element or member value
	obj bool
}

func newIter(s string) (elemIter, bool) {
	i := skipWS(s, 0)
	if i >= len(s) || (s[i] != '[' && s[i] != '{') {
		return elemIter{}, false
	}
	return elemIter{s: s, i: i + 1, obj: s[i] == '{'}, true
}

// next moves to the next element; false at the end or on malformed input.
func (it *elemIter) next() bool {
	s := it.s
	i := skipWS(s, it.i)
	if i >= len(s) {
		return false
	}
	if s[i] == ',' {
		i = skipWS(s, i+1)
	} else if s[i] == ']' || s[i] == '}' {
		it.i = len(s)
		return false
	}
	if it.obj {
		if i >= len(s) || s[i] != '"' {
			it.i = len(s)
			return false
		}
		k := skipString(s, i)
		if k < 0 {
			it.i = len(s)
			return false
		}
		it.key = s[i:k]
		i = skipWS(s, k)
		if i >= len(s) || s[i] != ':' {
			it.i = len(s)
			return false
		}
		i++
	}
	i = skipWS(s, i)
	j := skipValue(s, i)
	if j < 0 {
		it.i = len(s)
		return false
	}
	it.val = s[i:j]
	it.i = j
	return true
}

// keyIs reports whether the raw JSON string rawKey (quotes included)
// holds key.
func keyIs(rawKey, key string) bool {
	if len(rawKey) < 2 {
		return false
	}
	inner := rawKey[1 : len(rawKey)-1]
	if strings.IndexByte(inner, '\\') < 0 {
		return inner == key
	}
	return unquote(rawKey) == key
}

// member returns the value of key in the JSON object obj.
func member(obj, key string) (string, bool) {
	it, ok := newIter(obj)
	if !ok || !it.obj {
		return "", false
	}
	for it.next() {
		if keyIs(it.key, key) {
			return it.val, true
		}
	}
	return "", false
}

// element returns element idx of the JSON array arr.
func element(arr string, idx int) (string, bool) {
	it, ok := newIter(arr)
	if !ok || it.obj || idx < 0 {
		return "", false
	}
	for n := 0; it.next(); n++ {
		if n == idx {
			return it.val, true
		}
	}
	return "", false
}

// count returns the number of elements or members of a container.
func count(raw string) int {
	it, ok := newIter(raw)
	if !ok {
		return 0
	}
	n := 0
	for it.next() {
		n++
	}
	return n
}

// unquote decodes the raw JSON string s (quotes included); "" when it is
// not one.
func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' && strings.IndexByte(s, '\\') < 0 {
		return s[1 : len(s)-1]
	}
	var out string
	if json.Unmarshal([]byte(s), &out) != nil {
		return ""
	}
	return out
}
