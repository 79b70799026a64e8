package serviceacct

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"net/url"
	"time"
)

// GrantType is the RFC 7523 grant type the token endpoint accepts.
const GrantType = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// DefaultMaxBody bounds a token request body.
const DefaultMaxBody = 16 << 10

// OAuthError is an RFC 6749 §5.2 error response. Issue may return one
// (errors.As) to refuse an account with a specific code and description;
// any other error from Issue becomes server_error without details.
type OAuthError struct {
	Status      int    // HTTP status
	Code        string // invalid_request, invalid_grant, unsupported_grant_type, server_error, temporarily_unavailable
	Description string // safe to show
}

func (e *OAuthError) Error() string { return e.Code + ": " + e.Description }

func badRequest(desc string) *OAuthError {
	return &OAuthError{http.StatusBadRequest, "invalid_request", desc}
}

// TokenRequest is a parsed token request.
type TokenRequest struct {
	GrantType string
	Assertion string
	Scope     string // accepted and ignored: a token's roles come from the account
}

// ParseTokenRequest parses a token request body: a form
// (application/x-www-form-urlencoded) with grant_type = GrantType and one
// assertion. A parameter given twice is refused (RFC 6749 §3.2); unknown
// parameters are ignored (§3.2 too).
func ParseTokenRequest(contentType string, body []byte) (TokenRequest, *OAuthError) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return TokenRequest{}, badRequest("the body must be application/x-www-form-urlencoded")
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return TokenRequest{}, badRequest("the body is not a valid form")
	}
	for name, vs := range form {
		if len(vs) > 1 {
			return TokenRequest{}, badRequest("parameter " + clip(name) + " given more than once")
		}
	}
	r := TokenRequest{GrantType: form.Get("grant_type"), Assertion: form.Get("assertion"), Scope: form.Get("scope")}
	switch {
	case r.GrantType == "":
		return TokenRequest{}, badRequest("grant_type is required")
	case r.GrantType != GrantType:
		return TokenRequest{}, &OAuthError{http.StatusBadRequest, "unsupported_grant_type", "only " + GrantType + " is supported"}
	case r.Assertion == "":
		return TokenRequest{}, badRequest("assertion is required")
	}
	return r, nil
}

// Exchange is the handler of POST /auth/token: it trades a service
// account's assertion for a LogLine token made by Issue.
//
// Responses (RFC 6749 §5): 200 {"access_token","token_type":"Bearer",
// "expires_in"}; 400 {"error","error_description"} for a bad request
// (invalid_request, unsupported_grant_type) or a refused assertion
// (invalid_grant); 405 for a method other than POST; 413 for a body over
// MaxBody; 503 temporarily_unavailable (Retry-After) when the replay cache
// is full; 500 server_error when Issue fails. Every response carries
// Cache-Control: no-store.
type Exchange struct {
	Verifier *Verifier // required
	Audience string    // this endpoint's URL as apps address it (their credentials' token_uri)

	// Issue makes the token for a verified, enabled account: the lead's
	// LLST issuer, after checking the account's roles against the
	// tenant's configuration. Required.
	Issue func(ctx context.Context, a Account) (token string, expires time.Time, err error)

	Now     func() time.Time // time.Now if nil
	MaxBody int64            // DefaultMaxBody if zero
	Logger  *slog.Logger     // refusals (Info) and Issue failures (Error); discarded if nil
}

// ServeHTTP implements http.Handler.
func (e *Exchange) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	log := e.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, &OAuthError{http.StatusMethodNotAllowed, "invalid_request", "use POST"})
		return
	}
	if r.URL.RawQuery != "" {
		// Parameters in the URL end up in logs; an assertion there is refused.
		writeError(w, badRequest("parameters belong in the request body, not the URL"))
		return
	}
	limit := e.MaxBody
	if limit <= 0 {
		limit = DefaultMaxBody
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			writeError(w, &OAuthError{http.StatusRequestEntityTooLarge, "invalid_request", "request body too large"})
			return
		}
		writeError(w, badRequest("could not read the request body"))
		return
	}
	req, oerr := ParseTokenRequest(r.Header.Get("Content-Type"), body)
	if oerr != nil {
		writeError(w, oerr)
		return
	}
	acct, err := e.Verifier.Verify(r.Context(), req.Assertion, e.Audience)
	switch {
	case errors.Is(err, ErrBusy):
		w.Header().Set("Retry-After", "1")
		writeError(w, &OAuthError{http.StatusServiceUnavailable, "temporarily_unavailable", err.Error()})
		return
	case errors.Is(err, ErrInvalidAssertion):
		log.Info("service account assertion refused", "err", err, "remote", r.RemoteAddr)
		writeError(w, &OAuthError{http.StatusBadRequest, "invalid_grant", err.Error()})
		return
	case err != nil: // context ended, or a misconfigured Exchange
		log.Error("service account exchange failed", "err", err)
		writeError(w, &OAuthError{http.StatusInternalServerError, "server_error", "the token could not be issued"})
		return
	}
	token, expires, err := e.Issue(r.Context(), acct)
	if err != nil {
		var oe *OAuthError
		if errors.As(err, &oe) {
			log.Info("service account token refused", "account", acct.ID, "tenant", acct.Tenant, "err", err)
			writeError(w, oe)
			return
		}
		log.Error("service account token not issued", "account", acct.ID, "tenant", acct.Tenant, "err", err)
		writeError(w, &OAuthError{http.StatusInternalServerError, "server_error", "the token could not be issued"})
		return
	}
	now := time.Now
	if e.Now != nil {
		now = e.Now
	}
	expiresIn := int64(math.Ceil(expires.Sub(now()).Seconds()))
	if expiresIn < 0 {
		expiresIn = 0
	}
	writeJSON(w, http.StatusOK, struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int64  `json:"expires_in"`
	}{token, "Bearer", expiresIn})
}

func writeError(w http.ResponseWriter, e *OAuthError) {
	status := e.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	writeJSON(w, status, struct {
		Error       string `json:"error"`
		Description string `json:"error_description,omitempty"`
	}{e.Code, e.Description})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v) // plain structs of strings and numbers
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
