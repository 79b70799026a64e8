// Package auth is LogLine's access-control vocabulary: capabilities, the
// built-in roles, grants, LogLine identities (LLID) and the Principal a
// request acts as. It imports only the standard library; the packages
// below it (llst, oidclogin, tenantcfg, quota, serviceacct) and the
// gateway speak in these types.
//
// Deny by default: a Principal may do exactly what its grants allow, and
// a request whose route declares no capability is refused by the gateway.
package auth

import (
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Capability names one thing a principal may do within its tenant.
type Capability string

// The capabilities LogLine's routes declare (ARCHITECTURE.md §8). The
// admin family is open-ended: a grant of "admin.*" covers every one.
const (
	LedgerAppend    Capability = "ledger.append"
	LedgerRead      Capability = "ledger.read"
	StreamRead      Capability = "stream.read"
	QualityDryrun   Capability = "quality.dryrun"
	FunctionExecute Capability = "function.execute"
	MemoryRead      Capability = "memory.read"
	MemoryWrite     Capability = "memory.write"

	// AdminExport creates and reads signed tenant exports.
	AdminExport Capability = "admin.export"
	// AdminAccounts manages service accounts and issues tokens for others.
	AdminAccounts Capability = "admin.accounts"
	// AdminConfig reads and changes tenant configuration.
	AdminConfig Capability = "admin.config"
	// AdminMetrics reads per-tenant counters and server metrics.
	AdminMetrics Capability = "admin.metrics"
)

// Known lists every capability LogLine defines, in a stable order.
var known = []Capability{
	LedgerAppend, LedgerRead, StreamRead, QualityDryrun, FunctionExecute,
	MemoryRead, MemoryWrite, AdminExport, AdminAccounts, AdminConfig, AdminMetrics,
}

// Known returns every capability LogLine defines, in a stable order.
func Known() []Capability { return slices.Clone(known) }

// Built-in role names. A tenant may define more in its tenant.yaml, and
// may not redefine these.
const (
	RoleAdmin  = "admin"
	RoleWriter = "writer"
	RoleReader = "reader"
)

// BuiltinRoles maps the built-in roles to their grants.
func BuiltinRoles() map[string][]string {
	return map[string][]string{
		RoleAdmin:  {"*"},
		RoleWriter: {string(LedgerAppend), string(LedgerRead), string(StreamRead)},
		RoleReader: {string(LedgerRead), string(StreamRead)},
	}
}

// ErrBadGrant is returned by ParseGrant for a malformed grant.
var ErrBadGrant = errors.New("bad capability grant")

// ParseGrant checks one grant as written in configuration or a token:
// a known capability ("ledger.read"), a family wildcard ("memory.*",
// "admin.*") or "*" (everything). Unknown names are refused so that a
// typo never silently grants nothing — or, worse, something later.
func ParseGrant(s string) (string, error) {
	if s == "*" {
		return s, nil
	}
	if family, ok := strings.CutSuffix(s, ".*"); ok {
		for _, c := range known {
			if strings.HasPrefix(string(c), family+".") {
				return s, nil
			}
		}
		return "", fmt.Errorf("%w %q: no capability in family %q", ErrBadGrant, s, family)
	}
	if slices.Contains(known, Capability(s)) {
		return s, nil
	}
	return "", fmt.Errorf("%w %q: unknown capability (known: %s)", ErrBadGrant, s, knownList())
}

func knownList() string {
	names := make([]string, len(known))
	for i, c := range known {
		names[i] = string(c)
	}
	return strings.Join(names, ", ")
}

// Grants is a set of grants (capabilities, family wildcards, "*").
// The zero value grants nothing.
type Grants []string

// Allows reports whether the grants cover c.
func (g Grants) Allows(c Capability) bool {
	for _, s := range g {
		switch {
		case s == "*":
			return true
		case s == string(c):
			return true
		case strings.HasSuffix(s, ".*") && strings.HasPrefix(string(c), s[:len(s)-1]):
			return true
		}
	}
	return false
}

// Normalize returns the grants sorted and without duplicates.
func (g Grants) Normalize() Grants {
	out := slices.Clone(g)
	slices.Sort(out)
	return slices.Compact(out)
}

// Kind says how a principal authenticated.
type Kind string

// Principal kinds.
const (
	KindUser     Kind = "user"     // a person, through OIDC login
	KindService  Kind = "service"  // a service account, through a JWT assertion
	KindOperator Kind = "operator" // `logline token issue` with the data directory
	KindDev      Kind = "dev"      // serve --dev on loopback: auth disabled
)

// Principal is who a request acts as, taken from a verified LLST.
type Principal struct {
	Subject  string // LLID of a person, or the service account id
	Tenant   string
	Roles    []string
	Grants   Grants
	Kind     Kind
	TokenID  string    // the token's jti
	KeyID    string    // the kid that signed the token
	Expires  time.Time // the token's exp
	IssuedAt time.Time
}

// Can reports whether p may use capability c within tenant.
func (p *Principal) Can(tenant string, c Capability) bool {
	return p != nil && p.Tenant == tenant && p.Grants.Allows(c)
}

// llidEncoding is lower-case base32 without padding: ids are case-safe in
// URLs, file names and shells.
var llidEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// LLIDPrefix starts every LogLine identity.
const LLIDPrefix = "llid_"

// LLID returns the stable LogLine identity of an OIDC account. It is keyed
// by issuer and subject — never by email, which an account can change or a
// provider can reassign — so the same person always maps to the same LLID
// and two issuers' equal subjects never collide. Issuers are compared
// exactly; callers normalise known aliases (Google's two issuer strings)
// before calling.
func LLID(issuer, subject string) string {
	h := sha256.New()
	h.Write([]byte("logline-llid-v1\x00"))
	h.Write([]byte(issuer))
	h.Write([]byte{0})
	h.Write([]byte(subject))
	return LLIDPrefix + llidEncoding.EncodeToString(h.Sum(nil)[:20])
}
