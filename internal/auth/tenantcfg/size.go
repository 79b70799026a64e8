package tenantcfg

import (
	"errors"
	"math"
	"strconv"
	"strings"
)

// sizeUnits are the byte-size suffixes tenant.yaml accepts: decimal (KB =
// 1000 bytes) and binary (KiB = 1024 bytes), as people read them on disks
// and in network bills respectively. Matching ignores case.
var sizeUnits = []struct {
	suffix string
	mult   float64
}{
	// Longest suffixes first: "KiB" before "B".
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
	{"b", 1},
}

// maxSize bounds sizes so that they fit an int64 and a float64 exactly.
const maxSize = 1 << 50

var errSize = errors.New(`want a size such as 1048576, "512KiB" or "50MB"`)

// parseSize reads a byte size: a number with an optional unit from
// sizeUnits, spaces allowed between them, and an optional "/s" (a rate
// is written "50MB/s" as often as "50MB"). Fractions are allowed when
// the result is a whole number of bytes ("1.5KB" = 1500).
func parseSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.TrimSuffix(t, "/s")
	mult := 1.0
	for _, u := range sizeUnits {
		if num, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(num), u.mult
			break
		}
	}
	if t == "" || strings.ContainsAny(t, "+-_eE") || strings.HasPrefix(t, ".") {
		return 0, errSize
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, errSize
	}
	v := f * mult
	if v > maxSize {
		return 0, errors.New("size too large (at most 1PiB)")
	}
	if v != math.Trunc(v) {
		return 0, errors.New("size is not a whole number of bytes")
	}
	return int64(v), nil
}
