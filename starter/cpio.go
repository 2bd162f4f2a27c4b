package starter

import (
	"fmt"
	"io"
)

// File type bits of a cpio "newc" mode, as in stat(2).
const (
	modeDir     = 0o040000
	modeRegular = 0o100000
	modeSymlink = 0o120000
	modeCharDev = 0o020000
)

// cpioEntry is one member of an initramfs.
type cpioEntry struct {
	name         string // path without leading slash, e.g. "bin/sh"
	mode         uint32 // type bits | permissions
	data         []byte // file contents or symlink target
	major, minor uint32 // device number, for device nodes
}

// writeCPIO writes entries as a "newc" cpio archive, the format the kernel
// unpacks as initramfs. Writing it here (rather than with the cpio tool)
// lets us add /dev/console without mknod, i.e. without touching the host,
// and keeps the archive byte-for-byte reproducible (mtime 0, fixed owners).
func writeCPIO(w io.Writer, entries []cpioEntry) error {
	for i, e := range entries {
		if err := writeCPIOEntry(w, uint32(i+1), e); err != nil {
			return fmt.Errorf("cpio entry %s: %w", e.name, err)
		}
	}
	return writeCPIOEntry(w, 0, cpioEntry{name: "TRAILER!!!"})
}

func writeCPIOEntry(w io.Writer, ino uint32, e cpioEntry) error {
	nlink := uint32(1)
	if e.mode&0o170000 == modeDir {
		nlink = 2
	}
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		ino, e.mode, 0, 0, nlink, 0, len(e.data), 0, 0, e.major, e.minor, len(e.name)+1, 0)
	// The header plus the NUL-terminated name is padded to 4 bytes, and so is the data.
	name := append([]byte(e.name), 0)
	name = append(name, make([]byte, pad4(len(hdr)+len(name)))...)
	data := append(e.data[:len(e.data):len(e.data)], make([]byte, pad4(len(e.data)))...)
	for _, b := range [][]byte{[]byte(hdr), name, data} {
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

func pad4(n int) int { return (4 - n%4) % 4 }
