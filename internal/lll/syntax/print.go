package syntax

import (
	"sort"
	"strings"
	"unicode/utf8"
)

// MaxWidth is the column up to which `logline fmt` keeps a list or a map
// on one line.
const MaxWidth = 80

// indentUnit is one level of indentation.
const indentUnit = "  "

// FormatSource parses src and returns it in the canonical layout. A
// source with syntax errors is not formatted: the error is Parse's
// ErrorList.
func FormatSource(filename string, src []byte) ([]byte, error) {
	f, err := Parse(filename, src)
	if err != nil {
		return nil, err
	}
	return Format(f), nil
}

// Format prints f in the canonical layout: blocks separated by one
// blank line, two-space indentation, one item per line, `key: value`,
// lists and maps on one line when they fit in MaxWidth columns and one
// element per line (with trailing commas) otherwise, single spaces
// around operators, literals as written, parentheses kept. Comments
// stay: a comment on a line of its own before the item or block that
// follows it, a comment after code at the end of that line, comments
// before a '}' inside the block; a comment inside an item's expression
// (outside a list or map printed one element per line) moves to a line
// of its own before the item. Blank lines between items are kept, at
// most one. Format(Parse(Format(f))) == Format(f).
func Format(f *File) []byte {
	p := &printer{comments: f.Comments, used: make([]bool, len(f.Comments))}
	p.file(f)
	out := p.out.String()
	if out != "" && !strings.HasSuffix(out, "\n") {
		out += "\n"
	}
	return []byte(out)
}

type printer struct {
	out      strings.Builder
	comments []*Comment
	used     []bool // comments already printed
	lastLine int    // source line of the last thing printed; 0 at the start

	// noPlace is set while printing an item with a comment that no list
	// or map can place: all its comments then go before it, so that they
	// stay in source order.
	noPlace bool
}

// --- comments ---

// commentsIn returns the indexes of the unprinted comments whose # lies
// in [from, to) (byte offsets).
func (p *printer) commentsIn(from, to int) []int {
	i := sort.Search(len(p.comments), func(i int) bool { return p.comments[i].Hash.Offset >= from })
	var idx []int
	for ; i < len(p.comments) && p.comments[i].Hash.Offset < to; i++ {
		if !p.used[i] {
			idx = append(idx, i)
		}
	}
	return idx
}

// placeable is commentsIn, or nothing while noPlace is set.
func (p *printer) placeable(from, to int) []int {
	if p.noPlace {
		return nil
	}
	return p.commentsIn(from, to)
}

// trailing returns the unprinted comment that starts on line, at or
// after offset from and before to, or -1.
func (p *printer) trailing(line, from, to int) int {
	for _, i := range p.commentsIn(from, to) {
		if p.comments[i].Hash.Line == line {
			return i
		}
		break
	}
	return -1
}

func commentText(c *Comment) string { return strings.TrimRight(c.Text, " \t\r") }

// ownLine prints comment i on a line of its own at depth, after a blank
// line if the source had one (and blankOK).
func (p *printer) ownLine(i, depth int, blankOK bool) {
	c := p.comments[i]
	if blankOK && p.lastLine > 0 && c.Hash.Line > p.lastLine+1 {
		p.out.WriteByte('\n')
	}
	p.out.WriteString(strings.Repeat(indentUnit, depth))
	p.out.WriteString(commentText(c))
	p.out.WriteByte('\n')
	p.used[i] = true
	p.lastLine = c.Hash.Line
}

// endLine ends the current output line, with the comment that trails
// source line `line` (between offsets from and to) if there is one.
func (p *printer) endLine(line, from, to int) {
	if i := p.trailing(line, from, to); i >= 0 {
		p.out.WriteByte(' ')
		p.out.WriteString(commentText(p.comments[i]))
		p.used[i] = true
	}
	p.out.WriteByte('\n')
}

// --- file and blocks ---

func (p *printer) file(f *File) {
	for bi, b := range f.Blocks {
		if bi > 0 {
			p.out.WriteByte('\n')
		}
		// Comments before the block, and any inside its header.
		lead := p.commentsIn(0, b.LBrace.Offset)
		for j, i := range lead {
			p.ownLine(i, 0, j > 0)
		}
		if len(lead) > 0 && b.KindPos.Line > p.lastLine+1 {
			p.out.WriteByte('\n')
		}
		p.block(b)
	}
	// Comments after the last block (and, should the layout have missed
	// one, any other: no comment is ever dropped).
	for i := range p.comments {
		if !p.used[i] {
			p.ownLine(i, 0, true)
		}
	}
}

