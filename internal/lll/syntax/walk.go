package syntax

// Inspect calls f for n and, while f returns true, for each node under
// n in source order (blocks, items, expressions; not comments). A nil n
// is ignored.
func Inspect(n Node, f func(Node) bool) {
	if n == nil || !f(n) {
		return
	}
	switch n := n.(type) {
	case *File:
		for _, b := range n.Blocks {
			Inspect(b, f)
		}
	case *Block:
		if n.Name != nil {
			Inspect(n.Name, f)
		}
		for _, it := range n.Items {
			Inspect(it, f)
		}
	case *Entry:
		Inspect(n.Key, f)
		inspectExpr(n.Value, f)
	case *FieldRule:
		Inspect(n.Field, f)
		if n.As != nil {
			Inspect(n.As, f)
		}
	case *Require:
		inspectExpr(n.Cond, f)
	case *When:
		inspectExpr(n.Cond, f)
	case *Derive:
		Inspect(n.Type, f)
		inspectExpr(n.On, f)
	case *Emit:
		Inspect(n.Type, f)
		inspectExpr(n.With, f)
	case *OnFail:
		Inspect(n.Action, f)
	case *Route:
		Inspect(n.Target, f)
		inspectExpr(n.When, f)
	case *ListLit:
		for _, e := range n.Elems {
			inspectExpr(e, f)
		}
	case *MapLit:
		for _, e := range n.Entries {
			Inspect(e, f)
		}
	case *MapEntry:
		inspectExpr(n.Key, f)
		inspectExpr(n.Value, f)
	case *Unary:
		inspectExpr(n.X, f)
	case *Binary:
		inspectExpr(n.X, f)
		inspectExpr(n.Y, f)
	case *Selector:
		inspectExpr(n.X, f)
		Inspect(n.Name, f)
	case *Index:
		inspectExpr(n.X, f)
		inspectExpr(n.Index, f)
	case *Call:
		inspectExpr(n.Fun, f)
		for _, a := range n.Args {
			inspectExpr(a, f)
		}
	case *Paren:
		inspectExpr(n.X, f)
	}
}

// inspectExpr is Inspect for an Expr that may be a nil interface.
func inspectExpr(x Expr, f func(Node) bool) {
	if x != nil {
		Inspect(x, f)
	}
}
