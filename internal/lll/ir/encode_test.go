package ir_test

import (
	"bytes"
	"errors"
	"math"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/logline/logline/internal/lll/check"
	"github.com/logline/logline/internal/lll/ir"
	"github.com/logline/logline/internal/lll/syntax"
)

func sample(t testing.TB) *ir.Program {
	t.Helper()
	src, err := os.ReadFile("testdata/sample.lll")
	if err != nil {
		t.Fatal(err)
	}
	f, err := syntax.Parse("sample.lll", src)
	if err != nil {
		t.Fatal(syntax.FormatErrors(err, src))
	}
	p, err := check.Check([]*syntax.File{f}, check.Options{})
	if err != nil {
		t.Fatal(syntax.FormatErrors(err, src))
	}
	return p
}

func TestEncodeDeterministicAndRoundTrip(t *testing.T) {
	p1, p2 := sample(t), sample(t)
	b1, b2 := ir.Encode(p1), ir.Encode(p2)
	if !bytes.Equal(b1, b2) {
		t.Fatal("the same source compiled twice encodes differently")
	}
	if !bytes.HasPrefix(b1, []byte(ir.Magic+"\x03")) {
		t.Fatalf("encoding starts %q", b1[:5])
	}
	d, err := ir.Decode(b1)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(p1, d, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Decode(Encode(p)) differs (-want +got):\n%s", diff)
	}
	if !bytes.Equal(ir.Encode(d), b1) {
		t.Error("re-encoding a decoded program changes its bytes")
	}
	// Typed accessors see the policies.
	if tl := d.TrajectoryLinker(); tl.Window.Hours() != 24 || len(tl.Exceptions) != 1 {
		t.Errorf("TrajectoryLinker() = %+v", tl)
	}
	if q := d.QualityMeter(); q.PercentileTarget != 96 || q.Mass != 0.4 || q.MinSamples != 100 {
		t.Errorf("QualityMeter() = %+v", q)
	}
	if d := d.DerivedEventsPerf(); !d.Set || d.MaxPerMinute != 2000 || d.OnOverload != "shed_derived" {
		t.Errorf("DerivedEventsPerf() = %+v", d)
	}
}

func TestDecodeRefusesTruncation(t *testing.T) {
	b := ir.Encode(sample(t))
	for n := 0; n < len(b); n++ {
		if _, err := ir.Decode(b[:n]); err == nil {
			t.Fatalf("Decode accepted the first %d of %d bytes", n, len(b))
		}
	}
	if _, err := ir.Decode(append(append([]byte(nil), b...), 0)); err == nil {
		t.Error("Decode accepted a trailing byte")
	}
}

