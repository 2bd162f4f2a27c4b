package web

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

const (
	hashKeyLen  = 64 // HMAC-SHA256 signing key of the session cookie
	blockKeyLen = 32 // AES-256 key that encrypts it
)

// sessionKeys loads the session cookie keys from the data dir, creating
// them on first start. The file is written with mode 0600 and replaced
// atomically, so a crash can never leave half a key behind; if two
// processes race on first start, the first link wins and both use it.
func sessionKeys(dataDir string) (hashKey, blockKey []byte, err error) {
	path := filepath.Join(dataDir, "session.key")
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		b, err = createKeyFile(path)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("session keys: %w", err)
	}
	if len(b) != hashKeyLen+blockKeyLen {
		return nil, nil, fmt.Errorf("session keys: %s has %d bytes, want %d (delete it to make new keys; this signs everyone out)",
			path, len(b), hashKeyLen+blockKeyLen)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		return nil, nil, fmt.Errorf("session keys: %w", err)
	}
	return b[:hashKeyLen], b[hashKeyLen:], nil
}

func createKeyFile(path string) ([]byte, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	b := make([]byte, hashKeyLen+blockKeyLen)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".session.key-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, err
	}
	return os.ReadFile(path) // the winner's keys, if another process was first
}
