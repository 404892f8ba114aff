#!/usr/bin/env bash
# nginx's own resolver (the `resolver` directive: nginx sends DNS queries
# itself, no libc, no preload) pointed at ldmesh-dns, proxying to a
# headless Service by name: ldmesh-dns answers the pods' addresses and
# nginx balances over them. No other DNS server in the namespace: without
# ldmesh-dns nginx cannot resolve the name (502).
. "$(dirname "$0")/lib.sh"
e2e_netns "$@"
e2e_setup
command -v dig >/dev/null || e2e_skip "dig not installed (bind9-dnsutils)"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || e2e_skip "nginx not installed"
. "$(dirname "$0")/dnslib.sh"

PODS="10.244.1.11 10.244.1.12 10.244.1.13"
e2e_add_ip $PODS
for ip in $PODS; do e2e_pod "$ip" 9100 http; done
{
	cat <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  clusterIP: None
  ports: [{name: http, port: 9100}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-x1, namespace: default, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: 9100, protocol: TCP}]
endpoints:
YAML
	for ip in $PODS; do printf -- '- addresses: [%s]\n  conditions: {ready: true}\n' "$ip"; done
} | e2e_put web.yaml
e2e_agent
dns_upstream
dns_server

mkdir -p "$E2E_TMP/nginx"
cat >"$E2E_TMP/nginx/nginx.conf" <<EOF2
daemon off;
master_process on;
worker_processes 1;
user root;
pid $E2E_TMP/nginx/nginx.pid;
error_log $E2E_TMP/nginx/error.log;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path $E2E_TMP/nginx/body;
	proxy_temp_path $E2E_TMP/nginx/proxy;
	resolver 127.0.0.1 valid=1s ipv6=off;
	server {
		listen 127.0.0.1:8080;
		location / {
			set \$backend web.default.svc.cluster.local;
			proxy_pass http://\$backend:9100;
		}
	}
}
EOF2
"$NGINX" -c "$E2E_TMP/nginx/nginx.conf" >>"$E2E_TMP/nginx/out.log" 2>&1 &
e2e_track $!
e2e_wait curl -s -o /dev/null --max-time 2 http://127.0.0.1:8080/ || e2e_log "nginx never answered"
out=$(for _ in $(seq 60); do curl -s --max-time 5 http://127.0.0.1:8080/ || echo error; echo; done)
for ip in $PODS; do
	check_ge "nginx's resolver: requests reach pod $ip (of 60)" 5 "$(count_of "$ip" "$out")"
done
check_eq "no request failed" 0 "$(count_of error "$out")"
e2e_done
