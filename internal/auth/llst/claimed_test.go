package llst

import (
	"encoding/base64"
	"strings"
	"testing"
)

func TestClaimedTenant(t *testing.T) {
	seg := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	hdr := seg(`{"alg":"EdDSA","kid":"llst-20260301-9f3c0a1e","typ":"llst+jwt"}`)
	sig := strings.Repeat("A", 86)
	tests := []struct {
		name, token, want string
	}{
		{"tenant claim", hdr + "." + seg(`{"sub":"x","tenant":"acme","exp":1}`) + "." + sig, "acme"},
		{"signature not checked", hdr + "." + seg(`{"tenant":"acme"}`) + ".garbage", "acme"},
		{"no tenant claim", hdr + "." + seg(`{"sub":"x"}`) + "." + sig, ""},
		{"tenant not a string", hdr + "." + seg(`{"tenant":7}`) + "." + sig, ""},
		{"invalid tenant name", hdr + "." + seg(`{"tenant":"Acme Corp"}`) + "." + sig, ""},
		{"payload not JSON", hdr + "." + seg(`tenant=acme`) + "." + sig, ""},
		{"payload not base64url", hdr + ".*{}*." + sig, ""},
		{"two segments", hdr + "." + seg(`{"tenant":"acme"}`), ""},
		{"not a JWS", "opaque-token", ""},
		{"too long", hdr + "." + seg(`{"tenant":"acme","pad":"`+strings.Repeat("x", MaxTokenSize)+`"}`) + "." + sig, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ClaimedTenant(tt.token); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
