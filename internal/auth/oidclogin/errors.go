package oidclogin

import (
	"encoding/json"
	"net/http"
	"strings"
)

// Error is a login failure as the browser may see it: an HTTP status, a
// stable machine code and a detail safe to show. Err holds the internal
// cause (a provider's answer, a verification message); it is logged and
// never sent. errors.Is matches two Errors by Code, so the sentinels below
// can be compared with errors.Is(err, ErrBadState).
type Error struct {
	Status int
	Code   string
	Detail string
	Err    error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return "oidclogin: " + e.Code + ": " + e.Detail + ": " + e.Err.Error()
	}
	return "oidclogin: " + e.Code + ": " + e.Detail
}

// Unwrap returns the internal cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error with the same Code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// with returns a copy of e carrying cause.
func (e *Error) with(cause error) *Error {
	c := *e
	c.Err = cause
	return &c
}

// The failures Login and Callback report. Each is a template: the handlers
// return copies carrying the cause, which match with errors.Is.
var (
	// ErrBadReturnTo: return_to is not a same-origin relative path.
	ErrBadReturnTo = &Error{http.StatusBadRequest, "bad_return_to", "return_to must be a relative path on this server", nil}
	// ErrBadState: the state is missing, malformed, unknown, expired or
	// already used. Start the login again.
	ErrBadState = &Error{http.StatusBadRequest, "bad_state", "this login is unknown, expired or already completed; start again", nil}
	// ErrStateMismatch: the state belongs to a login started in another
	// browser (or the login cookie is missing): login CSRF is refused.
	ErrStateMismatch = &Error{http.StatusBadRequest, "state_mismatch", "this login was started in another browser, or its cookie is missing; start again from the same site", nil}
	// ErrProviderDenied: the identity provider answered with an OAuth
	// error (the user declined, the provider refused the request).
	ErrProviderDenied = &Error{http.StatusForbidden, "provider_denied", "the identity provider did not approve the login", nil}
	// ErrMissingCode: the callback carries neither a code nor an error.
	ErrMissingCode = &Error{http.StatusBadRequest, "missing_code", "the callback carries no authorization code", nil}
	// ErrExchangeRefused: the provider refused to exchange the code
	// (replayed, expired, PKCE verifier or redirect URI mismatch).
	ErrExchangeRefused = &Error{http.StatusBadRequest, "exchange_refused", "the identity provider refused the authorization code; start again", nil}
	// ErrProviderUnavailable: the token endpoint could not be reached or
	// answered nonsense.
	ErrProviderUnavailable = &Error{http.StatusBadGateway, "provider_unavailable", "the identity provider could not be reached; retry later", nil}
	// ErrInvalidIDToken: the id_token failed verification (signature,
	// algorithm, iss, aud, azp, exp, at_hash, sub).
	ErrInvalidIDToken = &Error{http.StatusUnauthorized, "invalid_id_token", "the identity provider's token failed verification", nil}
	// ErrNonceMismatch: the id_token's nonce is not the one this login sent.
	ErrNonceMismatch = &Error{http.StatusUnauthorized, "nonce_mismatch", "the identity provider's token belongs to another login", nil}
	// ErrDomainNotAllowed: the account is not in an allowed domain.
	ErrDomainNotAllowed = &Error{http.StatusForbidden, "domain_not_allowed", "this account's domain may not sign in here", nil}
	// ErrEmailUnverified: the domain rule is by email and the provider
	// has not verified the address.
	ErrEmailUnverified = &Error{http.StatusForbidden, "email_unverified", "this account's email address is not verified by the identity provider", nil}
	// ErrInternal: something on our side failed (randomness, the OnLogin
	// hook returned a plain error); the log has the cause.
	ErrInternal = &Error{http.StatusInternalServerError, "internal", "internal error; the server log has the cause", nil}
)

// WriteProblem writes e as an RFC 9457 application/problem+json body in
// the gateway's shape (type, title, status, detail, code). It never writes
// e.Err. It is the default Config.OnError.
func WriteProblem(w http.ResponseWriter, r *http.Request, e *Error) {
	body, _ := json.Marshal(struct {
		Type   string `json:"type"`
		Title  string `json:"title"`
		Status int    `json:"status"`
		Detail string `json:"detail,omitempty"`
		Code   string `json:"code"`
	}{
		Type:   "https://logline.dev/problems/" + strings.ReplaceAll(e.Code, "_", "-"),
		Title:  http.StatusText(e.Status),
		Status: e.Status,
		Detail: e.Detail,
		Code:   e.Code,
	})
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(e.Status)
	w.Write(body)
}
