package check

import (
	"strconv"
	"strings"

	"github.com/logline/logline/internal/lll/syntax"
)

// formatExpr writes e on one line, as written (parentheses kept, one
// space around binary operators): the text that names a `when` rule in
// verdicts.
func formatExpr(e syntax.Expr) string {
	var b strings.Builder
	writeExpr(&b, e)
	return b.String()
}

func writeExpr(b *strings.Builder, e syntax.Expr) {
	switch e := e.(type) {
	case *syntax.Ident:
		b.WriteString(e.Name)
	case *syntax.StringLit:
		b.WriteString(e.Raw)
	case *syntax.NumberLit:
		b.WriteString(e.Raw)
	case *syntax.DurationLit:
		b.WriteString(e.Raw)
	case *syntax.BoolLit:
		b.WriteString(strconv.FormatBool(e.Value))
	case *syntax.NullLit:
		b.WriteString("null")
	case *syntax.ListLit:
		b.WriteByte('[')
		for i, x := range e.Elems {
			if i > 0 {
				b.WriteString(", ")
			}
			writeExpr(b, x)
		}
		b.WriteByte(']')
	case *syntax.MapLit:
		b.WriteByte('{')
		for i, me := range e.Entries {
			if i > 0 {
				b.WriteString(", ")
			}
			writeExpr(b, me.Key)
			b.WriteString(": ")
			writeExpr(b, me.Value)
		}
		b.WriteByte('}')
	case *syntax.Unary:
		if e.Op == syntax.OpNot {
			b.WriteString("not ")
		} else {
			b.WriteByte('-')
		}
		writeExpr(b, e.X)
	case *syntax.Binary:
		writeExpr(b, e.X)
		b.WriteString(" " + string(e.Op) + " ")
		writeExpr(b, e.Y)
	case *syntax.Selector:
		writeExpr(b, e.X)
		b.WriteString("." + e.Name.Name)
	case *syntax.Index:
		writeExpr(b, e.X)
		b.WriteByte('[')
		writeExpr(b, e.Index)
		b.WriteByte(']')
	case *syntax.Call:
		writeExpr(b, e.Fun)
		b.WriteByte('(')
		for i, a := range e.Args {
			if i > 0 {
				b.WriteString(", ")
			}
			writeExpr(b, a)
		}
		b.WriteByte(')')
	case *syntax.Paren:
		b.WriteByte('(')
		writeExpr(b, e.X)
		b.WriteByte(')')
	}
}

// quote writes s as a .lll string literal (JSON escapes).
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte("0123456789abcdef"[r>>4])
			b.WriteByte("0123456789abcdef"[r&0xf])
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
