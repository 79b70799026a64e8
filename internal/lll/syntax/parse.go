package syntax

import (
	"fmt"
	"strconv"
	"strings"
)

// MaxErrors is how many errors one Parse reports before it stops with
// "too many errors".
const MaxErrors = 20

// maxDepth bounds the nesting of expressions, so that no input can make
// the parser recurse without limit.
const maxDepth = 100

// Parse parses one .lll source. filename names it in positions and
// messages. The error, when not nil, is an ErrorList (sorted, at most
// one error per line); the File is returned even then, holding the
// blocks and items that parsed (an item with an error is left out).
func Parse(filename string, src []byte) (*File, error) {
	p := &parser{filename: filename}
	p.sc = newScanner(src, p.scanError)
	f := &File{Name: filename}
	p.file = f
	func() {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(bailout); !ok {
					panic(r)
				}
			}
		}()
		p.next()
		p.parseFile(f)
	}()
	p.errs.RemoveMultiples()
	return f, p.errs.Err()
}

// bailout stops a parse with too many errors; itemError abandons the
// item being parsed (recovered by the block loop, which then skips to
// the next item).
type (
	bailout   struct{}
	itemError struct{}
)

type parser struct {
	filename string
	file     *File
	sc       *scanner
	tok      token   // the current token
	ahead    []token // tokens read past tok (lookahead)
	prevEnd  Pos     // end of the token before tok
	nl       bool    // tok is the first token on its line
	errs     ErrorList
	lastLine int // line of the last error reported (one per line)
	depth    int // expression nesting

	// open lists the brackets opened and not yet closed, so that
	// recovery knows which '}' closes the block.
	open []Token

	// ctx describes where the expression being parsed starts, for
	// "expected a value after window:" messages.
	ctxPos  Pos
	ctxText string
}

func (p *parser) scanError(pos Pos, msg string) { p.errorAt(pos, msg) }

// errorAt records an error; the second error of a line is dropped (most
// often a consequence of the first).
func (p *parser) errorAt(pos Pos, msg string) {
	if len(p.errs) > 0 && pos.Line == p.lastLine {
		return
	}
	p.lastLine = pos.Line
	if len(p.errs) >= MaxErrors {
		p.errs.Add(p.filename, pos, "too many errors")
		panic(bailout{})
	}
	p.errs.Add(p.filename, pos, msg)
}

func (p *parser) errorf(pos Pos, format string, args ...any) {
	p.errorAt(pos, fmt.Sprintf(format, args...))
}

// fail reports an error and abandons the current item.
func (p *parser) fail(pos Pos, format string, args ...any) {
	p.errorf(pos, format, args...)
	panic(itemError{})
}

// scan returns the next non-comment token, collecting comments.
func (p *parser) scan() token {
	for {
		t := p.sc.next()
		if t.tok == COMMENT {
			p.file.Comments = append(p.file.Comments, &Comment{Hash: t.pos, Text: t.raw})
			continue
		}
		return t
	}
}

// next advances to the next token, keeping track of open brackets.
func (p *parser) next() {
	switch p.tok.tok {
	case LBRACE, LBRACK, LPAREN:
		p.open = append(p.open, p.tok.tok)
	case RBRACE, RBRACK, RPAREN:
		p.closeBracket(p.tok.tok)
	}
	p.prevEnd = p.tok.end
	if len(p.ahead) > 0 {
		p.tok = p.ahead[0]
		p.ahead = p.ahead[1:]
	} else {
		p.tok = p.scan()
	}
	p.nl = p.prevEnd.Line == 0 || p.tok.pos.Line > p.prevEnd.Line
	if p.tok.tok == EOF {
		p.file.EOF = p.tok.pos
	}
}

// closeBracket pops the innermost open bracket that closer matches.
func (p *parser) closeBracket(closer Token) {
	var opener Token
	switch closer {
	case RBRACE:
		opener = LBRACE
	case RBRACK:
		opener = LBRACK
	default:
		opener = LPAREN
	}
	for i := len(p.open) - 1; i >= 0; i-- {
		if p.open[i] == opener {
			p.open = p.open[:i]
			return
		}
	}
}

