#!/usr/bin/env bash
# Tests of everything that takes swarmlight from source to a running box:
#   unit      configs/swarmlight.service passes systemd-analyze verify (against
#             a real binary) and keeps the settings the appliance depends on;
#             the tracker, serving, reloading and stopping, makes no syscall its
#             SystemCallFilter= would refuse (strace)
#   deb       scripts/build-deb: metadata, contents, modes, conffiles, a
#             byte-identical rebuild, check-config of the extracted package; then
#             install, upgrade (a local edit to the conffile survives), remove
#             and purge with dpkg in a throwaway overlay of this system (root)
#   udev      60-swarmlight.rules hands the LEDs to group gpio, and udevadm
#             reads it without a complaint
#   image     scripts/flash-image on synthetic Raspberry Pi OS images (MBR, FAT32
#             boot, ext4 root): every file, mode, owner and the enable symlink,
#             config.txt edited once with its line endings, e2fsck clean, run
#             twice, .img.xz input, 32- and 64-bit, the installed ARM binary
#             accepting the installed config (qemu), and clear refusals
#   install   scripts/install: the dry run prints every step and runs no ssh or
#             scp; the architecture rule, against a stand-in ssh; what it runs
#             as root on the Pi (scripts/packaging/pi-install.sh), for real in an
#             overlay root: first install, upgrade, a configuration refused
#   lint      shellcheck on the scripts above and the maintainer scripts
#
# Missing Debian tools are installed with apt-get when we are root. A tool that
# cannot be had is a SKIP, except under CI=true, where it is a failure.
# Ends with "package: N passed, M failed"; exits non-zero on any failure.
# PACKAGE_KEEP=1 keeps the scratch directory.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
GO=${GO:-go}
export MTOOLS_SKIP_CHECK=1

[ -n "${EPOCHREALTIME:-}" ] || { echo "package: needs bash 5 (EPOCHREALTIME)" >&2; exit 1; }
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
t_start=$(now_us)

work=$(mktemp -d "${TMPDIR:-/tmp}/swarmlight-package.XXXXXX")
cleanup() {
	if [ "${PACKAGE_KEEP:-}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

passed=0 failed=0

# ---------------------------------------------------------------------------
# Tools. Installed in one apt-get run, and only what is missing.

declare -A package_of=(
	[dpkg-deb]=dpkg [systemd-analyze]=systemd [fakeroot]=fakeroot
	[mke2fs]=e2fsprogs [debugfs]=e2fsprogs [e2fsck]=e2fsprogs
	[mcopy]=mtools [mtype]=mtools [mkfs.vfat]=dosfstools [sfdisk]=fdisk
	[xz]=xz-utils [shellcheck]=shellcheck [strace]=strace
	[qemu-arm-static]=qemu-user-static [unshare]=util-linux
)
missing=()
for cmd in "${!package_of[@]}"; do
	command -v "$cmd" >/dev/null 2>&1 || missing+=("${package_of[$cmd]}")
done
if [ "${#missing[@]}" -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
	echo "installing ${missing[*]}"
	# systemd is among them only for systemd-analyze: installing it in a
	# container starts nothing. The lock timeout: another apt may be running.
	apt_install() {
		DEBIAN_FRONTEND=noninteractive timeout 300 apt-get -o DPkg::Lock::Timeout=120 \
			install -y --no-install-recommends "${missing[@]}"
	}
	{ apt_install || { timeout 300 apt-get update && apt_install; }; } >"$work/apt.log" 2>&1 ||
		echo "apt-get failed; what is still missing is skipped (see below)"
fi

# have CMD: is the tool here? Say which package has it when it is not.
have() {
	command -v "$1" >/dev/null 2>&1 && return 0
	unavailable "$1 is missing (apt-get install ${package_of[$1]:-$1})"
}
# unavailable REASON: inside a test, this machine cannot run (part of) it: a
# SKIP, or under CI=true a failure.
unavailable() {
	if [ "${CI:-}" = true ]; then
		echo "FAIL: $* (CI=true makes this a failure)"
		exit 1
	fi
	echo "SKIP: $*"
	exit 77
}
# fail MESSAGE: the test fails.
fail() {
	echo "FAIL: $*"
	exit 1
}

# run_test NAME FUNCTION: run FUNCTION in a subshell under set -e, its output in
# a log. Lines starting "info:" are shown on success; the end of the log on
# failure.
run_test() {
	local name=$1 fn=$2 t rc log="$work/log.$2"
	t=$(now_us)
	set +e
	(
		set -e
		"$fn"
	) >"$log" 2>&1
	rc=$?
	set -e
	case $rc in
	0)
		passed=$((passed + 1))
		printf 'ok    %-48s %s\n' "$name" "$(since "$t")"
		sed -n 's/^info: /      /p' "$log"
		;;
	77)
		printf 'SKIP: %s: %s\n' "$name" "$(sed -n 's/^SKIP: //p' "$log" | tail -n1)"
		;;
	*)
		failed=$((failed + 1))
		printf 'FAIL  %-48s %s\n' "$name" "$(since "$t")"
		tail -n 25 "$log" | sed 's/^/      | /'
		;;
	esac
}

# ---------------------------------------------------------------------------
# The binaries: this machine's (amd64 on a PC) for everything that runs here,
# ARMv6 and arm64 to go into images. Built the way `make cross` builds them.

# The tests run the amd64 binary here; elsewhere than x86-64 they cannot.
if [ "$(uname -m)" != x86_64 ]; then
	[ "${CI:-}" != true ] || { echo "FAIL: these tests run the amd64 binary; this is $(uname -m)"; exit 1; }
	echo "SKIP: these tests run the amd64 binary; this is $(uname -m)"
	echo "package: 0 passed, 0 failed"
	exit 0
fi

t=$(now_us)
version=$(git describe --tags --always --dirty 2>/dev/null || echo dev)
mkdir -p "$work/dist"
build_one() {
	local name=$1
	shift
	env "$@" CGO_ENABLED=0 GOOS=linux "$GO" build -trimpath -ldflags "-s -w -X main.version=$version" \
		-o "$work/dist/swarmlight-linux-$name" ./cmd/swarmlight
}
pids=()
build_one amd64 GOARCH=amd64 & pids+=($!)
build_one armv6 GOARCH=arm GOARM=6 & pids+=($!)
build_one arm64 GOARCH=arm64 & pids+=($!)
build_ok=yes
for pid in "${pids[@]}"; do wait "$pid" || build_ok=no; done
if [ "$build_ok" != yes ]; then
	echo "FAIL  building the binaries"
	echo "package: $passed passed, $((failed + 1)) failed"
	exit 1
fi
printf 'built amd64, armv6 and arm64 binaries (%s)\n' "$(since "$t")"
bin_amd64=$work/dist/swarmlight-linux-amd64
bin_armv6=$work/dist/swarmlight-linux-armv6
bin_arm64=$work/dist/swarmlight-linux-arm64

