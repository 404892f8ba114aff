/* SPDX-License-Identifier: MIT */
/* ldmesh-agent: command line. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "metrics_http.h"
#include "metrics.h"
#include "ldmesh/version.h"
#include "log.h"

static void usage(FILE *f)
{
	fputs("usage: ldmesh-agent --manifests DIR [--table PATH] [--state DIR|none] [--node NAME] [--zone ZONE]\n"
	      "                    [--service-cidr CIDR[,CIDR]] [--cluster-domain DOMAIN]\n"
	      "                    [--external-ips deny|allow|CIDR[,CIDR...]] [--require-sync]\n"
	      "                    [--max-files N] [--health-interval SECONDS]\n"
	      "                    [--max-ejection-percent N] [--no-health]\n"
	      "                    [--metrics ADDR:PORT [--metrics-max-series N]]\n"
	      "                    [--once] [--check] [--log-format text|json] [-v]\n"
	      "\n"
	      "Watches DIR for Kubernetes manifests (Service, EndpointSlice, Endpoints,\n"
	      "Pod; YAML or JSON) and publishes the endpoint table that libldmesh.so reads.\n"
	      "\n"
	      "  -m, --manifests DIR       folder to watch (recursively)\n"
	      "  -t, --table PATH          table directory (default " LDMESH_TABLE_DEFAULT ")\n"
	      "  -n, --node NAME           this node's name (internalTrafficPolicy: Local)\n"
	      "      --zone ZONE           this node's zone, for topology-aware routing\n"
	      "                            (default: the topology.kubernetes.io/zone label\n"
	      "                            of the Node manifest named by --node)\n"
	      "      --service-cidr CIDR[,CIDR]  the service CIDRs, one per family:\n"
	      "                            ClusterIPs are allocated from the first, and\n"
	      "                            must lie in one (default 10.96.0.0/12)\n"
	      "      --cluster-domain D    DNS suffix of service names (default cluster.local)\n"
	      "      --external-ips deny|allow|CIDR[,CIDR...]\n"
	      "                            which spec.externalIPs a Service may claim (default\n"
	      "                            deny, as the DenyServiceExternalIPs admission plugin:\n"
	      "                            a Service author could otherwise take over any outside\n"
	      "                            address for every pod, CVE-2020-8554); one refused is\n"
	      "                            left out of its Service, with one warning per Service\n"
	      "      --state DIR|none      last good copy of every manifest file, so a restart\n"
	      "                            with a broken file still publishes what it said\n"
	      "                            (default: the table path + \"-state\"; none: keep\n"
	      "                            no state)\n"
	      "      --require-sync        the table is complete only while DIR/.ldmesh-synced\n"
	      "                            (ldmesh-sync's marker) was written in the last 30 s;\n"
	      "                            an incomplete table passes a cluster name it lacks\n"
	      "                            to DNS instead of answering \"not found\"\n"
	      "      --max-files N         read at most N manifest files (default 400000); past\n"
	      "                            them the rest (in sorted order) is not read and the\n"
	      "                            table is published incomplete\n"
	      "      --health-interval SECONDS  re-check an ejected backend after this\n"
	      "                            long, doubling up to 8 times it while it fails;\n"
	      "                            a backend found healthy is not probed again\n"
	      "                            sooner, however often it is reported (default 5)\n"
	      "      --max-ejection-percent N  eject at most N% of a Service's chosen\n"
	      "                            endpoints, and never all (default 50)\n"
	      "      --no-health           do not act on failure reports: no probes, no\n"
	      "                            ejections\n"
	      "      --metrics ADDR:PORT   serve the counters processes send (connections,\n"
	      "                            failures, bytes, connect latency per source pod,\n"
	      "                            Service and backend) as Prometheus text on\n"
	      "                            http://ADDR:PORT/metrics, e.g. 127.0.0.1:9153\n"
	      "                            (default: off)\n"
	      "      --metrics-max-series N  keep at most N series (default 10000); counts for\n"
	      "                            more are dropped and counted\n"
	      "      --once                publish once and exit\n"
	      "      --check               validate the folder, print every problem, exit 1 if any\n"
	      "      --log-format text|json  each log line as text (time, level, message)\n"
	      "                            or as one JSON object (default text)\n"
	      "  -v, --verbose             log every change and skipped document\n"
	      "  -h, --help                this text\n"
	      "      --version             print the version and exit\n", f);
}

/* --max-files, --metrics-max-series: 1 .. max, decimal. */
static int parse_count(const char *s, unsigned long long max, size_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < 1 || v > max)
		return -EINVAL;
	*out = (size_t)v;
	return 0;
}

