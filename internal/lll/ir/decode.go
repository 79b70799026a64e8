package ir

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// ErrCorrupt is wrapped by every error Decode returns: the bytes are not
// an encoded program this version reads.
var ErrCorrupt = errors.New("ir: not a valid compiled program")

// ErrVersion is wrapped when the bytes are a program of another version.
var ErrVersion = errors.New("ir: unsupported program version")

// maxValueDepth bounds the nesting of constant lists and maps.
const maxValueDepth = 64

// Decode reads a program written by Encode and validates it completely
// (see Validate): indexes in range, operands before their users, known
// operations and types, finite numbers, sorted map keys, no trailing
// bytes, and the canonical encoding (re-encoding gives the same bytes), so
// one program has exactly one encoding. It never panics on any input.
func Decode(data []byte) (*Program, error) {
	if len(data) < len(Magic)+1 || string(data[:len(Magic)]) != Magic {
		return nil, fmt.Errorf("%w: no %s header", ErrCorrupt, Magic)
	}
	if v := data[len(Magic)]; v != Version {
		return nil, fmt.Errorf("%w %d (this build reads %d)", ErrVersion, v, Version)
	}
	d := decoder{b: data, off: len(Magic) + 1}
	p := d.program()
	if d.err != nil {
		return nil, fmt.Errorf("%w: at byte %d: %v", ErrCorrupt, d.off, d.err)
	}
	if d.off != len(data) {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(data)-d.off)
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if !bytes.Equal(Encode(p), data) {
		return nil, fmt.Errorf("%w: not the canonical encoding", ErrCorrupt)
	}
	return p, nil
}

type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf(format, args...)
	}
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	u, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.off += n
	return u
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	i, n := binary.Varint(d.b[d.off:])
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.off += n
	return i
}

func (d *decoder) int32() int32 {
	i := d.varint()
	if i < math.MinInt32 || i > math.MaxInt32 {
		d.fail("integer %d out of range", i)
		return 0
	}
	return int32(i)
}

// count reads a length, at most the bytes left (every element takes at
// least one byte); slices are preallocated for at most 64 elements, so a
// corrupt length never allocates much more than the input's size.
func (d *decoder) count() int {
	u := d.uvarint()
	if d.err == nil && u > uint64(len(d.b)-d.off) {
		d.fail("count %d exceeds the %d bytes left", u, len(d.b)-d.off)
		return 0
	}
	return int(u)
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if d.off >= len(d.b) {
		d.fail("unexpected end")
		return 0
	}
	c := d.b[d.off]
	d.off++
	return c
}

func (d *decoder) bool() bool {
	switch d.byte() {
	case 0:
		return false
	case 1:
		return true
	}
	d.fail("bad bool")
	return false
}

func (d *decoder) str() string {
	n := d.count()
	if d.err != nil {
		return ""
	}
	s := string(d.b[d.off : d.off+n])
	d.off += n
	return s
}

func (d *decoder) strs() []string {
	n := d.count()
	if n == 0 {
		return nil
	}
	out := make([]string, 0, min(n, 64))
	for i := 0; i < n && d.err == nil; i++ {
		out = append(out, d.str())
	}
	return out
}

func (d *decoder) refs() []int32 {
	n := d.count()
	if n == 0 {
		return nil
	}
	out := make([]int32, 0, min(n, 64))
	for i := 0; i < n && d.err == nil; i++ {
		out = append(out, d.int32())
	}
	return out
}

func (d *decoder) pos() Pos {
	return Pos{File: d.int32(), Line: d.int32(), Col: d.int32()}
}

func (d *decoder) value(depth int) Value {
	if depth > maxValueDepth {
		d.fail("constant nested deeper than %d", maxValueDepth)
		return Value{}
	}
	v := Value{Type: Type(d.byte())}
	switch v.Type {
	case TNull:
	case TBool:
		v.Bool = d.bool()
	case TNumber, TPercentile:
		if d.err == nil && len(d.b)-d.off < 8 {
			d.fail("unexpected end")
		}
		if d.err != nil {
			return Value{}
		}
		v.Num = math.Float64frombits(binary.BigEndian.Uint64(d.b[d.off:]))
		d.off += 8
	case TString:
		v.Str = d.str()
	case TDuration:
		v.Int = d.varint()
	case TTime:
		v.Int = d.varint()
		v.Nsec = d.int32()
	case TList:
		n := d.count()
		if n > 0 {
			v.Elems = make([]Value, 0, min(n, 64))
		}
		for i := 0; i < n && d.err == nil; i++ {
			v.Elems = append(v.Elems, d.value(depth+1))
		}
	case TMap:
		n := d.count()
		if n > 0 {
			v.Keys = make([]string, 0, min(n, 64))
			v.Elems = make([]Value, 0, min(n, 64))
		}
		for i := 0; i < n && d.err == nil; i++ {
			v.Keys = append(v.Keys, d.str())
			v.Elems = append(v.Elems, d.value(depth+1))
		}
	default:
		d.fail("bad constant type %d", v.Type)
	}
	return v
}

