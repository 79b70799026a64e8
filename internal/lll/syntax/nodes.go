package syntax

import "strconv"

// String formats p as "line:col" ("-" when invalid).
func (p Pos) String() string {
	if !p.IsValid() {
		return "-"
	}
	return strconv.Itoa(p.Line) + ":" + strconv.Itoa(p.Col)
}

// add is p moved n bytes to the right on its line.
func (p Pos) add(n int) Pos {
	if !p.IsValid() {
		return p
	}
	return Pos{Offset: p.Offset + n, Line: p.Line, Col: p.Col + n}
}

// Before reports whether p comes before q in the source.
func (p Pos) Before(q Pos) bool { return p.Offset < q.Offset }

// Pos is the start of the file (line 1, column 1).
func (f *File) Pos() Pos { return Pos{Line: 1, Col: 1} }

// End is just past the last byte of the file.
func (f *File) End() Pos { return f.EOF }

// Pos is where the block kind keyword starts.
func (b *Block) Pos() Pos { return b.KindPos }

// End is just past the closing brace (or the last thing parsed when the
// block was not closed).
func (b *Block) End() Pos {
	if b.RBrace.IsValid() {
		return b.RBrace.add(1)
	}
	if n := len(b.Items); n > 0 {
		return b.Items[n-1].End()
	}
	if b.LBrace.IsValid() {
		return b.LBrace.add(1)
	}
	if b.Name != nil {
		return b.Name.End()
	}
	return b.KindPos.add(len(b.Kind))
}

func (e *Entry) Pos() Pos { return e.Key.Pos() }
func (e *Entry) End() Pos { return e.Value.End() }

func (r *FieldRule) Pos() Pos { return r.Keyword }
func (r *FieldRule) End() Pos {
	if r.As != nil {
		return r.As.End()
	}
	return r.Field.End()
}

func (r *Require) Pos() Pos { return r.Keyword }
func (r *Require) End() Pos { return r.Cond.End() }

func (w *When) Pos() Pos { return w.Keyword }
func (w *When) End() Pos { return w.Cond.End() }

func (d *Derive) Pos() Pos { return d.Keyword }
func (d *Derive) End() Pos { return d.On.End() }

func (e *Emit) Pos() Pos { return e.Keyword }
func (e *Emit) End() Pos {
	if e.With != nil {
		return e.With.End()
	}
	return e.Type.End()
}

func (o *OnFail) Pos() Pos { return o.Keyword }
func (o *OnFail) End() Pos { return o.Action.End() }

func (r *Route) Pos() Pos { return r.Keyword }
func (r *Route) End() Pos {
	if r.When != nil {
		return r.When.End()
	}
	return r.Target.End()
}

func (x *Ident) Pos() Pos       { return x.NamePos }
func (x *Ident) End() Pos       { return x.NamePos.add(len(x.Name)) }
func (x *StringLit) Pos() Pos   { return x.ValuePos }
func (x *StringLit) End() Pos   { return x.ValuePos.add(len(x.Raw)) }
func (x *NumberLit) Pos() Pos   { return x.ValuePos }
func (x *NumberLit) End() Pos   { return x.ValuePos.add(len(x.Raw)) }
func (x *DurationLit) Pos() Pos { return x.ValuePos }
func (x *DurationLit) End() Pos { return x.ValuePos.add(len(x.Raw)) }
func (x *BoolLit) Pos() Pos     { return x.ValuePos }
func (x *BoolLit) End() Pos {
	if x.Value {
		return x.ValuePos.add(len("true"))
	}
	return x.ValuePos.add(len("false"))
}
func (x *NullLit) Pos() Pos  { return x.ValuePos }
func (x *NullLit) End() Pos  { return x.ValuePos.add(len("null")) }
func (x *ListLit) Pos() Pos  { return x.LBrack }
func (x *ListLit) End() Pos  { return x.RBrack.add(1) }
func (x *MapLit) Pos() Pos   { return x.LBrace }
func (x *MapLit) End() Pos   { return x.RBrace.add(1) }
func (x *MapEntry) Pos() Pos { return x.Key.Pos() }
func (x *MapEntry) End() Pos { return x.Value.End() }
func (x *Unary) Pos() Pos    { return x.OpPos }
func (x *Unary) End() Pos    { return x.X.End() }
func (x *Binary) Pos() Pos   { return x.X.Pos() }
func (x *Binary) End() Pos   { return x.Y.End() }
func (x *Selector) Pos() Pos { return x.X.Pos() }
func (x *Selector) End() Pos { return x.Name.End() }
func (x *Index) Pos() Pos    { return x.X.Pos() }
func (x *Index) End() Pos    { return x.RBrack.add(1) }
func (x *Call) Pos() Pos     { return x.Fun.Pos() }
func (x *Call) End() Pos     { return x.RParen.add(1) }
func (x *Paren) Pos() Pos    { return x.LParen }
func (x *Paren) End() Pos    { return x.RParen.add(1) }

// Pos is where the # is; End is just past the comment's last byte.
func (c *Comment) Pos() Pos { return c.Hash }
func (c *Comment) End() Pos { return c.Hash.add(len(c.Text)) }

// String is the item's kind as messages name it ("entry", "when", …).
func itemName(it Item) string {
	switch it := it.(type) {
	case *Entry:
		return "entry " + strconv.Quote(it.Key.Name)
	case *FieldRule:
		if it.Required {
			return "require field"
		}
		return "allow field"
	case *Require:
		return "require"
	case *When:
		return "when"
	case *Derive:
		return "derive"
	case *Emit:
		return "emit"
	case *OnFail:
		return "on_fail"
	case *Route:
		return "route"
	}
	return "item"
}