// foundPos is where to report "expected X, found <current token>": at
// the current token, or just after the previous one when the current
// token starts a new line (the caret then points where X is missing).
func (p *parser) foundPos() Pos {
	if p.nl && p.prevEnd.IsValid() {
		return p.prevEnd
	}
	return p.tok.pos
}

// peek returns the token after the current one.
func (p *parser) peek() token {
	if len(p.ahead) == 0 {
		p.ahead = append(p.ahead, p.scan())
	}
	return p.ahead[0]
}

// describe names a token in messages: identifier "x", string "24h",
// number 2, keyword emit, '{', end of file.
func describe(t token) string {
	raw := t.raw
	if len(raw) > 40 {
		raw = raw[:37] + "..."
	}
	switch {
	case t.tok == IDENT:
		return "identifier " + strconv.Quote(raw)
	case t.tok == STRING:
		return "string " + raw
	case t.tok == NUMBER:
		return "number " + raw
	case t.tok == DURATION:
		return "duration " + raw
	case t.tok == EOF:
		return "end of file"
	case t.tok == ILLEGAL:
		return strconv.Quote(raw)
	case t.tok.IsKeyword():
		return "keyword " + raw
	}
	return "'" + t.tok.String() + "'"
}

// atBlockStart reports whether the current token starts a block: a
// block kind first on its line, followed by a name.
func (p *parser) atBlockStart() bool {
	if !p.tok.tok.IsBlockKind() || !p.nl {
		return false
	}
	n := p.peek().tok
	return n == IDENT || n == LBRACE || n.IsKeyword()
}

// atItemStart reports whether the current token, first on its line,
// starts an item: a statement keyword or `key :`.
func (p *parser) atItemStart() bool {
	if !p.nl {
		return false
	}
	if p.tok.tok.startsStatement() {
		return true
	}
	return (p.tok.tok == IDENT || p.tok.tok.IsKeyword()) && p.peek().tok == COLON
}

// --- File and blocks ---

func (p *parser) parseFile(f *File) {
	for p.tok.tok != EOF {
		if !p.tok.tok.IsBlockKind() {
			p.errorf(p.tok.pos, "expected a block (policy, validator, router, pipeline, schema or alarm), found %s", describe(p.tok))
			p.syncFile()
			continue
		}
		if b := p.parseBlock(); b != nil {
			f.Blocks = append(f.Blocks, b)
		}
	}
	f.EOF = p.tok.pos
}

// syncFile skips to the next block or the end of the file.
func (p *parser) syncFile() {
	p.next()
	for p.tok.tok != EOF && !p.atBlockStart() {
		p.next()
	}
	p.open = p.open[:0]
}

// parseBlock parses KIND NAME { ITEMS }; it returns nil when the header
// is malformed (after reporting it and skipping the block).
func (p *parser) parseBlock() *Block {
	b := &Block{Kind: BlockKind(p.tok.raw), KindPos: p.tok.pos}
	p.next()
	switch {
	case p.tok.tok == IDENT:
		b.Name = &Ident{NamePos: p.tok.pos, Name: p.tok.raw}
		p.next()
	case p.tok.tok.IsKeyword():
		p.errorf(p.tok.pos, "keyword %s cannot name a %s block", p.tok.raw, b.Kind)
		p.next()
	default:
		p.errorf(p.foundPos(), "expected the name of the %s after %s, found %s", b.Kind, b.Kind, describe(p.tok))
		if p.tok.tok != LBRACE {
			p.syncFile()
			return nil
		}
	}
	if p.tok.tok != LBRACE {
		p.errorf(p.foundPos(), "expected '{' after %s, found %s", blockTitle(b), describe(p.tok))
		p.syncFile()
		return nil
	}
	b.LBrace = p.tok.pos
	p.next()
	base := len(p.open)
	for {
		switch {
		case p.tok.tok == RBRACE:
			b.RBrace = p.tok.pos
			p.next()
			p.open = p.open[:base-1]
			if b.Name == nil {
				return nil
			}
			return b
		case p.tok.tok == EOF:
			p.errorf(p.tok.pos, "expected '}' to close %s (opened at %s), found end of file", blockTitle(b), b.LBrace)
		case p.atBlockStart():
			p.errorf(p.tok.pos, "expected '}' to close %s (opened at %s), found %s", blockTitle(b), b.LBrace, describe(p.tok))
		default:
			if it := p.parseItemOrSkip(b, base); it != nil {
				b.Items = append(b.Items, it)
			}
			continue
		}
		// The block was not closed.
		p.open = p.open[:0]
		if b.Name == nil {
			return nil
		}
		return b
	}
}

