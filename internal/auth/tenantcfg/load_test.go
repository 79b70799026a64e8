package tenantcfg

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// validTenant stands in for span.ValidTenant in these tests.
var validTenant = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`).MatchString

const goodYAML = "features:\n  trajectory: true\nmembers:\n  - llid: llid_abcdefghijklmnopqrstuvwxyz234567\n    roles: [writer]\n"

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoad(t *testing.T) {
	data := t.TempDir()
	dir := TenantsDir(data)
	write(t, Path(data, "acme"), goodYAML)
	write(t, filepath.Join(dir, "beta.yaml"), "features: {diamond: true}\n")       // the v8 seed's form
	write(t, Path(data, "gamma"), goodYAML)                                        // both forms:
	write(t, filepath.Join(dir, "gamma.yaml"), goodYAML)                           // refused
	write(t, Path(data, "Bad"), goodYAML)                                          // not a tenant name
	write(t, Path(data, "delta"), "features:\n  trajectory: maybe\n")              // invalid
	write(t, filepath.Join(dir, "epsilon", "service-accounts", "sa_x.json"), "{}") // no tenant.yaml
	write(t, filepath.Join(dir, "zeta.yml"), goodYAML)                             // wrong extension
	write(t, filepath.Join(dir, ".acme.yaml.tmp123"), "garbage: [")                // durable's temp file
	write(t, filepath.Join(dir, "README.md"), "# tenants\n")                       // ignored
	write(t, filepath.Join(dir, "eta", "tenant.yaml.bak"), "junk")                 // ignored

	snap, err := Load(data, validTenant)
	if snap == nil {
		t.Fatalf("Load: nil snapshot, %v", err)
	}
	if got, want := snap.Names(), []string{"acme", "beta"}; !cmp.Equal(got, want) {
		t.Errorf("Names() = %v, want %v", got, want)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("Load error %v, want ErrInvalid", err)
	}
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("Load error %T, want ErrorList", err)
	}
	var got []string
	for _, e := range list {
		rel, _ := filepath.Rel(dir, e.File)
		got = append(got, e.Tenant+" "+rel+" "+strings.ReplaceAll(e.Msg, dir+string(filepath.Separator), ""))
	}
	want := []string{
		`Bad Bad/tenant.yaml "Bad" is not a valid tenant name`,
		`delta delta/tenant.yaml features.trajectory must be true or false, not the string "maybe"`,
		`gamma gamma.yaml tenant "gamma" is configured twice, in gamma/tenant.yaml and here; keep only gamma/tenant.yaml`,
		`zeta zeta.yml tenant files end in .yaml; rename it to zeta.yaml`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	acme, ok := snap.Tenant("acme")
	if !ok || !acme.Features().Trajectory || acme.File() != Path(data, "acme") {
		t.Errorf("acme = %v, %v", acme, ok)
	}
	if beta, _ := snap.Tenant("beta"); !beta.Features().Diamond {
		t.Error("beta.yaml not applied")
	}
	if _, ok := snap.Tenant("epsilon"); ok {
		t.Error("epsilon has no tenant.yaml but is configured")
	}
	if d := snap.TenantOrDefaults("epsilon"); d.File() != "" || d.Name() != "epsilon" {
		t.Errorf("TenantOrDefaults(epsilon) = %q from %q", d.Name(), d.File())
	}
}

func TestLoadNoDirectory(t *testing.T) {
	snap, err := Load(t.TempDir(), validTenant)
	if err != nil || snap == nil || snap.Len() != 0 {
		t.Errorf("Load of an empty data dir = %v, %v; want no tenants, no error", snap, err)
	}
}

func TestLoadUnreadable(t *testing.T) {
	data := t.TempDir()
	write(t, TenantsDir(data), "not a directory")
	snap, err := Load(data, validTenant)
	if err == nil || snap != nil || errors.Is(err, ErrInvalid) {
		t.Errorf("Load = %v, %v; want nil and an I/O error", snap, err)
	}
}

func TestLoadAnyName(t *testing.T) {
	data := t.TempDir()
	write(t, Path(data, "Mixed.Case"), "")
	snap, err := Load(data, nil)
	if err != nil || snap.Len() != 1 {
		t.Errorf("Load with nil ValidTenant = %v, %v; want Mixed.Case loaded", snap.Names(), err)
	}
}

func TestLoadTooLarge(t *testing.T) {
	data := t.TempDir()
	write(t, Path(data, "acme"), "# "+strings.Repeat("x", MaxFileSize)+"\n")
	_, err := Load(data, validTenant)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "at most 1048576 allowed") {
		t.Errorf("Load = %v, want a size error", err)
	}
}

func TestNilSnapshot(t *testing.T) {
	var s *Snapshot
	if _, ok := s.Tenant("acme"); ok || s.Len() != 0 || s.Names() != nil || s.TenantOrDefaults("acme") == nil {
		t.Error("nil Snapshot is not empty")
	}
}
