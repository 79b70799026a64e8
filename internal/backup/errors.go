package backup

import (
	"errors"
	"fmt"
)

// Sentinel errors; every error of this package a caller may branch on wraps
// one of them.
var (
	// ErrInvalid: the backup does not verify (an *Error says where).
	ErrInvalid = errors.New("the backup does not verify")

	// ErrFork: the server's log is not an extension of the backup: a
	// smaller tree, another root at the backup's size, or a failing
	// consistency proof.
	ErrFork = errors.New("the server's log is not an extension of the backup")

	// ErrServer: the server's answers do not check out (a checkpoint that
	// does not verify with its log key, entries that do not give the
	// checkpoint's root, a malformed proof).
	ErrServer = errors.New("the server's answer does not verify")

	// ErrOtherLog: the directory holds a backup of another log.
	ErrOtherLog = errors.New("the backup belongs to another log")

	// ErrNotBackup: the directory holds files a backup does not.
	ErrNotBackup = errors.New("not a backup directory")

	// ErrBusy: another backup run holds the directory.
	ErrBusy = errors.New("another backup is running into the directory")

	// ErrTarget: the restore target is not an empty directory.
	ErrTarget = errors.New("the restore target is not empty")

	// ErrKeys: the key choice of a restore is missing, or the key directory
	// given does not fit the backup.
	ErrKeys = errors.New("unusable log keys for this backup")
)

// Error is a backup that does not verify: the file (relative to the backup
// directory), line and log index at fault, when known. It wraps ErrInvalid.
type Error struct {
	File   string // "backup.json", "log.key", "checkpoints/…", "entries/…"
	Line   int    // 1-based line of File; 0 when not about one line
	Index  int64  // log index at fault; -1 when not about one entry
	Reason string
}

func (e *Error) Error() string {
	where := e.File
	if e.Line > 0 {
		where += fmt.Sprintf(" line %d", e.Line)
	}
	if e.Index >= 0 {
		where += fmt.Sprintf(" (log index %d)", e.Index)
	}
	return where + ": " + e.Reason
}

func (e *Error) Unwrap() error { return ErrInvalid }

func invalid(file string, line int, index int64, format string, args ...any) *Error {
	return &Error{File: file, Line: line, Index: index, Reason: fmt.Sprintf(format, args...)}
}
