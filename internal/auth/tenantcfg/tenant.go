package tenantcfg

import (
	"maps"
	"slices"
	"strings"

	"github.com/logline/logline/internal/auth"
)

// GoogleIssuer is the issuer a hosted_domain member matches when its entry
// names none: Google's `hd` claim is authoritative only in Google's own
// id_tokens.
const GoogleIssuer = "https://accounts.google.com"

// Features are the per-tenant switches of v8 §5.3. Both are off by default.
type Features struct {
	Trajectory bool // derive trajectories from the tenant's spans
	Diamond    bool // the diamond quality tier
}

// Rate is one token bucket: PerSecond tokens refill each second, up to
// Burst. The zero Rate is "unlimited". The fields and their meaning are
// those of quota.Limit, so quota.Limit(r) converts.
type Rate struct {
	PerSecond float64
	Burst     int64
}

// Unlimited reports whether r imposes no limit.
func (r Rate) Unlimited() bool { return r.PerSecond == 0 }

// unlimited is the Rate of a bucket that never runs dry.
func unlimited() Rate { return Rate{} }

// Limits are the three buckets LogLine charges a request to: one token per
// request, one per span appended or read, one per byte of request body.
type Limits struct {
	Requests Rate
	Spans    Rate
	Bytes    Rate
}

// The default per-tenant limits, used when tenant.yaml sets none (or has
// no quotas section, or the tenant has no tenant.yaml at all). They are
// set well above what one tenant can send through one node of these
// machines (about 100,000 spans/s), so that they stop a runaway client
// without throttling ordinary use; a shared server sets real ones per
// tenant.
const (
	DefaultRequestsPerSecond = 5_000
	DefaultRequestsBurst     = 10_000
	DefaultSpansPerSecond    = 250_000
	DefaultSpansBurst        = 500_000
	DefaultBytesPerSecond    = 256_000_000 // 256MB/s
	DefaultBytesBurst        = 512_000_000 // 512MB
)

// DefaultLimits returns the per-tenant limits that apply when a tenant's
// configuration sets none.
func DefaultLimits() Limits {
	return Limits{
		Requests: Rate{PerSecond: DefaultRequestsPerSecond, Burst: DefaultRequestsBurst},
		Spans:    Rate{PerSecond: DefaultSpansPerSecond, Burst: DefaultSpansBurst},
		Bytes:    Rate{PerSecond: DefaultBytesPerSecond, Burst: DefaultBytesBurst},
	}
}

// Quotas are a tenant's token-bucket limits: Tenant for all of the
// tenant's traffic together, Roles for the traffic of all principals
// holding a role (a bucket per tenant and role, shared by those
// principals). A role without an entry, and each bucket a role entry
// leaves out, is unlimited at the role level — the tenant's buckets
// still apply.
type Quotas struct {
	Tenant Limits
	Roles  map[string]Limits
}

// Member is one entry of tenant.yaml's members list: who it selects and
// which roles it gives. Exactly one selector is set: LLID; Issuer and
// Subject; or HostedDomain (with Issuer, GoogleIssuer unless written).
type Member struct {
	LLID         string
	Issuer       string
	Subject      string
	HostedDomain string
	Roles        []string
	Note         string // free text for people reading the file
	Line         int    // where the entry starts in its file
}

// Identity is what RolesFor knows about a person who logged in: their
// LLID and, at login, the issuer, subject and Google hosted domain (`hd`
// claim) of the verified id_token. Issuer must be normalised the way
// auth.LLID expects (Google as GoogleIssuer).
type Identity struct {
	LLID         string
	Issuer       string
	Subject      string
	HostedDomain string
}

// Tenant is one tenant's configuration, immutable once loaded: safe for
// concurrent use, and every method returns copies.
type Tenant struct {
	name     string
	file     string // "" for defaults
	digest   string // hex SHA-256 of the file, "" for defaults
	features Features
	roles    map[string]auth.Grants // built-ins included, normalised
	members  []Member
	byLLID   map[string][]string // llid (also of issuer+subject members) → roles
	domains  []string            // login.allowed_domains, lower case; nil: any
	quotas   Quotas
}

