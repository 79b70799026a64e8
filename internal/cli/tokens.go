package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/logline/logline/internal/auth/serviceacct"
	"github.com/logline/logline/internal/client"
)

// How commands that talk to a server authenticate (docs/auth.md): with
// --token (env LOGLINE_TOKEN), an LLST used as is, or with --credentials
// (env LOGLINE_CREDENTIALS), a service account's credential file whose
// key signs an RFC 7523 assertion that POST /auth/token trades for an
// LLST, refreshed before it expires. Without either, requests carry no
// token (a server started with --dev needs none).

// tokenRefreshMargin is how long before its expiry a token is replaced.
const tokenRefreshMargin = time.Minute

// tokenSource returns the TokenSource the flags name, or nil.
func (a *app) tokenSource(s serverFlags, base string) (client.TokenSource, error) {
	switch {
	case s.token != "" && s.credentials != "":
		return nil, cmdlineErrorf("--token and --credentials exclude each other")
	case s.token != "":
		tok := strings.TrimSpace(s.token)
		return func(context.Context) (string, error) { return tok, nil }, nil
	case s.credentials != "":
		creds, err := serviceacct.ReadCredentials(s.credentials)
		if err != nil {
			return nil, usageErrorf("--credentials: %w", err)
		}
		sa := &saTokens{creds: creds, endpoint: strings.TrimSuffix(base, "/") + "/auth/token", hc: &http.Client{Timeout: 30 * time.Second}, ua: "logline/" + a.version}
		return sa.token, nil
	}
	return nil, nil
}

// saTokens trades a service account's assertions for LLSTs and caches
// the current one.
type saTokens struct {
	creds    *serviceacct.Credentials
	endpoint string
	hc       *http.Client
	ua       string

	mu  sync.Mutex // guards tok and exp; held during an exchange
	tok string
	exp time.Time
}

func (s *saTokens) token(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok != "" && time.Until(s.exp) > tokenRefreshMargin {
		return s.tok, nil
	}
	assertion, err := s.creds.Assertion(time.Now(), nil)
	if err != nil {
		return "", err
	}
	form := url.Values{"grant_type": {serviceacct.GrantType}, "assertion": {assertion}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", s.ua)
	resp, err := s.hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("token exchange at %s: %w", s.endpoint, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", fmt.Errorf("token exchange at %s: %w", s.endpoint, err)
	}
	var out struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
		Detail      string `json:"detail"`
	}
	_ = json.Unmarshal(body, &out)
	if resp.StatusCode != http.StatusOK || out.AccessToken == "" {
		why := out.Error
		if out.Description != "" {
			why += ": " + out.Description
		}
		if why == "" {
			why = strings.TrimSpace(out.Detail)
		}
		if why == "" {
			why = resp.Status
		}
		// A refusal is about the account or its credentials (exit 2), not
		// the connection.
		return "", usageErrorf("service account %s: the server refused the token exchange: %s", s.creds.AccountID, why)
	}
	s.tok, s.exp = out.AccessToken, time.Now().Add(time.Duration(out.ExpiresIn)*time.Second)
	return s.tok, nil
}
