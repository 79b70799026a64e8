package serviceacct

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/logline/logline/internal/durable"
)

// IDPrefix starts every service account id.
const IDPrefix = "sa_"

// DirName is the directory of a tenant's account records:
// DATA/cfg/tenants/<tenant>/service-accounts.
const DirName = "service-accounts"

// MaxRecordSize bounds an account record or credential file.
const MaxRecordSize = 16 << 10

// Errors of the account store, for errors.Is.
var (
	// ErrInvalidRecord: an account record or credential file is malformed.
	ErrInvalidRecord = errors.New("invalid service account file")
	// ErrNotFound: no such account in the tenant.
	ErrNotFound = errors.New("service account not found")
	// ErrInvalidRequest: Create or Disable got arguments it refuses.
	ErrInvalidRequest = errors.New("invalid service account request")
)

// Account is a service account: an app's identity within one tenant,
// proven by signing assertions with the private key whose public half is
// here. Accounts are values; a Registry hands out copies.
type Account struct {
	ID         string
	Tenant     string
	Name       string   // a label for people; may be empty
	Roles      []string // role names in the tenant (built-in or tenant.yaml's)
	KeyID      string   // RFC 7638 thumbprint of PublicKey
	PublicKey  ed25519.PublicKey
	Created    time.Time
	Disabled   bool
	DisabledAt time.Time // zero unless Disabled
}

// record is an account on disk (see doc.go).
type record struct {
	ID         string          `json:"id"`
	Tenant     string          `json:"tenant"`
	Name       string          `json:"name"`
	Roles      []string        `json:"roles"`
	PublicKey  json.RawMessage `json:"public_key"`
	Created    time.Time       `json:"created"`
	Disabled   bool            `json:"disabled"`
	DisabledAt *time.Time      `json:"disabled_at,omitempty"`
}

