package serviceacct

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestCreate(t *testing.T) {
	data := t.TempDir()
	a := create(t, data, "acme", 1, "writer", "auditor", "writer")
	if !ValidID(a.ID) || a.Tenant != "acme" || a.Name != "bot" || !a.Created.Equal(t0) || a.Disabled {
		t.Errorf("account %+v", a.Account)
	}
	if got, want := a.Roles, []string{"auditor", "writer"}; !cmp.Equal(got, want) {
		t.Errorf("roles %v, want %v (sorted, no duplicates)", got, want)
	}
	if kid, _ := KeyID(a.PublicKey); kid != a.KeyID {
		t.Errorf("KeyID %q is not the thumbprint %q", a.KeyID, kid)
	}
	path := RecordPath(data, "acme", a.ID)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("record mode %v, want 0644", fi.Mode().Perm())
	}
	rec, _ := os.ReadFile(path)
	if strings.Contains(string(rec), `"d"`) {
		t.Errorf("the record holds a private key:\n%s", rec)
	}
	got, err := ReadAccount(data, "acme", a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !equalAccounts(got, a.Account) {
		t.Errorf("ReadAccount = %+v, want %+v", got, a.Account)
	}
	// The credential file.
	var f map[string]any
	if err := json.Unmarshal(a.cred, &f); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"type", "account_id", "tenant", "key_id", "private_key", "token_uri"} {
		if _, ok := f[k]; !ok {
			t.Errorf("credentials lack %q", k)
		}
	}
	if a.c.AccountID != a.ID || a.c.KeyID != a.KeyID || a.c.Tenant != "acme" || a.c.TokenURI != tokenURI {
		t.Errorf("credentials %+v", a.c)
	}
	// Same randomness, same account: Create uses only the Rand it is given.
	b := create(t, t.TempDir(), "acme", 1)
	if b.ID != a.ID || b.KeyID != a.KeyID {
		t.Error("Create is not deterministic in its Rand")
	}
}

func TestCreateRefuses(t *testing.T) {
	base := CreateOptions{Tenant: "acme", Roles: []string{"writer"}, TokenURI: tokenURI, Now: t0, ValidTenant: validTenant}
	tests := []struct {
		name string
		edit func(*CreateOptions)
	}{
		{"no roles", func(o *CreateOptions) { o.Roles = nil }},
		{"bad role", func(o *CreateOptions) { o.Roles = []string{"Writer"} }},
		{"bad tenant", func(o *CreateOptions) { o.Tenant = "Acme" }},
		{"path tenant", func(o *CreateOptions) { o.Tenant = "../etc"; o.ValidTenant = nil }},
		{"no time", func(o *CreateOptions) { o.Now = time.Time{} }},
		{"http token uri", func(o *CreateOptions) { o.TokenURI = "http://logline.example.com/auth/token" }},
		{"relative token uri", func(o *CreateOptions) { o.TokenURI = "/auth/token" }},
		{"control in name", func(o *CreateOptions) { o.Name = "bot\n" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := base
			tc.edit(&o)
			data := t.TempDir()
			if _, _, err := Create(data, o); !errors.Is(err, ErrInvalidRequest) {
				t.Errorf("Create = %v, want ErrInvalidRequest", err)
			}
		})
	}
	o := base
	o.TokenURI = "http://127.0.0.1:8420/auth/token"
	if _, _, err := Create(t.TempDir(), o); err != nil {
		t.Errorf("loopback http token uri refused: %v", err)
	}
}

func TestDisableAndList(t *testing.T) {
	data := t.TempDir()
	a := create(t, data, "acme", 1)
	b := create(t, data, "acme", 2)
	create(t, data, "beta", 3)

	got, err := Disable(data, "acme", a.ID, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !got.Disabled || !got.DisabledAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("Disable = %+v", got)
	}
	again, err := Disable(data, "acme", a.ID, t0.Add(2*time.Hour))
	if err != nil || !again.DisabledAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("second Disable = %+v, %v; want unchanged", again, err)
	}
	if _, err := Disable(data, "beta", a.ID, t0); !errors.Is(err, ErrNotFound) {
		t.Errorf("Disable in another tenant = %v, want ErrNotFound", err)
	}
	if _, err := Disable(data, "acme", "../../x", t0); !errors.Is(err, ErrNotFound) {
		t.Errorf("Disable of a path = %v, want ErrNotFound", err)
	}

	write(t, filepath.Join(AccountsDir(data, "acme"), "sa_broken.json"), "{")
	list, err := List(data, "acme")
	if err == nil || !errors.Is(err, ErrInvalidRecord) {
		t.Errorf("List error = %v, want the broken file", err)
	}
	var ids []string
	for _, x := range list {
		ids = append(ids, x.ID)
	}
	want := []string{a.ID, b.ID}
	if a.ID > b.ID {
		want = []string{b.ID, a.ID}
	}
	if !cmp.Equal(ids, want) {
		t.Errorf("List ids = %v, want %v", ids, want)
	}
	if l, err := List(data, "nobody"); err != nil || len(l) != 0 {
		t.Errorf("List of a tenant without accounts = %v, %v", l, err)
	}
}

