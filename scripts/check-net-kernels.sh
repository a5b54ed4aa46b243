#!/bin/bash
# Boots the networked test kernels (scripts/build-net-kernels.sh, testdata/kernels/README.md
# "Networked kernels") under qemu TCG with qemu user networking and a busybox initramfs, and
# checks in each guest:
#   - the release, and that the guest gets an address with busybox udhcpc (AF_PACKET) from
#     qemu's DHCP server and fetches a token with wget from a python3 http.server that listens
#     on the host's 127.0.0.1 only (reached as 10.0.2.2);
#   - the host reaches the guest: a hostfwd port on 127.0.0.1 to a busybox nc listening in the
#     guest (what an ssh test needs);
#   - for CONFIG_IKHEADERS=y: sha256 of /sys/kernel/kheaders.tar.xz equals the build's archive;
#     for =n: /sys/kernel/kheaders.tar.xz is absent.
# It prints the host-clock time from qemu start to /init and the guest uptime at /init.
#
# usage: scripts/check-net-kernels.sh [NAME ...]   NAME: x86_64-net-n x86_64-net-y arm64-net (default all)
#   env KERNELS: directory with the images and configs (default testdata/kernels)
#   env LOGDIR: console logs (default /tmp/kheaders-netcheck)
#   env BUSYBOX_ARM64: a static arm64 busybox (default: fetched like internal/e2e/run.sh does)
# (busybox 1.35 wget -T segfaults, on the host too: the fetch is bounded by timeout instead.)
# Needs qemu-system-x86, qemu-system-arm, busybox-static, cpio, python3.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
K=${KERNELS:-$here/testdata/kernels}
LOGDIR=${LOGDIR:-/tmp/kheaders-netcheck}
mkdir -p "$LOGDIR"
WHICH=${*:-x86_64-net-n x86_64-net-y arm64-net}
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The host's server: a token file served on 127.0.0.1 only.
www=$tmp/www; mkdir -p "$www"
head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$www/token"
hport=$(freeport)
python3 -m http.server --bind 127.0.0.1 --directory "$www" "$hport" >"$LOGDIR/http.log" 2>&1 &
pids+=($!)

# initrd BUSYBOX OUT: busybox, /init, a udhcpc script, /dev/console.
initrd() {
  local r=$tmp/root-$RANDOM
  mkdir -p "$r/bin" "$r/dev" "$r/proc" "$r/sys" "$r/tmp" "$r/etc"
  cp "$1" "$r/bin/busybox"; ln -s busybox "$r/bin/sh"
  mknod "$r/dev/console" c 5 1
  head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$r/etc/guest-token"
  cp "$r/etc/guest-token" "$2.guest-token"
  cat > "$r/bin/dhcp-script" <<'EOF'
#!/bin/sh
case $1 in
  bound|renew) ip addr add "$ip/$mask" dev "$interface"; [ -z "$router" ] || ip route add default via "$router" ;;
esac
EOF
  cat > "$r/init" <<EOF
#!/bin/busybox sh
/bin/busybox mkdir -p /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo 1 > /proc/sys/kernel/printk
echo "@@ INIT uptime=\$(cut -d' ' -f1 /proc/uptime)"
echo "@@ UNAME \$(uname -r) \$(uname -m)"
ip link set lo up; ip link set eth0 up
udhcpc -i eth0 -n -q -t 5 -s /bin/dhcp-script >/tmp/dhcp.log 2>&1; echo "@@ DHCP rc=\$? \$(ip -4 addr show eth0 | grep -o 'inet [0-9./]*')"
echo "@@ ROUTE \$(ip route | grep default)"
echo "@@ WGET \$(timeout 30 wget -q -O - http://10.0.2.2:$hport/token)"
if [ -e /sys/kernel/kheaders.tar.xz ]; then echo "@@ KHEADERS \$(sha256sum /sys/kernel/kheaders.tar.xz | cut -d' ' -f1)"; else echo "@@ KHEADERS absent"; fi
echo "@@ MEM \$(grep -E '^(MemTotal|Unevictable|Shmem):' /proc/meminfo | tr -s ' ' | tr '\n' ' ')"
echo "@@ LISTEN"
timeout 60 nc -l -p 2222 < /etc/guest-token; echo "@@ NC rc=\$?"
echo "@@ DONE uptime=\$(cut -d' ' -f1 /proc/uptime)"
$HALT
exit 1
EOF
  chmod +x "$r/init" "$r/bin/dhcp-script"
  (cd "$r" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) > "$2"
}

