#!/usr/bin/env bash
# End-to-end test with real BitTorrent clients nobody on this team wrote, all from
# Debian: transmission-cli, aria2c and libtorrent-rasterbar (python3-libtorrent,
# driven by scripts/e2e_libtorrent.py) meet ONLY through swarmlight and move a
# random 20 MiB file, which must arrive with the right SHA-256.
#
# Everything runs in network namespaces this script creates. Their veths meet on a
# bridge that lives in a namespace of its own, so the host gets no interface, no
# address and no route, and no host firewall sees the traffic. The namespaces have
# no IPv6 and no route but their own /24: nothing can leave.
#
# First a check, then runs, each with a fresh tracker and fresh client state:
#   bep41        does each client send the path of a udp:// announce URL
#                (udp://TRACKER:6969/KEY/announce) as BEP 41 URL data? A stand-in
#                tracker (scripts/e2e_bep41.py) records each client's first announce
#                and shows the bytes after offset 98, the key redacted. Only a client
#                that sends it can use a passkey over UDP; the private-udp run uses
#                those (libtorrent: transmission 3.00 and aria2 1.36 send none).
#   http         torrent announcing to http://TRACKER:6969/announce;
#                transmission seeds, aria2 downloads
#   udp          the same over udp://TRACKER:6969/announce (BEP 15); libtorrent
#                seeds, transmission downloads. So every client moves data, and
#                transmission both seeds and downloads.
#   no-tracker   the udp run with no tracker running: not a connection, not a byte
#                between the clients, which proves they had no other way to meet.
#   listed       access.mode listed, the allow list holding torrent A only (added by
#                `swarmlight list add A.torrent`): A moves data over HTTP
#                (transmission -> aria2); B, the same file in other pieces, over UDP
#                (libtorrent -> a second libtorrent) is told "torrent not tracked
#                here", and its two clients never connect.
#   private-http access.mode private, keys made by `swarmlight key add`; the torrent
#                is marked private (BEP 27) and each client announces to its own
#                http://TRACKER:6969/KEY/announce (transmission -> aria2).
#   private-udp  the same over udp://TRACKER:6969/KEY/announce (BEP 41), between
#                two libtorrents, the client the bep41 check shows sending the key.
#   wrong-key    private-http, but the downloader's key was never issued: it is
#                told "missing or invalid passkey" and never meets the seeder.
# In every client of every run DHT, PEX, local peer discovery and UPnP/NAT-PMP are
# off (see "Clients" below for how each is told).
# After each download an HTTP scrape must report complete >= 1 and downloaded >= 1,
# and once both clients have stopped, complete=0 incomplete=0 with the download
# still counted.
#
# Needs root (namespaces) and apt-get for missing clients. Without them it prints
# SKIP and exits 0, except under CI=true where that is a failure.
#
# Environment: SWARMLIGHT_BIN=PATH tests that binary instead of building one;
# E2E_RUN_TIMEOUT (seconds per run, default 120); E2E_NEGATIVE_TIMEOUT (default 20);
# E2E_KEEP=1 keeps the temp dir (logs, torrents) for a look afterwards;
# E2E_ONLY="bep41 listed" runs only the runs named (a check of one part while
# working on it; `make test` runs them all).
set -euo pipefail
export LC_ALL=C # byte-wise grep on bencoded replies, and a '.' in EPOCHREALTIME
cd "$(dirname "$0")/.."

GO=${GO:-go}
RUN_TIMEOUT=${E2E_RUN_TIMEOUT:-120}
NEG_TIMEOUT=${E2E_NEGATIVE_TIMEOUT:-20}
SIZE_MIB=20
PIECE_LOG2=18 # 256 KiB pieces: 80 of them, a typical size for a file this big
PORT=6969
# Every process is also wrapped in timeout(1): even if this script is SIGKILLed and
# its cleanup never runs, nothing it started outlives it by more than this.
LIFETIME=$((RUN_TIMEOUT + 60))
id="sl$$" # prefix of every namespace this run creates; cleanup touches only these

say() { printf 'e2e: %s\n' "$*"; }
die() {
	say "FAIL: $*"
	exit 1
}
# skip: the machine cannot run this test. Fine on a laptop, a failure in CI.
skip() {
	if [ "${CI:-}" = true ]; then
		die "$* (CI=true makes this a failure)"
	fi
	printf 'SKIP: e2e: %s\n' "$*"
	exit 0
}

[ -n "${EPOCHREALTIME:-}" ] || skip "needs bash 5 (EPOCHREALTIME)"
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

[ "$(id -u)" -eq 0 ] || skip "needs root for network namespaces (try: sudo make e2e)"

# ---------------------------------------------------------------------------------
# Cleanup. Registered before anything is created, and it removes only what this run
# created: the PIDs it recorded (and only while they still sit in one of its
# namespaces, so a recycled PID is never hit), then anything left in its namespaces,
# then the namespaces themselves (which takes their veths and the bridge along),
# then the temp dir.

work=$(mktemp -d "${TMPDIR:-/tmp}/swarmlight-e2e.XXXXXX")
pidfile=$work/pids
: >"$pidfile"
NAMESPACES=()

ours() { # ours PID: is PID inside one of this run's namespaces?
	local ns
	ns=$(ip netns identify "$1" 2>/dev/null) || return 1
	[[ $ns == "$id"-* ]]
}

alive() { # alive PID: running (not gone, not a zombie)
	local st
	st=$(cut -d')' -f2 "/proc/$1/stat" 2>/dev/null) || return 1
	[[ $st != " Z"* ]]
}

# stop_recorded: SIGTERM every recorded process of ours, give them 5 s, then
# SIGKILL whatever is still inside our namespaces.
stop_recorded() {
	local pid ns i left
	while read -r pid; do
		if ours "$pid"; then kill -TERM "$pid" 2>/dev/null || true; fi
	done <"$pidfile"
	for ((i = 0; i < 50; i++)); do
		left=0
		while read -r pid; do
			if alive "$pid" && ours "$pid"; then left=1; fi
		done <"$pidfile"
		[ "$left" = 0 ] && break
		sleep 0.1
	done
	for ns in "${NAMESPACES[@]}"; do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null || true
		done
	done
}