# ===========================================================================
# unit

test_unit_verify() {
	have systemd-analyze
	local u=$work/unit
	mkdir -p "$u"
	# verify checks that ExecStart's binary exists and is executable: point it
	# at a real one.
	sed "s#^ExecStart=/usr/bin/swarmlight #ExecStart=$bin_amd64 #" configs/swarmlight.service >"$u/swarmlight.service"
	grep -q "^ExecStart=$bin_amd64 serve --config /etc/swarmlight/swarmlight.yaml$" "$u/swarmlight.service" ||
		fail "ExecStart is not /usr/bin/swarmlight serve --config /etc/swarmlight/swarmlight.yaml"
	# verify exits 0 even for an unknown key; any message at all is a failure.
	systemd-analyze verify "$u/swarmlight.service" >"$u/out" 2>&1 || { cat "$u/out"; fail "systemd-analyze verify failed"; }
	[ ! -s "$u/out" ] || { cat "$u/out"; fail "systemd-analyze verify complained"; }
	# ... and it does complain about a broken copy: the check is real.
	sed 's/^WatchdogSec=/WatchdgSec=/' "$u/swarmlight.service" >"$u/broken.service"
	systemd-analyze verify "$u/broken.service" >"$u/out" 2>&1 || true
	grep -q "Unknown key 'WatchdgSec'" "$u/out" || fail "systemd-analyze verify did not notice an unknown key"

	# The settings the appliance relies on, and none that would break it.
	local line
	# shellcheck disable=SC2016 # $MAINPID is for systemd, literally
	for line in 'Type=notify' 'NotifyAccess=main' 'WatchdogSec=30s' \
		'ExecReload=/bin/kill -HUP $MAINPID' 'Restart=always' 'RestartPreventExitStatus=78' \
		'DynamicUser=yes' 'SupplementaryGroups=gpio i2c' 'AmbientCapabilities=CAP_NET_BIND_SERVICE' \
		'CapabilityBoundingSet=CAP_NET_BIND_SERVICE' 'ProtectSystem=strict' 'ProtectHome=yes' \
		'NoNewPrivileges=yes' 'PrivateTmp=yes' 'DevicePolicy=closed' 'DeviceAllow=char-i2c rw' \
		'DeviceAllow=char-gpiochip rw' 'MemoryMax=60%' 'Environment=GOMEMLIMIT=64MiB' \
		'WantedBy=multi-user.target'; do
		grep -qxF "$line" configs/swarmlight.service || fail "the unit lacks $line"
	done
	local bad
	for bad in PrivateDevices ProtectKernelTunables ProcSubset PrivateUsers; do
		! grep -q "^$bad=" configs/swarmlight.service ||
			fail "the unit sets $bad=, which hides the panel's devices or /sys/class/leds"
	done
	echo "info: $(systemd-analyze security --offline=yes "$u/swarmlight.service" 2>/dev/null | grep -o 'Overall exposure level.*' || echo 'security: n/a')"
}

# expand_syscalls NAME...: syscall names and @groups, groups expanded.
expand_syscalls() {
	local -a todo=("$@")
	local seen=" " g s
	while [ "${#todo[@]}" -gt 0 ]; do
		g=${todo[0]}
		todo=("${todo[@]:1}")
		[[ $seen == *" $g "* ]] && continue
		seen+="$g "
		if [[ $g != @* ]]; then
			echo "$g"
			continue
		fi
		while read -r s; do
			case $s in
			'#'* | '') ;;
			@*) todo+=("$s") ;;
			*) echo "$s" ;;
			esac
		done < <(systemd-analyze syscall-filter "$g" </dev/null | sed 1d)
	done | sort -u
}

test_unit_syscalls() {
	have systemd-analyze
	have strace
	local d=$work/strace
	mkdir -p "$d"
	# What the unit's SystemCallFilter= lines allow and ("~") deny.
	local allow=() deny=() line words
	while read -r line; do
		if [[ $line == '~'* ]]; then
			read -ra words <<<"${line#\~}"
			deny+=("${words[@]}")
		else
			read -ra words <<<"$line"
			allow+=("${words[@]}")
		fi
	done < <(sed -n 's/^SystemCallFilter=//p' configs/swarmlight.service)
	[ "${#allow[@]}" -gt 0 ] || fail "the unit has no SystemCallFilter= allow list"
	expand_syscalls "${allow[@]}" >"$d/allow"
	expand_syscalls "${deny[@]}" >"$d/deny"
	[ -s "$d/allow" ] || fail "could not expand ${allow[*]} with systemd-analyze"

	# The tracker as systemd runs it (notify socket, watchdog), serving one
	# HTTP announce and one UDP connect, then SIGHUP (reload) and SIGTERM.
	strace -f -qq -o "$d/trace" env NOTIFY_SOCKET="$d/notify" WATCHDOG_USEC=200000 GOMEMLIMIT=64MiB \
		"$bin_amd64" serve --config configs/swarmlight.yaml --http.listen 127.0.0.1:0 \
		--udp.listen 127.0.0.1:0 --panel.mode sim 2>"$d/log" &
	local pid=$! port="" i
	for ((i = 0; i < 100; i++)); do
		port=$(sed -n 's/.*proto=http addr=127.0.0.1:\([0-9]*\).*/\1/p' "$d/log" | head -n1)
		[ -n "$port" ] && break
		sleep 0.05
	done
	[ -n "$port" ] || { kill "$pid"; cat "$d/log"; fail "the tracker did not start"; }
	local uport
	uport=$(sed -n 's/.*proto=udp addr=127.0.0.1:\([0-9]*\).*/\1/p' "$d/log" | head -n1)
	exec 3<>"/dev/tcp/127.0.0.1/$port"
	printf 'GET /announce?info_hash=aaaaaaaaaaaaaaaaaaaa&peer_id=-XX0001-000000000001&port=6881&left=0 HTTP/1.0\r\n\r\n' >&3
	timeout 5 cat <&3 >"$d/reply" || true
	exec 3<&-
	grep -q '8:intervali' "$d/reply" || fail "no announce reply over HTTP"
	# BEP 15 connect: protocol id, action 0, transaction id.
	printf '\x00\x00\x04\x17\x27\x10\x19\x80\x00\x00\x00\x00\x12\x34\x56\x78' >"/dev/udp/127.0.0.1/$uport"
	sleep 0.5 # and let a few watchdog pings go out
	# The tracker is strace's only child (env execs it).
	local tracker
	tracker=$(pgrep -P "$pid") || fail "no tracker process under strace"
	kill -HUP "$tracker"
	sleep 0.3
	kill -TERM "$tracker"
	wait "$pid" || true

	sed -E 's/^[0-9]+ +//; s/^<\.\.\. ([a-z0-9_]+) resumed>.*/\1(/' "$d/trace" |
		sed -n 's/^\([a-z0-9_]*\)(.*/\1/p' | sort -u >"$d/used"
	local refused
	refused=$({
		comm -23 "$d/used" "$d/allow"
		comm -12 "$d/used" "$d/deny"
	} | sort -u | grep -vx execve | tr '\n' ' ') || true
	[ -z "$refused" ] || fail "syscalls outside SystemCallFilter=: $refused"
	echo "info: $(wc -l <"$d/used") distinct syscalls, all allowed by SystemCallFilter=${allow[*]} ~${deny[*]}"
}

