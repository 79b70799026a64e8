package llst

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// JWKSPath is where the gateway serves JWKSHandler.
const JWKSPath = "/.well-known/jwks.json"

// JWKS returns the JSON Web Key Set (RFC 7517) of every key published
// and not retired at the keyring's now: {"keys":[{"kty":"OKP","crv":
// "Ed25519","x":…,"kid":…,"alg":"EdDSA","use":"sig"}, …]}, in the order
// the keys become active. The next key appears Overlap before it signs.
func (r *Keyring) JWKS() []byte {
	return r.jwksAt(r.cfg.Now())
}

func (r *Keyring) jwksAt(now time.Time) []byte {
	set := jwkSet{Keys: []jwk{}}
	for _, k := range r.snap.Load().keys {
		if now.Before(k.PublishAt) || !now.Before(k.RetireAt) {
			continue
		}
		set.Keys = append(set.Keys, jwk{
			Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(k.pub),
			Kid: k.ID, Alg: string(jose.EdDSA), Use: "sig",
		})
	}
	b, _ := json.Marshal(set) // strings only: cannot fail
	return b
}

// jwkSet and jwk are the JWKS as RFC 7517 and RFC 8037 (OKP keys) write it.
type jwkSet struct {
	Keys []jwk `json:"keys"`
}

type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

// JWKSHandler serves JWKS for GET and HEAD with Cache-Control max-age
// Config.JWKSMaxAge, which Config validation keeps below the overlap: a
// relying party that honours it knows the next key before it signs.
// It needs no authentication.
func (r *Keyring) JWKSHandler() http.Handler {
	cacheControl := "public, max-age=" + strconv.Itoa(int(r.cfg.JWKSMaxAge/time.Second))
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		body := r.JWKS()
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", cacheControl)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusOK)
		if req.Method == http.MethodGet {
			w.Write(body)
		}
	})
}
