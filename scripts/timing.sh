# timing.sh: sourced by the compare scripts. One way of timing a command.
#
# timed OUT CMD [ARGS...] runs CMD under GNU time (/usr/bin/time, Debian
# package time) and appends one line to OUT:
#   wall-seconds user-seconds sys-seconds peak-RSS-KB
# The wall time is read from bash's EPOCHREALTIME (microseconds) around
# the command, because GNU time's %e has a resolution of 10 ms, which is
# 2-15% of the commands these scripts compare. It includes starting GNU
# time itself (about 1 ms), the same for both sides of a comparison. CPU
# times and peak RSS come from GNU time (CPU at 10 ms resolution; peak RSS
# is the largest of the process tree's members). CMD's stdout and stderr
# are the caller's. On failure nothing is appended and CMD's status is
# returned.
timed() {
  local out=$1 t0 t1 rc=0 u s m
  shift
  t0=$EPOCHREALTIME
  /usr/bin/time -f '%U %S %M' -o "$out.time" "$@" || rc=$?
  t1=$EPOCHREALTIME
  if [ "$rc" != 0 ]; then rm -f "$out.time"; return "$rc"; fi
  read -r u s m <"$out.time"
  rm -f "$out.time"
  LC_ALL=C awk -v a="${t0/,/.}" -v b="${t1/,/.}" -v u="$u" -v s="$s" -v m="$m" \
    'BEGIN { printf "%.6f %s %s %s\n", b - a, u, s, m }' >>"$out"
}
