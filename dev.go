package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"allmende/config"
	"allmende/hypervisor"
	"allmende/web"
)

// rigHostNames are the hosts of `allmende dev two-hosts`.
var rigHostNames = []string{"a", "b"}

// devTwoHosts runs the two-host rig: two independent private libvirt hosts
// a and b under <data>/hosts/, each with its own namespace, TCP port
// (--base-port and the next), host UUID and migration ports, registered in
// the portal as hosts "a" and "b" with their qemu+tcp URIs, and the portal.
// Like the private libvirtd of `serve`, the hosts outlive the portal;
// --stop (or `allmende libvirtd stop`) stops them.
func devTwoHosts(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	var basePort int
	var stop bool
	cfg, err := config.ParseFlags("dev two-hosts", args, true, func(fs *flag.FlagSet) {
		fs.IntVar(&basePort, "base-port", 16610, "TCP port of host a on 127.0.0.1; host b gets the next")
		fs.BoolVar(&stop, "stop", false, "stop the rig's hosts (and their guests) instead")
	})
	if err != nil {
		return err
	}
	if stop {
		if err := hypervisor.StopRig(cfg.DataDir, log); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "no rig host running in %s\n", cfg.DataDir)
		return nil
	}
	if cfg.Libvirt != "auto" && cfg.Libvirt != "none" {
		return errors.New("dev two-hosts: --libvirt does not apply; the rig's hosts are the portal's hosts")
	}
	cfg.Libvirt = "none" // no host "local": a and b are the hosts
	if err := web.DataDirWritable(cfg.DataDir); err != nil {
		return err
	}

	type rigHost struct {
		name string
		d    *hypervisor.Daemon
	}
	var hosts []rigHost
	for i, name := range rigHostNames {
		d, err := hypervisor.StartRigHost(ctx, cfg.DataDir, name, hypervisor.RigHostOptions(i, basePort), log)
		if err != nil {
			return err
		}
		hosts = append(hosts, rigHost{name, d})
	}
	// Keep the hosts up while the portal runs, as serve does for its own.
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	for _, h := range hosts {
		wg.Add(1)
		go func() { defer wg.Done(); h.d.Supervise(sctx, 2*time.Second) }()
	}

	srv, err := web.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	for _, h := range hosts {
		if err := srv.RegisterHost(ctx, h.name, h.d.TCPURI()); err != nil {
			return errors.Join(err, srv.Shutdown(context.Background()))
		}
	}
	addr, err := srv.Start(ctx)
	if err != nil {
		return errors.Join(err, srv.Shutdown(context.Background()))
	}
	for _, h := range hosts {
		fmt.Fprintf(stdout, "host %s: %s (host UUID %s, dir %s)\n", h.name, h.d.TCPURI(), h.d.HostUUID(), h.d.Dir())
	}
	fmt.Fprintf(stdout, "Allmende (two-host rig) is running: open http://%s/\n", addr)
	fmt.Fprintf(stdout, "Stop the hosts and their guests: allmende dev two-hosts --stop --data %s\n", cfg.DataDir)
	<-ctx.Done()
	log.Info("shutting down; the rig's hosts keep running")
	return srv.Shutdown(context.Background())
}
