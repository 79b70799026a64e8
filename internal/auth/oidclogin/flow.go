package oidclogin

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// ErrDiscovery is returned (wrapped) by New when the provider's discovery
// document cannot be fetched or does not fit.
var ErrDiscovery = errors.New("oidc discovery failed")

// Cookie names of the browser binding. The __Host- prefix (RFC 6265bis)
// pins the cookie to the exact host, path / and Secure; it is usable only
// when the callback is served over https.
const (
	CookieNameSecure = "__Host-logline-login"
	CookieName       = "logline-login"
)

// Flow runs OpenID Connect logins: the authorization code flow with PKCE
// (S256), state bound to the browser, nonce, and id_token verification by
// go-oidc plus the checks go-oidc leaves to its caller. Its handlers are
// safe for concurrent use.
type Flow struct {
	cfg        Config
	oauth      oauth2.Config
	verifier   *oidc.IDTokenVerifier
	store      *pendingStore
	cookieName string
	secure     bool
	authParams []oauth2.AuthCodeOption
	log        *slog.Logger

	warnMu sync.Mutex
	// Guarded by warnMu:
	lastEvictWarn time.Time
}

// New checks cfg and fetches the provider's discovery document (bounded by
// ctx and cfg.Timeout). The JWKS is fetched at the first callback and
// cached; unknown key ids trigger a refetch (key rotation).
func New(ctx context.Context, cfg Config) (*Flow, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("oidclogin: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	provider, err := oidc.NewProvider(oidc.ClientContext(ctx, cfg.HTTPClient), cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("oidclogin: %w: %s: %w", ErrDiscovery, cfg.Issuer, err)
	}
	endpoint := provider.Endpoint()
	for what, raw := range map[string]string{"authorization endpoint": endpoint.AuthURL, "token endpoint": endpoint.TokenURL} {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("oidclogin: %w: %s: bad %s %q", ErrDiscovery, cfg.Issuer, what, raw)
		}
		if err := checkEndpointURL(what, u); err != nil {
			return nil, fmt.Errorf("oidclogin: %w: %s: %w", ErrDiscovery, cfg.Issuer, err)
		}
	}
	var meta struct {
		AuthMethods []string `json:"token_endpoint_auth_methods_supported"`
	}
	if err := provider.Claims(&meta); err != nil {
		return nil, fmt.Errorf("oidclogin: %w: %s: %w", ErrDiscovery, cfg.Issuer, err)
	}
	endpoint.AuthStyle = authStyle(meta.AuthMethods, cfg.ClientSecret)

	skew, now := cfg.Skew, cfg.Now
	f := &Flow{
		cfg: cfg,
		oauth: oauth2.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			Endpoint:     endpoint,
			RedirectURL:  cfg.RedirectURL,
			Scopes:       cfg.Scopes,
		},
		verifier: provider.Verifier(&oidc.Config{
			ClientID:             cfg.ClientID,
			SupportedSigningAlgs: cfg.SigningAlgs,
			// go-oidc compares exp with Now exactly; moving Now back by
			// the skew accepts a token that expired less than skew ago.
			Now: func() time.Time { return now().Add(-skew) },
		}),
		store: newPendingStore(cfg.StateTTL, cfg.MaxPending),
		log:   cfg.Logger.With("issuer", cfg.Issuer),
	}
	if u, _ := url.Parse(cfg.RedirectURL); u.Scheme == "https" {
		f.secure, f.cookieName = true, CookieNameSecure
	} else {
		f.cookieName = CookieName
	}
	keys := make([]string, 0, len(cfg.AuthParams))
	for k := range cfg.AuthParams {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		f.authParams = append(f.authParams, oauth2.SetAuthURLParam(k, cfg.AuthParams[k]))
	}
	return f, nil
}

// authStyle picks how the client authenticates at the token endpoint:
// client_secret_basic (the default of RFC 6749 and of discovery) unless
// the provider lists only client_secret_post; a public client (no
// secret) sends its id in the form. It is never auto-detected, since
// detection resends a refused code a second time.
func authStyle(methods []string, secret string) oauth2.AuthStyle {
	switch {
	case secret == "":
		return oauth2.AuthStyleInParams
	case len(methods) == 0 || slices.Contains(methods, "client_secret_basic"):
		return oauth2.AuthStyleInHeader
	case slices.Contains(methods, "client_secret_post"):
		return oauth2.AuthStyleInParams
	}
	return oauth2.AuthStyleInHeader
}

// Issuer returns the configured issuer.
func (f *Flow) Issuer() string { return f.cfg.Issuer }

