package llst

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/logline/logline/internal/auth"
)

// TokenType is the typ header of every LLST.
const TokenType = "llst+jwt"

// Claims is what a caller asks Issue to put in a token; Issue adds iss,
// aud, exp, nbf, iat and jti.
type Claims struct {
	Subject string      // sub: an LLID or a service-account id
	Tenant  string      // the one tenant the token acts in
	Roles   []string    // role names, for display and audit
	Grants  auth.Grants // caps: what the token may do (checked by auth.ParseGrant)
	Kind    auth.Kind   // user, service or operator
	// TTL is the lifetime; 0 means Config.Lifetime (15 min by default).
	// Longer than Config.Lifetime is refused with ErrLifetime.
	TTL time.Duration
}

// wireClaims is the JSON payload of an LLST, in this order.
type wireClaims struct {
	Iss    string   `json:"iss"`
	Sub    string   `json:"sub"`
	Aud    string   `json:"aud"`
	Tenant string   `json:"tenant"`
	Roles  []string `json:"roles"`
	Caps   []string `json:"caps"`
	Kind   string   `json:"kind"`
	Exp    int64    `json:"exp"`
	Nbf    int64    `json:"nbf"`
	Iat    int64    `json:"iat"`
	Jti    string   `json:"jti"`
}

// Issuer signs LLSTs with the keyring's active key. Safe for concurrent use.
type Issuer struct {
	ring *Keyring
}

// NewIssuer returns an Issuer signing with r's keys.
func NewIssuer(r *Keyring) *Issuer { return &Issuer{ring: r} }

// Issue signs a token for c with the current active key and returns it
// with its expiry. It refuses invalid claims (ErrBadClaims) and lifetimes
// over the configured maximum (ErrLifetime). If no key can sign (no
// rotation ran for a whole period), it rotates once, which may write the
// store; ErrNoSigningKey if that does not help.
func (i *Issuer) Issue(ctx context.Context, c Claims) (token string, expires time.Time, err error) {
	cfg := &i.ring.cfg
	ttl := c.TTL
	if ttl == 0 {
		ttl = cfg.Lifetime
	}
	if ttl > cfg.Lifetime {
		return "", time.Time{}, fmt.Errorf("issue LLST: %w: %v asked, at most %v", ErrLifetime, ttl, cfg.Lifetime)
	}
	if ttl < time.Second {
		return "", time.Time{}, fmt.Errorf("issue LLST: %w: lifetime %v under 1s", ErrBadClaims, ttl)
	}
	if err := checkClaims(c.Subject, c.Tenant, string(c.Kind), c.Roles, c.Grants); err != nil {
		return "", time.Time{}, fmt.Errorf("issue LLST: %w: %v", ErrBadClaims, err)
	}
	now := cfg.Now()
	iat := now.Unix()
	exp := iat + int64(ttl/time.Second)
	expires = time.Unix(exp, 0).UTC()

	key := i.ring.signingKey(now, expires)
	if key == nil {
		if err := i.ring.Rotate(ctx, now); err != nil {
			return "", time.Time{}, fmt.Errorf("issue LLST: %w: %w", ErrNoSigningKey, err)
		}
		if key = i.ring.signingKey(now, expires); key == nil {
			return "", time.Time{}, fmt.Errorf("issue LLST: %w", ErrNoSigningKey)
		}
	}

	var id [16]byte
	if _, err := io.ReadFull(cfg.Rand, id[:]); err != nil {
		return "", time.Time{}, fmt.Errorf("issue LLST: token id: %w", err)
	}
	roles := c.Roles
	if roles == nil {
		roles = []string{}
	}
	caps := []string(c.Grants.Normalize())
	if caps == nil {
		caps = []string{}
	}
	payload, err := json.Marshal(wireClaims{
		Iss: cfg.Issuer, Sub: c.Subject, Aud: cfg.Audience, Tenant: c.Tenant,
		Roles: roles, Caps: caps, Kind: string(c.Kind),
		Exp: exp, Nbf: iat, Iat: iat, Jti: base64.RawURLEncoding.EncodeToString(id[:]),
	})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("issue LLST: %w", err)
	}
	jws, err := key.signer.Sign(payload)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("issue LLST: sign with %s: %w", key.ID, err)
	}
	token, err = jws.CompactSerialize()
	if err != nil {
		return "", time.Time{}, fmt.Errorf("issue LLST: %w", err)
	}
	if len(token) > MaxTokenSize {
		return "", time.Time{}, fmt.Errorf("issue LLST: %w: token of %d bytes is over %d (too many roles or grants)", ErrBadClaims, len(token), MaxTokenSize)
	}
	return token, expires, nil
}

// checkClaims checks the claims a caller chooses; Issue and Verify apply
// the same rules. The error is a user-safe detail for ErrBadClaims.
func checkClaims(sub, tenant, kind string, roles []string, caps []string) error {
	if !validSubject(sub) {
		return errors.New("sub must be 1–256 printable ASCII characters without spaces")
	}
	if !ValidTenant(tenant) {
		return errors.New("tenant must be 1–64 of a-z 0-9 _ -")
	}
	switch auth.Kind(kind) {
	case auth.KindUser, auth.KindService, auth.KindOperator:
	default:
		return errors.New("kind must be user, service or operator")
	}
	for _, r := range roles {
		if !validSubject(r) || len(r) > 64 {
			return errors.New("role names must be 1–64 printable ASCII characters without spaces")
		}
	}
	for _, g := range caps {
		if _, err := auth.ParseGrant(g); err != nil {
			return err
		}
	}
	return nil
}

// ValidTenant reports whether s is a well-formed tenant name: 1–64 bytes
// of a-z, 0-9, '_' and '-' (the rule of span.ValidTenant, which this
// package may not import).
func ValidTenant(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// validSubject: 1–256 bytes of printable ASCII without spaces.
func validSubject(s string) bool {
	if len(s) == 0 || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}
