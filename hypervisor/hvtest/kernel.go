package hvtest

import (
	"archive/tar"
	"bufio"
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
func cachedKernel(dir string, logf func(string, ...any)) (string, error) {
	path := filepath.Join(dir, "vmlinuz")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	pkg, err := kernelPackage()
	if err != nil {
		return "", err
	}
	logf("hvtest: downloading %s (once per machine, about 60 MB) into %s", pkg, dir)
	tmp, err := os.MkdirTemp(dir, ".download-*")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)

	cmd := exec.Command("apt-get", "download", pkg)
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("apt-get download %s: %w\n%s", pkg, err, out)
	}
	debs, _ := filepath.Glob(filepath.Join(tmp, "*.deb"))
	if len(debs) != 1 {
		return "", fmt.Errorf("apt-get download %s left %d .deb files", pkg, len(debs))
	}
	kernel, err := extractKernel(debs[0])
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
func kernelPackage() (string, error) {
	out, err := exec.Command("apt-cache", "depends", kernelMeta).Output()
	if err != nil {
		return "", fmt.Errorf("apt-cache depends %s (have apt's lists been fetched? apt-get update): %w", kernelMeta, err)
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		dep, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "Depends: ")
		if ok && strings.HasPrefix(dep, "linux-image-") {
			return strings.Trim(dep, "<>"), nil
		}
	}
	return "", fmt.Errorf("apt-cache depends %s names no linux-image package (run apt-get update):\n%s", kernelMeta, out)
}

// extractKernel returns /boot/vmlinuz-* from a kernel .deb. It reads the
// package's file tree as a stream and stops at the kernel, which comes
// before the hundreds of megabytes of modules, instead of unpacking it all
// with dpkg -x.
func extractKernel(deb string) ([]byte, error) {
	cmd := exec.Command("dpkg-deb", "--fsys-tarfile", deb)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("dpkg-deb: %w", err)
	}
	kernel, findErr := findKernel(tar.NewReader(stdout))
	// Stopping early makes dpkg-deb fail on a closed pipe; only its
	// failure before we found the kernel matters.
	stdout.Close()
	waitErr := cmd.Wait()
	if findErr != nil {
		return nil, fmt.Errorf("kernel in %s: %w (dpkg-deb: %v)", filepath.Base(deb), findErr, waitErr)
	}
	return kernel, nil
}

func findKernel(tr *tar.Reader) ([]byte, error) {
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, errors.New("no boot/vmlinuz-* in the package")
		}
		if err != nil {
			return nil, err
		}
		name := strings.TrimPrefix(h.Name, "./")
		if strings.HasPrefix(name, "boot/vmlinuz-") && h.Typeflag == tar.TypeReg {
			return io.ReadAll(tr)
		}
	}
}
