package hypervisor

// daemonScript is the holder of a private daemon: it runs libvirtd and
// virtlogd in the foreground, stays their parent and restarts either within
// a second or two when it dies, so that one long-lived process stands for
// the whole daemon. It is started detached (a session of its own, no
// parent-death signal) and outlives whoever started it.
//
// Arguments: $0 = holderName (so it can be found), $1 = daemon dir,
// $2 = libvirtd, $3 = virtlogd, $4 = 1 to set up the private namespaces,
// $5 = 1 to start libvirtd with --listen (its TCP listener; see DaemonOptions).
//
// With $4 = 1 the shell is PID 1 of fresh PID and mount namespaces (the Go
// side asks for them when starting it). It then:
//   - makes every mount private, so nothing below leaks to the machine;
//   - bind-mounts its own directories over libvirt's fixed state paths,
//     which is what lets several privileged libvirtds run at once;
//   - mounts a tmpfs over /run/libvirt: libvirt's run state (which guests
//     run, their QEMU PIDs and monitor sockets) describes processes of this
//     namespace only and must end with it, as /run ends with a reboot. Kept
//     on disk, a daemon in a later namespace took it for guests of its own
//     and tried to reconnect to QEMU PIDs that meant other processes there;
//   - mounts a /proc that matches its PID namespace, because libvirtd looks
//     up the QEMU processes it starts by PID.
//
// As PID 1 it is also the parent of every QEMU process (QEMU daemonises and
// is reparented to it), so guests do not depend on libvirtd being alive: a
// restarted libvirtd reconnects to them through the run state. And the
// namespace's end is the clean-up: when this shell exits, the kernel kills
// everything left in the namespace (QEMU guests included).
//
// On SIGTERM it stops libvirtd first and virtlogd last, since libvirtd hands
// guest console logs to virtlogd until the end, and exits. It does the same
// when its daemon dir has been removed: a data dir deleted with the daemon
// still running (a test's temp dir, a throw-away install) would otherwise
// leave a daemon that no `libvirtd stop --data DIR` can name any more.
const daemonScript = `
set -u
d=$1 libvirtd=$2 virtlogd=$3 ns=$4 listen=${5:-0}
lv= vl= stopping=0
trap 'stopping=1; [ -n "$lv" ] && kill -TERM "$lv" 2>/dev/null' TERM INT
trap '' HUP

if [ "$ns" = 1 ]; then
	set -e
	mount --make-rprivate /
	for m in etc:/etc/libvirt lib:/var/lib/libvirt cache:/var/cache/libvirt log:/var/log/libvirt; do
		src="$d/ns/${m%%:*}" dst="${m#*:}"
		mkdir -p "$dst"
		mount --bind "$src" "$dst"
	done
	mkdir -p /run/libvirt
	mount -t tmpfs -o mode=0755 allmende-run /run/libvirt
	mount -t proc proc /proc
	set +e
fi

start_virtlogd() {
	"$virtlogd" --config "$d/virtlogd.conf" --pid-file "$d/virtlogd.pid" &
	vl=$!
}
start_libvirtd() {
	if [ "$listen" = 1 ]; then
		"$libvirtd" --listen --config "$d/libvirtd.conf" --pid-file "$d/libvirtd.pid" &
	else
		"$libvirtd" --config "$d/libvirtd.conf" --pid-file "$d/libvirtd.pid" &
	fi
	lv=$!
}
# alive PID: running, not just an unreaped zombie. The shell reaps its
# children whenever it waits (for the sleep below), so a dead daemon's
# PID is gone by the next round at the latest.
alive() { kill -0 "$1" 2>/dev/null; }

start_virtlogd
start_libvirtd
while [ "$stopping" = 0 ]; do
	# A trapped signal interrupts wait (not a foreground sleep) at once.
	sleep 1 &
	wait $!
	[ "$stopping" = 1 ] && break
	if [ ! -d "$d" ]; then
		# Its directory is gone (rm -rf of a test's or a throw-away data
		# dir): nothing is left to serve, and nobody could stop it by dir.
		echo "$(date '+%F %T') allmende holder: $d removed; stopping"
		stopping=1
		kill -TERM "$lv" 2>/dev/null
		break
	fi
	if ! alive "$vl"; then
		echo "$(date '+%F %T') allmende holder: virtlogd exited; restarting it"
		start_virtlogd
	fi
	if ! alive "$lv"; then
		echo "$(date '+%F %T') allmende holder: libvirtd exited; restarting it"
		start_libvirtd
	fi
done

# A trapped signal interrupts wait before the daemon has exited: wait again.
while alive "$lv"; do wait "$lv"; done
kill -TERM "$vl" 2>/dev/null
while alive "$vl"; do wait "$vl"; done
exit 0
`