run_pid= # the subshell of the run in progress, if any

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ -n "$run_pid" ]; then kill -TERM "$run_pid" 2>/dev/null || true; fi
	stop_recorded
	local ns
	for ns in "${NAMESPACES[@]}"; do
		ip netns del "$ns" 2>/dev/null || say "warning: could not delete namespace $ns"
	done
	if [ "${E2E_KEEP:-}" = 1 ]; then
		say "kept $work"
	else
		rm -rf "$work"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'say "interrupted, cleaning up"; exit 130' INT
trap 'say "terminated, cleaning up"; exit 143' TERM

# ---------------------------------------------------------------------------------
# Tools: install only what is missing, from Debian's own packages.

declare -A package_of=(
	[ip]=iproute2 [curl]=curl [mktorrent]=mktorrent [aria2c]=aria2
	[transmission-cli]=transmission-cli [transmission-show]=transmission-cli
)
missing=()
for cmd in "${!package_of[@]}"; do
	command -v "$cmd" >/dev/null 2>&1 || missing+=("${package_of[$cmd]}")
done
# libtorrent is a Python module: Debian's, for Debian's python3. Named by full
# path, since PATH may find another python3 (pyenv, a venv) first; -I keeps
# PYTHON* variables and user site-packages out.
PY=(/usr/bin/python3 -I)
lt_driver=$PWD/scripts/e2e_libtorrent.py
"${PY[@]}" -c 'import libtorrent' >/dev/null 2>&1 || missing+=(python3-libtorrent)
if [ "${#missing[@]}" -gt 0 ]; then
	mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
	command -v apt-get >/dev/null 2>&1 || skip "missing ${missing[*]} and no apt-get to install them"
	t=$(now_us)
	say "installing ${missing[*]}"
	# Bounded like everything else: a dead mirror must not hang the suite.
	if ! { timeout 300 apt-get update && DEBIAN_FRONTEND=noninteractive \
		timeout 300 apt-get install -y --no-install-recommends "${missing[@]}"; } >"$work/apt.log" 2>&1; then
		tail -n 15 "$work/apt.log"
		skip "apt-get could not install ${missing[*]}"
	fi
	say "installed in $(since "$t")"
fi
say "clients: $(transmission-cli --version 2>&1 | head -n1), $(aria2c --version | head -n1), libtorrent $("${PY[@]}" -c 'import libtorrent; print(libtorrent.__version__)'), $(mktorrent -h 2>&1 | head -n1 | cut -d' ' -f1-2)"

# ---------------------------------------------------------------------------------
# The tracker under test: the given binary, or one built from this tree.

if [ -n "${SWARMLIGHT_BIN:-}" ]; then
	bin=$(realpath "$SWARMLIGHT_BIN")
	say "tracker binary: $bin"
else
	t=$(now_us)
	CGO_ENABLED=0 $GO build -trimpath -o "$work/swarmlight" ./cmd/swarmlight ||
		die "go build ./cmd/swarmlight failed"
	bin=$work/swarmlight
	say "built swarmlight in $(since "$t")"
fi

# The tracker and its CLI read SWARMLIGHT_* variables over the run's config file:
# none may come in from the caller's environment.
for v in "${!SWARMLIGHT_@}"; do
	[ "$v" = SWARMLIGHT_BIN ] || unset "$v"
done

# ---------------------------------------------------------------------------------
# Network. 10.231.N.0/24 exists only inside our namespaces, so it cannot clash with
# the host's networks; still, pick an N the host does not use, to keep logs
# unambiguous. 10.x is inside the tracker's default allowed_networks.

subnet=
host_nets=$(ip -4 -o addr show; ip -4 route show table all 2>/dev/null || true)
for n in 69 96 169 196 231; do
	if ! grep -q "10\.231\.$n\." <<<"$host_nets"; then
		subnet=10.231.$n
		break
	fi
done
[ -n "$subnet" ] || die "the host uses every 10.231.N.0/24 this test would pick"

ns_switch=$id-switch
ns_tracker=$id-tracker
ns_transmission=$id-transmission
ns_aria2=$id-aria2
ns_libtorrent=$id-libtorrent
ns_libtorrent2=$id-libtorrent2
tracker_ip=$subnet.1
# libtorrent2 is a second libtorrent peer: the only client that sends a UDP URL's
# path (BEP 41) is libtorrent, and a private UDP swarm needs two of them.
declare -A addr_of=([transmission]=$subnet.2 [aria2]=$subnet.3 [libtorrent]=$subnet.4 [libtorrent2]=$subnet.5)
declare -A ns_of=([transmission]=$ns_transmission [aria2]=$ns_aria2 [libtorrent]=$ns_libtorrent [libtorrent2]=$ns_libtorrent2)

# new_ns NAME: a namespace with loopback up and IPv6 off (no link-local addresses,
# so no IPv6 path of any kind between the clients).
new_ns() {
	ip netns add "$1"
	NAMESPACES+=("$1")
	ip netns exec "$1" sh -c 'echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6;
		echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6' 2>/dev/null || true
	ip -n "$1" link set lo up
}

t=$(now_us)
# The first namespace doubles as the check that namespaces work here at all.
if ! err=$(ip netns add "$ns_switch" 2>&1); then
	skip "cannot create network namespaces: $err"
fi
NAMESPACES+=("$ns_switch")
ip -n "$ns_switch" link add br0 type bridge ||
	skip "cannot create a bridge in a network namespace"
