#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Generate the same N services in four shapes for tests/bench/compare/run.sh.

    gen.py ipt       N [--extra]     kube-proxy iptables-restore input (nat table)
    gen.py nft       N               kube-proxy nftables ruleset (nft -f input)
    gen.py nft-add   N               incremental nft transaction adding one endpoint
    gen.py nft-del   N               ... and the one taking it away again
    gen.py manifests N DIR           Service + EndpointSlice YAML for ldmesh-agent
    gen.py measured  N FILE [--extra] the measured service's manifest alone
    gen.py hosts     N FILE          /etc/hosts style file, N FQDNs
    gen.py info      N               the measured service: "name ns vip fqdn"

Service i (0 <= i < N) is svc-<i> in namespace ns-<i % 100>, ClusterIP
10.96.0.10 + i, port 80 -> 8080 on the two pods 10.244.0.1 and 10.244.0.2.
The measured service is the LAST one (i = N - 1): it is the last entry in
KUBE-SERVICES (the worst case of iptables' linear walk) and it has three more
ports (81 -> 8081 banner, 82 -> 8082 request/response, 90 -> 9000 bulk).
--extra adds the third pod 10.244.0.3 to the measured service (the change
that the programming-latency test applies).

Chain names are computed the way kube-proxy computes them: base32 of the
SHA-256 of "ns/name:port" + protocol (+ endpoint), truncated.
"""
import base64
import hashlib
import ipaddress
import os
import sys

PODS = ["10.244.0.1", "10.244.0.2"]
EXTRA_POD = "10.244.0.3"
VIP_BASE = int(ipaddress.IPv4Address("10.96.0.10"))
# name, service port, target port; every service has "http", the measured
# one all four
PORTS = [("http", 80, 8080), ("banner", 81, 8081), ("rps", 82, 8082), ("bulk", 90, 9000)]


def svc(i):
    return "svc-%d" % i, "ns-%d" % (i % 100), str(ipaddress.IPv4Address(VIP_BASE + i))


def ports_of(i, n):
    return PORTS if i == n - 1 else PORTS[:1]


def pods_of(i, n, extra):
    return PODS + [EXTRA_POD] if (extra and i == n - 1) else PODS


def khash(s, n=16):
    return base64.b32encode(hashlib.sha256(s.encode()).digest()).decode()[:n]


def ipt(n, extra):
    """The nat table as kube-proxy's full sync writes it (iptables mode)."""
    chains, rules = [], []
    chains += ["KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ"]
    rules.append('-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES')
    rules.append('-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING')
    rules.append("-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000")
    rules.append("-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN")
    rules.append("-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0")
    rules.append('-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" '
                 "-j MASQUERADE --random-fully")
    svc_rules, per_svc = [], []
    for i in range(n):
        name, ns, vip = svc(i)
        pods = pods_of(i, n, extra)
        for pname, port, tport in ports_of(i, n):
            spn = "%s/%s:%s" % (ns, name, pname)
            svc_chain = "KUBE-SVC-" + khash(spn + "tcp")
            chains.append(svc_chain)
            svc_rules.append('-A KUBE-SERVICES -d %s/32 -p tcp -m comment --comment "%s cluster IP" '
                             "-m tcp --dport %d -j %s" % (vip, spn, port, svc_chain))
            for k, pod in enumerate(pods):
                ep = "%s:%d" % (pod, tport)
                sep = "KUBE-SEP-" + khash(spn + "tcp" + ep)
                chains.append(sep)
                left = len(pods) - k
                if left > 1:
                    per_svc.append('-A %s -m comment --comment "%s -> %s" -m statistic --mode random '
                                   "--probability %.11f -j %s" % (svc_chain, spn, ep, 1.0 / left, sep))
                else:
                    per_svc.append('-A %s -m comment --comment "%s -> %s" -j %s' % (svc_chain, spn, ep, sep))
                per_svc.append('-A %s -s %s/32 -m comment --comment "%s" -j KUBE-MARK-MASQ' % (sep, pod, spn))
                per_svc.append('-A %s -p tcp -m comment --comment "%s" -m tcp -j DNAT --to-destination %s'
                               % (sep, spn, ep))
    svc_rules.append('-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be '
                     'the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS')
    out = ["*nat"] + [":%s - [0:0]" % c for c in chains] + rules + svc_rules + per_svc + ["COMMIT", ""]
    return "\n".join(out)


def nft_names(i, pname, pod=None, tport=None):
    name, ns, _ = svc(i)
    spn = "%s/%s/tcp/%s" % (ns, name, pname)
    if pod is None:
        return "service-%s-%s" % (khash(spn, 8), spn)
    ep = "%s__%s/%d" % (spn, pod, tport)
    return "endpoint-%s-%s" % (khash(ep, 8), ep)


def nft_service_rule(i, pname, tport, pods):
    maps = ", ".join("%d : goto %s" % (k, nft_names(i, pname, p, tport)) for k, p in enumerate(pods))
    return "numgen random mod %d vmap { %s }" % (len(pods), maps)


def nft_endpoint_body(pod, tport):
    return ["ip saddr %s jump mark-for-masquerade" % pod,
            "meta l4proto tcp dnat to %s:%d" % (pod, tport)]


def nft(n):
    """The table kube-proxy's nftables mode writes (its ClusterIP part), as
    one nft -f transaction. The ruleset is kube-proxy's; the statement order
    inside the transaction is chosen for load time: on this kernel every
    goto/jump into a chain is loop-checked against every verdict map of the
    table, so the (empty) chains and the map elements come first, then the
    service chains' numgen vmaps, then the endpoint chains' rules. The same
    text in kube-proxy's order takes minutes at 20,000 services."""
    t = "ip kube-proxy"
    o = ["table %s" % t, "delete table %s" % t, "table %s {" % t,
         '  comment "rules for kube-proxy"',
         "  chain mark-for-masquerade {",
         "    meta mark set meta mark or 0x4000",
         "  }",
         "  chain masquerading {",
         "    type nat hook postrouting priority 100; policy accept;",
         "    meta mark & 0x4000 == 0 return",
         "    meta mark set meta mark ^ 0x4000",
         "    masquerade fully-random",
         "  }",
         "  chain nat-output {",
         "    type nat hook output priority -100; policy accept;",
         "    jump services",
         "  }",
         "  map service-ips {",
         "    type ipv4_addr . inet_proto . inet_service : verdict",
         '    comment "ClusterIP, ExternalIP and LoadBalancer IP traffic"',
         "  }",
         "  chain services {",
         "    ip daddr . meta l4proto . th dport vmap @service-ips",
         "  }",
         "}"]
    elems, svc_rules, ep_rules = [], [], []
    for i in range(n):
        _, _, vip = svc(i)
        for pname, port, tport in ports_of(i, n):
            sc = nft_names(i, pname)
            o.append("add chain %s %s" % (t, sc))
            svc_rules.append("add rule %s %s ip daddr %s tcp dport %d %s"
                             % (t, sc, vip, port, nft_service_rule(i, pname, tport, PODS)))
            for pod in PODS:
                ec = nft_names(i, pname, pod, tport)
                o.append("add chain %s %s" % (t, ec))
                ep_rules += ["add rule %s %s %s" % (t, ec, r) for r in nft_endpoint_body(pod, tport)]
            elems.append("%s . tcp . %d : goto %s" % (vip, port, sc))
    for k in range(0, len(elems), 2000):
        o.append("add element %s service-ips { %s }" % (t, ", ".join(elems[k:k + 2000])))
    o += svc_rules + ep_rules
    return "\n".join(o) + "\n"


def nft_change(n, add):
    """kube-proxy's incremental sync for one endpoint added to (or removed
    from) the measured service: new endpoint chain, the service chain
    flushed and rewritten; nothing else is touched."""
    i = n - 1
    _, _, vip = svc(i)
    o = []
    pods = PODS + [EXTRA_POD] if add else PODS
    for pname, port, tport in ports_of(i, n):
        ec = nft_names(i, pname, EXTRA_POD, tport)
        if add:
            o.append("add chain ip kube-proxy %s" % ec)
            for r in nft_endpoint_body(EXTRA_POD, tport):
                o.append("add rule ip kube-proxy %s %s" % (ec, r))
        sc = nft_names(i, pname)
        o.append("flush chain ip kube-proxy %s" % sc)
        o.append("add rule ip kube-proxy %s ip daddr %s tcp dport %d %s"
                 % (sc, vip, port, nft_service_rule(i, pname, tport, pods)))
        if not add:
            o.append("delete chain ip kube-proxy %s" % ec)
    return "\n".join(o) + "\n"


def manifest(i, n, extra):
    name, ns, vip = svc(i)
    ports = ports_of(i, n)
    sp = ", ".join("{name: %s, port: %d, targetPort: %d}" % (p, a, b) for p, a, b in ports)
    ep = ", ".join("{name: %s, port: %d, protocol: TCP}" % (p, b) for p, a, b in ports)
    s = ("---\napiVersion: v1\nkind: Service\nmetadata: {name: %s, namespace: %s}\n"
         "spec:\n  clusterIP: %s\n  ports: [%s]\n"
         "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
         "metadata: {name: %s-abcde, namespace: %s, labels: {kubernetes.io/service-name: %s}}\n"
         "addressType: IPv4\nports: [%s]\nendpoints:\n" % (name, ns, vip, sp, name, ns, name, ep))
    for k, pod in enumerate(pods_of(i, n, extra)):
        s += ('- addresses: ["%s"]\n  conditions: {ready: true}\n'
              "  targetRef: {kind: Pod, name: %s-pod-%d}\n" % (pod, name, k))
    return s


def manifests(n, d):
    per_file = 1000
    os.makedirs(d, exist_ok=True)
    for f in range(0, n - 1, per_file):
        with open(os.path.join(d, "svc-%06d.yaml" % f), "w") as fh:
            fh.write("".join(manifest(i, n, False) for i in range(f, min(f + per_file, n - 1))))
    with open(os.path.join(d, "measured.yaml"), "w") as fh:
        fh.write(manifest(n - 1, n, False))


def hosts(n, path):
    with open(path, "w") as fh:
        fh.write("127.0.0.1\tlocalhost\n")
        for i in range(n):
            name, ns, vip = svc(i)
            fh.write("%s\t%s.%s.svc.cluster.local\n" % (vip, name, ns))


def main(a):
    cmd, n = a[0], int(a[1])
    extra = "--extra" in a
    if n < 1:
        raise SystemExit("N must be >= 1")
    if cmd == "ipt":
        sys.stdout.write(ipt(n, extra))
    elif cmd == "nft":
        sys.stdout.write(nft(n))
    elif cmd == "nft-add":
        sys.stdout.write(nft_change(n, True))
    elif cmd == "nft-del":
        sys.stdout.write(nft_change(n, False))
    elif cmd == "manifests":
        manifests(n, a[2])
    elif cmd == "measured":
        with open(a[2], "w") as fh:
            fh.write(manifest(n - 1, n, extra))
    elif cmd == "hosts":
        hosts(n, a[2])
    elif cmd == "info":
        name, ns, vip = svc(n - 1)
        print(name, ns, vip, "%s.%s.svc.cluster.local" % (name, ns))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