func TestDecodeRefuses(t *testing.T) {
	good := ir.Encode(sample(t))
	ver := append([]byte(nil), good...)
	for _, v := range []byte{ir.Version - 1, ir.Version + 1} {
		ver[len(ir.Magic)] = v
		if _, err := ir.Decode(ver); !errors.Is(err, ir.ErrVersion) {
			t.Errorf("version %d: got %v, want ErrVersion", v, err)
		}
	}
	if _, err := ir.Decode([]byte("not a program")); !errors.Is(err, ir.ErrCorrupt) {
		t.Errorf("garbage: got %v, want ErrCorrupt", err)
	}
	// Programs that encode but are not well formed.
	base := func() *ir.Program {
		return &ir.Program{
			Files:  []string{"x.lll"},
			Consts: []ir.Value{ir.Number(1), ir.String("k")},
			Paths:  []ir.Path{{Field: "data", Steps: []ir.Step{{Key: "total", Index: -1}}}},
			Nodes: []ir.Node{
				{Op: ir.OpField, A: 0},
				{Op: ir.OpConst, A: 0},
				{Op: ir.OpGt, Type: ir.TBool, A: 0, B: 1},
			},
			Validators: []ir.Validator{{Name: "v", OnFail: ir.ActionReject, When: []ir.Cond{{Node: 2, Text: "data.total > 1"}}}},
		}
	}
	if _, err := ir.Decode(ir.Encode(base())); err != nil {
		t.Fatalf("base program refused: %v", err)
	}
	tests := []struct {
		name   string
		mutate func(p *ir.Program)
	}{
		{"forward operand", func(p *ir.Program) { p.Nodes[2].A = 2 }},
		{"operand out of range", func(p *ir.Program) { p.Nodes[2].B = 9 }},
		{"constant out of range", func(p *ir.Program) { p.Nodes[1].A = 5 }},
		{"unknown op", func(p *ir.Program) { p.Nodes[1].Op = 200 }},
		{"unknown type", func(p *ir.Program) { p.Nodes[1].Type = 99 }},
		{"NaN constant", func(p *ir.Program) { p.Consts[0] = ir.Number(math.NaN()) }},
		{"infinite constant", func(p *ir.Program) { p.Consts[0] = ir.Number(math.Inf(1)) }},
		{"unsorted map", func(p *ir.Program) {
			p.Consts[0] = ir.Map([]string{"b", "a"}, []ir.Value{ir.Null(), ir.Null()})
		}},
		{"server field path", func(p *ir.Program) { p.Paths[0].Field = "log_index" }},
		{"unknown field path", func(p *ir.Program) { p.Paths[0].Field = "nope" }},
		{"condition out of range", func(p *ir.Program) { p.Validators[0].When[0].Node = 3 }},
		{"bad on_fail", func(p *ir.Program) { p.Validators[0].OnFail = 7 }},
		{"duplicate validator", func(p *ir.Program) { p.Validators = append(p.Validators, p.Validators[0]) }},
		{"empty name", func(p *ir.Program) { p.Validators[0].Name = "" }},
		{"bad position", func(p *ir.Program) { p.Nodes[0].Pos = ir.Pos{File: 3, Line: 1, Col: 1} }},
		{"env of a number", func(p *ir.Program) { p.Nodes[1] = ir.Node{Op: ir.OpEnv, A: 0} }},
		{"has as a call", func(p *ir.Program) { p.Nodes[1] = ir.Node{Op: ir.OpCall, A: int32(ir.BuiltinHas), Args: []int32{0}} }},
		{"call arity", func(p *ir.Program) { p.Nodes[1] = ir.Node{Op: ir.OpCall, A: int32(ir.BuiltinLen)} }},
		{"derive on a plain builtin", func(p *ir.Program) {
			p.Pipelines = []ir.Pipeline{{Name: "p", Derives: []ir.Derive{{Type: "x", Builtin: ir.BuiltinLen, Args: []int32{0}}}}}
		}},
		{"known flag", func(p *ir.Program) { p.Policies = []ir.Policy{{Name: "quality_meter"}} }},
		{"stray fields", func(p *ir.Program) { p.Consts[0].Str = "x" }},
		{"bad feature", func(p *ir.Program) { p.Nodes[1] = ir.Node{Op: ir.OpFeature, A: 9} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := base()
			tt.mutate(p)
			if err := p.Validate(); err == nil {
				t.Error("Validate accepted it")
			}
			if tt.name == "stray fields" {
				return // not representable in the encoding
			}
			if _, err := ir.Decode(ir.Encode(p)); !errors.Is(err, ir.ErrCorrupt) {
				t.Errorf("got %v, want ErrCorrupt", err)
			}
		})
	}
}

func TestDecodeRefusesDeepExpression(t *testing.T) {
	p := &ir.Program{Consts: []ir.Value{ir.Bool(true)}, Nodes: []ir.Node{{Op: ir.OpConst, Type: ir.TBool}}}
	for i := 0; i < ir.MaxDepth; i++ {
		p.Nodes = append(p.Nodes, ir.Node{Op: ir.OpNot, Type: ir.TBool, A: int32(i)})
	}
	if _, err := ir.Decode(ir.Encode(p)); !errors.Is(err, ir.ErrCorrupt) {
		t.Errorf("an expression %d deep: got %v, want ErrCorrupt", ir.MaxDepth+1, err)
	}
	p.Nodes = p.Nodes[:ir.MaxDepth]
	if _, err := ir.Decode(ir.Encode(p)); err != nil {
		t.Errorf("an expression %d deep: %v", ir.MaxDepth, err)
	}
}

func TestDecodeRefusesOverlongVarint(t *testing.T) {
	p := &ir.Program{Files: []string{"x"}}
	b := ir.Encode(p)
	// The files count is the byte after the header: 1 as 0x81 0x00.
	odd := append(append(append([]byte(nil), b[:5]...), 0x81, 0x00), b[6:]...)
	if _, err := ir.Decode(odd); err == nil {
		t.Error("Decode accepted an overlong varint")
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(ir.Encode(sample(f)))
	f.Add(ir.Encode(&ir.Program{}))
	f.Add([]byte(ir.Magic + "\x02"))
	f.Add([]byte("LLIR\x02\x01\x05x.lll\x02\x03\x00\x00\x00\x00\x00\x00\xf0?\x04\x01k"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ir.Decode(data)
		if err != nil {
			if !errors.Is(err, ir.ErrCorrupt) && !errors.Is(err, ir.ErrVersion) {
				t.Fatalf("error %v wraps neither ErrCorrupt nor ErrVersion", err)
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("Decode accepted an invalid program: %v", err)
		}
		if !bytes.Equal(ir.Encode(p), data) {
			t.Fatal("Decode accepted a non-canonical encoding")
		}
	})
}