# ===========================================================================
# deb

deb_version() { dpkg-deb -f "$1" Version; }

test_deb_build() {
	have dpkg-deb
	local d=$work/deb out1 out2
	mkdir -p "$d/a" "$d/b"
	cp "$bin_amd64" "$d/a/"
	cp "$bin_amd64" "$d/b/"
	DIST=$d/a scripts/build-deb amd64 >"$d/build.out"
	cat "$d/build.out"
	out1=$(ls "$d"/a/swarmlight_*_amd64.deb)
	local v
	v=$(deb_version "$out1")
	[ "$out1" = "$d/a/swarmlight_${v}_amd64.deb" ] || fail "package file name $out1 does not match its version $v"
	dpkg --validate-version "$v" || fail "'$v' is not a valid Debian version"
	echo "info: $(basename "$out1"): $(stat -c %s "$out1") bytes"

	# Metadata.
	local field want
	for field in Package:swarmlight Architecture:amd64 Section:net Priority:optional Depends:adduser; do
		want=${field#*:}
		[ "$(dpkg-deb -f "$out1" "${field%%:*}")" = "$want" ] || fail "${field%%:*} is not $want"
	done
	[ -n "$(dpkg-deb -f "$out1" Maintainer)" ] || fail "no Maintainer"
	dpkg-deb -f "$out1" Description | grep -q 'BitTorrent tracker' || fail "no Description"
	[ "$(dpkg-deb -f "$out1" Installed-Size)" -gt 1000 ] || fail "Installed-Size is wrong"
	dpkg-deb -I "$out1" >"$d/info"
	for want in conffiles postinst prerm postrm md5sums; do
		grep -q " $want " "$d/info" || fail "the control archive has no $want"
	done
	[ "$(dpkg-deb --info "$out1" conffiles)" = /etc/swarmlight/swarmlight.yaml ] || fail "conffiles is not the config file"
	dpkg-deb --ctrl-tarfile "$out1" | tar -tv >"$d/ctrl"
	for want in postinst prerm postrm; do
		grep -Eq "^-rwxr-xr-x root/root .* \./$want$" "$d/ctrl" || fail "$want is not 0755 root:root"
	done

	# Contents: path, mode and owner of each file, and nothing unexpected.
	dpkg-deb -c "$out1" | awk '{ print $1, $2, $6 }' >"$d/contents"
	local entry
	for entry in \
		'-rwxr-xr-x root/root ./usr/bin/swarmlight' \
		'-rw-r--r-- root/root ./etc/swarmlight/swarmlight.yaml' \
		'-rw-r--r-- root/root ./lib/systemd/system/swarmlight.service' \
		'-rw-r--r-- root/root ./lib/udev/rules.d/60-swarmlight.rules' \
		'-rw-r--r-- root/root ./usr/lib/modules-load.d/swarmlight.conf' \
		'-rw-r--r-- root/root ./usr/share/doc/swarmlight/changelog.gz'; do
		grep -qxF -- "$entry" "$d/contents" || fail "the package lacks: $entry"
	done
	! grep -v '^d' "$d/contents" | grep -v '^-' || fail "unexpected entries (not files or directories)"
	! grep -v ' root/root ' "$d/contents" || fail "files not owned by root:root"
	# Every file carries the commit's time.
	[ "$(dpkg-deb --fsys-tarfile "$out1" | tar -tv --full-time | awk '{ print $4, $5 }' | sort -u | wc -l)" = 1 ] ||
		fail "files carry different mtimes"

	# Reproducible: a second build, later and elsewhere, is the same bytes.
	sleep 1
	DIST=$d/b scripts/build-deb amd64 >/dev/null
	out2=$(ls "$d"/b/swarmlight_*_amd64.deb)
	cmp -s "$out1" "$out2" || fail "two builds of the same commit differ"
	echo "info: rebuilt: byte-identical ($(sha256sum "$out1" | cut -c1-16)...)"

	# Extracted, the binary accepts the configuration it ships with.
	dpkg -x "$out1" "$d/root"
	cmp -s "$d/root/usr/bin/swarmlight" "$bin_amd64" || fail "the packaged binary is not the built one"
	for entry in swarmlight.service:lib/systemd/system/swarmlight.service \
		60-swarmlight.rules:lib/udev/rules.d/60-swarmlight.rules \
		modules-load.conf:usr/lib/modules-load.d/swarmlight.conf swarmlight.yaml:etc/swarmlight/swarmlight.yaml; do
		cmp -s "configs/${entry%%:*}" "$d/root/${entry#*:}" || fail "/${entry#*:} differs from configs/${entry%%:*}"
	done
	"$d/root/usr/bin/swarmlight" check-config --config "$d/root/etc/swarmlight/swarmlight.yaml" \
		--http.listen 127.0.0.1:0 --udp.listen 127.0.0.1:0 >"$d/check" 2>&1 ||
		{ cat "$d/check"; fail "check-config rejects the packaged configuration"; }

	if command -v lintian >/dev/null 2>&1; then
		# Informational: reported, never a failure (no-copyright-file is known).
		# Its own TMPDIR: lintian leaves temporary files behind.
		mkdir -p "$d/lintian"
		TMPDIR=$d/lintian lintian --tag-display-limit 0 "$out1" 2>/dev/null | sed 's/^/info: lintian: /' || true
	else
		echo "info: lintian not installed; not run"
	fi
}

# in_overlay DIR SHARED SCRIPT ARG...: run sh SHARED/SCRIPT ARG... as root,
# chrooted into an overlay of / in a private mount namespace. Every change lands
# in a tmpfs (also where / is itself an overlay, as in a container) and vanishes
# with the namespace: this system is left untouched. lowerdir=/ is the root file
# system alone, without what is mounted on it; /run is a fresh tmpfs: the
# scripts see no running systemd or udev. SHARED is /shared inside.
in_overlay() {
	local d=$1 shared=$2
	shift 2
	mkdir -p "$d/rw" "$d/root"
	# shellcheck disable=SC2016 # the inner script expands its own arguments
	unshare --mount --propagation private sh -c '
		set -e
		d=$1 shared=$2 script=$3
		shift 3
		mount -t tmpfs tmpfs "$d/rw"
		mkdir "$d/rw/upper" "$d/rw/work"
		mount -t overlay overlay -o "lowerdir=/,upperdir=$d/rw/upper,workdir=$d/rw/work" "$d/root"
		mount -t proc proc "$d/root/proc"
		mount --rbind /dev "$d/root/dev"
		mount -t tmpfs tmpfs "$d/root/run"
		mkdir -p "$d/root/shared"
		mount --bind "$shared" "$d/root/shared"
		exec chroot "$d/root" sh "/shared/$script" "$@"
	' sh "$d" "$shared" "$@"
}

# overlay_test WHAT DIR SHARED SCRIPT ARGS...: runs SCRIPT in an overlay root (see
# in_overlay) and requires it to end by printing "ok". A run that never got inside
# means this machine cannot make the overlay: unavailable, not a failure.
overlay_test() {
	local what=$1 d=$2
	shift 2
	in_overlay "$d" "$@" >"$d/out" 2>&1 || {
		cat "$d/out"
		grep -qx inside "$d/out" || unavailable "no overlay root here: $(tail -n1 "$d/out")"
		fail "$what"
	}
	grep -qx ok "$d/out" || { cat "$d/out"; fail "the $what test did not finish"; }
}

# dpkg installs for real, in an overlay root.
test_deb_dpkg() {
	[ "$(id -u)" = 0 ] || unavailable "installing with dpkg in an overlay root needs root"
	have unshare
	have dpkg-deb
	local d=$work/dpkg deb1 v1 v2
	deb1=$(ls "$work"/deb/a/swarmlight_*_amd64.deb 2>/dev/null) || fail "no package (the build test failed)"
	mkdir -p "$d/pkgs" "$d/x"
	cp "$deb1" "$d/pkgs/"
	# An upgrade: the same package with a higher version (repacked, quickly).
	v1=$(deb_version "$deb1")
	v2="$v1+1"
	dpkg-deb -R "$deb1" "$d/x"
	sed -i "s/^Version: .*/Version: $v2/" "$d/x/DEBIAN/control"
	dpkg-deb --root-owner-group -Zgzip -z1 -b "$d/x" "$d/pkgs/new.deb" >/dev/null

	cat >"$d/pkgs/inside.sh" <<-'EOF'
		set -eu
		fail() { echo "FAIL: $*"; exit 1; }
		pkgs=/shared v1=$1 v2=$2
		link=/etc/systemd/system/multi-user.target.wants/swarmlight.service
		export DEBIAN_FRONTEND=noninteractive
		echo inside
		# postinst must create the groups: start without them.
		for group in gpio i2c; do
			if getent group "$group" >/dev/null; then delgroup --quiet "$group"; fi
		done

		dpkg -i "$pkgs"/swarmlight_*.deb </dev/null >/dev/null
		[ "$(dpkg-query -W -f '${Status} ${Version}' swarmlight)" = "install ok installed $v1" ] || fail "not installed"
		getent group gpio >/dev/null && getent group i2c >/dev/null || fail "postinst did not create the groups"
		[ "$(readlink "$link")" = /lib/systemd/system/swarmlight.service ] || fail "postinst did not enable the unit"
		[ -z "$(dpkg --verify swarmlight)" ] || fail "dpkg --verify: $(dpkg --verify swarmlight)"
		/usr/bin/swarmlight check-config --http.listen 127.0.0.1:0 --udp.listen 127.0.0.1:0 >/dev/null ||
			fail "the installed binary rejects /etc/swarmlight/swarmlight.yaml"

		# The admin edits the conffile; the upgrade must keep the edit.
		sed -i 's/^  level: info$/  level: debug/' /etc/swarmlight/swarmlight.yaml
		dpkg -i --force-confold "$pkgs/new.deb" </dev/null >/dev/null
		[ "$(dpkg-query -W -f '${Version}' swarmlight)" = "$v2" ] || fail "not upgraded"
		grep -q '^  level: debug$' /etc/swarmlight/swarmlight.yaml || fail "the upgrade lost the edit to the conffile"
		[ "$(readlink "$link")" = /lib/systemd/system/swarmlight.service ] || fail "the upgrade disabled the unit"

		dpkg -r swarmlight </dev/null >/dev/null
		[ ! -e /usr/bin/swarmlight ] || fail "remove left the binary"
		[ -e /etc/swarmlight/swarmlight.yaml ] || fail "remove (not purge) deleted the configuration"
		dpkg -P swarmlight </dev/null >/dev/null
		[ ! -e /etc/swarmlight ] || fail "purge left /etc/swarmlight"
		[ ! -L "$link" ] || fail "purge left the enable symlink"
		[ -z "$(dpkg-query -W -f '${Status}' swarmlight 2>/dev/null)" ] ||
			[ "$(dpkg-query -W -f '${Status}' swarmlight)" = "unknown ok not-installed" ] || fail "purge left dpkg state"
		echo ok
	EOF

	overlay_test "dpkg install/upgrade/remove/purge" "$d" "$d/pkgs" inside.sh "$v1" "$v2"
	echo "info: installed $v1, upgraded to $v2 (conffile edit kept), removed, purged"
}

# ===========================================================================
# udev

# udev ignores a line it cannot parse, and the LEDs would then stay root's: have
# udevadm itself read the rule, in a private mount namespace (its own /run, an
# /etc/group with gpio and i2c) so that nothing on this machine changes.
test_udev_rule() {
	[ "$(id -u)" = 0 ] || unavailable "udevadm test in a private mount namespace needs root"
	have unshare
	local d=$work/udev udevadm
	mkdir -p "$d/ok" "$d/bad"
	local led='^SUBSYSTEM=="leds", ACTION!="remove", RUN+="/bin/chgrp gpio %S%p/brightness %S%p/trigger", RUN+="/bin/chmod g+w %S%p/brightness %S%p/trigger"$'
	grep -q "$led" configs/60-swarmlight.rules || fail "60-swarmlight.rules does not give group gpio the LEDs' brightness and trigger"

	udevadm=$(command -v udevadm || true)
	if [ -z "$udevadm" ]; then
		# Not installed: take the binary out of Debian's udev package. (Installing
		# udev could start a udevd on this machine.)
		(cd "$d" && timeout 120 apt-get download udev >/dev/null 2>&1) ||
			unavailable "no udevadm, and apt-get download udev failed"
		dpkg -x "$d"/udev_*.deb "$d/x"
		udevadm=$d/x/bin/udevadm
	fi
	{
		grep -v -e '^gpio:' -e '^i2c:' /etc/group
		printf 'gpio:x:60001:\ni2c:x:60002:\n'
	} >"$d/group"
	cp configs/60-swarmlight.rules "$d/ok/"
	# The negative control: a misspelt key must be reported.
	{
		cat configs/60-swarmlight.rules
		echo 'SUBSYSTEM=="leds", ACTON!="remove", RUN+="/bin/true"'
	} >"$d/bad/60-swarmlight.rules"
	local which
	for which in ok bad; do
		# shellcheck disable=SC2016 # the inner script expands its own arguments
		unshare --mount --propagation private sh -c '
			set -e
			mount -t tmpfs tmpfs /run
			mkdir -p /run/udev/rules.d
			cp "$1/60-swarmlight.rules" /run/udev/rules.d/
			mount --bind "$2" /etc/group
			"$3" test --action=add /sys/class/net/lo
		' sh "$d/$which" "$d/group" "$udevadm" >"$d/$which.out" 2>&1 ||
			{ cat "$d/$which.out"; fail "udevadm test failed"; }
		grep -q 'Reading rules file: /run/udev/rules.d/60-swarmlight.rules' "$d/$which.out" ||
			{ cat "$d/$which.out"; fail "udevadm did not read the rule"; }
	done
	if grep '60-swarmlight.rules:' "$d/ok.out"; then fail "udevadm objects to 60-swarmlight.rules"; fi
	grep -q "60-swarmlight.rules:.*Invalid key 'ACTON'" "$d/bad.out" || fail "udevadm test did not notice a broken rule"
	echo "info: udevadm $("$udevadm" --version) reads 60-swarmlight.rules without a complaint"
}

# ===========================================================================
# image

# make_image OUT SH_BINARY CONFIG_TXT_FILE: an 80 MiB image laid out like
# Raspberry Pi OS: MBR; FAT32 "bootfs" from 4 MiB holding config.txt; ext4
# "rootfs" with merged /usr (/bin -> usr/bin, /lib -> usr/lib), /bin/sh -> dash
# where dash is SH_BINARY (any ELF of the right architecture), /etc/group with
# gpio and i2c; no /etc/modules-load.d or /etc/udev, for flash-image to create.
make_image() {
	local out=$1 sh=$2 cfg=$3 tree
	tree=$(mktemp -d "$work/tree.XXXXXX")
	mkdir -p "$tree/usr/bin" "$tree/usr/lib/systemd/system" "$tree/etc/systemd/system/multi-user.target.wants"
	ln -s usr/bin "$tree/bin"
	ln -s usr/lib "$tree/lib"
	cp "$sh" "$tree/usr/bin/dash"
	ln -s dash "$tree/usr/bin/sh"
	printf 'root:x:0:\ngpio:x:997:pi\ni2c:x:998:pi\n' >"$tree/etc/group"
	printf 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n' >"$tree/etc/os-release"
	truncate -s 80M "$out"
	printf 'label: dos\nlabel-id: 0x5a11f00d\nunit: sectors\n8192,81920,c\n90112,,83\n' | sfdisk -q "$out"
	mkfs.vfat -F 32 -n bootfs --offset 8192 "$out" 40960 >/dev/null 2>&1
	mcopy -i "$out@@$((8192 * 512))" "$cfg" ::config.txt
	# fakeroot: the files are root's in the image even when we are not root.
	fakeroot mke2fs -q -t ext4 -L rootfs -E offset=$((90112 * 512)) -d "$tree" "$out" 36M
	rm -rf "$tree"
}
ROOT_OFF=$((90112 * 512))
BOOT_OFF=$((8192 * 512))

# stat_of IMAGE PATH: "TYPE MODE UID GID" of PATH in the image's root.
stat_of() {
	debugfs -R "stat $2" "$1?offset=$ROOT_OFF" 2>/dev/null | awk '
		/^Inode:/ { for (i = 1; i <= NF; i++) { if ($i == "Type:") t = $(i+1); if ($i == "Mode:") m = $(i+1) } }
		/^User:/  { u = $2; g = $4 }
		END { print t, m, u, g }'
}
# dump_of IMAGE PATH FILE: copy PATH out of the image's root.
dump_of() { debugfs -R "dump -p $2 $3" "$1?offset=$ROOT_OFF" >/dev/null 2>&1; }

# check_image IMAGE BINARY CONFIG: what flash-image must have put in IMAGE.
check_image() {
	local img=$1 bin=$2 cfg=$3 entry path src mode
	for entry in \
		"/usr/bin/swarmlight:$bin:0755" \
		"/etc/swarmlight/swarmlight.yaml:$cfg:0644" \
		"/lib/systemd/system/swarmlight.service:configs/swarmlight.service:0644" \
		"/etc/modules-load.d/i2c-dev.conf:configs/modules-load.conf:0644" \
		"/etc/udev/rules.d/60-swarmlight.rules:configs/60-swarmlight.rules:0644"; do
		IFS=: read -r path src mode <<<"$entry"
		[ "$(stat_of "$img" "$path")" = "regular $mode 0 0" ] ||
			fail "$path in the image is '$(stat_of "$img" "$path")', not 'regular $mode 0 0'"
		dump_of "$img" "$path" "$work/dumped"
		cmp -s "$src" "$work/dumped" || fail "$path in the image differs from $src"
	done
	grep -qx 'i2c-dev' configs/modules-load.conf || fail "modules-load.conf does not load i2c-dev"
	local link=/etc/systemd/system/multi-user.target.wants/swarmlight.service
	[ "$(stat_of "$img" "$link")" = "symlink 0777 0 0" ] || fail "$link is '$(stat_of "$img" "$link")'"
	debugfs -R "stat $link" "$img?offset=$ROOT_OFF" 2>/dev/null |
		grep -qx 'Fast link dest: "/lib/systemd/system/swarmlight.service"' || fail "$link points elsewhere"
	[ "$(stat_of "$img" /etc/swarmlight)" = "directory 0755 0 0" ] || fail "/etc/swarmlight is '$(stat_of "$img" /etc/swarmlight)'"
	e2fsck -fn "$img?offset=$ROOT_OFF" >"$work/fsck" 2>&1 || { cat "$work/fsck"; fail "e2fsck finds errors"; }
	mtype -i "$img@@$BOOT_OFF" ::config.txt >"$work/config.out"
	[ "$(tr -d '\r' <"$work/config.out" | grep -cx 'dtparam=i2c_arm=on')" = 1 ] ||
		{ cat -A "$work/config.out"; fail "config.txt does not have dtparam=i2c_arm=on exactly once"; }
}

test_image_32() {
	local tool
	for tool in sfdisk mkfs.vfat mcopy mtype fakeroot mke2fs debugfs e2fsck xz; do have "$tool"; done
	local d=$work/img32
	mkdir -p "$d"
	# Raspberry Pi OS's config.txt: LF, the I2C line commented out, ending in [all].
	printf '# For more options and information see\n#dtparam=i2c_arm=on\n#dtparam=spi=on\n\n[cm5]\ndtoverlay=dwc2,dr_mode=host\n\n[all]\n' >"$d/config.txt"
	make_image "$d/raspios.img" "$bin_armv6" "$d/config.txt"
	xz -T0 -1 -k "$d/raspios.img"

	# flash-image runs from a checkout whose dist/ has this run's binaries, so
	# that it picks the binary itself.
	local repo=$d/repo
	mkdir -p "$repo/scripts" "$repo/dist"
	cp scripts/flash-image "$repo/scripts/"
	cp -r configs "$repo/"
	ln -s "$bin_armv6" "$bin_arm64" "$bin_amd64" "$repo/dist/"

	# From the .img.xz; then again from its own output: idempotent.
	"$repo/scripts/flash-image" "$d/raspios.img.xz" "$d/out1.img" >"$d/run1" 2>&1 || { cat "$d/run1"; fail "flash-image failed on .img.xz"; }
	grep -q '32-bit ARM' "$d/run1" || fail "flash-image did not see a 32-bit ARM image"
	check_image "$d/out1.img" "$bin_armv6" configs/swarmlight.yaml
	[ "$(wc -c <"$d/out1.img")" = $((80 << 20)) ] || fail "the output image changed size"
	"$repo/scripts/flash-image" "$d/out1.img" "$d/out2.img" >"$d/run2" 2>&1 || { cat "$d/run2"; fail "flash-image failed on its own output"; }
	grep -q 'already has dtparam=i2c_arm=on' "$d/run2" || fail "the second run did not find its config.txt line"
	check_image "$d/out2.img" "$bin_armv6" configs/swarmlight.yaml
	# Raspberry Pi OS's file ends in [all]: the line is simply appended, LF.
	mtype -i "$d/out2.img@@$BOOT_OFF" ::config.txt >"$d/config.out"
	! grep -q $'\r' "$d/config.out" || fail "CR added to an LF config.txt"
	[ "$(tail -n1 "$d/config.out")" = dtparam=i2c_arm=on ] || fail "dtparam=i2c_arm=on is not the last line"
	[ "$(grep -cx '\[all\]' "$d/config.out")" = 1 ] || fail "a needless [all] was added"
	cmp -s <(head -c "$(wc -c <"$d/config.txt")" "$d/config.out") "$d/config.txt" || fail "config.txt's own lines changed"

	# The installed ARMv6 binary accepts the installed configuration (qemu,
	# as the Pi Zero's ARM1176 CPU).
	if command -v qemu-arm-static >/dev/null 2>&1; then
		dump_of "$d/out2.img" /usr/bin/swarmlight "$d/swarmlight"
		dump_of "$d/out2.img" /etc/swarmlight/swarmlight.yaml "$d/swarmlight.yaml"
		chmod +x "$d/swarmlight"
		qemu-arm-static -cpu arm1176 "$d/swarmlight" check-config --config "$d/swarmlight.yaml" \
			--http.listen 127.0.0.1:0 --udp.listen 127.0.0.1:0 >"$d/qemu" 2>&1 ||
			{ cat "$d/qemu"; fail "the image's binary rejects the image's configuration (qemu)"; }
		echo "info: the image's ARMv6 binary accepts the image's configuration (qemu-arm, arm1176)"
	else
		have qemu-arm-static # SKIP, or a failure under CI
	fi
	echo "info: $(grep -c '^flash-image:   ' "$d/run1") files and directories installed; second run idempotent"
}

test_image_64() {
	local tool
	for tool in sfdisk mkfs.vfat mcopy mtype fakeroot mke2fs debugfs e2fsck; do have "$tool"; done
	local d=$work/img64
	mkdir -p "$d"
	# CRLF, no newline at the end, and the last section [cm5]: the line must go
	# under a new [all], with CRLF, and the last line must be completed first.
	printf 'arm_64bit=1\r\n[cm5]\r\ndtoverlay=dwc2' >"$d/config.txt"
	make_image "$d/raspios64.img" "$bin_arm64" "$d/config.txt"
	scripts/flash-image --binary "$bin_arm64" --config configs/swarmlight.yaml "$d/raspios64.img" "$d/out.img" >"$d/run" 2>&1 ||
		{ cat "$d/run"; fail "flash-image failed on a 64-bit image"; }
	grep -q '64-bit ARM' "$d/run" || fail "flash-image did not see a 64-bit ARM image"
	check_image "$d/out.img" "$bin_arm64" configs/swarmlight.yaml
	mtype -i "$d/out.img@@$BOOT_OFF" ::config.txt >"$d/config.out"
	printf 'arm_64bit=1\r\n[cm5]\r\ndtoverlay=dwc2\r\n[all]\r\n# swarmlight: the front panel'"'"'s display is on I2C (header pins 3 and 5)\r\ndtparam=i2c_arm=on\r\n' >"$d/want"
	cmp -s "$d/config.out" "$d/want" || { cat -A "$d/config.out"; fail "config.txt (CRLF, unterminated, in [cm5]) edited wrongly"; }

	# Refusals, each with a clear message and no OUT left behind.
	scripts/flash-image --binary "$bin_armv6" "$d/raspios64.img" "$d/bad.img" >"$d/run" 2>&1 && fail "a 32-bit binary went into a 64-bit image"
	grep -q 'is 32-bit ARM but the image is 64-bit ARM' "$d/run" || { cat "$d/run"; fail "no clear message for the wrong binary"; }
	make_image "$d/pc.img" "$bin_amd64" "$d/config.txt"
	scripts/flash-image --binary "$bin_amd64" "$d/pc.img" "$d/bad.img" >"$d/run" 2>&1 && fail "an x86-64 image was accepted"
	grep -q 'not an ARM image: its .* is x86-64' "$d/run" || { cat "$d/run"; fail "no clear message for an x86-64 image"; }
	truncate -s 8M "$d/blank.img"
	scripts/flash-image "$d/blank.img" "$d/bad.img" >"$d/run" 2>&1 && fail "an image without partitions was accepted"
	grep -q 'unknown layout\|no partition table' "$d/run" || { cat "$d/run"; fail "no clear message for a blank image"; }
	printf 'label: gpt\n,32M\n,\n' | sfdisk -q "$d/blank.img"
	scripts/flash-image "$d/blank.img" "$d/bad.img" >"$d/run" 2>&1 && fail "a GPT image was accepted"
	grep -q "unknown layout: partition table 'gpt'" "$d/run" || { cat "$d/run"; fail "no clear message for GPT"; }
	if [ -e "$d/bad.img" ] || [ -e "$d/bad.img.partial" ]; then fail "a failed run left an image behind"; fi
	echo "info: arm64 image: arm64 binary; CRLF config.txt kept CRLF; refused: wrong binary, x86-64, blank, GPT"
}

# ===========================================================================
# install

# A stand-in for ssh and scp on PATH: each call is logged; ssh answers like a
# Pi whose `uname -m` and dpkg architecture are FAKE_UNAME and FAKE_DPKG.
make_fake_ssh() {
	local bin=$1
	mkdir -p "$bin"
	cat >"$bin/ssh" <<-'EOF'
		#!/bin/sh
		echo "ssh $*" >>"$FAKE_LOG"
		[ -n "${FAKE_UNAME:-}" ] || exit 99 # the dry run: never to be called
		[ "$FAKE_UNAME" != unreachable ] || { echo "ssh: connect to host: No route to host" >&2; exit 255; }
		for last; do :; done
		case $last in
		*uname*) printf '%s\n%s\n' "$FAKE_UNAME" "$FAKE_DPKG" ;;
		*/swarmlight-install.XXXXXX) echo /tmp/swarmlight-install.Ab12Cd ;;
		*swarmlight.previous) exit 1 ;;
		esac
		exit 0
	EOF
	cat >"$bin/scp" <<-'EOF'
		#!/bin/sh
		echo "scp $*" >>"$FAKE_LOG"
		[ -n "${FAKE_UNAME:-}" ] || exit 99
		exit 0
	EOF
	chmod +x "$bin/ssh" "$bin/scp"
}

