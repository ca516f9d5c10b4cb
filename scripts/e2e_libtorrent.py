#!/usr/bin/python3
"""A libtorrent peer for scripts/e2e.sh: seed or download one torrent, and meet
peers ONLY through the torrent's tracker.

    e2e_libtorrent.py seed|download --torrent FILE --save-dir DIR
                      --listen ADDR:PORT --deadline SECONDS

seed      the payload must already be in DIR: check it, then seed it until stopped.
download  download into DIR; once complete, go on seeding until stopped (so the
          tracker hears event=completed and counts a second seeder, as with the
          other clients of the test).

It binds only to ADDR (listening and outgoing), speaks TCP only, and has DHT,
local service discovery, UPnP, NAT-PMP and peer exchange off: see make_session.
A peer that reaches it some other way than the tracker (or an incoming
connection) ends it with an error.

Progress lines go to stdout, one a second, plus one line per libtorrent alert.
Exit status: 0 when stopped (SIGTERM/SIGINT) after seeding began or the download
completed; 1 on any error, at the deadline (SECONDS from start) if not seeding or
not complete by then, or when stopped before that; 2 for bad arguments.

Uses Debian's python3-libtorrent (libtorrent-rasterbar 2.0): run it with the
system /usr/bin/python3, which has the module.
"""

import argparse
import re
import signal
import sys
import time

import libtorrent as lt

START = time.monotonic()

# A passkey (32 hex digits, as swarmlight makes them) in a tracker URL is a
# member's secret: the log shows <key> instead. Info-hashes (40 digits) stay.
PASSKEY = re.compile(r"(?<![0-9a-fA-F])[0-9a-fA-F]{32}(?![0-9a-fA-F])")


def log(msg):
    print(f"[{time.monotonic() - START:6.1f}s] {PASSKEY.sub('<key>', msg)}", flush=True)


def fail(msg):
    log(f"ERROR: {msg}")
    sys.exit(1)


def make_session(addr, port):
    """A session that can meet peers only through a tracker."""
    cat = lt.alert.category_t
    settings = {
        # Every peer source but the tracker: off.
        "enable_dht": False,
        "enable_lsd": False,  # local service discovery (multicast)
        "enable_upnp": False,
        "enable_natpmp": False,
        "dht_bootstrap_nodes": "",  # and, were the DHT on, nowhere to start it from
        # Only the namespace's address, only the given port: no fallback to a
        # random port if it is taken, no other interface.
        "listen_interfaces": f"{addr}:{port}",
        "outgoing_interfaces": addr,
        "listen_system_port_fallback": False,
        # TCP only, like the other clients of the test (aria2 has no uTP).
        "enable_outgoing_utp": False,
        "enable_incoming_utp": False,
        # Peers share a /24; never refuse one for its address.
        "allow_multiple_connections_per_ip": True,
        # What the log shows. dht and port_mapping are there so that any sign of
        # them is caught (see check_alert); with the features off there is none.
        "alert_mask": cat.error_notification | cat.status_notification
        | cat.tracker_notification | cat.storage_notification
        | cat.peer_notification | cat.connect_notification
        | cat.dht_notification | cat.port_mapping_notification,
    }
    # PEX is not a setting but a plugin (ut_pex), as is ut_metadata. In the
    # 2.0.8 binding, lt.session(settings) defaults to flags=add_default_plugins,
    # and lt.session(lt.session_params()) always carries the default plugins
    # (session_params has no `extensions` to clear from Python). flags=0 adds
    # no plugin at all: the extended handshake then offers no ut_pex and no
    # ut_metadata. It also leaves out start_default_features.
    ses = lt.session(settings, flags=0)
    got = ses.get_settings()
    for key in ("enable_dht", "enable_lsd", "enable_upnp", "enable_natpmp"):
        if got[key]:
            fail(f"{key} is on after the session started")
    if ses.is_dht_running():
        fail("the DHT is running")
    log(f"session: libtorrent {lt.__version__}, listen {got['listen_interfaces']}, "
        f"outgoing {got['outgoing_interfaces']}, dht/lsd/upnp/natpmp off, "
        "no plugins (no ut_pex, no ut_metadata), TCP only")
    return ses


