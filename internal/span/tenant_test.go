package span

import "testing"

func TestValidTenant(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want bool
	}{
		{"acme", true}, {"t_receipt", true}, {"a-1", true}, {string(make([]byte, 0)), false},
		{"Acme", false}, {"a b", false}, {"a.b", false}, {"é", false},
		{"0123456789012345678901234567890123456789012345678901234567890123", true},
		{"01234567890123456789012345678901234567890123456789012345678901234", false},
	} {
		if got := ValidTenant(tc.s); got != tc.want {
			t.Errorf("ValidTenant(%q) = %v, want %v", tc.s, got, tc.want)
		}
	}
}
