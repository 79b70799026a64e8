package tenantcfg

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/logline/logline/internal/auth"
)

// MaxFileSize bounds a tenant.yaml; a larger file is refused unread.
const MaxFileSize = 1 << 20

// maxErrors bounds the errors reported for one file.
const maxErrors = 20

// Version is the tenant.yaml schema version this package reads.
const Version = 1

// Parse checks and decodes one tenant's configuration. file names the
// file in error messages; data is its content. It returns either a whole
// Tenant or an ErrorList (every problem found, at most 20), never a
// partial Tenant. An empty file (or one holding only comments or null)
// is the tenant's Defaults. Parse is what Load and the Watcher use, and
// what an API that writes tenant.yaml should call before writing.
func Parse(tenant, file string, data []byte) (*Tenant, error) {
	p := &parser{file: file, tenant: tenant}
	t := p.parse(data)
	if len(p.errs) > 0 {
		p.errs.Sort()
		return nil, p.errs
	}
	t.name, t.file = tenant, file
	sum := sha256.Sum256(data)
	t.digest = hex.EncodeToString(sum[:])
	return t, nil
}

type parser struct {
	tenant, file string
	errs         ErrorList
}

func (p *parser) errorf(n *yaml.Node, format string, args ...any) {
	if len(p.errs) > maxErrors {
		return
	}
	e := &Error{Tenant: p.tenant, File: p.file}
	if n != nil {
		e.Line, e.Col = n.Line, n.Column
	}
	if len(p.errs) == maxErrors {
		e.Msg = "too many errors"
	} else {
		e.Msg = fmt.Sprintf(format, args...)
	}
	p.errs = append(p.errs, e)
}

// yamlLine finds "line N:" in a yaml.v3 error message.
var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): `)

func (p *parser) syntax(err error) {
	msg := err.Error()
	e := &Error{Tenant: p.tenant, File: p.file}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
	}
	e.Msg = "YAML: " + strings.TrimPrefix(msg, "yaml: ")
	p.errs = append(p.errs, e)
}

func (p *parser) parse(data []byte) *Tenant {
	t := Defaults(p.tenant)
	if len(data) > MaxFileSize {
		p.errorf(nil, "file is %d bytes; at most %d allowed", len(data), MaxFileSize)
		return t
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if !errors.Is(err, io.EOF) {
			p.syntax(err)
		}
		return t
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			p.syntax(err)
		} else {
			p.errorf(&extra, "only one YAML document is allowed")
		}
		return t
	}
	if len(doc.Content) == 0 {
		return t
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		return t
	}

	// Roles first: members and quotas name them.
	sections := map[string]*yaml.Node{}
	p.mapping(root, "the top level", []string{"version", "features", "roles", "members", "login", "quotas"},
		func(key string, _, v *yaml.Node) { sections[key] = v })
	if v := sections["version"]; v != nil {
		if n, ok := p.integer(v, "version"); ok && n != Version {
			p.errorf(v, "unsupported version %d (this LogLine reads version %d)", n, Version)
		}
	}
	if v := sections["features"]; v != nil {
		p.features(v, &t.features)
	}
	if v := sections["roles"]; v != nil {
		p.roles(v, t.roles)
	}
	if v := sections["members"]; v != nil {
		p.members(v, t)
	}
	if v := sections["login"]; v != nil {
		p.login(v, t)
	}
	if v := sections["quotas"]; v != nil {
		p.quotas(v, t)
	}
	return t
}

// mapping walks a mapping whose keys must be among known (all keys if
// known is nil), refusing aliases, non-string and duplicate keys.
func (p *parser) mapping(n *yaml.Node, where string, known []string, fn func(key string, k, v *yaml.Node)) {
	if !p.noAlias(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "%s must be a mapping, not %s", where, describe(n))
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !p.noAlias(k) {
			continue
		}
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			p.errorf(k, "YAML merge keys (<<) are not allowed")
			continue
		}
		if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" {
			p.errorf(k, "keys in %s must be plain names, not %s", where, describe(k))
			continue
		}
		if line, dup := seen[k.Value]; dup {
			p.errorf(k, "duplicate key %q in %s (first at line %d)", k.Value, where, line)
			continue
		}
		seen[k.Value] = k.Line
		if known != nil && !slices.Contains(known, k.Value) {
			if k.Value == "email" && where == "a member" {
				p.errorf(k, "members cannot be selected by email: an address can be changed or reassigned; use llid, issuer+subject or hosted_domain")
				continue
			}
			p.errorf(k, "unknown key %q in %s (known: %s)", k.Value, where, strings.Join(known, ", "))
			continue
		}
		if !p.noAlias(v) {
			continue
		}
		fn(k.Value, k, v)
	}
}

func (p *parser) noAlias(n *yaml.Node) bool {
	if n.Kind == yaml.AliasNode {
		p.errorf(n, "YAML aliases are not allowed")
		return false
	}
	return true
}

// describe names what a node is, for "want X, not Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "null"
		case "!!str":
			return fmt.Sprintf("the string %q", clip(n.Value))
		case "!!bool", "!!int", "!!float":
			return fmt.Sprintf("%s %s", n.ShortTag()[2:], clip(n.Value))
		}
		return "a " + clip(n.ShortTag()) + " value"
	}
	return "nothing"
}

// clip shortens an echoed value so that messages stay one readable line.
func clip(s string) string {
	if len(s) > 64 {
		return s[:61] + "..."
	}
	return s
}

func (p *parser) str(n *yaml.Node, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		p.errorf(n, "%s must be a string, not %s", what, describe(n))
		return "", false
	}
	return n.Value, true
}

func (p *parser) boolean(n *yaml.Node, what string) (bool, bool) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
		p.errorf(n, "%s must be true or false, not %s", what, describe(n))
		return false, false
	}
	var b bool
	if err := n.Decode(&b); err != nil {
		p.errorf(n, "%s must be true or false, not %s", what, describe(n))
		return false, false
	}
	return b, true
}

func (p *parser) integer(n *yaml.Node, what string) (int64, bool) {
	var i int64
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&i) != nil {
		p.errorf(n, "%s must be an integer, not %s", what, describe(n))
		return 0, false
	}
	return i, true
}

// list returns the items of a sequence, refusing aliases.
func (p *parser) list(n *yaml.Node, what string) ([]*yaml.Node, bool) {
	if !p.noAlias(n) {
		return nil, false
	}
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "%s must be a list, not %s", what, describe(n))
		return nil, false
	}
	out := make([]*yaml.Node, 0, len(n.Content))
	for _, c := range n.Content {
		if p.noAlias(c) {
			out = append(out, c)
		}
	}
	return out, true
}

func (p *parser) features(n *yaml.Node, f *Features) {
	p.mapping(n, "features", []string{"trajectory", "diamond"}, func(key string, _, v *yaml.Node) {
		b, ok := p.boolean(v, "features."+key)
		if !ok {
			return
		}
		switch key {
		case "trajectory":
			f.Trajectory = b
		case "diamond":
			f.Diamond = b
		}
	})
}

// roleName is the rule for role names: they appear in tokens, URLs and
// metrics labels.
var roleName = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`)

