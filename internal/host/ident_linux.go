//go:build linux

package host

import (
	"fmt"
	"syscall"
)

func identity(st *syscall.Stat_t) string {
	return fmt.Sprintf("%d:%d:%d.%09d", st.Dev, st.Ino, st.Ctim.Sec, st.Ctim.Nsec)
}
