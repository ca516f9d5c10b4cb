#!/usr/bin/env bash
# Tests of everything that takes swarmlight from source to a running box:
#   unit      configs/swarmlight.service passes systemd-analyze verify (against
#             a real binary) and keeps the settings the appliance depends on;
#             the tracker, serving, reloading and stopping, makes no syscall its
#             SystemCallFilter= would refuse (strace)
#   deb       scripts/build-deb: metadata, contents, modes, conffiles, the
#             Avahi service file valid against avahi's DTD, the
#             copyright file naming every Go module linked in, lintian clean, a
#             byte-identical rebuild, check-config of the extracted package; then
#             install, upgrade (a local edit to the conffile survives), remove
#             and purge with dpkg in a throwaway overlay of this system (root),
#             with postinst's warnings (swap to disk, no memory cgroup) and its
#             removal of what older installers left in /etc
#   udev      60-swarmlight.rules hands the LEDs to group gpio, and udevadm
#             reads it without a complaint
#   image     scripts/flash-image on synthetic Raspberry Pi OS images (MBR, FAT32
#             boot, ext4 root): the package's files with their modes and owners,
#             the dpkg database (dpkg-query reads it), the enable symlink, the
#             groups, swap to the card off (dphys-swapfile, rpi-swap),
#             config.txt and cmdline.txt edited once with their line endings,
#             e2fsck clean, run twice, .img.xz input, 32- and 64-bit, the
#             host name (/etc/hostname, /etc/hosts; --hostname, a bad one refused),
#             the
#             installed ARM binary accepting the installed config (qemu), and
#             clear refusals
#   install   scripts/install: the dry run prints every step and runs no ssh or
#             scp; the architecture rule, against a stand-in ssh; what it runs
#             as root on the Pi (scripts/packaging/pi-install.sh), for real in an
#             overlay root: first install, upgrade, a configuration refused
#   layout    the three ways in (dpkg, flash-image, scripts/install) leave the
#             same files, modes, owners, links and dpkg records
#   lint      shellcheck on the scripts above and the maintainer scripts
#
# Missing Debian tools are installed with apt-get when we are root. A tool that
# cannot be had is a SKIP, except under CI=true, where it is a failure.
# Ends with "package: N passed, M failed"; exits non-zero on any failure.
# PACKAGE_KEEP=1 keeps the scratch directory; PACKAGE_ONLY=REGEX runs only the
# tests whose names match (the layout test needs the deb, image and install
# ones).
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
	[qemu-arm-static]=qemu-user-static [unshare]=util-linux [lintian]=lintian
	[xmllint]=libxml2-utils [avahi-daemon]=avahi-daemon
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
	[[ $name =~ ${PACKAGE_ONLY:-.} ]] || return 0
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

# ... and the packages every other test installs, as make deb builds them.
t=$(now_us)
if ! command -v dpkg-deb >/dev/null 2>&1; then
	[ "${CI:-}" != true ] || { echo "FAIL: dpkg-deb is missing (apt-get install dpkg)"; exit 1; }
	echo "SKIP: dpkg-deb is missing (apt-get install dpkg): no package, image or install test"
	echo "package: 0 passed, 0 failed"
	exit 0
fi
if ! DIST=$work/dist scripts/build-deb >"$work/build-deb.log" 2>&1; then
	echo "FAIL  building the packages"
	sed 's/^/      | /' "$work/build-deb.log"
	echo "package: $passed passed, $((failed + 1)) failed"
	exit 1
fi
deb_amd64=$(ls "$work"/dist/swarmlight_*_amd64.deb)
deb_armhf=$(ls "$work"/dist/swarmlight_*_armhf.deb)
deb_arm64=$(ls "$work"/dist/swarmlight_*_arm64.deb)
printf 'built the amd64, armhf and arm64 packages (%s)\n' "$(since "$t")"

# ===========================================================================
# layout: what every way in must leave behind

# The paths the layout test compares: the package's files (and its own
# directories), what dpkg and enabling the unit add, and what older installers
# left in /etc and /usr/bin, which must be gone. One a line, in $work/layout-paths.
dpkg-deb -c "$deb_amd64" |
	awk '$1 !~ /^d/ || $6 ~ /swarmlight/ { sub(/^\./, "", $6); sub(/\/$/, "", $6); if ($6 != "") print $6 }' >"$work/layout-paths"
{
	echo /etc/systemd/system/multi-user.target.wants/swarmlight.service
	echo /var/lib/systemd/deb-systemd-helper-enabled/swarmlight.service.dsh-also
	echo /var/lib/systemd/deb-systemd-helper-enabled/multi-user.target.wants/swarmlight.service
	for f in conffiles list md5sums postinst postrm prerm; do echo "/var/lib/dpkg/info/swarmlight.$f"; done
	echo /etc/udev/rules.d/60-swarmlight.rules
	echo /etc/modules-load.d/i2c-dev.conf
	echo /usr/bin/swarmlight.previous
} >>"$work/layout-paths"
read -ra unit_groups <<<"$(sed -n 's/^SupplementaryGroups=//p' configs/swarmlight.service)"

# manifest.sh ROOT PATHS GROUP...: one line per path of PATHS under ROOT, "PATH
# TYPE MODE UID GID WHAT" (TYPE file, dir or link; WHAT a file's sha256, "-" for
# the two whose content is the architecture's, a link's target) or "PATH absent";
# then whether each GROUP exists, and dpkg's record of the package. POSIX sh: it
# runs inside the overlay roots too. manifest_image writes the same for an image.
cat >"$work/manifest.sh" <<'EOF'
set -eu
root=$1 paths=$2
shift 2
while read -r path; do
	p=$root$path
	if [ -L "$p" ]; then
		echo "$path link $(stat -c '%04a %u %g' "$p") $(readlink "$p")"
	elif [ -d "$p" ]; then
		echo "$path dir $(stat -c '%04a %u %g' "$p") -"
	elif [ -f "$p" ]; then
		case $path in
		/usr/bin/swarmlight | */swarmlight.md5sums) sum=- ;;
		*) sum=$(sha256sum <"$p" | cut -d' ' -f1) ;;
		esac
		echo "$path file $(stat -c '%04a %u %g' "$p") $sum"
	elif [ -e "$p" ]; then
		echo "$path other"
	else
		echo "$path absent"
	fi
done <"$paths"
for group in "$@"; do
	if grep -q "^$group:" "$root/etc/group"; then echo "group $group yes"; else echo "group $group no"; fi
done
dpkg-query --admindir="$root/var/lib/dpkg" -W -f '${Package} ${Status} ${Version}\n${Conffiles}\n' swarmlight |
	sed '/^$/d; s/^/dpkg /'
EOF

# The files older scripts/install and flash-image wrote into /etc, byte for
# byte: postinst and flash-image remove exactly these.
cat >"$work/legacy.rules" <<'EOF'
# udev rules for swarmlight's front panel. The service runs as a throwaway user in
# the groups gpio and i2c (DynamicUser= and SupplementaryGroups= in
# swarmlight.service), never as root, so the devices it drives must be open to
# those groups.
#
# Installed as /lib/udev/rules.d/60-swarmlight.rules by the Debian package and as
# /etc/udev/rules.d/60-swarmlight.rules by scripts/flash-image and scripts/install.

# Kernel LEDs (the Pi's green ACT LED is the power LED by default): swarmlight
# writes "none" to trigger, to take the LED from the kernel, then brightness.
# Both are root-only sysfs attributes; hand them to group gpio. Not on "remove":
# the files are gone by then.
SUBSYSTEM=="leds", ACTION!="remove", RUN+="/bin/chgrp gpio %S%p/brightness %S%p/trigger", RUN+="/bin/chmod g+w %S%p/brightness %S%p/trigger"

