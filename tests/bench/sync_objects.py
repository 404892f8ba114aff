#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Objects for tests/bench/bench_sync.sh, in fakeapi.py's --objects form:
N Services (ClusterIPs from 10.96.0.0/12) over 100 namespaces, each with
one EndpointSlice of ENDPOINTS ready endpoints (pod IPs from 10.128.0.0/9).

    sync_objects.py N ENDPOINTS OUT.json
"""
import ipaddress
import json
import sys

VIP0 = int(ipaddress.IPv4Address("10.96.0.10"))
POD0 = int(ipaddress.IPv4Address("10.128.0.1"))


def ip(n):
    return str(ipaddress.IPv4Address(n))


def service(i):
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "svc-%06d" % i, "namespace": "ns-%02d" % (i % 100),
                         "labels": {"app": "svc-%06d" % i}},
            "spec": {"clusterIP": ip(VIP0 + i), "type": "ClusterIP",
                     "selector": {"app": "svc-%06d" % i},
                     "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}]}}


def endpoint_slice(i, endpoints):
    name = "svc-%06d" % i
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": name + "-abcde", "namespace": "ns-%02d" % (i % 100),
                         "labels": {"kubernetes.io/service-name": name,
                                    "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}},
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "endpoints": [{"addresses": [ip(POD0 + i * endpoints + j)],
                           "conditions": {"ready": True, "serving": True, "terminating": False},
                           "nodeName": "node-%d" % (j % 7), "zone": "z%d" % (j % 3)}
                          for j in range(endpoints)]}


def main():
    n, endpoints, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    objs = {"services": [service(i) for i in range(n)],
            "endpointslices": [endpoint_slice(i, endpoints) for i in range(n)]}
    with open(out, "w") as f:
        json.dump(objs, f)


if __name__ == "__main__":
    main()
