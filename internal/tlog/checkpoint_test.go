package tlog

import (
	"bytes"
	"encoding/base64"
	"errors"
	"math"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

// The example of x/mod/sumdb/note's package documentation.
const (
	peterSkey = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
	peterVkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
	peterText = "If you think cryptography is the answer to your problem,\n" +
		"then you don't know what your problem is.\n"
	peterMsg = peterText + "\n" +
		"— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)

func TestPublishedNoteVector(t *testing.T) {
	signer, err := note.NewSigner(peterSkey)
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := note.NewVerifier(peterVkey)
	if err != nil {
		t.Fatal(err)
	}
	// Signing is deterministic (Ed25519): the published message comes out.
	msg, err := note.Sign(&note.Note{Text: peterText}, signer)
	if err != nil {
		t.Fatal(err)
	}
	if string(msg) != peterMsg {
		t.Fatalf("got\n%s\nwant\n%s", msg, peterMsg)
	}
	// It is a valid note but not a checkpoint.
	_, err = ParseCheckpoint([]byte(peterMsg), note.VerifierList(verifier), "PeterNeumann")
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("got %v, want ErrMalformed", err)
	}
	// The published key signs checkpoints that verify with the published
	// verifier key.
	root := LeafHash([]byte("hello"))
	cp, err := SignCheckpoint(signer, "PeterNeumann", 1, root)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseCheckpoint(cp, note.VerifierList(verifier), "PeterNeumann")
	if err != nil {
		t.Fatal(err)
	}
	if got.Size != 1 || got.Root != root || got.Note.Sigs[0].Hash != 0xc74f20a3 {
		t.Fatalf("got %+v", got)
	}
}

func TestCheckpointRoundTrip(t *testing.T) {
	signer, verifier, _ := newKey(t, testOrigin, 1)
	tests := []struct {
		name string
		size uint64
		root [32]byte
		body string
	}{
		{"empty tree", 0, EmptyRoot(), testOrigin + "\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"},
		{"one leaf", 1, LeafHash(nil), testOrigin + "\n1\nbjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=\n"},
		{"large", 1 << 62, [32]byte{1, 2, 3}, ""},
		{"max uint64", math.MaxUint64, [32]byte{0xff}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, err := SignCheckpoint(signer, testOrigin, tt.size, tt.root)
			if err != nil {
				t.Fatal(err)
			}
			if tt.body != "" && !strings.HasPrefix(string(msg), tt.body+"\n— "+testOrigin+" ") {
				t.Errorf("got\n%s\nwant body\n%s", msg, tt.body)
			}
			cp, err := ParseCheckpoint(msg, note.VerifierList(verifier), testOrigin)
			if err != nil {
				t.Fatal(err)
			}
			if cp.Origin != testOrigin || cp.Size != tt.size || cp.Root != tt.root || cp.Extensions != nil {
				t.Errorf("got %q %d %x %q, want %q %d %x", cp.Origin, cp.Size, cp.Root, cp.Extensions, testOrigin, tt.size, tt.root)
			}
			if len(cp.Note.Sigs) != 1 || cp.Note.Sigs[0].Hash != verifier.KeyHash() {
				t.Errorf("got sigs %+v", cp.Note.Sigs)
			}
		})
	}
}

// flipSig returns msg with byte i of the first signature's decoded bytes
// (4-byte key hash, then the Ed25519 signature) inverted.
func flipSig(t *testing.T, msg []byte, i int) []byte {
	t.Helper()
	s := string(msg)
	start := strings.LastIndex(s, "\n\n— ") + 2
	line := s[start : len(s)-1]
	sp := strings.LastIndex(line, " ")
	sig, err := base64.StdEncoding.DecodeString(line[sp+1:])
	if err != nil {
		t.Fatal(err)
	}
	sig[i] ^= 0xff
	return []byte(s[:start] + line[:sp+1] + base64.StdEncoding.EncodeToString(sig) + "\n")
}

