package starter

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// kernelMeta is Debian's metapackage that depends on the current kernel.
const kernelMeta = "linux-image-amd64"

// kernelDir, under the cache dir, holds the guest's kernel and the
// modules it loads, both taken from one package so that they match. Its
// name is versioned: when what is taken from the package changes, the name
// changes and the package is downloaded again rather than a stale cache
// used. (The kernel-only cache of earlier versions, dir/vmlinuz, is left
// alone: older builds sharing the cache dir still use it.)
const kernelDir = "kernel-2"

// moduleOrder, in kernelDir, lists the cached modules in load order, one
// name a line; each is kernelDir/modules/<name>.ko.
const moduleOrder = "modules.order"

// cachedKernel returns the path of the kernel and the modules the guest
// loads, downloading Debian's kernel package and taking them out of it if
// they are not cached yet. A cached kernel is kept: a newer Debian point
// release is no reason to download 60 MB again.
func cachedKernel(ctx context.Context, dir string, logf Logf) (string, []module, error) {
	kdir := filepath.Join(dir, kernelDir)
	kernel := filepath.Join(kdir, "vmlinuz")
	if mods, err := readCachedModules(kdir); err == nil {
		return kernel, mods, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", nil, err
	}
	pkg, err := kernelPackage(ctx)
	if err != nil {
		return "", nil, err
	}
	logf("starter: downloading %s (once, about 70 MB) into %s", pkg, dir)
	isKernel := func(name string) bool { return strings.HasPrefix(name, "boot/vmlinuz-") }
	files, err := filesFromPackage(ctx, dir, pkg, func(name string) bool { return isKernel(name) || isModuleCandidate(name) })
	if err != nil {
		return "", nil, err
	}
	var image []byte
	for name, data := range files {
		if isKernel(name) {
			image = data
		}
	}
	if image == nil {
		return "", nil, fmt.Errorf("%s has no boot/vmlinuz-*", pkg)
	}
	mods, err := loadOrder(files, guestModules)
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", pkg, err)
	}
	if err := writeKernelDir(dir, kdir, image, mods); err != nil {
		return "", nil, err
	}
	return kernel, mods, nil
}

// readCachedModules reads the modules cached in kdir, in load order; an
// error wrapping fs.ErrNotExist means there is no cache yet.
func readCachedModules(kdir string) ([]module, error) {
	order, err := os.ReadFile(filepath.Join(kdir, moduleOrder))
	if err != nil {
		return nil, err
	}
	var mods []module
	for _, name := range strings.Fields(string(order)) {
		data, err := os.ReadFile(filepath.Join(kdir, "modules", name+".ko"))
		if err != nil {
			return nil, fmt.Errorf("cached guest kernel in %s is incomplete (remove it to rebuild): %w", kdir, errors.Join(err, errIncomplete))
		}
		mods = append(mods, module{name: name, data: data})
	}
	return mods, nil
}

// errIncomplete keeps a missing module from reading as "no cache yet".
var errIncomplete = errors.New("cache incomplete")

// writeKernelDir writes the kernel and modules into a temporary directory
// and renames it to kdir, so that a crash never leaves half a cache.
func writeKernelDir(dir, kdir string, image []byte, mods []module) error {
	tmp, err := os.MkdirTemp(dir, ".tmp-kernel-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp) // fails harmlessly after the rename
	if err := os.Mkdir(filepath.Join(tmp, "modules"), 0o755); err != nil {
		return err
	}
	var order strings.Builder
	for _, m := range mods {
		if err := writeFileAtomic(filepath.Join(tmp, "modules", m.name+".ko"), m.data); err != nil {
			return err
		}
		order.WriteString(m.name + "\n")
	}
	err = errors.Join(
		writeFileAtomic(filepath.Join(tmp, "vmlinuz"), image),
		writeFileAtomic(filepath.Join(tmp, moduleOrder), []byte(order.String())),
		os.Chmod(tmp, 0o755), // readable for QEMU, which runs as another user
	)
	if err != nil {
		return err
	}
	return os.Rename(tmp, kdir)
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

// filesFromPackage downloads Debian package pkg (apt-get download, into
// a temporary directory under dir) and returns its regular files whose
// paths (without the leading "./") match, by path.
func filesFromPackage(ctx context.Context, dir, pkg string, match func(string) bool) (map[string][]byte, error) {
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
	return extractFiles(ctx, debs[0], match)
}

// extractFiles returns the matching files of a .deb, reading the
// package's file tree as a stream: only what matches is kept in memory,
// nothing is unpacked to disk (as dpkg -x would).
func extractFiles(ctx context.Context, deb string, match func(string) bool) (map[string][]byte, error) {
	cmd := exec.CommandContext(ctx, "dpkg-deb", "--fsys-tarfile", deb)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("dpkg-deb: %w", err)
	}
	files, findErr := findFiles(tar.NewReader(stdout), match)
	stdout.Close()
	waitErr := cmd.Wait()
	if err := errors.Join(findErr, waitErr); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(deb), err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s lacks the files looked for", filepath.Base(deb))
	}
	return files, nil
}

func findFiles(tr *tar.Reader, match func(string) bool) (map[string][]byte, error) {
	files := map[string][]byte{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files, nil
		}
		if err != nil {
			return nil, err
		}
		name := strings.TrimPrefix(h.Name, "./")
		if match(name) && h.Typeflag == tar.TypeReg {
			data, err := io.ReadAll(tr)
			if err != nil {
				return nil, err
			}
			files[name] = data
		}
	}
}
