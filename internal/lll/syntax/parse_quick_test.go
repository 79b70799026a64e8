package syntax

import (
	"strings"
	"testing"
)

// TestParseSeedFixed parses the v8 seed's examples as our grammar
// accepts them (the full set lives in testdata/parse).
func TestParseSeedFixed(t *testing.T) {
	src := `
policy trajectory_linker {
  key_fields: ["this"]
  window: "24h"
  close_timeout: "6h"
  exceptions: ["this:heartbeat-*"]
}
policy quality_meter {
  weights: { mass: 0.4, persistence: 0.3, verification: 0.3 }
  percentile_target: "p96"     # ≈ 2–4% candidatos
  min_score: 60
}
validator quality_meter_v1_1 {
  input: "trajectory_quality"
  when percentile(score) >= policy.quality_meter.percentile_target
  and  score >= policy.quality_meter.min_score
  emit "diamond_candidate"
}
`
	f, err := Parse("seed.lll", []byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if got, want := len(f.Blocks), 3; got != want {
		t.Fatalf("got %d blocks, want %d", got, want)
	}
	if got := len(f.Comments); got != 1 {
		t.Errorf("got %d comments, want 1", got)
	}
}

func TestParseErrorsQuick(t *testing.T) {
	src := "policy p {\n  window \"24h\"\n  a: 1 < 2 < 3\n}\nvalidator v {\n  emit: \"x\"\n}\n"
	_, err := Parse("x.lll", []byte(src))
	got := FormatErrors(err, []byte(src))
	for _, want := range []string{
		`x.lll:2:10: expected ':' after entry key "window", found string "24h"`,
		`x.lll:3:12: comparisons do not chain`,
		`x.lll:6:3: emit is a statement, not an entry key`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("errors lack %q:\n%s", want, got)
		}
	}
}
