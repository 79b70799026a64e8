package llst

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/logline/logline/internal/auth"
)

// Verifier checks LLSTs against the keyring and caches the ones that
// verified. Safe for concurrent use; Verify never blocks on I/O.
type Verifier struct {
	ring  *Keyring
	cache *cache    // nil when Config.CacheSize < 0
	bufs  sync.Pool // of *[]byte, for hashToken
}

// NewVerifier returns a Verifier using r's keys and configuration.
func NewVerifier(r *Keyring) *Verifier {
	v := &Verifier{ring: r}
	if r.cfg.CacheSize > 0 {
		v.cache = newCache(r.cfg.CacheSize)
	}
	return v
}

// forbiddenHeaders are header parameters that name or carry keys or
// certificates, change how the signature is computed, or belong to JWE.
// An LLST header has exactly alg, typ and kid; these are named in the
// error, any other parameter is refused without echoing its name.
var forbiddenHeaders = []string{"jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256", "crit", "b64", "cty", "zip", "enc", "epk", "nonce", "url"}

// canonicalLast are the base64url characters whose low 4 bits are zero.
const canonicalLast = "AQgw"

// maxHeaderSize bounds the encoded header Verify decodes.
const maxHeaderSize = 512

// Verify checks token and returns the principal it carries. In order:
// size; header (a JSON object of exactly alg "EdDSA", typ "llst+jwt" and
// a kid; jwk, jku, x5u, x5c and every other parameter refused); the JWS
// parsed by go-jose with only EdDSA allowed; kid looked up in the local
// keyring only (nothing named by the token is ever fetched or opened);
// signature; claims present and well typed; iss exactly Config.Issuer;
// aud containing Config.Audience; exp, nbf and iat within the skew; a
// lifetime of at most 15 min; tenant, kind, roles and grants well formed.
//
// A token that verified before is answered from the cache without the
// signature check, as long as it has not expired (+ skew) and its key is
// still in the keyring and unretired.
//
// Every error matches ErrInvalidToken and one class sentinel (ErrExpired,
// ErrUnknownKey, …); its message is safe to show and never holds the token.
// The returned Principal is the caller's; its Roles and Grants slices are
// shared with the cache and must not be modified.
func (v *Verifier) Verify(token string) (*auth.Principal, error) {
	now := v.ring.cfg.Now()
	if len(token) == 0 || len(token) > MaxTokenSize {
		return nil, fail(ErrMalformed, "empty or longer than %d bytes", MaxTokenSize)
	}
	if v.cache == nil {
		p, _, _, err := v.verify(token, now)
		return p, err
	}
	h := v.hashToken(token)
	if e, ok := v.cache.get(&h); ok && now.UnixNano() < e.deadline && !e.key.dead.Load() && now.UnixNano() < e.key.retireAt {
		p := *e.p
		return &p, nil
	}
	p, key, deadline, err := v.verify(token, now)
	if err != nil {
		return nil, err
	}
	v.cache.put(&h, cacheEntry{p: p, deadline: deadline, key: key})
	q := *p
	return &q, nil
}

// hashToken returns the cache key of token: its SHA-256. It hashes a
// pooled copy: sha256.Sum256([]byte(token)) would allocate one per call.
func (v *Verifier) hashToken(token string) [32]byte {
	bp, _ := v.bufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	b := append((*bp)[:0], token...)
	h := sha256.Sum256(b)
	*bp = b
	v.bufs.Put(bp)
	return h
}

