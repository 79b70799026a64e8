package llst

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// goJoseAccepts reports whether go-jose, pinned to EdDSA, accepts tok's
// signature with pub.
func goJoseAccepts(tok string, k *ringKey) bool {
	parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.EdDSA})
	return err == nil && parsed.Claims(k.pub) == nil
}

// TestVerifyAgreesWithGoJose: the verifier checks Ed25519 signatures
// itself (RFC 7515 §5.2) instead of through go-jose. Every token it
// accepts, go-jose accepts too: over issued tokens, hand-signed headers
// in other spellings, and every one-byte change of an issued token.
func TestVerifyAgreesWithGoJose(t *testing.T) {
	e := newEnv(t)
	k := e.activeKey()
	v := &Verifier{ring: e.ring}
	var toks []string
	for range 20 {
		toks = append(toks, e.issue(writerClaims()))
	}
	claims, _ := json.Marshal(e.claimsMap())
	for _, h := range []string{
		fmt.Sprintf(`{"alg":"EdDSA","typ":%q,"kid":%q}`, TokenType, k.ID),
		fmt.Sprintf(`{"kid":%q,"typ":%q,"alg":"EdDSA"}`, k.ID, TokenType),
		fmt.Sprintf(` { "alg" : "EdDSA" , "typ" : %q , "kid" : %q } `, TokenType, k.ID),
	} {
		toks = append(toks, signRaw(t, k.Private, h, string(claims)))
	}
	base := toks[0]
	for i := range len(base) {
		for _, c := range []byte{'A', 'B', '_', '-', '.', '='} {
			if base[i] != c {
				toks = append(toks, base[:i]+string(c)+base[i+1:])
			}
		}
	}
	accepted := 0
	for _, tok := range toks {
		if _, _, _, err := v.verify(tok, e.clock.Now()); err != nil {
			continue
		}
		accepted++
		if !goJoseAccepts(tok, k) {
			t.Errorf("accepted a token go-jose refuses: %s", tok)
		}
	}
	if accepted < 23 {
		t.Errorf("accepted %d tokens, want at least the 20 issued and 3 hand-signed", accepted)
	}
}
