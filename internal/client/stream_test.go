package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
)

// TestStreamDropsAnIncompleteLastLine: an entry the connection broke
// inside of is never handed out; the error says to resume.
func TestStreamDropsAnIncompleteLastLine(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", NextCursorTrailer)
		fmt.Fprint(w, "{\"log_index\":0}\n{\"log_index\":1}\r\n{\"log_ind")
		w.(http.Flusher).Flush()
		// Break the connection in the middle of the third entry.
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	defer srv.Close()
	c, err := New(srv.URL, nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	_, err = c.Stream(context.Background(), StreamOptions{}, func(line []byte) error {
		got = append(got, string(line))
		return nil
	})
	if want := []string{`{"log_index":0}`, "{\"log_index\":1}\r"}; !slices.Equal(got, want) {
		t.Errorf("got lines %q, want %q", got, want)
	}
	var ce *ConnError
	if !errors.As(err, &ce) || !Retryable(err) {
		t.Errorf("got %v, want a retryable *ConnError", err)
	}
}

func TestScanEntryLines(t *testing.T) {
	for _, tt := range []struct {
		data    string
		atEOF   bool
		advance int
		token   string
		err     error
	}{
		{"a\nb", false, 2, "a", nil},
		{"ab", false, 0, "", nil},
		{"ab", true, 0, "", io.ErrUnexpectedEOF},
		{"", true, 0, "", nil},
		{"a\r\n", true, 3, "a\r", nil},
	} {
		advance, token, err := scanEntryLines([]byte(tt.data), tt.atEOF)
		if advance != tt.advance || string(token) != tt.token || !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
			t.Errorf("scanEntryLines(%q, %v) = %d, %q, %v; want %d, %q, %v", tt.data, tt.atEOF, advance, token, err, tt.advance, tt.token, tt.err)
		}
	}
}
