#!/usr/bin/env bash
# Operators' faults on the table (issue 9, items 2 and 3):
#  - the table removed under a running agent (as root's `rm -rf` leaves it:
#    the immutable snapshots stay, control goes; then wholly, after
#    `chattr -i`): the agent writes it again at once and a long-lived
#    client follows the new one;
#  - the agent's first start on a full tmpfs (a private mount namespace):
#    a clear error naming the path, exit 1, not SIGBUS, no half-made
#    control page; once space is back the next start publishes.
. "$(dirname "$0")/lib.sh"
e2e_netns "$@"
e2e_setup
command -v chattr >/dev/null || e2e_skip "chattr (e2fsprogs) not installed"

e2e_add_ip 10.244.1.5
e2e_put_web 10.244.1.5
e2e_pod 10.244.1.5 9100 banner
C="$PY $E2E_DIR/pyclient.py"
e2e_agent

e2e_rounds 10.96.0.80 9000 5
R=$E2E_ROUNDS P=$E2E_ROUNDS_PID
# wait (e2e_wait) until the table at $TABLE answers with a generation > $1
restored() { e2e_wait e2e_restored "$1"; }
e2e_restored() { [ "$(e2e_gen)" -gt "$1" ] && [ -f "$TABLE/control" ]; }
e2e_round 1
check_eq "round 1 reaches the pod" 5 "$(grep -c '^10\.244\.1\.5$' "$R/out.1" || true)"

G=$(e2e_gen)
# fails on the immutable snapshots, takes control (which the agent may be
# writing again before the next line runs: what counts is the next check);
# on tmpfs the agent seals control too, so root lifts that first
chattr -i "$TABLE/control" 2>/dev/null || true
rm -rf "$TABLE" 2>/dev/null || true
check "the agent writes the table again (generation > $G)" restored "$G"
e2e_round 2
check_eq "round 2: the long-lived client follows the new control page" 5 \
	"$(grep -c '^10\.244\.1\.5$' "$R/out.2" || true)"

G=$(e2e_gen)
# (rm may race the agent, which starts writing the table again as soon as
# control goes: what counts is that a table is back, checked next)
chattr -R -i "$TABLE"; rm -rf "$TABLE" 2>/dev/null || true
check "the agent makes the directory again (generation > $G)" restored "$G"
e2e_round 3
check_eq "round 3: the long-lived client follows the new directory" 5 \
	"$(grep -c '^10\.244\.1\.5$' "$R/out.3" || true)"
out=$(pl $C connect 10.96.0.80 9000 3 2>&1 || true)
check_eq "a new process reaches the pod" 3 "$(printf '%s\n' "$out" | grep -c '^10\.244\.1\.5$' || true)"
touch "$R/stop"
check_match "the agent said what happened" "removed or replaced under the agent" \
	"$(cat "$E2E_TMP/agent.log")"

# ---- a full tmpfs at first start --------------------------------------------
if unshare --mount --propagation private true 2>/dev/null; then
	FULL=$E2E_TMP/full; mkdir -p "$FULL"
	out=$(unshare --mount --propagation private bash -c '
		mount -t tmpfs -o size=64k tmpfs "$1" || exit 77
		dd if=/dev/zero of="$1/filler" bs=4k 2>/dev/null
		"$2" --once -m "$3" -t "$1/table" 2>&1; echo "exit $?"
		echo "control: $(stat -c %s "$1/table/control" 2>/dev/null || echo none)"
		rm -f "$1/filler"
		"$2" --once -m "$3" -t "$1/table" 2>&1; echo "exit $?"
		"$4" -t "$1/table" status | head -2' _ "$FULL" "$AGENT" "$MANIFESTS" "$CTL" 2>&1)
	printf '%s\n' "$out" | sed 's/^/#   /'
	check_eq "full tmpfs: the first start exits 1 (no signal)" "exit 1" \
		"$(printf '%s\n' "$out" | grep '^exit' | head -1)"
	check_match "full tmpfs: the error names the path and the cause" \
		"$FULL/table: No space left on device" "$out"
	check_nomatch "full tmpfs: no half-made 4096-byte control page" "^control: 4096$" "$out"
	check_eq "space back: the next start publishes" "exit 0" \
		"$(printf '%s\n' "$out" | grep '^exit' | tail -1)"
	check_match "and the table is usable" "^generation: *1$" "$out"
elif [ "${LDMESH_E2E_NO_SKIP:-0}" = 1 ]; then
	not_ok "full tmpfs: no private mount namespace here to mount one in"
else
	e2e_log "skipping the full-tmpfs case: no private mount namespace here"
fi
e2e_done
