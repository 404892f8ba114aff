#!/usr/bin/env python3
"""The metrics test's hands (test_metrics.sh).

  metricsq.py send SOCK NS POD JSON   one counters datagram (ldmesh/report.h,
                                      LDMESH_REPORT_COUNTS) to the agent's
                                      report socket; JSON is a list of entries
  metricsq.py scrape URL              GET URL; every sample, parsed by
                                      prometheus_client's own text parser, one
                                      a line: name{k="v",...} value (labels
                                      sorted); exit 1 if it does not parse
  metricsq.py raw HOST PORT HEX       send bytes (hex), print the answer's
                                      status line ("" when closed unanswered)
  metricsq.py slow HOST PORT GO       GET /metrics, then read nothing until
                                      file GO exists (a stalled scraper);
                                      then read it all and print its size and
                                      whether the last chunk came
  metricsq.py many SOCK N             N series (backends of 10.96.0.80:9000),
                                      100 entries a datagram
"""
import json
import socket
import struct
import sys
import urllib.request

# report.h, field for field ('<': little-endian, no padding)
HDR = struct.Struct("<IHHII")
SOURCE = struct.Struct("<64s64s")
ENTRY = struct.Struct("<16s16sHHB3x" "II" "5I" "II" "16I" "I" "QQQQ" "II")
MAGIC, VERSION, COUNTS = 0x524D444C, 1, 2
REASONS = {"other": 0, "refused": 1, "timeout": 2, "unreachable": 3, "reset": 4}
assert HDR.size == 16 and SOURCE.size == 128 and ENTRY.size == 184


def mapped(ip):
    return b"\0" * 10 + b"\xff\xff" + socket.inet_aton(ip)


def entry(e):
    failed = [0] * 5
    for reason, n in e.get("failed", {}).items():
        failed[REASONS[reason]] = n
    latency = [0] * 16
    for i, n in e.get("latency", {}).items():
        latency[int(i)] = n
    return ENTRY.pack(mapped(e["vip"]), mapped(e["backend"]), e["vport"], e["bport"], 6,
                      e.get("opened", 0), e.get("closed", 0), *failed,
                      e.get("failovers", 0), e.get("ejections", 0), *latency, 0,
                      e.get("latency_us_sum", 0), e.get("sent", 0), e.get("received", 0),
                      e.get("rtt_us_sum", 0), e.get("rtt_count", 0), 0)


def send(path, ns, pod, entries):
    entries = json.loads(entries)
    body = b"".join(entry(e) for e in entries)
    dgram = HDR.pack(MAGIC, VERSION, COUNTS, len(entries), ENTRY.size) + \
        SOURCE.pack(ns.encode(), pod.encode()) + body
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.sendto(dgram, path)


def scrape(url):
    from prometheus_client.parser import text_string_to_metric_families
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=10) as r:
        ctype = r.headers.get("Content-Type")
        text = r.read().decode("utf-8")
    if ctype != "text/plain; version=0.0.4; charset=utf-8":
        sys.exit("Content-Type %r" % ctype)
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            labels = ",".join('%s="%s"' % (k, v) for k, v in sorted(s.labels.items()))
            value = int(s.value) if s.value == int(s.value) else s.value
            print("%s{%s} %s" % (s.name, labels, value))


def raw(host, port, data):
    s = socket.create_connection((host, int(port)), timeout=10)
    try:
        s.sendall(bytes.fromhex(data))
    except OSError:
        pass  # closed on us while sending: what the answer says is next
    answer = b""
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            answer += chunk
    except OSError:
        pass
    print(answer.split(b"\r\n", 1)[0].decode("latin-1"))


def slow(host, port, go):
    import os
    import time
    s = socket.create_connection((host, int(port)), timeout=60)
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    print("asked", flush=True)
    deadline = time.monotonic() + 120
    while not os.path.exists(go) and time.monotonic() < deadline:
        time.sleep(0.05)
    answer = b""
    while True:
        chunk = s.recv(1 << 16)
        if not chunk:
            break
        answer += chunk
    print(len(answer), answer.endswith(b"\r\n0\r\n\r\n"))


def many(path, n):
    n = int(n)
    for first in range(0, n, 100):
        entries = [{"vip": "10.96.0.80", "vport": 9000, "bport": 9100, "opened": 1,
                    "backend": "10.250.%d.%d" % (i // 250, i % 250 + 1)}
                   for i in range(first, min(n, first + 100))]
        send(path, "shop", "bulk", json.dumps(entries))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"send": send, "scrape": scrape, "raw": raw, "slow": slow, "many": many}[cmd](*args)
