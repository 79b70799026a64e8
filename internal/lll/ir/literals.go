package ir

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/logline/logline/internal/span"
)

// durationUnits are the duration units from largest, as literals write
// them (docs/lll.md, "Lexical rules").
var durationUnits = [...]struct {
	name  string
	nanos int64
}{
	{"d", 24 * int64(time.Hour)},
	{"h", int64(time.Hour)},
	{"m", int64(time.Minute)},
	{"s", int64(time.Second)},
	{"ms", int64(time.Millisecond)},
}

// ParseDuration parses a duration as the language writes it: one or
// more NUMBER UNIT components, units among d h m s ms, each at most once
// and from largest to smallest ("24h", "1h30m", "500ms", "1.5h"); a
// leading "-" negates. It reports false for anything else, and for
// lengths beyond ±292 years.
func ParseDuration(s string) (int64, bool) {
	neg := false
	if strings.HasPrefix(s, "-") {
		neg, s = true, s[1:]
	}
	if s == "" {
		return 0, false
	}
	var total int64
	next := 0 // index of the smallest unit still allowed
	for s != "" {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 {
			return 0, false
		}
		intPart := s[:i]
		frac := ""
		if i < len(s) && s[i] == '.' {
			j := i + 1
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			if j == i+1 {
				return 0, false
			}
			frac, i = s[i+1:j], j
		}
		s = s[i:]
		u := -1
		for k := next; k < len(durationUnits); k++ {
			name := durationUnits[k].name
			// "m" must not take the "m" of "ms".
			if strings.HasPrefix(s, name) && (name != "m" || !strings.HasPrefix(s, "ms")) {
				u = k
				break
			}
		}
		if u < 0 {
			return 0, false
		}
		s = s[len(durationUnits[u].name):]
		next = u + 1
		unit := durationUnits[u].nanos
		n, err := strconv.ParseInt(intPart, 10, 64)
		if err != nil || n > math.MaxInt64/unit {
			return 0, false
		}
		v := n * unit
		// The fraction, exactly: digits × unit / 10^len, truncated to
		// nanoseconds.
		scale := unit
		for k := 0; k < len(frac); k++ {
			scale /= 10
			if scale == 0 {
				break
			}
			v += int64(frac[k]-'0') * scale
		}
		if v < 0 || total > math.MaxInt64-v {
			return 0, false
		}
		total += v
	}
	if neg {
		total = -total
	}
	return total, true
}

// FormatDuration writes nanos as ParseDuration reads it, in hours,
// minutes, seconds and milliseconds: 24h, 90s → 1m30s, 500ms,
// 1.000000001s; 0s for zero.
func FormatDuration(nanos int64) string {
	if nanos == 0 {
		return "0s"
	}
	var b strings.Builder
	u := uint64(nanos)
	if nanos < 0 {
		b.WriteByte('-')
		u = -u
	}
	sub := u % uint64(time.Second)
	u -= sub
	for _, du := range durationUnits[1:3] { // hours, minutes: 48h reads better than 2d
		if n := u / uint64(du.nanos); n > 0 {
			b.WriteString(strconv.FormatUint(n, 10))
			b.WriteString(du.name)
			u -= n * uint64(du.nanos)
		}
	}
	secs := u / uint64(time.Second)
	switch {
	case sub%uint64(time.Millisecond) == 0:
		if secs > 0 {
			b.WriteString(strconv.FormatUint(secs, 10) + "s")
		}
		if sub > 0 {
			b.WriteString(strconv.FormatUint(sub/uint64(time.Millisecond), 10) + "ms")
		}
	default:
		f := strconv.FormatUint(sub+uint64(time.Second), 10)[1:] // 9 digits
		b.WriteString(strconv.FormatUint(secs, 10) + "." + strings.TrimRight(f, "0") + "s")
	}
	return b.String()
}

// ParsePercentile parses "pNN" ("p96", "p99.9"): 0 < NN ≤ 100.
func ParsePercentile(s string) (float64, bool) {
	if len(s) < 2 || s[0] != 'p' {
		return 0, false
	}
	num := s[1:]
	dot := false
	for i := 0; i < len(num); i++ {
		switch c := num[i]; {
		case c >= '0' && c <= '9':
		case c == '.' && !dot && i > 0 && i < len(num)-1:
			dot = true
		default:
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f <= 0 || f > 100 {
		return 0, false
	}
	return f, true
}

// ParseRFC3339 parses an RFC 3339 date-time exactly as the ledger parses
// a span's `when` (span.ParseRFC3339, the one parser of both) and returns
// Unix seconds and nanoseconds.
func ParseRFC3339(s string) (sec int64, nsec int32, ok bool) {
	t, ok := span.ParseRFC3339(s)
	if !ok {
		return 0, 0, false
	}
	return t.Unix(), int32(t.Nanosecond()), true
}

// FormatTime writes a time as RFC 3339 in UTC with the fraction's
// trailing zeros trimmed.
func FormatTime(sec int64, nsec int32) string {
	return time.Unix(sec, int64(nsec)).UTC().Format(time.RFC3339Nano)
}