func (d *decoder) path() Path {
	p := Path{Field: d.str()}
	n := d.count()
	if n > 0 {
		p.Steps = make([]Step, 0, min(n, 64))
	}
	for i := 0; i < n && d.err == nil; i++ {
		switch d.byte() {
		case 0:
			p.Steps = append(p.Steps, Step{Key: d.str(), Index: -1})
		case 1:
			p.Steps = append(p.Steps, Step{Index: d.int32()})
		default:
			d.fail("bad path step")
		}
	}
	return p
}

func (d *decoder) conds() []Cond {
	n := d.count()
	if n == 0 {
		return nil
	}
	out := make([]Cond, 0, min(n, 64))
	for i := 0; i < n && d.err == nil; i++ {
		out = append(out, Cond{Node: d.int32(), Text: d.str(), Pos: d.pos()})
	}
	return out
}

func (d *decoder) rules() []FieldRule {
	n := d.count()
	if n == 0 {
		return nil
	}
	out := make([]FieldRule, 0, min(n, 64))
	for i := 0; i < n && d.err == nil; i++ {
		out = append(out, FieldRule{Required: d.bool(), Path: d.int32(), Type: FieldType(d.byte()), Text: d.str(), Pos: d.pos()})
	}
	return out
}

// each reads a count and calls fn that many times (stopping at an error).
func (d *decoder) each(fn func()) int {
	n := d.count()
	for i := 0; i < n && d.err == nil; i++ {
		fn()
	}
	return n
}

func (d *decoder) program() *Program {
	p := &Program{}
	p.Files = d.strs()
	d.each(func() { p.Consts = append(p.Consts, d.value(0)) })
	d.each(func() { p.Paths = append(p.Paths, d.path()) })
	d.each(func() {
		n := Node{Op: Op(d.byte()), Type: Type(d.byte())}
		n.A = d.int32()
		n.B = d.int32()
		n.Args = d.refs()
		n.Pos = d.pos()
		p.Nodes = append(p.Nodes, n)
	})
	d.each(func() {
		pol := Policy{Name: d.str(), Known: d.bool()}
		d.each(func() {
			pol.Entries = append(pol.Entries, Entry{Key: d.str(), Value: d.value(0), Default: d.bool(), Pos: d.pos()})
		})
		pol.Pos = d.pos()
		p.Policies = append(p.Policies, pol)
	})
	d.each(func() {
		v := Validator{Name: d.str(), Description: d.str(), Input: d.strs(), When: d.conds(), Rules: d.rules(), Requires: d.conds(), OnFail: Action(d.byte())}
		d.each(func() { v.Emits = append(v.Emits, Emit{Type: d.str(), With: d.int32(), Pos: d.pos()}) })
		v.Pos = d.pos()
		p.Validators = append(p.Validators, v)
	})
	d.each(func() {
		r := Router{Name: d.str(), Description: d.str(), Input: d.strs(), When: d.conds()}
		d.each(func() { r.Routes = append(r.Routes, Route{Target: d.str(), When: d.int32(), Pos: d.pos()}) })
		r.Pos = d.pos()
		p.Routers = append(p.Routers, r)
	})
	d.each(func() {
		pl := Pipeline{Name: d.str(), Description: d.str(), Input: d.strs(), PolicyRef: d.str(), When: d.conds()}
		d.each(func() {
			pl.Derives = append(pl.Derives, Derive{Type: d.str(), Builtin: Builtin(d.int32()), Args: d.refs(), Pos: d.pos()})
		})
		pl.Pos = d.pos()
		p.Pipelines = append(p.Pipelines, pl)
	})
	d.each(func() {
		p.Schemas = append(p.Schemas, Schema{Name: d.str(), Description: d.str(), EntityType: d.str(), Fields: d.rules(), Pos: d.pos()})
	})
	d.each(func() {
		a := Alarm{Name: d.str(), Description: d.str(), Input: d.strs(), Severity: Severity(d.byte()), Message: d.str(), When: d.conds()}
		a.Metric = d.bool()
		a.For = d.varint()
		a.Pos = d.pos()
		p.Alarms = append(p.Alarms, a)
	})
	return p
}
