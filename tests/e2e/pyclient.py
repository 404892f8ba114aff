#!/usr/bin/env python3
"""Clients for the end-to-end tests (run under LD_PRELOAD by the scripts).

    pyclient.py connect HOST PORT N        N connects; each prints the banner
                                           (the pod IP) or "ERR <ERRNO>"
    pyclient.py peer HOST PORT             "peer IP:PORT banner BANNER"
    pyclient.py urllib URL                 the body
    pyclient.py loop HOST PORT SECS OKS    every 100 ms one connect, printing
                                           "<ms> <banner|ERR x>"; stops after
                                           OKS successes in a row or SECS
    pyclient.py nbpeer HOST PORT N         N non-blocking connects, each
                                           repeated until connected (Ruby's
                                           connect_nonblock idiom); prints
                                           "peer IP:PORT banner BANNER"
    pyclient.py until HOST PORT SECS WANT  every 50 ms one connect, printing
                                           "<ms> <banner|ERR x>"; stops once
                                           the banner is WANT, or after SECS
    pyclient.py rounds HOST PORT N DIR SECS  a long-lived client: for k=1,2..
                                           wait for DIR/go.k, make N connects,
                                           write the banners to DIR/out.k;
                                           stops at DIR/stop or after SECS
All sockets use a 5 s timeout; every loop is bounded.
"""
import errno
import os
import socket
import sys
import time
import urllib.request


def one(host, port):
    try:
        with socket.create_connection((host, port), timeout=5) as s:
            data = b""
            while True:
                chunk = s.recv(256)
                if not chunk:
                    break
                data += chunk
            return data.decode().strip()
    except socket.gaierror as e:
        names = {getattr(socket, n): n for n in dir(socket) if n.startswith("EAI_")}
        return "ERR " + names.get(e.errno, "gaierror %s" % e.errno)
    except OSError as e:
        if e.errno is None:
            return "ERR " + type(e).__name__
        return "ERR " + errno.errorcode.get(e.errno, str(e.errno))


def main():
    cmd = sys.argv[1]
    if cmd == "connect":
        host, port, n = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
        out = [one(host, port) for _ in range(n)]
        print("\n".join(out), flush=True)
    elif cmd == "peer":
        host, port = sys.argv[2], int(sys.argv[3])
        with socket.create_connection((host, port), timeout=5) as s:
            ip, p = s.getpeername()[:2]
            banner = s.recv(256).decode().strip()
        print("peer %s:%d banner %s" % (ip, p, banner))
    elif cmd == "urllib":
        with urllib.request.urlopen(sys.argv[2], timeout=5) as r:
            print(r.read().decode().strip())
    elif cmd == "loop":
        host, port = sys.argv[2], int(sys.argv[3])
        secs, need = float(sys.argv[4]), int(sys.argv[5])
        t0 = time.monotonic()
        streak = 0
        while time.monotonic() - t0 < secs and streak < need:
            r = one(host, port)
            streak = 0 if r.startswith("ERR") else streak + 1
            print("%d %s" % ((time.monotonic() - t0) * 1000, r), flush=True)
            time.sleep(0.1)
    elif cmd == "nbpeer":
        host, port, n = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
        for _ in range(n):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.setblocking(False)
                t0 = time.monotonic()
                while True:  # bounded: 5 s per connect
                    rc = s.connect_ex((host, port))
                    if rc in (0, errno.EISCONN):
                        break
                    if rc not in (errno.EINPROGRESS, errno.EALREADY, errno.EAGAIN):
                        sys.exit("connect: " + errno.errorcode.get(rc, str(rc)))
                    if time.monotonic() - t0 > 5:
                        sys.exit("connect: timed out")
                    time.sleep(0.001)
                ip, p = s.getpeername()[:2]
                s.setblocking(True)
                s.settimeout(5)
                banner = s.recv(256).decode().strip()
            print("peer %s:%d banner %s" % (ip, p, banner), flush=True)
    elif cmd == "until":
        host, port = sys.argv[2], int(sys.argv[3])
        secs, want = float(sys.argv[4]), sys.argv[5]
        t0 = time.monotonic()
        while time.monotonic() - t0 < secs:
            r = one(host, port)
            print("%d %s" % ((time.monotonic() - t0) * 1000, r), flush=True)
            if r == want:
                break
            time.sleep(0.05)
    elif cmd == "rounds":
        host, port, n = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
        d, secs = sys.argv[5], float(sys.argv[6])
        t0 = time.monotonic()
        k = 1
        while time.monotonic() - t0 < secs and not os.path.exists(d + "/stop"):
            if not os.path.exists("%s/go.%d" % (d, k)):
                time.sleep(0.02)
                continue
            out = [one(host, port) for _ in range(n)]
            with open("%s/out.%d.tmp" % (d, k), "w") as f:
                f.write("\n".join(out) + "\n")
            os.rename("%s/out.%d.tmp" % (d, k), "%s/out.%d" % (d, k))
            k += 1
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
