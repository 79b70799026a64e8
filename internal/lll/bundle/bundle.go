// Package bundle reads and writes .lllb files: a compiled .lll program
// (its IR, opaque here) with a manifest, signed with Ed25519. The server
// runs a bundle only if Open accepts it: well-formed, of an ABI it
// speaks, its IR exactly the bytes the manifest's hash names, and signed
// by a key the operator trusts.
//
// # Format
//
// A bundle is one JSON object (UTF-8, no insignificant whitespace):
//
//	{"format":"logline-lllb/1",
//	 "manifest":{"abi":"v1","caps_allow":[…],"hash":"sha256:HEX",
//	             "signing_key_id":"ed25519:HEX16",
//	             "resources":{"routers":[…],"validators":[…],"policies":[…],
//	                          "schemas":[…],"pipelines":[…],"alarms":[…]}},
//	 "public_key":"HEX64",
//	 "signature":"BASE64",
//	 "ir":"BASE64"}
//
// hash is SHA-256 of the IR bytes; signing_key_id is "ed25519:" and the
// first 16 hex digits of SHA-256 of the public key; the signature is
// Ed25519 over "logline-lllb/1\n" followed by the RFC 8785 canonical
// form of the manifest. Resource names are sorted. The same IR, resources,
// capabilities and key always give the same bytes.
package bundle

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/logline/logline/internal/span"
)

// Format and ABI this package writes and reads.
const (
	Format = "logline-lllb/1"
	ABI    = "v1"
	// MaxSize bounds a bundle file Open reads.
	MaxSize = 64 << 20
)

// Errors Open returns (wrapped, with detail); each says why a bundle is
// refused.
var (
	ErrMalformed    = errors.New("not a well-formed bundle")
	ErrABI          = errors.New("unsupported bundle ABI")
	ErrHash         = errors.New("the IR does not match the manifest's hash")
	ErrUnsigned     = errors.New("the bundle is not signed")
	ErrSignature    = errors.New("the bundle's signature does not verify")
	ErrUntrustedKey = errors.New("the bundle is signed by a key this server does not trust")
)

// Resources names what a bundle defines, by kind.
type Resources struct {
	Routers    []string `json:"routers"`
	Validators []string `json:"validators"`
	Policies   []string `json:"policies"`
	Schemas    []string `json:"schemas"`
	Pipelines  []string `json:"pipelines"`
	Alarms     []string `json:"alarms"`
}

func (r Resources) sorted() Resources {
	for _, s := range []*[]string{&r.Routers, &r.Validators, &r.Policies, &r.Schemas, &r.Pipelines, &r.Alarms} {
		*s = nonNil(slices.Sorted(slices.Values(*s)))
	}
	return r
}

// Manifest describes a bundle; it is what the signature covers.
type Manifest struct {
	ABI          string    `json:"abi"`
	CapsAllow    []string  `json:"caps_allow"`
	Hash         string    `json:"hash"`
	SigningKeyID string    `json:"signing_key_id"`
	Resources    Resources `json:"resources"`
}

// Bundle is an opened bundle.
type Bundle struct {
	Manifest  Manifest
	PublicKey ed25519.PublicKey
	IR        []byte
}

// file is the JSON form.
type file struct {
	Format    string          `json:"format"`
	Manifest  json.RawMessage `json:"manifest"`
	PublicKey string          `json:"public_key"`
	Signature string          `json:"signature"`
	IR        string          `json:"ir"`
}

// KeyID is the signing_key_id of a public key.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return "ed25519:" + hex.EncodeToString(sum[:8])
}

