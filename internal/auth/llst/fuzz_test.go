package llst

import (
	"strings"
	"testing"
)

// FuzzVerify: no input makes Verify panic, and none verifies except the
// one valid token of the corpus.
func FuzzVerify(f *testing.F) {
	dir := f.TempDir()
	c := newClock(t0)
	ring, err := Open(f.Context(), Config{Store: NewDirStore(dir, discard()), Issuer: testIssuer, Now: c.Now, Rand: newRand(5), Logger: discard()})
	if err != nil {
		f.Fatal(err)
	}
	valid, _, err := NewIssuer(ring).Issue(f.Context(), writerClaims())
	if err != nil {
		f.Fatal(err)
	}
	parts := strings.Split(valid, ".")
	for _, s := range []string{
		valid,
		"",
		".",
		"..",
		"...",
		parts[0] + "." + parts[1] + ".",
		parts[0] + ".." + parts[2],
		"." + parts[1] + "." + parts[2],
		"eyJhbGciOiJub25lIn0." + parts[1] + ".",
		"eyJhbGciOiJFZERTQSIsImtpZCI6Ii4uLy4uL2V0Yy9wYXNzd2QiLCJ0eXAiOiJsbHN0K2p3dCJ9." + parts[1] + "." + parts[2],
		"eyJhbGciOiJFZERTQSIsImp3ayI6e30sInR5cCI6Imxsc3Qrand0In0." + parts[1] + "." + parts[2],
		valid[:len(valid)-1] + "B",
		strings.ToUpper(valid),
	} {
		f.Add(s)
	}
	uncached := &Verifier{ring: ring}
	cached := NewVerifier(ring)
	f.Fuzz(func(t *testing.T, tok string) {
		for _, v := range []*Verifier{uncached, cached} {
			p, err := v.Verify(tok)
			if tok == valid {
				if err != nil {
					t.Fatalf("the valid token: %v", err)
				}
				continue
			}
			if err == nil || p != nil {
				t.Fatalf("Verify(%q) = %+v, %v; want an error", tok, p, err)
			}
			if len(tok) >= 16 && strings.Contains(err.Error(), tok) {
				t.Fatalf("error %q echoes the token", err)
			}
		}
	})
}
