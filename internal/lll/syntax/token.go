package syntax

import "strconv"

// Token is the kind of a lexical token.
type Token int

// The tokens of docs/lll.md, "Lexical rules".
const (
	ILLEGAL Token = iota // a malformed token (the lexer reported why)
	EOF
	COMMENT // # … to the end of the line

	IDENT    // window
	STRING   // "24h"
	NUMBER   // 0.4
	DURATION // 1h30m

	// Punctuation.
	LBRACE // {
	RBRACE // }
	LBRACK // [
	RBRACK // ]
	LPAREN // (
	RPAREN // )
	COLON  // :
	COMMA  // ,
	DOT    // .

	// Operators.
	EQL // ==
	NEQ // !=
	LSS // <
	LEQ // <=
	GTR // >
	GEQ // >=
	ADD // +
	SUB // -
	MUL // *
	QUO // /
	REM // %

	// Keywords.
	keywordBeg
	POLICY
	VALIDATOR
	ROUTER
	PIPELINE
	SCHEMA
	ALARM
	REQUIRE
	ALLOW
	FIELD
	AS
	WHEN
	DERIVE
	ON
	EMIT
	WITH
	ONFAIL
	ROUTE
	AND
	OR
	NOT
	IN
	MATCHES
	TRUE
	FALSE
	NULL
	keywordEnd
)

var tokenNames = [...]string{
	ILLEGAL:  "illegal token",
	EOF:      "end of file",
	COMMENT:  "comment",
	IDENT:    "identifier",
	STRING:   "string",
	NUMBER:   "number",
	DURATION: "duration",
	LBRACE:   "{",
	RBRACE:   "}",
	LBRACK:   "[",
	RBRACK:   "]",
	LPAREN:   "(",
	RPAREN:   ")",
	COLON:    ":",
	COMMA:    ",",
	DOT:      ".",
	EQL:      "==",
	NEQ:      "!=",
	LSS:      "<",
	LEQ:      "<=",
	GTR:      ">",
	GEQ:      ">=",
	ADD:      "+",
	SUB:      "-",
	MUL:      "*",
	QUO:      "/",
	REM:      "%",

	POLICY:    "policy",
	VALIDATOR: "validator",
	ROUTER:    "router",
	PIPELINE:  "pipeline",
	SCHEMA:    "schema",
	ALARM:     "alarm",
	REQUIRE:   "require",
	ALLOW:     "allow",
	FIELD:     "field",
	AS:        "as",
	WHEN:      "when",
	DERIVE:    "derive",
	ON:        "on",
	EMIT:      "emit",
	WITH:      "with",
	ONFAIL:    "on_fail",
	ROUTE:     "route",
	AND:       "and",
	OR:        "or",
	NOT:       "not",
	IN:        "in",
	MATCHES:   "matches",
	TRUE:      "true",
	FALSE:     "false",
	NULL:      "null",
}

// String is the token's spelling (punctuation, keywords) or the name of
// its class ("identifier", "string").
func (t Token) String() string {
	if t >= 0 && int(t) < len(tokenNames) && tokenNames[t] != "" {
		return tokenNames[t]
	}
	return "token(" + strconv.Itoa(int(t)) + ")"
}

// IsKeyword reports whether t is a reserved word.
func (t Token) IsKeyword() bool { return t > keywordBeg && t < keywordEnd }

// IsBlockKind reports whether t starts a block (policy, validator, …).
func (t Token) IsBlockKind() bool { return t >= POLICY && t <= ALARM }

// startsStatement reports whether t is the keyword of a block statement.
func (t Token) startsStatement() bool {
	switch t {
	case REQUIRE, ALLOW, WHEN, DERIVE, EMIT, ONFAIL, ROUTE:
		return true
	}
	return false
}

// keywords maps each reserved word to its token.
var keywords = func() map[string]Token {
	m := make(map[string]Token, keywordEnd-keywordBeg)
	for t := keywordBeg + 1; t < keywordEnd; t++ {
		m[tokenNames[t]] = t
	}
	return m
}()

// Lookup returns the keyword token for name, or IDENT.
func Lookup(name string) Token {
	if t, ok := keywords[name]; ok {
		return t
	}
	return IDENT
}

// IsKeyword reports whether name is a reserved word of the language.
func IsKeyword(name string) bool { return Lookup(name) != IDENT }