# GPIO chips (LEDs on pins, the page button) and I2C buses (the display).
# Raspberry Pi OS's own 99-com.rules already does the same; plain Debian leaves
# them to root.
SUBSYSTEM=="gpio", KERNEL=="gpiochip*", GROUP="gpio", MODE="0660"
SUBSYSTEM=="i2c-dev", GROUP="i2c", MODE="0660"
EOF
cat >"$work/legacy.modules" <<'EOF'
# swarmlight's display is on I2C: load the driver that gives user space the
# /dev/i2c-* devices. (The bus itself is turned on by dtparam=i2c_arm=on in the
# boot partition's config.txt.)
i2c-dev
EOF


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
		'LimitMEMLOCK=infinity' 'LimitCORE=0' 'Environment=GOTRACEBACK=none' \
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
	# SIGTERM stops it within 5 s (README); a tracker that hangs instead must
	# fail this test, not stall the suite.
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$tracker" "$pid" 2>/dev/null || true
		wait "$pid" || true
		tail -n 5 "$d/log"
		fail "the tracker did not exit within 10 s of SIGTERM"
	fi
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
	local d=$work/deb out1=$deb_amd64 out2
	mkdir -p "$d/b"
	cp "$bin_amd64" "$d/b/"
	cat "$work/build-deb.log"
	local v
	v=$(deb_version "$out1")
	[ "$out1" = "$work/dist/swarmlight_${v}_amd64.deb" ] || fail "package file name $out1 does not match its version $v"
	dpkg --validate-version "$v" || fail "'$v' is not a valid Debian version"
	echo "info: $(basename "$out1"): $(stat -c %s "$out1") bytes"

	# Metadata.
	local field want
	for field in Package:swarmlight Architecture:amd64 Section:net Priority:optional Depends:adduser Recommends:avahi-daemon; do
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
	[ "$(dpkg-deb --info "$out1" conffiles)" = "$(printf '%s\n' /etc/swarmlight/swarmlight.yaml /etc/avahi/services/swarmlight.service)" ] ||
		fail "conffiles is not the config file and the Avahi service file: $(dpkg-deb --info "$out1" conffiles)"
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
		'-rw-r--r-- root/root ./etc/avahi/services/swarmlight.service' \
		'-rw-r--r-- root/root ./usr/share/doc/swarmlight/changelog.gz' \
		'-rw-r--r-- root/root ./usr/share/doc/swarmlight/copyright'; do
		grep -qxF -- "$entry" "$d/contents" || fail "the package lacks: $entry"
	done
	! grep -v '^d' "$d/contents" | grep -v '^-' || fail "unexpected entries (not files or directories)"
	! grep -v ' root/root ' "$d/contents" || fail "files not owned by root:root"
	# Every file carries the commit's time.
	[ "$(dpkg-deb --fsys-tarfile "$out1" | tar -tv --full-time | awk '{ print $4, $5 }' | sort -u | wc -l)" = 1 ] ||
		fail "files carry different mtimes"
	# The same paths and modes for every architecture: the image and the Pi get
	# the layout tested here.
	local deb
	for deb in "$deb_armhf" "$deb_arm64"; do
		cmp -s "$d/contents" <(dpkg-deb -c "$deb" | awk '{ print $1, $2, $6 }') ||
			fail "$(basename "$deb") does not hold the same paths and modes as the amd64 package"
	done

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
		modules-load.conf:usr/lib/modules-load.d/swarmlight.conf swarmlight.yaml:etc/swarmlight/swarmlight.yaml \
		swarmlight.avahi-service:etc/avahi/services/swarmlight.service; do
		cmp -s "configs/${entry%%:*}" "$d/root/${entry#*:}" || fail "/${entry#*:} differs from configs/${entry%%:*}"
	done
	# The Avahi service file is what avahi-daemon accepts: valid against the DTD
	# it ships (cmd/swarmlight's TestAvahiServiceFile shows avahi advertising it).
	have xmllint
	have avahi-daemon
	xmllint --noout --valid --path /usr/share/avahi "$d/root/etc/avahi/services/swarmlight.service" ||
		fail "/etc/avahi/services/swarmlight.service is not valid against avahi's DTD"
	"$d/root/usr/bin/swarmlight" check-config --config "$d/root/etc/swarmlight/swarmlight.yaml" \
		--http.listen 127.0.0.1:0 --udp.listen 127.0.0.1:0 >"$d/check" 2>&1 ||
		{ cat "$d/check"; fail "check-config rejects the packaged configuration"; }

	# The copyright file: the repository's, in the machine-readable format, naming
	# every Go module linked into each binary (go version -m reads the list the
	# linker stored in it).
	cmp -s scripts/packaging/copyright "$d/root/usr/share/doc/swarmlight/copyright" ||
		fail "/usr/share/doc/swarmlight/copyright is not scripts/packaging/copyright"
	head -n1 scripts/packaging/copyright | grep -qx 'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/' ||
		fail "the copyright file is not in the machine-readable format"
	local bin module modules=0
	for bin in "$bin_amd64" "$bin_armv6" "$bin_arm64"; do
		while read -r module; do
			grep -q "^\(Files:\)\? *vendor/$module/\*$" scripts/packaging/copyright ||
				fail "the Go module $module is linked into ${bin##*/} but has no 'Files: vendor/$module/*' in scripts/packaging/copyright"
			modules=$((modules + 1))
		done < <("$GO" version -m "$bin" | awk '$1 == "dep" { print $2 }')
	done
	# LICENSE is the Apache License 2.0 as published, periph.io's too.
	head -n3 LICENSE | grep -q 'Version 2.0, January 2004' || fail "LICENSE is not the Apache License 2.0"
	if [ -f /usr/share/common-licenses/Apache-2.0 ]; then
		cmp -s LICENSE /usr/share/common-licenses/Apache-2.0 || fail "LICENSE differs from /usr/share/common-licenses/Apache-2.0"
	fi
	echo "info: copyright: every Go module linked in is listed ($modules across the three binaries)"

}

