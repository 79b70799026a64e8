package ir

import (
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"24h", 24 * time.Hour, true},
		{"1h30m", 90 * time.Minute, true},
		{"500ms", 500 * time.Millisecond, true},
		{"2d", 48 * time.Hour, true},
		{"1d6h5m4s3ms", 30*time.Hour + 5*time.Minute + 4*time.Second + 3*time.Millisecond, true},
		{"1.5h", 90 * time.Minute, true},
		{"0.5ms", 500 * time.Microsecond, true},
		{"-6h", -6 * time.Hour, true},
		{"0s", 0, true},
		{"", 0, false},
		{"h", 0, false},
		{"10", 0, false},
		{"30m1h", 0, false},
		{"1h1h", 0, false},
		{"1w", 0, false},
		{"1.h", 0, false},
		{"1 h", 0, false},
		{"999999999999d", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := ParseDuration(tt.in)
			if ok != tt.ok || time.Duration(got) != tt.want {
				t.Errorf("ParseDuration(%q) = %v, %v; want %v, %v", tt.in, time.Duration(got), ok, tt.want, tt.ok)
			}
		})
	}
}

func TestFormatDurationRoundTrip(t *testing.T) {
	for _, d := range []time.Duration{0, 1, time.Millisecond, 1500 * time.Millisecond, 90 * time.Second,
		24 * time.Hour, 30*time.Hour + time.Nanosecond, -6 * time.Hour, 1<<63 - 1, -(1<<63 - 1)} {
		s := FormatDuration(int64(d))
		got, ok := ParseDuration(s)
		if !ok || got != int64(d) {
			t.Errorf("FormatDuration(%v) = %q, reads back as %v, %v", d, s, time.Duration(got), ok)
		}
	}
	if got := FormatDuration(int64(90 * time.Minute)); got != "1h30m" {
		t.Errorf("FormatDuration(90m) = %q, want 1h30m", got)
	}
}

func TestParsePercentile(t *testing.T) {
	tests := []struct {
		in   string
		want float64
		ok   bool
	}{
		{"p96", 96, true}, {"p99.9", 99.9, true}, {"p100", 100, true}, {"p1", 1, true},
		{"p0", 0, false}, {"p101", 0, false}, {"96", 0, false}, {"p", 0, false}, {"p9.", 0, false}, {"p.5", 0, false}, {"p-1", 0, false}, {"p1e2", 0, false},
	}
	for _, tt := range tests {
		got, ok := ParsePercentile(tt.in)
		if ok != tt.ok || got != tt.want {
			t.Errorf("ParsePercentile(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseRFC3339(t *testing.T) {
	valid := []string{
		"2010-10-02T07:20:39.266Z", "2024-02-29T00:00:00Z", "1970-01-01T00:00:00+00:00",
		"2024-05-01T12:00:00.123456789-03:30", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999z",
		"2024-05-01t12:00:00+14:00",
	}
	for _, s := range valid {
		sec, ns, ok := ParseRFC3339(s)
		want, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			// Go's parser refuses lower-case t and z; compare with the upper-case form.
			want, err = time.Parse(time.RFC3339Nano, upper(s))
		}
		if !ok || err != nil || sec != want.Unix() || int(ns) != want.Nanosecond() {
			t.Errorf("ParseRFC3339(%q) = %d, %d, %v; want %d, %d (%v)", s, sec, ns, ok, want.Unix(), want.Nanosecond(), err)
		}
		if got := FormatTime(sec, ns); got != want.UTC().Format(time.RFC3339Nano) {
			t.Errorf("FormatTime = %q", got)
		}
	}
	invalid := []string{"", "2024-02-30T00:00:00Z", "2023-02-29T00:00:00Z", "2024-13-01T00:00:00Z", "2024-01-01 00:00:00Z",
		"2024-01-01T24:00:00Z", "2024-01-01T00:00:60Z", "2024-01-01T00:00:00", "2024-01-01T00:00:00.Z", "2024-01-01T00:00:00+0100",
		"2024-01-01T00:00:00Zx", "2024-01-01T00:00:00+01:00x", "yesterday", "2024-1-01T00:00:00Z"}
	for _, s := range invalid {
		if _, _, ok := ParseRFC3339(s); ok {
			t.Errorf("ParseRFC3339(%q) accepted", s)
		}
	}
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == 't' || c == 'z' {
			b[i] = c - 32
		}
	}
	return string(b)
}

func TestMatchGlob(t *testing.T) {
	tests := []struct {
		pat, s string
		want   bool
	}{
		{"heartbeat-*", "heartbeat-1", true},
		{"heartbeat-*", "heartbeat-", true},
		{"heartbeat-*", "heartbeat", false},
		{"*", "", true},
		{"", "", true},
		{"", "a", false},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"a?c", "aéc", true},
		{"*receipt*", "Confirmation of receipt", true},
		{"*a*b*c", "xaybzc", true},
		{"*a*b*c", "xaybzcd", false},
		{"a*b*a", "abababa", true},
		{"**x", "x", true},
		{"case:*-891", "case:case-891", true},
		{"exact", "exact", true},
		{"exact", "exactly", false},
	}
	for _, tt := range tests {
		if got := MatchGlob(tt.pat, tt.s); got != tt.want {
			t.Errorf("MatchGlob(%q, %q) = %v, want %v", tt.pat, tt.s, got, tt.want)
		}
	}
}
