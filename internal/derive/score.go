package derive

import (
	"math"
	"time"

	"github.com/logline/logline/internal/lll/ir"
)

// Components is a trajectory's quality score and its parts, each
// round(100 × weight × value).
type Components struct {
	Mass         int
	Persistence  int
	Verification int
	Score        int // their sum, 0–100
}

// Score computes the quality of a closed trajectory of n spans lasting
// span (latest − earliest event time), signed of them with a verified
// client signature and confirmed of them confirmed, under the meter's
// weights and mass_saturation and the linker's window (docs in doc.go).
func Score(m ir.QualityMeter, window time.Duration, n int, span time.Duration, signed, confirmed int) Components {
	if n <= 0 {
		return Components{}
	}
	// float64(…) around each product keeps the compiler from fusing a
	// multiply and an add: the same bits on every platform.
	mass := math.Min(1, math.Log2(float64(1+n))/math.Log2(float64(1+m.MassSaturation)))
	persistence := 0.0
	if window > 0 && span > 0 {
		persistence = math.Min(1, float64(span)/float64(window))
	}
	verification := float64(float64(0.5*float64(signed))+float64(0.5*float64(confirmed))) / float64(n)
	c := Components{
		Mass:         component(m.Mass, mass),
		Persistence:  component(m.Persistence, persistence),
		Verification: component(m.Verification, verification),
	}
	c.Score = c.Mass + c.Persistence + c.Verification
	return c
}

// component is round(100 × weight × value), half away from zero.
func component(weight, value float64) int {
	return int(math.Round(float64(float64(100*weight) * value)))
}
