package check

import (
	_ "embed"

	"github.com/logline/logline/internal/lll/ir"
	"github.com/logline/logline/internal/lll/syntax"
)

// CanonicalContractName and CanonicalContractFile name the default
// validator and the source it is compiled from.
const (
	CanonicalContractName = "canonical_contract_v1"
	CanonicalContractFile = "canonical_contract_v1.lll"
)

//go:embed canonical_contract_v1.lll
var canonicalContract string

// CanonicalContractSource returns the source of canonical_contract_v1
// (v8 §25.1), the validator every tenant gets by default.
func CanonicalContractSource() []byte { return []byte(canonicalContract) }

// CanonicalContract compiles canonical_contract_v1 into its own program.
// It fails only if the embedded source is broken (a test proves it is
// not); each call returns a new Program.
func CanonicalContract() (*ir.Program, error) {
	return compileBuiltin(CanonicalContractFile, CanonicalContractSource())
}

// compileBuiltin compiles the embedded source of a built-in program
// (file names it in positions) on its own.
func compileBuiltin(file string, src []byte) (*ir.Program, error) {
	f, err := syntax.Parse(file, src)
	if err != nil {
		return nil, err
	}
	return Check([]*syntax.File{f}, Options{})
}