func TestCheckpointTampering(t *testing.T) {
	signer, verifier, _ := newKey(t, testOrigin, 1)
	impostor, _, _ := newKey(t, testOrigin, 2) // same name, other key
	other, otherVerifier, _ := newKey(t, "other.example/log", 3)
	witness, witnessVerifier, _ := newKey(t, "witness.example", 4)
	root := LeafHash([]byte("x"))
	good, err := SignCheckpoint(signer, testOrigin, 7, root)
	if err != nil {
		t.Fatal(err)
	}
	byImpostor, err := SignCheckpoint(impostor, testOrigin, 7, root)
	if err != nil {
		t.Fatal(err)
	}
	otherLog, err := SignCheckpoint(other, "other.example/log", 7, root)
	if err != nil {
		t.Fatal(err)
	}
	witnessOnly, err := note.Sign(&note.Note{Text: checkpointBody(testOrigin, 7, root)}, witness)
	if err != nil {
		t.Fatal(err)
	}
	ours := note.VerifierList(verifier)
	tests := []struct {
		name      string
		msg       []byte
		verifiers note.Verifiers
		want      error
		wantAs    any
	}{
		{"body byte flipped", bytes.Replace(good, []byte("\n7\n"), []byte("\n8\n"), 1), ours, ErrBadSignature, new(*note.InvalidSignatureError)},
		{"signature byte flipped", flipSig(t, good, 10), ours, ErrBadSignature, new(*note.InvalidSignatureError)},
		{"key hash flipped", flipSig(t, good, 0), ours, ErrUnknownKey, new(*note.UnverifiedNoteError)},
		{"no known key", good, note.VerifierList(), ErrUnknownKey, new(*note.UnverifiedNoteError)},
		{"nil verifiers", good, nil, ErrUnknownKey, nil},
		{"replaced key", byImpostor, ours, ErrUnknownKey, new(*note.UnverifiedNoteError)},
		{"other log's checkpoint", otherLog, note.VerifierList(verifier, otherVerifier), ErrWrongOrigin, nil},
		{"signed by a witness only", witnessOnly, note.VerifierList(verifier, witnessVerifier), ErrUnknownKey, nil},
		{"signature removed", good[:bytes.Index(good, []byte("\n\n"))+2], ours, ErrMalformed, nil},
		{"line deleted", bytes.Replace(good, []byte("\n7\n"), []byte("\n"), 1), ours, ErrBadSignature, nil},
		{"control character", bytes.Replace(good, []byte("\n7\n"), []byte("\n7\r\n"), 1), ours, ErrMalformed, nil},
		{"too large", append(bytes.Repeat([]byte("x"), MaxCheckpointSize), good...), ours, ErrMalformed, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseCheckpoint(tt.msg, tt.verifiers, testOrigin)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if tt.wantAs != nil && !errors.As(err, tt.wantAs) {
				t.Errorf("got %v, want it to wrap %T", err, tt.wantAs)
			}
		})
	}
	t.Run("empty expected origin", func(t *testing.T) {
		if _, err := ParseCheckpoint(good, ours, ""); !errors.Is(err, ErrWrongOrigin) {
			t.Fatalf("got %v, want ErrWrongOrigin", err)
		}
	})
	t.Run("cosigned by an unknown witness", func(t *testing.T) {
		n, err := note.Open(good, ours)
		if err != nil {
			t.Fatal(err)
		}
		cosigned, err := note.Sign(n, witness)
		if err != nil {
			t.Fatal(err)
		}
		cp, err := ParseCheckpoint(cosigned, ours, testOrigin)
		if err != nil {
			t.Fatal(err)
		}
		if len(cp.Note.Sigs) != 1 || len(cp.Note.UnverifiedSigs) != 1 {
			t.Errorf("got %d verified, %d unverified signatures, want 1 and 1", len(cp.Note.Sigs), len(cp.Note.UnverifiedSigs))
		}
	})
}

