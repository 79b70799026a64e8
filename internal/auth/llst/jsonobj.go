package llst

import (
	"encoding/json"
	"errors"
)

// This file reads the two JSON objects of a token — the header and the
// payload — with a small exact reader instead of reflection: member names
// are compared byte for byte (no case folding), a member named twice is
// refused, and values are read only as the types an LLST uses (string,
// integer, array of strings). The input is first checked by json.Valid,
// so the reader below only has to walk well-formed JSON; it still checks
// every index, and FuzzJSONObject compares it with encoding/json.

var (
	errNotObject = errors.New("not a JSON object")
	errDuplicate = errors.New("member named twice")
	errType      = errors.New("member of the wrong type")
)

// objReader walks one JSON object.
type objReader struct {
	b []byte
	i int
}

// walkObject calls member for each member of the object in data, with
// the reader positioned at the value; member must consume the value
// (with one of the read methods or skip).
func walkObject(data []byte, member func(name string, r *objReader) error) error {
	if !json.Valid(data) {
		return errNotObject
	}
	r := &objReader{b: data}
	r.ws()
	if !r.eat('{') {
		return errNotObject
	}
	r.ws()
	if r.eat('}') {
		return nil
	}
	for {
		r.ws()
		name, err := r.str()
		if err != nil {
			return errNotObject
		}
		r.ws()
		if !r.eat(':') {
			return errNotObject
		}
		r.ws()
		if err := member(name, r); err != nil {
			return err
		}
		r.ws()
		if r.eat(',') {
			continue
		}
		if r.eat('}') {
			return nil
		}
		return errNotObject
	}
}

func (r *objReader) ws() {
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

func (r *objReader) eat(c byte) bool {
	if r.i < len(r.b) && r.b[r.i] == c {
		r.i++
		return true
	}
	return false
}

func (r *objReader) peek() byte {
	if r.i < len(r.b) {
		return r.b[r.i]
	}
	return 0
}

// str reads a string value.
func (r *objReader) str() (string, error) {
	if !r.eat('"') {
		return "", errType
	}
	start, escaped := r.i, false
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case '\\':
			escaped = true
			r.i += 2
			continue
		case '"':
			raw := r.b[start:r.i]
			r.i++
			if !escaped {
				return string(raw), nil
			}
			var s string
			if err := json.Unmarshal(r.b[start-1:r.i], &s); err != nil {
				return "", errType
			}
			return s, nil
		}
		r.i++
	}
	return "", errNotObject
}

// int reads an integer value: digits with an optional minus sign, no
// fraction or exponent, within int64.
func (r *objReader) int() (int64, error) {
	neg := r.eat('-')
	start := r.i
	var n int64
	for r.i < len(r.b) && r.b[r.i] >= '0' && r.b[r.i] <= '9' {
		d := int64(r.b[r.i] - '0')
		if n > (1<<63-1-d)/10 {
			return 0, errType
		}
		n = n*10 + d
		r.i++
	}
	if r.i == start {
		return 0, errType
	}
	if c := r.peek(); c == '.' || c == 'e' || c == 'E' {
		return 0, errType
	}
	if neg {
		n = -n
	}
	return n, nil
}

// strs reads an array of strings.
func (r *objReader) strs() ([]string, error) {
	if !r.eat('[') {
		return nil, errType
	}
	out := []string{}
	r.ws()
	if r.eat(']') {
		return out, nil
	}
	for {
		r.ws()
		s, err := r.str()
		if err != nil {
			return nil, errType
		}
		out = append(out, s)
		r.ws()
		if r.eat(',') {
			continue
		}
		if r.eat(']') {
			return out, nil
		}
		return nil, errNotObject
	}
}

// skip steps over any value.
func (r *objReader) skip() error {
	switch r.peek() {
	case '"':
		_, err := r.str()
		return err
	case '{', '[':
		depth := 0
		for r.i < len(r.b) {
			switch r.b[r.i] {
			case '"':
				if _, err := r.str(); err != nil {
					return err
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					r.i++
					return nil
				}
			}
			r.i++
		}
		return errNotObject
	default: // number, true, false, null
		start := r.i
		for r.i < len(r.b) {
			switch r.b[r.i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				if r.i == start {
					return errNotObject
				}
				return nil
			}
			r.i++
		}
		return errNotObject
	}
}

// Claim presence bits.
const (
	hasIss = 1 << iota
	hasSub
	hasAud
	hasTenant
	hasRoles
	hasCaps
	hasKind
	hasExp
	hasNbf
	hasIat
	hasJti
)

var claimNames = []string{"iss", "sub", "aud", "tenant", "roles", "caps", "kind", "exp", "nbf", "iat", "jti"}

// payloadClaims is an LLST payload as Verify reads it. Other members are
// skipped, so that a later version may add claims.
type payloadClaims struct {
	iss, sub, tenant, kind, jti string
	aud, roles, caps            []string
	exp, nbf, iat               int64
	have                        int // has* bits
}

// parseClaims reads an LLST payload. An error names the claim.
func parseClaims(data []byte) (payloadClaims, error) {
	var c payloadClaims
	err := walkObject(data, func(name string, r *objReader) error {
		bit := 0
		for i, n := range claimNames {
			if n == name {
				bit = 1 << i
				break
			}
		}
		if bit == 0 {
			return r.skip()
		}
		if c.have&bit != 0 {
			return claimError{name, errDuplicate}
		}
		c.have |= bit
		var err error
		switch bit {
		case hasIss:
			c.iss, err = r.str()
		case hasSub:
			c.sub, err = r.str()
		case hasTenant:
			c.tenant, err = r.str()
		case hasKind:
			c.kind, err = r.str()
		case hasJti:
			c.jti, err = r.str()
		case hasAud:
			if r.peek() == '"' {
				var s string
				s, err = r.str()
				c.aud = []string{s}
			} else {
				c.aud, err = r.strs()
			}
		case hasRoles:
			c.roles, err = r.strs()
		case hasCaps:
			c.caps, err = r.strs()
		case hasExp:
			c.exp, err = r.int()
		case hasNbf:
			c.nbf, err = r.int()
		case hasIat:
			c.iat, err = r.int()
		}
		if err != nil {
			return claimError{name, err}
		}
		return nil
	})
	return c, err
}

// claimError says which claim was wrong.
type claimError struct {
	claim string
	err   error
}

func (e claimError) Error() string { return "claim " + e.claim + ": " + e.err.Error() }
func (e claimError) Unwrap() error { return e.err }
