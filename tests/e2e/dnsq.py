#!/usr/bin/env python3
"""A DNS client for the UDP tests, with the socket calls a test names.

    dnsq.py sendto  HOST PORT NAME N     N queries on one unconnected socket
    dnsq.py sockets HOST PORT NAME N     one query on each of N sockets
    dnsq.py sendmsg HOST PORT NAME N     sendmsg/recvmsg on one socket
    dnsq.py keep HOST PORT NAME CTL connected|unconnected   (see below)

Each answer prints as "<first A record> from <source ip>:<source port>", or
"error: ...". `keep` keeps one socket (connected to HOST:PORT, sending with
send; or not, sending with sendto) and sends a query each time CTL/go.K
appears, writing the answer to CTL/out.K (K = 1, 2, ..., at most 10, 30 s
each), so a test can change the table between queries.
"""
import os
import socket
import struct
import sys
import time


def query(name, qid):
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split("."))
    return struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + labels + b"\0" + struct.pack(">HH", 1, 1)


def first_a(reply):
    qd, an = struct.unpack(">HH", reply[4:8])
    i = 12
    for _ in range(qd):
        while reply[i]:
            i += reply[i] + 1
        i += 5
    for _ in range(an):
        if reply[i] & 0xC0 == 0xC0:
            i += 2
        else:
            while reply[i]:
                i += reply[i] + 1
            i += 1
        rtype, _, _, rdlen = struct.unpack(">HHIH", reply[i:i + 10])
        i += 10
        if rtype == 1:
            return socket.inet_ntoa(reply[i:i + 4])
        i += rdlen
    return "none"


def ask(s, host, port, name, via="sendto"):
    try:
        q = query(name, os.getpid() & 0xFFFF)
        if via == "sendmsg":
            s.sendmsg([q[:6], q[6:]], [], 0, (host, port))
            data, _, _, src = s.recvmsg(512)
        elif via == "send":
            s.send(q)
            data, src = s.recvfrom(512)
        else:
            s.sendto(q, (host, port))
            data, src = s.recvfrom(512)
        return "%s from %s:%d" % (first_a(data), src[0], src[1])
    except OSError as e:
        return "error: %s" % e


def main():
    mode, host, port, name = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    if mode == "keep":
        ctl, connected = sys.argv[5], sys.argv[6] == "connected"
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(3)
        if connected:
            s.connect((host, port))
        for k in range(1, 11):
            deadline = time.monotonic() + 900  # a backstop: the test says go
            while not os.path.exists(os.path.join(ctl, "go.%d" % k)):
                if time.monotonic() > deadline:
                    return
                time.sleep(0.02)
            with open(os.path.join(ctl, "out.%d.tmp" % k), "w") as f:
                f.write(ask(s, host, port, name, "send" if connected else "sendto") + "\n")
            os.rename(os.path.join(ctl, "out.%d.tmp" % k), os.path.join(ctl, "out.%d" % k))
        return
    n = int(sys.argv[5])
    s = None
    for _ in range(n):
        if s is None or mode == "sockets":
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(3)
        print(ask(s, host, port, name, "sendmsg" if mode == "sendmsg" else "sendto"), flush=True)


main()
