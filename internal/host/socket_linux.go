package host

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// SocketQueued returns the bytes sent on c's TCP socket that the peer has
// not yet acknowledged, or had not yet been sent (SIOCOUTQ), or -1 when
// that cannot be told (not TCP).
func SocketQueued(c net.Conn) int {
	for range 4 { // *tls.Conn, and wrappers of it; a conn that returns itself ends the loop
		u, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			break
		}
		n := u.NetConn()
		if n == nil || n == c {
			break
		}
		c = n
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return -1
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1
	}
	q := -1
	if err := rc.Control(func(fd uintptr) {
		if n, err := unix.IoctlGetInt(int(fd), unix.SIOCOUTQ); err == nil {
			q = n
		}
	}); err != nil {
		return -1
	}
	return q
}
