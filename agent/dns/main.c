/* SPDX-License-Identifier: MIT */
/* ldmesh-dns: a node-local DNS server answering cluster names from the
 * table and forwarding the rest (server.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ldmesh/snapshot.h"
#include "ldmesh/version.h"
#include "server.h"

#define DNS_DEFAULT_LISTEN "169.254.20.10:53"
#define DNS_RESOLV_CONF "/etc/resolv.conf"

static void usage(FILE *f)
{
	fputs("usage: ldmesh-dns [--listen ADDR[:PORT][,...]] [--upstream ADDR[:PORT][,...]]\n"
	      "                  [--table PATH] [--cache-size N]\n"
	      "\n"
	      "Answers the cluster's names (Kubernetes DNS specification 1.1.0) from the\n"
	      "table ldmesh-agent publishes and forwards every other name to upstream\n"
	      "servers, caching their answers.\n"
	      "\n"
	      "  -l, --listen LIST    where to serve, UDP and TCP (default " DNS_DEFAULT_LISTEN
	      ",\n"
	      "                       NodeLocal DNSCache's address for kubelet --cluster-dns)\n"
	      "  -u, --upstream LIST  servers for other names (default: the nameservers of\n"
	      "                       " DNS_RESOLV_CONF ")\n"
	      "  -t, --table PATH     table directory (default $LDMESH_TABLE or " LDMESH_TABLE_DEFAULT
	      ")\n"
	      "  -c, --cache-size N   forwarded answers kept (default 10000)\n"
	      "  -v, --verbose        log table switches\n"
	      "  --version            print the version and exit\n", f);
}

/* Upstreams that are our own listeners would loop: dropped. */
static void drop_self(struct dns_server_opts *o)
{
	unsigned k = 0;

	for (unsigned i = 0; i < o->n_upstream; i++) {
		bool self = false;

		for (unsigned j = 0; j < o->n_listen; j++)
			self |= o->upstream[i].len == o->listen[j].len &&
				!memcmp(&o->upstream[i].sa, &o->listen[j].sa, o->listen[j].len);
		if (!self)
			o->upstream[k++] = o->upstream[i];
	}
	o->n_upstream = k;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "upstream", required_argument, NULL, 'u' },
		{ "table", required_argument, NULL, 't' },
		{ "cache-size", required_argument, NULL, 'c' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	static struct dns_server_opts o;
	const char *listen = DNS_DEFAULT_LISTEN, *upstream = NULL;
	char bad[128], name[80];
	int opt, rc;

	o.table = getenv("LDMESH_TABLE");
	if (!o.table || !*o.table)
		o.table = LDMESH_TABLE_DEFAULT;
	o.cache_entries = 10000;
	while ((opt = getopt_long(argc, argv, "l:u:t:c:vh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'l': listen = optarg; break;
		case 'u': upstream = optarg; break;
		case 't': o.table = optarg; break;
		case 'c': {
			char *end;

			errno = 0;
			o.cache_entries = strtoul(optarg, &end, 10);
			if (!*optarg || *end || errno || o.cache_entries > 10000000) {
				fprintf(stderr, "ldmesh-dns: --cache-size %s: a count up to 10000000\n",
					optarg);
				return 2;
			}
			break;
		}
		case 'v': o.verbose = 1; break;
		case 'h': usage(stdout); return 0;
		case 'V':
			printf("ldmesh-dns %s (table format %d.%d)\n", LDMESH_VERSION,
			       LDMESH_SNAP_VERSION_MAJOR, LDMESH_SNAP_VERSION_MINOR);
			return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "ldmesh-dns: unexpected argument: %s\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	/* about 300 bytes an answer: the cap in bytes follows the count */
	o.cache_bytes = o.cache_entries * 1024 + 65536;
	if ((rc = dns_parse_addrs(listen, 53, o.listen, &o.n_listen, bad, sizeof(bad)))) {
		fprintf(stderr, "ldmesh-dns: --listen: %s: %s\n", bad,
			rc == -E2BIG ? "too many addresses (at most 8)"
				     : "not ADDR, ADDR:PORT or [V6ADDR]:PORT");
		return 2;
	}
	if (upstream) {
		if ((rc = dns_parse_addrs(upstream, 53, o.upstream, &o.n_upstream, bad,
					  sizeof(bad)))) {
			fprintf(stderr, "ldmesh-dns: --upstream: %s: %s\n", bad,
				rc == -E2BIG ? "too many addresses (at most 8)"
					     : "not ADDR, ADDR:PORT or [V6ADDR]:PORT");
			return 2;
		}
	} else if ((rc = dns_resolv_conf(DNS_RESOLV_CONF, o.upstream, &o.n_upstream))) {
		fprintf(stderr, "ldmesh-dns: %s: %s (no --upstream given)\n", DNS_RESOLV_CONF,
			strerror(-rc));
	}
	drop_self(&o);
	if (!o.n_upstream)
		fprintf(stderr, "ldmesh-dns: warning: no upstream: names outside the cluster get "
				"SERVFAIL\n");
	for (unsigned i = 0; i < o.n_listen; i++)
		fprintf(stderr, "ldmesh-dns: listen %s\n", dns_addr_str(&o.listen[i], name, sizeof(name)));
	for (unsigned i = 0; i < o.n_upstream; i++)
		fprintf(stderr, "ldmesh-dns: upstream %s\n",
			dns_addr_str(&o.upstream[i], name, sizeof(name)));
	fprintf(stderr, "ldmesh-dns: table %s\n", o.table);
	return dns_server_run(&o) ? 1 : 0;
}
