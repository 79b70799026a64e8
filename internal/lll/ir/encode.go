package ir

import (
	"encoding/binary"
	"math"
)

// Magic and Version open every encoded program.
const (
	Magic = "LLIR"
	// Version 2 added validators' `require EXPR` conditions; version 3
	// metric alarms (Alarm.Metric, Alarm.For).
	Version = 3
)

// Encode writes p in the binary form doc.go describes. The same Program
// always gives the same bytes. Encode does not validate p; Decode does.
func Encode(p *Program) []byte {
	e := encoder{b: make([]byte, 0, 256+64*len(p.Nodes))}
	e.b = append(e.b, Magic...)
	e.b = append(e.b, Version)
	e.uvarint(uint64(len(p.Files)))
	for _, f := range p.Files {
		e.str(f)
	}
	e.uvarint(uint64(len(p.Consts)))
	for _, v := range p.Consts {
		e.value(v)
	}
	e.uvarint(uint64(len(p.Paths)))
	for _, pa := range p.Paths {
		e.path(pa)
	}
	e.uvarint(uint64(len(p.Nodes)))
	for i := range p.Nodes {
		n := &p.Nodes[i]
		e.b = append(e.b, byte(n.Op), byte(n.Type))
		e.varint(int64(n.A))
		e.varint(int64(n.B))
		e.refs(n.Args)
		e.pos(n.Pos)
	}
	e.uvarint(uint64(len(p.Policies)))
	for i := range p.Policies {
		pol := &p.Policies[i]
		e.str(pol.Name)
		e.bool(pol.Known)
		e.uvarint(uint64(len(pol.Entries)))
		for _, en := range pol.Entries {
			e.str(en.Key)
			e.value(en.Value)
			e.bool(en.Default)
			e.pos(en.Pos)
		}
		e.pos(pol.Pos)
	}
	e.uvarint(uint64(len(p.Validators)))
	for i := range p.Validators {
		v := &p.Validators[i]
		e.str(v.Name)
		e.str(v.Description)
		e.strs(v.Input)
		e.conds(v.When)
		e.rules(v.Rules)
		e.conds(v.Requires)
		e.b = append(e.b, byte(v.OnFail))
		e.uvarint(uint64(len(v.Emits)))
		for _, em := range v.Emits {
			e.str(em.Type)
			e.varint(int64(em.With))
			e.pos(em.Pos)
		}
		e.pos(v.Pos)
	}
	e.uvarint(uint64(len(p.Routers)))
	for i := range p.Routers {
		r := &p.Routers[i]
		e.str(r.Name)
		e.str(r.Description)
		e.strs(r.Input)
		e.conds(r.When)
		e.uvarint(uint64(len(r.Routes)))
		for _, rt := range r.Routes {
			e.str(rt.Target)
			e.varint(int64(rt.When))
			e.pos(rt.Pos)
		}
		e.pos(r.Pos)
	}
	e.uvarint(uint64(len(p.Pipelines)))
	for i := range p.Pipelines {
		pl := &p.Pipelines[i]
		e.str(pl.Name)
		e.str(pl.Description)
		e.strs(pl.Input)
		e.str(pl.PolicyRef)
		e.conds(pl.When)
		e.uvarint(uint64(len(pl.Derives)))
		for _, d := range pl.Derives {
			e.str(d.Type)
			e.varint(int64(d.Builtin))
			e.refs(d.Args)
			e.pos(d.Pos)
		}
		e.pos(pl.Pos)
	}
	e.uvarint(uint64(len(p.Schemas)))
	for i := range p.Schemas {
		s := &p.Schemas[i]
		e.str(s.Name)
		e.str(s.Description)
		e.str(s.EntityType)
		e.rules(s.Fields)
		e.pos(s.Pos)
	}
	e.uvarint(uint64(len(p.Alarms)))
	for i := range p.Alarms {
		a := &p.Alarms[i]
		e.str(a.Name)
		e.str(a.Description)
		e.strs(a.Input)
		e.b = append(e.b, byte(a.Severity))
		e.str(a.Message)
		e.conds(a.When)
		e.bool(a.Metric)
		e.varint(a.For)
		e.pos(a.Pos)
	}
	return e.b
}

type encoder struct{ b []byte }

func (e *encoder) uvarint(u uint64) { e.b = binary.AppendUvarint(e.b, u) }
func (e *encoder) varint(i int64)   { e.b = binary.AppendVarint(e.b, i) }

func (e *encoder) bool(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}

func (e *encoder) str(s string) {
	e.uvarint(uint64(len(s)))
	e.b = append(e.b, s...)
}

func (e *encoder) strs(ss []string) {
	e.uvarint(uint64(len(ss)))
	for _, s := range ss {
		e.str(s)
	}
}

func (e *encoder) refs(rs []int32) {
	e.uvarint(uint64(len(rs)))
	for _, r := range rs {
		e.varint(int64(r))
	}
}

func (e *encoder) pos(p Pos) {
	e.varint(int64(p.File))
	e.varint(int64(p.Line))
	e.varint(int64(p.Col))
}

func (e *encoder) value(v Value) {
	e.b = append(e.b, byte(v.Type))
	switch v.Type {
	case TBool:
		e.bool(v.Bool)
	case TNumber, TPercentile:
		e.b = binary.BigEndian.AppendUint64(e.b, math.Float64bits(v.Num))
	case TString:
		e.str(v.Str)
	case TDuration:
		e.varint(v.Int)
	case TTime:
		e.varint(v.Int)
		e.varint(int64(v.Nsec))
	case TList:
		e.uvarint(uint64(len(v.Elems)))
		for _, x := range v.Elems {
			e.value(x)
		}
	case TMap:
		e.uvarint(uint64(len(v.Keys)))
		for i, k := range v.Keys {
			e.str(k)
			if i < len(v.Elems) {
				e.value(v.Elems[i])
			} else {
				e.value(Null())
			}
		}
	}
}

func (e *encoder) path(p Path) {
	e.str(p.Field)
	e.uvarint(uint64(len(p.Steps)))
	for _, s := range p.Steps {
		if s.Index >= 0 {
			e.b = append(e.b, 1)
			e.varint(int64(s.Index))
		} else {
			e.b = append(e.b, 0)
			e.str(s.Key)
		}
	}
}

func (e *encoder) conds(cs []Cond) {
	e.uvarint(uint64(len(cs)))
	for _, c := range cs {
		e.varint(int64(c.Node))
		e.str(c.Text)
		e.pos(c.Pos)
	}
}

func (e *encoder) rules(rs []FieldRule) {
	e.uvarint(uint64(len(rs)))
	for _, r := range rs {
		e.bool(r.Required)
		e.varint(int64(r.Path))
		e.b = append(e.b, byte(r.Type))
		e.str(r.Text)
		e.pos(r.Pos)
	}
}