// Defaults returns the configuration of a tenant that has no tenant.yaml:
// no members, the built-in roles only, DefaultLimits, features off.
func Defaults(name string) *Tenant {
	t := &Tenant{name: name, roles: builtinGrants()}
	t.quotas.Tenant = DefaultLimits()
	return t
}

func builtinGrants() map[string]auth.Grants {
	out := map[string]auth.Grants{}
	for name, gs := range auth.BuiltinRoles() {
		out[name] = auth.Grants(gs).Normalize()
	}
	return out
}

// Name is the tenant's name.
func (t *Tenant) Name() string { return t.name }

// File is the file the configuration came from; "" for Defaults.
func (t *Tenant) File() string { return t.file }

// Digest is the hex SHA-256 of the file's bytes ("" for Defaults): equal
// digests mean equal configurations.
func (t *Tenant) Digest() string { return t.digest }

// Features returns the tenant's feature switches.
func (t *Tenant) Features() Features { return t.features }

// Roles returns every role name the tenant knows, built-ins included,
// sorted.
func (t *Tenant) Roles() []string { return slices.Sorted(maps.Keys(t.roles)) }

// HasRole reports whether role is a built-in or tenant-defined role. The
// lead checks a service account's roles with it.
func (t *Tenant) HasRole(role string) bool { _, ok := t.roles[role]; return ok }

// Grants returns the union of the grants of roles, normalised. Roles the
// tenant does not know grant nothing (deny by default).
func (t *Tenant) Grants(roles []string) auth.Grants {
	var out auth.Grants
	for _, r := range roles {
		out = append(out, t.roles[r]...)
	}
	return out.Normalize()
}

// Members returns a copy of the members list, in file order.
func (t *Tenant) Members() []Member {
	out := slices.Clone(t.members)
	for i := range out {
		out[i].Roles = slices.Clone(out[i].Roles)
	}
	return out
}

// AllowedDomains returns login.allowed_domains (lower case), or nil when
// the tenant does not restrict login.
func (t *Tenant) AllowedDomains() []string { return slices.Clone(t.domains) }

// LoginAllowed reports whether a person whose id_token carries the hosted
// domain hd ("" for none) may act in this tenant at all.
func (t *Tenant) LoginAllowed(hd string) bool {
	return t.domains == nil || slices.Contains(t.domains, strings.ToLower(hd))
}

// RolesFor returns the roles tenant.yaml gives a person, sorted and
// without duplicates; nil when none does or when login.allowed_domains
// excludes their hosted domain. An Identity with Issuer and Subject but
// no LLID is matched as auth.LLID(Issuer, Subject); hosted_domain entries
// match only an Identity that carries Issuer.
func (t *Tenant) RolesFor(id Identity) []string {
	if !t.LoginAllowed(id.HostedDomain) {
		return nil
	}
	llid := id.LLID
	if llid == "" && id.Issuer != "" && id.Subject != "" {
		llid = auth.LLID(id.Issuer, id.Subject)
	}
	var out []string
	if llid != "" {
		out = append(out, t.byLLID[llid]...)
	}
	if hd := strings.ToLower(id.HostedDomain); hd != "" && id.Issuer != "" {
		for _, m := range t.members {
			if m.HostedDomain != "" && m.HostedDomain == hd && m.Issuer == id.Issuer {
				out = append(out, m.Roles...)
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Quotas returns a copy of the tenant's limits.
func (t *Tenant) Quotas() Quotas {
	return Quotas{Tenant: t.quotas.Tenant, Roles: maps.Clone(t.quotas.Roles)}
}

// TenantLimits returns the limits on all of the tenant's traffic.
func (t *Tenant) TenantLimits() Limits { return t.quotas.Tenant }

// RoleLimits returns the limits on the traffic of role's holders, and
// false when tenant.yaml sets none for role.
func (t *Tenant) RoleLimits(role string) (Limits, bool) {
	l, ok := t.quotas.Roles[role]
	return l, ok
}
