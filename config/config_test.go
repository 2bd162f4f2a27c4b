package config_test

import (
	"testing"

	"allmende/config"
)

// CPU limits for the private libvirtd's guests are on unless turned off,
// by flag or environment; the flag wins over the environment.
func TestLibvirtCPULimitsOnByDefault(t *testing.T) {
	for _, tc := range []struct {
		env  string
		args []string
		off  bool
	}{
		{"", nil, false},
		{"", []string{"--libvirt-cpu-limits=false"}, true},
		{"false", nil, true},
		{"false", []string{"--libvirt-cpu-limits"}, false},
		{"true", []string{"--libvirt-cpu-limits=false"}, true},
		{"nonsense", nil, false},
	} {
		t.Setenv("ALLMENDE_LIBVIRT_CPU_LIMITS", tc.env)
		cfg, err := config.ParseFlags("serve", append([]string{"--data", t.TempDir()}, tc.args...), true, nil)
		if err != nil {
			t.Fatalf("env %q args %v: %v", tc.env, tc.args, err)
		}
		if cfg.LibvirtNoCPULimits != tc.off {
			t.Errorf("env %q args %v: LibvirtNoCPULimits = %v, want %v", tc.env, tc.args, cfg.LibvirtNoCPULimits, tc.off)
		}
	}
}
