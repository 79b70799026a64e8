// Package pgtest gives tests a fresh PostgreSQL database of their own on
// the server named by LOGLINE_TEST_PG, so that runs never collide.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	// EnvURL names the administrator URL of the test server.
	EnvURL = "LOGLINE_TEST_PG"
	// DefaultURL is used when EnvURL is unset.
	DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
)

// AdminURL returns the test server's administrator URL, after checking
// that the server answers. An unreachable server fails the test under
// CI=true and skips it otherwise.
func AdminURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		u = DefaultURL
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL is required under CI=true (%s): %v", EnvURL, err)
		}
		t.Skipf("PostgreSQL not available at %s (%v); set %s", u, err, EnvURL)
	}
	conn.Close(ctx)
	return u
}

// NewDatabase creates the database logline_test_<random> and returns its
// URL (the admin URL with the database replaced). It is dropped, with any
// sessions still connected, when the test ends.
func NewDatabase(t testing.TB) string {
	t.Helper()
	admin := AdminURL(t)
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name := "logline_test_" + hex.EncodeToString(b[:])
	exec(t, admin, "CREATE DATABASE "+name)
	t.Cleanup(func() { exec(t, admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })
	return WithDatabase(t, admin, name)
}

// WithDatabase returns u with its database replaced by name.
func WithDatabase(t testing.TB, u, name string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatalf("%s: %v", EnvURL, err)
	}
	p.Path = "/" + name
	return p.String()
}

// WithUser returns u with its user replaced by user (no password).
func WithUser(t testing.TB, u, user string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatalf("%s: %v", EnvURL, err)
	}
	p.User = url.User(user)
	return p.String()
}

// Exec runs SQL statements on a new connection to u, failing the test on
// error.
func Exec(t testing.TB, u string, sql string, args ...any) {
	t.Helper()
	exec(t, u, sql, args...)
}

func exec(t testing.TB, u, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}