# lintian, for the package of this machine and the Pi's: no tag at any level but
# those the package overrides, each override with its reason (build-deb).
test_deb_lintian() {
	have lintian
	local d=$work/lintian deb
	mkdir -p "$d/tmp"
	for deb in "$deb_amd64" "$deb_armhf"; do
		# Its own TMPDIR: lintian leaves temporary files behind.
		TMPDIR=$d/tmp lintian --tag-display-limit 0 -I -E --pedantic "$deb" >"$d/out" 2>"$d/err" || true
		if grep -E '^[EWIPX]: ' "$d/out"; then fail "lintian reports the tags above for $(basename "$deb")"; fi
		if grep -v 'running with root privileges' "$d/err"; then fail "lintian failed on $(basename "$deb") (above)"; fi
	done
	echo "info: lintian $(lintian --version | awk '{ print $2 }'): clean, for amd64 and armhf" \
		"(overridden: $(dpkg-deb --fsys-tarfile "$deb_amd64" | tar -xO ./usr/share/lintian/overrides/swarmlight | grep -c '^swarmlight: ') tags, each with its reason)"
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
	local d=$work/dpkg deb1=$deb_amd64 v1 v2 legacy
	mkdir -p "$d/pkgs" "$d/x"
	cp "$deb1" "$work/manifest.sh" "$work/layout-paths" "$work/legacy.rules" "$work/legacy.modules" "$d/pkgs/"
	# The fixtures are what postinst knows, or the removal is not tested.
	for legacy in /etc/udev/rules.d/60-swarmlight.rules:legacy.rules /etc/modules-load.d/i2c-dev.conf:legacy.modules; do
		grep -q "${legacy%%:*}:$(md5sum <"$work/${legacy#*:}" | cut -d' ' -f1)" scripts/packaging/deb/postinst ||
			fail "postinst does not remove ${legacy%%:*} as older installers wrote it"
	done
	# /proc/swaps of a machine swapping to a file and to zram, and of one
	# swapping to zram only.
	printf 'Filename\tType\tSize\tUsed\tPriority\n/var/swap                               file\t\t102396\t0\t-2\n/dev/zram0                              partition\t\t511996\t0\t100\n' >"$d/pkgs/swaps.disk"
	printf 'Filename\tType\tSize\tUsed\tPriority\n/dev/zram0                              partition\t\t511996\t0\t100\n' >"$d/pkgs/swaps.zram"
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
		shift 2
		link=/etc/systemd/system/multi-user.target.wants/swarmlight.service
		export DEBIAN_FRONTEND=noninteractive
		echo inside
		# postinst must create the groups: start without them.
		for group in gpio i2c; do
			if getent group "$group" >/dev/null; then delgroup --quiet "$group"; fi
		done
		# A machine that swaps to zram only, with the memory cgroup on: no warning.
		mount --bind "$pkgs/swaps.zram" /proc/swaps
		mkdir -p /sys/fs/cgroup
		echo 'cpuset cpu io memory pids' >/sys/fs/cgroup/cgroup.controllers

		dpkg -i "$pkgs"/swarmlight_*.deb </dev/null >/dev/null 2>"$pkgs/err1"
		[ "$(dpkg-query -W -f '${Status} ${Version}' swarmlight)" = "install ok installed $v1" ] || fail "not installed"
		getent group gpio >/dev/null && getent group i2c >/dev/null || fail "postinst did not create the groups"
		[ "$(readlink "$link")" = /lib/systemd/system/swarmlight.service ] || fail "postinst did not enable the unit"
		[ -z "$(dpkg --verify swarmlight)" ] || fail "dpkg --verify: $(dpkg --verify swarmlight)"
		! grep 'swarmlight:' "$pkgs/err1" || fail "postinst warned on a machine without swap to disk, with the memory cgroup"
		/usr/bin/swarmlight check-config --http.listen 127.0.0.1:0 --udp.listen 127.0.0.1:0 >/dev/null ||
			fail "the installed binary rejects /etc/swarmlight/swarmlight.yaml"
		sh "$pkgs/manifest.sh" "" "$pkgs/layout-paths" "$@" >"$pkgs/manifest"

		# What an older scripts/install left: the udev rule as it wrote it, the
		# modules-load file as the admin changed it, the previous binary. And now
		# swap to a file, and no memory cgroup.
		mkdir -p /etc/udev/rules.d
		cp "$pkgs/legacy.rules" /etc/udev/rules.d/60-swarmlight.rules
		{ cat "$pkgs/legacy.modules"; echo 'i2c-gpio # mine'; } >/etc/modules-load.d/i2c-dev.conf
		echo old >/usr/bin/swarmlight.previous
		umount /proc/swaps
		mount --bind "$pkgs/swaps.disk" /proc/swaps
		echo 'cpuset cpu io pids' >/sys/fs/cgroup/cgroup.controllers
		# The admin edits the conffile; the upgrade must keep the edit.
		sed -i 's/^  level: info$/  level: debug/' /etc/swarmlight/swarmlight.yaml
		dpkg -i --force-confold "$pkgs/new.deb" </dev/null >/dev/null 2>"$pkgs/err2"
		[ "$(dpkg-query -W -f '${Version}' swarmlight)" = "$v2" ] || fail "not upgraded"
		grep -q '^  level: debug$' /etc/swarmlight/swarmlight.yaml || fail "the upgrade lost the edit to the conffile"
		[ "$(readlink "$link")" = /lib/systemd/system/swarmlight.service ] || fail "the upgrade disabled the unit"
		[ ! -e /etc/udev/rules.d/60-swarmlight.rules ] || fail "the old installer's udev rule is still there"
		[ ! -e /usr/bin/swarmlight.previous ] || fail "the old installer's swarmlight.previous is still there"
		grep -q 'i2c-gpio # mine' /etc/modules-load.d/i2c-dev.conf || fail "the admin's changed modules-load file was removed"
		grep -qx 'swarmlight: kept /etc/modules-load.d/i2c-dev.conf, changed locally; .*' "$pkgs/err2" ||
			{ cat "$pkgs/err2"; fail "postinst did not say it kept the changed modules-load file"; }
		# One warning each, naming the swap file but not zram.
		[ "$(grep -c '^swarmlight: warning: this machine swaps to /var/swap, which outlives power-off;' "$pkgs/err2")" = 1 ] ||
			{ cat "$pkgs/err2"; fail "postinst did not warn once about swap to a file"; }
		! grep -q zram "$pkgs/err2" || fail "postinst counted zram as swap to disk"
		[ "$(grep -c '^swarmlight: warning: the kernel.s memory cgroup is off, so MemoryMax=.*cgroup_enable=memory' "$pkgs/err2")" = 1 ] ||
			{ cat "$pkgs/err2"; fail "postinst did not warn once that the memory cgroup is off"; }
		umount /proc/swaps

		dpkg -r swarmlight </dev/null >/dev/null
		[ ! -e /usr/bin/swarmlight ] || fail "remove left the binary"
		[ -e /etc/swarmlight/swarmlight.yaml ] || fail "remove (not purge) deleted the configuration"
		mkdir -p /var/cache/swarmlight
		touch /var/cache/swarmlight/swarmlight.deb
		dpkg -P swarmlight </dev/null >/dev/null
		[ ! -e /etc/swarmlight ] || fail "purge left /etc/swarmlight"
		[ ! -L "$link" ] || fail "purge left the enable symlink"
		[ ! -e /var/cache/swarmlight ] || fail "purge left scripts/install's /var/cache/swarmlight"
		[ -z "$(dpkg-query -W -f '${Status}' swarmlight 2>/dev/null)" ] ||
			[ "$(dpkg-query -W -f '${Status}' swarmlight)" = "unknown ok not-installed" ] || fail "purge left dpkg state"
		echo ok
	EOF

	overlay_test "dpkg install/upgrade/remove/purge" "$d" "$d/pkgs" inside.sh "$v1" "$v2" "${unit_groups[@]}"
	cp "$d/pkgs/manifest" "$work/manifest.dpkg"
	echo "info: installed $v1, upgraded to $v2 (conffile edit kept), removed, purged"
	echo "info: postinst: warned once each for swap to a file and no memory cgroup, none for zram; removed the old installer's rule and .previous, kept a changed file"
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

# make_image OUT SH_BINARY CONFIG_TXT CMDLINE_TXT FLAVOUR: an 80 MiB image laid
# out like Raspberry Pi OS: MBR; FAT32 "bootfs" from 4 MiB holding config.txt
# and cmdline.txt; ext4 "rootfs" with merged /usr (/bin -> usr/bin, /lib ->
# usr/lib), /bin/sh -> dash where dash is SH_BINARY (any ELF of the right
# architecture), a dpkg database with adduser installed, /etc/gshadow
# (root:shadow 0640); no /etc/swarmlight, /usr/lib/udev or
# /usr/lib/modules-load.d, for flash-image to create. FLAVOUR:
#   bookworm  groups gpio and i2c; dphys-swapfile installed and enabled
#   trixie    no groups gpio and i2c; rpi-swap (its generator, /etc/rpi/swap.conf);
#             the udev rule and modules-load file an older flash-image put in /etc,
#             the latter changed since
make_image() {
	local out=$1 sh=$2 cfg=$3 cmdline=$4 flavour=$5 tree
	tree=$(mktemp -d "$work/tree.XXXXXX")
	mkdir -p "$tree/usr/bin" "$tree/usr/lib/systemd/system" "$tree/etc/systemd/system/multi-user.target.wants" \
		"$tree/var/lib/dpkg/info" "$tree/var/lib/dpkg/updates"
	ln -s usr/bin "$tree/bin"
	ln -s usr/lib "$tree/lib"
	cp "$sh" "$tree/usr/bin/dash"
	ln -s dash "$tree/usr/bin/sh"
	local pkg
	for pkg in adduser raspi-config; do
		printf 'Package: %s\nStatus: install ok installed\nPriority: important\nMaintainer: Someone <someone@example.org>\nArchitecture: all\nVersion: 1.0\nDescription: %s\n\n' "$pkg" "$pkg" >>"$tree/var/lib/dpkg/status"
		printf '/.\n/usr\n/usr/sbin\n/usr/sbin/%s\n' "$pkg" >"$tree/var/lib/dpkg/info/$pkg.list"
		printf 'd41d8cd98f00b204e9800998ecf8427e  usr/sbin/%s\n' "$pkg" >"$tree/var/lib/dpkg/info/$pkg.md5sums"
	done
	printf '# <file system> <mount point> <type> <options> <dump> <pass>\nproc /proc proc defaults 0 0\n' >"$tree/etc/fstab"
	case $flavour in
	bookworm)
		printf 'root:x:0:\nshadow:x:42:\ngpio:x:997:pi\ni2c:x:998:pi\n' >"$tree/etc/group"
		printf 'root:*::\nshadow:*::\ngpio:!::pi\ni2c:!::pi\n' >"$tree/etc/gshadow"
		printf 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n' >"$tree/etc/os-release"
		printf '[Unit]\nDescription=dphys-swapfile - set up, mount/unmount, and delete a swap file\n\n[Service]\nType=oneshot\nExecStart=/sbin/dphys-swapfile setup\nExecStart=/sbin/dphys-swapfile swapon\nRemainAfterExit=yes\n\n[Install]\nWantedBy=multi-user.target\n' >"$tree/usr/lib/systemd/system/dphys-swapfile.service"
		ln -s /lib/systemd/system/dphys-swapfile.service "$tree/etc/systemd/system/multi-user.target.wants/dphys-swapfile.service"
		printf '# /etc/dphys-swapfile - user settings for dphys-swapfile package\n#CONF_SWAPSIZE=\n' >"$tree/etc/dphys-swapfile"
		# Raspberry Pi OS's name and its /etc/hosts line.
		printf 'raspberrypi\n' >"$tree/etc/hostname"
		printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\nff02::1\t\tip6-allnodes\nff02::2\t\tip6-allrouters\n\n127.0.1.1\t\traspberrypi\n' >"$tree/etc/hosts"
		;;
	trixie)
		printf 'root:x:0:\nshadow:x:42:\nusers:x:100:\nsystemd-journal:x:101:\n' >"$tree/etc/group"
		printf 'root:*::\nshadow:*::\nusers:*::\nsystemd-journal:!*::\n' >"$tree/etc/gshadow"
		printf 'PRETTY_NAME="Debian GNU/Linux 13 (trixie)"\n' >"$tree/etc/os-release"
		mkdir -p "$tree/usr/lib/systemd/system-generators" "$tree/etc/rpi" "$tree/etc/udev/rules.d" "$tree/etc/modules-load.d"
		printf '#!/bin/sh\n# rpi-swap-generator (stand-in)\n' >"$tree/usr/lib/systemd/system-generators/rpi-swap-generator"
		chmod 755 "$tree/usr/lib/systemd/system-generators/rpi-swap-generator"
		printf '#  This file is part of rpi-swap.\n#  See swap.conf(5) for details.\n\n[Main]\n#Mechanism=auto\n\n[File]\n#Path=/var/swap\n' >"$tree/etc/rpi/swap.conf"
		cp "$work/legacy.rules" "$tree/etc/udev/rules.d/60-swarmlight.rules"
		{ cat "$work/legacy.modules"; echo 'i2c-gpio # mine'; } >"$tree/etc/modules-load.d/i2c-dev.conf"
		;;
	esac
	truncate -s 80M "$out"
	printf 'label: dos\nlabel-id: 0x5a11f00d\nunit: sectors\n8192,81920,c\n90112,,83\n' | sfdisk -q "$out"
	mkfs.vfat -F 32 -n bootfs --offset 8192 "$out" 40960 >/dev/null 2>&1
	mcopy -i "$out@@$((8192 * 512))" "$cfg" ::config.txt
	mcopy -i "$out@@$((8192 * 512))" "$cmdline" ::cmdline.txt
	# fakeroot: the files are root's in the image even when we are not root;
	# gshadow is root:shadow, as on Raspberry Pi OS.
	# shellcheck disable=SC2016 # the inner script expands its own arguments
	fakeroot sh -c 'chown 0:42 "$1/etc/gshadow" && chmod 640 "$1/etc/gshadow" &&
		mke2fs -q -t ext4 -L rootfs -E offset=$((90112 * 512)) -d "$1" "$2" 36M' sh "$tree" "$out"
	rm -rf "$tree"
}
ROOT_OFF=$((90112 * 512))
BOOT_OFF=$((8192 * 512))