ip -n "$ns_switch" link set br0 up
port=0
for pair in "$ns_tracker:$tracker_ip" "$ns_transmission:${addr_of[transmission]}" \
	"$ns_aria2:${addr_of[aria2]}" "$ns_libtorrent:${addr_of[libtorrent]}" \
	"$ns_libtorrent2:${addr_of[libtorrent2]}"; do
	ns=${pair%%:*} addr=${pair#*:}
	new_ns "$ns"
	port=$((port + 1))
	# One veth per namespace: eth0 inside it, portN on the bridge.
	ip -n "$ns" link add eth0 type veth peer name "port$port" netns "$ns_switch" ||
		skip "cannot create veth pairs between network namespaces"
	ip -n "$ns_switch" link set "port$port" master br0 up
	ip -n "$ns" addr add "$addr/24" dev eth0
	ip -n "$ns" link set eth0 up
	# Multicast stays on the bridge, which has no uplink. With this route, local
	# peer discovery (multicast 239.192.152.143) WOULD work if a client had it
	# on, so the no-tracker run really tests that it is off.
	ip -n "$ns" route add 224.0.0.0/4 dev eth0
	# Trust, but verify: no default route, nothing but our /24 and multicast.
	for dst in $(ip -n "$ns" -4 route show | cut -d' ' -f1) \
		$(ip -n "$ns" -6 route show default 2>/dev/null | cut -d' ' -f1); do
		case $dst in
		"$subnet.0/24" | 224.0.0.0/4) ;;
		*) die "unexpected route to $dst in $ns" ;;
		esac
	done
done
say "network: bridge in $ns_switch, tracker $tracker_ip, transmission ${addr_of[transmission]}, aria2 ${addr_of[aria2]}, libtorrent ${addr_of[libtorrent]} and ${addr_of[libtorrent2]} (/24 and multicast only) in $(since "$t")"

# ---------------------------------------------------------------------------------
# The payload: random bytes, so nothing but a real transfer can produce the hash.

t=$(now_us)
mkdir "$work/src"
payload=$work/src/payload.bin
head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom >"$payload"
payload_sha=$(sha256sum "$payload" | cut -d' ' -f1)
say "payload: $SIZE_MIB MiB random, sha256 ${payload_sha:0:16}... in $(since "$t")"

# ---------------------------------------------------------------------------------
# Helpers for one run. They run inside the run's subshell and use its variables:
# run, rundir, deadline, and procs (name -> PID of what this run started).

fail() {
	say "$run: FAIL: $*"
	exit 1
}

# spawn NAME NS OUT ERR CMD...: start CMD in namespace NS in the background, bounded
# by LIFETIME, and record its PID.
spawn() {
	local name=$1 ns=$2 out=$3 err=$4
	shift 4
	ip netns exec "$ns" timeout -k 5 "$LIFETIME" "$@" >"$out" 2>"$err" &
	procs[$name]=$!
	echo "$!" >>"$pidfile"
}

# poll SECONDS CMD...: run CMD every 0.25 s until it succeeds (0), SECONDS or the
# run's deadline pass (1), or a process of this run exits (2, and says which).
poll() {
	local end=$(($(now_us) + $1 * 1000000)) name status
	shift
	[ "$end" -le "$deadline" ] || end=$deadline
	while :; do
		"$@" && return 0
		for name in "${!procs[@]}"; do
			if ! alive "${procs[$name]}"; then
				status=0
				wait "${procs[$name]}" || status=$?
				say "$run: $name exited with status $status"
				unset "procs[$name]"
				return 2
			fi
		done
		[ "$(now_us)" -lt "$end" ] || return 1
		sleep 0.25
	done
}

# stop NAME [SIGNAL]: send it SIGNAL (TERM by default), wait up to 5 s (SIGKILL
# after), and set `status` to its exit status.
stop() {
	local pid=${procs[$1]} i
	kill -"${2:-TERM}" "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		alive "$pid" || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	status=0
	wait "$pid" || status=$?
	unset "procs[$1]"
}

# write_config [MODE]: the run's own config file, so neither /etc/swarmlight nor
# ./configs leaks in; the defaults stay in force except the log level (logs never
# hold peer data), a peer timeout short enough that a client that leaves without
# saying so is gone within the run, and the access mode (open by default) with its
# list and key files in the run's directory. The CLI (key add, list add) reads the
# same file as the tracker.
write_config() {
	local mode=${1:-open}
	printf 'log:\n  level: debug\ntracker:\n  interval: 10s\n  min_interval: 5s\n  peer_timeout: 15s\n' >"$rundir/swarmlight.yaml"
	if [ "$mode" != open ]; then
		: >"$rundir/allow.list"
		: >"$rundir/deny.list"
		printf 'access:\n  mode: %s\n  allow_file: %s\n  deny_file: %s\n  key_file: %s\n' \
			"$mode" "$rundir/allow.list" "$rundir/deny.list" "$rundir/passkeys" >>"$rundir/swarmlight.yaml"
	fi
}

# cli ARGS...: the tracker's command line, on the run's config, its output in
# cli.txt, not a .log: key add prints a key, and a failed run shows its *.log
# files (the file stays only with E2E_KEEP=1).
cli() {
	printf '$ swarmlight %s\n' "$*" >>"$rundir/cli.txt"
	"$bin" "$@" --config "$rundir/swarmlight.yaml" 2>&1 | tee -a "$rundir/cli.txt"
	return "${PIPESTATUS[0]}"
}

# make_key LABEL: a member key from `swarmlight key add LABEL`, in key_of[LABEL].
# The key is the 32 hex digits it prints once; the member URLs it prints must
# carry it.
make_key() {
	local out k
	if ! out=$(cli key add "$1"); then
		grep -q 'unknown command "key"' <<<"$out" && fail "this swarmlight has no \`key\` command: a private run needs \`swarmlight key add\`"
		fail "swarmlight key add $1 failed: $(tail -n 3 <<<"$out")"
	fi
	k=$(grep -oE '(^|[^0-9a-f])[0-9a-f]{32}([^0-9a-f]|$)' <<<"$out" | grep -oE '[0-9a-f]{32}' | head -n1) ||
		fail "swarmlight key add $1 printed no 32-hex-digit key"
	grep -qF "/$k/announce" <<<"$out" || fail "swarmlight key add $1 printed no announce URL with its key"
	key_of[$1]=$k
	say "$run: key add $1: a new key (printed once, with its member URLs)"
}

