#!/usr/bin/env bash
# nginx with its default `daemon on` under ldmesh-exec: the nginx that
# ldmesh-exec started forks its master into the background and exits at
# once. ldmesh-exec must stay for the master and its worker, whose
# proxy_pass connects to a ClusterIP it still redirects (before, every
# request was answered 502: connect failed ENOSYS once the supervisor had
# left), and SIGTERM to ldmesh-exec must reach the master, after which
# ldmesh-exec exits with the started nginx's status (0).
. "$(dirname "$0")/lib.sh"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || e2e_skip "nginx not installed"
command -v curl >/dev/null || e2e_skip "curl not installed"
e2e_netns "$@"
e2e_setup
e2e_need_exec

PODS="10.244.1.5 10.244.2.5"
e2e_web http $PODS

mkdir -p "$E2E_TMP/nginx"
cat >"$E2E_TMP/nginx/nginx.conf" <<EOF2
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
		location / { proxy_pass http://10.96.0.80:9000; }
	}
}
EOF2

env LDMESH_TABLE="$TABLE" LDMESH_NAMESPACE=default "$EXEC" "$NGINX" -c "$E2E_TMP/nginx/nginx.conf" \
	>>"$E2E_TMP/nginx/out.log" 2>&1 &
sup=$!
e2e_track "$sup"
# the daemonised master writes its pid file once it runs
e2e_wait_file "$E2E_TMP/nginx/nginx.pid" 400 || e2e_die "nginx did not start: $(cat "$E2E_TMP/nginx/error.log" 2>/dev/null)"
e2e_wait curl -s -o /dev/null --max-time 2 http://127.0.0.1:8080/ || true
check "ldmesh-exec stays after the nginx it started has exited" kill -0 "$sup"
out=$(for _ in $(seq 20); do curl -s --max-time 5 http://127.0.0.1:8080/ || echo failed; done)
check_eq "every request through the daemonised nginx reached a pod" 20 \
	"$(printf '%s\n' "$out" | grep -cE '^10\.244\.[12]\.5$' || true)"
kill -TERM "$sup"
rc=0
wait "$sup" || rc=$?
check_eq "SIGTERM reaches the master; ldmesh-exec then exits with nginx's status" 0 "$rc"
check "the master is gone" test ! -e "$E2E_TMP/nginx/nginx.pid"
e2e_done
