#!/usr/bin/env bash
# PostgreSQL: `psql -h SERVICE` (libpq resolves the name with getaddrinfo and
# connects) reaches the server behind the service; `inet_server_addr()` says
# which pod answered. Without ldmesh psql cannot resolve the name.
. "$(dirname "$0")/lib.sh"
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
[ -n "$PGBIN" ] && [ -x "$PGBIN/initdb" ] || e2e_skip "PostgreSQL server not installed (postgresql)"
command -v psql >/dev/null || e2e_skip "psql not installed (postgresql-client)"
id postgres >/dev/null 2>&1 || e2e_skip "no postgres user"
e2e_netns "$@"
e2e_setup

POD=10.244.1.5
e2e_add_ip $POD
# the server refuses to run as root: a data folder the postgres user owns
PGDATA=$(mktemp -d /tmp/ldmesh-pg.XXXXXX)
chown postgres: "$PGDATA"
pg_stop() { runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA/db" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$PGDATA"; }
trap 'pg_stop; e2e_cleanup' EXIT
runuser -u postgres -- "$PGBIN/initdb" -D "$PGDATA/db" --auth=trust -U postgres >"$E2E_TMP/initdb.log" 2>&1 ||
	e2e_die "initdb failed: $(tail -3 "$E2E_TMP/initdb.log")"
# clients come from pod addresses: trust them (the server is the test's own)
echo 'host all all 10.0.0.0/8 trust' >>"$PGDATA/db/pg_hba.conf"
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA/db" -w -t 30 -l "$PGDATA/server.log" \
	-o "-h $POD -p 5432 -k $PGDATA" start >/dev/null ||
	e2e_die "postgres did not start: $(tail -3 "$PGDATA/server.log")"

e2e_put pg.yaml <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: pg, namespace: default}
spec:
  clusterIP: 10.96.0.54
  ports: [{name: postgres, port: 5432, targetPort: 5432}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: pg-1, namespace: default, labels: {kubernetes.io/service-name: pg}}
addressType: IPv4
ports: [{name: postgres, port: 5432, protocol: TCP}]
endpoints:
- addresses: [10.244.1.5]
  conditions: {ready: true}
YAML
e2e_agent

q='select inet_server_addr()'
check_match "without ldmesh psql cannot reach the service" 'could not translate host name' \
	"$(PGCONNECT_TIMEOUT=5 psql -h pg -U postgres -Atc "$q" postgres 2>&1 || true)"
check_eq "psql -h pg reaches the server" "$POD" \
	"$(PGCONNECT_TIMEOUT=5 pl psql -h pg -U postgres -Atc "$q" postgres 2>&1)"
check_eq "psql -h pg.default.svc.cluster.local too" "$POD" \
	"$(PGCONNECT_TIMEOUT=5 pl psql -h pg.default.svc.cluster.local -U postgres -Atc "$q" postgres 2>&1)"
check_eq "and the ClusterIP" "$POD" \
	"$(PGCONNECT_TIMEOUT=5 pl psql -h 10.96.0.54 -U postgres -Atc "$q" postgres 2>&1)"
e2e_done