# start_tracker PROTO: a fresh swarmlight in its namespace, serving HTTP (always:
# the scrape check uses it) and, for udp, UDP on the same port. Ready once it has
# printed every announce URL this run needs, which it does after binding.
start_tracker() {
	local proto=$1 t
	t=$(now_us)
	[ -f "$rundir/swarmlight.yaml" ] || write_config
	local args=(serve --config "$rundir/swarmlight.yaml" --http.listen "$tracker_ip:$PORT")
	want_urls=("http://$tracker_ip:$PORT/announce")
	if [ "$proto" = udp ]; then
		args+=(--udp.listen "$tracker_ip:$PORT")
		want_urls+=("udp://$tracker_ip:$PORT/announce")
	fi
	spawn tracker "$ns_tracker" "$rundir/tracker.out" "$rundir/tracker.log" "$bin" "${args[@]}"
	local rc=0
	poll 10 tracker_printed_urls || rc=$?
	case $rc in
	0) say "$run: tracker up, printed ${want_urls[*]} ($(since "$t"))" ;;
	2)
		if grep -q 'unknown flag: --udp.listen' "$rundir/tracker.log"; then
			fail "this swarmlight has no UDP front yet: it rejects --udp.listen, so nothing serves udp://$tracker_ip:$PORT/announce"
		fi
		fail "tracker exited before serving ${want_urls[*]}: $(head -n1 "$rundir/tracker.log")"
		;;
	*) fail "tracker did not print ${want_urls[*]} within 10 s" ;;
	esac
}
tracker_printed_urls() {
	local u
	for u in "${want_urls[@]}"; do
		grep -qxF "$u" "$rundir/tracker.out" || return 1
	done
}

# Clients. Each gets a fresh state dir under rundir and $HOME pointing there, so no
# user configuration, cache or DHT state comes in, and its own namespace and
# address, to which it binds. Every one is told: no DHT, no PEX, no local peer
# discovery, no UPnP/NAT-PMP, so the tracker is the only way to meet:
#   transmission  dht-, pex-, lpd-enabled false; port-forwarding-enabled false
#                 (that is UPnP and NAT-PMP both)
#   aria2         --enable-dht=false --enable-dht6=false --enable-peer-exchange=false
#                 --bt-enable-lpd=false; it has no UPnP or NAT-PMP at all. It cannot
#                 announce to udp:// with its DHT off (it sends UDP tracker requests
#                 through the DHT socket), so it serves only in the http run.
#   libtorrent    enable_dht, enable_lsd, enable_upnp, enable_natpmp false, and a
#                 session without plugins, so no ut_pex (PEX) and no ut_metadata;
#                 it also fails if a peer ever comes from DHT, PEX or LSD, or on any
#                 DHT or port-mapping alert. See scripts/e2e_libtorrent.py.
# All speak TCP only (uTP off where a client has it). Transmission prefers
# encryption; aria2 and libtorrent accept both plain and encrypted, so whichever
# side connects, the handshake agrees.

# start_transmission ROLE TORRENT (ROLE: seed or leech)
start_transmission() {
	local role=$1 torrent=$2 dir=$rundir/transmission
	mkdir -p "$dir/config" "$dir/data"
	if [ "$role" = seed ]; then cp "$payload" "$dir/data/"; fi
	# uTP off: aria2 speaks TCP only, and one transport keeps failures readable.
	# port-forwarding-enabled covers both UPnP and NAT-PMP.
	# message-level 3 (debug) logs announces and verification.
	cat >"$dir/config/settings.json" <<-EOF
		{
		  "dht-enabled": false,
		  "pex-enabled": false,
		  "lpd-enabled": false,
		  "port-forwarding-enabled": false,
		  "utp-enabled": false,
		  "encryption": 1,
		  "blocklist-enabled": false,
		  "rpc-enabled": false,
		  "bind-address-ipv4": "${addr_of[transmission]}",
		  "peer-port": 51413,
		  "peer-port-random-on-start": false,
		  "peer-limit-global": 20,
		  "peer-limit-per-torrent": 10,
		  "download-dir": "$dir/data",
		  "incomplete-dir-enabled": false,
		  "rename-partial-files": true,
		  "ratio-limit-enabled": false,
		  "idle-seeding-limit-enabled": false,
		  "download-queue-enabled": false,
		  "seed-queue-enabled": false,
		  "speed-limit-down-enabled": false,
		  "speed-limit-up-enabled": false,
		  "alt-speed-enabled": false,
		  "message-level": 3
		}
	EOF
	local args=(-g "$dir/config" -w "$dir/data" -M -ep -B -D -U -p 51413)
	if [ "$role" = seed ]; then args+=(-v); fi # check the data first, then seed it
	spawn transmission "$ns_transmission" "$rundir/transmission.out" "$rundir/transmission.log" \
		env HOME="$dir" transmission-cli "${args[@]}" "$torrent"
}
# Its status line on stdout is block-buffered; the log on stderr is not.
transmission_seeding() { grep -q 'Verification is done' "$rundir/transmission.log"; }

# start_aria2 ROLE TORRENT
start_aria2() {
	local role=$1 torrent=$2 dir=$rundir/aria2 opts=()
	mkdir -p "$dir/data"
	if [ "$role" = seed ]; then
		cp "$payload" "$dir/data/"
		opts+=(--check-integrity=true) # verify the copy, then seed it
	fi
	# With its DHT off, aria2 answers udp:// with "udp is not supported yet": it
	# sends UDP tracker requests through its DHT socket. So no udp:// for aria2.
	if transmission-show "$torrent" | grep -q 'udp://'; then
		fail "aria2 cannot announce to a udp:// URL with its DHT off; use it with http:// only"
	fi
	# --seed-ratio=0.0: seed until stopped (the downloader too, so the scrape sees
	# it complete); --stop-with-process: exit if this script is gone.
	spawn aria2 "$ns_aria2" "$rundir/aria2.out" "$rundir/aria2.err" \
		env HOME="$dir" aria2c --no-conf=true --no-netrc=true \
		--dir="$dir/data" --log="$rundir/aria2.log" --log-level=info \
		--console-log-level=notice --summary-interval=0 --show-console-readout=false \
		--enable-color=false --enable-rpc=false --disable-ipv6=true \
		--enable-dht=false --enable-dht6=false --enable-peer-exchange=false --bt-enable-lpd=false \
		--bt-require-crypto=false --bt-min-crypto-level=plain \
		--listen-port=6881 --bt-max-peers=10 --file-allocation=none \
		--bt-tracker-connect-timeout=5 --bt-tracker-timeout=10 \
		--seed-ratio=0.0 --stop-with-process=$$ "${opts[@]}" \
		"$torrent"
}
aria2_seeding() { grep -q 'Seeder state' "$rundir/aria2.log" 2>/dev/null; }

