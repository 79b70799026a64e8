package export

import (
	"encoding/base64"
	"errors"
	"strconv"

	"github.com/logline/logline/internal/tlog"
)

// Roles of a record.
const (
	roleBefore = "before"
	roleEntry  = "entry"
	roleAfter  = "after"
)

// appendProofLine appends the proof line of a record, with its newline:
// {"<role>":<tlog.InclusionProof wire form>}. It writes the same bytes as
// InclusionProof.MarshalJSON (a test holds them equal) without its
// allocations: bundles hold millions of proof lines.
func appendProofLine(b []byte, role string, p tlog.InclusionProof) []byte {
	b = append(b, `{"`...)
	b = append(b, role...)
	b = append(b, `":{"index":`...)
	b = strconv.AppendUint(b, p.Index, 10)
	b = append(b, `,"size":`...)
	b = strconv.AppendUint(b, p.Size, 10)
	b = append(b, `,"leaf_hash":"`...)
	b = base64.StdEncoding.AppendEncode(b, p.LeafHash[:])
	b = append(b, `","hashes":[`...)
	for i, h := range p.Hashes {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, h[:])
		b = append(b, '"')
	}
	return append(b, "]}}\n"...)
}

// errProofLine is the reason every malformed proof line gives; the strict
// grammar below leaves nothing more precise worth saying than where.
var errProofLine = errors.New(`want {"before"|"entry"|"after":{"index":I,"size":N,"leaf_hash":B64,"hashes":[B64,…]}} exactly as written`)

// parseProofLine parses a proof line (without its newline). It accepts
// exactly what appendProofLine writes — the canonical encoding — and is a
// hand-written scanner because bundles hold millions of them.
func parseProofLine(line []byte) (role string, p tlog.InclusionProof, err error) {
	s := scanner{b: line}
	if !s.lit(`{"`) {
		return "", p, errProofLine
	}
	switch {
	case s.lit(roleBefore + `":`):
		role = roleBefore
	case s.lit(roleEntry + `":`):
		role = roleEntry
	case s.lit(roleAfter + `":`):
		role = roleAfter
	default:
		return "", p, errProofLine
	}
	ok := s.lit(`{"index":`) && s.uint(&p.Index) &&
		s.lit(`,"size":`) && s.uint(&p.Size) &&
		s.lit(`,"leaf_hash":`) && s.hash(&p.LeafHash) &&
		s.lit(`,"hashes":[`)
	if !ok {
		return "", p, errProofLine
	}
	p.Hashes = make([][32]byte, 0, 24)
	for i := 0; !s.lit("]"); i++ {
		if i > 0 && !s.lit(",") {
			return "", p, errProofLine
		}
		var h [32]byte
		if len(p.Hashes) == 64 || !s.hash(&h) {
			return "", p, errProofLine
		}
		p.Hashes = append(p.Hashes, h)
	}
	if !s.lit("}}") || s.i != len(s.b) {
		return "", p, errProofLine
	}
	return role, p, nil
}

// scanner reads a byte slice left to right.
type scanner struct {
	b []byte
	i int
}

// lit consumes lit if the input continues with it.
func (s *scanner) lit(lit string) bool {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return false
	}
	s.i += len(lit)
	return true
}

// uint consumes a canonical decimal (no sign, no leading zero) below 2^63.
func (s *scanner) uint(dst *uint64) bool {
	j := s.i
	for j < len(s.b) && s.b[j] >= '0' && s.b[j] <= '9' {
		j++
	}
	digits := s.b[s.i:j]
	if len(digits) == 0 || len(digits) > 1 && digits[0] == '0' {
		return false
	}
	n, err := strconv.ParseUint(string(digits), 10, 63)
	if err != nil {
		return false
	}
	*dst, s.i = n, j
	return true
}

// hash consumes a quoted canonical standard base64 of 32 bytes.
func (s *scanner) hash(dst *[32]byte) bool {
	const n = 44 // base64.StdEncoding.EncodedLen(32)
	if len(s.b)-s.i < n+2 || s.b[s.i] != '"' || s.b[s.i+n+1] != '"' {
		return false
	}
	// Strict: the padding bits must be zero, so each hash has one spelling.
	var buf [33]byte // base64.StdEncoding.DecodedLen(n)
	m, err := base64.StdEncoding.Strict().Decode(buf[:], s.b[s.i+1:s.i+1+n])
	if err != nil || m != 32 {
		return false
	}
	copy(dst[:], buf[:32])
	s.i += n + 2
	return true
}
