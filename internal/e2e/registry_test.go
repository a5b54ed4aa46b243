package e2e

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/kheaders/kheaders/internal/registrytest"
	"github.com/kheaders/kheaders/oci"
)

// TestE2ERegistry boots the networked kernel without CONFIG_IKHEADERS
// (testdata/kernels/bzImage-x86_64-net-n: no header source of its own) with
// qemu user networking and lets it locate its headers from a
// docker-registry on the host's 127.0.0.1 (10.0.2.2 from the guest), where
// the test pushed that kernel's archive: cold (pulled, verified, cached),
// then warm (from the cache).
func TestE2ERegistry(t *testing.T) {
	gate(t)
	if ok, pkg := HaveQemu(MachineX86); !ok {
		t.Skipf("skipping: %s not found (install Debian package %s)", MachineX86.Qemu, pkg)
	}
	bb, why := staticBusybox("x86_64")
	if bb == "" {
		t.Skip("skipping: " + why)
	}
	kd := filepath.Join(repoRoot(t), "testdata", "kernels")
	arch, err := os.ReadFile(filepath.Join(kd, "kheaders-x86_64-net-n.tar.xz"))
	if err != nil {
		t.Fatal(err)
	}
	reg := registrytest.Start(t, nil)
	c, err := oci.NewClient(reg.Host+"/fleet", &oci.Options{DockerConfig: filepath.Join(t.TempDir(), "none.json")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Push(t.Context(), arch, oci.Meta{Release: "6.12.117-net-n", Machine: "x86_64", Arch: "x86"}); err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(reg.Host)
	h := newHarness(t)
	defer h.summary()
	kh := buildKheaders(t, "amd64", h.work)
	m := MachineX86
	m.Args = append(append([]string{}, m.Args...), "-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0")
	dhcp := "#!/bin/sh\ncase $1 in bound|renew) ip addr add \"$ip/$mask\" dev \"$interface\"; [ -z \"$router\" ] || ip route add default via \"$router\" ;; esac\n"
	locate := "kheaders locate --json --load-module never --cache-dir /tmp/kh --registry 10.0.2.2:" + port + "/fleet --plain-http"
	cons := h.boot(t, bootSpec{
		name:    "x86_64-net-n-registry",
		machine: m,
		kernel:  filepath.Join(kd, "bzImage-x86_64-net-n"),
		extra:   []Entry{{Name: "bin/dhcp-script", Mode: 0o755, Data: []byte(dhcp)}},
		steps: []GuestStep{
			{"net", "ip link set lo up; ip link set eth0 up; udhcpc -i eth0 -n -q -t 5 -s /bin/dhcp-script >/dev/null 2>&1; ip -4 addr show eth0 | grep -o 'inet [0-9./]*'"},
			{"registry-cold", locate},
			{"registry-warm", locate},
		},
	}, bb, kh)
	for _, st := range []struct {
		name   string
		cached bool
	}{{"registry-cold", false}, {"registry-warm", true}} {
		s := cons.Step(st.name)
		if s == nil || s.RC != 0 {
			t.Fatalf("guest %s: %+v", st.name, s)
		}
		j := decodeJSON(t, s)
		if fieldStr(j, "source") != "registry" || field(j, "verified") != true || field(j, "cached") != st.cached || fieldStr(j, "release") != "6.12.117-net-n" {
			t.Errorf("guest %s = source %v verified %v cached %v release %v; want registry, verified, cached %v, 6.12.117-net-n\n%s",
				st.name, j["source"], j["verified"], j["cached"], j["release"], st.cached, s.Stdout)
		}
	}
}