# start_libtorrent ROLE TORRENT: scripts/e2e_libtorrent.py, bound to its address.
# Its deadline (to seed, or to complete the download) is what is left of the run's;
# once done it seeds until stopped, like the others. start_libtorrent2 is a second
# one, in a namespace of its own.
start_libtorrent() { start_lt libtorrent "$@"; }
start_libtorrent2() { start_lt libtorrent2 "$@"; }
start_lt() {
	local name=$1 role=$2 torrent=$3 dir=$rundir/$1 mode=download
	mkdir -p "$dir/data"
	if [ "$role" = seed ]; then
		cp "$payload" "$dir/data/"
		mode=seed # it checks the copy, then seeds it
	fi
	spawn "$name" "${ns_of[$name]}" "$rundir/$name.log" "$rundir/$name.err" \
		env HOME="$dir" "${PY[@]}" "$lt_driver" "$mode" --torrent "$torrent" \
		--save-dir "$dir/data" --listen "${addr_of[$name]}:6881" \
		--deadline $(((deadline - $(now_us)) / 1000000))
}
libtorrent_seeding() { grep -q '] seeding: ' "$rundir/libtorrent.log" 2>/dev/null; }
libtorrent2_seeding() { grep -q '] seeding: ' "$rundir/libtorrent2.log" 2>/dev/null; }

# told CLIENT REASON: the client's log shows the tracker's failure reason. Over UDP
# libtorrent 2.0.8 reports the failure without its text (the tracker does send it:
# the refused line of the tracker's log, see tracker_refused, counts it by reason).
told() {
	case $1 in
	libtorrent*) grep -qF -e "tracker failure reason: $2" -e 'tracker sent a failure message ""' "$rundir/$1.log" 2>/dev/null ;;
	aria2) grep -qF "$2" "$rundir/aria2.log" 2>/dev/null ;;
	transmission) grep -qF "$2" "$rundir/transmission.log" 2>/dev/null ;;
	esac
}

# tracker_refused FRONT REASON: the tracker's aggregate refused line (logged every
# 10 s while it refuses) counts refusals of REASON on FRONT (http or udp).
tracker_refused() { grep -qF "\"$1: $2\"=" "$rundir/tracker.log"; }

# leecher_done: the downloader's copy is complete and its SHA-256 is the payload's.
# Transmission keeps a .part name until done, aria2 and libtorrent write in place:
# a cheap cmp (which stops at the first missing piece) gates the hash, so polling
# does not steal CPU from the transfer.
leecher_done() {
	local f=$rundir/$leecher/data/payload.bin
	[ -f "$f" ] && cmp -s "$f" "$payload" &&
		[ "$(sha256sum "$f" | cut -d' ' -f1)" = "$payload_sha" ]
}

# leecher_bytes [LEECHER]: payload bytes the downloader has written (allocated
# blocks, so a sparse preallocated file counts only what arrived), in payload.bin
# or transmission's payload.bin.part; aria2's own payload.bin.aria2 does not count.
leecher_bytes() {
	find "$rundir/${1:-$leecher}/data" -type f \( -name payload.bin -o -name payload.bin.part \) \
		-printf '%b\n' | awk '{ n += $1 } END { print n * 512 }'
}

# peers_met [SEEDER LEECHER]: the two clients have a TCP connection, or the
# downloader has payload bytes; says which in met_how.
peers_met() {
	local s=${1:-$seeder} l=${2:-$leecher} conns bytes
	conns=$(ip netns exec "${ns_of[$l]}" ss -Htn state established dst "${addr_of[$s]}")
	bytes=$(leecher_bytes "$l")
	if [ -n "$conns" ]; then
		met_how="$l has a TCP connection with $s"
	elif [ "$bytes" != 0 ]; then
		met_how="$l has $bytes bytes of the payload"
	else
		return 1
	fi
}

