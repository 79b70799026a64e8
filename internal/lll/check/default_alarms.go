package check

import (
	_ "embed"

	"github.com/logline/logline/internal/lll/ir"
)

// DefaultAlarmsFile names the source of the default alarms.
const DefaultAlarmsFile = "default_alarms.lll"

//go:embed default_alarms.lll
var defaultAlarms string

// DefaultAlarmsSource returns the source of the alarms every tenant runs
// besides its own (v8 §20: the 5xx rate, invalid tokens, the candidate
// envelope; docs/quality.md, "Alarms").
func DefaultAlarmsSource() []byte { return []byte(defaultAlarms) }

// DefaultAlarms compiles the default alarms into their own program. It
// fails only if the embedded source is broken (a test proves it is not);
// each call returns a new Program.
func DefaultAlarms() (*ir.Program, error) {
	return compileBuiltin(DefaultAlarmsFile, DefaultAlarmsSource())
}
