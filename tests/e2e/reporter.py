#!/usr/bin/env python3
"""A process reporting failed connects to the agent (ldmesh/report.h), as
the preload does, for the end-to-end tests.

    reporter.py SOCK IP PORT [N]   N failure datagrams (default 1), each
                                   naming backend IP:PORT (TCP, refused),
                                   sent without blocking; prints how many
                                   the socket took
"""
import ipaddress
import socket
import struct
import sys

MAGIC, VERSION, FAILURES = 0x524D444C, 1, 1
TCP, REFUSED = 6, 1


def failure(ip, port):
    addr = ipaddress.ip_address(ip)
    raw = (b"\0" * 10 + b"\xff\xff" + addr.packed) if addr.version == 4 else addr.packed
    # addr[16] vip[16] port vip_port protocol reason reserved
    return struct.pack("<16s16sHHBBH", raw, b"\0" * 16, port, 0, TCP, REFUSED, 0)


def main():
    sock, ip, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    entry = failure(ip, port)
    msg = struct.pack("<IHHII", MAGIC, VERSION, FAILURES, 1, len(entry)) + entry
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.setblocking(False)
    sent = 0
    for _ in range(n):
        try:
            s.sendto(msg, sock)
            sent += 1
        except OSError:  # a full queue, no agent: dropped, as the preload does
            pass
    print(sent)


if __name__ == "__main__":
    main()
