package export_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/logline/logline/internal/export"
)

var update = flag.Bool("update", false, "rewrite testdata golden files from the actual output")

// exampleLog is the log of docs/exports.md: a demo log key from fixed
// randomness (never do that), six spans of two tenants, one commit batch
// (and so one received_at, a second apart) each.
func exampleLog(t testing.TB) *testLog {
	t.Helper()
	l := newTestLog(t, t.TempDir(), 1)
	t.Cleanup(func() { l.st.Close() })
	for i, s := range []struct{ tenant, id, did string }{
		{"acme", "a0", "ordered"}, {"bakery", "b0", "baked"}, {"acme", "a1", "paid"},
		{"acme", "a2", "shipped"}, {"bakery", "b1", "sold"}, {"acme", "a3", "returned"},
	} {
		js := fmt.Sprintf(`{"id":%q,"tenant":%q,"who":"clerk","did":%q,"this":"order:7","when":"2026-01-02T03:0%d:00Z"}`, s.id, s.tenant, s.did, i)
		l.appendJSON(t, [][]byte{[]byte(js)}, 1)
	}
	return l
}

// exampleBundle exports acme's entries received in [a1, a3): a1 and a2,
// with a0 and a3 as witnesses.
func exampleBundle(t testing.TB, l *testLog) []byte {
	t.Helper()
	acme := l.tenantEntries(t, "acme", l.st.Size())
	data, _ := l.write(t, l.options("acme", acme[1].ReceivedAt, acme[3].ReceivedAt))
	return data
}

// TestExample pins the worked example of docs/exports.md.
func TestExample(t *testing.T) {
	l := exampleLog(t)
	data := exampleBundle(t, l)
	rep, err := verify(data, l.keys.Verifiers())
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	fmt.Fprintf(&out, "$ GET /log/key\n%s\n\n", strings.Join(l.keys.VerifierKeys(), "\n"))
	fmt.Fprintf(&out, "$ cat acme.export.ndjson\n%s\n", data)
	out.WriteString("Proven:\n")
	for _, s := range rep.Proven() {
		fmt.Fprintf(&out, "  %s\n", s)
	}
	out.WriteString("Attested:\n")
	for _, s := range rep.Attested() {
		fmt.Fprintf(&out, "  %s\n", s)
	}

	golden := filepath.Join("testdata", "example.golden")
	bundle := filepath.Join("testdata", "example.ndjson")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range []struct {
			path string
			data []byte
		}{{golden, out.Bytes()}, {bundle, data}, {filepath.Join("testdata", "example.key"), []byte(strings.Join(l.keys.VerifierKeys(), "\n") + "\n")}} {
			if err := os.WriteFile(f.path, f.data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if out.String() != string(want) {
		t.Errorf("output differs from %s (docs/exports.md shows it; refresh both with -update):\n%s", golden, out.String())
	}
	if b, err := os.ReadFile(bundle); err != nil || !bytes.Equal(b, data) {
		t.Errorf("%s is not the example bundle (refresh with -update): %v", bundle, err)
	}
}

// FuzzVerify: no input makes Verify panic, and whatever verifies is a
// complete bundle of the example log.
func FuzzVerify(f *testing.F) {
	good, err := os.ReadFile(filepath.Join("testdata", "example.ndjson"))
	if err != nil {
		f.Fatalf("%v (run TestExample with -update)", err)
	}
	keyText, err := os.ReadFile(filepath.Join("testdata", "example.key"))
	if err != nil {
		f.Fatal(err)
	}
	vs, origin := parseKeys(f, keyText)
	f.Add(good)
	ls := lines(good)
	for i := range ls {
		f.Add(join(ls[:i]))
		f.Add(join(append(append([][]byte{}, ls[:i]...), ls[i+1:]...)))
	}
	f.Add(good[:len(good)/2])
	f.Add(append(bytes.Clone(good), good...))
	f.Add([]byte("{\"logline_export\":1}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := export.Verify(context.Background(), bytes.NewReader(data), vs, export.VerifyOptions{Origin: origin, MaxLineBytes: 1 << 16})
		if err != nil {
			// A bytes.Reader never fails: every error is about the bundle.
			var e *export.Error
			if !errors.As(err, &e) || !errors.Is(err, export.ErrInvalid) {
				t.Fatalf("error %v is not an *export.Error", err)
			}
			return
		}
		if rep.Bytes != int64(len(data)) || !bytes.HasSuffix(data, []byte("}\n")) {
			t.Fatalf("verified %d bytes of %d", rep.Bytes, len(data))
		}
	})
}

// parseKeys reads the text of GET /log/key.
func parseKeys(t testing.TB, text []byte) (note.Verifiers, string) {
	t.Helper()
	var vs []note.Verifier
	for _, l := range strings.Fields(string(text)) {
		v, err := note.NewVerifier(l)
		if err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	return note.VerifierList(vs...), vs[0].Name()
}
