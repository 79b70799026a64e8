package llst_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"
	"path/filepath"

	"github.com/logline/logline/internal/auth"
	"github.com/logline/logline/internal/auth/llst"
)

// How logline serve wires LLSTs: one keyring on DATA/keys/llst, its Run
// loop, an Issuer for /auth/token and `logline token issue`, a Verifier
// for every request, and the JWKS route.
func Example() {
	data, _ := os.MkdirTemp("", "logline")
	defer os.RemoveAll(data)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	ring, err := llst.Open(ctx, llst.Config{
		Store:  llst.NewDirStore(filepath.Join(data, "keys", "llst"), nil),
		Issuer: "https://logline.example",
	})
	if err != nil {
		log.Fatal(err)
	}
	go ring.Run(ctx) // rotation and reloads, until ctx ends

	mux := http.NewServeMux()
	mux.Handle("GET "+llst.JWKSPath, ring.JWKSHandler())

	token, _, err := llst.NewIssuer(ring).Issue(ctx, llst.Claims{
		Subject: "sa_ingest", Tenant: "default", Kind: auth.KindService,
		Roles: []string{auth.RoleWriter}, Grants: auth.BuiltinRoles()[auth.RoleWriter],
	})
	if err != nil {
		log.Fatal(err)
	}

	p, err := llst.NewVerifier(ring).Verify(token) // from "Authorization: Bearer …"
	if err != nil {
		log.Fatal(err) // errors.Is(err, llst.ErrInvalidToken): answer 401 with err's message
	}
	fmt.Println(p.Subject, p.Tenant, p.Can("default", auth.LedgerAppend), p.Can("default", auth.AdminConfig))
	// Output: sa_ingest default true false
}