test_install_dry_run() {
	local d=$work/install
	make_fake_ssh "$d/bin"
	export FAKE_LOG=$d/calls
	: >"$FAKE_LOG"
	PATH="$d/bin:$PATH" scripts/install --dry-run pi@raspberrypi.local >"$d/out" 2>&1 || { cat "$d/out"; fail "the dry run failed"; }
	[ ! -s "$FAKE_LOG" ] || fail "the dry run ran: $(cat "$FAKE_LOG")"
	# Every step, in order, each command line complete.
	local want=(
		"ssh .* pi@raspberrypi.local 'uname -m; dpkg --print-architecture 2>/dev/null || true'"
		"assuming armv6"
		"ssh .* pi@raspberrypi.local mktemp -d /tmp/swarmlight-install.XXXXXX"
		"scp -q .* dist/swarmlight-linux-armv6 configs/swarmlight.yaml configs/swarmlight.service configs/60-swarmlight.rules configs/modules-load.conf scripts/packaging/pi-install.sh pi@raspberrypi.local:/tmp/swarmlight-install.XXXXXX/"
		"ssh .* pi@raspberrypi.local sudo sh /tmp/swarmlight-install.XXXXXX/pi-install.sh /tmp/swarmlight-install.XXXXXX swarmlight-linux-armv6"
		"ssh .* pi@raspberrypi.local systemctl --no-pager status swarmlight.service"
		"sudo mv /usr/bin/swarmlight.previous /usr/bin/swarmlight && sudo systemctl restart swarmlight"
	)
	local pattern line=0 n
	for pattern in "${want[@]}"; do
		n=$(grep -n -e "$pattern" "$d/out" | head -n1 | cut -d: -f1)
		[ -n "$n" ] || { cat "$d/out"; fail "the dry run does not show: $pattern"; }
		[ "$n" -gt "$line" ] || fail "out of order: $pattern"
		line=$n
	done
	# What runs on the Pi as root does what the brief says.
	local step
	for step in 'cp -p /usr/bin/swarmlight /usr/bin/swarmlight.previous' 'if \[ -e /etc/swarmlight/swarmlight.yaml \]' \
		'systemctl daemon-reload' 'systemctl enable --quiet --now swarmlight.service' 'systemctl restart swarmlight.service' \
		'/lib/systemd/system/swarmlight.service' '/etc/udev/rules.d/60-swarmlight.rules'; do
		grep -q -e "$step" scripts/packaging/pi-install.sh || fail "scripts/packaging/pi-install.sh lacks: $step"
	done

	# --arch: no uname step, that binary.
	PATH="$d/bin:$PATH" scripts/install --dry-run --arch arm64 pi@10.0.0.7 >"$d/out" 2>&1
	! grep -q 'uname' "$d/out" || fail "--arch still asks uname"
	grep -q 'dist/swarmlight-linux-arm64 ' "$d/out" || fail "--arch arm64 does not copy the arm64 binary"
	[ ! -s "$FAKE_LOG" ] || fail "the dry run ran: $(cat "$FAKE_LOG")"
	# Bad usage: exit 2, nothing run.
	local rc=0
	scripts/install --dry-run --arch armv5 pi@x >/dev/null 2>&1 || rc=$?
	[ "$rc" = 2 ] || fail "--arch armv5: exit $rc, want 2"
	rc=0
	PATH="$d/bin:$PATH" scripts/install --dry-run -- -oProxyCommand=x >/dev/null 2>&1 || rc=$?
	[ "$rc" != 0 ] || fail "an ssh option was taken for USER@HOST"
	[ ! -s "$FAKE_LOG" ] || fail "bad usage ran: $(cat "$FAKE_LOG")"
	echo "info: dry run: 6 steps shown, no ssh or scp run"
}