def check_alert(a):
    """Log an alert; end with an error on one that means trouble or a peer source
    that should not exist."""
    cat = lt.alert.category_t
    log(f"alert {type(a).__name__}: {a.message()}")
    if isinstance(a, lt.tracker_error_alert) and a.failure_reason():
        # The tracker's own words, for scripts/e2e.sh to match.
        log(f"tracker failure reason: {a.failure_reason()}")
    if a.category() & (cat.dht_notification | cat.port_mapping_notification):
        fail("DHT or port mapping activity, which is supposed to be off")
    if isinstance(a, (lt.listen_failed_alert, lt.file_error_alert, lt.torrent_error_alert)):
        fail(a.message())


def check_peers(h):
    """Every peer must come from the tracker or have connected to us."""
    other = lt.peer_info.dht | lt.peer_info.pex | lt.peer_info.lsd
    for p in h.get_peer_info():
        if p.source & other:
            fail(f"peer {p.ip[0]}:{p.ip[1]} came from DHT/PEX/LSD (source {p.source})")


def mib(n):
    return f"{n / 1048576:.1f} MiB"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mode", choices=["seed", "download"])
    ap.add_argument("--torrent", required=True)
    ap.add_argument("--save-dir", required=True)
    ap.add_argument("--listen", required=True, metavar="ADDR:PORT")
    ap.add_argument("--deadline", required=True, type=float, metavar="SECONDS",
                    help="to start seeding (seed) or complete (download)")
    args = ap.parse_args()
    addr, sep, port = args.listen.rpartition(":")
    if not sep or not addr or not port.isdigit():
        ap.error(f"--listen wants ADDR:PORT, got {args.listen!r}")

    stop = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, _: stop.append(signal.Signals(signum).name))

    ses = make_session(addr, int(port))
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(args.torrent)
    atp.save_path = args.save_dir
    h = ses.add_torrent(atp)
    log(f"{args.mode}: {atp.ti.name()}, info-hash {atp.ti.info_hash()}, "
        "trackers " + ", ".join(t.url for t in atp.ti.trackers()))

    deadline = START + args.deadline
    done = False  # seeding (seed) or complete (download)
    next_progress = 0.0
    while not stop:
        if ses.wait_for_alert(250) is not None:
            for a in ses.pop_alerts():
                check_alert(a)
        s = h.status()
        if s.errc.value():
            fail(f"torrent error: {s.errc.message()}")
        check_peers(h)
        if not done and s.is_seeding:
            done = True
            if args.mode == "seed":
                log(f"seeding: verified {mib(s.total_done)}, waiting for peers")
            else:
                log(f"download complete: {mib(s.total_payload_download)} downloaded, "
                    "seeding until stopped")
        if args.mode == "seed" and s.state == lt.torrent_status.downloading:
            # Checked, and not all there: a seeder has nothing to download from.
            fail(f"the copy in {args.save_dir} is not complete "
                 f"({s.num_pieces}/{atp.ti.num_pieces()} pieces check out)")
        now = time.monotonic()
        if not done and now > deadline:
            fail(f"deadline of {args.deadline:g} s passed, still {s.state} "
                 f"at {s.progress * 100:.1f}%")
        if now >= next_progress:
            next_progress = now + 1
            log(f"progress: {s.state} {s.progress * 100:.1f}%, peers {s.num_peers}, "
                f"down {mib(s.total_payload_download)} ({s.download_payload_rate / 1048576:.1f} MiB/s), "
                f"up {mib(s.total_payload_upload)} ({s.upload_payload_rate / 1048576:.1f} MiB/s)")

    log(f"stopping on {stop[0]}")
    del h
    del ses  # sends the tracker event=stopped (bounded by stop_tracker_timeout)
    if not done:
        log("stopped before " + ("seeding began" if args.mode == "seed" else "the download completed"))
        sys.exit(1)
    log("stopped")


if __name__ == "__main__":
    main()
