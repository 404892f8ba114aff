#!/usr/bin/env bash
# ldmeshctl's usage errors (issue 23): an unknown command, a missing or
# extra argument, an option of another command, an unknown -o or option
# are said on stderr ("error: ...", then the usage) with exit status 2,
# before any table is read (here: the table path does not exist, which
# would be exit 1, "no usable table"); getopt's complaints name the
# program, not its path; --help is complete and on stdout. No table, no
# addresses: no namespace needed.
. "$(dirname "$0")/lib.sh"
e2e_setup

NOPE=$E2E_TMP/no-table
run() {
	RC=0
	"$CTL" -t "$NOPE" "$@" >"$E2E_TMP/out" 2>"$E2E_TMP/err" || RC=$?
	OUT=$(cat "$E2E_TMP/out")
	ERR=$(cat "$E2E_TMP/err")
}
# usage_error "what" 'first line of stderr' ARGS...
usage_error() {
	local what=$1 first=$2
	shift 2
	run "$@"
	check_eq "$what: exit 2, nothing on stdout" "2 " "$RC $OUT"
	check_eq "$what: says what was wrong" "$first" "$(head -n1 <<<"$ERR")"
	check_match "$what: then the usage" '^usage: ldmeshctl ' "$ERR"
}

usage_error "unknown command" 'error: unknown command "bogus"' bogus
usage_error "unknown command with arguments" 'error: unknown command "pods"' pods list
usage_error "no command" 'error: no command given'
usage_error "get without a resource" 'error: get takes services [NAME], got 0 argument(s)' get
usage_error "get with two names" 'error: get takes services [NAME], got 3 argument(s)' get svc a b
usage_error "get pods" 'error: get pods: unknown resource type (ldmeshctl knows services, svc)' get pods
usage_error "describe deployment" 'error: describe deployment: unknown resource type (ldmeshctl knows services, svc)' describe deployment x
usage_error "route without an address" 'error: route takes IP:PORT[/tcp|/udp|/sctp], got 0 argument(s)' route
usage_error "status with an argument" 'error: status takes no arguments, got 1 argument(s)' status now
usage_error "an unknown output format" 'error: -o xml: unknown output format (json, yaml or wide)' -o xml get svc
usage_error "yaml for status" 'error: status does not take -o yaml' -o yaml status
usage_error "wide for describe" 'error: describe does not take -o wide' describe svc x -o wide
usage_error "-n for status" 'error: -n and -A are options of get and describe, not status' status -n prod
usage_error "-A for route" 'error: -n and -A are options of get and describe, not route' -A route 10.96.0.1:80
usage_error "--probe for get" 'error: --probe is an option of status, not get' get svc --probe live
usage_error "a probe of something else" 'error: --probe maybe: expected live or ready' status --probe maybe
usage_error "a probe with -o" 'error: --probe prints one line; it takes no -o' status --probe live -o json
usage_error "a NAME across all namespaces" \
	'error: a resource cannot be retrieved by name across all namespaces' get svc backend -A
usage_error "--exec for get" 'error: --exec and --musl are options of inject' get svc --exec
usage_error "--exec for uninject" \
	'error: --exec and --musl are options of inject: uninject removes whatever inject added' uninject --exec
usage_error "inject with two files" 'error: inject takes [--exec] [--musl] [FILE|-], got 2 argument(s)' inject a b
usage_error "an unknown long option" 'error: unknown option --frob' get svc --frob
usage_error "an unknown short option" 'error: unknown option -x' -x status
usage_error "an option without its argument" 'error: option -n needs an argument' get svc -n
usage_error "a long option without its argument" 'error: option --output needs an argument' status --output
check_nomatch "getopt's own message, with the program's path, is not there" "$CTL|unrecognized|invalid option" "$ERR"

# not a usage error: the table is read, and not there
run status
check_eq "a missing table: exit 1, said on stderr" "1 " "$RC $OUT"
check_match "... naming it" "^ldmeshctl: no usable table at $NOPE" "$ERR"
run get svc
check_eq "get on a missing table: exit 1" 1 "$RC"

# --help: complete, on stdout
run --help
check_eq "--help: exit 0, nothing on stderr" "0 " "$RC $ERR"
for word in 'get services \[NAME\]' 'describe service \[NAME\]' '^  status ' 'status --probe live' \
	'status --probe ready' '^  services ' 'resolve NAME' 'route IP:PORT' 'inject \[--exec\]' \
	'uninject \[FILE' '-n, --namespace NS' '-A, --all-namespaces' '-o, --output FORMAT' \
	'-t, --table PATH' '--probe live\|ready' '--version' 'Exit status'; do
	check_match "--help names $word" "$word" "$OUT"
done
check_eq "-h is --help" "$OUT" "$("$CTL" -h)"
run --version
check_match "--version: the table format" '^ldmeshctl .* \(table format 3\.[0-9]+\)$' "$OUT"

# inject reads no table either: still works with the table missing
printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: i}]\n' >"$E2E_TMP/pod.yaml"
run inject "$E2E_TMP/pod.yaml"
check_eq "inject: exit 0" 0 "$RC"
check_match "inject: the preload set" 'LD_PRELOAD' "$OUT"
e2e_done