test_install_arch() {
	local d=$work/install-arch repo
	make_fake_ssh "$d/bin"
	# A checkout with placeholder binaries: only the choice is tested here.
	repo=$d/repo
	mkdir -p "$repo/scripts" "$repo/dist"
	cp scripts/install "$repo/scripts/"
	cp -r configs "$repo/"
	cp -r scripts/packaging "$repo/scripts/"
	touch "$repo/dist/swarmlight-linux-armv6" "$repo/dist/swarmlight-linux-armv7" "$repo/dist/swarmlight-linux-arm64"
	export FAKE_LOG=$d/calls
	local case uname dpkg want
	for case in armv6l:armhf:armv6 armv7l:armhf:armv7 aarch64:armhf:armv7 aarch64:arm64:arm64; do
		IFS=: read -r uname dpkg want <<<"$case"
		: >"$FAKE_LOG"
		FAKE_UNAME=$uname FAKE_DPKG=$dpkg PATH="$d/bin:$PATH" "$repo/scripts/install" pi@pi.lan >"$d/out" 2>&1 ||
			{ cat "$d/out"; fail "install failed against the stand-in ($uname/$dpkg)"; }
		grep -q "^scp .* dist/swarmlight-linux-$want .*pi@pi.lan:/tmp/swarmlight-install.Ab12Cd/$" "$FAKE_LOG" ||
			{ cat "$FAKE_LOG"; fail "uname -m $uname with a $dpkg OS: not the $want binary"; }
		grep -q "sudo sh /tmp/swarmlight-install.Ab12Cd/pi-install.sh /tmp/swarmlight-install.Ab12Cd swarmlight-linux-$want$" "$FAKE_LOG" ||
			fail "pi-install.sh not run with the $want binary"
	done
	: >"$FAKE_LOG"
	if FAKE_UNAME=x86_64 FAKE_DPKG=amd64 PATH="$d/bin:$PATH" "$repo/scripts/install" pi@pi.lan >"$d/out" 2>&1; then
		fail "an x86_64 host was accepted"
	fi
	grep -q 'x86_64, not a Raspberry Pi' "$d/out" || fail "no clear message for an x86_64 host"
	! grep -q '^scp' "$FAKE_LOG" || fail "files were copied to an x86_64 host"
	if FAKE_UNAME=unreachable PATH="$d/bin:$PATH" "$repo/scripts/install" pi@pi.lan >"$d/out" 2>&1; then
		fail "an unreachable host was not an error"
	fi
	grep -q 'could not ask pi@pi.lan its architecture over ssh' "$d/out" || { cat "$d/out"; fail "no clear message for an unreachable host"; }
	echo "info: armv6l->armv6, armv7l->armv7, aarch64+armhf->armv7, aarch64+arm64->arm64; x86_64 and unreachable refused"
}

