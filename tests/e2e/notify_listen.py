#!/usr/bin/env python3
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
"""notify_listen.py SOCKET LOG HOST PORT - play the service manager's side of
sd_notify(3): bind a datagram socket at SOCKET (a path, or "@name" for the
abstract namespace), and for every datagram append one JSON line to LOG:
its fields, the receiving CLOCK_MONOTONIC time in microseconds, and, for a
datagram with READY=1, whether HOST:PORT accepted a TCP connection at that
moment (READY must mean "the listeners are up"). Runs until killed."""
import json
import socket
import sys
import time

path, log, host, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + path[1:] if path.startswith("@") else path)
with open(log + ".bound", "w") as f:
    f.write("ok\n")
while True:
    data = s.recv(4096)
    rec = {"mono_us": time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000,
           "raw": data.decode("utf-8", "replace"), "fields": {}}
    for line in rec["raw"].split("\n"):
        if "=" in line:
            k, v = line.split("=", 1)
            rec["fields"][k] = v
    if rec["fields"].get("READY") == "1":
        try:
            socket.create_connection((host, port), 2).close()
            rec["port_accepts"] = True
        except OSError as e:
            rec["port_accepts"] = str(e)
    with open(log, "a") as f:
        f.write(json.dumps(rec) + "\n")
