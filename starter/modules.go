package starter

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Debian's kernel builds the virtio drivers as modules, and the guest has
// no /lib/modules to load them from: without them it sees neither its disk
// nor its network card. guestModules are the ones the initramfs carries
// (with what they depend on) and /init loads, in this order: PCI transport
// first, so that the disk and network drivers find their devices.
var guestModules = []string{"virtio_pci", "virtio_blk", "virtio_net"}

// module is a kernel module ready for busybox insmod: uncompressed.
type module struct {
	name string // "virtio_blk"
	data []byte // the ELF object
}

// isModuleCandidate says which files of the kernel package to keep while
// streaming through it: the modules guestModules can need. Keeping only
// these spares holding the package's hundreds of megabytes of modules.
func isModuleCandidate(name string) bool {
	if !strings.HasPrefix(name, "lib/modules/") {
		return false
	}
	base := moduleName(name)
	if base == "" {
		return false
	}
	return strings.HasPrefix(base, "virtio") || strings.HasSuffix(base, "failover")
}

// moduleName returns "virtio_blk" for ".../virtio_blk.ko(.xz|.zst|.gz)",
// and "" for a file that is no module.
func moduleName(file string) string {
	base := path.Base(file)
	for _, ext := range []string{".ko", ".ko.xz", ".ko.zst", ".ko.gz"} {
		if name, ok := strings.CutSuffix(base, ext); ok {
			return strings.ReplaceAll(name, "-", "_")
		}
	}
	return ""
}

// decompressModule undoes the compression Debian's newer kernels apply to
// their modules (busybox's insmod reads plain ELF objects only).
func decompressModule(file string, data []byte) ([]byte, error) {
	var r io.Reader
	switch {
	case strings.HasSuffix(file, ".ko"):
		return data, nil
	case strings.HasSuffix(file, ".ko.xz"):
		xr, err := xz.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		r = xr
	case strings.HasSuffix(file, ".ko.zst"):
		zr, err := zstd.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		r = zr
	default:
		return nil, fmt.Errorf("unsupported module compression: %s", path.Base(file))
	}
	return io.ReadAll(r)
}

// moduleDepends reads the modules a module needs loaded first from its
// .modinfo section ("depends=virtio,virtio_ring"), as modinfo does; the
// package has no modules.dep (depmod writes it on installation).
func moduleDepends(obj []byte) ([]string, error) {
	f, err := elf.NewFile(bytes.NewReader(obj))
	if err != nil {
		return nil, err
	}
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, nil
	}
	info, err := sec.Data()
	if err != nil {
		return nil, err
	}
	for _, kv := range bytes.Split(info, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("depends=")); ok {
			if len(v) == 0 {
				return nil, nil
			}
			deps := strings.Split(string(v), ",")
			for i := range deps {
				deps[i] = strings.ReplaceAll(deps[i], "-", "_")
			}
			return deps, nil
		}
	}
	return nil, nil
}

// loadOrder returns the modules roots need, dependencies before their
// users, from files (package path → contents as in the package).
func loadOrder(files map[string][]byte, roots []string) ([]module, error) {
	objs := map[string][]byte{}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths) // deterministic, so the initramfs is reproducible
	for _, p := range paths {
		name := moduleName(p)
		if name == "" || objs[name] != nil {
			continue
		}
		obj, err := decompressModule(p, files[p])
		if err != nil {
			return nil, fmt.Errorf("module %s: %w", name, err)
		}
		objs[name] = obj
	}
	var order []module
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(name, from string) error
	visit = func(name, from string) error {
		switch state[name] {
		case 1:
			return fmt.Errorf("module %s: dependency cycle", name)
		case 2:
			return nil
		}
		obj, ok := objs[name]
		if !ok {
			return fmt.Errorf("the kernel package lacks module %s (needed by %s)", name, from)
		}
		state[name] = 1
		deps, err := moduleDepends(obj)
		if err != nil {
			return fmt.Errorf("module %s: %w", name, err)
		}
		for _, d := range deps {
			if err := visit(d, name); err != nil {
				return err
			}
		}
		state[name] = 2
		order = append(order, module{name: name, data: obj})
		return nil
	}
	for _, r := range roots {
		if err := visit(r, "the guest"); err != nil {
			return nil, err
		}
	}
	return order, nil
}
