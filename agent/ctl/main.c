/* SPDX-License-Identifier: MIT */
/* ldmeshctl: inspect the endpoint table the agent publishes. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "inject.h"
#include "ldmesh/version.h"

static void usage(FILE *f)
{
	fputs("usage: ldmeshctl [--table PATH] [-o json] COMMAND\n"
	      "\n"
	      "commands:\n"
	      "  status               generation, publish time, counts, size\n"
	      "  services             services and their endpoints (like kubectl get svc)\n"
	      "  resolve NAME         what a name resolves to in a pod (LDMESH_NAMESPACE,\n"
	      "                       default \"default\"), exactly as libldmesh.so answers\n"
	      "  dig NAME [TYPE]      what ldmesh-dns answers for NAME, from the table\n"
	      "  route IP:PORT[/tcp|/udp|/sctp]\n"
	      "                       the backends a connect to that address chooses from\n"
	      "  inject [--exec] [--musl] [FILE|-]\n"
	      "                       Kubernetes YAML with every pod template set up for\n"
	      "                       ldmesh (preload, namespace, read-only mounts); --exec\n"
	      "                       also wraps commands in ldmesh-exec; --musl takes\n"
	      "                       libldmesh-musl.so. To stdout; reads no table\n"
	      "  uninject [FILE|-]    the same YAML with that set-up taken out\n"
	      "\n"
	      "  -t, --table PATH     table directory (default $LDMESH_TABLE or " LDMESH_TABLE_DEFAULT ")\n"
	      "  -o, --output json    machine-readable output\n"
	      "  --version            print the version and exit\n", f);
}

/* inject/uninject FILE|-: no table is read. */
static int ctl__inject(int argc, char **argv, const struct inject_opts *o)
{
	const char *what = o->undo ? "uninject" : "inject";
	const char *path = argc ? argv[0] : "-";
	FILE *in = stdin;
	int rc;

	if (argc > 1) {
		fprintf(stderr, "ldmeshctl: %s: one file at most, got %d\n", what, argc);
		usage(stderr);
		return 2;
	}
	if (strcmp(path, "-") && !(in = fopen(path, "r"))) {
		fprintf(stderr, "ldmeshctl: %s: %m\n", path);
		return 1;
	}
	rc = ctl_inject(in, strcmp(path, "-") ? path : "<stdin>", stdout, stderr, o);
	if (in != stdin)
		fclose(in);
	return rc;
}

struct ctl_load {
	char why[256];
};

static void ctl__event(void *ctx, enum ldmesh_table_event ev, uint64_t gen,
		       const char *why)
{
	struct ctl_load *l = ctx;

	if (ev == LDMESH_TABLE_MISSING)
		snprintf(l->why, sizeof(l->why), "%s", why);
	else if (ev == LDMESH_TABLE_REFUSED)
		snprintf(l->why, sizeof(l->why), "generation %llu refused: %s",
			 (unsigned long long)gen, why);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "table", required_argument, NULL, 't' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "exec", no_argument, NULL, 'E' },
		{ "musl", no_argument, NULL, 'M' },
		{ NULL, 0, NULL, 0 },
	};
	static struct ldmesh_table table;
	struct ctl_load load = { .why = "" };
	struct ctl c = { .out = stdout };
	struct inject_opts inject = { 0 };
	const char *cmd;
	int opt, slot, rc = 2;

	c.table = getenv("LDMESH_TABLE");
	if (!c.table || !*c.table)
		c.table = LDMESH_TABLE_DEFAULT;
	while ((opt = getopt_long(argc, argv, "t:o:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 't': c.table = optarg; break;
		case 'o':
			if (strcmp(optarg, "json")) {
				fprintf(stderr, "ldmeshctl: -o %s: only json is supported\n", optarg);
				return 2;
			}
			c.json = true;
			break;
		case 'h': usage(stdout); return 0;
		case 'E': inject.exec = true; break;
		case 'M': inject.musl = true; break;
		case 'V':
			printf("ldmeshctl %s (table format %d.%d)\n", LDMESH_VERSION,
			       LDMESH_SNAP_VERSION_MAJOR, LDMESH_SNAP_VERSION_MINOR);
			return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	cmd = argv[optind];
	inject.undo = !strcmp(cmd, "uninject");
	if (inject.undo || !strcmp(cmd, "inject")) {
		if (inject.undo && (inject.exec || inject.musl)) {
			fprintf(stderr, "ldmeshctl: uninject takes neither --exec nor --musl: it "
					"removes whatever inject added\n");
			return 2;
		}
		return ctl__inject(argc - optind - 1, argv + optind + 1, &inject);
	}
	if (inject.exec || inject.musl) {
		fprintf(stderr, "ldmeshctl: --exec and --musl are options of inject\n");
		usage(stderr);
		return 2;
	}
	if (ldmesh_table_init(&table, c.table, &ldmesh_reader_libc, ctl__event, &load) < 0) {
		fprintf(stderr, "ldmeshctl: table path too long: %s\n", c.table);
		return 2;
	}
	c.snap = ldmesh_table_acquire(&table, &slot);
	if (!c.snap) {
		fprintf(stderr, "ldmeshctl: no usable table at %s: %s\n", c.table,
			load.why[0] ? load.why : "nothing published yet");
		return 1;
	}
	if (load.why[0]) /* a newer generation was refused; showing the last good */
		fprintf(stderr, "ldmeshctl: warning: %s\n", load.why);
	c.control = ldmesh_table_control(&table);

	if (!strcmp(cmd, "status") && optind + 1 == argc)
		rc = ctl_status(&c);
	else if (!strcmp(cmd, "services") && optind + 1 == argc)
		rc = ctl_services(&c);
	else if (!strcmp(cmd, "route") && optind + 2 == argc)
		rc = ctl_route(&c, argv[optind + 1]);
	else if (!strcmp(cmd, "dig") && optind + 2 <= argc && optind + 3 >= argc)
		rc = ctl_dig(&c, argv[optind + 1], argv[optind + 2]);
	else if (!strcmp(cmd, "resolve") && optind + 2 == argc)
		rc = ctl_resolve(&c, argv[optind + 1]);
	else
		usage(stderr);
	ldmesh_table_release(&table, slot);
	ldmesh_table_close(&table);
	return rc;
}
