//go:build linux

package main

import (
	"context"
	"encoding/xml"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/swarmlight/swarmlight/appliance/config"
	"github.com/swarmlight/swarmlight/appliance/mdns/mdnstest"
)

// TestMDNSInNamespace: the real binary with --mdns.responder, alone in a
// network namespace, is found from another namespace on the same link by real
// resolvers: NAME.local resolves to the responder's address, and browsing
// _http._tcp finds "swarmlight on NAME" with the HTTP port and the TXT record's
// page and announce paths. The resolvers are a Go one that asks as
// avahi-daemon does (mdnstest), and avahi-daemon itself with avahi-browse and
// avahi-resolve.
func TestMDNSInNamespace(t *testing.T) {
	link := newMDNSLink(t)
	bin := buildBinary(t, "mdns-test")
	const name = "swl-mdns-test"
	p := startProc(t, exec.Command("ip", "netns", "exec", link.box, bin, "serve",
		"--config", configFile(t, ""), "--panel.mode", "off",
		"--http.listen", "0.0.0.0:6969", "--udp.listen", "0.0.0.0:6969",
		"--mdns.responder", "--mdns.name", name))
	waitForAnnounce(t, p.lines, p.exited, p.stderr)

	t.Run("go resolver", func(t *testing.T) {
		host, found := link.goResolve(t, name)
		if !slices.Contains(host, link.boxAddr) {
			t.Errorf("%s.local resolved to %v, want %v", name, host, link.boxAddr)
		}
		if want := link.wantFound(name); fmt.Sprint(found) != fmt.Sprint(want) {
			t.Errorf("browsing _http._tcp found %+v, want %+v", found, want)
		}
	})
	t.Run("avahi-browse and avahi-resolve", func(t *testing.T) {
		needAvahi(t)
		out := link.withAvahi(t, link.client, link.clientIf, "swl-client", t.TempDir(),
			"avahi-browse -rtp _http._tcp && avahi-resolve -4 -n "+name+".local")
		link.checkAvahiSaw(t, out, name)
	})

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.exited:
		if err != nil {
			t.Fatalf("after SIGTERM: %v; stderr:\n%s", err, p.stderr)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("still running 5 s after SIGTERM; stderr:\n%s", p.stderr)
	}
	if !strings.Contains(p.stderr.String(), "name="+name+".local") {
		t.Errorf("the log does not say the responder answered for %s.local:\n%s", name, p.stderr)
	}
}

