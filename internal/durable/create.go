package durable

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// File is a file written under a temporary name in the directory of its
// final path. Commit makes it appear at the path whole (fsync → rename →
// fsync directory); Abort, or a crash before Commit, leaves no file at the
// path, only possibly a temporary "."+base+".tmp*" one after a crash.
// Use it to stream content too large for WriteFile.
type File struct {
	*os.File
	path string
	done bool
}

// Create starts a File that Commit will put at path with mode perm.
func Create(path string, perm os.FileMode) (*File, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, fmt.Errorf("chmod %s: %w", path, err)
	}
	return &File{File: tmp, path: path}, nil
}

// Commit syncs the content and renames it into place. After a failed
// Commit the path is untouched and the temporary file removed.
func (f *File) Commit() error {
	if f.done {
		return errors.New("durable: Commit after Commit or Abort")
	}
	f.done = true
	name := f.Name()
	if err := f.Sync(); err != nil {
		f.File.Close()
		os.Remove(name)
		return fmt.Errorf("fsync %s: %w", f.path, err)
	}
	if err := f.File.Close(); err != nil {
		os.Remove(name)
		return fmt.Errorf("close %s: %w", f.path, err)
	}
	if err := os.Rename(name, f.path); err != nil {
		os.Remove(name)
		return fmt.Errorf("rename %s: %w", f.path, err)
	}
	return SyncDir(filepath.Dir(f.path))
}

// Abort closes and removes the temporary file. It does nothing after
// Commit, so `defer f.Abort()` is safe.
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done = true
	f.File.Close()
	os.Remove(f.Name())
}
