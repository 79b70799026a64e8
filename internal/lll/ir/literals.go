package ir

import (
	"math"
	"strconv"
	"strings"
	"time"
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

// ParseRFC3339 parses an RFC 3339 date-time (§5.6) as internal/span does:
// full-date "T" full-time with a mandatory offset ("Z" or ±hh:mm), "T"
// and "Z" in either case, any number of fraction digits (nanoseconds
// kept), no leap second. It returns Unix seconds and nanoseconds.
func ParseRFC3339(s string) (sec int64, nsec int32, ok bool) {
	if len(s) < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':' {
		return 0, 0, false
	}
	year, ok1 := digits(s[0:4])
	month, ok2 := digits(s[5:7])
	day, ok3 := digits(s[8:10])
	hour, ok4 := digits(s[11:13])
	minute, ok5 := digits(s[14:16])
	second, ok6 := digits(s[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) ||
		month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour > 23 || minute > 59 || second > 59 {
		return 0, 0, false
	}
	i := 19
	ns := 0
	if s[i] == '.' {
		i++
		start := i
		scale := 100_000_000
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			ns += int(s[i]-'0') * scale
			scale /= 10
			i++
		}
		if i == start {
			return 0, 0, false
		}
	}
	if i >= len(s) {
		return 0, 0, false
	}
	offset := 0
	switch s[i] {
	case 'Z', 'z':
		if i+1 != len(s) {
			return 0, 0, false
		}
	case '+', '-':
		if len(s)-i != 6 || s[i+3] != ':' {
			return 0, 0, false
		}
		oh, ok1 := digits(s[i+1 : i+3])
		om, ok2 := digits(s[i+4 : i+6])
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return 0, 0, false
		}
		offset = (oh*60 + om) * 60
		if s[i] == '-' {
			offset = -offset
		}
	default:
		return 0, 0, false
	}
	days := daysFromCivil(year, month, day)
	sec = days*86400 + int64(hour*3600+minute*60+second) - int64(offset)
	return sec, int32(ns), true
}

// FormatTime writes a time as RFC 3339 in UTC with the fraction's
// trailing zeros trimmed.
func FormatTime(sec int64, nsec int32) string {
	return time.Unix(sec, int64(nsec)).UTC().Format(time.RFC3339Nano)
}

func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the days since 1970-01-01 of a proleptic
// Gregorian date (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}
