package hypervisor

import (
	"testing"
	"time"
)

func TestZZCalls(t *testing.T) {
	ep, _ := parseURI("qemu+unix:///system?socket=/tmp/exp/run/libvirt-sock")
	s, err := dialSession(ep, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	l := s.l
	tm := func(name string, f func() error) {
		st := time.Now()
		err := f()
		t.Logf("%s: %v %v", name, time.Since(st), err)
	}
	for i := 0; i < 2; i++ {
		tm("hostname", func() error { _, err := l.ConnectGetHostname(); return err })
		tm("nodeinfo", func() error { _, _, _, _, _, _, _, _, err := l.NodeGetInfo(); return err })
		tm("free", func() error { _, err := l.NodeGetFreeMemory(); return err })
		tm("libver", func() error { _, err := l.ConnectGetLibVersion(); return err })
		tm("ver", func() error { _, err := l.ConnectGetVersion(); return err })
		tm("type", func() error { _, err := l.ConnectGetType(); return err })
		tm("pools", func() error { _, _, err := l.ConnectListAllStoragePools(1, 0); return err })
	}
	s.close()
}
