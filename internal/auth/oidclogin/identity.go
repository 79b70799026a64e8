package oidclogin

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/logline/logline/internal/auth"
)

// Google's issuer strings. Google announces GoogleIssuer in discovery but
// may sign the scheme-less form into an id_token's iss.
const (
	GoogleIssuer         = "https://accounts.google.com"
	googleIssuerNoScheme = "accounts.google.com"
)

// NormalizeIssuer maps an issuer to the form LLIDs are computed from.
// Only Google's scheme-less alias is rewritten (to GoogleIssuer); every
// other issuer is returned unchanged, since issuers are compared exactly.
func NormalizeIssuer(iss string) string {
	if iss == googleIssuerNoScheme {
		return GoogleIssuer
	}
	return iss
}

// Identity is the person a verified id_token names. Accounts are keyed by
// Issuer and Subject (LLID), never by Email: an address can change hands.
type Identity struct {
	Issuer        string // normalised (NormalizeIssuer)
	Subject       string // the provider's sub, at most 255 ASCII characters
	LLID          string // auth.LLID(Issuer, Subject)
	Email         string // as the provider sent it; may be empty
	EmailVerified bool   // the provider vouches for Email
	HostedDomain  string // Google's hd: the Workspace domain, "" for consumer accounts
	Name          string
}

// newIdentity builds an Identity from the verified token's issuer,
// subject and claims.
func newIdentity(iss, sub string, c *idClaims) Identity {
	iss = NormalizeIssuer(iss)
	return Identity{
		Issuer:        iss,
		Subject:       sub,
		LLID:          auth.LLID(iss, sub),
		Email:         c.Email,
		EmailVerified: bool(c.EmailVerified),
		HostedDomain:  c.HostedDomain,
		Name:          c.Name,
	}
}

// idClaims are the id_token claims go-oidc leaves to us.
type idClaims struct {
	AuthorizedParty string   `json:"azp"`
	Email           string   `json:"email"`
	EmailVerified   flexBool `json:"email_verified"`
	HostedDomain    string   `json:"hd"`
	Name            string   `json:"name"`
}

// flexBool accepts true/false and the strings "true"/"false" (some
// providers send email_verified as a string).
type flexBool bool

func (b *flexBool) UnmarshalJSON(data []byte) error {
	switch string(data) {
	case "true", `"true"`:
		*b = true
	case "false", `"false"`, "null":
		*b = false
	default:
		var v bool
		if err := json.Unmarshal(data, &v); err != nil {
			return fmt.Errorf("email_verified: %s is not a boolean", data)
		}
		*b = flexBool(v)
	}
	return nil
}

// checkAuthorizedParty applies OpenID Connect Core §3.1.3.7 steps 4–5
// (which go-oidc leaves to the caller): an id_token with several
// audiences must name us in azp, and an azp that is present must be us.
func checkAuthorizedParty(aud []string, azp, clientID string) error {
	switch {
	case azp != "" && azp != clientID:
		return fmt.Errorf("azp %q is not our client id", azp)
	case len(aud) > 1 && azp == "":
		return fmt.Errorf("id_token has %d audiences and no azp", len(aud))
	}
	return nil
}

// checkSubject enforces OpenID Connect Core §2: sub is present and at most
// 255 ASCII characters. go-oidc does not check it, and an empty subject
// would give every such account the same LLID.
func checkSubject(sub string) error {
	if sub == "" {
		return fmt.Errorf("id_token has no sub")
	}
	if len(sub) > 255 {
		return fmt.Errorf("sub is %d bytes long, more than 255", len(sub))
	}
	for i := 0; i < len(sub); i++ {
		if sub[i] < 0x20 || sub[i] >= 0x7f {
			return fmt.Errorf("sub has byte %#x: not printable ASCII", sub[i])
		}
	}
	return nil
}

// DomainRule says which claim AllowedDomains restricts.
type DomainRule int

const (
	// DomainByHostedDomain (the default) admits an account whose hd claim
	// is an allowed domain. Google sets hd only for accounts managed by a
	// Workspace or Cloud organisation, so it proves the domain's owner
	// controls the account; Google recommends it for domain restriction.
	// Consumer accounts (no hd) are refused.
	DomainByHostedDomain DomainRule = iota
	// DomainByEmail admits an account whose email_verified is true and
	// whose email's domain is allowed, for providers that send no hd. It
	// is weaker: a verified address proves only that the account could
	// read mail there once (with Google, a personal account can be made
	// with a work address), so prefer DomainByHostedDomain with Google.
	DomainByEmail
)

// String names the rule as configuration spells it.
func (r DomainRule) String() string {
	switch r {
	case DomainByHostedDomain:
		return "hd"
	case DomainByEmail:
		return "email"
	}
	return fmt.Sprintf("DomainRule(%d)", int(r))
}

// ParseDomainRule reads "hd" or "email".
func ParseDomainRule(s string) (DomainRule, error) {
	switch s {
	case "hd", "":
		return DomainByHostedDomain, nil
	case "email":
		return DomainByEmail, nil
	}
	return 0, fmt.Errorf("domain rule %q: want hd or email", s)
}

// checkDomain applies the domain restriction; allowed is lower-case and
// empty means no restriction. Domains compare exactly (a subdomain is
// another domain), ignoring ASCII case.
func checkDomain(id Identity, rule DomainRule, allowed []string) *Error {
	if len(allowed) == 0 {
		return nil
	}
	switch rule {
	case DomainByEmail:
		if !id.EmailVerified {
			return ErrEmailUnverified.with(fmt.Errorf("email %q not verified", id.Email))
		}
		at := strings.LastIndexByte(id.Email, '@')
		if at < 0 || !slices.Contains(allowed, strings.ToLower(id.Email[at+1:])) {
			return ErrDomainNotAllowed.with(fmt.Errorf("email %q not in an allowed domain", id.Email))
		}
	default:
		if id.HostedDomain == "" || !slices.Contains(allowed, strings.ToLower(id.HostedDomain)) {
			return ErrDomainNotAllowed.with(fmt.Errorf("hosted domain %q not allowed", id.HostedDomain))
		}
	}
	return nil
}
