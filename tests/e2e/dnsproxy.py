#!/usr/bin/env python3
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
"""tests/e2e/dnsproxy.py - a DNS forwarder that misbehaves on purpose.

    dnsproxy.py ADDR UPSTREAM [--drop TYPE]... [--silent-from TYPE:NAME]
                [--truncate-udp]

Listens on ADDR:53 (UDP and TCP; ADDR may be IPv6, e.g. ::1) and relays
every query unchanged to UPSTREAM:53 (the test world's NSD, IPv4) and the
answer back, except:
  --drop TYPE            queries of that type (A, AAAA, CNAME, TLSA, ...)
                         are swallowed: never answered
  --silent-from T:NAME   the first query of type T for NAME, and every
                         query after it, is swallowed: the server stops
                         answering in the middle of a delivery's lookups
  --truncate-udp         every answer over UDP is cut to its header and
                         question with TC set (RFC 1035 4.2.1, as a
                         server does when the answer does not fit), so the
                         client must ask again over TCP; logs "truncated
                         TYPE NAME" for those and "tcp TYPE NAME" for each
                         query over TCP
The answers are NSD's own bytes (signatures intact), so the resolver
validates them as usual; only what is not answered changes. One line per
query on stdout: "fwd TYPE NAME" or "drop TYPE NAME" (flushed), and
"listening" once both sockets are bound. Runs until SIGTERM.
"""
import socket
import struct
import sys
import threading

TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "MX": 15, "TXT": 16,
         "AAAA": 28, "DS": 43, "RRSIG": 46, "NSEC": 47, "DNSKEY": 48,
         "NSEC3": 50, "TLSA": 52}
NAMES = {v: k for k, v in TYPES.items()}

addr, upstream = sys.argv[1], sys.argv[2]
drop = set()
silent_from = None
truncate_udp = False
args = sys.argv[3:]
while args:
    if args[0] == "--truncate-udp":
        truncate_udp = True
        args = args[1:]
        continue
    if args[0] == "--drop":
        drop.add(TYPES[args[1].upper()])
    elif args[0] == "--silent-from":
        t, n = args[1].split(":", 1)
        silent_from = (TYPES[t.upper()], n.lower().rstrip("."))
    else:
        sys.exit("dnsproxy: unknown option " + args[0])
    args = args[2:]
silent = False
lock = threading.Lock()


def question(msg):
    """(qtype, qname) of a query, or (None, "?")."""
    try:
        i, labels = 12, []
        while msg[i] != 0:
            n = msg[i]
            labels.append(msg[i + 1:i + 1 + n].decode("ascii", "replace"))
            i += 1 + n
        qtype = struct.unpack("!H", msg[i + 1:i + 3])[0]
        return qtype, ".".join(labels).lower()
    except (IndexError, struct.error):
        return None, "?"


def decide(msg):
    """True: forward; False: swallow. Logs the decision."""
    global silent
    qtype, qname = question(msg)
    with lock:
        if silent_from is not None and (qtype, qname) == silent_from:
            silent = True
        fwd = not silent and qtype not in drop
        print("%s %s %s" % ("fwd" if fwd else "drop",
                            NAMES.get(qtype, str(qtype)), qname or "."),
              flush=True)
    return fwd


def log(what, msg):
    qtype, qname = question(msg)
    with lock:
        print("%s %s %s" % (what, NAMES.get(qtype, str(qtype)), qname or "."),
              flush=True)


def truncated(ans):
    """ans cut to header + question, TC set, no records."""
    i = 12
    while i < len(ans) and ans[i] != 0:
        i += 1 + ans[i]
    i += 5                      # root label, QTYPE, QCLASS
    if len(ans) < i:
        return ans
    hdr = bytearray(ans[:12])
    hdr[2] |= 0x02              # TC
    hdr[4:6] = b"\x00\x01"      # QDCOUNT 1
    hdr[6:12] = bytes(6)        # no answer, authority, additional
    return bytes(hdr) + ans[12:i]


def udp_one(sock, data, peer):
    up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    up.settimeout(3)
    try:
        up.sendto(data, (upstream, 53))
        ans, _ = up.recvfrom(65535)
        if truncate_udp:
            ans = truncated(ans)
            log("truncated", data)
        sock.sendto(ans, peer)
    except OSError:
        pass
    finally:
        up.close()


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        part = s.recv(n - len(buf))
        if not part:
            raise OSError("closed")
        buf += part
    return buf


def tcp_one(conn):
    try:
        while True:
            n = struct.unpack("!H", recv_exact(conn, 2))[0]
            q = recv_exact(conn, n)
            if truncate_udp:
                log("tcp", q)
            if not decide(q):
                continue        # keep the connection, never answer
            up = socket.create_connection((upstream, 53), 3)
            try:
                up.sendall(struct.pack("!H", len(q)) + q)
                m = struct.unpack("!H", recv_exact(up, 2))[0]
                conn.sendall(struct.pack("!H", m) + recv_exact(up, m))
            finally:
                up.close()
    except OSError:
        pass
    finally:
        conn.close()


def tcp_loop(t):
    while True:
        c, _ = t.accept()
        threading.Thread(target=tcp_one, args=(c,), daemon=True).start()


family = socket.AF_INET6 if ":" in addr else socket.AF_INET
u = socket.socket(family, socket.SOCK_DGRAM)
u.bind((addr, 53))
t = socket.socket(family, socket.SOCK_STREAM)
t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind((addr, 53))
t.listen(64)
threading.Thread(target=tcp_loop, args=(t,), daemon=True).start()
print("listening", flush=True)
while True:
    data, peer = u.recvfrom(65535)
    if decide(data):
        threading.Thread(target=udp_one, args=(u, data, peer),
                         daemon=True).start()
