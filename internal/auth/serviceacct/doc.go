// Package serviceacct implements LogLine's service accounts: apps prove
// who they are with a short-lived JWT assertion signed by their own
// Ed25519 key (RFC 7523) and trade it at POST /auth/token for a LogLine
// token. No long-lived bearer secret exists: the server stores only
// public keys, and an assertion is good for one exchange within minutes.
//
// # Account records
//
// One JSON file per account, DATA/cfg/tenants/<tenant>/service-accounts/<id>.json,
// mode 0644, written atomically (durable.WriteFile):
//
//	{
//	  "id": "sa_<32 × [a-z2-7]>",           // 160 random bits
//	  "tenant": "acme",                     // = the directory's tenant
//	  "name": "ingest-bot",                 // label, may be ""
//	  "roles": ["writer"],                  // role names in the tenant
//	  "public_key": {"kty":"OKP","crv":"Ed25519","x":"…","kid":"…","alg":"EdDSA","use":"sig"},
//	  "created": "2026-01-02T03:04:05Z",
//	  "disabled": false,
//	  "disabled_at": "…"                    // only when disabled
//	}
//
// kid is the key's RFC 7638 thumbprint (SHA-256, base64url). Decoding is
// strict: unknown fields, a private "d", a kid that is not the
// thumbprint, a file not named <id>.json or holding another tenant's
// account are errors, and the account is not served. One key per
// account: to rotate, create a new account, switch the app, disable the
// old one.
//
// # Credential files
//
// Given to the app once by Create and never stored by the server; the
// operator writes it with mode 0600 (WriteCredentials):
//
//	{
//	  "type": "logline_service_account",
//	  "account_id": "sa_…",
//	  "tenant": "acme",
//	  "key_id": "<kid>",
//	  "private_key": {"kty":"OKP","crv":"Ed25519","x":"…","d":"…","kid":"…","alg":"EdDSA","use":"sig"},
//	  "token_uri": "https://logline.example.com/auth/token"
//	}
//
// # Assertions
//
// A compact JWS, header {"alg":"EdDSA","kid":<key_id>,"typ":"JWT"} and
// nothing else; claims iss = sub = account_id, aud = token_uri, iat, exp
// (at most 5 minutes after iat; Assertion uses 2), jti (random, single
// use). Verifier.Verify pins EdDSA, refuses every other header (jwk, jku,
// x5u, x5c, crit, …), finds the key by iss in the Registry and never
// fetches anything.
//
// # Token endpoint
//
//	POST /auth/token
//	Content-Type: application/x-www-form-urlencoded
//
//	grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=<JWT>
//
// answers 200 {"access_token":"…","token_type":"Bearer","expires_in":900}
// or an RFC 6749 error {"error":"invalid_grant","error_description":"…"};
// see Exchange.
package serviceacct
