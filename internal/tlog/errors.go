package tlog

import "errors"

// Sentinel errors. Every error returned by this package that a caller may
// branch on wraps exactly one of these; test with errors.Is.
var (
	// ErrMalformed: a checkpoint, signed note or proof JSON is not well
	// formed (bad syntax, bad base64, wrong hash length, unknown field…).
	ErrMalformed = errors.New("malformed")

	// ErrUnknownKey: a checkpoint carries no signature by a known log key
	// named after the origin. The error also wraps *note.UnverifiedNoteError
	// when the note had no verifiable signature at all.
	ErrUnknownKey = errors.New("not signed by a known log key")

	// ErrBadSignature: a known key's signature does not verify. The error also
	// wraps *note.InvalidSignatureError naming the key.
	ErrBadSignature = errors.New("invalid signature")

	// ErrWrongOrigin: the checkpoint (or key directory, or signer) names a
	// different log than expected.
	ErrWrongOrigin = errors.New("wrong origin")

	// ErrProofRange: the sizes or index given to a proof check are impossible
	// (index ≥ size, old size > new size, size ≥ 2^63).
	ErrProofRange = errors.New("proof index or size out of range")

	// ErrInvalidProof: a proof does not lead to the claimed root hash(es).
	ErrInvalidProof = errors.New("invalid proof")

	// ErrConflict: the Guard refuses a checkpoint of an already signed size
	// with a different root hash, or a tree that is not an extension of the
	// last signed one.
	ErrConflict = errors.New("conflicting checkpoint")

	// ErrRollback: the Guard refuses a checkpoint smaller than the last signed
	// one.
	ErrRollback = errors.New("checkpoint smaller than the last signed one")

	// ErrCorruptKeys: the key directory exists but its files are unreadable,
	// inconsistent or tampered with.
	ErrCorruptKeys = errors.New("corrupt key directory")
)
