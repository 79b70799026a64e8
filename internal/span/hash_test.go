package span

import (
	"strings"
	"testing"
)

// TestContentHashBLAKE3 pins the hash function to BLAKE3-256 with official
// BLAKE3 test vectors (input byte i is i % 251).
func TestContentHashBLAKE3(t *testing.T) {
	tests := []struct {
		n    int
		want string
	}{
		{0, "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"},
		{1, "2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213"},
		{1023, "10108970eeda3eb932baac1428c7a2163b0e924c9a9e25b35bba72b28f70bd11"},
		{1024, "42214739f095a406f3fc83deb889744ac00df831c10daa55189b5d121c855af7"},
		{1025, "d00278ae47eb27b34faecf67b4fe263f82d5412916c1ffd97c8cb7fb814b8444"},
	}
	for _, tt := range tests {
		in := make([]byte, tt.n)
		for i := range in {
			in[i] = byte(i % 251)
		}
		if got := contentHash(in).String(); got != tt.want {
			t.Errorf("BLAKE3 of %d bytes: got %s, want %s", tt.n, got, tt.want)
		}
	}
}

func TestParseHash(t *testing.T) {
	good := "0123456789abcdef" + strings.Repeat("0f", 24)
	h, err := ParseHash(good)
	if err != nil {
		t.Fatalf("ParseHash(%s): %v", good, err)
	}
	if h.String() != good || string(h.AppendHex([]byte("x"))) != "x"+good {
		t.Errorf("got %s, want %s", h, good)
	}
	if ZeroHash.String() != strings.Repeat("0", 64) {
		t.Errorf("ZeroHash: got %s", ZeroHash)
	}
	for _, bad := range []string{
		"",
		good[:63],
		good + "0",
		strings.ToUpper(good),
		"g" + good[1:],
		" " + good[1:],
	} {
		if _, err := ParseHash(bad); err == nil {
			t.Errorf("ParseHash(%q): got nil error", bad)
		}
	}
}
