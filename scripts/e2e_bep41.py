#!/usr/bin/python3
"""A stand-in UDP tracker for scripts/e2e.sh's bep41 check: does a client send the
path of its udp:// announce URL as BEP 41 URL data?

    e2e_bep41.py --listen ADDR:PORT --path /KEY/announce --redact KEY --timeout SECONDS

It answers every connect (BEP 15), and on the first announce prints what followed
the 98 bytes of the fixed announce request, then exits:

    options: 02 0c 2f 3c 6b 65 79 3e ... 00   (the raw option bytes)
    url data: /<key>/announce
    verdict: sent

The verdict is "sent" when the URL data is exactly --path, "none" when the packet
ends at 98 bytes or carries no URL data option, "other" when it carries something
else. Every occurrence of --redact (the passkey), in text and in the hex, is shown
as <key>: the output goes into logs.

Exit status: 0 on an announce (whatever the verdict), 1 if none came within
SECONDS, 2 for bad arguments. It answers no announce: the check needs only the
request, and a client that gets no answer just retries.
"""

import argparse
import os
import select
import socket
import struct
import sys
import time

PROTOCOL_ID = 0x41727101980
CONNECT, ANNOUNCE = 0, 1
ANNOUNCE_LEN = 98  # BEP 15's announce request, before any BEP 41 option

# BEP 41 option types.
END, NOP, URL_DATA = 0, 1, 2


def parse_options(tail):
    """The URL data of a BEP 41 option list (its URL_DATA options concatenated),
    or None if there is none; raises ValueError on a truncated option."""
    url, i = None, 0
    while i < len(tail):
        kind = tail[i]
        i += 1
        if kind == END:
            break
        if kind == NOP:
            continue
        if i >= len(tail):
            raise ValueError(f"option {kind} has no length byte")
        n = tail[i]
        i += 1
        if i + n > len(tail):
            raise ValueError(f"option {kind} claims {n} bytes, {len(tail) - i} left")
        if kind == URL_DATA:
            url = (url or b"") + tail[i:i + n]
        i += n
    return url


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--listen", required=True, metavar="ADDR:PORT")
    ap.add_argument("--path", required=True, help="the URL data a BEP 41 client sends")
    ap.add_argument("--redact", required=True, help="text never to print (the key)")
    ap.add_argument("--timeout", required=True, type=float, metavar="SECONDS")
    args = ap.parse_args()
    addr, sep, port = args.listen.rpartition(":")
    if not sep or not port.isdigit() or not args.redact:
        ap.error("--listen wants ADDR:PORT and --redact a non-empty key")

    key = args.redact.encode()

    def redact_text(b):
        return b.replace(key, b"<key>").decode("ascii", "backslashreplace")

    def redact_hex(b):
        # Hex of the bytes, with the key's run of bytes shown as <key>.
        return " <key> ".join(p.hex(" ") for p in b.split(key)).replace("  ", " ").strip()

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((addr, int(port)))
    print(f"listening on udp {addr}:{port}", flush=True)
    end = time.monotonic() + args.timeout
    while True:
        left = end - time.monotonic()
        if left <= 0:
            print(f"no announce within {args.timeout:g} s", flush=True)
            return 1
        if not select.select([sock], [], [], left)[0]:
            continue
        pkt, src = sock.recvfrom(2048)
        if len(pkt) < 16:
            continue
        conn_id, action, txid = struct.unpack_from(">QII", pkt)
        if action == CONNECT and len(pkt) >= 16 and conn_id == PROTOCOL_ID:
            reply = struct.pack(">IIQ", CONNECT, txid, int.from_bytes(os.urandom(8), "big"))
            sock.sendto(reply, src)
            print("connect answered", flush=True)
            continue
        if action != ANNOUNCE or len(pkt) < ANNOUNCE_LEN:
            continue
        tail = pkt[ANNOUNCE_LEN:]
        print(f"announce: {len(pkt)} bytes", flush=True)
        print(f"options: {redact_hex(tail) or '(none: the packet ends at byte 98)'}")
        try:
            url = parse_options(tail)
        except ValueError as e:
            print(f"url data: malformed options: {e}")
            print("verdict: other", flush=True)
            return 0
        if url is None:
            print("url data: (none)")
            print("verdict: none", flush=True)
        else:
            print(f"url data: {redact_text(url)}")
            print("verdict: " + ("sent" if url == args.path.encode() else "other"), flush=True)
        return 0


if __name__ == "__main__":
    sys.exit(main())