# scripts/packaging/pi-install.sh, the part of scripts/install that runs as root on the
# Pi, run for real in an overlay root, with systemctl, udevadm and modprobe
# standing in (logging their calls): a first install, an upgrade over an edited
# configuration, and an upgrade the new binary's check-config refuses.
test_install_remote() {
	[ "$(id -u)" = 0 ] || unavailable "running pi-install.sh in an overlay root needs root"
	have unshare
	local d=$work/pi
	mkdir -p "$d/shared/stage"
	cp "$bin_amd64" "$d/shared/swarmlight-new"
	cp configs/swarmlight.yaml configs/swarmlight.service configs/60-swarmlight.rules \
		configs/modules-load.conf scripts/packaging/pi-install.sh "$d/shared/"
	cat >"$d/shared/inside.sh" <<-'EOF'
		set -eu
		fail() { echo "FAIL: $*"; exit 1; }
		echo inside
		log=/shared/calls
		# Stand-ins, first on PATH. systemctl is-active answers from a file.
		mkdir -p /usr/local/sbin
		for tool in systemctl udevadm modprobe; do
			printf '#!/bin/sh\necho "%s $*" >>%s\n' "$tool" "$log" >"/usr/local/sbin/$tool"
			chmod +x "/usr/local/sbin/$tool"
		done
		echo '[ "$1" = is-active ] && exit "$(cat /shared/active)"; exit 0' >>/usr/local/sbin/systemctl
		export PATH=/usr/local/sbin:$PATH
		rm -f /usr/bin/swarmlight /usr/bin/swarmlight.previous
		rm -rf /etc/swarmlight

		# stage DIR: what scripts/install copies into the staging directory.
		stage() {
			rm -rf "$1"
			mkdir -p "$1"
			cp /shared/swarmlight-new "$1/swarmlight-linux-amd64"
			cp /shared/swarmlight.yaml /shared/swarmlight.service /shared/60-swarmlight.rules \
				/shared/modules-load.conf /shared/pi-install.sh "$1/"
		}

		# 1. A first install: not running.
		: >$log
		echo 3 >/shared/active
		stage /tmp/s1
		sh /tmp/s1/pi-install.sh /tmp/s1 swarmlight-linux-amd64
		cmp -s /usr/bin/swarmlight /shared/swarmlight-new || fail "binary not installed"
		[ "$(stat -c '%a %U:%G' /usr/bin/swarmlight)" = "755 root:root" ] || fail "binary mode/owner"
		[ ! -e /usr/bin/swarmlight.previous ] || fail "a .previous without a previous binary"
		cmp -s /etc/swarmlight/swarmlight.yaml /shared/swarmlight.yaml || fail "config not installed"
		for f in /lib/systemd/system/swarmlight.service /etc/udev/rules.d/60-swarmlight.rules /etc/modules-load.d/i2c-dev.conf; do
			[ "$(stat -c '%a %U:%G' "$f")" = "644 root:root" ] || fail "$f missing or not 0644 root:root"
		done
		[ ! -e /tmp/s1 ] || fail "the staging directory was left behind"
		grep -qx 'systemctl daemon-reload' $log || fail "no daemon-reload"
		grep -qx 'systemctl enable --quiet --now swarmlight.service' $log || fail "not enabled and started"
		grep -qx 'modprobe i2c-dev' $log || fail "i2c-dev not loaded"
		grep -q '^udevadm trigger .*--subsystem-match=leds' $log || fail "udev rules not applied to the LEDs"

		# 2. An upgrade while running, over the user's edited configuration.
		: >$log
		echo 0 >/shared/active
		printf '#!/bin/sh\necho old\n' >/usr/bin/swarmlight
		sed -i 's/^  level: info$/  level: debug/' /etc/swarmlight/swarmlight.yaml
		cp /etc/swarmlight/swarmlight.yaml /tmp/edited.yaml
		stage /tmp/s2
		sh /tmp/s2/pi-install.sh /tmp/s2 swarmlight-linux-amd64
		[ "$(cat /usr/bin/swarmlight.previous)" = "$(printf '#!/bin/sh\necho old')" ] || fail "the old binary was not kept as .previous"
		cmp -s /usr/bin/swarmlight /shared/swarmlight-new || fail "binary not upgraded"
		cmp -s /etc/swarmlight/swarmlight.yaml /tmp/edited.yaml || fail "the user's configuration was overwritten"
		grep -qx 'systemctl restart swarmlight.service' $log || fail "a running service was not restarted"
		! grep -q -- '--now' $log || fail "enable --now on a running service"

		# 3. The new binary rejects the configuration: the old one stays, nothing restarts.
		: >$log
		printf 'bogus_key: 1\n' >>/etc/swarmlight/swarmlight.yaml
		printf '#!/bin/sh\necho old\n' >/usr/bin/swarmlight
		stage /tmp/s3
		if sh /tmp/s3/pi-install.sh /tmp/s3 swarmlight-linux-amd64 >/tmp/out3 2>&1; then fail "a rejected configuration was accepted"; fi
		grep -q 'bogus_key' /tmp/out3 || fail "check-config's complaint was not shown"
		[ "$(cat /usr/bin/swarmlight)" = "$(printf '#!/bin/sh\necho old')" ] || fail "the previous binary was not put back"
		! grep -q '^systemctl' $log || fail "systemctl was called: $(cat $log)"
		echo ok
	EOF
	overlay_test "pi-install.sh" "$d" "$d/shared" inside.sh
	echo "info: first install, upgrade over an edited config (kept, .previous made, restarted), refused config (rolled back)"
}

# ===========================================================================

test_shellcheck() {
	have shellcheck
	shellcheck -x scripts/build-deb scripts/flash-image scripts/install scripts/test-package.sh scripts/e2e.sh scripts/test.sh scripts/lib.sh
	shellcheck -s sh scripts/packaging/pi-install.sh scripts/packaging/deb/postinst scripts/packaging/deb/prerm scripts/packaging/deb/postrm
}

run_test "unit: systemd-analyze verify" test_unit_verify
run_test "unit: syscalls within SystemCallFilter" test_unit_syscalls
run_test "deb: build, contents, reproducible" test_deb_build
run_test "deb: install/upgrade/purge (overlay root)" test_deb_dpkg
run_test "udev: the rule parses (udevadm test)" test_udev_rule
run_test "image: 32-bit, .img.xz, twice" test_image_32
run_test "image: 64-bit, CRLF, refusals" test_image_64
run_test "install: dry run" test_install_dry_run
run_test "install: architecture rule" test_install_arch
run_test "install: pi-install.sh as root (overlay root)" test_install_remote
run_test "lint: shellcheck" test_shellcheck

echo "total $(since "$t_start")"
echo "package: $passed passed, $failed failed"
[ "$failed" = 0 ]
