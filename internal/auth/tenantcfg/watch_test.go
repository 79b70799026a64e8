package tenantcfg

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

// fakeClock is a Now that moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

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

func newWatcher(t *testing.T, data string) (*Watcher, *fakeClock, *syncBuffer) {
	t.Helper()
	clock := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	logs := &syncBuffer{}
	w, err := New(context.Background(), Config{
		DataDir:     data,
		ValidTenant: validTenant,
		Logger:      slog.New(slog.NewTextHandler(logs, nil)),
		Now:         clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return w, clock, logs
}

func statusOf(t *testing.T, w *Watcher, tenant string) TenantStatus {
	t.Helper()
	for _, ts := range w.Status().Tenants {
		if ts.Tenant == tenant {
			return ts
		}
	}
	t.Fatalf("no status for %s in %+v", tenant, w.Status())
	return TenantStatus{}
}

func TestWatcherReload(t *testing.T) {
	data := t.TempDir()
	acme := Path(data, "acme")
	write(t, acme, goodYAML)
	w, clock, logs := newWatcher(t, data)
	t0 := clock.Now()

	good, ok := w.Current().Tenant("acme")
	if !ok || !good.Features().Trajectory {
		t.Fatalf("initial: acme = %v, %v", good, ok)
	}
	if st := statusOf(t, w, "acme"); st.State != StateOK || !st.Applied.Equal(t0) || st.Digest != good.Digest() {
		t.Errorf("initial status %+v", st)
	}

	t.Run("unchanged keeps the snapshot", func(t *testing.T) {
		before := w.Current()
		if err := w.Reload(); err != nil {
			t.Fatal(err)
		}
		if w.Current() != before {
			t.Error("a reload without changes published a new Snapshot")
		}
	})

	t.Run("bad edit keeps the good config and reports", func(t *testing.T) {
		clock.Add(time.Minute)
		write(t, acme, "features:\n  trajectory: true\n  colour: blue\n")
		err := w.Reload()
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("Reload = %v, want ErrInvalid", err)
		}
		if got, _ := w.Current().Tenant("acme"); got != good {
			t.Errorf("acme after a bad edit = %p, want the previous %p", got, good)
		}
		st := statusOf(t, w, "acme")
		if st.State != StateStale || st.Digest != good.Digest() || !st.Applied.Equal(t0) {
			t.Errorf("status %+v, want stale with the old digest, applied at t0", st)
		}
		if len(st.Errors) != 1 || st.Errors[0].Line != 3 || !strings.Contains(st.Errors[0].Error(), "tenant.yaml:3:3: unknown key \"colour\"") {
			t.Errorf("errors %v, want one at line 3", st.Errors)
		}
		if p := w.Status().Problems(); len(p) != 1 {
			t.Errorf("Problems() = %v", p)
		}
		// Reported once, not at every poll.
		w.Reload()
		if n := strings.Count(logs.String(), "tenant configuration invalid"); n != 1 {
			t.Errorf("%d warnings logged, want 1:\n%s", n, logs)
		}
	})

	t.Run("fixed edit applies", func(t *testing.T) {
		clock.Add(time.Minute)
		write(t, acme, "features:\n  diamond: true\n")
		if err := w.Reload(); err != nil {
			t.Fatal(err)
		}
		got, _ := w.Current().Tenant("acme")
		if got == good || !got.Features().Diamond || got.Features().Trajectory {
			t.Errorf("acme after the fix: %+v", got.Features())
		}
		if st := statusOf(t, w, "acme"); st.State != StateOK || !st.Applied.Equal(clock.Now()) || len(st.Errors) != 0 {
			t.Errorf("status %+v", st)
		}
	})

	t.Run("new tenant appears", func(t *testing.T) {
		write(t, filepath.Join(TenantsDir(data), "beta.yaml"), "")
		if err := w.Reload(); err != nil {
			t.Fatal(err)
		}
		if _, ok := w.Current().Tenant("beta"); !ok {
			t.Error("beta missing")
		}
	})

	t.Run("new tenant invalid runs on defaults", func(t *testing.T) {
		write(t, Path(data, "gamma"), "roles: {admin: [ledger.read]}\n")
		if err := w.Reload(); !errors.Is(err, ErrInvalid) {
			t.Fatalf("Reload = %v", err)
		}
		if _, ok := w.Current().Tenant("gamma"); ok {
			t.Error("gamma configured from an invalid file")
		}
		if st := statusOf(t, w, "gamma"); st.State != StateInvalid || st.Digest != "" {
			t.Errorf("status %+v", st)
		}
		os.Remove(Path(data, "gamma"))
	})

	t.Run("alias conflict keeps the previous config", func(t *testing.T) {
		before, _ := w.Current().Tenant("acme")
		write(t, filepath.Join(TenantsDir(data), "acme.yaml"), "")
		if err := w.Reload(); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "configured twice") {
			t.Fatalf("Reload = %v, want the conflict", err)
		}
		if got, _ := w.Current().Tenant("acme"); got != before {
			t.Error("acme changed during the conflict")
		}
		if st := statusOf(t, w, "acme"); st.State != StateStale {
			t.Errorf("status %+v", st)
		}
		os.Remove(filepath.Join(TenantsDir(data), "acme.yaml"))
		if err := w.Reload(); err != nil {
			t.Fatal(err)
		}
		if st := statusOf(t, w, "acme"); st.State != StateOK {
			t.Errorf("status after resolving %+v", st)
		}
	})

	t.Run("file removed", func(t *testing.T) {
		os.Remove(acme)
		if err := w.Reload(); err != nil {
			t.Fatal(err)
		}
		if _, ok := w.Current().Tenant("acme"); ok {
			t.Error("acme still configured")
		}
		for _, ts := range w.Status().Tenants {
			if ts.Tenant == "acme" {
				t.Errorf("status still lists acme: %+v", ts)
			}
		}
		if !strings.Contains(logs.String(), "tenant configuration removed") {
			t.Errorf("removal not logged:\n%s", logs)
		}
	})

	t.Run("unreadable directory keeps everything", func(t *testing.T) {
		before := w.Current()
		dir := TenantsDir(data)
		if err := os.Rename(dir, dir+".moved"); err != nil {
			t.Fatal(err)
		}
		write(t, dir, "a file where the directory was")
		if err := w.Reload(); err == nil || errors.Is(err, ErrInvalid) {
			t.Fatalf("Reload = %v, want an I/O error", err)
		}
		if w.Current() != before || w.Status().Err == nil {
			t.Error("snapshot replaced or error not in Status")
		}
		os.Remove(dir)
		os.Rename(dir+".moved", dir)
		if err := w.Reload(); err != nil || w.Status().Err != nil {
			t.Fatalf("Reload = %v, status err %v", err, w.Status().Err)
		}
	})
}

func TestWatcherRun(t *testing.T) {
	data := t.TempDir()
	w, err := New(context.Background(), Config{DataDir: data, ValidTenant: validTenant, Interval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()

	// Readers run beside the reloads (for -race).
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
					if tn, ok := w.Current().Tenant("acme"); ok {
						tn.Grants([]string{"writer"})
					}
					w.Status()
				}
			}
		}()
	}
	write(t, Path(data, "acme"), goodYAML)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, ok := w.Current().Tenant("acme"); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Run never picked up the new tenant")
		}
		time.Sleep(time.Millisecond)
	}
	close(stop)
	wg.Wait()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
}

func TestNewCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := New(ctx, Config{DataDir: t.TempDir()}); !errors.Is(err, context.Canceled) {
		t.Errorf("New = %v, want context.Canceled", err)
	}
}
