package serviceacct

import (
	"bytes"
	"container/heap"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Verification failures. Every error Verify returns matches exactly one
// of them and, except ErrBusy, ErrInvalidAssertion too. Their messages
// (including the detail Verify adds) are safe to send to the client:
// they name what is wrong, never key material or another account.
var (
	// ErrInvalidAssertion matches every refusal of an assertion (RFC 6749
	// invalid_grant).
	ErrInvalidAssertion = errors.New("invalid assertion")

	ErrMalformed      = errors.New("malformed assertion")
	ErrAlgorithm      = errors.New("assertion algorithm not allowed")
	ErrHeader         = errors.New("assertion header not allowed")
	ErrUnknownAccount = errors.New("unknown service account")
	ErrKeyMismatch    = errors.New("assertion key id is not the account's key")
	ErrSignature      = errors.New("assertion signature invalid")
	ErrDisabled       = errors.New("service account disabled")
	ErrClaims         = errors.New("assertion claims invalid")
	ErrAudience       = errors.New("assertion audience is not this token endpoint")
	ErrExpired        = errors.New("assertion expired")
	ErrNotYetValid    = errors.New("assertion not yet valid")
	ErrLifetime       = errors.New("assertion lifetime longer than 5 minutes")
	ErrReplay         = errors.New("assertion already used")

	// ErrBusy: the replay cache is full of unexpired assertions; retry
	// later (RFC 6749 temporarily_unavailable, HTTP 503). Not an invalid
	// assertion.
	ErrBusy = errors.New("too many assertions in flight; retry later")
)

type verifyError struct {
	kind   error
	detail string
}

func (e *verifyError) Error() string {
	if e.detail == "" {
		return e.kind.Error()
	}
	return e.kind.Error() + ": " + e.detail
}

func (e *verifyError) Unwrap() error { return e.kind }

func (e *verifyError) Is(target error) bool {
	return target == ErrInvalidAssertion && e.kind != ErrBusy
}

func fail(kind error, format string, args ...any) error {
	return &verifyError{kind: kind, detail: fmt.Sprintf(format, args...)}
}

// AccountLookup finds accounts by id; *Registry and *Accounts implement it.
type AccountLookup interface {
	Lookup(id string) (Account, bool)
}

var (
	_ AccountLookup = (*Registry)(nil)
	_ AccountLookup = (*Accounts)(nil)
)

// Verification limits.
const (
	DefaultSkew            = 60 * time.Second
	DefaultReplayCacheSize = 100_000
	MaxAssertionSize       = 8 << 10
	maxJTI                 = 256
)

// VerifierConfig configures a Verifier.
type VerifierConfig struct {
	Accounts AccountLookup    // required: usually the Registry
	Now      func() time.Time // time.Now if nil
	Skew     time.Duration    // clock tolerance; DefaultSkew if zero

	// ReplayCacheSize bounds the jti values remembered until their
	// assertions expire; DefaultReplayCacheSize if zero. When it is full
	// of unexpired entries Verify fails closed with ErrBusy.
	ReplayCacheSize int
}

// Verifier checks RFC 7523 assertions made by service accounts. Safe for
// concurrent use.
type Verifier struct {
	accounts AccountLookup
	now      func() time.Time
	skew     time.Duration
	replay   replayCache
}

// NewVerifier returns a Verifier; cfg.Accounts is required.
func NewVerifier(cfg VerifierConfig) *Verifier {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Skew <= 0 {
		cfg.Skew = DefaultSkew
	}
	if cfg.ReplayCacheSize <= 0 {
		cfg.ReplayCacheSize = DefaultReplayCacheSize
	}
	return &Verifier{accounts: cfg.Accounts, now: cfg.Now, skew: cfg.Skew,
		replay: replayCache{max: cfg.ReplayCacheSize, seen: map[string]time.Time{}}}
}

var algorithms = []jose.SignatureAlgorithm{jose.EdDSA}

// Verify checks an assertion presented at the token endpoint whose URL is
// audience, and returns the account it proves. In order: the header
// holds only alg (= EdDSA, pinned), kid and typ (JWT if present) — an
// embedded jwk, jku, x5u, x5c, crit or anything else is refused; iss
// names a known account whose key id is kid; the signature verifies with
// that account's key; the account is enabled; sub = iss; aud is exactly
// audience; exp and iat are present, exp − iat ≤ 5 min, and with ±Skew
// now is within [iat, exp] and not before nbf; jti is present and was
// not seen before (it is remembered until the assertion expires).
// Nothing named by the assertion is fetched.
func (v *Verifier) Verify(ctx context.Context, assertion, audience string) (Account, error) {
	if err := ctx.Err(); err != nil {
		return Account{}, err
	}
	if audience == "" {
		return Account{}, errors.New("serviceacct: Verify without an audience")
	}
	if len(assertion) > MaxAssertionSize {
		return Account{}, fail(ErrMalformed, "longer than %d bytes", MaxAssertionSize)
	}
	kid, err := checkHeader(assertion)
	if err != nil {
		return Account{}, err
	}
	tok, err := jwt.ParseSigned(assertion, algorithms)
	if err != nil {
		return Account{}, fail(ErrMalformed, "not a signed JWT")
	}
	var unverified struct {
		Issuer string `json:"iss"`
	}
	if err := tok.UnsafeClaimsWithoutVerification(&unverified); err != nil {
		return Account{}, fail(ErrMalformed, "claims are not a JSON object")
	}
	if !ValidID(unverified.Issuer) {
		return Account{}, fail(ErrUnknownAccount, "iss is not a service account id")
	}
	acct, ok := v.accounts.Lookup(unverified.Issuer)
	if !ok {
		return Account{}, fail(ErrUnknownAccount, "%s", unverified.Issuer)
	}
	if kid != acct.KeyID {
		return Account{}, fail(ErrKeyMismatch, "")
	}
	var c jwt.Claims
	if err := tok.Claims(acct.PublicKey, &c); err != nil {
		return Account{}, fail(ErrSignature, "")
	}
	// From here the claims are the account's own words.
	if acct.Disabled {
		return Account{}, fail(ErrDisabled, "%s", acct.ID)
	}
	if c.Issuer != acct.ID || c.Subject != c.Issuer {
		return Account{}, fail(ErrClaims, "sub must equal iss")
	}
	if len(c.Audience) != 1 || c.Audience[0] != audience {
		return Account{}, fail(ErrAudience, "want aud %q", audience)
	}
	if c.Expiry == nil || c.IssuedAt == nil {
		return Account{}, fail(ErrClaims, "exp and iat are required")
	}
	exp, iat := c.Expiry.Time(), c.IssuedAt.Time()
	if !exp.After(iat) {
		return Account{}, fail(ErrClaims, "exp must be after iat")
	}
	if exp.Sub(iat) > MaxAssertionLifetime {
		return Account{}, fail(ErrLifetime, "")
	}
	now := v.now()
	if now.After(exp.Add(v.skew)) {
		return Account{}, fail(ErrExpired, "")
	}
	if iat.After(now.Add(v.skew)) {
		return Account{}, fail(ErrNotYetValid, "iat is in the future")
	}
	if c.NotBefore != nil && c.NotBefore.Time().After(now.Add(v.skew)) {
		return Account{}, fail(ErrNotYetValid, "nbf is in the future")
	}
	if c.ID == "" || len(c.ID) > maxJTI {
		return Account{}, fail(ErrClaims, "jti must be 1-%d characters", maxJTI)
	}
	if err := v.replay.add(acct.ID+"\x00"+c.ID, exp.Add(v.skew), now); err != nil {
		return Account{}, err
	}
	return acct, nil
}

// checkHeader reads the protected header strictly: a JSON object with
// alg, kid and optionally typ, each once, all strings; it returns kid.
func checkHeader(assertion string) (string, error) {
	h, _, ok := strings.Cut(assertion, ".")
	if !ok {
		return "", fail(ErrMalformed, "not a compact JWS")
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(h)
	if err != nil {
		return "", fail(ErrMalformed, "header is not base64url")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return "", fail(ErrMalformed, "header is not a JSON object")
	}
	vals := map[string]string{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return "", fail(ErrMalformed, "header is not a JSON object")
		}
		name, ok := t.(string)
		if !ok {
			return "", fail(ErrMalformed, "header is not a JSON object")
		}
		switch name {
		case "alg", "kid", "typ":
		case "jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256", "crit", "b64", "zip", "enc":
			return "", fail(ErrHeader, "%q", name)
		default:
			return "", fail(ErrHeader, "only alg, kid and typ are allowed")
		}
		if _, dup := vals[name]; dup {
			return "", fail(ErrHeader, "%q twice", name)
		}
		var s string
		if err := dec.Decode(&s); err != nil {
			return "", fail(ErrMalformed, "header %q is not a string", name)
		}
		vals[name] = s
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return "", fail(ErrMalformed, "header is not a JSON object")
	}
	if _, err := dec.Token(); err == nil {
		return "", fail(ErrMalformed, "data after the header object")
	}
	if vals["alg"] != Algorithm {
		return "", fail(ErrAlgorithm, "want alg %s", Algorithm)
	}
	if typ, ok := vals["typ"]; ok && !strings.EqualFold(typ, "JWT") {
		return "", fail(ErrHeader, "typ must be JWT")
	}
	if vals["kid"] == "" {
		return "", fail(ErrHeader, "kid is required")
	}
	return vals["kid"], nil
}

// replayCache remembers (account, jti) pairs until their assertions
// expire; at most max of them.
type replayCache struct {
	mu   sync.Mutex // guards seen and exp
	max  int
	seen map[string]time.Time
	exp  expiryHeap
}

func (c *replayCache) add(key string, until, now time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.exp) > 0 && !c.exp[0].until.After(now) {
		e := heap.Pop(&c.exp).(expiry)
		delete(c.seen, e.key)
	}
	if _, ok := c.seen[key]; ok {
		return fail(ErrReplay, "")
	}
	if len(c.seen) >= c.max {
		return &verifyError{kind: ErrBusy}
	}
	c.seen[key] = until
	heap.Push(&c.exp, expiry{key, until})
	return nil
}

type expiry struct {
	key   string
	until time.Time
}

// expiryHeap is a min-heap of expiries.
type expiryHeap []expiry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].until.Before(h[j].until) }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(expiry)) }
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
