//go:build !linux

package host

import "net"

// SocketQueued cannot tell the bytes queued in a socket here: -1.
func SocketQueued(net.Conn) int { return -1 }