# stat_of IMAGE PATH: "TYPE MODE UID GID" of PATH in the image's root.
stat_of() {
	debugfs -R "stat $2" "$1?offset=$ROOT_OFF" 2>/dev/null </dev/null | awk '
		/^Inode:/ { for (i = 1; i <= NF; i++) { if ($i == "Type:") t = $(i+1); if ($i == "Mode:") m = $(i+1) } }
		/^User:/  { u = $2; g = $4 }
		END { print t, m, u, g }'
}
# dump_of IMAGE PATH FILE: copy PATH out of the image's root.
dump_of() { debugfs -R "dump -p $2 $3" "$1?offset=$ROOT_OFF" >/dev/null 2>&1 </dev/null; }
# link_of IMAGE PATH: the target of the symlink PATH.
link_of() { debugfs -R "stat $2" "$1?offset=$ROOT_OFF" 2>/dev/null </dev/null | sed -n 's/^Fast link dest: "\(.*\)"$/\1/p'; }
# dpkg_of IMAGE DIR: the image's /var/lib/dpkg, copied into DIR.
dpkg_of() {
	rm -rf "$2"
	mkdir -p "$2"
	debugfs -R "rdump /var/lib/dpkg $2" "$1?offset=$ROOT_OFF" >/dev/null 2>&1
	[ -s "$2/dpkg/status" ] || fail "could not copy /var/lib/dpkg out of $1"
}

# manifest_image IMAGE: what manifest.sh says of an installed root, for an image.
manifest_image() {
	local img=$1 path type mode uid gid sum
	while read -r path; do
		read -r type mode uid gid <<<"$(stat_of "$img" "$path")"
		case $type in
		regular)
			case $path in
			/usr/bin/swarmlight | */swarmlight.md5sums) sum=- ;;
			*)
				dump_of "$img" "$path" "$work/dumped"
				sum=$(sha256sum <"$work/dumped" | cut -d' ' -f1)
				;;
			esac
			echo "$path file $mode $uid $gid $sum"
			;;
		directory) echo "$path dir $mode $uid $gid -" ;;
		symlink) echo "$path link $mode $uid $gid $(link_of "$img" "$path")" ;;
		"") echo "$path absent" ;;
		*) echo "$path other" ;;
		esac
	done <"$work/layout-paths"
	dump_of "$img" /etc/group "$work/group"
	local group
	for group in "${unit_groups[@]}"; do
		if grep -q "^$group:" "$work/group"; then echo "group $group yes"; else echo "group $group no"; fi
	done
	dpkg_of "$img" "$work/admin"
	dpkg-query --admindir="$work/admin/dpkg" -W -f '${Package} ${Status} ${Version}\n${Conffiles}\n' swarmlight |
		sed '/^$/d; s/^/dpkg /'
}

# check_image IMAGE DEB CONFIG: what flash-image must have put in IMAGE: the
# package's files, each as in DEB (the configuration as CONFIG), its record in
# the dpkg database, the unit enabled, the groups, config.txt's dtparam and
# cmdline.txt's cgroup_enable=memory once each, a clean file system.
check_image() {
	local img=$1 deb=$2 cfg=$3 perms name path want x=$work/check
	rm -rf "$x"
	mkdir -p "$x"
	dpkg-deb -x "$deb" "$x/data"
	dpkg-deb -e "$deb" "$x/control"
	while read -r perms _ _ _ _ name _; do
		path=${name#.}
		path=${path%/}
		case $perms in
		d*) [[ $path == *swarmlight* ]] || continue; want="directory 0755 0 0" ;;
		-rwxr-xr-x) want="regular 0755 0 0" ;;
		-rw-r--r--) want="regular 0644 0 0" ;;
		*) fail "$path has mode $perms in the package" ;;
		esac
		[ "$(stat_of "$img" "$path")" = "$want" ] || fail "$path in the image is '$(stat_of "$img" "$path")', not '$want'"
		[[ $perms == d* ]] && continue
		dump_of "$img" "$path" "$work/dumped"
		if [ "$path" = /etc/swarmlight/swarmlight.yaml ]; then
			cmp -s "$cfg" "$work/dumped" || fail "$path in the image is not $cfg"
		else
			cmp -s "$x/data$path" "$work/dumped" || fail "$path in the image differs from the package's"
		fi
	done < <(dpkg-deb --fsys-tarfile "$deb" | tar -tv)

	# dpkg knows the package as installed, with its conffile's packaged md5sum,
	# and finds nothing amiss; its info files are the package's control files.
	dpkg_of "$img" "$x/admin"
	[ "$(dpkg-query --admindir="$x/admin/dpkg" -W -f '${Status} ${Version} ${Architecture}' swarmlight)" = \
		"install ok installed $(deb_version "$deb") $(dpkg-deb -f "$deb" Architecture)" ] ||
		fail "the image's dpkg database does not have the package installed"
	[ "$(dpkg-query --admindir="$x/admin/dpkg" -W -f '${Conffiles}' swarmlight)" = \
		" /etc/swarmlight/swarmlight.yaml $(md5sum <"$x/data/etc/swarmlight/swarmlight.yaml" | cut -d' ' -f1)
 /etc/avahi/services/swarmlight.service $(md5sum <"$x/data/etc/avahi/services/swarmlight.service" | cut -d' ' -f1)" ] ||
		fail "the image's dpkg database records the conffile wrongly: $(dpkg-query --admindir="$x/admin/dpkg" -W -f '${Conffiles}' swarmlight)"
	# This machine's dpkg takes the image's architecture for a foreign one: tell
	# it that one is known (the image's own dpkg has it built in).
	dpkg-deb -f "$deb" Architecture >"$x/admin/dpkg/arch"
	[ -z "$(dpkg --admindir="$x/admin/dpkg" --audit 2>&1)" ] || fail "dpkg --audit: $(dpkg --admindir="$x/admin/dpkg" --audit 2>&1)"
	{ grep -q '^Package: adduser$' "$x/admin/dpkg/status" && grep -q '^Package: raspi-config$' "$x/admin/dpkg/status"; } ||
		fail "the other packages' records are gone from the image's dpkg database"
	for name in conffiles md5sums postinst postrm prerm; do
		cmp -s "$x/control/$name" "$x/admin/dpkg/info/swarmlight.$name" || fail "/var/lib/dpkg/info/swarmlight.$name is not the package's $name"
	done
	dpkg-deb --fsys-tarfile "$deb" | tar -t | sed 's#^\./##; s#/$##; s#^#/#; s#^/$#/.#' |
		cmp -s - "$x/admin/dpkg/info/swarmlight.list" || fail "/var/lib/dpkg/info/swarmlight.list is not the package's file list"

	local link=/etc/systemd/system/multi-user.target.wants/swarmlight.service
	[ "$(stat_of "$img" "$link")" = "symlink 0777 0 0" ] || fail "$link is '$(stat_of "$img" "$link")'"
	[ "$(link_of "$img" "$link")" = /lib/systemd/system/swarmlight.service ] || fail "$link points elsewhere"
	dump_of "$img" /var/lib/systemd/deb-systemd-helper-enabled/swarmlight.service.dsh-also "$work/dumped"
	[ "$(cat "$work/dumped")" = "$link" ] || fail "deb-systemd-helper's record of the enable symlink is wrong"
	dump_of "$img" /etc/group "$work/group"
	for name in "${unit_groups[@]}"; do
		grep -q "^$name:x:[0-9]*:" "$work/group" || fail "the image has no group $name"
	done
	e2fsck -fn "$img?offset=$ROOT_OFF" >"$work/fsck" 2>&1 || { cat "$work/fsck"; fail "e2fsck finds errors"; }
	mtype -i "$img@@$BOOT_OFF" ::config.txt >"$work/config.out"
	[ "$(tr -d '\r' <"$work/config.out" | grep -cx 'dtparam=i2c_arm=on')" = 1 ] ||
		{ cat -A "$work/config.out"; fail "config.txt does not have dtparam=i2c_arm=on exactly once"; }
	mtype -i "$img@@$BOOT_OFF" ::cmdline.txt >"$work/cmdline.out"
	[ "$(head -n1 "$work/cmdline.out" | tr -d '\r' | tr ' ' '\n' | grep -cx 'cgroup_enable=memory')" = 1 ] ||
		{ cat -A "$work/cmdline.out"; fail "cmdline.txt's first line does not have cgroup_enable=memory exactly once"; }
}