// blockTitle is "validator x" (or "validator" when it has no name).
func blockTitle(b *Block) string {
	if b.Name == nil {
		return string(b.Kind)
	}
	return string(b.Kind) + " " + b.Name.Name
}

// parseItemOrSkip parses one item; on an error it skips to the next
// item or the block's closing brace and returns nil.
func (p *parser) parseItemOrSkip(b *Block, base int) (it Item) {
	start := p.tok.pos.Offset
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(itemError); !ok {
				panic(r)
			}
			it = nil
			p.depth = 0
			p.syncItem(base, start)
		}
	}()
	it = p.parseItem(b)
	if !p.atItemEnd() {
		p.fail(p.tok.pos, "unexpected %s after %s (expected an operator, the next item or '}')", describe(p.tok), itemName(it))
	}
	return it
}

// atItemEnd reports whether the current token may follow an item: the
// start of another item, the block's '}', a new block or the end.
func (p *parser) atItemEnd() bool {
	switch {
	case p.tok.tok == EOF, p.tok.tok == RBRACE:
		return true
	case p.atBlockStart(), p.tok.tok.startsStatement():
		return true
	case p.nl && (p.tok.tok == IDENT || p.tok.tok.IsKeyword()):
		// Most likely the next item, malformed: let it report.
		return true
	}
	return (p.tok.tok == IDENT || p.tok.tok.IsKeyword()) && p.peek().tok == COLON
}

// syncItem skips tokens after an error: to the next token first on its
// line that starts an item or a block, or to the '}' closing the block
// (base is the number of brackets open inside the block's '{'). The
// item's first token (at offset start) is always skipped, so that
// recovery makes progress.
func (p *parser) syncItem(base, start int) {
	if p.tok.pos.Offset == start && p.tok.tok != RBRACE && p.tok.tok != EOF {
		p.next()
	}
	for {
		switch {
		case p.tok.tok == EOF, p.atItemStart(), p.atBlockStart():
			p.open = p.open[:base]
			return
		case p.tok.tok == RBRACE:
			if len(p.open) <= base {
				return
			}
			if top := p.open[len(p.open)-1]; top != LBRACE && p.nl {
				// A '}' first on its line while a list or call is still
				// open: most likely the block's own.
				p.open = p.open[:base]
				return
			}
		}
		p.next()
	}
}

// statementSyntax is how each statement is written, for hints.
var statementSyntax = map[Token]string{
	REQUIRE: `require field "NAME" [as "TYPE"]` + " or `require EXPR`",
	ALLOW:   `allow field "NAME" [as "TYPE"]`,
	WHEN:    `when EXPR`,
	DERIVE:  `derive "TYPE" on EXPR`,
	EMIT:    `emit "TYPE" [with EXPR]`,
	ONFAIL:  `on_fail "ACTION"`,
	ROUTE:   `route "TARGET" [when EXPR]`,
}

