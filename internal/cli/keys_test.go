package cli

import (
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/logline/logline/internal/span"
)

func TestKeysNew(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.key")
	out, errOut, code := runMain(t, context.Background(), nil, "", "keys", "new", "--out", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	m := regexp.MustCompile(`^public key: ([0-9a-f]{64})\n$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("stdout %q", out)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := st.Mode().Perm(); perm != 0o600 {
		t.Errorf("mode %v, want 0600", perm)
	}
	data, _ := os.ReadFile(path)
	kp, err := span.ParseKeyFile(data)
	if err != nil {
		t.Fatalf("ParseKeyFile: %v", err)
	}
	if got := hex.EncodeToString(kp.Public); got != m[1] {
		t.Errorf("printed %s, file holds %s", m[1], got)
	}

	if _, _, code := runMain(t, context.Background(), nil, "", "keys", "new", "--out", path); code != ExitUsage {
		t.Errorf("overwrite without --force: exit %d, want %d", code, ExitUsage)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := runMain(t, context.Background(), nil, "", "keys", "new", "--out", path, "--force"); code != 0 {
		t.Fatalf("--force: exit %d: %s", code, errOut)
	}
	st, _ = os.Stat(path)
	if perm := st.Mode().Perm(); perm != 0o600 {
		t.Errorf("after --force: mode %v, want 0600", perm)
	}
}
