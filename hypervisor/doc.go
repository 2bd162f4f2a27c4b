// Package hypervisor is the only code in allmende that speaks libvirt.
//
// It has two halves:
//
//   - Daemon starts a private libvirtd (plus its own virtlogd) under a
//     directory, isolated from any other libvirtd on the machine, so tests,
//     the dev server and CI can each have a real "host" of their own.
//   - Manager keeps one libvirt connection per host URI, redials lost
//     connections with backoff and answers questions such as Inventory.
//
// Callers never see go-libvirt types: everything crossing the package
// boundary is a plain Go value defined here.
package hypervisor