// parseItem parses an entry or a statement.
func (p *parser) parseItem(b *Block) Item {
	t := p.tok
	if t.tok.IsKeyword() && p.peek().tok == COLON {
		if syn, ok := statementSyntax[t.tok]; ok {
			p.fail(t.pos, "%s is a statement, not an entry key: write %s (without ':')", t.raw, syn)
		}
		p.fail(t.pos, "keyword %s cannot be an entry key", t.raw)
	}
	switch t.tok {
	case IDENT:
		key := &Ident{NamePos: t.pos, Name: t.raw}
		p.next()
		if p.tok.tok != COLON {
			p.fail(p.foundPos(), "expected ':' after entry key %q, found %s", key.Name, describe(p.tok))
		}
		e := &Entry{Key: key, Colon: p.tok.pos}
		p.next()
		e.Value = p.parseTopExpr(key.Name + ":")
		return e
	case REQUIRE, ALLOW:
		if t.tok == REQUIRE && p.peek().tok != FIELD {
			p.next()
			return &Require{Keyword: t.pos, Cond: p.parseTopExpr("require")}
		}
		r := &FieldRule{Keyword: t.pos, Required: t.tok == REQUIRE}
		p.next()
		if p.tok.tok != FIELD {
			p.fail(p.foundPos(), "expected field after %s (%s), found %s", t.raw, statementSyntax[t.tok], describe(p.tok))
		}
		p.next()
		r.Field = p.parseString("the field name after " + t.raw + " field")
		if p.tok.tok == AS {
			p.next()
			r.As = p.parseString("a type after as (string, number, integer, bool, array, object, rfc3339)")
		}
		return r
	case WHEN:
		w := &When{Keyword: t.pos}
		p.next()
		w.Cond = p.parseTopExpr("when")
		return w
	case DERIVE:
		d := &Derive{Keyword: t.pos}
		p.next()
		d.Type = p.parseString("the entity type after derive")
		if p.tok.tok != ON {
			p.fail(p.foundPos(), "expected on after derive %s (%s), found %s", d.Type.Raw, statementSyntax[DERIVE], describe(p.tok))
		}
		p.next()
		d.On = p.parseTopExpr("on")
		return d
	case EMIT:
		e := &Emit{Keyword: t.pos}
		p.next()
		e.Type = p.parseString("the entity type after emit")
		if p.tok.tok == WITH {
			p.next()
			e.With = p.parseTopExpr("with")
		}
		return e
	case ONFAIL:
		o := &OnFail{Keyword: t.pos}
		p.next()
		o.Action = p.parseString(`the action after on_fail ("reject" or "warn")`)
		return o
	case ROUTE:
		r := &Route{Keyword: t.pos}
		p.next()
		r.Target = p.parseString("the target after route")
		if p.tok.tok == WHEN {
			p.next()
			r.When = p.parseTopExpr("when")
		}
		return r
	}
	p.fail(t.pos, "expected an entry (key: value) or a statement (require, allow, when, derive, emit, on_fail, route) in %s, found %s", blockTitle(b), describe(t))
	return nil
}

// parseString parses a string literal; what names it in the message.
func (p *parser) parseString(what string) *StringLit {
	if p.tok.tok != STRING {
		p.fail(p.foundPos(), "expected a string, %s, found %s", what, describe(p.tok))
	}
	s := &StringLit{ValuePos: p.tok.pos, Value: p.tok.str, Raw: p.tok.raw}
	p.next()
	return s
}

// --- Expressions ---

// parseTopExpr parses the expression of an item; after names what comes
// before it, for messages.
func (p *parser) parseTopExpr(after string) Expr {
	p.ctxPos, p.ctxText = p.tok.pos, after
	return p.parseExpr()
}

func (p *parser) parseExpr() Expr { return p.parseOr() }

func (p *parser) parseOr() Expr {
	x := p.parseAnd()
	for p.tok.tok == OR {
		pos := p.tok.pos
		p.next()
		x = &Binary{X: x, OpPos: pos, Op: OpOr, Y: p.parseAnd()}
	}
	return x
}

func (p *parser) parseAnd() Expr {
	x := p.parseNot()
	for p.tok.tok == AND {
		pos := p.tok.pos
		p.next()
		x = &Binary{X: x, OpPos: pos, Op: OpAnd, Y: p.parseNot()}
	}
	return x
}

