package span

import (
	"strconv"
	"unicode/utf8"
)

// Builder assembles a span the server writes itself (the data plane's
// derived spans, alerts, clock spans) from its members, without the JSON
// parse Decode makes of a client's bytes: string members are checked by
// the same field rules as Decode's, object and array members are taken
// as the canonical (JCS) JSON the caller wrote. The result is the Span
// Decode returns for the same members: same canonical form, same
// curr_hash (tests compare the two).
//
// A Builder is reused after Span; it is not safe for concurrent use.
type Builder struct {
	d   decoder
	err error
}

// Reset forgets the members set so far.
func (b *Builder) Reset() {
	buf := b.d.buf[:0]
	b.d = decoder{mode: modeDecode, limits: DefaultLimits, buf: buf, s: new(Span)}
	b.err = nil
}

// String sets the string member name to v (escaped as JCS does), checked
// like Decode checks it: an id's characters, a tenant's, an RFC 3339
// when, a visibility's values.
func (b *Builder) String(name, v string) {
	if b.err != nil {
		return
	}
	f, ok := b.field(name)
	if !ok {
		return
	}
	if !utf8.ValidString(v) {
		b.err = newError(CodeInvalidUTF8, fieldPointer(name), -1, name+": invalid UTF-8")
		return
	}
	off := len(b.d.buf)
	b.d.buf = AppendString(b.d.buf, v)
	b.d.p.lastStr = append(b.d.p.lastStr[:0], v...)
	b.set(f, kindString, off)
}

// Raw sets member name to value, canonical JSON: an object, an array of
// strings, or a number. The caller writes it canonically (members sorted
// as JCS sorts them, numbers as JCS formats them); only its kind is
// checked.
func (b *Builder) Raw(name string, value []byte) {
	if b.err != nil {
		return
	}
	f, ok := b.field(name)
	if !ok {
		return
	}
	k := kindNumber
	if len(value) > 0 {
		switch value[0] {
		case '{':
			k = kindObject
		case '[':
			k = kindArray
		case '"':
			b.err = newError(CodeInvalidField, fieldPointer(name), -1, name+": set strings with Builder.String")
			return
		}
	}
	if k == kindNumber {
		v, err := strconv.ParseFloat(string(value), 64)
		if err != nil {
			b.err = newError(CodeInvalidField, fieldPointer(name), -1, name+": "+quote(value)+" is not canonical JSON")
			return
		}
		b.d.p.lastNum = v
	}
	off := len(b.d.buf)
	b.d.buf = append(b.d.buf, value...)
	b.set(f, k, off)
}

func (b *Builder) field(name string) (fieldID, bool) {
	if b.d.s == nil {
		b.Reset()
	}
	f, ok := lookupFieldString(name)
	switch {
	case !ok:
		b.err = newError(CodeUnknownField, fieldPointer(name), -1, "unknown field "+quote([]byte(name)))
	case fields[f].server || f == fCurrHash || f == fSignature || f == fPublicKey:
		b.err = newError(CodeServerField, fieldPointer(name), -1, name+" is not set by a Builder")
		ok = false
	case b.d.slots[f].present:
		b.err = newError(CodeDuplicateKey, fieldPointer(name), -1, "duplicate key "+quote([]byte(name)))
		ok = false
	}
	return f, ok
}

// set records the value appended at off for f and checks it.
func (b *Builder) set(f fieldID, k kind, off int) {
	d := &b.d
	d.slots[f] = slot{off: int32(off), end: int32(len(d.buf)), pos: -1, present: true}
	if err := d.check(f, k, -1, []byte(fields[f].name), d.buf[off:]); err != nil {
		b.err = err
	}
}

// Span checks the members together (the required ones present) and
// returns the span with its canonical form and curr_hash. The Builder
// can then be Reset and reused; the Span shares nothing with it.
func (b *Builder) Span() (*Span, error) {
	if b.err != nil {
		return nil, b.err
	}
	if b.d.s == nil {
		b.Reset()
	}
	s := b.d.s
	err := b.d.validate()
	if err == nil {
		err = b.d.finish()
	}
	b.d.s = nil // the next member starts a new span
	if err != nil {
		return nil, err
	}
	return s, nil
}