// verify is Verify without the cache. It returns the principal, the key
// that verified it and the deadline (exp + skew) in Unix nanoseconds.
func (v *Verifier) verify(token string, now time.Time) (*auth.Principal, *ringKey, int64, error) {
	cfg := &v.ring.cfg
	if len(token) == 0 || len(token) > MaxTokenSize {
		return nil, nil, 0, fail(ErrMalformed, "empty or longer than %d bytes", MaxTokenSize)
	}
	payloadSeg, kid, err := checkHeader(token)
	if err != nil {
		return nil, nil, 0, err
	}
	key := v.ring.verifyingKey(kid, now)
	if key == nil {
		return nil, nil, 0, fail(ErrUnknownKey, "kid names no key of this server that verifies now")
	}
	// RFC 7515 §5.2 for the one algorithm an LLST may use: Ed25519 over
	// the signing input "HEADER.PAYLOAD" as sent. checkHeader has pinned
	// alg, typ and kid, refused every other header member and made sure
	// the signature segment is 86 canonical base64url characters; go-jose
	// is not needed on this path (it cost ~7 µs a token for parsing the
	// JWS again and re-encoding the payload; TestVerifyAgreesWithGoJose
	// checks both accept the same tokens).
	dot := strings.LastIndexByte(token, '.')
	sig, err := base64.RawURLEncoding.Strict().DecodeString(token[dot+1:])
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, nil, 0, fail(ErrMalformed, "signature is not 64 bytes of base64url")
	}
	if !ed25519.Verify(key.pub, []byte(token[:dot]), sig) {
		return nil, nil, 0, fail(ErrBadSignature, "signature does not verify with key %s", key.ID)
	}
	payload, err := base64.RawURLEncoding.Strict().DecodeString(payloadSeg)
	if err != nil {
		return nil, nil, 0, fail(ErrMalformed, "payload is not base64url")
	}
	c, err := parseClaims(payload)
	if err != nil {
		return nil, nil, 0, fail(ErrBadClaims, "%v", err)
	}
	if c.have != 1<<len(claimNames)-1 {
		var missing []string
		for i, name := range claimNames {
			if c.have&(1<<i) == 0 {
				missing = append(missing, name)
			}
		}
		return nil, nil, 0, fail(ErrBadClaims, "missing %s", strings.Join(missing, ", "))
	}
	if c.iss != cfg.Issuer {
		return nil, nil, 0, fail(ErrWrongIssuer, "iss is not %q", cfg.Issuer)
	}
	if !slices.Contains(c.aud, cfg.Audience) {
		return nil, nil, 0, fail(ErrWrongAudience, "aud does not contain %q", cfg.Audience)
	}

	exp, nbf, iat := time.Unix(c.exp, 0), time.Unix(c.nbf, 0), time.Unix(c.iat, 0)
	if c.exp <= c.iat || c.nbf > c.exp || c.exp-c.iat > int64(MaxLifetime/time.Second) {
		return nil, nil, 0, fail(ErrBadClaims, "want iat < exp, nbf ≤ exp and a lifetime of at most %v", MaxLifetime)
	}
	if !now.Before(exp.Add(cfg.Skew)) {
		return nil, nil, 0, fail(ErrExpired, "expired at %s", exp.UTC().Format(time.RFC3339))
	}
	if now.Add(cfg.Skew).Before(nbf) {
		return nil, nil, 0, fail(ErrNotYetValid, "not before %s", nbf.UTC().Format(time.RFC3339))
	}
	if now.Add(cfg.Skew).Before(iat) {
		return nil, nil, 0, fail(ErrNotYetValid, "issued in the future, at %s", iat.UTC().Format(time.RFC3339))
	}
	if err := checkClaims(c.sub, c.tenant, c.kind, c.roles, c.caps); err != nil {
		return nil, nil, 0, fail(ErrBadClaims, "%v", err)
	}
	if !validSubject(c.jti) || len(c.jti) > 64 {
		return nil, nil, 0, fail(ErrBadClaims, "jti must be 1–64 printable ASCII characters")
	}
	p := &auth.Principal{
		Subject:  c.sub,
		Tenant:   c.tenant,
		Roles:    c.roles,
		Grants:   auth.Grants(c.caps),
		Kind:     auth.Kind(c.kind),
		TokenID:  c.jti,
		KeyID:    key.ID,
		Expires:  exp.UTC(),
		IssuedAt: iat.UTC(),
	}
	return p, key, exp.Add(cfg.Skew).UnixNano(), nil
}

// checkHeader checks the token's shape and decodes the protected header
// itself — so that these rules do not depend on what the JOSE library
// chooses to parse — and returns the payload segment and the kid.
func checkHeader(token string) (payloadSeg, kid string, err error) {
	enc, rest, ok := strings.Cut(token, ".")
	payloadSeg, sig, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 || strings.IndexByte(sig, '.') >= 0 {
		return "", "", fail(ErrMalformed, "not a compact JWS of three segments")
	}
	if len(enc) > maxHeaderSize {
		return "", "", fail(ErrMalformed, "header longer than %d bytes", maxHeaderSize)
	}
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return "", "", fail(ErrMalformed, "header is not base64url")
	}
	var alg, typ string
	var names []string
	err = walkObject(raw, func(name string, r *objReader) error {
		if slices.Contains(names, name) {
			return errDuplicate
		}
		names = append(names, name)
		var v *string
		switch name {
		case "alg":
			v = &alg
		case "typ":
			v = &typ
		case "kid":
			v = &kid
		default:
			return r.skip()
		}
		if r.peek() != '"' {
			return r.skip() // not a string: left empty, refused below
		}
		s, err := r.str()
		*v = s
		return err
	})
	if err != nil {
		return "", "", fail(ErrMalformed, "header is not a JSON object of distinct members")
	}
	for _, name := range forbiddenHeaders {
		if slices.Contains(names, name) {
			return "", "", fail(ErrForbiddenHeader, "%q is not allowed in an LLST header", name)
		}
	}
	for _, name := range names {
		if name != "alg" && name != "typ" && name != "kid" {
			return "", "", fail(ErrForbiddenHeader, "an LLST header has only alg, typ and kid")
		}
	}
	if alg != string(jose.EdDSA) {
		return "", "", fail(ErrWrongAlgorithm, "alg must be EdDSA")
	}
	if typ != TokenType {
		return "", "", fail(ErrWrongType, "typ must be %q", TokenType)
	}
	if kid == "" {
		return "", "", fail(ErrMalformed, "kid missing")
	}
	// An Ed25519 signature is 64 bytes: 86 base64url characters, the last
	// carrying 2 bits and 4 zero bits. Refusing the non-zero variants keeps
	// a token from having several spellings that all verify.
	if len(sig) != 86 || strings.IndexByte(canonicalLast, sig[85]) < 0 {
		return "", "", fail(ErrMalformed, "signature is not 64 bytes of canonical base64url")
	}
	return payloadSeg, kid, nil
}
