package cli

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/logline/logline/internal/openapi"
)

// loadOpenAPIDoc loads and validates an OpenAPI 3.1 document.
func loadOpenAPIDoc(t *testing.T, b []byte) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("OpenAPI %s, want 3.1", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("validate: %v", err)
	}
	return doc
}

func TestOpenAPICommand(t *testing.T) {
	ctx := context.Background()
	out, errOut, code := runMain(t, ctx, nil, "", "openapi")
	if code != 0 {
		t.Fatalf("openapi: exit %d\n%s", code, errOut)
	}
	doc := loadOpenAPIDoc(t, []byte(out))
	if doc.Info.Version != "test" || len(doc.Servers) != 1 || doc.Servers[0].URL != openapi.DefaultServerURL {
		t.Errorf("version %q, servers %v; want the binary's version and %s", doc.Info.Version, doc.Servers, openapi.DefaultServerURL)
	}
	if doc.Paths.Find("/openapi.yaml") == nil || doc.Paths.Find("/ingest") == nil {
		t.Error("the document lacks /openapi.yaml or /ingest")
	}

	file := filepath.Join(t.TempDir(), "openapi.yaml")
	out, errOut, code = runMain(t, ctx, nil, "", "openapi", "--server-url", "https://logline.example.com", "--out", file)
	if code != 0 || out != "" {
		t.Fatalf("openapi --out: exit %d, stdout %q\n%s", code, out, errOut)
	}
	got, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	want, err := openapi.Build(openapi.Options{Version: "test", ServerURL: "https://logline.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Error("--out wrote another document than openapi.Build")
	}

	// The URL also comes from the environment.
	out, _, code = runMain(t, ctx, map[string]string{"LOGLINE_SERVER_URL": "https://env.example"}, "", "openapi")
	if code != 0 || loadOpenAPIDoc(t, []byte(out)).Servers[0].URL != "https://env.example" {
		t.Errorf("LOGLINE_SERVER_URL: exit %d", code)
	}

	for _, args := range [][]string{
		{"openapi", "--server-url", "ftp://x"},
		{"openapi", "--server-url", "not a url"},
		{"openapi", "extra"},
	} {
		if _, errOut, code := runMain(t, ctx, nil, "", args...); code != 2 {
			t.Errorf("%q: exit %d, want 2\n%s", args, code, errOut)
		}
	}
}

// TestServeServesOpenAPI: serve answers GET /openapi.yaml without a token
// with the document of itself (its URL in servers).
func TestServeServesOpenAPI(t *testing.T) {
	url, _, _ := runServeAuth(t, t.TempDir())
	resp, err := http.Get(url + "/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /openapi.yaml: %d %v\n%s", resp.StatusCode, err, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/yaml" {
		t.Errorf("Content-Type %q, want application/yaml", ct)
	}
	doc := loadOpenAPIDoc(t, body)
	if doc.Servers[0].URL != url {
		t.Errorf("servers %q, want the server's URL %q", doc.Servers[0].URL, url)
	}
	out, _, _ := runMain(t, context.Background(), nil, "", "openapi", "--server-url", url)
	if out != string(body) {
		t.Error("GET /openapi.yaml differs from logline openapi --server-url URL")
	}
}