// TestAvahiServiceFile: configs/swarmlight.avahi-service, which the package
// installs as /etc/avahi/services/swarmlight.service, says what the issue asks
// (the status page as _http._tcp on the default HTTP port, the host's name,
// path=/ and the announce path), and avahi-daemon, given it in one namespace,
// advertises it to the other: found by the Go resolver and by avahi-browse.
func TestAvahiServiceFile(t *testing.T) {
	raw, err := os.ReadFile("../../configs/swarmlight.avahi-service")
	if err != nil {
		t.Fatal(err)
	}
	var sg struct {
		Name struct {
			Text     string `xml:",chardata"`
			Wildcard string `xml:"replace-wildcards,attr"`
		} `xml:"name"`
		Service []struct {
			Type string   `xml:"type"`
			Port int      `xml:"port"`
			TXT  []string `xml:"txt-record"`
		} `xml:"service"`
	}
	if err := xml.Unmarshal(raw, &sg); err != nil {
		t.Fatalf("configs/swarmlight.avahi-service: %v", err)
	}
	if sg.Name.Text != "swarmlight on %h" || sg.Name.Wildcard != "yes" {
		t.Errorf("name %q (replace-wildcards=%q), want \"swarmlight on %%h\" with the host name put in", sg.Name.Text, sg.Name.Wildcard)
	}
	defaultPort := portOfListen(t, config.Default().HTTP.Listen[0])
	if len(sg.Service) != 1 || sg.Service[0].Type != "_http._tcp" || sg.Service[0].Port != defaultPort ||
		!slices.Equal(sg.Service[0].TXT, []string{"path=/", "announce=/announce"}) {
		t.Errorf("services %+v, want one _http._tcp on port %d with path=/ and announce=/announce", sg.Service, defaultPort)
	}

	t.Run("advertised by avahi-daemon", func(t *testing.T) {
		link := newMDNSLink(t)
		needAvahi(t)
		services := t.TempDir()
		if err := os.WriteFile(filepath.Join(services, "swarmlight.service"), raw, 0o644); err != nil {
			t.Fatal(err)
		}
		const name = "swl-avahi-box"
		box := exec.Command("ip", "netns", "exec", link.box, "unshare", "-m",
			link.avahiScript(t), t.TempDir(), name, "mb0", services, "sleep 20")
		var boxOut strings.Builder
		box.Stdout, box.Stderr = &boxOut, &boxOut
		// The daemons hold the output open after the script is killed.
		box.WaitDelay = time.Second
		if err := box.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { killIn(link.box); box.Wait() }()
		host, found := link.goResolve(t, name)
		if !slices.Contains(host, link.boxAddr) {
			t.Errorf("%s.local resolved to %v, want %v; avahi:\n%s", name, host, link.boxAddr, &boxOut)
		}
		want := link.wantFound(name)
		slices.Sort(found.TXT)
		slices.Sort(want.TXT)
		if fmt.Sprint(found) != fmt.Sprint(want) {
			t.Errorf("browsing _http._tcp found %+v, want %+v", found, want)
		}
		out := link.withAvahi(t, link.client, link.clientIf, "swl-client", t.TempDir(),
			"avahi-browse -rtp _http._tcp && avahi-resolve -4 -n "+name+".local")
		link.checkAvahiSaw(t, out, name)
	})
}

