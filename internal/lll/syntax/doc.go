// Package syntax is the first phase of the .lll toolchain: the lexer,
// the parser (with positions and error recovery), the syntax tree, and
// the printer behind `logline fmt`. It knows nothing about what the
// blocks mean; internal/lll/check does. The grammar is docs/lll.md's.
//
// Parse turns a source into a *File and an ErrorList; every node has
// Pos and End. Format prints a File in the canonical layout, keeping
// comments. PrintErrors shows errors as "file:line:col: message" with
// the source line and a caret under the column.
//
// Two readings beyond the EBNF of docs/lll.md: the keyword policy is
// also a name at the start of an expression (policy.quality_meter.min_score
// parses as a Selector on the Ident "policy"), and the name after '.'
// may be any keyword (span.when).
//
// Recovery: an error inside an item abandons that item (it is left out
// of the tree) and parsing resumes at the next token, first on its line,
// that starts an item (a statement keyword or `key:`), or at the '}'
// closing the block; at the top level it resumes at the next block
// keyword first on its line. At most one error is kept per line, and a
// run stops after MaxErrors errors with "too many errors".
package syntax
