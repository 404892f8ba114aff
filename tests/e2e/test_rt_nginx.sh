#!/usr/bin/env bash
# nginx under the preload: `proxy_pass` to a service name. nginx resolves the
# name when it loads its configuration (getaddrinfo) and dials the ClusterIP
# per request; requests through it reach every backend. Without ldmesh nginx
# refuses the configuration ("host not found in upstream").
. "$(dirname "$0")/lib.sh"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || e2e_skip "nginx not installed"
command -v curl >/dev/null || e2e_skip "curl not installed"
e2e_netns "$@"
e2e_setup

PODS="10.244.1.5 10.244.2.5 10.244.3.5"
e2e_web http $PODS

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
	server {
		listen 127.0.0.1:8080;
		location / { proxy_pass http://web.default.svc.cluster.local:9000; }
	}
}
EOF2

rc=0
timeout 20 "$NGINX" -t -c "$E2E_TMP/nginx/nginx.conf" >"$E2E_TMP/nginx/test.log" 2>&1 || rc=$?
check "without ldmesh nginx refuses the configuration (exit $rc)" test "$rc" -ne 0
check_match "because the upstream name does not resolve" 'host not found in upstream' \
	"$(cat "$E2E_TMP/nginx/test.log")"

pl "$NGINX" -c "$E2E_TMP/nginx/nginx.conf" >>"$E2E_TMP/nginx/out.log" 2>&1 &
e2e_track $!
e2e_wait curl -s -o /dev/null --max-time 2 http://127.0.0.1:8080/ || e2e_log "nginx never answered"
out=$(for _ in $(seq 60); do curl -s --max-time 5 http://127.0.0.1:8080/ || echo failed; done)
for ip in $PODS; do
	check_ge "requests through nginx reach pod $ip (of 60)" 5 "$(count_of "$ip" "$out")"
done
check_eq "no request failed" 0 "$(count_of failed "$out")"
e2e_done
