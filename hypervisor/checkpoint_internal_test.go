package hypervisor

import (
	"strings"
	"testing"
)

// TestPullBackupXML checks the backup and checkpoint definitions: only the
// replicated disk is exported and gets a bitmap, every other one is named
// with backup='no' / checkpoint='no' (libvirt would include it otherwise).
func TestPullBackupXML(t *testing.T) {
	b := pullBackup{disk: "vda", from: "cp1", checkpoint: "cp2", host: "127.0.0.1", port: 10809, scratchFile: "/pool/vm.cp2.scratch"}
	backup, cp, err := b.xml([]string{"sda", "vda", "vdb"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`<domainbackup mode="pull">`, `<incremental>cp1</incremental>`,
		`<server transport="tcp" name="127.0.0.1" port="10809">`,
		`<disk type="file" name="vda" backup="yes" exportname="vda">`, `<scratch file="/pool/vm.cp2.scratch">`,
		`<disk name="sda" backup="no">`, `<disk name="vdb" backup="no">`,
	} {
		if !strings.Contains(backup, want) {
			t.Errorf("backup XML lacks %s:\n%s", want, backup)
		}
	}
	for _, want := range []string{
		`<name>cp2</name>`, `<disk name="vda" checkpoint="bitmap">`,
		`<disk name="sda" checkpoint="no">`, `<disk name="vdb" checkpoint="no">`,
	} {
		if !strings.Contains(cp, want) {
			t.Errorf("checkpoint XML lacks %s:\n%s", want, cp)
		}
	}
	if got := b.bitmapContext(); got != "qemu:dirty-bitmap:backup-vda" {
		t.Errorf("bitmap context %q", got)
	}

	// A comparison's job: full export, no checkpoint.
	full, cp, err := pullBackup{disk: "vda", host: "127.0.0.1", port: 1, scratchFile: "/s"}.xml([]string{"vda"})
	if err != nil {
		t.Fatal(err)
	}
	if cp != "" || strings.Contains(full, "incremental") {
		t.Errorf("full export: checkpoint %q, backup:\n%s", cp, full)
	}
}
