package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestNew(t *testing.T) {
	tests := []struct {
		in, want string
		bad      bool
	}{
		{in: "", want: DefaultServer},
		{in: "127.0.0.1:9000", want: "http://127.0.0.1:9000"},
		{in: "https://ledger.example/base/", want: "https://ledger.example/base"},
		{in: "http://h:1/?x=1#f", want: "http://h:1"},
		{in: "ftp://h", bad: true},
		{in: "http://", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			c, err := New(tt.in, nil, "")
			if tt.bad {
				if err == nil {
					t.Fatalf("New(%q) = %s, want an error", tt.in, c.BaseURL())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.BaseURL(); got != tt.want {
				t.Errorf("BaseURL() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestGetEscapesAndProblems(t *testing.T) {
	var gotPath, gotQuery string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath, gotQuery = r.URL.EscapedPath(), r.URL.RawQuery
		switch r.URL.Query().Get("tenant") {
		case "gone":
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"type":"https://logline.dev/problems/not-found","title":"Not found","status":404,"code":"not_found","detail":"no span with that id"}`)
		case "plain":
			http.Error(w, "upstream exploded", http.StatusBadGateway)
		default:
			fmt.Fprint(w, `{"id":"a/b"}`)
		}
	}))
	defer srv.Close()
	c, err := New(srv.URL+"/base", nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	body, err := c.Get(ctx, "a/b", "t", 2)
	if err != nil || string(body) != `{"id":"a/b"}` {
		t.Fatalf("Get = %q, %v", body, err)
	}
	if gotPath != "/base/spans/a%2Fb" || gotQuery != "seq=2&tenant=t" {
		t.Errorf("request %s?%s, want /base/spans/a%%2Fb?seq=2&tenant=t", gotPath, gotQuery)
	}

	_, err = c.Get(ctx, "x", "gone", -1)
	var p *Problem
	if !errors.As(err, &p) || p.Code != "not_found" || p.Status != 404 || !IsNotFound(err) || Retryable(err) {
		t.Errorf("404: got %#v", err)
	}
	_, err = c.Get(ctx, "x", "plain", -1)
	if !errors.As(err, &p) || p.Status != 502 || p.Detail != "upstream exploded" || !Retryable(err) {
		t.Errorf("502: got %#v", err)
	}

	srv.Close()
	_, err = c.Get(ctx, "x", "", -1)
	var ce *ConnError
	if !errors.As(err, &ce) || !Retryable(err) {
		t.Errorf("closed server: got %#v, want a retryable *ConnError", err)
	}
}
