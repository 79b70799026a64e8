package llst

import (
	"errors"
	"fmt"
)

// ErrInvalidToken matches every error Verify returns: the gateway answers
// 401 for it. Each error also matches exactly one of the class sentinels
// below, so callers (and tests) can branch on why.
var ErrInvalidToken = errors.New("invalid LLST")

// Verification failure classes. Their messages, and the details Verify
// adds, are safe to show to the caller: they never contain the token, and
// never echo a header value the token supplied.
var (
	// ErrMalformed: not a compact JWS, bad base64 or JSON, too large.
	ErrMalformed = errors.New("malformed token")
	// ErrForbiddenHeader: the header carries a parameter an LLST never
	// has (jwk, jku, x5u, x5c, x5t, crit, b64, or anything else besides
	// alg, typ and kid).
	ErrForbiddenHeader = errors.New("forbidden header parameter")
	// ErrWrongAlgorithm: alg is not EdDSA.
	ErrWrongAlgorithm = errors.New("wrong signature algorithm")
	// ErrWrongType: typ is not exactly "llst+jwt".
	ErrWrongType = errors.New("wrong token type")
	// ErrUnknownKey: kid names no key of the local keyring that verifies
	// now (never existed, not yet published, retired or removed).
	ErrUnknownKey = errors.New("unknown signing key")
	// ErrBadSignature: the signature does not verify with the named key.
	ErrBadSignature = errors.New("bad signature")
	// ErrExpired: exp is more than the skew in the past.
	ErrExpired = errors.New("token expired")
	// ErrNotYetValid: nbf or iat is more than the skew in the future.
	ErrNotYetValid = errors.New("token not yet valid")
	// ErrWrongIssuer: iss is not this server's issuer.
	ErrWrongIssuer = errors.New("wrong issuer")
	// ErrWrongAudience: aud does not contain this server's audience.
	ErrWrongAudience = errors.New("wrong audience")
	// ErrBadClaims: a required claim is missing or ill-typed, or a claim's
	// value is invalid (tenant, kind, a grant, a lifetime over 15 min).
	ErrBadClaims = errors.New("bad claims")
)

// Issue and keyring errors.
var (
	// ErrLifetime: Issue was asked for a lifetime longer than allowed.
	ErrLifetime = errors.New("token lifetime too long")
	// ErrNoSigningKey: the keyring has no key that may sign now, even
	// after a rotation (the key store cannot be written?).
	ErrNoSigningKey = errors.New("no LLST signing key")
	// ErrBadKeyFile: a stored key does not parse or is inconsistent.
	ErrBadKeyFile = errors.New("bad LLST key file")
)

// tokenError is a verification failure: its class sentinel and a
// user-safe detail. It matches ErrInvalidToken and its class.
type tokenError struct {
	class  error
	detail string
}

func (e *tokenError) Error() string {
	if e.detail == "" {
		return ErrInvalidToken.Error() + ": " + e.class.Error()
	}
	return ErrInvalidToken.Error() + ": " + e.class.Error() + ": " + e.detail
}

func (e *tokenError) Unwrap() []error { return []error{ErrInvalidToken, e.class} }

func fail(class error, format string, args ...any) error {
	return &tokenError{class: class, detail: fmt.Sprintf(format, args...)}
}
