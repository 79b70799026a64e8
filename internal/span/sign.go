package span

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
)

// GenerateKey makes a new Ed25519 key pair from 32 bytes of random (a nil
// random means crypto/rand). The same bytes always give the same pair.
func GenerateKey(random io.Reader) (KeyPair, error) {
	if random == nil {
		random = rand.Reader
	}
	seed := make([]byte, ed25519.SeedSize)
	if _, err := io.ReadFull(random, seed); err != nil {
		return KeyPair{}, fmt.Errorf("generate key: read seed: %w", err)
	}
	return keyPairFromSeed(seed), nil
}

func keyPairFromSeed(seed []byte) KeyPair {
	priv := ed25519.NewKeyFromSeed(seed)
	return KeyPair{Public: priv.Public().(ed25519.PublicKey), Private: priv}
}

// check verifies that k is a usable pair: a 64-byte private key whose
// public half is k.Public (or k.Public empty, then it is filled in).
func (k KeyPair) check() (KeyPair, error) {
	if len(k.Private) != ed25519.PrivateKeySize {
		return KeyPair{}, fmt.Errorf("key pair: private key is %d bytes, want %d", len(k.Private), ed25519.PrivateKeySize)
	}
	derived := keyPairFromSeed(k.Private.Seed())
	if len(k.Public) == 0 {
		k.Public = derived.Public
	}
	if !bytes.Equal(k.Public, derived.Public) || !bytes.Equal(k.Private, derived.Private) {
		return KeyPair{}, errors.New("key pair: public key does not belong to the private key")
	}
	return k, nil
}

// signDigest is the client signature: Ed25519 over the 32 raw bytes of
// curr_hash. It takes the message as bytes so the RFC 8032 vectors can run
// through it.
func signDigest(priv ed25519.PrivateKey, msg []byte) []byte {
	return ed25519.Sign(priv, msg)
}

// verifyDigest checks a client signature over curr_hash.
func verifyDigest(pub []byte, h Hash, sig []byte) bool {
	return verifyMessage(pub, h[:], sig)
}

func verifyMessage(pub, msg, sig []byte) bool {
	if len(pub) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize {
		return false
	}
	return ed25519.Verify(ed25519.PublicKey(pub), msg, sig)
}

// Sign is client-side signing (`logline sign`). data is one span object as a
// client would send it: it may use Blueprint4 aliases, may lack an id (then
// opts.NewID names it), and may carry an old curr_hash, signature and
// public_key, which are dropped. Sign returns the canonical JCS span with
// v8 names, the id, public_key, curr_hash and signature; Decode accepts it
// unchanged and stores exactly these bytes. Errors about the span are
// *Error.
func Sign(data []byte, kp KeyPair, opts DecodeOptions) ([]byte, error) {
	kp, err := kp.check()
	if err != nil {
		return nil, fmt.Errorf("sign span: %w", err)
	}
	d := decoder{mode: modeSign, limits: opts.Limits.withDefaults(), newID: opts.NewID, s: new(Span)}
	if err := d.run(data); err != nil {
		return nil, err
	}
	d.slots[fCurrHash] = slot{}
	d.slots[fSignature] = slot{}
	d.setString(fPublicKey, hex.EncodeToString(kp.Public))
	d.computeHash()
	d.setString(fSignature, hex.EncodeToString(signDigest(kp.Private, d.hash[:])))
	canon := d.appendCanonical(d.hash)
	if err := d.checkSize(canon); err != nil {
		return nil, err
	}
	return bytes.Clone(canon), nil
}
