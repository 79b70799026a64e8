package gateway

import (
	"crypto/sha256"
	"encoding/base32"
	"strconv"
)

// idempotencyHeader names the request header that makes server-assigned
// ids deterministic.
const idempotencyHeader = "X-Idempotency-Key"

// lowerBase32 is RFC 4648 base32 in lower case without padding.
var lowerBase32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// validToken reports whether s is 1–128 chars of [A-Za-z0-9._:~-], the
// alphabet of span ids and idempotency keys.
func validToken(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.', c == '_', c == ':', c == '~', c == '-':
		default:
			return false
		}
	}
	return true
}

// idempotentID is the id given to a span without one when the request
// carries an idempotency key: "s_" + the first 26 characters of the
// lower-case, unpadded base32 of SHA-256("<tenant>|<key>|<line>"), where
// line is the decimal line number (1 for a single-span request). The same
// request retried yields the same ids, so the store answers duplicates.
func idempotentID(tenant, key string, line int) string {
	b := make([]byte, 0, len(tenant)+len(key)+24)
	b = append(b, tenant...)
	b = append(b, '|')
	b = append(b, key...)
	b = append(b, '|')
	b = strconv.AppendInt(b, int64(line), 10)
	sum := sha256.Sum256(b)
	return "s_" + lowerBase32.EncodeToString(sum[:])[:26]
}
