package llst

import (
	"encoding/base64"
	"strings"
)

// ClaimedTenant returns the tenant claim of token without verifying
// anything — signature, key, times, issuer: "" when the token is not
// three dot-separated segments, its payload is not base64url of a JSON
// object, or it has no tenant claim that is a valid tenant name. It is
// never a basis for access: it only attributes a token Verify refused to
// the tenant it names (the gateway's auth.jwt_invalid_rate).
func ClaimedTenant(token string) string {
	if len(token) > MaxTokenSize {
		return ""
	}
	_, rest, ok := strings.Cut(token, ".")
	payload, _, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 {
		return ""
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return ""
	}
	tenant := ""
	err = walkObject(raw, func(name string, r *objReader) error {
		if name != "tenant" || r.peek() != '"' {
			return r.skip()
		}
		s, err := r.str()
		if tenant == "" {
			tenant = s
		}
		return err
	})
	if err != nil || !ValidTenant(tenant) {
		return ""
	}
	return tenant
}
