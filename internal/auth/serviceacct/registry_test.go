package serviceacct

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRegistryReload(t *testing.T) {
	data := t.TempDir()
	a := create(t, data, "acme", 1)
	logs := &syncBuffer{}
	reg, err := NewRegistry(context.Background(), RegistryConfig{DataDir: data, ValidTenant: validTenant,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := reg.Lookup(a.ID); !ok {
		t.Fatal("account missing")
	}
	aPath := RecordPath(data, "acme", a.ID)
	good, _ := os.ReadFile(aPath)

	t.Run("unchanged keeps the snapshot", func(t *testing.T) {
		before := reg.Current()
		if err := reg.Reload(); err != nil {
			t.Fatal(err)
		}
		if reg.Current() != before {
			t.Error("new snapshot without changes")
		}
	})

	var b account
	t.Run("new account appears", func(t *testing.T) {
		b = create(t, data, "beta", 2, "reader")
		if err := reg.Reload(); err != nil {
			t.Fatal(err)
		}
		got, ok := reg.Lookup(b.ID)
		if !ok || got.Tenant != "beta" || got.Roles[0] != "reader" {
			t.Errorf("Lookup(b) = %+v, %v", got, ok)
		}
		if n := len(reg.Current().Tenant("beta")); n != 1 {
			t.Errorf("Tenant(beta) has %d accounts", n)
		}
	})

	t.Run("bad file is skipped and reported", func(t *testing.T) {
		write(t, aPath, `{"id": "`+a.ID+`", "roles": `)
		err := reg.Reload()
		if !errors.Is(err, ErrInvalidRecord) {
			t.Fatalf("Reload = %v, want ErrInvalidRecord", err)
		}
		if _, ok := reg.Lookup(a.ID); ok {
			t.Error("a broken record is still served")
		}
		st := reg.Status()
		if len(st.Problems) != 1 || st.Problems[0].Path != aPath || st.Accounts != 1 {
			t.Errorf("status %+v", st)
		}
		reg.Reload()
		if n := strings.Count(logs.String(), "service account file skipped"); n != 1 {
			t.Errorf("%d warnings, want 1", n)
		}
	})

	t.Run("fixed file is served again", func(t *testing.T) {
		write(t, aPath, string(good))
		if err := reg.Reload(); err != nil {
			t.Fatal(err)
		}
		if _, ok := reg.Lookup(a.ID); !ok {
			t.Error("fixed account missing")
		}
		if len(reg.Status().Problems) != 0 {
			t.Errorf("problems remain: %v", reg.Status().Problems)
		}
	})

	t.Run("disable applies", func(t *testing.T) {
		Disable(data, "beta", b.ID, t0)
		reg.Reload()
		if got, _ := reg.Lookup(b.ID); !got.Disabled {
			t.Error("not disabled")
		}
		if !strings.Contains(logs.String(), "service account disabled") {
			t.Error("disable not logged")
		}
	})

	t.Run("misplaced records are refused", func(t *testing.T) {
		// A's record copied into beta: wrong tenant, refused; A still served.
		write(t, RecordPath(data, "beta", a.ID), string(good))
		// A's record under another name.
		write(t, filepath.Join(AccountsDir(data, "acme"), "sa_other.json"), string(good))
		// A credential file put among the records.
		write(t, filepath.Join(AccountsDir(data, "acme"), "cred.json"), string(a.cred))
		// An invalid tenant name.
		write(t, RecordPath(data, "Bad", a.ID), string(good))
		// Ignored: hidden, not .json.
		write(t, filepath.Join(AccountsDir(data, "acme"), ".tmp123.json"), "junk")
		write(t, filepath.Join(AccountsDir(data, "acme"), "README"), "junk")
		err := reg.Reload()
		for _, want := range []string{"holds an account of tenant", "must be named", "unknown field", "not a valid tenant name"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("Reload error lacks %q: %v", want, err)
			}
		}
		if got, ok := reg.Lookup(a.ID); !ok || got.Tenant != "acme" {
			t.Errorf("Lookup(a) = %+v, %v", got, ok)
		}
		if n := len(reg.Status().Problems); n != 4 {
			t.Errorf("%d problems, want 4: %v", n, reg.Status().Problems)
		}
		os.Remove(RecordPath(data, "beta", a.ID))
		os.Remove(filepath.Join(AccountsDir(data, "acme"), "sa_other.json"))
		os.Remove(filepath.Join(AccountsDir(data, "acme"), "cred.json"))
		os.RemoveAll(filepath.Join(data, "cfg", "tenants", "Bad"))
		if err := reg.Reload(); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("removed account disappears", func(t *testing.T) {
		os.Remove(RecordPath(data, "beta", b.ID))
		reg.Reload()
		if _, ok := reg.Lookup(b.ID); ok {
			t.Error("removed account still served")
		}
	})

	t.Run("unreadable directory keeps the accounts", func(t *testing.T) {
		before := reg.Current()
		dir := filepath.Join(data, "cfg", "tenants")
		os.Rename(dir, dir+".moved")
		write(t, dir, "not a directory")
		if err := reg.Reload(); err == nil || errors.Is(err, ErrInvalidRecord) {
			t.Fatalf("Reload = %v, want an I/O error", err)
		}
		if reg.Current() != before || reg.Status().Err == nil {
			t.Error("accounts replaced or error not in Status")
		}
		os.Remove(dir)
		os.Rename(dir+".moved", dir)
		if err := reg.Reload(); err != nil {
			t.Fatal(err)
		}
	})
}

func TestRegistryRun(t *testing.T) {
	data := t.TempDir()
	reg, err := NewRegistry(context.Background(), RegistryConfig{DataDir: data, Interval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- reg.Run(ctx) }()
	a := create(t, data, "acme", 1)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, ok := reg.Lookup(a.ID); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Run never loaded the account")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
}

func TestLoad(t *testing.T) {
	data := t.TempDir()
	if s, err := Load(data, validTenant); err != nil || s.Len() != 0 {
		t.Errorf("Load of an empty data dir = %v, %v", s.Len(), err)
	}
	a := create(t, data, "acme", 1)
	write(t, filepath.Join(AccountsDir(data, "acme"), "sa_x.json"), "{}")
	s, err := Load(data, validTenant)
	if !errors.Is(err, ErrInvalidRecord) || s.Len() != 1 {
		t.Errorf("Load = %d accounts, %v", s.Len(), err)
	}
	got, _ := s.Lookup(a.ID)
	got.Roles[0] = "admin"
	if again, _ := s.Lookup(a.ID); again.Roles[0] != "writer" {
		t.Error("Lookup shares the roles slice")
	}
}
