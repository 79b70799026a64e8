// Package oidclogin signs people in to LogLine with OpenID Connect: the
// authorization code flow with PKCE (S256) against Google by default or
// any issuer by configuration, using coreos/go-oidc/v3 and x/oauth2. A
// verified id_token becomes an Identity keyed by issuer and subject (its
// LLID); the gateway's OnLogin hook maps it to a tenant and roles and
// issues an LLST.
//
// # Wiring
//
//	flow, err := oidclogin.New(ctx, oidclogin.Config{
//		ClientID: id, ClientSecret: secret,
//		RedirectURL: "https://logline.example.com/auth/callback",
//		AllowedDomains: []string{"example.com"},
//		OnLogin: issueSession, OnError: writeProblem, Logger: log,
//	})
//	mux.HandleFunc("GET /auth/login", flow.Login)
//	mux.HandleFunc("GET /auth/callback", flow.Callback)
//
// # State, nonce, PKCE and the browser binding
//
// Login draws four 32-byte random values (Config.Rand), each written as
// 43 characters of unpadded base64url: state, nonce, PKCE code_verifier
// and the browser binding. State, nonce, verifier, return_to and the
// SHA-256 of the binding are kept server-side in a bounded store (at most
// MaxPending logins, each usable once within StateTTL, the oldest dropped
// when full). The binding goes to the browser in a cookie:
//
//	__Host-logline-login=<43 chars>; Path=/; Max-Age=600; HttpOnly; Secure; SameSite=Lax
//
// (named logline-login, without Secure, when RedirectURL is plain http on
// loopback). "Secure when TLS" is decided by RedirectURL's scheme, not by
// the request, so a TLS-terminating proxy in front still gets Secure
// cookies. A browser keeps its binding while the cookie lives, so logins
// started in several tabs can all finish. SameSite=Lax lets the cookie
// ride the provider's top-level redirect back to the callback.
//
// Callback accepts the state only if it is known, unexpired, unused and
// bound to the binding in this browser's cookie: a callback URL carried
// to another browser (login CSRF: an attacker's code pushed into a
// victim's session) is refused with ErrStateMismatch and the state stays
// usable by its own browser; a replayed callback finds the state gone
// (ErrBadState). The state is consumed before the code exchange, so each
// state completes at most one exchange.
//
// # Redirect URIs matched exactly
//
// RedirectURL is sent byte for byte, never rebuilt from the request's Host
// or scheme (a forged Host header cannot steer codes elsewhere), in both
// the authorization request and the code exchange; the provider compares
// it exactly with its registration and binds the code to it, so a code
// issued for another redirect URI is refused at the exchange. New refuses
// a RedirectURL that is not absolute, has user info or a fragment, or is
// plain http on a non-loopback host; it is otherwise not normalised (no
// trailing slash added or removed, query kept), because a normalised
// value would no longer be the registered one. Callback does not compare
// its own request URL with RedirectURL: behind a proxy the server cannot
// see the public URL reliably, and nothing is gained, since a callback
// reached on another origin lacks the binding cookie (set on the origin
// that served Login) and a code is useless without the matching
// redirect_uri and PKCE verifier. Hence Login must be served on
// RedirectURL's origin.
//
// # id_token verification
//
// go-oidc verifies the signature with a key from the provider's JWKS
// (fetched at first use, cached, refetched when a kid is unknown: key
// rotation), pins the algorithms (Config.SigningAlgs, else the asymmetric
// ones the provider lists; never none or HS*, never the token's own
// choice), checks iss exactly, that aud contains ClientID, and exp (Skew
// of leeway). Google's issuer: discovery announces
// https://accounts.google.com, but Google may sign iss as
// "accounts.google.com"; go-oidc accepts that second form only when the
// configured issuer is exactly https://accounts.google.com, and for no
// other issuer. NormalizeIssuer then maps it to the https form before the
// LLID is computed, so both forms give one LLID. This package adds what
// go-oidc leaves to its caller: nonce equal to the login's, azp equal to
// ClientID when present and required when aud has several values (OpenID
// Connect Core §3.1.3.7), at_hash when present, and a non-empty sub of at
// most 255 ASCII characters.
//
// # Domain restriction
//
// AllowedDomains is empty (anyone the provider authenticates may proceed
// to OnLogin, which decides tenants) or a list of domains, compared
// exactly and case-insensitively. DomainByHostedDomain, the default,
// checks Google's hd claim, which Google sets only for accounts managed
// by a Workspace or Cloud organisation: the domain's owner controls the
// account, and Google recommends it. DomainByEmail checks the verified
// email's domain, for providers without hd; it is weaker (a personal
// Google account can be registered with a work address) and requires
// email_verified.
//
// # Errors
//
// Every failure is an *Error {Status, Code, Detail} that errors.Is
// matches with the exported sentinels; the gateway renders it as
// problem+json (WriteProblem does so by default). Provider responses,
// codes and tokens are never sent to the browser; the cause is logged
// through the Logger (never token or code values).
package oidclogin