var errMethodNotAllowed = &Error{http.StatusMethodNotAllowed, "method_not_allowed", "use GET", nil}

// Login starts a login (GET /auth/login[?return_to=/path]): it makes a
// state, a nonce and a PKCE verifier, keeps them server-side for StateTTL,
// binds them to this browser with the login cookie, and redirects (302)
// to the provider's authorization endpoint. It must be served on the same
// origin as RedirectURL, or the callback will not see the cookie.
func (f *Flow) Login(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		f.fail(w, r, errMethodNotAllowed)
		return
	}
	returnTo := r.URL.Query().Get("return_to")
	if err := CheckReturnTo(returnTo); err != nil {
		f.fail(w, r, ErrBadReturnTo.with(err))
		return
	}
	// One binding per browser, reused while its cookie lives, so that
	// logins started in several tabs can all complete.
	binding := ""
	if c, err := r.Cookie(f.cookieName); err == nil {
		if _, ok := decodeRandom(c.Value); ok {
			binding = c.Value
		}
	}
	var values [4]string
	for i := range values {
		if i == 0 && binding != "" {
			values[0] = binding
			continue
		}
		v, err := newRandom(f.cfg.Rand)
		if err != nil {
			f.fail(w, r, ErrInternal.with(fmt.Errorf("read randomness: %w", err)))
			return
		}
		values[i] = v
	}
	binding, state, nonce, verifier := values[0], values[1], values[2], values[3]
	raw, _ := decodeRandom(binding)
	now := f.cfg.Now()
	if n := f.store.put(&pending{
		state:    state,
		binding:  bindingHash(raw),
		nonce:    nonce,
		verifier: verifier,
		returnTo: returnTo,
		created:  now,
	}); n > 0 {
		f.warnEvicted(r.Context(), now)
	}
	http.SetCookie(w, &http.Cookie{
		Name:     f.cookieName,
		Value:    binding,
		Path:     "/",
		MaxAge:   int(f.cfg.StateTTL / time.Second),
		HttpOnly: true,
		Secure:   f.secure,
		SameSite: http.SameSiteLaxMode,
	})
	opts := append([]oauth2.AuthCodeOption{oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)}, f.authParams...)
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, f.oauth.AuthCodeURL(state, opts...), http.StatusFound)
}

// warnEvicted logs, at most once a minute, that the pending-login store
// is full (a flood of /auth/login, or MaxPending too small).
func (f *Flow) warnEvicted(ctx context.Context, now time.Time) {
	f.warnMu.Lock()
	defer f.warnMu.Unlock()
	if now.Sub(f.lastEvictWarn) < time.Minute {
		return
	}
	f.lastEvictWarn = now
	f.log.WarnContext(ctx, "oidc login: pending-login store full, dropping the oldest started logins",
		"max_pending", f.cfg.MaxPending, "evicted_total", f.store.evictedTotal())
}

// oauthErrors are the error codes of RFC 6749 §4.1.2.1 and OpenID Connect
// Core §3.1.2.6 that the callback repeats to the browser; other values
// are shown as "other".
var oauthErrors = []string{
	"invalid_request", "unauthorized_client", "access_denied", "unsupported_response_type",
	"invalid_scope", "server_error", "temporarily_unavailable", "interaction_required",
	"login_required", "account_selection_required", "consent_required",
	"invalid_request_uri", "invalid_request_object", "request_not_supported",
	"request_uri_not_supported", "registration_not_supported",
}

// maxCode bounds the authorization code accepted from the query.
const maxCode = 4096

// Callback completes a login (GET /auth/callback?state=…&code=…): it
// checks the state (known, not expired, not used, bound to this
// browser's cookie), exchanges the code with the PKCE verifier, verifies
// the id_token (signature by a key of the provider's JWKS with a pinned
// algorithm, iss, aud, azp, exp, nonce, at_hash, sub), applies the domain
// restriction and calls OnLogin, whose handler answers the browser.
// Failures are answered by OnError with an *Error; their causes are
// logged, never sent.
func (f *Flow) Callback(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	// The callback URL carries the code: keep it out of Referer headers.
	w.Header().Set("Referrer-Policy", "no-referrer")
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		f.fail(w, r, errMethodNotAllowed)
		return
	}
	res, e := f.complete(r)
	if e != nil {
		f.fail(w, r, e)
		return
	}
	h, err := f.cfg.OnLogin(r.Context(), res)
	if err != nil {
		var le *Error
		if !errors.As(err, &le) {
			le = ErrInternal.with(fmt.Errorf("OnLogin: %w", err))
		}
		f.fail(w, r, le)
		return
	}
	if h == nil {
		f.fail(w, r, ErrInternal.with(errors.New("OnLogin returned no handler")))
		return
	}
	f.log.InfoContext(r.Context(), "oidc login", "llid", res.Identity.LLID, "hd", res.Identity.HostedDomain)
	h.ServeHTTP(w, r)
}

