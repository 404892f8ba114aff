#!/usr/bin/env python3
"""A long-lived process that resolves a name when told to (test_resolver_vip*).

looker.py DIR ROUNDS NAME: for k in 1..ROUNDS, waits (at most 120 s) for
DIR/go.k, resolves NAME with gethostbyname and writes the answer, or
"error: ...", to DIR/out.k (atomically). One process throughout, so its
resolver state is what a long-running program keeps.
"""
import os
import socket
import sys
import time

d, rounds, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
for k in range(1, rounds + 1):
    go = os.path.join(d, "go.%d" % k)
    deadline = time.time() + 120
    while not os.path.exists(go) and time.time() < deadline:
        time.sleep(0.02)
    try:
        ans = socket.gethostbyname(name)
    except OSError as e:
        ans = "error: %s" % e
    with open(os.path.join(d, "tmp"), "w") as f:
        f.write(ans + "\n")
    os.rename(os.path.join(d, "tmp"), os.path.join(d, "out.%d" % k))