fail=0
for name in $WHICH; do
  case $name in
    x86_64-net-n|x86_64-net-y)
      kernel=$K/bzImage-$name; cfg=$K/config-$name; bb=$(command -v busybox)
      qemu=(qemu-system-x86_64 -accel tcg -cpu qemu64); con=ttyS0; halt="reboot -f" ;;
    arm64-net)
      kernel=$K/Image-arm64-net.gz; cfg=$K/config-arm64-net
      bb=${BUSYBOX_ARM64:-$("$(dirname "$0")"/fetch-arm64-busybox.sh)} || { echo "$name: no arm64 busybox" >&2; fail=1; continue; }
      qemu=(qemu-system-aarch64 -M virt -cpu cortex-a57 -accel tcg); con=ttyAMA0; halt="poweroff -f" ;;
    *) echo "unknown kernel $name" >&2; exit 2 ;;
  esac
  ir=$tmp/$name.cpio
  HALT=$halt initrd "$bb" "$ir"
  fport=$(freeport)
  log=$LOGDIR/$name.log
  : > "$log"
  start=$(date +%s.%N)
  "${qemu[@]}" -smp 1 -m 512 -nographic -no-reboot -kernel "$kernel" -initrd "$ir" \
    -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$fport-:2222" -device virtio-net-pci,netdev=n0 \
    -append "console=$con panic=-1 loglevel=6" >"$log" 2>&1 &
  qpid=$!; pids+=($qpid)
  for _ in $(seq 600); do grep -q '^@@ LISTEN' "$log" && break; kill -0 $qpid 2>/dev/null || break; sleep 0.5; done
  got=$(python3 - "$fport" <<'EOF'
import socket, sys, time
for _ in range(20):
    try:
        s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
        d = s.recv(100)
        if d:
            print(d.decode().strip()); break
        s.close()
    except OSError:
        pass
    time.sleep(0.5)
EOF
  )
  wait $qpid || true
  end=$(date +%s.%N)
  tr -d '\r' < "$log" > "$log.txt"
  rel=$(sed -n 's/^@@ UNAME \([^ ]*\) .*/\1/p' "$log.txt")
  dhcp=$(sed -n 's/^@@ DHCP //p' "$log.txt")
  wgot=$(sed -n 's/^@@ WGET //p' "$log.txt")
  kh=$(sed -n 's/^@@ KHEADERS //p' "$log.txt")
  mem=$(sed -n 's/^@@ MEM //p' "$log.txt")
  up=$(sed -n 's/^@@ INIT uptime=//p' "$log.txt")
  want_rel=$(sed -n 's/^CONFIG_LOCALVERSION="\(.*\)"/6.12.117\1/p' "$cfg")
  ok=1
  [ "$rel" = "$want_rel" ] || { echo "$name: release '$rel', want '$want_rel'"; ok=0; }
  case $dhcp in "rc=0 inet 10.0.2.15/24") ;; *) echo "$name: udhcpc: '$dhcp'"; ok=0 ;; esac
  [ "$wgot" = "$(cat "$www/token")" ] || { echo "$name: wget from host got '$wgot'"; ok=0; }
  [ "$got" = "$(cat "$ir.guest-token")" ] || { echo "$name: host read '$got' from the guest's port"; ok=0; }
  if grep -qx CONFIG_IKHEADERS=y "$cfg"; then
    want=$(awk -v f="$name" '$1 ~ f {print $6}' "$K/kheaders.tsv" | head -1)
    [ -n "$want" ] && [ "$kh" = "$want" ] || { echo "$name: /sys/kernel/kheaders.tar.xz sha256 '$kh', want '$want'"; ok=0; }
  else
    [ "$kh" = absent ] || { echo "$name: /sys/kernel/kheaders.tar.xz present in an IKHEADERS=n kernel"; ok=0; }
  fi
  wall=$(echo "$end - $start" | bc)
  printf '%s: %s release %s, dhcp %s, wget ok=%s, host->guest ok=%s, kheaders %s; guest uptime at /init %ss, whole boot %.1fs wall; %s (load %s)\n' \
    "$name" "$([ $ok = 1 ] && echo OK || echo FAIL)" "$rel" "$dhcp" "$([ "$wgot" = "$(cat "$www/token")" ] && echo y || echo n)" \
    "$([ "$got" = "$(cat "$ir.guest-token")" ] && echo y || echo n)" "${kh:0:16}" "$up" "$wall" "$mem" "$(cut -d' ' -f1-3 /proc/loadavg)"
  [ $ok = 1 ] || fail=1
done
exit $fail
