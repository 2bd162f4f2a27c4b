package hypervisor

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/digitalocean/go-libvirt"
	"libvirt.org/go/libvirtxml"
)

// EnsureDirPool makes sure the host at uri has a started, autostarting
// storage pool of type dir called name whose volumes live in path. It
// defines, builds and starts the pool if needed and does nothing if it is
// already so; it is safe to call on every startup. An existing pool of that
// name with a different type or path is an error, never silently accepted.
func (m *Manager) EnsureDirPool(ctx context.Context, uri, name, path string) error {
	if name == "" {
		return errors.New("ensure dir pool: empty pool name")
	}
	if !filepath.IsAbs(path) {
		return fmt.Errorf("ensure dir pool %s: path %q is not absolute", name, path)
	}
	path = filepath.Clean(path)
	_, err := call(ctx, m, uri, func(l *libvirt.Libvirt) (struct{}, error) {
		return struct{}{}, ensureDirPool(l, name, path)
	})
	if err != nil {
		return fmt.Errorf("ensure dir pool %s at %s on %s: %w", name, path, uri, err)
	}
	return nil
}

func ensureDirPool(l *libvirt.Libvirt, name, path string) error {
	pool, err := l.StoragePoolLookupByName(name)
	if IsNotFound(err) {
		pool, err = defineDirPool(l, name, path)
	}
	if err != nil {
		return err
	}

	def, err := poolDefinition(l, pool)
	if err != nil {
		return err
	}
	if def.Type != "dir" || def.Target == nil || filepath.Clean(def.Target.Path) != path {
		got := ""
		if def.Target != nil {
			got = def.Target.Path
		}
		return fmt.Errorf("pool %s already exists as type %q at %q", name, def.Type, got)
	}

	active, err := l.StoragePoolIsActive(pool)
	if err != nil {
		return fmt.Errorf("pool state: %w", err)
	}
	if active == 0 {
		// Building a dir pool only creates the directory; doing it again on
		// an existing directory is harmless, and it may have been removed.
		if err := l.StoragePoolBuild(pool, 0); err != nil {
			return fmt.Errorf("build pool: %w", err)
		}
		if err := l.StoragePoolCreate(pool, 0); err != nil && !isActive(l, pool) {
			return fmt.Errorf("start pool: %w", err)
		}
	}

	auto, err := l.StoragePoolGetAutostart(pool)
	if err != nil {
		return fmt.Errorf("pool autostart: %w", err)
	}
	if auto == 0 {
		if err := l.StoragePoolSetAutostart(pool, 1); err != nil {
			return fmt.Errorf("set pool autostart: %w", err)
		}
	}
	return nil
}

func defineDirPool(l *libvirt.Libvirt, name, path string) (libvirt.StoragePool, error) {
	x, err := (&libvirtxml.StoragePool{
		Type:   "dir",
		Name:   name,
		Target: &libvirtxml.StoragePoolTarget{Path: path},
	}).Marshal()
	if err != nil {
		return libvirt.StoragePool{}, fmt.Errorf("pool XML: %w", err)
	}
	pool, err := l.StoragePoolDefineXML(x, 0)
	if err == nil {
		return pool, nil
	}
	// A concurrent caller may have defined it between our lookup and define;
	// then the pool exists and the checks that follow decide if it is right.
	if existing, lerr := l.StoragePoolLookupByName(name); lerr == nil {
		return existing, nil
	}
	return libvirt.StoragePool{}, fmt.Errorf("define pool: %w", err)
}

// isActive reports whether pool is running. It is used after a failed start:
// a concurrent EnsureDirPool may have started the pool in between.
func isActive(l *libvirt.Libvirt, pool libvirt.StoragePool) bool {
	active, err := l.StoragePoolIsActive(pool)
	return err == nil && active != 0
}
