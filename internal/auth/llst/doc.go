// Package llst issues and verifies LogLine's short-lived session tokens
// (LLST) and keeps the Ed25519 keys that sign them: stored, rotated with
// overlap, published as a JWKS.
//
// # Token
//
// An LLST is a JWS in compact serialisation (RFC 7515) carrying a JWT
// (RFC 7519), signed with Ed25519. Its protected header is exactly
//
//	{"alg":"EdDSA","kid":"llst-20260301-9f3c0a1e","typ":"llst+jwt"}
//
// and its payload
//
//	{"iss":"https://logline.example","sub":"llid_…","aud":"logline",
//	 "tenant":"default","roles":["writer"],"caps":["ledger.append",…],
//	 "kind":"user","exp":1772323200,"nbf":1772322300,"iat":1772322300,
//	 "jti":"<16 random bytes, base64url>"}
//
// iss is the server's configured issuer; aud its configured audience
// (Verify also accepts an array containing it); sub an LLID or a service
// account id; caps are auth grants; kind an auth.Kind (user, service,
// operator); exp − iat ≤ 15 min, nbf = iat. Times are whole seconds.
//
// Verify accepts nothing else: another alg, another typ, any other header
// parameter (jwk, jku, x5u, x5c, crit, …), a kid that is not in the local
// keyring, a missing or ill-typed claim, and exp, nbf, iat beyond the skew
// (60 s by default) are each refused with their own sentinel error.
//
// # Keys and their schedule
//
// Each key has a kid "llst-YYYYMMDD-xxxxxxxx" (the UTC date it starts
// signing and 32 random bits) and four times:
//
//	created      when it was generated
//	publish_at   it appears in the JWKS and starts verifying
//	active_from  it starts signing (publish_at + overlap)
//	retire_at    it leaves the JWKS, stops verifying and is deleted
//
// A key signs from active_from until its successor's active_from, which is
// its active_from + rotate_every (24 h by default); it then verifies for
// the lifetime of the last token it signed plus the skew, so
// retire_at = active_from + rotate_every + 15 min + 60 s. Its successor is
// generated as soon as it starts signing, and published overlap (1 h by
// default) before it signs. So at any time the JWKS holds the signing key,
// the next key, and for 16 min after a rotation the previous one.
//
// Why an hour of overlap: a key must be in the JWKS before any token
// signed by it is shown to a relying party that caches the set. The JWKS
// is served with max-age 5 min, processes sharing the key store reload it
// every 30 s, and a process may be restarting at the moment of rotation;
// an hour covers all of these many times over, and it costs nothing but
// one more public key in the set. Configuration refuses an overlap not
// longer than max-age + check interval.
//
// If no key can sign a full-lifetime token when the schedule is advanced
// (first start, or every process down for longer than rotate_every), a
// key is created that signs at once; after a downtime this is logged, as
// relying parties' JWKS caches cannot know it yet.
//
// # Key directory
//
// DirStore keeps the keys in DATA/keys/llst/ (mode 0700), one file per key
// named <kid>.json, mode 0600, written atomically (temporary file, fsync,
// rename, fsync directory: internal/durable):
//
//	{
//	  "format": "logline-llst-key/1",
//	  "kid": "llst-20260301-9f3c0a1e",
//	  "created": "2026-02-28T23:00:00Z",
//	  "publish_at": "2026-02-28T23:00:00Z",
//	  "active_from": "2026-03-01T00:00:00Z",
//	  "retire_at": "2026-03-02T00:16:00Z",
//	  "private_jwk": {"use":"sig","kty":"OKP","kid":"llst-20260301-9f3c0a1e",
//	                  "crv":"Ed25519","alg":"EdDSA","x":"…","d":"…"}
//	}
//
// private_jwk is the key as an RFC 8037 private JWK (d is the 32-byte
// seed); its kid and alg must match the file's, its x the seed's public
// key, and the file name the kid. Unknown fields are refused.
//
// Several processes may use one directory at once (logline serve and
// logline token issue): every change happens under an flock on
// DATA/keys/llst/.lock, taken by the process that advances the schedule,
// which first reloads the directory — so the second process finds the key
// the first one created instead of making its own. Readers take no lock:
// a key file appears whole or not at all. Files named .*.tmp* are the
// remains of a write a crash interrupted; they are never loaded, logged
// once, and deleted by the next change under the lock. A key file that
// does not load is skipped and logged.
//
// To revoke a key at once, delete its file: within a check interval every
// process drops it, and tokens it signed (cached or not) stop verifying.
//
// # Verified-token cache
//
// The Verifier remembers tokens that verified, by the SHA-256 of the token
// string, in a bounded sharded cache (65,536 entries by default, oldest
// evicted first). A hit skips the signature check but is still checked
// against the clock (exp + skew) and against the keyring: a key removed
// or retired invalidates every token it signed.
package llst