func (p *parser) enter() {
	p.depth++
	if p.depth > maxDepth {
		p.fail(p.tok.pos, "expression nested too deeply (more than %d levels)", maxDepth)
	}
}

func (p *parser) leave() { p.depth-- }

func (p *parser) parseNot() Expr {
	if p.tok.tok == NOT {
		pos := p.tok.pos
		p.next()
		p.enter()
		x := p.parseNot()
		p.leave()
		return &Unary{OpPos: pos, Op: OpNot, X: x}
	}
	return p.parseCmp()
}

// cmpOps maps comparison tokens to operators.
var cmpOps = map[Token]Op{
	EQL: OpEq, NEQ: OpNe, LSS: OpLt, LEQ: OpLe, GTR: OpGt, GEQ: OpGe, IN: OpIn, MATCHES: OpMatches,
}

func (p *parser) parseCmp() Expr {
	x := p.parseAdd()
	op, ok := cmpOps[p.tok.tok]
	if !ok {
		return x
	}
	pos := p.tok.pos
	p.next()
	x = &Binary{X: x, OpPos: pos, Op: op, Y: p.parseAdd()}
	if _, again := cmpOps[p.tok.tok]; again {
		p.fail(p.tok.pos, "comparisons do not chain: '%s' after '%s' (write a < b and b < c)", p.tok.tok, op)
	}
	return x
}

func (p *parser) parseAdd() Expr {
	x := p.parseMul()
	for p.tok.tok == ADD || p.tok.tok == SUB {
		pos, op := p.tok.pos, OpAdd
		if p.tok.tok == SUB {
			op = OpSub
		}
		p.next()
		x = &Binary{X: x, OpPos: pos, Op: op, Y: p.parseMul()}
	}
	return x
}

func (p *parser) parseMul() Expr {
	x := p.parseUnary()
	for {
		var op Op
		switch p.tok.tok {
		case MUL:
			op = OpMul
		case QUO:
			op = OpDiv
		case REM:
			op = OpMod
		default:
			return x
		}
		pos := p.tok.pos
		p.next()
		x = &Binary{X: x, OpPos: pos, Op: op, Y: p.parseUnary()}
	}
}

func (p *parser) parseUnary() Expr {
	if p.tok.tok == SUB {
		pos := p.tok.pos
		p.next()
		p.enter()
		x := p.parseUnary()
		p.leave()
		return &Unary{OpPos: pos, Op: OpNeg, X: x}
	}
	return p.parsePostfix()
}

func (p *parser) parsePostfix() Expr {
	x := p.parsePrimary()
	for {
		switch p.tok.tok {
		case DOT:
			p.next()
			// A selector's name may be a keyword: span.when.
			if p.tok.tok != IDENT && !p.tok.tok.IsKeyword() || p.nl && p.atItemStart() {
				p.fail(p.foundPos(), "expected a name after '.', found %s", describe(p.tok))
			}
			x = &Selector{X: x, Name: &Ident{NamePos: p.tok.pos, Name: p.tok.raw}}
			p.next()
		case LBRACK:
			ix := &Index{X: x, LBrack: p.tok.pos}
			p.next()
			p.enter()
			ix.Index = p.parseExpr()
			p.leave()
			if p.tok.tok != RBRACK {
				p.fail(p.foundPos(), "expected ']' after index, found %s", describe(p.tok))
			}
			ix.RBrack = p.tok.pos
			p.next()
			x = ix
		case LPAREN:
			c := &Call{Fun: x, LParen: p.tok.pos}
			p.next()
			p.enter()
			c.Args, c.RParen = p.parseElems(RPAREN, "argument")
			p.leave()
			x = c
		default:
			return x
		}
	}
}

// parseElems parses `expr, expr, …` up to close (which it consumes);
// a trailing comma is allowed.
func (p *parser) parseElems(close Token, what string) ([]Expr, Pos) {
	var elems []Expr
	for p.tok.tok != close {
		elems = append(elems, p.parseExpr())
		if p.tok.tok == COMMA {
			p.next()
			continue
		}
		if p.tok.tok != close {
			p.fail(p.foundPos(), "expected ',' or '%s' after %s, found %s", close, what, describe(p.tok))
		}
	}
	pos := p.tok.pos
	p.next()
	return elems, pos
}