func portOfListen(t *testing.T, hostPort string) int {
	t.Helper()
	_, port, err := net.SplitHostPort(hostPort)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if _, err := fmt.Sscan(port, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// goResolve resolves name.local and browses _http._tcp from the client's
// namespace, with the Go resolver.
func (l *mdnsLink) goResolve(t *testing.T, name string) (host []netip.Addr, found mdnstest.Found) {
	t.Helper()
	l.inClient(t, func() error {
		ifc, err := net.InterfaceByName(l.clientIf)
		if err != nil {
			return err
		}
		r, err := mdnstest.Open(ifc)
		if err != nil {
			return err
		}
		defer r.Close()
		if host, err = r.ResolveHost(name, 5*time.Second); err != nil {
			return err
		}
		found, err = r.Browse("_http._tcp", 5*time.Second)
		return err
	})
	return host, found
}

func (l *mdnsLink) wantFound(name string) mdnstest.Found {
	return mdnstest.Found{Instance: "swarmlight on " + name, Host: name + ".local.", Port: 6969,
		TXT: []string{"path=/", "announce=/announce"}, Addrs: []netip.Addr{l.boxAddr}}
}

// checkAvahiSaw checks the output of avahi-browse -rtp _http._tcp and
// avahi-resolve -4 -n name.local for the box's service and address.
func (l *mdnsLink) checkAvahiSaw(t *testing.T, out, name string) {
	t.Helper()
	// =;IFACE;IPv4;NAME;TYPE;DOMAIN;HOST;ADDRESS;PORT;TXT, the name with
	// avahi's escapes.
	var resolved []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Split(line, ";"); len(f) == 10 && f[0] == "=" {
			resolved = f
		}
	}
	switch {
	case resolved == nil:
		t.Errorf("avahi-browse resolved no _http._tcp service:\n%s", out)
	case resolved[3] != `swarmlight\032on\032`+name || resolved[6] != name+".local" ||
		resolved[7] != l.boxAddr.String() || resolved[8] != "6969" ||
		!strings.Contains(resolved[9], `"path=/"`) || !strings.Contains(resolved[9], `"announce=/announce"`):
		t.Errorf("avahi-browse resolved %q, want swarmlight on %s at %s.local, %v, port 6969, path=/ and announce=/announce:\n%s",
			resolved, name, name, l.boxAddr, out)
	}
	if !strings.Contains(out, name+".local\t"+l.boxAddr.String()+"\n") {
		t.Errorf("avahi-resolve did not resolve %s.local to %v:\n%s", name, l.boxAddr, out)
	}
}

// mdnsLink is two network namespaces, the box's and a client's, joined by a
// veth pair: a LAN of two hosts, whose multicast reaches no one else.
type mdnsLink struct {
	box, client string // namespace names
	clientIf    string
	boxAddr     netip.Addr
}

// newMDNSLink makes the link and removes it when the test ends. It needs root
// and iproute2; without them it skips, except under CI=true.
func newMDNSLink(t *testing.T) *mdnsLink {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, "needs root to make network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		skipOrFail(t, "ip not found (apt-get install iproute2)")
	}
	// Unique per test process; an interface name has at most 15 bytes.
	id := os.Getpid() % 1_000_000
	l := &mdnsLink{
		box: fmt.Sprintf("swl-mb-%d", id), client: fmt.Sprintf("swl-mc-%d", id),
		clientIf: "mc0", boxAddr: netip.MustParseAddr("10.253.53.1"),
	}
	if out, err := exec.Command("ip", "netns", "add", l.box).CombinedOutput(); err != nil {
		skipOrFail(t, fmt.Sprintf("cannot make a network namespace: %v: %s", err, out))
	}
	t.Cleanup(func() { killIn(l.box); _ = exec.Command("ip", "netns", "del", l.box).Run() })
	if out, err := exec.Command("ip", "netns", "add", l.client).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { killIn(l.client); _ = exec.Command("ip", "netns", "del", l.client).Run() })
	// A default route through the link in each: where a socket that joins the
	// group without naming an interface, as the responder's does, joins it.
	for _, cmd := range [][]string{
		{"ip", "link", "add", "mb0", "netns", l.box, "type", "veth", "peer", "name", l.clientIf, "netns", l.client},
		{"ip", "-n", l.box, "addr", "add", l.boxAddr.String() + "/24", "dev", "mb0"},
		{"ip", "-n", l.client, "addr", "add", "10.253.53.2/24", "dev", l.clientIf},
		{"ip", "-n", l.box, "link", "set", "lo", "up"},
		{"ip", "-n", l.box, "link", "set", "mb0", "up"},
		{"ip", "-n", l.client, "link", "set", l.clientIf, "up"},
		{"ip", "-n", l.box, "route", "add", "default", "dev", "mb0"},
		{"ip", "-n", l.client, "route", "add", "default", "dev", l.clientIf},
	} {
		if out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", strings.Join(cmd, " "), err, out)
		}
	}
	return l
}

// inClient runs fn on a thread inside the client's namespace, so that the
// sockets fn opens are the client host's. The thread stays locked, and so is
// discarded when fn returns rather than going back to serve the rest.
func (l *mdnsLink) inClient(t *testing.T, fn func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open("/run/netns/" + l.client)
		if err != nil {
			done <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- fmt.Errorf("setns: %w", err)
			return
		}
		done <- fn()
	}()
	if err := <-done; err != nil {
		t.Fatalf("in namespace %s: %v", l.client, err)
	}
}

