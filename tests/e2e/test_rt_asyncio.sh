#!/usr/bin/env bash
# Python asyncio: asyncio.open_connection (getaddrinfo on the loop's executor,
# a non-blocking connect driven by the event loop) reaches a service by name,
# balanced over three pods, 20 connections at a time; without ldmesh it fails.
. "$(dirname "$0")/lib.sh"
e2e_netns "$@"
e2e_setup

PODS="10.244.1.5 10.244.2.5 10.244.3.5"
e2e_web banner $PODS

check_match "without ldmesh: open_connection fails" '^error: ' \
	"$(timeout 60 "$PY" "$E2E_DIR/aclient.py" web 9000 1 2>&1 || true)"
out=$(pl timeout 60 "$PY" "$E2E_DIR/aclient.py" web 9000 90 2>&1 || true)
for ip in $PODS; do
	check_ge "connections by name reach pod $ip (of 90)" 10 "$(count_of "$ip" "$out")"
done
check_eq "every connection was answered by a pod" 90 \
	"$(printf '%s\n' "$out" | grep -c '^10\.244\.[123]\.5$' || true)"
out=$(pl timeout 60 "$PY" "$E2E_DIR/aclient.py" 10.96.0.80 9000 3 2>&1 || true)
check_eq "by ClusterIP too" 3 "$(printf '%s\n' "$out" | grep -c '^10\.244\.[123]\.5$' || true)"
e2e_done