// TestCheckpointBody signs arbitrary texts validly, so that only the body
// parser can reject them.
func TestCheckpointBody(t *testing.T) {
	signer, verifier, _ := newKey(t, testOrigin, 1)
	root := "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="
	o := testOrigin + "\n"
	tests := []struct {
		name string
		text string
		want error // nil: accepted
		exts []string
	}{
		{"canonical", o + "5\n" + root + "\n", nil, nil},
		{"extensions", o + "5\n" + root + "\nfoo bar\n— looks like a signature\n", nil, []string{"foo bar", "— looks like a signature"}},
		{"empty extension", o + "5\n" + root + "\n\nx\n", ErrMalformed, nil},
		{"two lines", o + "5\n", ErrMalformed, nil},
		{"empty size", o + "\n" + root + "\n", ErrMalformed, nil},
		{"leading zero", o + "05\n" + root + "\n", ErrMalformed, nil},
		{"plus sign", o + "+5\n" + root + "\n", ErrMalformed, nil},
		{"minus sign", o + "-5\n" + root + "\n", ErrMalformed, nil},
		{"space", o + "5 \n" + root + "\n", ErrMalformed, nil},
		{"hex", o + "0x5\n" + root + "\n", ErrMalformed, nil},
		{"overflow", o + "18446744073709551616\n" + root + "\n", ErrMalformed, nil},
		{"max", o + "18446744073709551615\n" + root + "\n", nil, nil},
		{"short root", o + "5\nAQID\n", ErrMalformed, nil},
		{"long root", o + "5\n" + base64.StdEncoding.EncodeToString(make([]byte, 33)) + "\n", ErrMalformed, nil},
		{"unpadded root", o + "5\n" + strings.TrimSuffix(root, "=") + "\n", ErrMalformed, nil},
		{"url base64 root", o + "5\n" + "____________________________________________\n", ErrMalformed, nil},
		{"non-canonical root bits", o + "5\n" + root[:42] + "B=\n", ErrMalformed, nil},
		{"size 0 with other root", o + "0\n" + root + "\n", ErrMalformed, nil},
		{"other origin", "elsewhere.example\n5\n" + root + "\n", ErrWrongOrigin, nil},
		{"empty origin", "\n5\n" + root + "\n", ErrMalformed, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, err := note.Sign(&note.Note{Text: tt.text}, signer)
			if err != nil {
				t.Fatal(err)
			}
			cp, err := ParseCheckpoint(msg, note.VerifierList(verifier), testOrigin)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if err == nil && strings.Join(cp.Extensions, "|") != strings.Join(tt.exts, "|") {
				t.Errorf("got extensions %q, want %q", cp.Extensions, tt.exts)
			}
		})
	}
}

func TestSignCheckpointErrors(t *testing.T) {
	signer, _, _ := newKey(t, testOrigin, 1)
	tests := []struct {
		name   string
		signer note.Signer
		origin string
		size   uint64
		root   [32]byte
		want   error
	}{
		{"key of another log", signer, "other.example/log", 1, [32]byte{}, ErrWrongOrigin},
		{"empty origin", signer, "", 1, [32]byte{}, ErrMalformed},
		{"origin with space", signer, "a b", 1, [32]byte{}, ErrMalformed},
		{"origin with newline", signer, "a\nb", 1, [32]byte{}, ErrMalformed},
		{"size 0 with other root", signer, testOrigin, 0, [32]byte{1}, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, err := SignCheckpoint(tt.signer, tt.origin, tt.size, tt.root)
			if !errors.Is(err, tt.want) || msg != nil {
				t.Fatalf("got %q, %v, want %v", msg, err, tt.want)
			}
		})
	}
	if _, err := SignCheckpoint(nil, testOrigin, 1, [32]byte{}); err == nil {
		t.Error("nil signer: got nil error")
	}
}