/* A whole number from lo to hi, decimal. */
static int parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < lo || v > hi)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

/* --health-interval (seconds, 1 .. 3600) and --max-ejection-percent
 * (1 .. 100); NULL: the defaults (agent_health.c). */
static int main__health(const char *interval, const char *percent, struct agent_opts *o)
{
	unsigned s;

	if (interval && parse_uint(interval, 1, 3600, &s) < 0) {
		log_error("--health-interval %s: not a whole number of seconds from 1 to 3600",
			  interval);
		return -EINVAL;
	}
	if (interval)
		o->health_interval_ms = s * 1000;
	if (percent && parse_uint(percent, 1, 100, &o->max_ejection_percent) < 0) {
		log_error("--max-ejection-percent %s: not a whole number from 1 to 100", percent);
		return -EINVAL;
	}
	return 0;
}

/* "Cluster.Local." -> "cluster.local": the name index is lower-cased and
 * has no trailing dot. */
static int normalize_domain(char *d)
{
	size_t len = strlen(d);

	while (len && d[len - 1] == '.')
		d[--len] = 0;
	if (!len || len > 200 || d[0] == '.')
		return -EINVAL;
	for (char *p = d; *p; p++) {
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
		else if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
			   *p == '-' || *p == '.'))
			return -EINVAL;
	}
	return 0;
}

/* A failure of --check or --once, said once: the scan reports what is
 * wrong with the folder itself through the diag, except that it is
 * missing (sources_rescan leaves that to its caller), and nobody reports
 * running out of memory. */
static void main__say_error(const char *dir, int err)
{
	if (err == -ENOENT || err == -ENOMEM)
		log_error("%s: %s", dir, strerror(-err));
}

/* Over 80 lines: the option table, one getopt case a line, and each
 * value's check with the message that names the flag, in the order the
 * usage lists them; then the three modes (--check, --once, the loop). */
