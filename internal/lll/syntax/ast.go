package syntax

// Pos is a place in a source file: 1-based line and column (the column
// counts bytes of the line, so a caret can be drawn under it) and the
// 0-based byte offset. The zero Pos is "no position".
type Pos struct {
	Offset int
	Line   int
	Col    int
}

// IsValid reports whether p is a real position.
func (p Pos) IsValid() bool { return p.Line > 0 }

// File is one parsed .lll source.
type File struct {
	Name     string // as given to Parse, used in messages
	Blocks   []*Block
	Comments []*Comment // every comment, in source order (the printer keeps them)
	EOF      Pos
}

// BlockKind is the kind of a top-level block.
type BlockKind string

// The block kinds (docs/lll.md, "Blocks").
const (
	KindPolicy    BlockKind = "policy"
	KindValidator BlockKind = "validator"
	KindRouter    BlockKind = "router"
	KindPipeline  BlockKind = "pipeline"
	KindSchema    BlockKind = "schema"
	KindAlarm     BlockKind = "alarm"
)

// Block is `KIND NAME { ITEMS }`.
type Block struct {
	Kind    BlockKind
	KindPos Pos
	Name    *Ident
	LBrace  Pos
	Items   []Item
	RBrace  Pos
}

// Item is an Entry or a statement inside a block.
type Item interface {
	Node
	item()
}

// Node is any syntax tree node.
type Node interface {
	// Pos is where the node starts; End is just past its last byte.
	Pos() Pos
	End() Pos
}

// Entry is `key: value`.
type Entry struct {
	Key   *Ident
	Colon Pos
	Value Expr
}

// FieldRule is `require field "NAME" [as "TYPE"]` (Required) or
// `allow field "NAME" [as "TYPE"]` in validators and schemas.
type FieldRule struct {
	Keyword  Pos // of require/allow
	Required bool
	Field    *StringLit
	As       *StringLit // nil when absent
}

// Require is `require EXPR` in validators: the span must make EXPR true.
type Require struct {
	Keyword Pos
	Cond    Expr
}

// When is `when EXPR`: the block applies only where EXPR is true.
type When struct {
	Keyword Pos
	Cond    Expr
}

// Derive is `derive "TYPE" on EXPR` in pipelines.
type Derive struct {
	Keyword Pos
	Type    *StringLit
	On      Expr
}

// Emit is `emit "TYPE" [with EXPR]`.
type Emit struct {
	Keyword Pos
	Type    *StringLit
	With    Expr // nil when absent
}

// OnFail is `on_fail "ACTION"` in validators.
type OnFail struct {
	Keyword Pos
	Action  *StringLit
}

// Route is `route "TARGET" [when EXPR]` in routers.
type Route struct {
	Keyword Pos
	Target  *StringLit
	When    Expr // nil when absent
}

func (*Entry) item()     {}
func (*FieldRule) item() {}
func (*Require) item()   {}
func (*When) item()      {}
func (*Derive) item()    {}
func (*Emit) item()      {}
func (*OnFail) item()    {}
func (*Route) item()     {}

// Expr is an expression.
type Expr interface {
	Node
	expr()
}

// Ident is a name.
type Ident struct {
	NamePos Pos
	Name    string
}

// StringLit is a string literal; Value is decoded, Raw as written
// (quotes included).
type StringLit struct {
	ValuePos Pos
	Value    string
	Raw      string
}

// NumberLit is a number literal (Raw as written, Value parsed).
type NumberLit struct {
	ValuePos Pos
	Value    float64
	Raw      string
}

// DurationLit is a duration literal such as 24h, 1h30m or 500ms; Nanos
// is its length.
type DurationLit struct {
	ValuePos Pos
	Nanos    int64
	Raw      string
}

// BoolLit is true or false.
type BoolLit struct {
	ValuePos Pos
	Value    bool
}

// NullLit is null.
type NullLit struct {
	ValuePos Pos
}

// ListLit is [a, b, …].
type ListLit struct {
	LBrack Pos
	Elems  []Expr
	RBrack Pos
}

// MapLit is {k: v, …}; keys are identifiers or strings.
type MapLit struct {
	LBrace  Pos
	Entries []*MapEntry
	RBrace  Pos
}

// MapEntry is one `key: value` of a MapLit. Key is an *Ident or a
// *StringLit.
type MapEntry struct {
	Key   Expr
	Colon Pos
	Value Expr
}

// Op is an operator.
type Op string

// Operators, by precedence from low to high: or; and; not; comparisons
// (== != < <= > >= in matches, non-associative); + -; * / %; unary -.
const (
	OpOr      Op = "or"
	OpAnd     Op = "and"
	OpNot     Op = "not"
	OpEq      Op = "=="
	OpNe      Op = "!="
	OpLt      Op = "<"
	OpLe      Op = "<="
	OpGt      Op = ">"
	OpGe      Op = ">="
	OpIn      Op = "in"
	OpMatches Op = "matches" // glob match: "heartbeat-*"
	OpAdd     Op = "+"
	OpSub     Op = "-"
	OpMul     Op = "*"
	OpDiv     Op = "/"
	OpMod     Op = "%"
	OpNeg     Op = "neg" // unary minus (written "-")
)

// Unary is `not X` or `-X`.
type Unary struct {
	OpPos Pos
	Op    Op // OpNot or OpNeg
	X     Expr
}

// Binary is `X op Y`.
type Binary struct {
	X     Expr
	OpPos Pos
	Op    Op
	Y     Expr
}

// Selector is `X.Name`.
type Selector struct {
	X    Expr
	Name *Ident
}

// Index is `X[I]`.
type Index struct {
	X      Expr
	LBrack Pos
	Index  Expr
	RBrack Pos
}

// Call is `Fun(args…)`.
type Call struct {
	Fun    Expr
	LParen Pos
	Args   []Expr
	RParen Pos
}

// Paren is `(X)` (kept so the printer writes what was written).
type Paren struct {
	LParen Pos
	X      Expr
	RParen Pos
}

func (*Ident) expr()       {}
func (*StringLit) expr()   {}
func (*NumberLit) expr()   {}
func (*DurationLit) expr() {}
func (*BoolLit) expr()     {}
func (*NullLit) expr()     {}
func (*ListLit) expr()     {}
func (*MapLit) expr()      {}
func (*Unary) expr()       {}
func (*Binary) expr()      {}
func (*Selector) expr()    {}
func (*Index) expr()       {}
func (*Call) expr()        {}
func (*Paren) expr()       {}

// Comment is `# text` up to the end of its line (Text excludes the
// newline, includes the #).
type Comment struct {
	Hash Pos
	Text string
}
