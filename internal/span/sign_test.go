package span

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// TestRFC8032Vectors runs RFC 8032 §7.1 tests 1–3 through our key
// derivation (the key file path), signing and verification.
func TestRFC8032Vectors(t *testing.T) {
	tests := []struct {
		name, secret, public, msg, sig string
	}{
		{
			"test 1",
			"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
			"d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
			"",
			"e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
		},
		{
			"test 2",
			"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
			"3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
			"72",
			"92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
		},
		{
			"test 3",
			"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
			"fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
			"af82",
			"6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := `{"type":"ed25519","public_key":"` + tt.public + `","private_key":"` + tt.secret + `"}`
			kp, err := ParseKeyFile([]byte(file))
			if err != nil {
				t.Fatalf("ParseKeyFile: %v", err)
			}
			if got := hex.EncodeToString(kp.Public); got != tt.public {
				t.Errorf("got public key %s, want %s", got, tt.public)
			}
			msg, _ := hex.DecodeString(tt.msg)
			sig := signDigest(kp.Private, msg)
			if got := hex.EncodeToString(sig); got != tt.sig {
				t.Errorf("got signature %s, want %s", got, tt.sig)
			}
			want, _ := hex.DecodeString(tt.sig)
			if !verifyMessage(kp.Public, msg, want) {
				t.Errorf("verify: got false, want true")
			}
			if verifyMessage(kp.Public, append(msg, 0), want) {
				t.Errorf("verify of a longer message: got true, want false")
			}
			if !bytes.Equal(kp.MarshalKeyFile(), []byte(file+"\n")) {
				t.Errorf("MarshalKeyFile: got %s, want %s", kp.MarshalKeyFile(), file)
			}
		})
	}
}

func TestVerifyDigestRejectsBadInput(t *testing.T) {
	kp := testKey(t)
	var h Hash
	sig := signDigest(kp.Private, h[:])
	if !verifyDigest(kp.Public, h, sig) {
		t.Fatal("got false for a good signature")
	}
	if verifyDigest(kp.Public[:31], h, sig) {
		t.Error("got true for a short key")
	}
	if verifyDigest(kp.Public, h, sig[:63]) {
		t.Error("got true for a short signature")
	}
	h[0] = 1
	if verifyDigest(kp.Public, h, sig) {
		t.Error("got true for another hash")
	}
}

func TestSign(t *testing.T) {
	kp := testKey(t)
	in := obj(`"tenant_id":"t1"`, `"at":"2025-01-02T03:04:05Z"`, `"who":"alice"`, `"did":"signed"`, `"this":"doc"`,
		`"curr_hash":"`+strings.Repeat("0", 64)+`"`, `"signature":"stale"`, `"public_key":{"stale":true}`)
	out, err := Sign([]byte(in), kp, testOpts)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	s, err := Decode(out, DecodeOptions{})
	if err != nil {
		t.Fatalf("Decode(Sign()): %v", err)
	}
	if !bytes.Equal(s.Canonical(), out) {
		t.Errorf("stored form differs from signed form:\ngot  %s\nwant %s", s.Canonical(), out)
	}
	if !s.Signed || !bytes.Equal(s.PublicKey, kp.Public) || s.ID != fixedID() || s.Tenant != "t1" {
		t.Errorf("got signed %v key %x id %q tenant %q", s.Signed, s.PublicKey, s.ID, s.Tenant)
	}
	for _, name := range []string{"tenant_id", "at", "stale", strings.Repeat("0", 64)} {
		if bytes.Contains(out, []byte(`"`+name+`"`)) {
			t.Errorf("got %s in %s", name, out)
		}
	}
	sigJSON, _ := s.Field("signature")
	sig, _ := hex.DecodeString(strings.Trim(string(sigJSON), `"`))
	if !ed25519.Verify(kp.Public, s.Hash[:], sig) {
		t.Errorf("signature does not verify over curr_hash with crypto/ed25519")
	}
	// Signing again gives the same bytes (Ed25519 is deterministic).
	again, err := Sign(out, kp, DecodeOptions{})
	if err != nil || !bytes.Equal(again, out) {
		t.Errorf("re-sign: got %s, %v; want %s", again, err, out)
	}
	// The two halves of the pair must belong together.
	other, _ := GenerateKey(bytes.NewReader(bytes.Repeat([]byte{1}, 32)))
	if _, err := Sign([]byte(in), KeyPair{Public: other.Public, Private: kp.Private}, testOpts); err == nil {
		t.Errorf("Sign with mismatched pair: got nil error")
	}
	if _, err := Sign([]byte(in), KeyPair{}, testOpts); err == nil {
		t.Errorf("Sign with empty pair: got nil error")
	}
	// Public may be left out; it is derived.
	if got, err := Sign([]byte(in), KeyPair{Private: kp.Private}, testOpts); err != nil || !bytes.Equal(got, out) {
		t.Errorf("Sign with only the private key: got %s, %v", got, err)
	}
}