int main(int argc, char **argv)
{
	enum { OPT_CIDR = 256, OPT_DOMAIN, OPT_ONCE, OPT_CHECK, OPT_STATE, OPT_VERSION, OPT_ZONE,
	       OPT_EXTIPS, OPT_REQUIRE_SYNC, OPT_LOG_FORMAT, OPT_MAX_FILES,
	       OPT_HEALTH_INTERVAL, OPT_MAX_EJECTION, OPT_NO_HEALTH, OPT_METRICS, OPT_METRICS_MAX };
	static const struct option longopts[] = {
		{ "manifests", required_argument, NULL, 'm' },
		{ "table", required_argument, NULL, 't' },
		{ "node", required_argument, NULL, 'n' },
		{ "zone", required_argument, NULL, OPT_ZONE },
		{ "service-cidr", required_argument, NULL, OPT_CIDR },
		{ "cluster-domain", required_argument, NULL, OPT_DOMAIN },
		{ "external-ips", required_argument, NULL, OPT_EXTIPS },
		{ "once", no_argument, NULL, OPT_ONCE },
		{ "state", required_argument, NULL, OPT_STATE },
		{ "check", no_argument, NULL, OPT_CHECK },
		{ "require-sync", no_argument, NULL, OPT_REQUIRE_SYNC },
		{ "log-format", required_argument, NULL, OPT_LOG_FORMAT },
		{ "max-files", required_argument, NULL, OPT_MAX_FILES },
		{ "health-interval", required_argument, NULL, OPT_HEALTH_INTERVAL },
		{ "max-ejection-percent", required_argument, NULL, OPT_MAX_EJECTION },
		{ "no-health", no_argument, NULL, OPT_NO_HEALTH },
		{ "metrics", required_argument, NULL, OPT_METRICS },
		{ "metrics-max-series", required_argument, NULL, OPT_METRICS_MAX },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	struct agent_opts o = { .table = LDMESH_TABLE_DEFAULT };
	const char *cidr = "10.96.0.0/12", *extips = "deny", *log_format = "text", *max_files = NULL,
		   *health_interval = NULL, *max_ejection = NULL;
	const char *metrics_max = NULL;
	char domain[256] = "cluster.local";
	bool once = false, check = false, verbose = false;
	struct agent a;
	int c, err;

	while ((c = getopt_long(argc, argv, "m:t:n:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'm': o.manifests = optarg; break;
		case 't': o.table = optarg; break;
		case 'n': o.node = optarg; break;
		case OPT_ZONE: o.zone = optarg; break;
		case OPT_CIDR: cidr = optarg; break;
		case OPT_DOMAIN: snprintf(domain, sizeof(domain), "%s", optarg); break;
		case OPT_EXTIPS: extips = optarg; break;
		case OPT_ONCE: once = true; break;
		case OPT_STATE: o.state = optarg; break;
		case OPT_CHECK: check = true; break;
		case OPT_REQUIRE_SYNC: o.require_sync = true; break;
		case OPT_LOG_FORMAT: log_format = optarg; break;
		case OPT_MAX_FILES: max_files = optarg; break;
		case OPT_HEALTH_INTERVAL: health_interval = optarg; break;
		case OPT_MAX_EJECTION: max_ejection = optarg; break;
		case OPT_NO_HEALTH: o.no_health = true; break;
		case OPT_METRICS: o.metrics_addr = optarg; break;
		case OPT_METRICS_MAX: metrics_max = optarg; break;
		case 'v': verbose = true; break;
		case 'h': usage(stdout); return 0;
		case OPT_VERSION:
			printf("ldmesh-agent %s (table format %d.%d)\n", LDMESH_VERSION,
			       LDMESH_SNAP_VERSION_MAJOR, LDMESH_SNAP_VERSION_MINOR);
			return 0;
		default: usage(stderr); return 2;
		}
	}
	log_init("ldmesh-agent", verbose);
	if (log_set_format(log_format) < 0) {
		log_error("--log-format %s: not text or json", log_format);
		return 2;
	}
	if (!o.manifests || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (ipalloc_parse_cidrs(cidr, &o.cidrs) < 0) {
		log_error("--service-cidr %s: not one network address/prefix with 2 to 32 host bits, "
			  "or two of different families separated by a comma", cidr);
		return 2;
	}
	if (manifest_parse_extip_policy(extips, &o.policy) < 0) {
		log_error("--external-ips %s: not deny, allow, or addresses/prefixes separated by "
			  "commas (at most %d)", extips, MANIFEST_EXTIP_MAX_NETS);
		return 2;
	}
	if (max_files && parse_count(max_files, 100000000ULL, &o.max_files) < 0) {
		log_error("--max-files %s: not a whole number from 1 to 100000000", max_files);
		return 2;
	}
	if (main__health(health_interval, max_ejection, &o) < 0)
		return 2;
	if (metrics_max && (parse_count(metrics_max, METRICS_MAX_SERIES_LIMIT,
					&o.metrics_max_series) < 0)) {
		log_error("--metrics-max-series %s: not a whole number from 1 to %d", metrics_max,
			  METRICS_MAX_SERIES_LIMIT);
		return 2;
	}
	if (o.metrics_addr && metrics_http_parse_addr(o.metrics_addr, &(struct sockaddr_storage){ 0 },
						      &(socklen_t){ 0 }) < 0) {
		log_error("--metrics %s: not ADDR:PORT or [ADDR6]:PORT (numeric)", o.metrics_addr);
		return 2;
	}
	if (normalize_domain(domain) < 0) {
		log_error("--cluster-domain %s: not a DNS domain", domain);
		return 2;
	}
	o.cluster_domain = domain;

	if (check) {
		err = agent_check(&o);
		main__say_error(o.manifests, err);
		return err ? 1 : 0;
	}
	/* Beside the table by default: on the node's tmpfs, it outlives the
	 * agent, not the boot, as the table does. For the default table,
	 * /run/ldmesh-state: not inside /run/ldmesh, which pods mount. */
	char state[300];
	if (o.state && !strcmp(o.state, "none")) {
		o.state = NULL;
	} else if (!o.state && !strcmp(o.table, LDMESH_TABLE_DEFAULT)) {
		o.state = LDMESH_STATE_DEFAULT;
	} else if (!o.state) {
		size_t len = strlen(o.table);
		while (len > 1 && o.table[len - 1] == '/')
			len--;
		snprintf(state, sizeof(state), "%.*s-state", (int)len, o.table);
		o.state = state;
	}
	if (agent_init(&a, &o) < 0)
		return 1;
	if (once) {
		err = sources_rescan(&a.src, o.manifests, &a.diag);
		main__say_error(o.manifests, err);
		if (err >= 0)
			err = agent_publish(&a);
		agent_write_status(&a);
		/* like --check: a file with an error fails the run, after what
		 * was good has been published */
		if (!err && a.diag.errors) {
			log_error("%u error(s) in %s; published the rest", a.diag.errors,
				  o.manifests);
			err = -EINVAL;
		}
	} else {
		err = agent_run(&a);
	}
	agent_fini(&a);
	return err < 0 ? 1 : 0;
}
