/* SPDX-License-Identifier: MIT */
/* ldmeshctl: inspect the endpoint table the agent published, as kubectl
 * shows a cluster. Every usage error is found before a table is read. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "inject.h"
#include "ldmesh/version.h"

static void usage(FILE *f)
{
	fputs("usage: ldmeshctl [OPTIONS] COMMAND [ARGS]\n"
	      "\n"
	      "commands:\n"
	      "  get services [NAME]  services like kubectl get (also svc, service):\n"
	      "                       NAME, TYPE, CLUSTER-IP, PORT(S), READY endpoints\n"
	      "  describe service [NAME]\n"
	      "                       ports, endpoints with ready/serving/terminating,\n"
	      "                       node, zone and hints, affinity, policies, and the\n"
	      "                       rule that picks the backends on this node\n"
	      "  status               generation, publish time, whether the agent is alive\n"
	      "                       (its heartbeat), counts, size, refused files\n"
	      "  status --probe live  exit 0 when the agent's heartbeat is at most 10 s old\n"
	      "  status --probe ready exit 0 when live and the table is complete (not\n"
	      "                       waiting for --require-sync); both print one line why\n"
	      "  services             every service with its endpoints, one per line\n"
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
	      "  top [--once] [--interval S] [--metrics-url URL]\n"
	      "                       per Service, from the agent's /metrics (ldmesh-agent\n"
	      "                       --metrics): connections per second, failure ratio,\n"
	      "                       p50/p99 connect latency, bytes per second, ejected\n"
	      "                       backends; refreshed every S seconds (default 2);\n"
	      "                       --once prints the totals since the agent started\n"
	      "\n"
	      "options:\n"
	      "  -n, --namespace NS   get, describe: namespace NS (default $LDMESH_NAMESPACE,\n"
	      "                       else \"default\", as kubectl in a pod)\n"
	      "  -A, --all-namespaces get, describe: every namespace\n"
	      "  -o, --output FORMAT  json (get, status, services, route, resolve),\n"
	      "                       yaml or wide (get)\n"
	      "  -t, --table PATH     table directory (default $LDMESH_TABLE or " LDMESH_TABLE_DEFAULT ")\n"
	      "  --probe live|ready   status: the probe above\n"
	      "  --metrics-url URL    top: the agent's metrics (default $LDMESH_METRICS_URL\n"
	      "                       or http://127.0.0.1:9153/metrics)\n"
	      "  --interval S         top: seconds between frames (0.1 to 3600)\n"
	      "  --once               top: one frame, then exit\n"
	      "  -h, --help           print this and exit\n"
	      "  --version            print the version and exit\n"
	      "\n"
	      "Exit status: 0 done; 1 not found, not a service, a probe failed, or no\n"
	      "usable table; 2 a usage error. Results on stdout, errors on stderr.\n",
	      f);
}

struct args {
	const char *table;
	const char *ns;      /* -n */
	bool all_ns;         /* -A */
	const char *output;  /* -o, or NULL */
	const char *probe;   /* --probe, or NULL */
	bool help, version, exec, musl;
	const char *metrics_url, *interval; /* top */
	bool once;
	/* The words that are not options: the command and its arguments.
	 * No command takes more than 2; more are counted, for the error. */
	const char *words[4];
	int n_words;
	const char *cmd;     /* words[0], or NULL */
	int argc;            /* arguments after the command (n_words - 1) */
	const char *const *argv;
};

/* What a command takes. */
#define OUT_JSON (1U << CTL_OUT_JSON)
#define OUT_YAML (1U << CTL_OUT_YAML)
#define OUT_WIDE (1U << CTL_OUT_WIDE)

struct command {
	const char *name;
	int min_args, max_args;
	unsigned outputs;  /* OUT_* besides text */
	bool scoped;       /* -n, -A */
	bool reads_table;
	const char *args_usage;
};

static const struct command commands[] = {
	{ "get", 1, 2, OUT_JSON | OUT_YAML | OUT_WIDE, true, true, "services [NAME]" },
	{ "describe", 1, 2, 0, true, true, "service [NAME]" },
	{ "status", 0, 0, OUT_JSON, false, true, "" },
	{ "services", 0, 0, OUT_JSON, false, true, "" },
	{ "resolve", 1, 1, OUT_JSON, false, true, "NAME" },
	{ "route", 1, 1, OUT_JSON, false, true, "IP:PORT[/tcp|/udp|/sctp]" },
	{ "dig", 1, 2, 0, false, true, "NAME [TYPE]" },
	{ "inject", 0, 1, 0, false, false, "[--exec] [--musl] [FILE|-]" },
	{ "uninject", 0, 1, 0, false, false, "[FILE|-]" },
	{ "top", 0, 0, 0, false, false, "" },
};

/* A usage error: what was wrong, then the usage; exit status 2. */
__attribute__((format(printf, 1, 2)))
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n\n", stderr);
	usage(stderr);
	return 2;
}

/* getopt's complaint in our words: its own would name argv[0], a path.
 * The option as typed is the element getopt just stepped over; an unknown
 * short one may sit in a cluster (-xA), so it is named by itself. */
