#!/usr/bin/env bash
# Scale down and up by editing manifests while the agent runs. After
# ldmeshctl shows the new generation, connects (from a client process that
# was running all along, and from fresh ones) never reach a removed pod and
# do reach an added one. Edits: atomic rename, in-place rewrite, a new file,
# a deleted file.
. "$(dirname "$0")/lib.sh"
e2e_netns "$@"
e2e_setup

A=10.244.1.5 B=10.244.2.5 C=10.244.3.5 D=10.244.4.5 E=10.244.5.5
e2e_add_ip $A $B $C $D $E
# every pod server runs the whole time: a removed pod is still reachable
# directly, so getting no traffic really is the table's doing
for ip in $A $B $C $D $E; do e2e_pod "$ip" 9100 banner; done

svc() {
	e2e_put svc.yaml <<-'YAML'
	apiVersion: v1
	kind: Service
	metadata: {name: web, namespace: default}
	spec:
	  clusterIP: 10.96.0.50
	  selector: {app: web}
	  ports: [{port: 9000, targetPort: 9100}]
	YAML
}
pods() { # the List of ready pods with these IPs
	local ip
	echo "apiVersion: v1"; echo "kind: List"; echo "items:"
	for ip in "$@"; do
		cat <<-YAML
		- apiVersion: v1
		  kind: Pod
		  metadata: {name: web-${ip//./-}, namespace: default, labels: {app: web}}
		  status: {phase: Running, podIP: $ip, conditions: [{type: Ready, status: "True"}]}
		YAML
	done
}
svc
pods $A $B $C | e2e_put pods.yaml
e2e_agent

# a long-lived client: one process through every change
RD=$E2E_TMP/rounds
mkdir -p "$RD"
pl "$PY" "$E2E_DIR/pyclient.py" rounds web 9000 90 "$RD" 45 >"$E2E_TMP/rounds.log" 2>&1 &
e2e_track $!
ROUND=0
round() { # the long-lived client makes 90 connects; answers in $out
	ROUND=$((ROUND + 1))
	touch "$RD/go.$ROUND"
	out="round $ROUND timed out"
	e2e_wait_file "$RD/out.$ROUND" && out=$(cat "$RD/out.$ROUND")
	return 0
}
fresh() { pl "$PY" "$E2E_DIR/pyclient.py" connect web 9000 60 2>&1 || true; }
has() { [ "$(count_of "$1" "$2")" -gt 0 ]; }
only() { # only IPs from the list "$1" appear in "$2", and all 90/60 answered
	[ -z "$(grep -vxE "$1" <<<"$2" || true)" ]
}

gen=$(e2e_gen)
round
check "gen $gen: long-lived client reaches A, B and C" eval 'has $A "$out" && has $B "$out" && has $C "$out"'
check "gen $gen: nothing else" only "${A//./\\.}|${B//./\\.}|${C//./\\.}" "$out"

# 1. remove C, add D (atomic rename of the pods file)
pods $A $B $D | e2e_put pods.yaml
new=$(e2e_wait_gen_after "$gen") || new=
check "ldmeshctl status shows a new generation after C->D ($gen -> ${new:-none})" test -n "$new"
out=$("$CTL" -t "$TABLE" route 10.96.0.50:9000)
check_nomatch "ldmeshctl route no longer lists C" "$C:" "$out"
check_match "ldmeshctl route lists D" "$D:9100" "$out"
round
check_eq "gen $new: long-lived client: C gets nothing" 0 "$(count_of $C "$out")"
check "gen $new: long-lived client reaches D" has $D "$out"
check "gen $new: long-lived client: only A, B, D (all 90 answered)" only "${A//./\\.}|${B//./\\.}|${D//./\\.}" "$out"
out=$(fresh)
check_eq "gen $new: fresh client: C gets nothing" 0 "$(count_of $C "$out")"
check "gen $new: fresh client reaches D" has $D "$out"
check_eq "C's server is still up (answers directly)" $C "$("$PY" "$E2E_DIR/pyclient.py" connect $C 9100 1)"

# 2. scale down to one pod, rewriting the file in place (close-after-write)
gen=$new
text=$(pods $B)
printf '%s\n' "$text" >"$MANIFESTS/pods.yaml"  # one open, one write, one close
new=$(e2e_wait_gen_after "$gen") || new=
check "new generation after an in-place rewrite ($gen -> ${new:-none})" test -n "$new"
round
check_eq "gen $new: all 90 connects reach the one pod left" 90 "$(count_of $B "$out")"

# 3. scale up with a new manifest file
gen=$new
pods $E | sed 's/web-/extra-/' | e2e_put more-pods.yaml
new=$(e2e_wait_gen_after "$gen") || new=
check "new generation after adding a file ($gen -> ${new:-none})" test -n "$new"
round
check "gen $new: long-lived client reaches the added pod E" has $E "$out"
check "gen $new: and B" has $B "$out"
check "gen $new: only B and E" only "${B//./\\.}|${E//./\\.}" "$out"

# 4. delete that file: E goes away again
gen=$new
rm "$MANIFESTS/more-pods.yaml"
new=$(e2e_wait_gen_after "$gen") || new=
check "new generation after deleting a file ($gen -> ${new:-none})" test -n "$new"
round
check_eq "gen $new: E gets nothing after its file is deleted" 0 "$(count_of $E "$out")"
check_eq "gen $new: all 90 reach B" 90 "$(count_of $B "$out")"
out=$(fresh)
check_eq "gen $new: fresh client: all 60 reach B" 60 "$(count_of $B "$out")"

touch "$RD/stop"
e2e_done
