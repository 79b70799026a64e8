package llst

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

func benchEnv(b *testing.B) (*Keyring, string) {
	b.Helper()
	c := newClock(t0)
	ring, err := Open(context.Background(), Config{Store: NewDirStore(b.TempDir(), discard()), Issuer: testIssuer, Now: c.Now, Logger: discard()})
	if err != nil {
		b.Fatal(err)
	}
	tok, _, err := NewIssuer(ring).Issue(context.Background(), writerClaims())
	if err != nil {
		b.Fatal(err)
	}
	return ring, tok
}

// BenchmarkEd25519Verify is the signature check alone: the floor of a
// first-time verification.
func BenchmarkEd25519Verify(b *testing.B) {
	ring, tok := benchEnv(b)
	i := strings.LastIndexByte(tok, '.')
	input := []byte(tok[:i])
	sig, _ := base64.RawURLEncoding.DecodeString(tok[i+1:])
	pub := ring.snap.Load().keys[0].pub
	for b.Loop() {
		if !ed25519.Verify(pub, input, sig) {
			b.Fatal("bad signature")
		}
	}
}

// BenchmarkVerifyUncached is a first-time verification: everything
// Verify does with the cache disabled.
func BenchmarkVerifyUncached(b *testing.B) {
	ring, tok := benchEnv(b)
	v := &Verifier{ring: ring}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyUncachedParallel(b *testing.B) {
	ring, tok := benchEnv(b)
	v := &Verifier{ring: ring}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Verify(tok); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkVerifyCached(b *testing.B) {
	ring, tok := benchEnv(b)
	v := NewVerifier(ring)
	if _, err := v.Verify(tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyCachedParallel: many clients, each with its own token,
// all in the cache.
func BenchmarkVerifyCachedParallel(b *testing.B) {
	ring, _ := benchEnv(b)
	v := NewVerifier(ring)
	iss := NewIssuer(ring)
	toks := make([]string, 1024)
	for i := range toks {
		tok, _, err := iss.Issue(context.Background(), writerClaims())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := v.Verify(tok); err != nil {
			b.Fatal(err)
		}
		toks[i] = tok
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := v.Verify(toks[i%len(toks)]); err != nil {
				b.Error(err)
				return
			}
			i += 7
		}
	})
}

func BenchmarkIssue(b *testing.B) {
	ring, _ := benchEnv(b)
	iss := NewIssuer(ring)
	c := writerClaims()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := iss.Issue(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifySteps times the steps of a first-time verification
// apart, to show what go-jose adds around the signature check.
func BenchmarkVerifySteps(b *testing.B) {
	ring, tok := benchEnv(b)
	pub := ring.snap.Load().keys[0].pub
	b.Run("sha256", func(b *testing.B) {
		v := NewVerifier(ring)
		for b.Loop() {
			_ = v.hashToken(tok)
		}
	})
	b.Run("checkHeader", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := checkHeader(tok); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("jwt.ParseSigned", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.EdDSA}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Claims(verify)", func(b *testing.B) {
		parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.EdDSA})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := parsed.Claims(pub); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parseClaims", func(b *testing.B) {
		payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
		b.ReportAllocs()
		for b.Loop() {
			if _, err := parseClaims(payload); err != nil {
				b.Fatal(err)
			}
		}
	})
}
