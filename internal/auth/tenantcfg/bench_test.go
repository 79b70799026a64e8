package tenantcfg

import (
	"context"
	"fmt"
	"os"
	"testing"
)

func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile("testdata/full.yaml")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse("acme", "full.yaml", data); err != nil {
			b.Fatal(err)
		}
	}
}

func benchData(b *testing.B, n int) string {
	data := b.TempDir()
	full, err := os.ReadFile("testdata/full.yaml")
	if err != nil {
		b.Fatal(err)
	}
	for i := range n {
		p := Path(data, fmt.Sprintf("t%04d", i))
		if err := os.MkdirAll(p[:len(p)-len(FileName)], 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, full, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return data
}

// BenchmarkLoad100 reads and parses 100 tenants.
func BenchmarkLoad100(b *testing.B) {
	data := benchData(b, 100)
	for b.Loop() {
		if _, err := Load(data, validTenant); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReloadUnchanged100 is one poll of a Watcher over 100 tenants
// whose files did not change: the cost every 2 s.
func BenchmarkReloadUnchanged100(b *testing.B) {
	data := benchData(b, 100)
	w, err := New(context.Background(), Config{DataDir: data, ValidTenant: validTenant})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := w.Reload(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLookup is what a request pays: the current snapshot, its
// tenant, the grants of two roles.
func BenchmarkLookup(b *testing.B) {
	data := benchData(b, 100)
	w, err := New(context.Background(), Config{DataDir: data, ValidTenant: validTenant})
	if err != nil {
		b.Fatal(err)
	}
	roles := []string{"writer", "auditor"}
	b.ReportAllocs()
	for b.Loop() {
		tn, ok := w.Current().Tenant("t0042")
		if !ok || len(tn.Grants(roles)) == 0 {
			b.Fatal("no grants")
		}
	}
}

func BenchmarkRolesFor(b *testing.B) {
	tn := mustParse(b, "full.yaml")
	id := Identity{Issuer: GoogleIssuer, Subject: "109876543210987654321", HostedDomain: "example.com"}
	b.ReportAllocs()
	for b.Loop() {
		if len(tn.RolesFor(id)) != 3 {
			b.Fatal("roles")
		}
	}
}
