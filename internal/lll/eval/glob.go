package eval

import (
	"strings"

	"github.com/logline/logline/internal/lll/ir"
)

// glob is a constant glob pattern sorted into the common shapes that need
// no backtracking: "abc", "abc*", "*abc", "*abc*", "*".
type glob struct {
	kind globKind
	lit  string // the literal part
	pat  string // the whole pattern (globGeneral)
}

type globKind uint8

const (
	globDynamic globKind = iota // not constant: ir.MatchGlob at run time
	globExact
	globPrefix
	globSuffix
	globContains
	globAll
	globGeneral
)

func compileGlob(pat string) glob {
	if pat == "*" {
		return glob{kind: globAll}
	}
	inner := pat
	lead := strings.HasPrefix(inner, "*")
	if lead {
		inner = inner[1:]
	}
	trail := strings.HasSuffix(inner, "*")
	if trail {
		inner = inner[:len(inner)-1]
	}
	if strings.ContainsAny(inner, "*?") {
		return glob{kind: globGeneral, pat: pat}
	}
	switch {
	case lead && trail:
		return glob{kind: globContains, lit: inner}
	case lead:
		return glob{kind: globSuffix, lit: inner}
	case trail:
		return glob{kind: globPrefix, lit: inner}
	}
	return glob{kind: globExact, lit: inner}
}

func (g *glob) match(s string) bool {
	switch g.kind {
	case globExact:
		return s == g.lit
	case globPrefix:
		return strings.HasPrefix(s, g.lit)
	case globSuffix:
		return strings.HasSuffix(s, g.lit)
	case globContains:
		return strings.Contains(s, g.lit)
	case globAll:
		return true
	}
	return ir.MatchGlob(g.pat, s)
}
