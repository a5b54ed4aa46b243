package archive

import (
	"syscall"
	"testing"
)

// TestLowerPriority: a writer's thread runs writerNice below the thread
// that started it (per-thread nice values are Linux's).
func TestLowerPriority(t *testing.T) {
	got := make(chan [2]int)
	go func() {
		tid := syscall.Gettid()
		before, err1 := syscall.Getpriority(syscall.PRIO_PROCESS, tid)
		lowerPriority() // locks the goroutine to this thread, which ends with it
		after, err2 := syscall.Getpriority(syscall.PRIO_PROCESS, syscall.Gettid())
		if err1 != nil || err2 != nil {
			t.Errorf("getpriority: %v, %v", err1, err2)
		}
		got <- [2]int{20 - before, 20 - after} // the system call returns 20 - nice
	}()
	nice := <-got
	if want := min(nice[0]+writerNice, 19); nice[1] != want {
		t.Errorf("nice after lowerPriority = %d (was %d), want %d", nice[1], nice[0], want)
	}
}
