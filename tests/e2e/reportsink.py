#!/usr/bin/env python3
"""A stand-in for the agent's report socket (include/ldmesh/report.h): binds
a unix datagram socket at PATH (mode 0666, as the agent makes it), creates
READYFILE, and writes one line per entry it receives to stdout, flushed:

    failure REASON VIP:VPORT BACKEND:PORT PROTO
    count NS POD VIP:VPORT BACKEND:PORT opened=N closed=N failed=a,b,c,d,e
          failovers=N ejections=N latency=N sent=N received=N rtt_count=N

(one line each). A datagram whose header is wrong is written as "bad ...".

    reportsink.py PATH READYFILE
"""
import ipaddress
import os
import socket
import struct
import sys

HDR = struct.Struct("<IHHII")
FAIL = struct.Struct("<16s16sHHBBH")
SRC = struct.Struct("<64s64s")
COUNT = struct.Struct("<16s16sHHB3xII5III16IIQQQQII")
MAGIC = 0x524D444C
REASONS = {1: "REFUSED", 2: "TIMEOUT", 3: "UNREACHABLE", 4: "RESET"}
assert HDR.size == 16 and FAIL.size == 40 and SRC.size == 128 and COUNT.size == 184


def ip(b):
    a = ipaddress.IPv6Address(b)
    return str(a.ipv4_mapped) if a.ipv4_mapped else str(a)


def decode(d):
    if len(d) < HDR.size:
        return ["bad short %d" % len(d)]
    magic, version, typ, count, size = HDR.unpack_from(d)
    if magic != MAGIC or version != 1:
        return ["bad header %x %d" % (magic, version)]
    out, off = [], HDR.size
    if typ == 1 and size == FAIL.size and len(d) == off + count * size:
        for _ in range(count):
            a, v, port, vport, proto, reason, _r = FAIL.unpack_from(d, off)
            off += size
            out.append("failure %s %s:%d %s:%d %d" %
                       (REASONS.get(reason, reason), ip(v), vport, ip(a), port, proto))
        return out
    if typ == 2 and size == COUNT.size and len(d) == off + SRC.size + count * size:
        ns, pod = (x.rstrip(b"\0").decode() for x in SRC.unpack_from(d, off))
        off += SRC.size
        for _ in range(count):
            f = COUNT.unpack_from(d, off)
            off += size
            vip, be, vport, bport, proto, opened, closed = f[0:7]
            failed = f[7:12]
            failovers, ejections = f[12:14]
            latency = f[14:30]
            sent, received, rtt_sum, rtt_count = f[32:36]
            out.append("count %s %s %s:%d %s:%d opened=%d closed=%d failed=%s failovers=%d "
                       "ejections=%d latency=%d sent=%d received=%d rtt_count=%d" %
                       (ns, pod, ip(vip), vport, ip(be), bport, opened, closed,
                        ",".join(map(str, failed)), failovers, ejections, sum(latency),
                        sent, received, rtt_count))
        return out
    return ["bad type %d count %d size %d len %d" % (typ, count, size, len(d))]


def main():
    path, ready = sys.argv[1], sys.argv[2]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    os.chmod(path, 0o666)
    open(ready, "w").close()
    while True:
        for line in decode(s.recv(1 << 17)):
            print(line, flush=True)


if __name__ == "__main__":
    main()
