// Package hypervisor is the only code in allmende that speaks libvirt.
//
// It has two halves:
//
//   - Daemon starts a private libvirtd (plus its own virtlogd) under a
//     directory, isolated from any other libvirtd on the machine, so tests,
//     the dev server and CI can each have a real "host" of their own. It
//     runs detached and outlives the process that started it, so guests
//     survive the portal; StopDaemon ends it.
//   - Manager keeps one libvirt connection per host URI, redials lost
//     connections with backoff and answers questions such as Inventory.
//     It manages storage (dir pools; qcow2 disk volumes cloned from
//     images; uploads; cloud-init seed ISOs) and guests (define, start,
//     stop, undefine, state, serial console).
//
// Every operation that changes a host is idempotent, because the jobs that
// call them are retried after crashes: define-if-missing,
// create-if-missing, start-if-not-running, delete-if-present. Streams
// (uploads, consoles) run on connections of their own, so that ending one
// (by disconnecting: go-libvirt streams take no context) never disturbs
// other calls.
//
// Callers never see go-libvirt types: everything crossing the package
// boundary is a plain Go value defined here.
package hypervisor