test_image_32() {
	local tool
	for tool in sfdisk mkfs.vfat mcopy mtype fakeroot mke2fs debugfs e2fsck xz dpkg-deb; do have "$tool"; done
	local d=$work/img32
	mkdir -p "$d"
	# Raspberry Pi OS's config.txt: LF, the I2C line commented out, ending in
	# [all]; its cmdline.txt: one line, LF.
	printf '# For more options and information see\n#dtparam=i2c_arm=on\n#dtparam=spi=on\n\n[cm5]\ndtoverlay=dwc2,dr_mode=host\n\n[all]\n' >"$d/config.txt"
	printf 'console=serial0,115200 console=tty1 root=PARTUUID=5a11f00d-02 rootfstype=ext4 fsck.repair=yes rootwait quiet\n' >"$d/cmdline.txt"
	make_image "$d/raspios.img" "$bin_armv6" "$d/config.txt" "$d/cmdline.txt" bookworm
	xz -T0 -1 -k "$d/raspios.img"

	# flash-image runs from a checkout whose dist/ has this run's packages, so
	# that it picks the package itself.
	local repo=$d/repo
	mkdir -p "$repo/scripts" "$repo/dist"
	cp scripts/flash-image "$repo/scripts/"
	ln -s "$deb_armhf" "$deb_arm64" "$deb_amd64" "$repo/dist/"

	# From the .img.xz; then again from its own output: idempotent.
	"$repo/scripts/flash-image" "$d/raspios.img.xz" "$d/out1.img" >"$d/run1" 2>&1 || { cat "$d/run1"; fail "flash-image failed on .img.xz"; }
	grep -q '32-bit ARM' "$d/run1" || fail "flash-image did not see a 32-bit ARM image"
	check_image "$d/out1.img" "$deb_armhf" configs/swarmlight.yaml
	[ "$(wc -c <"$d/out1.img")" = $((80 << 20)) ] || fail "the output image changed size"
	"$repo/scripts/flash-image" "$d/out1.img" "$d/out2.img" >"$d/run2" 2>&1 || { cat "$d/run2"; fail "flash-image failed on its own output"; }
	grep -q 'already has dtparam=i2c_arm=on' "$d/run2" || fail "the second run did not find its config.txt line"
	grep -q 'already has cgroup_enable=memory' "$d/run2" || fail "the second run did not find its cmdline.txt word"
	check_image "$d/out2.img" "$deb_armhf" configs/swarmlight.yaml
	# One record of the package, after two runs.
	dpkg_of "$d/out2.img" "$d/admin"
	[ "$(grep -cx 'Package: swarmlight' "$d/admin/dpkg/status")" = 1 ] || fail "the second run left two records of the package"
	# Raspberry Pi OS's file ends in [all]: the line is simply appended, LF.
	mtype -i "$d/out2.img@@$BOOT_OFF" ::config.txt >"$d/config.out"
	! grep -q $'\r' "$d/config.out" || fail "CR added to an LF config.txt"
	[ "$(tail -n1 "$d/config.out")" = dtparam=i2c_arm=on ] || fail "dtparam=i2c_arm=on is not the last line"
	[ "$(grep -cx '\[all\]' "$d/config.out")" = 1 ] || fail "a needless [all] was added"
	cmp -s <(head -c "$(wc -c <"$d/config.txt")" "$d/config.out") "$d/config.txt" || fail "config.txt's own lines changed"
	# cmdline.txt: the word at the end of its one line, nothing else changed.
	mtype -i "$d/out2.img@@$BOOT_OFF" ::cmdline.txt >"$d/cmdline.out"
	printf 'console=serial0,115200 console=tty1 root=PARTUUID=5a11f00d-02 rootfstype=ext4 fsck.repair=yes rootwait quiet cgroup_enable=memory\n' |
		cmp -s - "$d/cmdline.out" || { cat -A "$d/cmdline.out"; fail "cmdline.txt edited wrongly"; }

	# Named swarmlight, by default: /etc/hostname, and /etc/hosts's 127.0.1.1
	# line replaced (once, after two runs), its other lines kept.
	dump_of "$d/out2.img" /etc/hostname "$d/hostname"
	[ "$(cat "$d/hostname")" = swarmlight ] || fail "/etc/hostname is '$(cat "$d/hostname")', not swarmlight"
	dump_of "$d/out2.img" /etc/hosts "$d/hosts"
	printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\nff02::1\t\tip6-allnodes\nff02::2\t\tip6-allrouters\n\n127.0.1.1\tswarmlight\n' |
		cmp -s - "$d/hosts" || { cat -A "$d/hosts"; fail "/etc/hosts edited wrongly"; }
	for f in /etc/hostname /etc/hosts; do
		[ "$(stat_of "$d/out2.img" $f)" = "regular 0644 0 0" ] || fail "$f is '$(stat_of "$d/out2.img" $f)'"
	done

	# Swap to the card off: dphys-swapfile disabled and masked; nothing for
	# rpi-swap, which this image does not have.
	[ -z "$(stat_of "$d/out2.img" /etc/systemd/system/multi-user.target.wants/dphys-swapfile.service | tr -d ' ')" ] ||
		fail "dphys-swapfile is still enabled"
	{ [ "$(stat_of "$d/out2.img" /etc/systemd/system/dphys-swapfile.service)" = "symlink 0777 0 0" ] &&
		[ "$(link_of "$d/out2.img" /etc/systemd/system/dphys-swapfile.service)" = /dev/null ]; } || fail "dphys-swapfile is not masked"
	[ -z "$(stat_of "$d/out2.img" /etc/rpi | tr -d ' ')" ] || fail "an rpi-swap drop-in in an image without rpi-swap"

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
	manifest_image "$d/out2.img" >"$work/manifest.image"
	echo "info: $(grep -c '^flash-image:   ' "$d/run1") files, directories and links written; dpkg records the package; dphys-swapfile masked; second run idempotent"
}