// killIn kills what is left in one of the test's namespaces (an avahi-daemon
// or bus of a run cut short): every process there is the test's. The test
// process itself may be counted in the client's, when the thread that entered
// it was the main one.
func killIn(ns string) {
	out, _ := exec.Command("ip", "netns", "pids", ns).Output()
	for _, f := range strings.Fields(string(out)) {
		var pid int
		if _, err := fmt.Sscan(f, &pid); err == nil && pid > 1 && pid != os.Getpid() {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// needAvahi makes sure avahi-daemon, avahi-browse, avahi-resolve, dbus-daemon
// and unshare are here, installing the Debian packages as root; without them
// it skips, except under CI=true.
func needAvahi(t *testing.T) {
	t.Helper()
	tools := map[string]string{"avahi-daemon": "avahi-daemon", "avahi-browse": "avahi-utils",
		"avahi-resolve": "avahi-utils", "dbus-daemon": "dbus-daemon", "unshare": "util-linux", "mount": "mount"}
	var missing []string
	for tool, pkg := range tools {
		if _, err := exec.LookPath(tool); err != nil && !slices.Contains(missing, pkg) {
			missing = append(missing, pkg)
		}
	}
	if len(missing) == 0 {
		return
	}
	if _, err := exec.LookPath("apt-get"); err == nil && os.Geteuid() == 0 {
		t.Logf("installing %s", strings.Join(missing, " "))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		install := func() error {
			cmd := exec.CommandContext(ctx, "apt-get", append([]string{"install", "-y", "--no-install-recommends"}, missing...)...)
			cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
			return cmd.Run()
		}
		if install() != nil {
			_ = exec.CommandContext(ctx, "apt-get", "update").Run()
			_ = install()
		}
	}
	for tool, pkg := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			skipOrFail(t, fmt.Sprintf("%s is missing (apt-get install %s)", tool, pkg))
		}
	}
}

// avahiScript writes the script that runs avahi-daemon inside a namespace:
// run in a mount namespace of its own (unshare -m), it gives avahi-daemon a
// private /run, a private system bus, SERVICES as /etc/avahi/services, and
// HOST as its name on IFACE only, runs COMMAND once it is up, and stops both
// daemons. Usage: SCRIPT DIR HOST IFACE SERVICES COMMAND.
func (l *mdnsLink) avahiScript(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "avahi-in-ns.sh")
	if err := os.WriteFile(path, []byte(avahiScript), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// The script refuses to run anywhere but in a mount namespace other than
// PID 1's: it mounts over /run.
const avahiScript = `#!/bin/sh
set -eu
dir=$1 host=$2 iface=$3 services=$4 command=$5
[ "$(readlink /proc/self/ns/mnt)" != "$(readlink /proc/1/ns/mnt)" ] || { echo "not in a mount namespace of its own" >&2; exit 1; }
mount -t tmpfs tmpfs /run
mkdir -p /run/avahi-daemon /run/dbus
mount --bind "$services" /etc/avahi/services
cat >"$dir/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=/run/dbus/system_bus_socket</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/><allow own="*"/><allow send_destination="*"/><allow receive_sender="*"/>
  </policy>
</busconfig>
EOF
cat >"$dir/avahi.conf" <<EOF
[server]
host-name=$host
use-ipv4=yes
use-ipv6=no
allow-interfaces=$iface
[publish]
publish-aaaa-on-ipv4=no
publish-workstation=no
publish-hinfo=no
[wide-area]
enable-wide-area=no
EOF
dbus-daemon --config-file="$dir/bus.conf" --nofork --nopidfile &
bus=$!
for i in $(seq 50); do [ -S /run/dbus/system_bus_socket ] && break; sleep 0.1; done
avahi-daemon --no-drop-root --no-chroot --no-rlimits -f "$dir/avahi.conf" >"$dir/avahi.log" 2>&1 &
avahi=$!
trap 'kill $avahi $bus 2>/dev/null || true; wait; cat "$dir/avahi.log" >&2' EXIT
# Up once it has claimed its name: a browse begun before is answered with
# "all for now" too soon.
for i in $(seq 100); do grep -q 'Server startup complete' "$dir/avahi.log" && break; sleep 0.1; done
sh -c "$command"
`

// withAvahi runs avahi-daemon as host on iface in namespace ns, with the
// services in services, runs command there once it is up, and returns what
// the command printed. Bounded: 20 s.
func (l *mdnsLink) withAvahi(t *testing.T, ns, iface, host, services, command string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, "unshare", "-m",
		l.avahiScript(t), t.TempDir(), host, iface, services, command)
	// Cut short, the script cannot stop the daemons, which hold the output
	// open: killIn stops them when the namespace goes.
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("avahi in %s: %v:\n%s", ns, err, out)
	}
	return string(out)
}
