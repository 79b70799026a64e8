package tenantcfg

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/logline/logline/internal/auth"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// render prints a Tenant in a stable, readable form for the goldens.
func render(t *Tenant) string {
	var b strings.Builder
	f := t.Features()
	fmt.Fprintf(&b, "features: trajectory=%v diamond=%v\n", f.Trajectory, f.Diamond)
	for _, r := range t.Roles() {
		fmt.Fprintf(&b, "role %s: %s\n", r, strings.Join(t.Grants([]string{r}), " "))
	}
	for _, m := range t.Members() {
		fmt.Fprintf(&b, "member (line %d):", m.Line)
		for _, kv := range [][2]string{{"llid", m.LLID}, {"issuer", m.Issuer}, {"subject", m.Subject}, {"hosted_domain", m.HostedDomain}, {"note", m.Note}} {
			if kv[1] != "" {
				fmt.Fprintf(&b, " %s=%q", kv[0], kv[1])
			}
		}
		fmt.Fprintf(&b, " roles=%v\n", m.Roles)
	}
	if d := t.AllowedDomains(); d != nil {
		fmt.Fprintf(&b, "login: allowed_domains=%v\n", d)
	}
	q := t.Quotas()
	fmt.Fprintf(&b, "quota tenant: %s\n", renderLimits(q.Tenant))
	for _, r := range t.Roles() {
		if l, ok := t.RoleLimits(r); ok {
			fmt.Fprintf(&b, "quota role %s: %s\n", r, renderLimits(l))
		}
	}
	return b.String()
}

func renderLimits(l Limits) string {
	one := func(r Rate) string {
		if r.Unlimited() {
			return "unlimited"
		}
		return fmt.Sprintf("%s/s burst %d", strconv.FormatFloat(r.PerSecond, 'f', -1, 64), r.Burst)
	}
	return fmt.Sprintf("requests %s; spans %s; bytes %s", one(l.Requests), one(l.Spans), one(l.Bytes))
}

// TestParseGolden parses every testdata/*.yaml as tenant "acme" and
// compares the result — the rendered Tenant or the error list — with
// testdata/<name>.golden. Files named err_* must fail, the others parse.
func TestParseGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			tn, err := Parse("acme", filepath.Base(file), data)
			var got string
			wantErr := strings.HasPrefix(name, "err_")
			switch {
			case err != nil && !wantErr:
				t.Fatalf("Parse: %v", err)
			case err == nil && wantErr:
				t.Fatalf("Parse succeeded, want errors")
			case err != nil:
				if !errors.Is(err, ErrInvalid) {
					t.Errorf("errors.Is(err, ErrInvalid) = false for %v", err)
				}
				var list ErrorList
				if !errors.As(err, &list) {
					t.Fatalf("error %T is not an ErrorList", err)
				}
				for _, e := range list {
					if e.Tenant != "acme" || e.File != filepath.Base(file) {
						t.Errorf("error %v: tenant %q file %q, want acme and %s", e, e.Tenant, e.File, filepath.Base(file))
					}
				}
				got = list.Lines()
			default:
				if tn.Name() != "acme" || tn.File() != filepath.Base(file) || len(tn.Digest()) != 64 {
					t.Errorf("name %q file %q digest %q", tn.Name(), tn.File(), tn.Digest())
				}
				got = render(tn)
			}
			golden := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("%s mismatch (-want +got):\n%s", golden, diff)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	d := Defaults("acme")
	if d.Name() != "acme" || d.File() != "" || d.Digest() != "" {
		t.Errorf("Defaults: name %q file %q digest %q", d.Name(), d.File(), d.Digest())
	}
	if got, want := d.Roles(), []string{auth.RoleAdmin, auth.RoleReader, auth.RoleWriter}; !cmp.Equal(got, want) {
		t.Errorf("Roles() = %v, want %v", got, want)
	}
	if got := d.Features(); got != (Features{}) {
		t.Errorf("Features() = %+v, want all off", got)
	}
	if got := d.TenantLimits(); got != DefaultLimits() {
		t.Errorf("TenantLimits() = %+v, want %+v", got, DefaultLimits())
	}
	if got := d.RolesFor(Identity{Issuer: GoogleIssuer, Subject: "1", HostedDomain: "example.com"}); got != nil {
		t.Errorf("RolesFor = %v, want nil (no members)", got)
	}
	if !d.LoginAllowed("") || !d.LoginAllowed("example.com") {
		t.Error("Defaults restrict login")
	}
	// The empty file is the defaults too.
	e, err := Parse("acme", "tenant.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(render(d), render(e)); diff != "" {
		t.Errorf("empty file differs from Defaults:\n%s", diff)
	}
}

