package serviceacct

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/logline/logline/internal/durable"
)

// CredentialsType is the "type" of a credential file.
const CredentialsType = "logline_service_account"

// Assertion lifetimes: Assertion makes them valid for AssertionLifetime;
// Verify refuses any valid for longer than MaxAssertionLifetime.
const (
	AssertionLifetime    = 2 * time.Minute
	MaxAssertionLifetime = 5 * time.Minute
)

// credentialsFile is a credential file (see doc.go).
type credentialsFile struct {
	Type       string          `json:"type"`
	AccountID  string          `json:"account_id"`
	Tenant     string          `json:"tenant"`
	KeyID      string          `json:"key_id"`
	PrivateKey json.RawMessage `json:"private_key"`
	TokenURI   string          `json:"token_uri"`
}

// Credentials are what an app holds to act as a service account: its
// id, its private key and the token endpoint. Safe for concurrent use.
type Credentials struct {
	AccountID string
	Tenant    string
	KeyID     string
	TokenURI  string
	signer    jose.Signer
}

func encodeCredentials(a Account, priv ed25519.PrivateKey, tokenURI string) ([]byte, error) {
	jwk, err := marshalJWK(priv, a.KeyID)
	if err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(credentialsFile{
		Type: CredentialsType, AccountID: a.ID, Tenant: a.Tenant, KeyID: a.KeyID,
		PrivateKey: jwk, TokenURI: tokenURI,
	}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode credentials: %w", err)
	}
	return append(b, '\n'), nil
}

// ParseCredentials checks and decodes a credential file. Every problem is
// ErrInvalidRecord; the message never contains key material.
func ParseCredentials(data []byte) (*Credentials, error) {
	if len(data) > MaxRecordSize {
		return nil, fmt.Errorf("%w: credentials larger than %d bytes", ErrInvalidRecord, MaxRecordSize)
	}
	var f credentialsFile
	if err := strictJSON(data, &f); err != nil {
		return nil, fmt.Errorf("%w: credentials: %v", ErrInvalidRecord, safeJSONError(err))
	}
	switch {
	case f.Type != CredentialsType:
		return nil, fmt.Errorf("%w: credentials: type %q, want %q", ErrInvalidRecord, clip(f.Type), CredentialsType)
	case !ValidID(f.AccountID):
		return nil, fmt.Errorf("%w: credentials: account_id %q is not a service account id", ErrInvalidRecord, clip(f.AccountID))
	case !pathSafe(f.Tenant):
		return nil, fmt.Errorf("%w: credentials: tenant %q is not a tenant name", ErrInvalidRecord, clip(f.Tenant))
	}
	if err := checkTokenURI(f.TokenURI); err != nil {
		return nil, fmt.Errorf("%w: credentials: %v", ErrInvalidRecord, err)
	}
	_, priv, kid, err := parseJWK(f.PrivateKey, true)
	if err != nil {
		return nil, fmt.Errorf("%w: credentials: private_key: %v", ErrInvalidRecord, err)
	}
	if kid != f.KeyID {
		return nil, fmt.Errorf("%w: credentials: key_id is not the private key's id", ErrInvalidRecord)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: priv},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	return &Credentials{AccountID: f.AccountID, Tenant: f.Tenant, KeyID: kid, TokenURI: f.TokenURI, signer: signer}, nil
}

// safeJSONError keeps encoding/json's description of where decoding
// failed but never the offending value, which could be key material.
func safeJSONError(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("JSON syntax error at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("JSON field %q has the wrong type", te.Field)
	}
	return err.Error() // unknown field names, EOF: no values
}

// ReadCredentials reads and parses a credential file.
func ReadCredentials(path string) (*Credentials, error) {
	data, err := readLimited(path)
	if err != nil {
		return nil, fmt.Errorf("read credentials: %w", err)
	}
	c, err := ParseCredentials(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// WriteCredentials writes a credential file, mode 0600, durably. It
// refuses to replace an existing file: that could be another account's
// only copy of its key.
func WriteCredentials(path string, data []byte) error {
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		if err == nil {
			return fmt.Errorf("write credentials: %s exists", path)
		}
		return fmt.Errorf("write credentials: %w", err)
	}
	return durable.WriteFile(path, data, 0o600)
}

// Assertion returns a fresh RFC 7523 assertion for the token endpoint:
// a JWT signed EdDSA, header kid = KeyID and typ JWT, claims iss = sub =
// AccountID, aud = TokenURI, iat = now, exp = now + AssertionLifetime and
// a random jti. Use each assertion once. rand is crypto/rand if nil.
func (c *Credentials) Assertion(now time.Time, rnd io.Reader) (string, error) {
	return c.assertion(now, AssertionLifetime, rnd)
}

func (c *Credentials) assertion(now time.Time, lifetime time.Duration, rnd io.Reader) (string, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	var jti [16]byte
	if _, err := io.ReadFull(rnd, jti[:]); err != nil {
		return "", fmt.Errorf("assertion: randomness: %w", err)
	}
	claims := jwt.Claims{
		Issuer:   c.AccountID,
		Subject:  c.AccountID,
		Audience: jwt.Audience{c.TokenURI},
		IssuedAt: jwt.NewNumericDate(now),
		Expiry:   jwt.NewNumericDate(now.Add(lifetime)),
		ID:       base64.RawURLEncoding.EncodeToString(jti[:]),
	}
	s, err := jwt.Signed(c.signer).Claims(claims).Serialize()
	if err != nil {
		return "", fmt.Errorf("assertion: %w", err)
	}
	return s, nil
}