func (p *parser) parsePrimary() Expr {
	t := p.tok
	switch t.tok {
	case IDENT, POLICY:
		// policy is a keyword that also names the policies in
		// expressions: policy.quality_meter.min_score.
		p.next()
		return &Ident{NamePos: t.pos, Name: t.raw}
	case STRING:
		p.next()
		return &StringLit{ValuePos: t.pos, Value: t.str, Raw: t.raw}
	case NUMBER:
		p.next()
		return &NumberLit{ValuePos: t.pos, Value: t.num, Raw: t.raw}
	case DURATION:
		p.next()
		return &DurationLit{ValuePos: t.pos, Nanos: t.nanos, Raw: t.raw}
	case TRUE, FALSE:
		p.next()
		return &BoolLit{ValuePos: t.pos, Value: t.tok == TRUE}
	case NULL:
		p.next()
		return &NullLit{ValuePos: t.pos}
	case LPAREN:
		p.next()
		p.enter()
		x := p.parseExpr()
		p.leave()
		if p.tok.tok != RPAREN {
			p.fail(p.foundPos(), "expected ')' to close '(' at %s, found %s", t.pos, describe(p.tok))
		}
		end := p.tok.pos
		p.next()
		return &Paren{LParen: t.pos, X: x, RParen: end}
	case LBRACK:
		p.next()
		p.enter()
		elems, end := p.parseElems(RBRACK, "list element")
		p.leave()
		return &ListLit{LBrack: t.pos, Elems: elems, RBrack: end}
	case LBRACE:
		p.next()
		p.enter()
		m := p.parseMap(t.pos)
		p.leave()
		return m
	}
	msg := "expected an expression"
	if t.pos == p.ctxPos && p.ctxText != "" {
		msg += " after " + p.ctxText
	}
	msg += ", found " + describe(t)
	if t.tok.IsKeyword() {
		msg += fmt.Sprintf(" (a keyword is not a name: read a span field named %s as span.%s)", t.raw, t.raw)
	}
	p.fail(p.foundPos(), "%s", msg)
	return nil
}

// parseMap parses the entries of a map literal after its '{'.
func (p *parser) parseMap(lbrace Pos) *MapLit {
	m := &MapLit{LBrace: lbrace}
	for p.tok.tok != RBRACE {
		t := p.tok
		var key Expr
		switch {
		case t.tok == IDENT:
			key = &Ident{NamePos: t.pos, Name: t.raw}
		case t.tok == STRING:
			key = &StringLit{ValuePos: t.pos, Value: t.str, Raw: t.raw}
		case t.tok.IsKeyword():
			p.fail(t.pos, "keyword %s cannot be a map key: quote it (%q)", t.raw, t.raw)
		default:
			p.fail(t.pos, "expected a map key (a name or a string) or '}', found %s", describe(t))
		}
		p.next()
		if p.tok.tok != COLON {
			p.fail(p.foundPos(), "expected ':' after map key %s, found %s", keyText(t), describe(p.tok))
		}
		e := &MapEntry{Key: key, Colon: p.tok.pos}
		p.next()
		e.Value = p.parseExpr()
		m.Entries = append(m.Entries, e)
		if p.tok.tok == COMMA {
			p.next()
			continue
		}
		if p.tok.tok != RBRACE {
			p.fail(p.foundPos(), "expected ',' or '}' after map entry %s, found %s", keyText(t), describe(p.tok))
		}
	}
	m.RBrace = p.tok.pos
	p.next()
	return m
}

func keyText(t token) string {
	if t.tok == STRING {
		return t.raw
	}
	return strconv.Quote(t.raw)
}

// keywordList is the reserved words, for documentation and tests.
func keywordList() string {
	var names []string
	for t := keywordBeg + 1; t < keywordEnd; t++ {
		names = append(names, t.String())
	}
	return strings.Join(names, " ")
}
