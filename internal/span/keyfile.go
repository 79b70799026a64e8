package span

import (
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
)

// Key file fields (`logline keys new`).
const (
	keyFileType    = "ed25519"
	keyFileMaxSize = 4 << 10
)

// MarshalKeyFile returns the key file of k:
//
//	{"type":"ed25519","public_key":"<hex 32 bytes>","private_key":"<hex 32-byte seed>"}
//
// followed by a newline. The file holds the secret seed: write it 0600.
func (k KeyPair) MarshalKeyFile() []byte {
	b := make([]byte, 0, 200)
	b = append(b, `{"type":"`+keyFileType+`","public_key":"`...)
	b = hex.AppendEncode(b, k.Public)
	b = append(b, `","private_key":"`...)
	if len(k.Private) == ed25519.PrivateKeySize {
		b = hex.AppendEncode(b, k.Private.Seed())
	}
	return append(b, "\"}\n"...)
}

// ParseKeyFile parses a key file written by MarshalKeyFile. Members may come
// in any order; all three are required, nothing else is allowed, and the
// public key must be the one the seed derives.
func ParseKeyFile(data []byte) (KeyPair, error) {
	kp, err := parseKeyFile(data)
	if err != nil {
		return KeyPair{}, fmt.Errorf("parse key file: %w", err)
	}
	return kp, nil
}

func parseKeyFile(data []byte) (KeyPair, error) {
	if len(data) > keyFileMaxSize {
		return KeyPair{}, newError(CodeTooLarge, "", keyFileMaxSize, fmt.Sprintf("key file is %d bytes; a key file is under %d", len(data), keyFileMaxSize))
	}
	var p parser
	p.init(data, 1)
	p.skipWS()
	if p.pos >= len(data) || data[p.pos] != '{' {
		return KeyPair{}, newError(CodeMalformedJSON, "", p.pos, "a key file is a JSON object")
	}
	var typ, pub, seed []byte
	var seen [3]bool
	err := p.members(func(key []byte, keyPos int) error {
		var dst *[]byte
		var i int
		switch string(key) {
		case "type":
			dst, i = &typ, 0
		case "public_key":
			dst, i = &pub, 1
		case "private_key":
			dst, i = &seed, 2
		default:
			return p.errAt(CodeUnknownField, keyPos, "unknown field "+quote(key))
		}
		if seen[i] {
			return p.errAt(CodeDuplicateKey, keyPos, "duplicate key "+quote(key))
		}
		seen[i] = true
		p.skipWS()
		pos := p.pos
		_, k, err := p.value(nil, 1)
		if err != nil {
			return err
		}
		if k != kindString {
			return p.errAt(CodeInvalidField, pos, string(key)+": must be a string, got "+k.String())
		}
		*dst = append([]byte(nil), p.lastStr...)
		return nil
	})
	if err != nil {
		return KeyPair{}, err
	}
	for i, name := range [...]string{"type", "public_key", "private_key"} {
		if !seen[i] {
			return KeyPair{}, newError(CodeMissingField, fieldPointer(name), -1, name+": required field is missing")
		}
	}
	if string(typ) != keyFileType {
		return KeyPair{}, newError(CodeInvalidField, "/type", -1, "type: "+quote(typ)+" is not supported; want "+keyFileType)
	}
	var seedBytes [ed25519.SeedSize]byte
	if !decodeLowerHex(seedBytes[:], seed) {
		return KeyPair{}, newError(CodeInvalidField, "/private_key", -1, "private_key: want the 32-byte seed as 64 lowercase hex digits")
	}
	var pubBytes [ed25519.PublicKeySize]byte
	if !decodeLowerHex(pubBytes[:], pub) {
		return KeyPair{}, newError(CodeInvalidField, "/public_key", -1, "public_key: want 64 lowercase hex digits")
	}
	kp := keyPairFromSeed(seedBytes[:])
	if string(kp.Public) != string(pubBytes[:]) {
		return KeyPair{}, newError(CodeInvalidField, "/public_key", -1, "public_key: does not match private_key (derived "+hex.EncodeToString(kp.Public)+")")
	}
	return kp, nil
}
