package serviceacct

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func FuzzDecodeAccount(f *testing.F) {
	a := create(f, f.TempDir(), "acme", 1)
	rec, _ := EncodeAccount(a.Account)
	f.Add(rec)
	f.Add(a.cred)
	f.Add([]byte(`{"id":"sa_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","public_key":{"kty":"OKP","crv":"Ed25519","x":"AA"}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		acct, err := DecodeAccount(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidRecord) {
				t.Fatalf("error %v is not ErrInvalidRecord", err)
			}
			return
		}
		// What decodes re-encodes to something that decodes the same.
		again, err := EncodeAccount(acct)
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeAccount(again)
		if err != nil || !equalAccounts(acct, back) {
			t.Fatalf("round trip: %+v → %v, %+v", acct, err, back)
		}
		if !ValidID(acct.ID) || len(acct.Roles) == 0 || len(acct.PublicKey) != 32 {
			t.Fatalf("decoded an invalid account %+v", acct)
		}
	})
}

func FuzzParseCredentials(f *testing.F) {
	a := create(f, f.TempDir(), "acme", 1)
	rec, _ := EncodeAccount(a.Account)
	f.Add(a.cred)
	f.Add(rec)
	f.Add([]byte(`{"type":"logline_service_account"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseCredentials(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidRecord) {
				t.Fatalf("error %v is not ErrInvalidRecord", err)
			}
			return
		}
		if _, err := c.Assertion(t0, seeded(1)); err != nil {
			t.Fatalf("valid credentials cannot sign: %v", err)
		}
	})
}

func FuzzParseTokenRequest(f *testing.F) {
	f.Add(form, []byte(grant("a.b.c")))
	f.Add(form+"; charset=utf-8", []byte("grant_type=password&assertion=x&assertion=y"))
	f.Add("application/json", []byte(`{}`))
	f.Add(form, []byte("%zz=1&;&=&grant_type"))
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		r, oerr := ParseTokenRequest(contentType, body)
		if oerr != nil {
			if oerr.Status != http.StatusBadRequest || oerr.Code == "" || oerr.Description == "" {
				t.Fatalf("bad error %+v", oerr)
			}
			return
		}
		if r.GrantType != GrantType || r.Assertion == "" {
			t.Fatalf("accepted %+v", r)
		}
	})
}

// FuzzVerify feeds arbitrary assertions to a Verifier that knows one
// account: nothing may panic, and nothing but that account's own
// signed assertions may pass.
func FuzzVerify(f *testing.F) {
	data := f.TempDir()
	a := create(f, data, "acme", 1)
	reg, err := NewRegistry(context.Background(), RegistryConfig{DataDir: data})
	if err != nil {
		f.Fatal(err)
	}
	now := t0.Add(time.Hour)
	good, _ := a.c.Assertion(now, seeded(3))
	f.Add(good)
	f.Add(forge(map[string]any{"alg": "none", "kid": a.KeyID}, claimsFor(a, now), nil, nil))
	f.Add(strings.Replace(good, ".", "..", 1))
	f.Add("e30.e30.")
	f.Fuzz(func(t *testing.T, assertion string) {
		v := NewVerifier(VerifierConfig{Accounts: reg, Now: func() time.Time { return now }})
		acct, err := v.Verify(context.Background(), assertion, tokenURI)
		if err != nil {
			if !errors.Is(err, ErrInvalidAssertion) {
				t.Fatalf("error %v is not ErrInvalidAssertion", err)
			}
			return
		}
		if acct.ID != a.ID {
			t.Fatalf("verified as %s", acct.ID)
		}
	})
}
