package durable

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCreate(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "big")
	f, err := Create(p, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("streamed\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Fatalf("before Commit: stat %s = %v, want not exist", p, err)
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	f.Abort() // no-op after Commit
	got, err := os.ReadFile(p)
	if err != nil || string(got) != "streamed\n" {
		t.Fatalf("got %q, %v", got, err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", fi.Mode().Perm())
	}

	g, err := Create(filepath.Join(dir, "aborted"), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	g.WriteString("partial")
	g.Abort()
	if err := g.Commit(); err == nil {
		t.Error("Commit after Abort: got nil, want an error")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("got %d files, want 1 (an aborted file leaves nothing)", len(ents))
	}
}
