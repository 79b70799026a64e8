package programs

import "github.com/logline/logline/internal/lll/ir"

// Program returns the compiled program tenant runs: its own, or the
// default canonical_contract_v1 when it has none (or none ever
// compiled). It never blocks. The Program is shared and must not be
// modified. A reload that changes what the tenant runs (its files, the
// trusted keys, its feature flags) publishes a new Program, so pointer
// identity tells the program in force apart from an earlier one: callers
// may cache what they derive from it keyed by the pointer.
func (s *Set) Program(tenant string) *ir.Program {
	return s.Machine(tenant).Program()
}
