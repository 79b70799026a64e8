package bundle

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/logline/logline/internal/span"
)

func key(t testing.TB, seed byte) span.KeyPair {
	t.Helper()
	kp, err := span.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{seed}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

func trustedOf(t testing.TB, kps ...span.KeyPair) *Trusted {
	t.Helper()
	var b strings.Builder
	b.WriteString("# trusted bundle keys\n\n")
	for i, kp := range kps {
		b.WriteString(hex.EncodeToString(kp.Public) + " key" + string(rune('a'+i)) + "\n")
	}
	tr, err := ParseTrusted([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

var sampleIR = []byte("\x01compiled program bytes\x00\xff")

func sampleResources() Resources {
	return Resources{Validators: []string{"b", "canonical_contract_v1"}, Policies: []string{"quality_meter"}}
}

func TestRoundTrip(t *testing.T) {
	kp := key(t, 1)
	data, err := Build(sampleIR, sampleResources(), []string{"ledger.append"}, kp)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := Build(sampleIR, sampleResources(), []string{"ledger.append"}, kp)
	if !bytes.Equal(data, again) {
		t.Error("Build is not deterministic")
	}
	b, err := Open(data, trustedOf(t, kp))
	if err != nil {
		t.Fatal(err)
	}
	m := b.Manifest
	if !bytes.Equal(b.IR, sampleIR) || m.ABI != "v1" || m.SigningKeyID != KeyID(kp.Public) || !strings.HasPrefix(m.Hash, "sha256:") {
		t.Errorf("opened %+v", b)
	}
	if got := m.Resources.Validators; len(got) != 2 || got[0] != "b" {
		t.Errorf("resources %+v, want sorted names", m.Resources)
	}
	if m.Resources.Routers == nil || m.Resources.Schemas == nil {
		t.Error("empty resource kinds must be [] in the manifest, not null")
	}
}

// TestRefused: every way a bundle can be wrong is refused with the error
// that says why.
func TestRefused(t *testing.T) {
	kp, other := key(t, 1), key(t, 2)
	good, err := Build(sampleIR, sampleResources(), nil, kp)
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(m map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(good, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		out, _ := json.Marshal(m)
		return out
	}
	manifest := func(f func(m map[string]any)) []byte {
		return edit(func(b map[string]any) { f(b["manifest"].(map[string]any)) })
	}
	otherSigned, _ := Build(sampleIR, sampleResources(), nil, other)
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"not JSON", []byte("PK\x03\x04"), ErrMalformed},
		{"empty", nil, ErrMalformed},
		{"wrong format", edit(func(m map[string]any) { m["format"] = "logline-lllb/9" }), ErrMalformed},
		{"unknown member", edit(func(m map[string]any) { m["extra"] = 1 }), ErrMalformed},
		{"wrong ABI", manifest(func(m map[string]any) { m["abi"] = "v2" }), ErrABI},
		{"IR byte changed", edit(func(m map[string]any) {
			ir, _ := base64.StdEncoding.DecodeString(m["ir"].(string))
			ir[3] ^= 1
			m["ir"] = base64.StdEncoding.EncodeToString(ir)
		}), ErrHash},
		{"IR replaced and hash updated", edit(func(m map[string]any) {
			m["ir"] = base64.StdEncoding.EncodeToString([]byte("evil"))
			// the hash is signed, so fixing it breaks the signature
			m["manifest"].(map[string]any)["hash"] = "sha256:7cd8ee2a5bfb6a1dd69cc8e6d4c0c3f4ce4e3fd4bc8d2c11b1a3d4b1c93ee69a"
		}), ErrHash},
		{"capability added", manifest(func(m map[string]any) { m["caps_allow"] = []string{"http.request"} }), ErrSignature},
		{"resource renamed", manifest(func(m map[string]any) {
			m["resources"].(map[string]any)["validators"] = []string{"x"}
		}), ErrSignature},
		{"unsigned", edit(func(m map[string]any) { m["signature"] = "" }), ErrUnsigned},
		{"no key", edit(func(m map[string]any) { m["public_key"] = "" }), ErrUnsigned},
		{"signature flipped", edit(func(m map[string]any) {
			sig, _ := base64.StdEncoding.DecodeString(m["signature"].(string))
			sig[10] ^= 0x40
			m["signature"] = base64.StdEncoding.EncodeToString(sig)
		}), ErrSignature},
		{"key swapped for another", edit(func(m map[string]any) { m["public_key"] = hex.EncodeToString(other.Public) }), ErrSignature},
		{"signed by an untrusted key", otherSigned, ErrUntrustedKey},
	}
	trusted := trustedOf(t, kp)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Open(tt.data, trusted)
			if !errors.Is(err, tt.want) {
				t.Errorf("Open = %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := Open(good, nil); !errors.Is(err, ErrUntrustedKey) {
		t.Errorf("Open with no trusted keys = %v, want ErrUntrustedKey", err)
	}
}

// TestAnyByteFlipRefused: changing any single byte of a bundle makes
// Open refuse it (or leaves an equivalent JSON spelling that still
// verifies — never a different program).
func TestAnyByteFlipRefused(t *testing.T) {
	kp := key(t, 1)
	good, err := Build(sampleIR, sampleResources(), []string{"ledger.append"}, kp)
	if err != nil {
		t.Fatal(err)
	}
	trusted := trustedOf(t, kp)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range len(good) {
		bad := bytes.Clone(good)
		bad[i] ^= byte(1 + r.IntN(255))
		b, err := Open(bad, trusted)
		if err == nil && (!bytes.Equal(b.IR, sampleIR) || len(b.Manifest.CapsAllow) != 1) {
			t.Fatalf("byte %d changed: accepted a different bundle %+v", i, b.Manifest)
		}
	}
}

func TestParseTrusted(t *testing.T) {
	if _, err := ParseTrusted([]byte("# c\nnot-a-key\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("bad line: %v", err)
	}
	kp := key(t, 3)
	tr, err := ParseTrusted([]byte(strings.ToUpper(hex.EncodeToString(kp.Public)) + "\n"))
	if err != nil || !tr.Has(kp.Public) || tr.Len() != 1 {
		t.Errorf("upper-case key: %v, has %v", err, tr.Has(kp.Public))
	}
}

func FuzzInspect(f *testing.F) {
	kp := key(f, 1)
	good, _ := Build(sampleIR, sampleResources(), []string{"a"}, kp)
	f.Add(good)
	f.Add([]byte(`{"format":"logline-lllb/1"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := Inspect(data)
		if err != nil {
			return
		}
		// Whatever Inspect accepts is signed by its key over exactly its
		// manifest, and its IR matches the hash.
		again, err := Build(b.IR, b.Manifest.Resources, b.Manifest.CapsAllow, span.KeyPair{})
		if err == nil || again != nil {
			t.Fatal("Build without a key succeeded")
		}
		if KeyID(b.PublicKey) != b.Manifest.SigningKeyID {
			t.Fatalf("accepted a bundle whose key id is not its key's")
		}
	})
}
