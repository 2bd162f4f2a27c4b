package starter

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// kernelMeta is Debian's metapackage that depends on the current kernel.
const kernelMeta = "linux-image-amd64"

// cachedKernel returns dir/vmlinuz, downloading Debian's kernel package
// and taking the kernel out of it if it is not there yet. Any kernel once
// cached is kept: a newer Debian point release is no reason to download
// 60 MB again.
func cachedKernel(ctx context.Context, dir string, logf Logf) (string, error) {
	path := filepath.Join(dir, "vmlinuz")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	pkg, err := kernelPackage(ctx)
	if err != nil {
		return "", err
	}
	logf("starter: downloading %s (once, about 60 MB) into %s", pkg, dir)
	kernel, err := fileFromPackage(ctx, dir, pkg, func(name string) bool { return strings.HasPrefix(name, "boot/vmlinuz-") })
	if err != nil {
		return "", err
	}
	if err := writeFileAtomic(path, kernel); err != nil {
		return "", err
	}
	return path, nil
}

// kernelPackage asks apt which versioned kernel package the metapackage
// points to, e.g. linux-image-6.1.0-56-amd64: apt-get download takes no
// wildcards, and the versioned name changes with Debian's updates.
func kernelPackage(ctx context.Context) (string, error) {
	if _, err := exec.LookPath("apt-get"); err != nil {
		return "", errors.New("apt-get is not installed: the starter image takes its kernel from a Debian package")
	}
	out, err := exec.CommandContext(ctx, "apt-cache", "depends", kernelMeta).Output()
	if err != nil {
		return "", fmt.Errorf("apt-cache depends %s failed (no apt lists? run apt-get update): %w", kernelMeta, err)
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		dep, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "Depends: ")
		if ok && strings.HasPrefix(dep, "linux-image-") {
			return strings.Trim(dep, "<>"), nil
		}
	}
	return "", fmt.Errorf("apt-cache depends %s names no linux-image package (no apt lists? run apt-get update): %s", kernelMeta, lastLines(string(out), 3))
}

// lastLines keeps the end of a command's output for an error message,
// where apt puts its reason.
func lastLines(out string, n int) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " / ")
}

// fileFromPackage downloads Debian package pkg (apt-get download, into a
// temporary directory under dir) and returns the first regular file in it
// whose path (without the leading "./") matches.
func fileFromPackage(ctx context.Context, dir, pkg string, match func(string) bool) ([]byte, error) {
	tmp, err := os.MkdirTemp(dir, ".download-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.CommandContext(ctx, "apt-get", "download", pkg)
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("apt-get download %s failed (no network, or stale apt lists? run apt-get update): %w: %s",
			pkg, err, lastLines(string(out), 3))
	}
	debs, _ := filepath.Glob(filepath.Join(tmp, "*.deb"))
	if len(debs) != 1 {
		return nil, fmt.Errorf("apt-get download %s left %d .deb files", pkg, len(debs))
	}
	return extractFile(ctx, debs[0], match)
}

// extractFile returns the first matching file of a .deb. It reads the
// package's file tree as a stream and stops there: a kernel comes before
// the hundreds of megabytes of modules, so nothing else is unpacked (as
// dpkg -x would).
func extractFile(ctx context.Context, deb string, match func(string) bool) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "dpkg-deb", "--fsys-tarfile", deb)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("dpkg-deb: %w", err)
	}
	data, findErr := findFile(tar.NewReader(stdout), match)
	// Stopping early makes dpkg-deb fail on a closed pipe; only its
	// failure before we found the file matters.
	stdout.Close()
	waitErr := cmd.Wait()
	if findErr != nil {
		return nil, fmt.Errorf("%s: %w (dpkg-deb: %v)", filepath.Base(deb), findErr, waitErr)
	}
	return data, nil
}

func findFile(tr *tar.Reader, match func(string) bool) ([]byte, error) {
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, errors.New("the package lacks the file looked for")
		}
		if err != nil {
			return nil, err
		}
		name := strings.TrimPrefix(h.Name, "./")
		if match(name) && h.Typeflag == tar.TypeReg {
			return io.ReadAll(tr)
		}
	}
}