test_image_64() {
	local tool
	for tool in sfdisk mkfs.vfat mcopy mtype fakeroot mke2fs debugfs e2fsck dpkg-deb; do have "$tool"; done
	local d=$work/img64
	mkdir -p "$d"
	# CRLF, no newline at the end, and the last section [cm5]: the line must go
	# under a new [all], with CRLF, and the last line must be completed first.
	# cmdline.txt in CRLF, turning the memory cgroup off, with a second line the
	# firmware ignores.
	printf 'arm_64bit=1\r\n[cm5]\r\ndtoverlay=dwc2' >"$d/config.txt"
	printf 'console=tty1 cgroup_disable=memory root=/dev/mmcblk0p2 rootwait\r\nignored\r\n' >"$d/cmdline.txt"
	make_image "$d/raspios64.img" "$bin_arm64" "$d/config.txt" "$d/cmdline.txt" trixie
	# A configuration of one's own.
	sed 's/^  level: info$/  level: warn/' configs/swarmlight.yaml >"$d/my.yaml"
	cmp -s configs/swarmlight.yaml "$d/my.yaml" && fail "the test configuration is the default one"
	scripts/flash-image --deb "$deb_arm64" --config "$d/my.yaml" --hostname lab-box "$d/raspios64.img" "$d/out.img" >"$d/run" 2>&1 ||
		{ cat "$d/run"; fail "flash-image failed on a 64-bit image"; }
	grep -q '64-bit ARM' "$d/run" || fail "flash-image did not see a 64-bit ARM image"
	check_image "$d/out.img" "$deb_arm64" "$d/my.yaml"
	mtype -i "$d/out.img@@$BOOT_OFF" ::config.txt >"$d/config.out"
	printf 'arm_64bit=1\r\n[cm5]\r\ndtoverlay=dwc2\r\n[all]\r\n# swarmlight: the front panel'"'"'s display is on I2C (header pins 3 and 5)\r\ndtparam=i2c_arm=on\r\n' >"$d/want"
	cmp -s "$d/config.out" "$d/want" || { cat -A "$d/config.out"; fail "config.txt (CRLF, unterminated, in [cm5]) edited wrongly"; }
	mtype -i "$d/out.img@@$BOOT_OFF" ::cmdline.txt >"$d/cmdline.out"
	printf 'console=tty1 cgroup_disable=memory root=/dev/mmcblk0p2 rootwait cgroup_enable=memory\r\nignored\r\n' |
		cmp -s - "$d/cmdline.out" || { cat -A "$d/cmdline.out"; fail "cmdline.txt (CRLF, two lines) edited wrongly"; }

	# --hostname, into an image without /etc/hostname or /etc/hosts: both made.
	dump_of "$d/out.img" /etc/hostname "$d/hostname"
	[ "$(cat "$d/hostname")" = lab-box ] || fail "/etc/hostname is '$(cat "$d/hostname")', not lab-box"
	dump_of "$d/out.img" /etc/hosts "$d/hosts"
	{ grep -qx '127.0.0.1.localhost' "$d/hosts" && [ "$(grep -c '^127\.0\.1\.1' "$d/hosts")" = 1 ] &&
		grep -qx '127.0.1.1.lab-box' "$d/hosts"; } || { cat -A "$d/hosts"; fail "/etc/hosts made wrongly"; }
	grep -q 'http://lab-box.local:6969/' "$d/run" || fail "flash-image did not print the status page's address"

	# The groups, which this image lacks, made as addgroup --system would: the
	# lowest free system GIDs, in /etc/group and /etc/gshadow (still root:shadow
	# 0640).
	dump_of "$d/out.img" /etc/group "$d/group"
	dump_of "$d/out.img" /etc/gshadow "$d/gshadow"
	{ grep -qx 'gpio:x:102:' "$d/group" && grep -qx 'i2c:x:103:' "$d/group"; } || { cat "$d/group"; fail "groups gpio and i2c not made"; }
	{ grep -qx 'gpio:!::' "$d/gshadow" && grep -qx 'i2c:!::' "$d/gshadow"; } || { cat "$d/gshadow"; fail "groups gpio and i2c not in gshadow"; }
	[ "$(stat_of "$d/out.img" /etc/gshadow)" = "regular 0640 0 42" ] || fail "/etc/gshadow is now '$(stat_of "$d/out.img" /etc/gshadow)'"
	# What an older flash-image left in /etc: gone if unchanged, kept if changed.
	[ -z "$(stat_of "$d/out.img" /etc/udev/rules.d/60-swarmlight.rules | tr -d ' ')" ] || fail "the old udev rule in /etc is still there"
	grep -q 'kept /etc/modules-load.d/i2c-dev.conf: it was changed locally' "$d/run" || fail "the changed modules-load file was not named"
	# rpi-swap: compressed RAM only, by a drop-in that outranks the vendor file;
	# no dphys-swapfile here, so no mask.
	dump_of "$d/out.img" /etc/rpi/swap.conf.d/99-swarmlight.conf "$d/swap.conf"
	[ "$(stat_of "$d/out.img" /etc/rpi/swap.conf.d/99-swarmlight.conf)" = "regular 0644 0 0" ] || fail "no rpi-swap drop-in"
	[ "$(sed -n '/^\[Main\]$/,/^\[/s/^Mechanism=//p' "$d/swap.conf")" = zram ] || { cat "$d/swap.conf"; fail "the rpi-swap drop-in does not set [Main] Mechanism=zram"; }
	[ -z "$(stat_of "$d/out.img" /etc/systemd/system/dphys-swapfile.service | tr -d ' ')" ] || fail "a dphys-swapfile mask in an image without it"

	# cmdline.txt without a newline at its end, with a word that only starts like
	# ours: the word is added, nothing else.
	printf 'root=/dev/mmcblk0p2 rootwait cgroup_enable=memoryx' >"$d/cmdline2.txt"
	mcopy -o -i "$d/raspios64.img@@$BOOT_OFF" "$d/cmdline2.txt" ::cmdline.txt
	scripts/flash-image --deb "$deb_arm64" "$d/raspios64.img" "$d/out2.img" >"$d/run" 2>&1 || { cat "$d/run"; fail "flash-image failed"; }
	mtype -i "$d/out2.img@@$BOOT_OFF" ::cmdline.txt >"$d/cmdline.out"
	printf 'root=/dev/mmcblk0p2 rootwait cgroup_enable=memoryx cgroup_enable=memory' |
		cmp -s - "$d/cmdline.out" || { cat -A "$d/cmdline.out"; fail "cmdline.txt (no final newline) edited wrongly"; }

	# Refusals, each with a clear message and no OUT left behind.
	scripts/flash-image --deb "$deb_armhf" "$d/raspios64.img" "$d/bad.img" >"$d/run" 2>&1 && fail "a 32-bit package went into a 64-bit image"
	grep -q 'is for armhf but the image is arm64' "$d/run" || { cat "$d/run"; fail "no clear message for the wrong package"; }
	make_image "$d/pc.img" "$bin_amd64" "$d/config.txt" "$d/cmdline.txt" bookworm
	scripts/flash-image --deb "$deb_amd64" "$d/pc.img" "$d/bad.img" >"$d/run" 2>&1 && fail "an x86-64 image was accepted"
	grep -q 'not an ARM image: its .* is x86-64' "$d/run" || { cat "$d/run"; fail "no clear message for an x86-64 image"; }
	local bad
	for bad in bad_name -lab lab- "$(printf 'a%.0s' {1..64})" lab.box ""; do
		scripts/flash-image --deb "$deb_arm64" --hostname "$bad" "$d/raspios64.img" "$d/bad.img" >"$d/run" 2>&1 &&
			fail "--hostname '$bad' was accepted"
		grep -q "hostname '.*' is not a host name" "$d/run" || { cat "$d/run"; fail "no clear message for --hostname '$bad'"; }
	done
	truncate -s 8M "$d/blank.img"
	scripts/flash-image "$d/blank.img" "$d/bad.img" >"$d/run" 2>&1 && fail "an image without partitions was accepted"
	grep -q 'unknown layout\|no partition table' "$d/run" || { cat "$d/run"; fail "no clear message for a blank image"; }
	printf 'label: gpt\n,32M\n,\n' | sfdisk -q "$d/blank.img"
	scripts/flash-image "$d/blank.img" "$d/bad.img" >"$d/run" 2>&1 && fail "a GPT image was accepted"
	grep -q "unknown layout: partition table 'gpt'" "$d/run" || { cat "$d/run"; fail "no clear message for GPT"; }
	mdel -i "$d/raspios64.img@@$BOOT_OFF" ::cmdline.txt
	scripts/flash-image --deb "$deb_arm64" "$d/raspios64.img" "$d/bad.img" >"$d/run" 2>&1 && fail "an image without cmdline.txt was accepted"
	grep -q 'unknown layout: no cmdline.txt in partition 1' "$d/run" || { cat "$d/run"; fail "no clear message for a missing cmdline.txt"; }
	if [ -e "$d/bad.img" ] || [ -e "$d/bad.img.partial" ]; then fail "a failed run left an image behind"; fi
	echo "info: arm64 image: arm64 package, own configuration; CRLF kept in config.txt and cmdline.txt; groups made; rpi-swap set to zram; old /etc files handled"
	echo "info: refused: wrong package, x86-64, blank, GPT, no cmdline.txt, bad host names"
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
		*swarmlight.previous.deb) exit 1 ;;
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
	# A checkout whose dist/ has this run's packages.
	local repo=$d/repo
	mkdir -p "$repo/scripts/packaging" "$repo/dist"
	cp scripts/install "$repo/scripts/"
	cp scripts/packaging/pi-install.sh "$repo/scripts/packaging/"
	ln -s "$deb_armhf" "$deb_arm64" "$repo/dist/"
	local armhf=dist/${deb_armhf##*/} arm64=dist/${deb_arm64##*/}
	PATH="$d/bin:$PATH" "$repo/scripts/install" --dry-run pi@raspberrypi.local >"$d/out" 2>&1 || { cat "$d/out"; fail "the dry run failed"; }
	[ ! -s "$FAKE_LOG" ] || fail "the dry run ran: $(cat "$FAKE_LOG")"
	# Every step, in order, each command line complete.
	local want=(
		"ssh .* pi@raspberrypi.local 'uname -m; dpkg --print-architecture 2>/dev/null || true'"
		"assuming armhf"
		"package: $armhf"
		"ssh .* pi@raspberrypi.local mktemp -d /tmp/swarmlight-install.XXXXXX"
		"scp -q .* '\\?$armhf'\\? pi@raspberrypi.local:/tmp/swarmlight-install.XXXXXX/swarmlight.deb"
		"scp -q .* scripts/packaging/pi-install.sh pi@raspberrypi.local:/tmp/swarmlight-install.XXXXXX/"
		"ssh .* pi@raspberrypi.local sudo sh /tmp/swarmlight-install.XXXXXX/pi-install.sh /tmp/swarmlight-install.XXXXXX swarmlight.deb"
		"ssh .* pi@raspberrypi.local systemctl --no-pager status swarmlight.service"
		"sudo dpkg -i /var/cache/swarmlight/swarmlight.previous.deb"
	)
	local pattern line=0 n
	for pattern in "${want[@]}"; do
		n=$(grep -n -e "$pattern" "$d/out" | head -n1 | cut -d: -f1)
		[ -n "$n" ] || { cat "$d/out"; fail "the dry run does not show: $pattern"; }
		[ "$n" -gt "$line" ] || fail "out of order: $pattern"
		line=$n
	done

	# --arch: no uname step, that package; the binaries' old names still work.
	PATH="$d/bin:$PATH" "$repo/scripts/install" --dry-run --arch arm64 pi@10.0.0.7 >"$d/out" 2>&1
	! grep -q 'uname' "$d/out" || fail "--arch still asks uname"
	grep -q "package: $arm64" "$d/out" || fail "--arch arm64 does not copy the arm64 package"
	PATH="$d/bin:$PATH" "$repo/scripts/install" --dry-run --arch armv7 pi@10.0.0.7 >"$d/out" 2>&1
	grep -q "package: $armhf" "$d/out" || fail "--arch armv7 does not mean the armhf package"
	# --deb: that file, named from where the script runs.
	(cd "$work" && PATH="$d/bin:$PATH" "$repo/scripts/install" --dry-run --arch arm64 --deb "dist/${deb_amd64##*/}" pi@10.0.0.7) >"$d/out" 2>&1
	grep -q "package: $deb_amd64" "$d/out" || { cat "$d/out"; fail "--deb is not taken from the caller's directory"; }
	[ ! -s "$FAKE_LOG" ] || fail "the dry run ran: $(cat "$FAKE_LOG")"
	# Bad usage: exit 2, nothing run.
	local rc=0
	"$repo/scripts/install" --dry-run --arch armv5 pi@x >/dev/null 2>&1 || rc=$?
	[ "$rc" = 2 ] || fail "--arch armv5: exit $rc, want 2"
	rc=0
	PATH="$d/bin:$PATH" "$repo/scripts/install" --dry-run -- -oProxyCommand=x >/dev/null 2>&1 || rc=$?
	[ "$rc" != 0 ] || fail "an ssh option was taken for USER@HOST"
	rc=0
	PATH="$d/bin:$PATH" "$repo/scripts/install" --dry-run --deb /nonexistent.deb pi@x >"$d/out" 2>&1 || rc=$?
	{ [ "$rc" = 1 ] && grep -q 'no such package' "$d/out"; } || fail "a missing --deb was not refused clearly"
	[ ! -s "$FAKE_LOG" ] || fail "bad usage ran: $(cat "$FAKE_LOG")"
	echo "info: dry run: 6 steps shown, no ssh or scp run"
}

