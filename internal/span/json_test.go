package span

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

func special8Reference(x uint64) bool {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], x)
	for _, c := range b {
		if c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			return true
		}
	}
	return false
}

func TestSpecial8(t *testing.T) {
	for c := range 256 {
		for pos := range 8 {
			w := []byte("abcdefgh")
			w[pos] = byte(c)
			x := binary.LittleEndian.Uint64(w)
			if got, want := special8(x), special8Reference(x); got != want {
				t.Errorf("special8(%q): got %v, want %v", w, got, want)
			}
		}
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 100000 {
		x := r.Uint64() & 0x7f7f7f7f7f7f7f7f // mostly ASCII, to exercise the borrow cases
		if r.IntN(2) == 0 {
			x = r.Uint64()
		}
		if got, want := special8(x), special8Reference(x); got != want {
			t.Fatalf("special8(%#x): got %v, want %v", x, got, want)
		}
	}
}