# scrape: the tracker's counts for our torrent, over HTTP from the downloader's
# namespace, as "complete=N downloaded=N incomplete=N". In a private run it
# presents scrape_key, a member's key.
scrape() {
	local reply key n out=() path=/scrape
	if [ -n "${scrape_key:-}" ]; then path=/$scrape_key/scrape; fi
	reply=$(ip netns exec "${ns_of[$leecher]}" curl -sS --max-time 5 \
		"http://$tracker_ip:$PORT$path?info_hash=$hash_escaped" | tr -d '\0') || return 1
	for key in complete downloaded incomplete; do
		# bencode: <len>:<key>i<n>e. "8:complete" is not a suffix of "10:incomplete".
		n=$(grep -aoE "${#key}:${key}i[0-9]+e" <<<"$reply" | head -n1) || true
		n=${n#*:"$key"i}
		out+=("$key=${n%e}")
	done
	echo "${out[*]}"
}
# scrape_has MIN_COMPLETE MIN_DOWNLOADED
scrape_has() {
	local s c d
	s=$(scrape) || return 1
	last_scrape=$s
	c=$(sed -n 's/^complete=\([0-9]*\) .*/\1/p' <<<"$s")
	d=$(sed -n 's/.* downloaded=\([0-9]*\) .*/\1/p' <<<"$s")
	[ "${c:-0}" -ge "$1" ] && [ "${d:-0}" -ge "$2" ]
}
# scrape_left: everyone has left (complete=0 incomplete=0) and the snatch is still
# counted (downloaded>=1): an emptied swarm keeps its completed count.
scrape_left() {
	local s
	s=$(scrape) || return 1
	last_scrape=$s
	[[ $s =~ ^complete=0\ downloaded=[1-9][0-9]*\ incomplete=0$ ]]
}

# ---------------------------------------------------------------------------------
# One run.

# make_torrent FILE URL [mktorrent options]: a torrent of the payload announcing to
# URL, and its info-hash in `hash`.
make_torrent() {
	local file=$1 url=$2 out
	shift 2
	out=$(mktorrent -l "$PIECE_LOG2" "$@" -a "$url" -o "$file" "$payload" 2>&1) ||
		fail "mktorrent failed: $out"
	hash=$(transmission-show "$file" | sed -n 's/^ *Hash\( v1\)\{0,1\}: *\([0-9a-f]\{40\}\)$/\2/p')
	[ -n "$hash" ] || fail "no info-hash from transmission-show $file"
}

# escape HASH: the 20 raw bytes, url-escaped: %XX for every pair of hex digits.
# shellcheck disable=SC2001 # ${var//} has no "every pair of characters"
escape() { sed 's/../%&/g' <<<"$1"; }

# announce_reply URL_PATH HASH: a bare announce for HASH to http://TRACKER:6969/PATH
# from the downloader's namespace, as curl sees it (NULs dropped).
announce_reply() {
	ip netns exec "${ns_of[$leecher]}" curl -sS --max-time 5 \
		"http://$tracker_ip:$PORT$1?info_hash=$(escape "$2")&peer_id=-E2E001-000000000001&port=6999&left=0" |
		tr -d '\0'
}

# refused REASON REPLY: REPLY is a bencoded failure with exactly that reason.
refused() { grep -qF "14:failure reason${#1}:$1" <<<"$2"; }
# printable TEXT: TEXT with every byte that is not printable ASCII shown as '.'.
printable() { tr -c '[:print:]' '.' <<<"$1"; }

# run_swarm PROTO SEEDER LEECHER EXPECT [ACCESS]
#   PROTO: http or udp (the torrent's announce URL); SEEDER/LEECHER: transmission,
#   aria2 (http only), libtorrent or libtorrent2; EXPECT: complete (tracker
#   running), stall (no tracker at all) or wrong-key (the leecher's key was never
#   issued); ACCESS: open (default) or private, where each client has its own key
#   URL in its own copy of the torrent, marked private.
run_swarm() {
	proto=$1 seeder=$2 leecher=$3
	local expect=$4 access=${5:-open} t rc c
	declare -gA key_of=() torrent_of=()

	write_config "$access"
	if [ "$access" = private ]; then
		make_key "$seeder"
		if [ "$expect" = wrong-key ]; then
			# 128 random bits no one issued: the shape of a key, and not one.
			key_of[$leecher]=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
		else
			make_key "$leecher"
		fi
		# The seeder's key reads the counts: the leecher's may be a wrong one.
		scrape_key=${key_of[$seeder]}
		local want_hash=
		for c in "$seeder" "$leecher"; do
			torrent_url=$proto://$tracker_ip:$PORT/${key_of[$c]}/announce
			# -p: private (BEP 27), so clients meet only through this tracker.
			make_torrent "$rundir/$c.torrent" "$torrent_url" -p
			transmission-show "$rundir/$c.torrent" | grep -q 'Private torrent' ||
				fail "$c's copy of the torrent is not marked private"
			torrent_of[$c]=$rundir/$c.torrent
			# The announce URL lies outside the info dictionary: one swarm.
			[ -z "$want_hash" ] || [ "$hash" = "$want_hash" ] ||
				fail "$c's copy of the torrent has info-hash $hash, the seeder's $want_hash"
			want_hash=$hash
		done
		say "$run: private torrent (BEP 27), info-hash $hash; $seeder and $leecher each announce to $proto://$tracker_ip:$PORT/<own key>/announce"
	else
		scrape_key=
		torrent_url=$proto://$tracker_ip:$PORT/announce
		make_torrent "$rundir/payload.torrent" "$torrent_url"
		torrent_of[$seeder]=$rundir/payload.torrent
		torrent_of[$leecher]=$rundir/payload.torrent
		say "$run: torrent for $torrent_url, info-hash $hash"
	fi
	hash_escaped=$(escape "$hash")

	if [ "$expect" = stall ]; then
		say "$run: no tracker at $tracker_ip; otherwise exactly the $proto run's setup"
	else
		start_tracker "$proto"
	fi

	t=$(now_us)
	"start_$seeder" seed "${torrent_of[$seeder]}"
	rc=0
	poll 30 "${seeder}_seeding" || rc=$?
	[ "$rc" = 0 ] || fail "$seeder did not verify its copy and start seeding within 30 s"
	say "$run: $seeder verified its copy and seeds ($(since "$t"))"

	if [ "$expect" != stall ]; then
		# Start the downloader only once the tracker knows the seeder, so its first
		# announce already returns a peer and the timing below is the transfer's.
		t=$(now_us)
		rc=0
		poll 20 scrape_has 1 0 || rc=$?
		[ "$rc" = 0 ] || fail "tracker never listed $seeder as a seeder (last scrape: ${last_scrape:-none})"
		say "$run: tracker lists the seeder: ${last_scrape} ($(since "$t"))"
	fi
	if [ "$access" = private ]; then
		# The door itself: the same announce and scrape, without a key, are refused.
		local reason="missing or invalid passkey" reply
		reply=$(announce_reply /announce "$hash")
		refused "$reason" "$reply" || fail "an announce without a key was not refused with \"$reason\": $(printable "$reply")"
		reply=$(ip netns exec "${ns_of[$leecher]}" curl -sS --max-time 5 \
			"http://$tracker_ip:$PORT/scrape?info_hash=$hash_escaped" | tr -d '\0')
		refused "$reason" "$reply" || fail "a scrape without a key was not refused with \"$reason\": $(printable "$reply")"
		say "$run: without a key, announce and scrape are refused: \"$reason\""
	fi

	t=$(now_us)
	"start_$leecher" leech "${torrent_of[$leecher]}"
	case $expect in
	stall | wrong-key)
		# Not the whole file, not a byte of it, not even a connection: any of these
		# means the two peers met some other way.
		rc=0
		poll "$NEG_TIMEOUT" peers_met || rc=$?
		case $rc in
		0) fail "$met_how: the peers met some other way" ;;
		2) fail "a client exited during the wait" ;;
		esac
		if [ "$expect" = stall ]; then
			say "$run: without a tracker, no connection and 0 bytes between $seeder and $leecher in $(since "$t"), as it must"
			return 0
		fi
		local reason="missing or invalid passkey" reply
		told "$leecher" "$reason" || fail "$leecher's log does not show the tracker's \"$reason\""
		reply=$(announce_reply "/${key_of[$leecher]}/announce" "$hash")
		refused "$reason" "$reply" || fail "an announce with the wrong key was not refused with \"$reason\": $(printable "$reply")"
		say "$run: with a wrong key $leecher is told \"$reason\", and gets no connection and 0 bytes from $seeder in $(since "$t")"
		stop "$leecher" INT
		stop "$seeder" INT
		stop tracker
		[ "$status" = 0 ] || fail "tracker exited with status $status on SIGTERM, not 0"
		return 0
		;;
	esac

	rc=0
	poll "$RUN_TIMEOUT" leecher_done || rc=$?
	case $rc in
	0) say "$run: download of $SIZE_MIB MiB verified in $(since "$t") ($seeder -> $leecher, sha256 matches)" ;;
	2) fail "a client exited before the download completed" ;;
	*) fail "$leecher did not complete the download within the run's $RUN_TIMEOUT s" ;;
	esac
	finish_swarm
}