test_install_arch() {
	local d=$work/install-arch repo
	make_fake_ssh "$d/bin"
	# A checkout with placeholder packages: only the choice is tested here.
	repo=$d/repo
	mkdir -p "$repo/scripts/packaging" "$repo/dist"
	cp scripts/install "$repo/scripts/"
	cp scripts/packaging/pi-install.sh "$repo/scripts/packaging/"
	touch "$repo/dist/swarmlight_1.0_armhf.deb" "$repo/dist/swarmlight_1.0_arm64.deb"
	# The newest build wins over an older one beside it.
	touch -d '2020-01-01' "$repo/dist/swarmlight_0.9_armhf.deb"
	export FAKE_LOG=$d/calls
	local case uname dpkg want
	for case in armv6l:armhf:armhf armv7l:armhf:armhf aarch64:armhf:armhf aarch64:arm64:arm64; do
		IFS=: read -r uname dpkg want <<<"$case"
		: >"$FAKE_LOG"
		FAKE_UNAME=$uname FAKE_DPKG=$dpkg PATH="$d/bin:$PATH" "$repo/scripts/install" pi@pi.lan >"$d/out" 2>&1 ||
			{ cat "$d/out"; fail "install failed against the stand-in ($uname/$dpkg)"; }
		grep -q "^scp .* dist/swarmlight_1.0_$want.deb pi@pi.lan:/tmp/swarmlight-install.Ab12Cd/swarmlight.deb$" "$FAKE_LOG" ||
			{ cat "$FAKE_LOG"; fail "uname -m $uname with a $dpkg OS: not the $want package"; }
		grep -q "sudo sh /tmp/swarmlight-install.Ab12Cd/pi-install.sh /tmp/swarmlight-install.Ab12Cd swarmlight.deb$" "$FAKE_LOG" ||
			fail "pi-install.sh not run"
		grep -q 'no previous package on the Pi' "$d/out" || fail "a first installation offered a rollback"
	done
	local bad
	for bad in x86_64:amd64:'x86_64, not a Raspberry Pi' armv7l::'has no dpkg' armv7l:armel:'runs a armel system'; do
		IFS=: read -r uname dpkg want <<<"$bad"
		: >"$FAKE_LOG"
		if FAKE_UNAME=$uname FAKE_DPKG=$dpkg PATH="$d/bin:$PATH" "$repo/scripts/install" pi@pi.lan >"$d/out" 2>&1; then
			fail "$uname/$dpkg was accepted"
		fi
		grep -q "$want" "$d/out" || { cat "$d/out"; fail "no clear message for $uname/$dpkg"; }
		! grep -q '^scp' "$FAKE_LOG" || fail "files were copied to $uname/$dpkg"
	done
	if FAKE_UNAME=unreachable PATH="$d/bin:$PATH" "$repo/scripts/install" pi@pi.lan >"$d/out" 2>&1; then
		fail "an unreachable host was not an error"
	fi
	grep -q 'could not ask pi@pi.lan its architecture over ssh' "$d/out" || { cat "$d/out"; fail "no clear message for an unreachable host"; }
	echo "info: armv6l, armv7l, aarch64 with armhf->armhf; aarch64 with arm64->arm64; newest package; x86_64, no dpkg, armel and unreachable refused"
}