// Build signs ir with kp into a bundle.
func Build(ir []byte, res Resources, capsAllow []string, kp span.KeyPair) ([]byte, error) {
	if len(kp.Private) != ed25519.PrivateKeySize {
		return nil, errors.New("bundle: a signing key is required")
	}
	sum := sha256.Sum256(ir)
	m := Manifest{
		ABI: ABI, CapsAllow: nonNil(slices.Sorted(slices.Values(capsAllow))),
		Hash: "sha256:" + hex.EncodeToString(sum[:]), SigningKeyID: KeyID(kp.Public),
		Resources: res.sorted(),
	}
	mj, err := canonicalManifest(m)
	if err != nil {
		return nil, err
	}
	sig := ed25519.Sign(kp.Private, signedBytes(mj))
	out, err := json.Marshal(file{
		Format: Format, Manifest: mj, PublicKey: hex.EncodeToString(kp.Public),
		Signature: base64.StdEncoding.EncodeToString(sig), IR: base64.StdEncoding.EncodeToString(ir),
	})
	if err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	return append(out, '\n'), nil
}

func canonicalManifest(m Manifest) ([]byte, error) {
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("bundle: manifest: %w", err)
	}
	c, err := span.Canonicalize(raw)
	if err != nil {
		return nil, fmt.Errorf("bundle: manifest: %w", err)
	}
	return c, nil
}

func signedBytes(manifest []byte) []byte {
	return append([]byte(Format+"\n"), manifest...)
}

// Inspect parses a bundle and checks everything but trust: the format,
// the ABI, the IR's hash and the signature against the bundle's own
// public key. `logline inspect` and Open use it.
func Inspect(data []byte) (*Bundle, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrMalformed, len(data), MaxSize)
	}
	var f file
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the bundle", ErrMalformed)
	}
	if f.Format != Format {
		return nil, fmt.Errorf("%w: format %q, want %q", ErrMalformed, f.Format, Format)
	}
	var m Manifest
	mdec := json.NewDecoder(bytes.NewReader(f.Manifest))
	mdec.DisallowUnknownFields()
	if len(f.Manifest) == 0 || mdec.Decode(&m) != nil {
		return nil, fmt.Errorf("%w: the manifest is not a manifest object", ErrMalformed)
	}
	if m.ABI != ABI {
		return nil, fmt.Errorf("%w %q: this server runs %q", ErrABI, m.ABI, ABI)
	}
	ir, err := base64.StdEncoding.Strict().DecodeString(f.IR)
	if err != nil {
		return nil, fmt.Errorf("%w: ir: %v", ErrMalformed, err)
	}
	sum := sha256.Sum256(ir)
	if want := "sha256:" + hex.EncodeToString(sum[:]); m.Hash != want {
		return nil, fmt.Errorf("%w: manifest %q, IR %q", ErrHash, m.Hash, want)
	}
	if f.Signature == "" || f.PublicKey == "" {
		return nil, ErrUnsigned
	}
	pub, err := hex.DecodeString(f.PublicKey)
	if err != nil || len(pub) != ed25519.PublicKeySize || strings.ToLower(f.PublicKey) != f.PublicKey {
		return nil, fmt.Errorf("%w: public_key is not 64 lower-case hex digits", ErrMalformed)
	}
	if KeyID(pub) != m.SigningKeyID {
		return nil, fmt.Errorf("%w: signing_key_id %q is not the id of the bundle's key (%s)", ErrSignature, m.SigningKeyID, KeyID(pub))
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(f.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: signature is not a base64 Ed25519 signature", ErrMalformed)
	}
	// The signature covers the canonical form of the manifest as parsed,
	// so any change to a member (or a non-canonical rewrite) fails.
	mj, err := canonicalManifest(m)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(mj, f.Manifest) {
		return nil, fmt.Errorf("%w: the manifest is not in canonical form", ErrSignature)
	}
	if !ed25519.Verify(pub, signedBytes(mj), sig) {
		return nil, ErrSignature
	}
	return &Bundle{Manifest: m, PublicKey: pub, IR: ir}, nil
}

// Open is Inspect plus trust: the signing key must be in trusted.
func Open(data []byte, trusted *Trusted) (*Bundle, error) {
	b, err := Inspect(data)
	if err != nil {
		return nil, err
	}
	if !trusted.Has(b.PublicKey) {
		return nil, fmt.Errorf("%w (%s); add its public key %s to the trusted bundle keys", ErrUntrustedKey, b.Manifest.SigningKeyID, hex.EncodeToString(b.PublicKey))
	}
	return b, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
