//go:build unix && !linux

package host

import (
	"fmt"
	"syscall"
)

func identity(st *syscall.Stat_t) string {
	return fmt.Sprintf("%d:%d", st.Dev, st.Ino)
}