func (p *printer) block(b *Block) {
	p.out.WriteString(string(b.Kind))
	p.out.WriteByte(' ')
	if b.Name != nil {
		p.out.WriteString(b.Name.Name)
	}
	p.out.WriteString(" {")
	end := b.RBrace.Offset
	if !b.RBrace.IsValid() {
		end = b.End().Offset
	}
	if len(b.Items) == 0 && len(p.commentsIn(b.LBrace.Offset, end)) == 0 {
		p.out.WriteByte('}')
		p.lastLine = b.RBrace.Line
		p.endLine(b.RBrace.Line, b.RBrace.Offset, b.RBrace.Offset+1<<30)
		return
	}
	firstItem := end
	if len(b.Items) > 0 {
		firstItem = b.Items[0].Pos().Offset
	}
	p.endLine(b.LBrace.Line, b.LBrace.Offset, firstItem)
	p.lastLine = b.LBrace.Line
	blankOK := false // no blank line right after '{'
	for _, it := range b.Items {
		p.item(it, blankOK)
		blankOK = true
	}
	// Comments before the closing brace.
	for _, i := range p.commentsIn(b.LBrace.Offset, end) {
		p.ownLine(i, 1, blankOK)
		blankOK = true
	}
	p.out.WriteByte('}')
	if b.RBrace.IsValid() {
		p.lastLine = b.RBrace.Line
		p.endLine(b.RBrace.Line, b.RBrace.Offset, 1<<62)
	} else {
		p.out.WriteByte('\n')
	}
}

func (p *printer) item(it Item, blankOK bool) {
	start, end := it.Pos(), it.End()
	// Comments on lines of their own before the item.
	for _, i := range p.commentsIn(0, start.Offset) {
		p.ownLine(i, 1, blankOK)
		blankOK = true
	}
	if blankOK && p.lastLine > 0 && start.Line > p.lastLine+1 {
		p.out.WriteByte('\n')
	}
	p.noPlace = p.gapComments(it) < len(p.commentsIn(start.Offset, end.Offset))
	w := &exprWriter{p: p}
	w.WriteString(indentUnit)
	w.item(it)
	p.noPlace = false
	// Comments inside the item that its layout did not place go before
	// it, on lines of their own.
	for _, i := range p.commentsIn(start.Offset, end.Offset) {
		p.out.WriteString(indentUnit)
		p.out.WriteString(commentText(p.comments[i]))
		p.out.WriteByte('\n')
		p.used[i] = true
	}
	p.out.WriteString(w.String())
	p.lastLine = end.Line
	p.endLine(end.Line, end.Offset, 1<<62)
}

// --- items and expressions ---

// exprWriter renders one item; it knows the current column so that
// lists and maps can decide whether they fit on one line.
type exprWriter struct {
	p *printer
	strings.Builder
	depth int // indentation depth of the item's line
}

// col is the current column (0-based, in characters).
func (w *exprWriter) col() int {
	s := w.String()
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return utf8.RuneCountInString(s)
}

func (w *exprWriter) item(it Item) {
	w.depth = 1
	switch it := it.(type) {
	case *Entry:
		w.WriteString(it.Key.Name)
		w.WriteString(": ")
		w.top(it.Value)
	case *FieldRule:
		if it.Required {
			w.WriteString("require field ")
		} else {
			w.WriteString("allow field ")
		}
		w.WriteString(it.Field.Raw)
		if it.As != nil {
			w.WriteString(" as ")
			w.WriteString(it.As.Raw)
		}
	case *Require:
		w.WriteString("require ")
		w.top(it.Cond)
	case *When:
		w.WriteString("when ")
		w.top(it.Cond)
	case *Derive:
		w.WriteString("derive ")
		w.WriteString(it.Type.Raw)
		w.WriteString(" on ")
		w.top(it.On)
	case *Emit:
		w.WriteString("emit ")
		w.WriteString(it.Type.Raw)
		if it.With != nil {
			w.WriteString(" with ")
			w.top(it.With)
		}
	case *OnFail:
		w.WriteString("on_fail ")
		w.WriteString(it.Action.Raw)
	case *Route:
		w.WriteString("route ")
		w.WriteString(it.Target.Raw)
		if it.When != nil {
			w.WriteString(" when ")
			w.top(it.When)
		}
	}
}

// top writes the expression of an item. An `and` or `or` chain too long
// for the line is broken before each operator of the chain, the
// continuation lines indented one level more:
//
//	when percentile(score) >= policy.quality_meter.percentile_target
//	  and score >= policy.quality_meter.min_score
func (w *exprWriter) top(x Expr) {
	b, ok := x.(*Binary)
	if !ok || (b.Op != OpAnd && b.Op != OpOr) ||
		w.col()+utf8.RuneCountInString(oneLine(x)) <= MaxWidth {
		w.expr(x)
		return
	}
	var operands []Expr
	var chain func(x Expr)
	chain = func(x Expr) {
		if c, ok := x.(*Binary); ok && c.Op == b.Op {
			chain(c.X)
			chain(c.Y)
			return
		}
		operands = append(operands, x)
	}
	chain(b)
	for i, o := range operands {
		if i > 0 {
			w.WriteByte('\n')
			w.WriteString(strings.Repeat(indentUnit, w.depth+1))
			w.WriteString(string(b.Op))
			w.WriteByte(' ')
		}
		w.expr(o)
	}
}