# finish_swarm: after a download, the tracker counts it; once both clients leave,
# the swarm empties and its snatch outlives it; the tracker stops cleanly.
finish_swarm() {
	local t rc
	# The downloader announces event=completed and stays as a seeder: the tracker
	# must count at least one seeder and one completed download.
	t=$(now_us)
	rc=0
	poll 20 scrape_has 1 1 || rc=$?
	[ "$rc" = 0 ] || fail "scrape never showed complete>=1 and downloaded>=1 (last: ${last_scrape:-none})"
	say "$run: scrape: ${last_scrape} ($(since "$t"))"

	# Both leave (SIGINT, Ctrl-C, is what each client leaves gracefully on;
	# transmission-cli handles no other), by event=stopped or, for a client that
	# does not get it out before it exits, by the peer timeout: the swarm empties,
	# and its snatch must outlive it (tracker.torrent_retention).
	stop "$leecher" INT
	stop "$seeder" INT
	t=$(now_us)
	rc=0
	poll 30 scrape_left || rc=$?
	[ "$rc" = 0 ] || fail "after both clients left, scrape never showed complete=0 downloaded>=1 incomplete=0 (last: ${last_scrape:-none})"
	say "$run: after both left: ${last_scrape} ($(since "$t"))"

	stop tracker
	[ "$status" = 0 ] || fail "tracker exited with status $status on SIGTERM, not 0"
	say "$run: tracker stopped cleanly on SIGTERM"
}

# run_listed: access.mode listed. Torrent A is on the allow list and moves over
# HTTP from transmission to aria2; torrent B (the same file in half-size pieces,
# so another info-hash) is not, and over UDP neither libtorrent hears of the other.
run_listed() {
	local t rc a_hash b_hash b_torrent=$rundir/b.torrent reason="torrent not tracked here" reply
	write_config listed
	proto=http seeder=transmission leecher=aria2 scrape_key=
	torrent_url=http://$tracker_ip:$PORT/announce
	make_torrent "$rundir/a.torrent" "$torrent_url"
	a_hash=$hash
	PIECE_LOG2=$((PIECE_LOG2 - 1)) make_torrent "$b_torrent" "udp://$tracker_ip:$PORT/announce"
	b_hash=$hash
	[ "$a_hash" != "$b_hash" ] || fail "torrents A and B have the same info-hash"
	hash=$a_hash hash_escaped=$(escape "$a_hash")
	cli list add "$rundir/a.torrent" >/dev/null || fail "swarmlight list add a.torrent failed: $(tail -n 3 "$rundir/cli.txt")"
	grep -qi "$a_hash" "$rundir/allow.list" || fail "swarmlight list add a.torrent left A's info-hash out of the allow list"
	! grep -qi "$b_hash" "$rundir/allow.list" || fail "B's info-hash is in the allow list"
	say "$run: swarmlight list add a.torrent: allow list holds A ($a_hash), not B ($b_hash)"
	start_tracker udp

	reply=$(announce_reply /announce "$b_hash")
	refused "$reason" "$reply" || fail "an announce for B was not refused with \"$reason\": $(printable "$reply")"
	say "$run: an HTTP announce for B is refused: \"$reason\""

	t=$(now_us)
	local b_start=$t
	start_libtorrent seed "$b_torrent"
	start_transmission seed "$rundir/a.torrent"
	rc=0
	poll 30 transmission_seeding || rc=$?
	[ "$rc" = 0 ] || fail "transmission did not verify its copy of A and start seeding within 30 s"
	rc=0
	poll 20 scrape_has 1 0 || rc=$?
	[ "$rc" = 0 ] || fail "tracker never listed transmission as A's seeder (last scrape: ${last_scrape:-none})"
	say "$run: A seeds, tracker lists the seeder: ${last_scrape} ($(since "$t"))"

	t=$(now_us)
	start_aria2 leech "$rundir/a.torrent"
	start_libtorrent2 leech "$b_torrent"
	rc=0
	poll "$RUN_TIMEOUT" leecher_done || rc=$?
	case $rc in
	0) say "$run: A's download of $SIZE_MIB MiB verified in $(since "$t") (transmission -> aria2, sha256 matches)" ;;
	2) fail "a client exited before A's download completed" ;;
	*) fail "aria2 did not complete A's download within the run's $RUN_TIMEOUT s" ;;
	esac

	# B had as long as A's whole run, and at least E2E_NEGATIVE_TIMEOUT: not a
	# connection, not a byte, and both its clients were told why.
	local left=$((NEG_TIMEOUT - ($(now_us) - b_start) / 1000000))
	[ "$left" -gt 0 ] || left=0
	rc=0
	poll "$left" peers_met libtorrent libtorrent2 || rc=$?
	case $rc in
	0) fail "B is not listed, yet $met_how" ;;
	2) fail "a client exited during B's wait" ;;
	esac
	for c in libtorrent libtorrent2; do
		told "$c" "$reason" || fail "$c's log does not show a tracker failure for B"
	done
	rc=0
	poll 15 tracker_refused udp "$reason" || rc=$?
	[ "$rc" = 0 ] || fail "the tracker's log counts no UDP refusal \"$reason\""
	say "$run: B, over UDP: both libtorrents refused (the tracker counts \"udp: $reason\"), no connection and 0 bytes in $(since "$b_start")"
	stop libtorrent2 INT
	stop libtorrent INT
	finish_swarm
}