func TestSignErrors(t *testing.T) {
	kp := testKey(t)
	tests := []struct {
		name, in, code, pointer string
		limits                  Limits
	}{
		{"malformed", `{`, CodeMalformedJSON, "", Limits{}},
		{"missing tenant", without("tenant"), CodeMissingField, "/tenant", Limits{}},
		{"server field", with(`"log_index":1`), CodeServerField, "/log_index", Limits{}},
		{"unknown", with(`"x":1`), CodeUnknownField, "/x", Limits{}},
		{"signed form too large", with(), CodeTooLarge, "", Limits{MaxSpanBytes: len(with()) + 100}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Sign([]byte(tt.in), kp, DecodeOptions{Limits: tt.limits, NewID: fixedID})
			wantError(t, err, tt.code, tt.pointer)
		})
	}
}

func TestGenerateKey(t *testing.T) {
	seed := bytes.Repeat([]byte{42}, 32)
	a, err := GenerateKey(bytes.NewReader(seed))
	if err != nil {
		t.Fatal(err)
	}
	b, err := GenerateKey(bytes.NewReader(seed))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Private, b.Private) || !bytes.Equal(a.Private.Seed(), seed) {
		t.Errorf("got different keys from the same seed")
	}
	c, err := GenerateKey(nil)
	if err != nil || len(c.Private) != ed25519.PrivateKeySize || bytes.Equal(c.Private, a.Private) {
		t.Errorf("GenerateKey(nil): got %x, %v", c.Public, err)
	}
	if _, err := GenerateKey(bytes.NewReader(seed[:5])); err == nil {
		t.Errorf("GenerateKey(short reader): got nil error")
	}
	back, err := ParseKeyFile(a.MarshalKeyFile())
	if err != nil || !bytes.Equal(back.Private, a.Private) || !bytes.Equal(back.Public, a.Public) {
		t.Errorf("key file round trip: got %x, %v", back.Public, err)
	}
}

func TestParseKeyFileErrors(t *testing.T) {
	kp := testKey(t)
	pub := hex.EncodeToString(kp.Public)
	seed := hex.EncodeToString(kp.Private.Seed())
	tests := []struct {
		name, in, code, pointer string
	}{
		{"empty", ``, CodeMalformedJSON, ""},
		{"not object", `[]`, CodeMalformedJSON, ""},
		{"trailing", `{"type":"ed25519","public_key":"` + pub + `","private_key":"` + seed + `"}x`, CodeMalformedJSON, ""},
		{"wrong type", `{"type":"rsa","public_key":"` + pub + `","private_key":"` + seed + `"}`, CodeInvalidField, "/type"},
		{"missing private", `{"type":"ed25519","public_key":"` + pub + `"}`, CodeMissingField, "/private_key"},
		{"unknown", `{"type":"ed25519","public_key":"` + pub + `","private_key":"` + seed + `","x":1}`, CodeUnknownField, "/x"},
		{"duplicate", `{"type":"ed25519","type":"ed25519","public_key":"` + pub + `","private_key":"` + seed + `"}`, CodeDuplicateKey, "/type"},
		{"number", `{"type":1}`, CodeInvalidField, "/type"},
		{"upper-case seed", `{"type":"ed25519","public_key":"` + pub + `","private_key":"` + strings.ToUpper(seed) + `"}`, CodeInvalidField, "/private_key"},
		{"64-byte private", `{"type":"ed25519","public_key":"` + pub + `","private_key":"` + hex.EncodeToString(kp.Private) + `"}`, CodeInvalidField, "/private_key"},
		{"short public", `{"type":"ed25519","public_key":"abcd","private_key":"` + seed + `"}`, CodeInvalidField, "/public_key"},
		{"mismatched public", `{"type":"ed25519","public_key":"` + strings.Repeat("0", 64) + `","private_key":"` + seed + `"}`, CodeInvalidField, "/public_key"},
		{"nested", `{"type":{"a":1}}`, CodeTooDeep, "/type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseKeyFile([]byte(tt.in))
			e := wantError(t, err, tt.code, tt.pointer)
			if strings.Contains(e.Detail, seed) || strings.Contains(err.Error(), seed) {
				t.Errorf("error repeats the secret seed: %v", err)
			}
		})
	}
	// Member order and whitespace do not matter.
	in := "{\n  \"private_key\": \"" + seed + "\",\n  \"public_key\": \"" + pub + "\",\n  \"type\": \"ed25519\"\n}\n"
	if got, err := ParseKeyFile([]byte(in)); err != nil || !bytes.Equal(got.Public, kp.Public) {
		t.Errorf("reordered key file: got %x, %v", got.Public, err)
	}
	var e *Error
	if _, err := ParseKeyFile([]byte("{}")); !errors.As(err, &e) || !strings.HasPrefix(err.Error(), "parse key file: ") {
		t.Errorf("got %v, want a wrapped *Error", err)
	}
}