func TestGrants(t *testing.T) {
	tn := mustParse(t, "full.yaml")
	tests := []struct {
		name  string
		roles []string
		want  auth.Grants
	}{
		{"none", nil, nil},
		{"builtin reader", []string{"reader"}, auth.Grants{"ledger.read", "stream.read"}},
		{"union without duplicates", []string{"reader", "writer"}, auth.Grants{"ledger.append", "ledger.read", "stream.read"}},
		{"tenant role", []string{"auditor"}, auth.Grants{"admin.export", "ledger.read"}},
		{"unknown role grants nothing", []string{"superuser"}, nil},
		{"unknown beside known", []string{"superuser", "ingest"}, auth.Grants{"ledger.append"}},
		{"admin is everything", []string{"admin"}, auth.Grants{"*"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tn.Grants(tc.roles); !cmp.Equal(got, tc.want, cmpEmpty) {
				t.Errorf("Grants(%v) = %v, want %v", tc.roles, got, tc.want)
			}
		})
	}
	if !tn.Grants([]string{"memory-user"}).Allows(auth.MemoryWrite) {
		t.Error("memory-user lacks memory.write through memory.*")
	}
	if tn.Grants([]string{"auditor"}).Allows(auth.LedgerAppend) {
		t.Error("auditor may append")
	}
}

var cmpEmpty = cmp.Comparer(func(a, b auth.Grants) bool { return len(a) == 0 && len(b) == 0 || cmp.Equal([]string(a), []string(b)) })

func TestRolesFor(t *testing.T) {
	tn := mustParse(t, "full.yaml")
	const llid = "llid_abcdefghijklmnopqrstuvwxyz234567"
	googleSub := "109876543210987654321"
	tests := []struct {
		name string
		id   Identity
		want []string
	}{
		{"by llid", Identity{LLID: llid, HostedDomain: "example.com"}, []string{"admin"}},
		{"llid outside allowed domains", Identity{LLID: llid}, nil},
		{"by issuer and subject", Identity{Issuer: GoogleIssuer, Subject: googleSub, HostedDomain: "example.com"},
			[]string{"auditor", "reader", "writer"}},
		{"by the llid of issuer and subject", Identity{LLID: auth.LLID(GoogleIssuer, googleSub), HostedDomain: "example.com"},
			[]string{"auditor", "writer"}},
		{"subject of another issuer", Identity{Issuer: "https://evil.example", Subject: googleSub, HostedDomain: "example.com"}, nil},
		{"hosted domain, any case", Identity{Issuer: GoogleIssuer, Subject: "5", HostedDomain: "EXAMPLE.com"}, []string{"reader"}},
		{"hosted domain needs its issuer", Identity{Issuer: "https://login.example.org", Subject: "5", HostedDomain: "example.com"}, nil},
		{"hosted domain of a non-Google issuer", Identity{Issuer: "https://login.example.org", Subject: "5", HostedDomain: "example.org"}, []string{"memory-user"}},
		{"allowed domain, no member", Identity{Issuer: GoogleIssuer, Subject: "5", HostedDomain: "example.org"}, nil},
		{"domain not allowed", Identity{Issuer: "http://127.0.0.1:5556/dex", Subject: "CiQwOGE4Njg0Yi1kYjg4", HostedDomain: "other.com"}, nil},
		{"no identity", Identity{}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tn.RolesFor(tc.id); !cmp.Equal(got, tc.want) {
				t.Errorf("RolesFor(%+v) = %v, want %v", tc.id, got, tc.want)
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"1048576", 1048576, true},
		{"50MB", 50_000_000, true},
		{"50 mb", 50_000_000, true},
		{"50MB/s", 50_000_000, true},
		{"1.5KB", 1500, true},
		{"512KiB", 512 << 10, true},
		{"2GiB", 2 << 30, true},
		{"1TB", 1e12, true},
		{"10B", 10, true},
		{"1PiB", 0, false},
		{"1.5B", 0, false},
		{"-1", 0, false},
		{"1e6", 0, false},
		{"", 0, false},
		{"MB", 0, false},
		{"0x10", 0, false},
		{"inf", 0, false},
		{"NaN", 0, false},
		{".5KB", 0, false},
		{"5 parsecs", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseSize(tc.in)
			if (err == nil) != tc.ok || got != tc.want {
				t.Errorf("parseSize(%q) = %d, %v; want %d, ok %v", tc.in, got, err, tc.want, tc.ok)
			}
		})
	}
}

func TestImmutable(t *testing.T) {
	tn := mustParse(t, "full.yaml")
	before := render(tn)
	tn.Members()[0].Roles[0] = "hacked"
	tn.Quotas().Roles["reader"] = Limits{}
	tn.AllowedDomains()[0] = "evil.com"
	tn.Grants([]string{"auditor"})[0] = "*"
	tn.RolesFor(Identity{LLID: "llid_abcdefghijklmnopqrstuvwxyz234567", HostedDomain: "example.com"})[0] = "x"
	if after := render(tn); after != before {
		t.Errorf("a caller changed the Tenant:\n%s", cmp.Diff(before, after))
	}
}

func mustParse(t testing.TB, name string) *Tenant {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	tn, err := Parse("acme", name, data)
	if err != nil {
		t.Fatal(err)
	}
	return tn
}
