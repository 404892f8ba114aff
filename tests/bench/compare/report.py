#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Turn raw.csv from tests/bench/compare/run.sh into results.md, results.csv
(medians over the interleaved rounds) and the .dat files plot.gp draws.

    report.py --out DIR --machine "one line" [--smoke 0|1]
"""
import argparse
import csv
import os
import statistics
from collections import defaultdict

PATHS = ["direct", "ldmesh", "nftables", "iptables"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--machine", default="")
    ap.add_argument("--smoke", default="0")
    a = ap.parse_args()
    smoke = a.smoke == "1"

    vals = defaultdict(list)   # (test, path, n, metric) -> [float]
    units = {}
    with open(os.path.join(a.out, "raw.csv")) as fh:
        for row in csv.DictReader(fh):
            k = (row["test"], row["path"], int(row["n"]), row["metric"])
            vals[k].append(float(row["value"]))
            units[k] = row["unit"]
    if not vals:
        raise SystemExit("report: raw.csv has no measurements")

    byrep = defaultdict(dict)  # (test, path, n, metric) -> {rep: value}
    with open(os.path.join(a.out, "raw.csv")) as fh:
        for row in csv.DictReader(fh):
            byrep[(row["test"], row["path"], int(row["n"]), row["metric"])][row["rep"]] = float(row["value"])

    def paired(test, pa, pb, n, metric):
        """median over rounds of a/b, each ratio from the same round (the
        two ran back to back), which cancels the drift between rounds"""
        ra, rb = byrep.get((test, pa, n, metric), {}), byrep.get((test, pb, n, metric), {})
        r = [ra[k] / rb[k] for k in ra if k in rb and rb[k]]
        return statistics.median(r) if r else None

    def med(test, path, n, metric):
        v = vals.get((test, path, n, metric))
        return statistics.median(v) if v else None

    ns = sorted({k[2] for k in vals if k[0] == "connect"})
    nmax = ns[-1]
    n10k = 10000 if 10000 in ns else nmax
    foot_n = max([k[2] for k in vals if k[0] == "footprint" and k[1] == "plain"] or [nmax])

    # ---- results.csv: every (test, path, N, metric) with median/min/max
    with open(os.path.join(a.out, "results.csv"), "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["test", "path", "n", "metric", "median", "min", "max", "rounds", "unit"])
        for k in sorted(vals):
            v = vals[k]
            w.writerow([k[0], k[1], k[2], k[3], "%.6g" % statistics.median(v), "%.6g" % min(v),
                        "%.6g" % max(v), len(v), units[k]])

    def f(x, fmt="%.1f"):
        return "n/a" if x is None else fmt % x

    def ratio(x, y):
        return None if (x is None or y is None or y == 0) else x / y

    md = []
    md.append("# ldmesh vs kube-proxy (iptables, nftables) and a DNS server")
    md.append("")
    md.append("Machine: " + a.machine)
    md.append("")
    rounds = max(len(v) for k, v in vals.items() if k[0] == "connect")
    md.append("Every figure is the median over %d interleaved round(s) (direct, ldmesh, nftables, "
              "iptables, then the reverse order, ...); client and server on separate cores. \"paired\" "
              "ratios are the median of per-round ratios (the two paths ran back to back), which "
              "cancels drift between rounds. Raw runs: raw.csv." % rounds)
    if smoke:
        md.append("")
        md.append("**Smoke run** (N <= 1,000, very short samples): checks that the suite works; "
                  "the figures and the target verdicts below are not meaningful.")
    md.append("")

    # 1. connect latency + rps
    md.append("## 1. Connect+close latency (us) and short-connection requests/s")
    md.append("")
    md.append("| N | direct p50 / p99 | ldmesh p50 / p99 | nftables p50 / p99 | iptables p50 / p99 "
              "| ldmesh / direct p50 (paired) | iptables / ldmesh p50 |")
    md.append("|---:|---:|---:|---:|---:|---:|---:|")
    for n in ns:
        cells = ["%s / %s" % (f(med("connect", p, n, "p50_us")), f(med("connect", p, n, "p99_us"))) for p in PATHS]
        md.append("| %d | %s | %s | %s |" % (n, " | ".join(cells),
                  f(paired("connect", "ldmesh", "direct", n, "p50_us"), "%.3fx"),
                  f(ratio(med("connect", "iptables", n, "p50_us"), med("connect", "ldmesh", n, "p50_us")), "%.1fx")))
    md.append("")
    md.append("| N | direct req/s | ldmesh req/s | nftables req/s | iptables req/s |")
    md.append("|---:|---:|---:|---:|---:|")
    for n in ns:
        md.append("| %d | %s |" % (n, " | ".join(f(med("rps", p, n, "req_per_s"), "%.0f") for p in PATHS)))
    md.append("")

    # 2. programming
    md.append("## 2. Programming latency: one endpoint added -> first connect reaching it (ms)")
    md.append("")
    md.append("| N | ldmesh (manifest -> inotify -> publish) | nftables (incremental nft -f) "
              "| iptables (full iptables-restore) | iptables / ldmesh | ldmesh: agent publish alone "
              "| nft full load (ms) | iptables full load (ms) |")
    md.append("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in ns:
        lm, nf, ip = (med("program", p, n, "ms") for p in ("ldmesh", "nftables", "iptables"))
        md.append("| %d | %s | %s | %s | %s | %s | %s | %s |" % (
            n, f(lm, "%.2f"), f(nf, "%.2f"), f(ip, "%.2f"), f(ratio(ip, lm), "%.0fx"),
            f(med("program", "agent_publish", n, "ms"), "%.2f"),
            f(med("load", "nftables", n, "full_load_ms"), "%.0f"), f(med("load", "iptables", n, "full_load_ms"), "%.0f")))
    md.append("")

    # 3. bulk
    md.append("## 3. Bulk throughput, one long connection (N = %d)" % nmax)
    md.append("")
    md.append("| path | Gbit/s (median) | min - max over rounds | vs direct (paired) |")
    md.append("|---|---:|---:|---:|")
    bd = med("bulk", "direct", nmax, "gbit_per_s")
    for p in PATHS:
        b = med("bulk", p, nmax, "gbit_per_s")
        v = vals.get(("bulk", p, nmax, "gbit_per_s"), [])
        md.append("| %s | %s | %s | %s |" % (p, f(b, "%.2f"), ("%.1f - %.1f" % (min(v), max(v))) if v else "n/a",
                                             f(paired("bulk", p, "direct", nmax, "gbit_per_s"), "%.3fx")))
    md.append("")

    # 4. names
    md.append("## 4. getaddrinfo(AF_INET) of a service FQDN (us)")
    md.append("")
    md.append("| N | ldmesh p50 / p99 | /etc/hosts (N lines) p50 / p99 | dnsmasq on 127.0.0.1 p50 / p99 "
              "| dnsmasq / ldmesh p50 |")
    md.append("|---:|---:|---:|---:|---:|")
    rs = sorted({k[2] for k in vals if k[0] == "resolve"})
    for n in rs:
        cells = ["%s / %s" % (f(med("resolve", p, n, "p50_us"), "%.2f"), f(med("resolve", p, n, "p99_us"), "%.2f"))
                 for p in ("ldmesh", "hosts", "dnsmasq")]
        md.append("| %d | %s | %s |" % (n, " | ".join(cells), f(ratio(med("resolve", "dnsmasq", n, "p50_us"),
                                                                    med("resolve", "ldmesh", n, "p50_us")), "%.0fx")))
    md.append("")
    qn = sorted({k[2] for k in vals if k[0] == "dnsq"})
    if qn:
        q = qn[-1]
        md.append("DNS queries reaching dnsmasq for one getaddrinfo, Kubernetes resolv.conf "
                  "(`search <ns>.svc.cluster.local svc.cluster.local cluster.local`, `ndots:5`), N = %d:" % q)
        md.append("")
        md.append("| name | without ldmesh | with ldmesh |")
        md.append("|---|---:|---:|")
        for what, label in (("external", "external `example.com`"), ("service", "service short name")):
            md.append("| %s | %s | %s |" % (label, f(med("dnsq", "plain", q, what + "_queries"), "%.0f"),
                                            f(med("dnsq", "ldmesh", q, what + "_queries"), "%.0f")))
        md.append("")

    # 5. footprint
    md.append("## 5. Footprint at N = %d" % foot_n)
    md.append("")
    sb = med("footprint", "ldmesh", foot_n, "snapshot_bytes")
    r0, r1 = med("footprint", "plain", foot_n, "rss_kb"), med("footprint", "ldmesh", foot_n, "rss_kb")
    p0, p1 = med("footprint", "plain", foot_n, "pss_kb"), med("footprint", "ldmesh", foot_n, "pss_kb")
    md.append("| snapshot | RSS without / with preload | added RSS | PSS without / with | added PSS |")
    md.append("|---:|---:|---:|---:|---:|")
    md.append("| %s bytes (%s MiB) | %s / %s kB | %s kB | %s / %s kB | %s kB |" % (
        f(sb, "%.0f"), f(sb / 1048576 if sb else None, "%.2f"), f(r0, "%.0f"), f(r1, "%.0f"),
        f(r1 - r0 if r0 is not None and r1 is not None else None, "%+.0f"), f(p0, "%.0f"), f(p1, "%.0f"),
        f(p1 - p0 if p0 is not None and p1 is not None else None, "%+.0f")))
    md.append("")
    md.append("(smaps_rollup of the client after one getaddrinfo of the service name and one connect to "
              "its ClusterIP; without the preload the name comes from dnsmasq and the connect fails with "
              "ENETUNREACH.)")
    sizes = [(n, med("footprint", "ldmesh", n, "snapshot_bytes")) for n in ns]
    md.append("")
    md.append("Snapshot size by N: " + ", ".join("%d: %s B" % (n, f(s, "%.0f")) for n, s in sizes))
    md.append("")

    # targets
    md.append("## Targets")
    md.append("")
    md.append("| target | measured | verdict |")
    md.append("|---|---|---|")

    def target(label, measured, ok):
        md.append("| %s | %s | %s |" % (label, measured, "n/a" if ok is None else ("MET" if ok else "MISSED")))

    l1, lmax = med("connect", "ldmesh", ns[0], "p50_us"), med("connect", "ldmesh", nmax, "p50_us")
    dmax = med("connect", "direct", nmax, "p50_us")
    x = ratio(lmax, l1)
    target("ldmesh p50 at N=%d <= 1.05x its p50 at N=%d" % (nmax, ns[0]),
           "%s us / %s us = %s" % (f(lmax, "%.2f"), f(l1, "%.2f"), f(x, "%.3fx")), None if x is None else x <= 1.05)
    x = paired("connect", "ldmesh", "direct", nmax, "p50_us")
    target("ldmesh p50 at N=%d <= 1.05x direct" % nmax,
           "paired %s (medians %s us / %s us)" % (f(x, "%.3fx"), f(lmax, "%.2f"), f(dmax, "%.2f")),
           None if x is None else x <= 1.05)
    worst = None
    for n in ns:
        r = ratio(med("connect", "ldmesh", n, "p50_us"), med("connect", "iptables", n, "p50_us"))
        if r is not None and (worst is None or r > worst[1]):
            worst = (n, r)
    target("ldmesh p50 <= iptables p50 at every N",
           "worst: ldmesh/iptables = %s at N=%s" % (f(worst and worst[1], "%.3fx"), worst and worst[0]),
           None if worst is None else worst[1] <= 1.0)
    x = ratio(med("connect", "iptables", nmax, "p50_us"), lmax)
    target("ldmesh p50 >= 10x better than iptables at N=%d" % nmax, "iptables/ldmesh = %s" % f(x, "%.1fx"),
           None if x is None else x >= 10)
    pl = med("program", "ldmesh", n10k, "ms")
    target("ldmesh programming latency <= 20 ms at N=%d" % n10k, "%s ms" % f(pl, "%.2f"),
           None if pl is None else pl <= 20)
    x = ratio(med("program", "iptables", n10k, "ms"), pl)
    target("programming >= 100x faster than a full iptables-restore at N=%d" % n10k,
           "%s ms / %s ms = %s" % (f(med("program", "iptables", n10k, "ms"), "%.1f"), f(pl, "%.2f"), f(x, "%.0fx")),
           None if x is None else x >= 100)
    worst = None
    for n in rs:
        r = ratio(med("resolve", "dnsmasq", n, "p50_us"), med("resolve", "ldmesh", n, "p50_us"))
        if r is not None and (worst is None or r < worst[1]):
            worst = (n, r)
    target("service-name getaddrinfo >= 20x faster than dnsmasq on loopback (every N)",
           "worst: %s at N=%s" % (f(worst and worst[1], "%.0fx"), worst and worst[0]),
           None if worst is None else worst[1] >= 20)
    x = paired("bulk", "ldmesh", "direct", nmax, "gbit_per_s")
    target("bulk throughput >= 0.99x direct", "paired %s (medians %s / %s Gbit/s)" % (
        f(x, "%.3fx"), f(med("bulk", "ldmesh", nmax, "gbit_per_s"), "%.2f"), f(bd, "%.2f")),
        None if x is None else x >= 0.99)
    if qn:
        e0, e1 = med("dnsq", "plain", qn[-1], "external_queries"), med("dnsq", "ldmesh", qn[-1], "external_queries")
        target("external name, ndots:5: ldmesh sends 1 query instead of 4 (issue 5 text)",
               "%s with ldmesh, %s without" % (f(e1, "%.0f"), f(e0, "%.0f")),
               None if e1 is None else e1 <= 1)
    md.append("")
    md.append("Plots: connect_latency.png, requests_per_second.png, programming_latency.png, "
              "name_resolution.png, bulk_throughput.png.")
    md.append("")
    with open(os.path.join(a.out, "results.md"), "w") as fh:
        fh.write("\n".join(md))

    # ---- data for plot.gp ("?" is gnuplot's missing value)
    def g(x):
        return "?" if x is None else "%.6g" % x

    with open(os.path.join(a.out, "connect.dat"), "w") as fh:
        fh.write("# N " + " ".join("%s_p50 %s_p99" % (p, p) for p in PATHS) + "\n")
        for n in ns:
            fh.write("%d %s\n" % (n, " ".join("%s %s" % (g(med("connect", p, n, "p50_us")),
                                                          g(med("connect", p, n, "p99_us"))) for p in PATHS)))
    with open(os.path.join(a.out, "rps.dat"), "w") as fh:
        fh.write("# N " + " ".join(PATHS) + "\n")
        for n in ns:
            fh.write("%d %s\n" % (n, " ".join(g(med("rps", p, n, "req_per_s")) for p in PATHS)))
    with open(os.path.join(a.out, "program.dat"), "w") as fh:
        fh.write("# N ldmesh nftables iptables\n")
        for n in ns:
            fh.write("%d %s\n" % (n, " ".join(g(med("program", p, n, "ms")) for p in ("ldmesh", "nftables", "iptables"))))
    with open(os.path.join(a.out, "resolve.dat"), "w") as fh:
        fh.write("# N ldmesh hosts dnsmasq (p50 us)\n")
        for n in rs:
            fh.write("%d %s\n" % (n, " ".join(g(med("resolve", p, n, "p50_us")) for p in ("ldmesh", "hosts", "dnsmasq"))))
    with open(os.path.join(a.out, "bulk.dat"), "w") as fh:
        fh.write("# path gbit_per_s\n")
        for p in PATHS:
            fh.write('"%s" %s\n' % (p, g(med("bulk", p, nmax, "gbit_per_s"))))
    with open(os.path.join(a.out, "plot.inc"), "w") as fh:
        fh.write('machine = "%s"\n' % a.machine.replace('"', "'")[:160])
        fh.write("bulk_n = %d\n" % nmax)


if __name__ == "__main__":
    main()