// complete runs the callback's checks and returns the verified login.
func (f *Flow) complete(r *http.Request) (LoginResult, *Error) {
	q := r.URL.Query()
	if len(q["state"]) != 1 || len(q["code"]) > 1 {
		return LoginResult{}, ErrBadState.with(errors.New("state missing or repeated"))
	}
	if _, ok := decodeRandom(q.Get("state")); !ok {
		return LoginResult{}, ErrBadState.with(errors.New("malformed state"))
	}
	c, err := r.Cookie(f.cookieName)
	if err != nil {
		return LoginResult{}, ErrStateMismatch.with(errors.New("no login cookie"))
	}
	binding, ok := decodeRandom(c.Value)
	if !ok {
		return LoginResult{}, ErrStateMismatch.with(errors.New("malformed login cookie"))
	}
	p, found := f.store.take(q.Get("state"), bindingHash(binding), f.cfg.Now())
	switch found {
	case notFound:
		return LoginResult{}, ErrBadState.with(errors.New("state unknown, expired or already used"))
	case mismatch:
		return LoginResult{}, ErrStateMismatch.with(errors.New("state bound to another browser"))
	}

	if q.Has("error") {
		code := q.Get("error")
		shown := code
		if !slices.Contains(oauthErrors, code) {
			shown = "other"
		}
		e := ErrProviderDenied.with(fmt.Errorf("provider error %q: %.200q", code, q.Get("error_description")))
		e.Detail += " (" + shown + ")"
		return LoginResult{}, e
	}
	code := q.Get("code")
	if code == "" || len(code) > maxCode {
		return LoginResult{}, ErrMissingCode.with(fmt.Errorf("code of %d bytes", len(code)))
	}

	ctx, cancel := context.WithTimeout(r.Context(), f.cfg.Timeout)
	defer cancel()
	ctx = oidc.ClientContext(ctx, f.cfg.HTTPClient)
	tok, err := f.oauth.Exchange(ctx, code, oauth2.VerifierOption(p.verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode < 500 {
			return LoginResult{}, ErrExchangeRefused.with(fmt.Errorf("token endpoint: %d %q: %.200q", re.Response.StatusCode, re.ErrorCode, re.ErrorDescription))
		}
		return LoginResult{}, ErrProviderUnavailable.with(fmt.Errorf("token endpoint: %w", err))
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return LoginResult{}, ErrInvalidIDToken.with(errors.New("token response has no id_token"))
	}
	idt, err := f.verifier.Verify(ctx, raw)
	if err != nil {
		return LoginResult{}, ErrInvalidIDToken.with(err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(p.nonce)) != 1 {
		return LoginResult{}, ErrNonceMismatch.with(errors.New("id_token nonce differs from the login's"))
	}
	var claims idClaims
	if err := idt.Claims(&claims); err != nil {
		return LoginResult{}, ErrInvalidIDToken.with(err)
	}
	if err := checkAuthorizedParty(idt.Audience, claims.AuthorizedParty, f.cfg.ClientID); err != nil {
		return LoginResult{}, ErrInvalidIDToken.with(err)
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return LoginResult{}, ErrInvalidIDToken.with(err)
		}
	}
	if err := checkSubject(idt.Subject); err != nil {
		return LoginResult{}, ErrInvalidIDToken.with(err)
	}
	id := newIdentity(idt.Issuer, idt.Subject, &claims)
	if e := checkDomain(id, f.cfg.DomainRule, f.cfg.AllowedDomains); e != nil {
		return LoginResult{}, e
	}
	return LoginResult{Identity: id, ReturnTo: p.returnTo}, nil
}

// fail logs e with its cause and answers with OnError.
func (f *Flow) fail(w http.ResponseWriter, r *http.Request, e *Error) {
	level := slog.LevelInfo
	if e.Status >= 500 {
		level = slog.LevelError
	}
	attrs := []slog.Attr{slog.String("problem", e.Code), slog.Int("status", e.Status)}
	if e.Err != nil {
		attrs = append(attrs, slog.String("cause", e.Err.Error()))
	}
	f.log.LogAttrs(r.Context(), level, "oidc login refused", attrs...)
	f.cfg.OnError(w, r, e)
}
