package syntax

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Dump writes the tree under n, one node per line, indented by depth:
// the node's kind, its values and its extent (line:col-line:col). The
// golden parse tests compare it; it is meant for people and tests, not
// as a stable interchange format.
func Dump(w io.Writer, n Node) {
	d := &dumper{w: w}
	d.node("", n)
}

// DumpString is Dump into a string.
func DumpString(n Node) string {
	var b strings.Builder
	Dump(&b, n)
	return b.String()
}

type dumper struct {
	w     io.Writer
	depth int
}

func (d *dumper) line(label, text string, n Node) {
	fmt.Fprintf(d.w, "%s%s%s %s-%s\n", strings.Repeat("  ", d.depth), label, text, n.Pos(), n.End())
}

func (d *dumper) node(label string, n Node) {
	if label != "" {
		label += ": "
	}
	switch n := n.(type) {
	case *File:
		fmt.Fprintf(d.w, "%sFile %q (%d blocks, %d comments)\n", strings.Repeat("  ", d.depth), n.Name, len(n.Blocks), len(n.Comments))
		d.depth++
		for _, b := range n.Blocks {
			d.node("", b)
		}
		d.depth--
	case *Block:
		name := "?"
		if n.Name != nil {
			name = n.Name.Name
		}
		d.line(label, "Block "+string(n.Kind)+" "+name, n)
		d.depth++
		for _, it := range n.Items {
			d.node("", it)
		}
		d.depth--
	case *Entry:
		d.line(label, "Entry "+n.Key.Name, n)
		d.child("Value", n.Value)
	case *FieldRule:
		kw := "allow"
		if n.Required {
			kw = "require"
		}
		text := "FieldRule " + kw + " " + n.Field.Raw
		if n.As != nil {
			text += " as " + n.As.Raw
		}
		d.line(label, text, n)
	case *Require:
		d.line(label, "Require", n)
		d.child("Cond", n.Cond)
	case *When:
		d.line(label, "When", n)
		d.child("Cond", n.Cond)
	case *Derive:
		d.line(label, "Derive "+n.Type.Raw, n)
		d.child("On", n.On)
	case *Emit:
		d.line(label, "Emit "+n.Type.Raw, n)
		if n.With != nil {
			d.child("With", n.With)
		}
	case *OnFail:
		d.line(label, "OnFail "+n.Action.Raw, n)
	case *Route:
		d.line(label, "Route "+n.Target.Raw, n)
		if n.When != nil {
			d.child("When", n.When)
		}
	case *Ident:
		d.line(label, "Ident "+n.Name, n)
	case *StringLit:
		text := "String " + n.Raw
		if q := strconv.Quote(n.Value); q != n.Raw {
			text += " = " + q
		}
		d.line(label, text, n)
	case *NumberLit:
		d.line(label, "Number "+n.Raw+" = "+strconv.FormatFloat(n.Value, 'g', -1, 64), n)
	case *DurationLit:
		d.line(label, "Duration "+n.Raw+" = "+strconv.FormatInt(n.Nanos, 10)+"ns", n)
	case *BoolLit:
		d.line(label, "Bool "+strconv.FormatBool(n.Value), n)
	case *NullLit:
		d.line(label, "Null", n)
	case *ListLit:
		d.line(label, "List", n)
		for _, e := range n.Elems {
			d.child("", e)
		}
	case *MapLit:
		d.line(label, "Map", n)
		for _, e := range n.Entries {
			d.child("", e)
		}
	case *MapEntry:
		d.line(label, "MapEntry", n)
		d.child("Key", n.Key)
		d.child("Value", n.Value)
	case *Unary:
		op := string(n.Op)
		if n.Op == OpNeg {
			op = "-"
		}
		d.line(label, "Unary "+op, n)
		d.child("", n.X)
	case *Binary:
		d.line(label, "Binary "+string(n.Op), n)
		d.child("X", n.X)
		d.child("Y", n.Y)
	case *Selector:
		d.line(label, "Selector ."+n.Name.Name, n)
		d.child("X", n.X)
	case *Index:
		d.line(label, "Index", n)
		d.child("X", n.X)
		d.child("Index", n.Index)
	case *Call:
		d.line(label, "Call", n)
		d.child("Fun", n.Fun)
		for _, a := range n.Args {
			d.child("Arg", a)
		}
	case *Paren:
		d.line(label, "Paren", n)
		d.child("", n.X)
	case *Comment:
		d.line(label, "Comment "+strconv.Quote(n.Text), n)
	default:
		fmt.Fprintf(d.w, "%s%s%T\n", strings.Repeat("  ", d.depth), label, n)
	}
}

func (d *dumper) child(label string, n Node) {
	d.depth++
	d.node(label, n)
	d.depth--
}