func TestWriteCredentials(t *testing.T) {
	a := create(t, t.TempDir(), "acme", 1)
	path := filepath.Join(t.TempDir(), "sa.json")
	if err := WriteCredentials(path, a.cred); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	if err := WriteCredentials(path, a.cred); err == nil {
		t.Error("WriteCredentials replaced an existing file")
	}
	c, err := ReadCredentials(path)
	if err != nil || c.AccountID != a.ID {
		t.Errorf("ReadCredentials = %+v, %v", c, err)
	}
}

func TestDecodeAccountRefuses(t *testing.T) {
	a := create(t, t.TempDir(), "acme", 1)
	good, err := EncodeAccount(a.Account)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeAccount(good); err != nil {
		t.Fatalf("DecodeAccount(EncodeAccount) = %v", err)
	}
	other := create(t, t.TempDir(), "acme", 2)
	privJWK, _ := marshalJWK(a.priv, a.KeyID)
	otherJWK, _ := marshalJWK(other.PublicKey, other.KeyID)
	edit := func(f func(m map[string]any)) []byte {
		var m map[string]any
		json.Unmarshal(good, &m)
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"unknown field", edit(func(m map[string]any) { m["admin"] = true })},
		{"private key", edit(func(m map[string]any) { m["public_key"] = json.RawMessage(privJWK) })},
		{"kid not thumbprint", edit(func(m map[string]any) {
			m["public_key"].(map[string]any)["kid"] = other.KeyID
		})},
		{"x5c in key", edit(func(m map[string]any) { m["public_key"].(map[string]any)["x5c"] = []string{"MII="} })},
		{"RSA key", edit(func(m map[string]any) { m["public_key"] = map[string]any{"kty": "RSA", "n": "AQAB", "e": "AQAB"} })},
		{"other key, own kid", edit(func(m map[string]any) {
			var k map[string]any
			json.Unmarshal(otherJWK, &k)
			k["kid"] = a.KeyID
			m["public_key"] = k
		})},
		{"bad id", edit(func(m map[string]any) { m["id"] = "sa_../../x" })},
		{"no roles", edit(func(m map[string]any) { m["roles"] = []string{} })},
		{"bad tenant", edit(func(m map[string]any) { m["tenant"] = "../x" })},
		{"no created", edit(func(m map[string]any) { delete(m, "created") })},
		{"disabled_at on enabled", edit(func(m map[string]any) { m["disabled_at"] = t0 })},
		{"trailing data", append(append([]byte{}, good...), []byte(`{}`)...)},
		{"not JSON", []byte("id: sa_x")},
		{"credential file", a.cred},
		{"huge", append(good, make([]byte, MaxRecordSize)...)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := DecodeAccount(tc.data); !errors.Is(err, ErrInvalidRecord) {
				t.Errorf("DecodeAccount = %v, want ErrInvalidRecord", err)
			}
		})
	}
}

func TestParseCredentialsRefuses(t *testing.T) {
	a := create(t, t.TempDir(), "acme", 1)
	other := create(t, t.TempDir(), "acme", 2)
	edit := func(f func(m map[string]any)) []byte {
		var m map[string]any
		json.Unmarshal(a.cred, &m)
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"wrong type", edit(func(m map[string]any) { m["type"] = "service_account" })},
		{"unknown field", edit(func(m map[string]any) { m["client_secret"] = "x" })},
		{"public key only", edit(func(m map[string]any) { delete(m["private_key"].(map[string]any), "d") })},
		{"key_id mismatch", edit(func(m map[string]any) { m["key_id"] = other.KeyID })},
		{"d of another key", edit(func(m map[string]any) {
			var o map[string]any
			json.Unmarshal(other.cred, &o)
			m["private_key"].(map[string]any)["d"] = o["private_key"].(map[string]any)["d"]
		})},
		{"bad account id", edit(func(m map[string]any) { m["account_id"] = "sa_x" })},
		{"http token_uri", edit(func(m map[string]any) { m["token_uri"] = "http://evil.example/token" })},
		{"account record", func() []byte { b, _ := EncodeAccount(a.Account); return b }()},
		{"empty", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseCredentials(tc.data)
			if !errors.Is(err, ErrInvalidRecord) {
				t.Errorf("ParseCredentials = %v, want ErrInvalidRecord", err)
			}
			var m map[string]any
			json.Unmarshal(a.cred, &m)
			if d, _ := m["private_key"].(map[string]any)["d"].(string); err != nil && strings.Contains(err.Error(), d) {
				t.Errorf("error shows the private key: %v", err)
			}
		})
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