# check_bep41: each client announces once to udp://TRACKER:6969/KEY/announce, where
# scripts/e2e_bep41.py stands in for the tracker and shows what followed the fixed
# 98 bytes. The result is shown, not judged, for transmission and aria2 (whose
# releases differ); libtorrent must send it, since the private-udp run relies on it.
check_bep41() {
	local key c verdict path
	key=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
	path=/$key/announce
	torrent_url=udp://$tracker_ip:$PORT$path
	make_torrent "$rundir/bep41.torrent" "$torrent_url"
	declare -gA bep41_sends=()
	for c in libtorrent transmission aria2; do
		rm -f "$rundir/bep41-$c.out"
		spawn capture "$ns_tracker" "$rundir/bep41-$c.out" "$rundir/bep41-$c.err" \
			"${PY[@]}" "$PWD/scripts/e2e_bep41.py" --listen "$tracker_ip:$PORT" \
			--path "$path" --redact "$key" --timeout 20
		poll 5 grep -q '^listening' "$rundir/bep41-$c.out" || fail "the stand-in tracker did not start: $(cat "$rundir/bep41-$c.err")"
		case $c in
		libtorrent) start_libtorrent leech "$rundir/bep41.torrent" ;;
		transmission) start_transmission leech "$rundir/bep41.torrent" ;;
		aria2)
			# aria2 sends UDP tracker requests only through its DHT socket: DHT on
			# for this one announce, in a namespace with no one to find.
			spawn aria2 "$ns_aria2" "$rundir/aria2.out" "$rundir/aria2.err" \
				env HOME="$rundir/aria2" aria2c --no-conf=true --no-netrc=true \
				--dir="$rundir/aria2/data" --log="$rundir/aria2.log" --log-level=info \
				--enable-rpc=false --disable-ipv6=true --enable-dht=true --dht-listen-port=6882 \
				--enable-peer-exchange=false --bt-enable-lpd=false --listen-port=6881 \
				--stop-with-process=$$ "$rundir/bep41.torrent"
			;;
		esac
		# Wait for the capture alone: the client keeps running until stopped.
		local pid=${procs[capture]} status_c=0
		unset "procs[capture]"
		wait "$pid" || status_c=$?
		stop "$c"
		[ "$status_c" = 0 ] || fail "$c sent no UDP announce to the stand-in tracker within 20 s"
		verdict=$(sed -n 's/^verdict: //p' "$rundir/bep41-$c.out")
		say "$run: $c: $(grep -E '^(announce|options|url data):' "$rundir/bep41-$c.out" | tr '\n' ';' | sed 's/;$//; s/;/; /g')"
		case $verdict in
		sent) bep41_sends[$c]=1 ;;
		none) say "$run: $c does NOT send BEP 41 URL data: a udp:// passkey URL cannot work with it (use http:// for it)" ;;
		*) say "$run: $c sends URL data, but not the URL's path" ;;
		esac
	done
	[ -n "${bep41_sends[libtorrent]:-}" ] || fail "libtorrent did not send the path as BEP 41 URL data: the private-udp run cannot prove UDP keys"
	say "$run: sending BEP 41 URL data: ${!bep41_sends[*]}"
}

# show_logs RUN: the tails a failure needs, progress lines turned into lines.
show_logs() {
	local f
	for f in "$work/$1"/*.log "$work/$1"/*.out "$work/$1"/*.err; do
		[ -s "$f" ] || continue
		printf -- '---- %s: %s (last lines)\n' "$1" "${f##*/}"
		tr '\r' '\n' <"$f" | grep -v '^ *$' | tail -n 15
	done
	printf -- '----\n'
}

passed=0
failed=0
# run NAME CMD ARGS...: one run, CMD ARGS, in a subshell with errexit on, so an
# unexpected error fails that run and not the whole script; then stop whatever it
# left behind. The subshell runs in the background and is waited for, so that
# Ctrl-C or SIGTERM reach our traps at once (cleanup then kills the subshell too).
run() {
	local name=$1 t rc=0
	shift
	if [ -n "${E2E_ONLY:-}" ] && [[ " $E2E_ONLY " != *" $name "* ]]; then
		say "$name: not run (E2E_ONLY=$E2E_ONLY)"
		return 0
	fi
	t=$(now_us)
	(
		set -eE
		trap 'say "$name: FAIL: unexpected error (line $LINENO): $BASH_COMMAND"' ERR
		run=$name rundir=$work/$name
		mkdir -p "$rundir"
		deadline=$(($(now_us) + RUN_TIMEOUT * 1000000))
		declare -gA procs=()
		"$@"
	) &
	run_pid=$!
	wait "$run_pid" || rc=$?
	run_pid=
	stop_recorded
	if [ "$rc" = 0 ]; then
		passed=$((passed + 1))
		say "$name: PASS in $(since "$t")"
	else
		failed=$((failed + 1))
		say "$name: FAILED after $(since "$t")"
		show_logs "$name"
	fi
	# The copies are 40 MiB a run; the logs are what is worth keeping.
	if [ "${E2E_KEEP:-}" != 1 ]; then rm -rf "$work/$name"/*/data; fi
}

run bep41 check_bep41
run http run_swarm http transmission aria2 complete
run udp run_swarm udp libtorrent transmission complete
# The same clients, settings and torrent as the udp run, minus the tracker.
run no-tracker run_swarm udp libtorrent transmission stall
run listed run_listed
run private-http run_swarm http transmission aria2 complete private
# libtorrent is the client the bep41 check shows sending a UDP URL's path.
run private-udp run_swarm udp libtorrent libtorrent2 complete private
run wrong-key run_swarm http transmission aria2 wrong-key private

say "$passed passed, $failed failed"
[ "$failed" = 0 ]