func (w *exprWriter) expr(x Node) {
	switch x := x.(type) {
	case *ListLit:
		elems := make([]Node, len(x.Elems))
		for i, e := range x.Elems {
			elems[i] = e
		}
		w.composite("[", "]", false, elems, x.LBrack, x.RBrack)
	case *MapLit:
		elems := make([]Node, len(x.Entries))
		for i, e := range x.Entries {
			elems[i] = e
		}
		w.composite("{", "}", true, elems, x.LBrace, x.RBrace)
	case *MapEntry:
		w.expr(x.Key)
		w.WriteString(": ")
		w.expr(x.Value)
	case *Unary:
		if x.Op == OpNot {
			w.WriteString("not ")
		} else {
			w.WriteString("-")
		}
		w.expr(x.X)
	case *Binary:
		w.expr(x.X)
		w.WriteByte(' ')
		w.WriteString(string(x.Op))
		w.WriteByte(' ')
		w.expr(x.Y)
	case *Selector:
		w.expr(x.X)
		w.WriteString(selectorDot(x.X))
		w.WriteString(x.Name.Name)
	case *Index:
		w.expr(x.X)
		w.WriteByte('[')
		w.expr(x.Index)
		w.WriteByte(']')
	case *Call:
		w.expr(x.Fun)
		w.WriteByte('(')
		for i, a := range x.Args {
			if i > 0 {
				w.WriteString(", ")
			}
			w.expr(a)
		}
		w.WriteByte(')')
	case *Paren:
		w.WriteByte('(')
		w.expr(x.X)
		w.WriteByte(')')
	default:
		w.WriteString(oneLine(x))
	}
}

// composite writes a list or a map: on one line when it holds no
// comment and fits, else one element per line with trailing commas.
func (w *exprWriter) composite(open, close string, spaced bool, elems []Node, lpos, rpos Pos) {
	p := w.p
	if !p.compositePlaced(elems, lpos, rpos) {
		var b strings.Builder
		writeComposite(&b, open, close, spaced, elems)
		if s := b.String(); w.col()+utf8.RuneCountInString(s) <= MaxWidth {
			w.WriteString(s)
			return
		}
	}
	w.WriteString(open)
	w.WriteByte('\n')
	w.depth++
	ind := strings.Repeat(indentUnit, w.depth)
	for i, e := range elems {
		// Comments on lines of their own before the element.
		from := lpos.Offset
		if i > 0 {
			from = elems[i-1].End().Offset
		}
		for _, ci := range p.placeable(from, e.Pos().Offset) {
			w.WriteString(ind)
			w.WriteString(commentText(p.comments[ci]))
			w.WriteByte('\n')
			p.used[ci] = true
		}
		w.WriteString(ind)
		w.expr(e)
		w.WriteByte(',')
		next := rpos.Offset
		if i+1 < len(elems) {
			next = elems[i+1].Pos().Offset
		}
		if ci := p.trailing(e.End().Line, e.End().Offset, next); ci >= 0 && !p.noPlace {
			w.WriteByte(' ')
			w.WriteString(commentText(p.comments[ci]))
			p.used[ci] = true
		}
		w.WriteByte('\n')
	}
	// Comments before the closing bracket.
	from := lpos.Offset
	if len(elems) > 0 {
		from = elems[len(elems)-1].End().Offset
	}
	for _, ci := range p.placeable(from, rpos.Offset) {
		w.WriteString(ind)
		w.WriteString(commentText(p.comments[ci]))
		w.WriteByte('\n')
		p.used[ci] = true
	}
	w.depth--
	w.WriteString(strings.Repeat(indentUnit, w.depth))
	w.WriteString(close)
}

// gapComments counts the comments under n that lists and maps can place:
// between their elements or before their closing bracket.
func (p *printer) gapComments(n Node) int {
	count := 0
	gaps := func(elems []Node, lpos, rpos Pos) {
		from := lpos.Offset
		for _, e := range elems {
			count += len(p.commentsIn(from, e.Pos().Offset))
			from = e.End().Offset
		}
		count += len(p.commentsIn(from, rpos.Offset))
	}
	Inspect(n, func(n Node) bool {
		switch x := n.(type) {
		case *ListLit:
			elems := make([]Node, len(x.Elems))
			for i, e := range x.Elems {
				elems[i] = e
			}
			gaps(elems, x.LBrack, x.RBrack)
		case *MapLit:
			elems := make([]Node, len(x.Entries))
			for i, e := range x.Entries {
				elems[i] = e
			}
			gaps(elems, x.LBrace, x.RBrace)
		}
		return true
	})
	return count
}