var (
	idRule   = regexp.MustCompile(`^` + IDPrefix + `[a-z2-7]{32}$`)
	roleRule = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`)
)

// ValidID reports whether s has the form of an account id.
func ValidID(s string) bool { return idRule.MatchString(s) }

// idEncoding is lower-case base32 without padding, as auth.LLID uses.
var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// AccountsDir is where a tenant's account records live.
func AccountsDir(dataDir, tenant string) string {
	return filepath.Join(dataDir, "cfg", "tenants", tenant, DirName)
}

// RecordPath is the file of one account record.
func RecordPath(dataDir, tenant, id string) string {
	return filepath.Join(AccountsDir(dataDir, tenant), id+".json")
}

// EncodeAccount returns the on-disk record of a (indented JSON).
func EncodeAccount(a Account) ([]byte, error) {
	jwk, err := marshalJWK(a.PublicKey, a.KeyID)
	if err != nil {
		return nil, err
	}
	r := record{ID: a.ID, Tenant: a.Tenant, Name: a.Name, Roles: a.Roles, PublicKey: jwk,
		Created: a.Created.UTC(), Disabled: a.Disabled}
	if a.Disabled && !a.DisabledAt.IsZero() {
		t := a.DisabledAt.UTC()
		r.DisabledAt = &t
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode account %s: %w", a.ID, err)
	}
	return append(b, '\n'), nil
}

// DecodeAccount checks and decodes an account record: unknown fields, a
// private key, a kid that is not the key's thumbprint, a malformed id,
// tenant, name or role are all ErrInvalidRecord.
func DecodeAccount(data []byte) (Account, error) {
	if len(data) > MaxRecordSize {
		return Account{}, fmt.Errorf("%w: larger than %d bytes", ErrInvalidRecord, MaxRecordSize)
	}
	var r record
	if err := strictJSON(data, &r); err != nil {
		return Account{}, fmt.Errorf("%w: %v", ErrInvalidRecord, err)
	}
	a := Account{ID: r.ID, Tenant: r.Tenant, Name: r.Name, Roles: r.Roles, Created: r.Created, Disabled: r.Disabled}
	if r.DisabledAt != nil {
		a.DisabledAt = *r.DisabledAt
	}
	pub, _, kid, err := parseJWK(r.PublicKey, false)
	if err != nil {
		return Account{}, fmt.Errorf("%w: public_key: %v", ErrInvalidRecord, err)
	}
	a.PublicKey, a.KeyID = pub, kid
	if err := checkAccount(a); err != nil {
		return Account{}, fmt.Errorf("%w: %v", ErrInvalidRecord, err)
	}
	if r.DisabledAt != nil && !r.Disabled {
		return Account{}, fmt.Errorf("%w: disabled_at set on an enabled account", ErrInvalidRecord)
	}
	return a, nil
}

// strictJSON decodes one JSON object into v, refusing unknown fields and
// trailing data.
func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON object")
	}
	return nil
}

func checkAccount(a Account) error {
	switch {
	case !ValidID(a.ID):
		return fmt.Errorf("id %q: want %s and 32 characters from a-z and 2-7", clip(a.ID), IDPrefix)
	case !pathSafe(a.Tenant):
		return fmt.Errorf("tenant %q is not a tenant name", clip(a.Tenant))
	case a.Created.IsZero():
		return errors.New("no created time")
	}
	if err := checkName(a.Name); err != nil {
		return err
	}
	return checkRoles(a.Roles)
}

func checkName(name string) error {
	if len(name) > 200 || strings.IndexFunc(name, func(r rune) bool { return unicode.IsControl(r) || r == unicode.ReplacementChar }) >= 0 {
		return fmt.Errorf("name %q: at most 200 printable characters", clip(name))
	}
	return nil
}

func checkRoles(roles []string) error {
	if len(roles) == 0 {
		return errors.New("no roles")
	}
	for _, r := range roles {
		if !roleRule.MatchString(r) {
			return fmt.Errorf("role %q is not a role name", clip(r))
		}
	}
	return nil
}

// pathSafe accepts a name that is one path element; the ledger's tenant
// rule (ValidTenant) is stricter.
func pathSafe(s string) bool {
	return s != "" && len(s) <= 255 && s != "." && s != ".." && !strings.ContainsAny(s, "/\\\x00")
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:61] + "..."
	}
	return s
}

// CreateOptions are the arguments of Create.
type CreateOptions struct {
	Tenant string
	Roles  []string // at least one; the caller checks they exist in the tenant (tenantcfg.Tenant.HasRole)
	Name   string   // optional label, at most 200 printable characters

	// TokenURI is the token endpoint the app will call, written into its
	// credential file and used as the assertions' audience: the server's
	// public URL + "/auth/token".
	TokenURI string

	Now  time.Time // the created time
	Rand io.Reader // key and id randomness; crypto/rand if nil

	// ValidTenant is the ledger's tenant-name rule (span.ValidTenant);
	// nil accepts any single path element.
	ValidTenant func(string) bool
}

// Create makes a service account: an Ed25519 key pair, the account
// record written (0644, durably) to RecordPath, and the credential file
// for the app returned — the private key is in it and nowhere else; the
// server never stores it. The caller writes the credentials where the
// operator asked, mode 0600 (WriteCredentials).
func Create(dataDir string, o CreateOptions) (Account, []byte, error) {
	if err := checkCreate(o); err != nil {
		return Account{}, nil, err
	}
	rnd := o.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	var buf [ed25519.SeedSize + 20]byte
	if _, err := io.ReadFull(rnd, buf[:]); err != nil {
		return Account{}, nil, fmt.Errorf("create service account: randomness: %w", err)
	}
	priv := ed25519.NewKeyFromSeed(buf[:ed25519.SeedSize])
	pub := priv.Public().(ed25519.PublicKey)
	kid, err := KeyID(pub)
	if err != nil {
		return Account{}, nil, err
	}
	a := Account{
		ID:        IDPrefix + idEncoding.EncodeToString(buf[ed25519.SeedSize:]),
		Tenant:    o.Tenant,
		Name:      o.Name,
		Roles:     slices.Compact(slices.Sorted(slices.Values(o.Roles))),
		KeyID:     kid,
		PublicKey: pub,
		Created:   o.Now.UTC().Truncate(time.Second),
	}
	rec, err := EncodeAccount(a)
	if err != nil {
		return Account{}, nil, err
	}
	cred, err := encodeCredentials(a, priv, o.TokenURI)
	if err != nil {
		return Account{}, nil, err
	}
	dir := AccountsDir(dataDir, a.Tenant)
	if err := durable.MkdirAll(dir, 0o755); err != nil {
		return Account{}, nil, fmt.Errorf("create service account: %w", err)
	}
	path := RecordPath(dataDir, a.Tenant, a.ID)
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		return Account{}, nil, fmt.Errorf("create service account: %s exists", path)
	}
	if err := durable.WriteFile(path, rec, 0o644); err != nil {
		return Account{}, nil, fmt.Errorf("create service account: %w", err)
	}
	return a, cred, nil
}

func checkCreate(o CreateOptions) error {
	valid := o.ValidTenant
	if valid == nil {
		valid = pathSafe
	}
	switch {
	case !pathSafe(o.Tenant) || !valid(o.Tenant):
		return fmt.Errorf("%w: %q is not a tenant name", ErrInvalidRequest, clip(o.Tenant))
	case o.Now.IsZero():
		return fmt.Errorf("%w: no creation time", ErrInvalidRequest)
	}
	if err := checkTokenURI(o.TokenURI); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidRequest, err)
	}
	if err := checkName(o.Name); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidRequest, err)
	}
	if err := checkRoles(o.Roles); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidRequest, err)
	}
	return nil
}

// checkTokenURI accepts an absolute https URL, or http on a loopback
// host (a server without TLS reached locally).
func checkTokenURI(s string) error {
	u, err := url.Parse(s)
	if err == nil && u.Host != "" && u.User == nil && u.Fragment == "" && u.RawQuery == "" {
		switch u.Scheme {
		case "https":
			return nil
		case "http":
			host := u.Hostname()
			if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
				return nil
			}
		}
	}
	return fmt.Errorf("token_uri %q: want an https URL (http only on a loopback address), without query or fragment", clip(s))
}

// ReadAccount reads one account record of tenant.
func ReadAccount(dataDir, tenant, id string) (Account, error) {
	if !pathSafe(tenant) || !ValidID(id) {
		return Account{}, fmt.Errorf("%w: %s in tenant %q", ErrNotFound, clip(id), clip(tenant))
	}
	path := RecordPath(dataDir, tenant, id)
	data, err := readLimited(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Account{}, fmt.Errorf("%w: %s in tenant %s", ErrNotFound, id, tenant)
	}
	if err != nil {
		return Account{}, fmt.Errorf("read service account: %w", err)
	}
	a, err := DecodeAccount(data)
	if err != nil {
		return Account{}, fmt.Errorf("%s: %w", path, err)
	}
	if a.ID != id || a.Tenant != tenant {
		return Account{}, fmt.Errorf("%s: %w: holds %s of tenant %q", path, ErrInvalidRecord, a.ID, a.Tenant)
	}
	return a, nil
}

// Disable marks an account disabled (durably); its assertions are refused
// from the next Registry reload on. Disabling a disabled account changes
// nothing. There is no Enable: make a new account.
func Disable(dataDir, tenant, id string, now time.Time) (Account, error) {
	a, err := ReadAccount(dataDir, tenant, id)
	if err != nil {
		return Account{}, err
	}
	if a.Disabled {
		return a, nil
	}
	a.Disabled, a.DisabledAt = true, now.UTC().Truncate(time.Second)
	rec, err := EncodeAccount(a)
	if err != nil {
		return Account{}, err
	}
	if err := durable.WriteFile(RecordPath(dataDir, tenant, id), rec, 0o644); err != nil {
		return Account{}, fmt.Errorf("disable service account: %w", err)
	}
	return a, nil
}

// List returns the accounts of a tenant, oldest first. Records that cannot
// be read or decoded are left out and returned as errors (errors.Join of
// one per file) beside the good ones. A tenant without accounts is an
// empty list.
func List(dataDir, tenant string) ([]Account, error) {
	if !pathSafe(tenant) {
		return nil, fmt.Errorf("%w: %q is not a tenant name", ErrInvalidRequest, clip(tenant))
	}
	found, errs, err := readTenant(dataDir, tenant, nil, nil)
	if err != nil {
		return nil, err
	}
	out := make([]Account, 0, len(found))
	for _, f := range found {
		out = append(out, f.a)
	}
	sortAccounts(out)
	return out, errors.Join(errs...)
}

func sortAccounts(as []Account) {
	slices.SortFunc(as, func(a, b Account) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, MaxRecordSize+1))
}
