#!/usr/bin/env bash
# Several nodes agreeing. Three nodes are network namespaces joined by veth
# pairs to a bridge in this test's namespace, which routes between the
# nodes' pod CIDRs (10.244.N.0/24 via node N). Each node runs its own agent
# (--node, --zone) on the same manifests and its own table; each holds one
# pod. Checked from a client on every node:
#  - every node computes the same ClusterIP for a Service without one;
#  - a client on each node reaches pods on the others, across the bridge;
#  - internalTrafficPolicy: Local keeps each node's connects on its own pod;
#  - trafficDistribution: PreferClose keeps them in the node's zone (nodes 1
#    and 2 in zone-a, node 3 in zone-b).
# Everything lives in namespaces this test made: no traffic leaves them.
. "$(dirname "$0")/lib.sh"
command -v nsenter >/dev/null || e2e_skip "nsenter not installed (util-linux)"
# a /proc of the test's own pid namespace, to reach the nodes by pid
e2e_mountns "$@"
e2e_netns "$@"
mount -t proc proc /proc || e2e_skip "cannot mount /proc for this pid namespace"
e2e_setup
ip link add br0 type bridge 2>/dev/null || e2e_skip "cannot create a bridge here"
ip addr add 10.250.0.254/24 dev br0
ip link set br0 up
sysctl -qw net.ipv4.ip_forward=1 || e2e_skip "cannot enable forwarding"

NODE_PID=()
own_netns() { [ "$(readlink "/proc/$1/ns/net" 2>/dev/null)" != "$(readlink /proc/self/ns/net)" ]; }
zone() { [ "$1" = 3 ] && echo zone-b || echo zone-a; }
for n in 1 2 3; do
	unshare --net sleep 600 &
	NODE_PID[$n]=$!
	e2e_track "${NODE_PID[$n]}"
	# /proc/PID/ns/net exists from the fork on, naming this namespace until
	# unshare(2) has run: wait for it to name another one, or the veth's
	# peer lands here (on a busy machine the node was then set up wrong)
	e2e_wait own_netns "${NODE_PID[$n]}" ||
		e2e_die "node $n has no network namespace of its own"
	ip link add "veth$n" type veth peer name eth0 netns "${NODE_PID[$n]}"
	ip link set "veth$n" master br0 up
	ip route add "10.244.$n.0/24" via "10.250.0.$n"
	nsenter --net="/proc/${NODE_PID[$n]}/ns/net" sh -c "
		ip link set lo up && ip link set eth0 up &&
		ip addr add 10.250.0.$n/24 dev eth0 &&
		ip addr add 10.244.$n.5/32 dev lo &&
		ip route add default via 10.250.0.254" || e2e_die "cannot set up node $n"
done
# on N CMD...: run CMD in node N. (Background ones call nsenter directly:
# it execs CMD, so $! is CMD itself and cleanup reaches it.)
on() { local n=$1; shift; nsenter --net="/proc/${NODE_PID[$n]}/ns/net" "$@"; }

for n in 1 2 3; do
	nsenter --net="/proc/${NODE_PID[$n]}/ns/net" "$PY" "$E2E_DIR/podserver.py" banner \
		"10.244.$n.5" 9100 "$E2E_TMP/ready.$n" >>"$E2E_TMP/pods.log" 2>&1 &
	e2e_track $!
	e2e_wait_file "$E2E_TMP/ready.$n" || e2e_die "pod on node $n did not start"
done

ep() { # ip node zone
	printf -- '- addresses: [%s]\n  conditions: {ready: true}\n  nodeName: %s\n  zone: %s\n  hints: {forZones: [{name: %s}]}\n' \
		"$1" "$2" "$3" "$3"
}
for svc in web local zonal; do
	case $svc in
	web) extra="" ;;
	local) extra="internalTrafficPolicy: Local" ;;
	zonal) extra="trafficDistribution: PreferClose" ;;
	esac
	{
		printf 'apiVersion: v1\nkind: Service\nmetadata: {name: %s, namespace: default, creationTimestamp: "2026-01-0%sT00:00:00Z"}\n' \
			"$svc" "$(( ${#svc} % 9 + 1 ))"
		printf 'spec:\n  ports: [{name: tcp, port: 9000, targetPort: 9100}]\n  %s\n---\n' "$extra"
		printf 'apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: %s-1, namespace: default, labels: {kubernetes.io/service-name: %s}}\n' "$svc" "$svc"
		printf 'addressType: IPv4\nports: [{name: tcp, port: 9100, protocol: TCP}]\nendpoints:\n'
		for n in 1 2 3; do ep "10.244.$n.5" "node-$n" "$(zone "$n")"; done
	} | e2e_put "$svc.yaml"
done

for n in 1 2 3; do
	nsenter --net="/proc/${NODE_PID[$n]}/ns/net" "$AGENT" -m "$MANIFESTS" -t "$E2E_TMP/table.$n" \
		--node "node-$n" --zone "$(zone "$n")" >>"$E2E_TMP/agent.log" 2>&1 &
	e2e_track $!
done
for n in 1 2 3; do
	e2e_wait "$CTL" -t "$E2E_TMP/table.$n" status >/dev/null 2>&1 || e2e_die "node $n's agent published nothing"
done

CLIENT=$(e2e_cc netclient)
ask() { # node service -> the answers of 60 connects by name
	on "$1" env LD_PRELOAD="$PRELOAD" LDMESH_TABLE="$E2E_TMP/table.$1" LDMESH_RESOLV_CONF="$RESOLV" \
		LDMESH_NAMESPACE=default "$CLIENT" banner "$2" 9000 60 2>&1 || true
}

ips=$(for n in 1 2 3; do LDMESH_NAMESPACE=default "$CTL" -t "$E2E_TMP/table.$n" resolve web | awk 'NR == 2 { print $1 }'; done)
check_eq "every node computed one ClusterIP for web" 1 "$(printf '%s\n' "$ips" | sort -u | grep -c .)"
check_match "an allocated one, from the service CIDR" '^10\.(9[6-9]|10[0-9]|11[01])\.' "$(printf '%s\n' "$ips" | head -n1)"

for n in 1 2 3; do
	out=$(ask "$n" web)
	for m in 1 2 3; do
		check_ge "web from node $n reaches the pod on node $m (of 60)" 5 "$(count_of "10.244.$m.5" "$out")"
	done
	out=$(ask "$n" local)
	check_eq "internalTrafficPolicy: Local on node $n: all to its own pod" 60 "$(count_of "10.244.$n.5" "$out")"
	out=$(ask "$n" zonal)
	if [ "$n" = 3 ]; then
		check_eq "PreferClose on node 3 (zone-b): all to the zone-b pod" 60 "$(count_of 10.244.3.5 "$out")"
	else
		check_eq "PreferClose on node $n (zone-a): none leaves zone-a" 0 "$(count_of 10.244.3.5 "$out")"
		check_ge "PreferClose on node $n: both zone-a pods serve" 10 "$(count_of 10.244.$((3 - n)).5 "$out")"
	fi
done
check_match "ldmeshctl route on node 3 names the zone rule" 'rule: endpoints hinted for zone zone-b' \
	"$("$CTL" -t "$E2E_TMP/table.3" route "$(LDMESH_NAMESPACE=default "$CTL" -t "$E2E_TMP/table.3" resolve zonal | awk 'NR == 2 { print $1 }'):9000")"
e2e_done
