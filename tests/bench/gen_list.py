#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# A kind: List of N Services on stdout, as `kubectl get svc -A -o yaml` prints
# it (keys sorted: kind after items): gen_list.py N. Service i is svc-i in
# namespace default, ClusterIP 10.96.0.0 + i + 1, port 80 -> 8080.
import sys
n = int(sys.argv[1]); w = sys.stdout.write
w("apiVersion: v1\nitems:\n")
for i in range(n):
    ip = i + 1
    a = f"10.{96 + (ip >> 16)}.{(ip >> 8) & 255}.{ip & 255}"
    w(f"- apiVersion: v1\n  kind: Service\n  metadata:\n    labels:\n      app: svc-{i}\n"
      f"    name: svc-{i}\n    namespace: default\n  spec:\n    clusterIP: {a}\n"
      f"    ports:\n    - name: http\n      port: 80\n      protocol: TCP\n"
      f"      targetPort: 8080\n    selector:\n      app: svc-{i}\n"
      f"    sessionAffinity: None\n    type: ClusterIP\n")
w('kind: List\nmetadata:\n  resourceVersion: ""\n')
