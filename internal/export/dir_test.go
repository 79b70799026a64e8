package export_test

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/logline/logline/internal/export"
)

func TestDir(t *testing.T) {
	l := exampleLog(t)
	path := filepath.Join(t.TempDir(), "exports")
	// A temporary file left by a crash is removed on open; bundles stay.
	if err := os.MkdirAll(path, 0o750); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(path, ".01JD0000000000000000000000.ndjson.tmp123")
	kept := filepath.Join(path, "01JD0000000000000000000001.ndjson")
	for _, p := range []string{stale, kept} {
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	d, err := export.OpenDir(export.DirConfig{Path: path, Now: func() time.Time { return now }, Rand: rand.NewChaCha8([32]byte{})})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("leftover temporary file: stat = %v, want gone", err)
	}
	if _, err := os.Stat(kept); err != nil {
		t.Errorf("a bundle was removed: %v", err)
	}

	c, err := d.Create(context.Background(), l.st, l.options("acme", time.Time{}, time.Time{}))
	if err != nil {
		t.Fatal(err)
	}
	if !export.ValidID(c.ID) || c.Manifest.Entries != 4 {
		t.Fatalf("created %+v", c)
	}
	f, err := d.Open(c.ID)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(f)
	f.Close()
	if err != nil || int64(len(data)) != c.Bytes {
		t.Fatalf("read %d bytes (%v), created %d", len(data), err, c.Bytes)
	}
	if _, err := verify(data, l.keys.Verifiers()); err != nil {
		t.Fatalf("stored bundle: %v", err)
	}
	c2, err := d.Create(context.Background(), l.st, l.options("bakery", time.Time{}, time.Time{}))
	if err != nil || c2.ID <= c.ID {
		t.Fatalf("second id %q (%v), want after %q", c2.ID, err, c.ID)
	}
	for id, want := range map[string]string{c.ID: "acme", c2.ID: "bakery"} {
		if got, err := d.Tenant(id); err != nil || got != want {
			t.Errorf("Tenant(%s) = %q, %v; want %q", id, got, err, want)
		}
	}
	if _, err := d.Tenant("01JD0000000000000000000009"); !errors.Is(err, export.ErrNotFound) {
		t.Errorf("Tenant of an unknown id: %v, want ErrNotFound", err)
	}
	if _, err := d.Tenant("01JD0000000000000000000001"); err == nil || errors.Is(err, export.ErrNotFound) {
		t.Errorf("Tenant of a file that is not a bundle: %v, want a header error", err)
	}

	// A failed export leaves nothing.
	before, _ := os.ReadDir(path)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.Create(ctx, l.st, l.options("acme", time.Time{}, time.Time{})); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled Create: %v", err)
	}
	o := l.options("acme", time.Time{}, time.Time{})
	o.Tenant = "Bad"
	if _, err := d.Create(context.Background(), l.st, o); !errors.Is(err, export.ErrOptions) {
		t.Fatalf("bad options: %v", err)
	}
	after, _ := os.ReadDir(path)
	if len(after) != len(before) {
		t.Errorf("failed exports left files: %d entries, want %d", len(after), len(before))
	}

	for _, id := range []string{"", "nope", "../" + c.ID, c.ID + "x", "01jd0000000000000000000001", "81JD0000000000000000000001", "01JD0000000000000000000002"} {
		if _, err := d.Open(id); !errors.Is(err, export.ErrNotFound) {
			t.Errorf("Open(%q) = %v, want ErrNotFound", id, err)
		}
	}
}

func TestValidID(t *testing.T) {
	for id, want := range map[string]bool{
		"01JD0000000000000000000001":  true,
		"7ZZZZZZZZZZZZZZZZZZZZZZZZZ":  true,
		"01jd0000000000000000000001":  false, // not the canonical spelling
		"01JD000000000000000000000I":  false, // I is not Crockford
		"81JD0000000000000000000001":  false, // overflows 128 bits
		"01JD000000000000000000001":   false,
		"01JD00000000000000000000011": false,
		"":                            false,
	} {
		if got := export.ValidID(id); got != want {
			t.Errorf("ValidID(%q) = %v, want %v", id, got, want)
		}
	}
}