# scripts/packaging/pi-install.sh, the part of scripts/install that runs as root
# on the Pi, run for real in an overlay root made to look like a running
# Raspberry Pi OS (/run/systemd/system, /run/udev, no policy-rc.d), with
# systemctl, udevadm and modprobe standing in (logging their calls): a first
# install, an upgrade over an edited configuration, an upgrade the new binary's
# check-config refuses, and a service that does not come up.
test_install_remote() {
	[ "$(id -u)" = 0 ] || unavailable "running pi-install.sh in an overlay root needs root"
	have unshare
	have dpkg-deb
	local d=$work/pi v1 v2
	mkdir -p "$d/shared" "$d/x"
	cp "$deb_amd64" "$d/shared/v1.deb"
	cp scripts/packaging/pi-install.sh "$work/manifest.sh" "$work/layout-paths" "$d/shared/"
	v1=$(deb_version "$deb_amd64")
	v2="$v1+1"
	dpkg-deb -R "$deb_amd64" "$d/x"
	sed -i "s/^Version: .*/Version: $v2/" "$d/x/DEBIAN/control"
	dpkg-deb --root-owner-group -Zgzip -z1 -b "$d/x" "$d/shared/v2.deb" >/dev/null
	cat >"$d/shared/inside.sh" <<-'EOF'
		set -eu
		fail() { echo "FAIL: $*"; exit 1; }
		v1=$1 v2=$2
		shift 2
		echo inside
		log=/shared/calls cache=/var/cache/swarmlight
		# A running systemd and udev, as far as postinst and pi-install.sh look.
		mkdir -p /run/systemd/system /run/udev /usr/local/sbin
		rm -f /usr/sbin/policy-rc.d
		for tool in systemctl udevadm modprobe; do
			printf '#!/bin/sh\necho "%s $*" >>%s\n' "$tool" "$log" >"/usr/local/sbin/$tool"
			chmod +x "/usr/local/sbin/$tool"
		done
		# systemctl is-active answers from a file; is-enabled says enabled;
		# what works on the files alone (--root=, as deb-systemd-helper's preset)
		# is the real systemctl's.
		cat >>/usr/local/sbin/systemctl <<-'EOS'
			for a; do
				case $a in
				--root=*) exec /usr/bin/systemctl "$@" ;;
				is-active) exit "$(cat /shared/active)" ;;
				is-enabled) echo enabled; exit 0 ;;
				esac
			done
			exit 0
		EOS
		export PATH=/usr/local/sbin:$PATH
		if dpkg-query -W swarmlight >/dev/null 2>&1; then dpkg -P swarmlight >/dev/null; fi
		rm -rf /etc/swarmlight $cache

		# stage DIR DEB: what scripts/install copies into the staging directory.
		stage() {
			rm -rf "$1"
			mkdir -p "$1"
			cp "/shared/$2" "$1/swarmlight.deb"
			cp /shared/pi-install.sh "$1/"
		}

		# 1. A first install: postinst starts the service, which comes up.
		: >$log
		echo 0 >/shared/active
		stage /tmp/s1 v1.deb
		sh /tmp/s1/pi-install.sh /tmp/s1 swarmlight.deb >/shared/out1 2>&1 || { cat /shared/out1; fail "the first install failed"; }
		[ "$(dpkg-query -W -f '${Status} ${Version}' swarmlight)" = "install ok installed $v1" ] || fail "not installed with dpkg"
		[ -z "$(dpkg --verify swarmlight)" ] || fail "dpkg --verify: $(dpkg --verify swarmlight)"
		cmp -s $cache/swarmlight.deb /shared/v1.deb || fail "the installed package was not kept"
		[ ! -e $cache/swarmlight.previous.deb ] || fail "a previous package without a previous version"
		[ ! -e /tmp/s1 ] || fail "the staging directory was left behind"
		grep -qx 'systemctl --system daemon-reload' $log || fail "no daemon-reload"
		grep -qx 'systemctl --quiet --system start swarmlight.service' $log || { cat $log; fail "not started"; }
		grep -qx 'modprobe i2c-dev' $log || fail "i2c-dev not loaded"
		grep -q '^udevadm trigger .*--subsystem-match=leds' $log || fail "udev rules not applied to the LEDs"
		grep -q 'swarmlight.service is running' /shared/out1 || fail "the service's state was not checked"
		sh /shared/manifest.sh "" /shared/layout-paths "$@" >/shared/manifest

		# 2. An upgrade while running, over the user's edited configuration.
		: >$log
		sed -i 's/^  level: info$/  level: debug/' /etc/swarmlight/swarmlight.yaml
		cp /etc/swarmlight/swarmlight.yaml /tmp/edited.yaml
		stage /tmp/s2 v2.deb
		sh /tmp/s2/pi-install.sh /tmp/s2 swarmlight.deb >/shared/out2 2>&1 || { cat /shared/out2; fail "the upgrade failed"; }
		[ "$(dpkg-query -W -f '${Version}' swarmlight)" = "$v2" ] || fail "not upgraded"
		cmp -s /etc/swarmlight/swarmlight.yaml /tmp/edited.yaml || fail "the user's configuration was overwritten"
		cmp -s $cache/swarmlight.previous.deb /shared/v1.deb || fail "the previous package was not kept for a rollback"
		cmp -s $cache/swarmlight.deb /shared/v2.deb || fail "the new package was not kept"
		grep -qx 'systemctl --quiet --system restart swarmlight.service' $log || { cat $log; fail "a running service was not restarted"; }

		# 3. The new binary rejects the configuration: nothing installed or restarted.
		: >$log
		printf 'bogus_key: 1\n' >>/etc/swarmlight/swarmlight.yaml
		stage /tmp/s3 v1.deb
		if sh /tmp/s3/pi-install.sh /tmp/s3 swarmlight.deb >/shared/out3 2>&1; then fail "a rejected configuration was accepted"; fi
		grep -q 'bogus_key' /shared/out3 || fail "check-config's complaint was not shown"
		grep -q 'nothing installed, nothing restarted' /shared/out3 || fail "no clear message for a rejected configuration"
		[ "$(dpkg-query -W -f '${Version}' swarmlight)" = "$v2" ] || fail "the installed version changed"
		[ ! -s $log ] || fail "something was run: $(cat $log)"
		[ ! -e /tmp/s3 ] || fail "the staging directory was left behind"

		# 4. The rollback it offers: the previous package, with dpkg, and the
		# service that then fails to come up is reported.
		sed -i '/^bogus_key/d' /etc/swarmlight/swarmlight.yaml
		dpkg -i $cache/swarmlight.previous.deb >/dev/null 2>&1 || fail "the rollback package does not install"
		[ "$(dpkg-query -W -f '${Version}' swarmlight)" = "$v1" ] || fail "the rollback did not go back to $v1"
		echo 3 >/shared/active
		stage /tmp/s4 v2.deb
		if sh /tmp/s4/pi-install.sh /tmp/s4 swarmlight.deb >/shared/out4 2>&1; then fail "a service that did not come up went unnoticed"; fi
		grep -q 'swarmlight.service is not running' /shared/out4 || { cat /shared/out4; fail "no clear message for a service that is down"; }
		echo ok
	EOF
	overlay_test "pi-install.sh" "$d" "$d/shared" inside.sh "$v1" "$v2" "${unit_groups[@]}"
	cp "$d/shared/manifest" "$work/manifest.install"
	echo "info: first install (started), upgrade over an edited config (kept; previous package kept; restarted), refused config (nothing done), rollback with dpkg, a service that stays down reported"
}

# ===========================================================================
# layout

# The three ways in leave the same thing behind: dpkg -i in an overlay root,
# flash-image in an image (the armhf package; only the binary and its md5sum
# differ, and each was checked against its own package), and scripts/install's
# root half in an overlay root. Same paths, types, modes, owners, contents, link
# targets, groups, and dpkg record.
test_layout_same() {
	local m missing=()
	for m in dpkg image install; do
		[ -s "$work/manifest.$m" ] || missing+=("$m")
	done
	[ "${#missing[@]}" = 0 ] || unavailable "no manifest from the ${missing[*]} test(s), which did not run here"
	grep -q '^/usr/bin/swarmlight file 0755 0 0 -$' "$work/manifest.dpkg" || { cat "$work/manifest.dpkg"; fail "the manifest is not what it should be"; }
	for m in image install; do
		diff -u "$work/manifest.dpkg" "$work/manifest.$m" >&2 || fail "the $m path leaves different files than dpkg -i (above: - dpkg, + $m)"
	done
	echo "info: $(grep -vc ' absent$' "$work/manifest.dpkg") entries alike in all three, $(grep -c ' absent$' "$work/manifest.dpkg") old-layout paths absent in all three"
}

# ===========================================================================

test_shellcheck() {
	have shellcheck
	shellcheck -x scripts/build-deb scripts/flash-image scripts/install scripts/test-package.sh scripts/e2e.sh scripts/test.sh scripts/soak.sh scripts/lib.sh
	shellcheck -s sh scripts/packaging/pi-install.sh scripts/packaging/deb/postinst scripts/packaging/deb/prerm scripts/packaging/deb/postrm
}

run_test "unit: systemd-analyze verify" test_unit_verify
run_test "unit: syscalls within SystemCallFilter" test_unit_syscalls
run_test "deb: build, contents, reproducible" test_deb_build
run_test "deb: lintian clean" test_deb_lintian
run_test "deb: install/upgrade/purge (overlay root)" test_deb_dpkg
run_test "udev: the rule parses (udevadm test)" test_udev_rule
run_test "image: 32-bit, .img.xz, twice" test_image_32
run_test "image: 64-bit, CRLF, refusals" test_image_64
run_test "install: dry run" test_install_dry_run
run_test "install: architecture rule" test_install_arch
run_test "install: pi-install.sh as root (overlay root)" test_install_remote
run_test "layout: dpkg, flash-image, install: same files" test_layout_same
run_test "lint: shellcheck" test_shellcheck

echo "total $(since "$t_start")"
echo "package: $passed passed, $failed failed"
[ "$failed" = 0 ]