func (p *parser) roles(n *yaml.Node, roles map[string]auth.Grants) {
	builtin := auth.BuiltinRoles()
	p.mapping(n, "roles", nil, func(name string, k, v *yaml.Node) {
		switch {
		case !roleName.MatchString(name):
			p.errorf(k, "role name %q: want 1-64 characters from a-z, 0-9, _ and -, starting with a letter", clip(name))
			return
		case builtin[name] != nil:
			p.errorf(k, "role %q is built in and cannot be redefined", name)
			return
		}
		items, ok := p.list(v, fmt.Sprintf("role %q", name))
		if !ok {
			return
		}
		if len(items) == 0 {
			p.errorf(v, "role %q grants nothing; list its grants or remove it", name)
			return
		}
		var gs auth.Grants
		for _, it := range items {
			s, ok := p.str(it, fmt.Sprintf("a grant of role %q", name))
			if !ok {
				continue
			}
			g, err := auth.ParseGrant(s)
			if err != nil {
				p.errorf(it, "role %q: %v", name, err)
				continue
			}
			gs = append(gs, g)
		}
		roles[name] = gs.Normalize()
	})
}

func (p *parser) roleList(n *yaml.Node, t *Tenant, what string) []string {
	items, ok := p.list(n, what)
	if !ok {
		return nil
	}
	if len(items) == 0 {
		p.errorf(n, "%s is empty", what)
		return nil
	}
	var out []string
	for _, it := range items {
		s, ok := p.str(it, "a role in "+what)
		if !ok {
			continue
		}
		if !t.HasRole(s) {
			p.errorf(it, "unknown role %q (roles: %s)", clip(s), strings.Join(t.Roles(), ", "))
			continue
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

var llidRule = regexp.MustCompile(`^` + auth.LLIDPrefix + `[a-z2-7]{32}$`)

func (p *parser) members(n *yaml.Node, t *Tenant) {
	items, ok := p.list(n, "members")
	if !ok {
		return
	}
	t.byLLID = map[string][]string{}
	for _, it := range items {
		var m Member
		m.Line = it.Line
		var rolesNode *yaml.Node
		errs := len(p.errs)
		p.mapping(it, "a member", []string{"llid", "issuer", "subject", "hosted_domain", "roles", "note"}, func(key string, _, v *yaml.Node) {
			switch key {
			case "llid":
				if s, ok := p.str(v, "llid"); ok {
					if !llidRule.MatchString(s) {
						p.errorf(v, "llid %q: want %q and 32 characters from a-z and 2-7", clip(s), auth.LLIDPrefix)
					}
					m.LLID = s
				}
			case "issuer":
				if s, ok := p.str(v, "issuer"); ok {
					if err := checkIssuer(s); err != nil {
						p.errorf(v, "%v", err)
					}
					m.Issuer = s
				}
			case "subject":
				// Google's subjects are digits; accept them unquoted, as written.
				if v.Kind != yaml.ScalarNode || v.ShortTag() == "!!null" || v.Value == "" {
					p.errorf(v, "subject must be a string, not %s", describe(v))
				} else if len(v.Value) > 255 {
					p.errorf(v, "subject is longer than 255 characters")
				} else {
					m.Subject = v.Value
				}
			case "hosted_domain":
				if s, ok := p.str(v, "hosted_domain"); ok {
					d, err := checkDomain(s)
					if err != nil {
						p.errorf(v, "hosted_domain: %v", err)
						d = strings.ToLower(s)
					}
					m.HostedDomain = d
				}
			case "roles":
				rolesNode = v
			case "note":
				if s, ok := p.str(v, "note"); ok {
					m.Note = s
				}
			}
		})
		if it.Kind != yaml.MappingNode {
			continue
		}
		switch {
		case m.LLID != "" && (m.Issuer != "" || m.Subject != "" || m.HostedDomain != ""):
			p.errorf(it, "a member selected by llid cannot also name issuer, subject or hosted_domain")
		case m.HostedDomain != "" && m.Subject != "":
			p.errorf(it, "a member names either subject or hosted_domain, not both")
		case m.Subject != "" && m.Issuer == "":
			p.errorf(it, "a member selected by subject needs its issuer")
		case m.Issuer != "" && m.Subject == "" && m.HostedDomain == "":
			p.errorf(it, "a member with an issuer needs a subject or a hosted_domain")
		case m.LLID == "" && m.Subject == "" && m.HostedDomain == "" && len(p.errs) == errs:
			p.errorf(it, "a member needs llid, issuer and subject, or hosted_domain")
		}
		if m.HostedDomain != "" && m.Issuer == "" {
			m.Issuer = GoogleIssuer
		}
		if rolesNode == nil {
			p.errorf(it, "a member needs roles")
			continue
		}
		m.Roles = p.roleList(rolesNode, t, "roles")
		if len(p.errs) > errs {
			continue
		}
		t.members = append(t.members, m)
		switch {
		case m.LLID != "":
			t.byLLID[m.LLID] = append(t.byLLID[m.LLID], m.Roles...)
		case m.Subject != "":
			llid := auth.LLID(m.Issuer, m.Subject)
			t.byLLID[llid] = append(t.byLLID[llid], m.Roles...)
		}
	}
}

// checkIssuer accepts an https URL, or an http one on a loopback host (a
// test provider); the issuer is compared exactly with the id_token's.
func checkIssuer(s string) error {
	u, err := url.Parse(s)
	bad := err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != ""
	if !bad && u.Scheme == "http" {
		host := u.Hostname()
		ip := net.ParseIP(host)
		bad = host != "localhost" && (ip == nil || !ip.IsLoopback())
	} else if !bad {
		bad = u.Scheme != "https"
	}
	if bad {
		return fmt.Errorf("issuer %q must be an https URL without query or fragment (Google's is %s)", clip(s), GoogleIssuer)
	}
	return nil
}

// checkDomain accepts a DNS name with at least two labels and returns it
// in lower case.
func checkDomain(s string) (string, error) {
	d := strings.ToLower(s)
	labels := strings.Split(d, ".")
	ok := len(d) <= 253 && len(labels) >= 2
	for _, l := range labels {
		if !ok {
			break
		}
		ok = len(l) >= 1 && len(l) <= 63 && l[0] != '-' && l[len(l)-1] != '-'
		for _, c := range []byte(l) {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				ok = false
			}
		}
	}
	if !ok {
		return "", fmt.Errorf("%q is not a domain name such as example.com", clip(s))
	}
	return d, nil
}

func (p *parser) login(n *yaml.Node, t *Tenant) {
	p.mapping(n, "login", []string{"allowed_domains"}, func(_ string, _, v *yaml.Node) {
		items, ok := p.list(v, "login.allowed_domains")
		if !ok {
			return
		}
		if len(items) == 0 {
			p.errorf(v, "login.allowed_domains is empty, which would let nobody in; remove it to allow any domain")
			return
		}
		domains := []string{}
		for _, it := range items {
			s, ok := p.str(it, "a domain in login.allowed_domains")
			if !ok {
				continue
			}
			d, err := checkDomain(s)
			if err != nil {
				p.errorf(it, "login.allowed_domains: %v", err)
				continue
			}
			domains = append(domains, d)
		}
		slices.Sort(domains)
		t.domains = slices.Compact(domains)
	})
}

var bucketKeys = []string{"requests", "spans", "bytes"}

func (p *parser) quotas(n *yaml.Node, t *Tenant) {
	p.mapping(n, "quotas", []string{"requests", "spans", "bytes", "roles"}, func(key string, _, v *yaml.Node) {
		if key == "roles" {
			p.roleQuotas(v, t)
			return
		}
		r, ok := p.rate(v, "quotas."+key, key == "bytes")
		if !ok {
			return
		}
		switch key {
		case "requests":
			t.quotas.Tenant.Requests = r
		case "spans":
			t.quotas.Tenant.Spans = r
		case "bytes":
			t.quotas.Tenant.Bytes = r
		}
	})
}

func (p *parser) roleQuotas(n *yaml.Node, t *Tenant) {
	t.quotas.Roles = map[string]Limits{}
	p.mapping(n, "quotas.roles", nil, func(role string, k, v *yaml.Node) {
		if !t.HasRole(role) {
			p.errorf(k, "quotas.roles: unknown role %q (roles: %s)", clip(role), strings.Join(t.Roles(), ", "))
			return
		}
		l := Limits{Requests: unlimited(), Spans: unlimited(), Bytes: unlimited()}
		where := "quotas.roles." + role
		p.mapping(v, where, bucketKeys, func(key string, _, v *yaml.Node) {
			r, ok := p.rate(v, where+"."+key, key == "bytes")
			if !ok {
				return
			}
			switch key {
			case "requests":
				l.Requests = r
			case "spans":
				l.Spans = r
			case "bytes":
				l.Bytes = r
			}
		})
		t.quotas.Roles[role] = l
	})
}

// maxRate bounds counted rates (requests, spans); sizes are bounded by
// maxSize.
const maxRate = 1e9

// rate reads a bucket: a mapping {rate, burst}, or just the rate. burst
// defaults to twice the rate (at least 1).
func (p *parser) rate(n *yaml.Node, what string, bytes bool) (Rate, bool) {
	var rateNode, burstNode *yaml.Node
	if n.Kind == yaml.MappingNode {
		errs := len(p.errs)
		p.mapping(n, what, []string{"rate", "burst"}, func(key string, _, v *yaml.Node) {
			if key == "rate" {
				rateNode = v
			} else {
				burstNode = v
			}
		})
		if len(p.errs) > errs {
			return Rate{}, false
		}
		if rateNode == nil {
			p.errorf(n, "%s needs a rate", what)
			return Rate{}, false
		}
	} else {
		rateNode = n
	}
	if rateNode.Kind == yaml.ScalarNode && rateNode.ShortTag() == "!!str" && rateNode.Value == "unlimited" {
		if burstNode != nil {
			p.errorf(burstNode, "%s: an unlimited rate takes no burst", what)
			return Rate{}, false
		}
		return unlimited(), true
	}
	perSec, ok := p.amount(rateNode, what+" rate", bytes, true)
	if !ok {
		return Rate{}, false
	}
	r := Rate{PerSecond: perSec, Burst: int64(math.Max(1, math.Ceil(2*perSec)))}
	if burstNode != nil {
		b, ok := p.amount(burstNode, what+" burst", bytes, false)
		if !ok {
			return Rate{}, false
		}
		r.Burst = int64(b)
	}
	return r, true
}

// amount reads a positive rate or burst: a number of requests or spans
// (fractions allowed for rates), or a size for bytes.
func (p *parser) amount(n *yaml.Node, what string, bytes, fraction bool) (float64, bool) {
	if n.Kind != yaml.ScalarNode {
		p.errorf(n, "%s must be a number, not %s", what, describe(n))
		return 0, false
	}
	var v float64
	switch tag := n.ShortTag(); {
	case bytes && (tag == "!!str" || tag == "!!int"):
		sz, err := parseSize(n.Value)
		if err != nil {
			p.errorf(n, "%s: %v", what, err)
			return 0, false
		}
		v = float64(sz)
	case !bytes && (tag == "!!int" || tag == "!!float" && fraction):
		if err := n.Decode(&v); err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			p.errorf(n, "%s must be a number, not %s", what, describe(n))
			return 0, false
		}
		if v > maxRate {
			p.errorf(n, "%s is above %g", what, float64(maxRate))
			return 0, false
		}
	default:
		want := "a number"
		switch {
		case bytes:
			want = `a size such as "50MB"`
		case !fraction:
			want = "a whole number"
		}
		p.errorf(n, "%s must be %s, not %s", what, want, describe(n))
		return 0, false
	}
	if v <= 0 || !fraction && v < 1 {
		p.errorf(n, "%s must be positive", what)
		return 0, false
	}
	return v, true
}
