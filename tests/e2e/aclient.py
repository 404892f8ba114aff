#!/usr/bin/env python3
"""An event-loop client: asyncio.open_connection (getaddrinfo on the loop's
executor, a non-blocking connect driven by the loop, SO_ERROR read when it
ends), 20 connections at a time.

    aclient.py HOST PORT N    N connections; the first line each server
                              sends, or "error: ...", one a line
"""
import asyncio
import sys


async def one(host, port):
    try:
        r, w = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
        line = await asyncio.wait_for(r.readline(), 5)
        w.close()
        return line.decode().strip()
    except Exception as e:
        return "error: %r" % e


async def main(host, port, n):
    for k in range(0, n, 20):
        for line in await asyncio.gather(*(one(host, port) for _ in range(min(20, n - k)))):
            print(line)


asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
