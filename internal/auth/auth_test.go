package auth

import (
	"errors"
	"strings"
	"testing"
)

func TestGrantsAllows(t *testing.T) {
	tests := []struct {
		name   string
		grants Grants
		cap    Capability
		want   bool
	}{
		{"empty denies", nil, LedgerRead, false},
		{"exact", Grants{"ledger.read"}, LedgerRead, true},
		{"other", Grants{"ledger.read"}, LedgerAppend, false},
		{"family", Grants{"memory.*"}, MemoryWrite, true},
		{"family other", Grants{"memory.*"}, LedgerRead, false},
		{"family prefix is not a family", Grants{"ledger.*"}, Capability("ledgerx.read"), false},
		{"all", Grants{"*"}, AdminAccounts, true},
		{"admin family", Grants{"admin.*"}, AdminExport, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.grants.Allows(tt.cap); got != tt.want {
				t.Errorf("%v.Allows(%s) = %v, want %v", tt.grants, tt.cap, got, tt.want)
			}
		})
	}
}

func TestParseGrant(t *testing.T) {
	for _, ok := range []string{"*", "ledger.read", "memory.*", "admin.*", "admin.export"} {
		if _, err := ParseGrant(ok); err != nil {
			t.Errorf("ParseGrant(%q) = %v, want ok", ok, err)
		}
	}
	for _, bad := range []string{"", "ledger.reed", "nothing.*", ".*", "**", "ledger.read "} {
		if _, err := ParseGrant(bad); !errors.Is(err, ErrBadGrant) {
			t.Errorf("ParseGrant(%q) = %v, want ErrBadGrant", bad, err)
		}
	}
}

func TestBuiltinRolesParse(t *testing.T) {
	for role, grants := range BuiltinRoles() {
		for _, g := range grants {
			if _, err := ParseGrant(g); err != nil {
				t.Errorf("role %s: %v", role, err)
			}
		}
	}
}

func TestPrincipalCanChecksTenant(t *testing.T) {
	p := &Principal{Tenant: "a", Grants: Grants{"*"}}
	if !p.Can("a", LedgerAppend) {
		t.Error("admin of a cannot append to a")
	}
	if p.Can("b", LedgerRead) {
		t.Error("admin of a can read b")
	}
	var none *Principal
	if none.Can("a", LedgerRead) {
		t.Error("nil principal allowed")
	}
}

func TestLLID(t *testing.T) {
	a := LLID("https://accounts.google.com", "1234")
	if a != LLID("https://accounts.google.com", "1234") {
		t.Fatal("LLID not stable")
	}
	if !strings.HasPrefix(a, LLIDPrefix) || len(a) != len(LLIDPrefix)+32 {
		t.Fatalf("LLID = %q, want %s + 32 base32 characters", a, LLIDPrefix)
	}
	// Issuer and subject are separated: moving a byte across the boundary
	// gives another identity.
	if LLID("https://a", "bc") == LLID("https://ab", "c") {
		t.Error("issuer/subject boundary not encoded")
	}
	if LLID("https://a", "1") == LLID("https://b", "1") {
		t.Error("same subject at two issuers collides")
	}
	// Golden value: LLIDs are stored in spans and tenant config; changing
	// the derivation orphans every identity.
	if got, want := LLID("https://accounts.google.com", "110169484474386276334"), "llid_ymunkt4mi4mrg5c4jumq7g7nf5gf5umh"; got != want {
		t.Errorf("LLID golden = %q, want %q", got, want)
	}
}
