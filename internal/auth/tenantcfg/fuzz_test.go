package tenantcfg

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that no input makes Parse panic, and that it returns
// either a whole Tenant or a bounded list of positioned errors.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("quotas: {bytes: {rate: \"1.5e3KB\", burst: 0x10}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tn, err := Parse("acme", "tenant.yaml", data)
		if err != nil {
			if tn != nil {
				t.Fatal("Parse returned a Tenant and an error")
			}
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 || len(list) > maxErrors+1 {
				t.Fatalf("error %T %v: want 1..%d positioned errors", err, err, maxErrors+1)
			}
			for _, e := range list {
				if e.File != "tenant.yaml" || e.Tenant != "acme" || e.Line < 0 || e.Msg == "" {
					t.Fatalf("bad error %+v", e)
				}
			}
			return
		}
		for _, r := range []string{"admin", "writer", "reader"} {
			if !tn.HasRole(r) {
				t.Fatalf("built-in role %s missing", r)
			}
		}
		if g := tn.Grants([]string{"admin"}); len(g) != 1 || g[0] != "*" {
			t.Fatalf("admin grants %v: a built-in was redefined", g)
		}
		for _, m := range tn.Members() {
			for _, r := range m.Roles {
				if !tn.HasRole(r) {
					t.Fatalf("member gets unknown role %q", r)
				}
			}
		}
		q := tn.Quotas()
		for _, l := range append([]Limits{q.Tenant}, func() (out []Limits) {
			for _, l := range q.Roles {
				out = append(out, l)
			}
			return out
		}()...) {
			for _, r := range []Rate{l.Requests, l.Spans, l.Bytes} {
				if !r.Unlimited() && (r.PerSecond <= 0 || r.Burst < 1) {
					t.Fatalf("rate %+v is not positive", r)
				}
			}
		}
		tn.RolesFor(Identity{Issuer: GoogleIssuer, Subject: "1", HostedDomain: "example.com"})
	})
}
