# shellcheck shell=bash
# Helpers for ldmesh-sync's end-to-end tests (test_sync*.sh), sourced after
# lib.sh and e2e_setup: a test CA, the fake API server (fakeapi.py) and
# ldmesh-sync itself, all on 127.0.0.1 inside the test's namespace.

SYNC=$LDMESH_BUILD/agent/ldmesh-sync

# A CA and a server certificate for IP 127.0.0.1 in $E2E_TMP/pki; the
# service-account folder $SA (token, ca.crt) as a pod has it.
sync_pki() {
	command -v openssl >/dev/null || e2e_skip "openssl not installed"
	[ -x "$SYNC" ] || e2e_die "build first: missing $SYNC"
	PKI=$E2E_TMP/pki SA=$E2E_TMP/sa
	mkdir -p "$PKI" "$SA"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=fake-ca \
		-keyout "$PKI/ca.key" -out "$PKI/ca.crt" 2>/dev/null || e2e_die "openssl: CA"
	openssl req -newkey rsa:2048 -nodes -subj /CN=kube-apiserver \
		-keyout "$PKI/server.key" -out "$PKI/server.csr" 2>/dev/null || e2e_die "openssl: CSR"
	printf 'subjectAltName=IP:127.0.0.1\n' >"$PKI/san.ext"
	openssl x509 -req -in "$PKI/server.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" \
		-CAcreateserial -days 2 -extfile "$PKI/san.ext" -out "$PKI/server.crt" 2>/dev/null ||
		e2e_die "openssl: sign"
	# a client certificate, for kubeconfig users without a token
	openssl req -newkey rsa:2048 -nodes -subj /CN=ldmesh-sync \
		-keyout "$PKI/client.key" -out "$PKI/client.csr" 2>/dev/null || e2e_die "openssl: client CSR"
	openssl x509 -req -in "$PKI/client.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" \
		-CAcreateserial -days 2 -out "$PKI/client.crt" 2>/dev/null || e2e_die "openssl: client sign"
	cp "$PKI/ca.crt" "$SA/ca.crt"
	printf 'token-one\n' >"$SA/token"
}

# Start fakeapi.py with the given extra arguments; sets $FAKE_PORT,
# $FAKE_PID, $FAKE_LOG (one line per API request).
sync_fake() {
	FAKE_LOG=$E2E_TMP/fakeapi.log
	rm -f "$E2E_TMP/fake.port"
	"$PY" "$E2E_DIR/fakeapi.py" --cert "$PKI/server.crt" --key "$PKI/server.key" \
		--token "$(cat "$SA/token")" --port-file "$E2E_TMP/fake.port" --log "$FAKE_LOG" \
		"$@" >>"$E2E_TMP/fakeapi.err" 2>&1 &
	FAKE_PID=$!
	e2e_track "$FAKE_PID"
	e2e_wait_file "$E2E_TMP/fake.port" 200 || e2e_die "fakeapi did not start: $(cat "$E2E_TMP/fakeapi.err")"
	FAKE_PORT=$(cat "$E2E_TMP/fake.port")
	touch "$FAKE_LOG"
}

# Tell the fake server something: fake COMMAND JSON
fake() {
	curl -sS --fail --noproxy '*' --cacert "$PKI/ca.crt" -X POST \
		-H 'Content-Type: application/json' -d "$2" \
		"https://127.0.0.1:$FAKE_PORT/_ctl/$1" >/dev/null
}

# Start ldmesh-sync in-cluster style into $MANIFESTS; extra arguments go to
# it. $SYNC_PID, log $E2E_TMP/sync.log.
sync_start() {
	KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT=$FAKE_PORT \
		LDMESH_SYNC_SA_DIR=$SA "$SYNC" --manifests "$MANIFESTS" "$@" \
		>>"$E2E_TMP/sync.log" 2>&1 &
	SYNC_PID=$!
	e2e_track "$SYNC_PID"
}

# Bounded poll, no fixed wait: until the command succeeds, at most TRIES
# tries 50 ms apart: wait_until TRIES cmd...
wait_until() {
	local tries=$1; shift
	for _ in $(seq "$tries"); do
		"$@" && return 0
		sleep 0.05
	done
	return 1
}

file_has() { [ -f "$1" ] && grep -q -- "$2" "$1"; }
count_lines() { grep -c -E -- "$1" "$2" || true; }

# e2e_done, with ldmesh-sync's log when a check failed.
sync_done() {
	if [ "$E2E_FAILS" -gt 0 ] && [ -f "$E2E_TMP/sync.log" ]; then
		echo "--- ldmesh-sync log (last 30 lines)"; tail -n 30 "$E2E_TMP/sync.log"
	fi
	e2e_done
}