// placed reports whether x holds a comment that a list or map printed
// one element per line places (between elements, before the closing
// bracket): such a list or map, and every one around it, cannot be
// printed on one line. Other comments inside an item move before it.
func (p *printer) placed(x Node) bool {
	switch x := x.(type) {
	case *ListLit:
		elems := make([]Node, len(x.Elems))
		for i, e := range x.Elems {
			elems[i] = e
		}
		return p.compositePlaced(elems, x.LBrack, x.RBrack)
	case *MapLit:
		elems := make([]Node, len(x.Entries))
		for i, e := range x.Entries {
			elems[i] = e
		}
		return p.compositePlaced(elems, x.LBrace, x.RBrace)
	case *MapEntry:
		return p.placed(x.Key) || p.placed(x.Value)
	case *Unary:
		return p.placed(x.X)
	case *Binary:
		return p.placed(x.X) || p.placed(x.Y)
	case *Selector:
		return p.placed(x.X)
	case *Index:
		return p.placed(x.X) || p.placed(x.Index)
	case *Call:
		if p.placed(x.Fun) {
			return true
		}
		for _, a := range x.Args {
			if p.placed(a) {
				return true
			}
		}
	case *Paren:
		return p.placed(x.X)
	}
	return false
}

func (p *printer) compositePlaced(elems []Node, lpos, rpos Pos) bool {
	if p.noPlace {
		return false
	}
	from := lpos.Offset
	for _, e := range elems {
		if len(p.commentsIn(from, e.Pos().Offset)) > 0 || p.placed(e) {
			return true
		}
		from = e.End().Offset
	}
	return len(p.commentsIn(from, rpos.Offset)) > 0
}

// writeComposite writes a list or map on one line.
func writeComposite(b *strings.Builder, open, close string, spaced bool, elems []Node) {
	b.WriteString(open)
	if len(elems) == 0 {
		b.WriteString(close)
		return
	}
	if spaced {
		b.WriteByte(' ')
	}
	for i, e := range elems {
		if i > 0 {
			b.WriteString(", ")
		}
		writeOneLine(b, e)
	}
	if spaced {
		b.WriteByte(' ')
	}
	b.WriteString(close)
}

// oneLine renders n on one line, comments ignored.
func oneLine(n Node) string {
	var b strings.Builder
	writeOneLine(&b, n)
	return b.String()
}

func writeOneLine(b *strings.Builder, n Node) {
	switch x := n.(type) {
	case *Ident:
		b.WriteString(x.Name)
	case *StringLit:
		b.WriteString(x.Raw)
	case *NumberLit:
		b.WriteString(x.Raw)
	case *DurationLit:
		b.WriteString(x.Raw)
	case *BoolLit:
		if x.Value {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case *NullLit:
		b.WriteString("null")
	case *ListLit:
		elems := make([]Node, len(x.Elems))
		for i, e := range x.Elems {
			elems[i] = e
		}
		writeComposite(b, "[", "]", false, elems)
	case *MapLit:
		elems := make([]Node, len(x.Entries))
		for i, e := range x.Entries {
			elems[i] = e
		}
		writeComposite(b, "{", "}", true, elems)
	case *MapEntry:
		writeOneLine(b, x.Key)
		b.WriteString(": ")
		writeOneLine(b, x.Value)
	case *Unary:
		if x.Op == OpNot {
			b.WriteString("not ")
		} else {
			b.WriteString("-")
		}
		writeOneLine(b, x.X)
	case *Binary:
		writeOneLine(b, x.X)
		b.WriteByte(' ')
		b.WriteString(string(x.Op))
		b.WriteByte(' ')
		writeOneLine(b, x.Y)
	case *Selector:
		writeOneLine(b, x.X)
		b.WriteString(selectorDot(x.X))
		b.WriteString(x.Name.Name)
	case *Index:
		writeOneLine(b, x.X)
		b.WriteByte('[')
		writeOneLine(b, x.Index)
		b.WriteByte(']')
	case *Call:
		writeOneLine(b, x.Fun)
		b.WriteByte('(')
		for i, a := range x.Args {
			if i > 0 {
				b.WriteString(", ")
			}
			writeOneLine(b, a)
		}
		b.WriteByte(')')
	case *Paren:
		b.WriteByte('(')
		writeOneLine(b, x.X)
		b.WriteByte(')')
	}
}

// selectorDot is what separates a selector's operand from its name: "."
// — or " ." after a number or duration literal, which would otherwise
// read as one malformed number (10.A).
func selectorDot(x Expr) string {
	switch x.(type) {
	case *NumberLit, *DurationLit:
		return " ."
	}
	return "."
}
