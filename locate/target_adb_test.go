package locate

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kheaders/kheaders/internal/host/hosttest"
	"github.com/kheaders/kheaders/internal/target"
	"github.com/kheaders/kheaders/internal/target/targettest"
)

// TestTargetADB: Debian's real adb client against a test server speaking
// the adb host protocol, serving a fake Android device whose
// /sys/kernel/kheaders.tar.xz the shell user may not read (SELinux-style
// denial) and whose GKI kheaders.ko sits in /system_dlkm: the headers come
// from the module file and the report names the denial.
func TestTargetADB(t *testing.T) {
	r := hosttest.Kernel612(t)
	r.Config = hosttest.ReadFixture(t, "ikheaders-m/config")
	r.Files = map[string][]byte{
		target.SysfsArchive: hosttest.ReadFixture(t, "ikheaders-m/kheaders_data.tar.xz"),
		"/system_dlkm/lib/modules/6.12.117/kernel/kernel/kheaders.ko": hosttest.ReadFixture(t, "ikheaders-m/kheaders.ko"),
	}
	dir := targettest.Make(t, r)
	if err := os.Chmod(filepath.Join(dir, "sys/kernel/kheaders.tar.xz"), 0o400); err != nil {
		t.Fatal(err)
	}
	srv := targettest.StartADB(t, dir, "fake-device-1")
	t.Setenv("ADB_SERVER_SOCKET", srv.Socket)
	t.Setenv("HOME", t.TempDir()) // adb never sees the real ~/.android
	h, err := Locate(context.Background(), &Options{Target: "adb:fake-device-1", CacheDir: t.TempDir()})
	if err != nil {
		t.Fatalf("%v\nrequests: %q", err, srv.Seen())
	}
	if h.Source != "module-file" || !strings.HasSuffix(h.Origin, ":/system_dlkm/lib/modules/6.12.117/kernel/kernel/kheaders.ko") || !h.Verified || h.Target.Spec != "adb:fake-device-1" {
		t.Errorf("source %s origin %s verified %v target %+v", h.Source, h.Origin, h.Verified, h.Target)
	}
	found := false
	for _, a := range h.Attempts {
		if a.Source == "sysfs" {
			found = a.Outcome == OutcomeFailed && strings.Contains(a.Reason, "permission denied") && strings.Contains(a.Reason, "SELinux") && strings.Contains(a.Fix, "adb root")
			t.Logf("sysfs: %s: %s (fix: %s)", a.Outcome, a.Reason, a.Fix)
		}
	}
	if !found {
		t.Errorf("the report does not name the denial: %+v", h.Attempts)
	}
	var execs int
	var seen []string
	for _, q := range srv.Seen() {
		seen = append(seen, q[:min(len(q), 24)])
		if strings.HasPrefix(q, "exec:") {
			execs++
		}
	}
	t.Logf("requests from the adb client: %q", seen)
	if execs != 2 {
		t.Errorf("%d exec: requests, want 2 (identity, module); all: %d", execs, len(srv.Seen()))
	}
	// Another serial is refused by the server and reported.
	if _, err := Locate(context.Background(), &Options{Target: "adb:other", CacheDir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("unknown serial: %v", err)
	}
}
