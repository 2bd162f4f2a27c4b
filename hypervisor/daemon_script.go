package hypervisor

// daemonScript runs libvirtd and virtlogd in the foreground and stays their
// parent, so that one process (this shell) stands for the whole daemon.
//
// Arguments: $1 = daemon dir, $2 = libvirtd, $3 = virtlogd, $4 = 1 to set up
// the private mount namespace.
//
// With $4 = 1 the shell is PID 1 of fresh PID and mount namespaces (the Go
// side asks for them when starting it). It then:
//   - makes every mount private, so nothing below leaks to the machine;
//   - bind-mounts its own directories over libvirt's fixed state paths,
//     which is what lets several privileged libvirtds run at once;
//   - mounts a /proc that matches its PID namespace, because libvirtd looks
//     up the QEMU processes it starts by PID.
//
// Being PID 1 gives clean-up for free: when this shell exits, the kernel
// kills everything left in the namespace (QEMU guests included).
//
// On SIGTERM it stops libvirtd first and virtlogd last, since libvirtd hands
// guest console logs to virtlogd until the end.
const daemonScript = `
set -u
d=$1 libvirtd=$2 virtlogd=$3 ns=$4
lv= vl= stopping=0
trap 'stopping=1; [ -n "$lv" ] && kill -TERM "$lv" 2>/dev/null' TERM INT

if [ "$ns" = 1 ]; then
	set -e
	mount --make-rprivate /
	for m in etc:/etc/libvirt run:/run/libvirt lib:/var/lib/libvirt cache:/var/cache/libvirt log:/var/log/libvirt; do
		src="$d/ns/${m%%:*}" dst="${m#*:}"
		mkdir -p "$dst"
		mount --bind "$src" "$dst"
	done
	mount -t proc proc /proc
	set +e
fi

"$virtlogd" --config "$d/virtlogd.conf" --pid-file "$d/virtlogd.pid" &
vl=$!
"$libvirtd" --config "$d/libvirtd.conf" --pid-file "$d/libvirtd.pid" &
lv=$!
[ "$stopping" = 1 ] && kill -TERM "$lv"

wait "$lv"
rc=$?
# A trapped signal interrupts wait before libvirtd has exited: wait again.
if [ "$stopping" = 1 ]; then
	wait "$lv"
	rc=0
fi
kill -TERM "$vl" 2>/dev/null
wait "$vl"
exit "$rc"
`