static int args__bad_option(int opt, char **argv)
{
	char shortopt[3] = { '-', (char)optopt, 0 };

	if (opt == ':')
		return usage_error("option %s needs an argument", argv[optind - 1]);
	return usage_error("unknown option %s", optopt ? shortopt : argv[optind - 1]);
}

static void args__word(struct args *a, const char *word)
{
	if (a->n_words < (int)(sizeof(a->words) / sizeof(a->words[0])))
		a->words[a->n_words] = word;
	a->n_words++;
}

/* 0, or the exit status of a usage error. */
static int args_parse(int argc, char **argv, struct args *a)
{
	static const struct option longopts[] = {
		{ "table", required_argument, NULL, 't' },
		{ "output", required_argument, NULL, 'o' },
		{ "namespace", required_argument, NULL, 'n' },
		{ "all-namespaces", no_argument, NULL, 'A' },
		{ "probe", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "exec", no_argument, NULL, 'E' },
		{ "musl", no_argument, NULL, 'M' },
		{ "metrics-url", required_argument, NULL, 'U' },
		{ "interval", required_argument, NULL, 'I' },
		{ "once", no_argument, NULL, 'O' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	opterr = 0;
	/* Options anywhere, as kubectl takes them: "-" hands every other word
	 * over in order (case 1), with or without POSIXLY_CORRECT. */
	while ((opt = getopt_long(argc, argv, "-:t:o:n:Ah", longopts, NULL)) != -1) {
		switch (opt) {
		case 1: args__word(a, optarg); break;
		case 't': a->table = optarg; break;
		case 'o': a->output = optarg; break;
		case 'n': a->ns = optarg; break;
		case 'A': a->all_ns = true; break;
		case 'P': a->probe = optarg; break;
		case 'h': a->help = true; break;
		case 'V': a->version = true; break;
		case 'E': a->exec = true; break;
		case 'M': a->musl = true; break;
		case 'U': a->metrics_url = optarg; break;
		case 'I': a->interval = optarg; break;
		case 'O': a->once = true; break;
		default: return args__bad_option(opt, argv);
		}
	}
	while (optind < argc) /* after "--" */
		args__word(a, argv[optind++]);
	if (a->n_words) {
		a->cmd = a->words[0];
		a->argc = a->n_words - 1;
		a->argv = a->words + 1;
	}
	return 0;
}

static const struct command *command_find(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static bool is_services(const char *resource)
{
	return !strcmp(resource, "services") || !strcmp(resource, "service") ||
	       !strcmp(resource, "svc");
}

/* -o FORMAT for `cmd`: sets c->output; 0 or a usage error's status. */
static int args_output(const struct command *cmd, const char *format, struct ctl *c)
{
	static const char *const names[] = {
		[CTL_OUT_JSON] = "json", [CTL_OUT_YAML] = "yaml", [CTL_OUT_WIDE] = "wide"
	};

	c->output = CTL_OUT_TEXT;
	if (!format)
		return 0;
	for (int i = CTL_OUT_JSON; i <= CTL_OUT_WIDE; i++)
		if (!strcmp(format, names[i]))
			c->output = (enum ctl_output)i;
	if (c->output == CTL_OUT_TEXT)
		return usage_error("-o %s: unknown output format (json, yaml or wide)", format);
	if (!(cmd->outputs & (1U << c->output)))
		return usage_error("%s does not take -o %s", cmd->name, format);
	c->json = c->output == CTL_OUT_JSON;
	return 0;
}

/* Options that belong to other commands, argument counts, resources. */
static int args_check(const struct args *a, const struct command *cmd, struct ctl *c)
{
	int rc;

	if (a->argc < cmd->min_args || a->argc > cmd->max_args)
		return usage_error("%s takes %s%s, got %d argument(s)", cmd->name,
				   cmd->args_usage[0] ? "" : "no arguments", cmd->args_usage,
				   a->argc);
	if ((rc = args_output(cmd, a->output, c)))
		return rc;
	if ((a->ns || a->all_ns) && !cmd->scoped)
		return usage_error("-n and -A are options of get and describe, not %s", cmd->name);
	if (a->probe && strcmp(cmd->name, "status"))
		return usage_error("--probe is an option of status, not %s", cmd->name);
	if (a->probe && strcmp(a->probe, "live") && strcmp(a->probe, "ready"))
		return usage_error("--probe %s: expected live or ready", a->probe);
	if (a->probe && a->output)
		return usage_error("--probe prints one line; it takes no -o");
	if ((a->exec || a->musl) && strcmp(cmd->name, "inject"))
		return usage_error("--exec and --musl are options of inject%s",
				   strcmp(cmd->name, "uninject") ? "" :
				   ": uninject removes whatever inject added");
	if ((a->metrics_url || a->interval || a->once) && strcmp(cmd->name, "top"))
		return usage_error("--metrics-url, --interval and --once are options of top");
	if (cmd->scoped && !is_services(a->argv[0]))
		return usage_error("%s %s: unknown resource type (ldmeshctl knows services, "
				   "svc)", cmd->name, a->argv[0]);
	if (cmd->scoped && a->all_ns && a->argc > 1 && !strcmp(cmd->name, "get"))
		return usage_error("a resource cannot be retrieved by name across all namespaces");
	if (cmd->scoped && !a->all_ns) {
		const char *env = getenv("LDMESH_NAMESPACE");

		c->ns = a->ns ? a->ns : env && *env ? env : "default";
	}
	return 0;
}

/* inject/uninject FILE|-: no table is read. */
static int run_inject(const struct args *a)
{
	struct inject_opts o = { .exec = a->exec, .musl = a->musl,
				 .undo = !strcmp(a->cmd, "uninject") };
	const char *path = a->argc ? a->argv[0] : "-";
	FILE *in = stdin;
	int rc;

	if (strcmp(path, "-") && !(in = fopen(path, "r"))) {
		fprintf(stderr, "ldmeshctl: %s: %m\n", path);
		return 1;
	}
	rc = ctl_inject(in, strcmp(path, "-") ? path : "<stdin>", stdout, stderr, &o);
	if (in != stdin)
		fclose(in);
	return rc;
}

/* top: reads the agent's /metrics, and the table for ejections. */
static int run_top(const struct args *a)
{
	const char *env = getenv("LDMESH_METRICS_URL");
	struct ctl_top_opts o = { .table = a->table, .interval_s = 2, .once = a->once };
	char *end;

	o.url = a->metrics_url ? a->metrics_url
		: env && *env ? env : "http://127.0.0.1:9153/metrics";
	if (a->interval) {
		o.interval_s = strtod(a->interval, &end);
		if (*end || end == a->interval || !(o.interval_s >= 0.1 && o.interval_s <= 3600))
			return usage_error("--interval %s: not seconds from 0.1 to 3600", a->interval);
	}
	return ctl_top(&o, stdout);
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

static int run_command(const struct args *a, struct ctl *c)
{
	const char *cmd = a->cmd;

	if (a->probe)
		return ctl_probe(c, a->probe);
	if (!strcmp(cmd, "get"))
		return ctl_get_services(c, a->argc > 1 ? a->argv[1] : NULL);
	if (!strcmp(cmd, "describe"))
		return ctl_describe_services(c, a->argc > 1 ? a->argv[1] : NULL);
	if (!strcmp(cmd, "status"))
		return ctl_status(c);
	if (!strcmp(cmd, "services"))
		return ctl_services(c);
	if (!strcmp(cmd, "route"))
		return ctl_route(c, a->argv[0]);
	if (!strcmp(cmd, "dig"))
		return ctl_dig(c, a->argv[0], a->argc > 1 ? a->argv[1] : NULL);
	return ctl_resolve(c, a->argv[0]);
}

/* Pin the table and run the command on it. A probe runs without a
 * snapshot too: an agent that published nothing yet may well be alive. */
static int run_on_table(const struct args *a, struct ctl *c)
{
	static struct ldmesh_table table;
	struct ctl_load load = { .why = "" };
	int slot, rc;

	if (ldmesh_table_init(&table, c->table, &ldmesh_reader_libc, ctl__event, &load) < 0) {
		fprintf(stderr, "ldmeshctl: table path too long: %s\n", c->table);
		return 2;
	}
	c->snap = ldmesh_table_acquire(&table, &slot);
	c->control = ldmesh_table_control(&table);
	if (!c->snap && !a->probe) {
		fprintf(stderr, "ldmeshctl: no usable table at %s: %s\n", c->table,
			load.why[0] ? load.why : "nothing published yet");
		ldmesh_table_close(&table);
		return 1;
	}
	if (!c->snap && load.why[0])
		c->unusable = load.why;
	if (c->snap && load.why[0]) { /* a newer generation refused; the last good shown */
		c->refused = load.why;
		if (!a->probe)
			fprintf(stderr, "ldmeshctl: warning: %s\n", load.why);
	}
	rc = run_command(a, c);
	if (c->snap)
		ldmesh_table_release(&table, slot);
	ldmesh_table_close(&table);
	return rc;
}

int main(int argc, char **argv)
{
	struct args a = { .table = getenv("LDMESH_TABLE") };
	struct ctl c = { .out = stdout };
	const struct command *cmd;
	int rc;

	if (!a.table || !*a.table)
		a.table = LDMESH_TABLE_DEFAULT;
	if ((rc = args_parse(argc, argv, &a)))
		return rc;
	if (a.help) {
		usage(stdout);
		return 0;
	}
	if (a.version) {
		printf("ldmeshctl %s (table format %d.%d)\n", LDMESH_VERSION,
		       LDMESH_SNAP_VERSION_MAJOR, LDMESH_SNAP_VERSION_MINOR);
		return 0;
	}
	if (!a.cmd)
		return usage_error("no command given");
	if (!(cmd = command_find(a.cmd)))
		return usage_error("unknown command \"%s\"", a.cmd);
	if ((rc = args_check(&a, cmd, &c)))
		return rc;
	if (!strcmp(cmd->name, "top"))
		return run_top(&a);
	if (!cmd->reads_table)
		return run_inject(&a);
	c.table = a.table;
	return run_on_table(&a, &c);
}
