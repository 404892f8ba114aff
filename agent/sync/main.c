/* SPDX-License-Identifier: MIT */
/* ldmesh-sync: mirror the API objects the agent reads into its folder. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "sync_config.h"
#include "ldmesh/version.h"
#include "log.h"
#include "reflector.h"

static volatile sig_atomic_t main__stop;

static void main__on_signal(int sig)
{
	main__stop = 1;
}

static void usage(FILE *f)
{
	fputs("usage: ldmesh-sync --manifests DIR [--kubeconfig FILE] [--node NAME]\n"
	      "                   [--sa-dir DIR] [--lost-after SECONDS]\n"
	      "                   [--log-format text|json] [-v]\n"
	      "\n"
	      "Mirrors Services, EndpointSlices, this node's Node, ServiceCIDRs and\n"
	      "TCPRoutes from the Kubernetes API server into DIR, one JSON file per object, for\n"
	      "ldmesh-agent --manifests DIR.\n"
	      "\n"
	      "  -m, --manifests DIR    the folder to write (created if missing)\n"
	      "  -k, --kubeconfig FILE  use FILE's current context (default: in-cluster,\n"
	      "                         from KUBERNETES_SERVICE_HOST/_PORT and the\n"
	      "                         service account)\n"
	      "  -n, --node NAME        this node (default $NODE_NAME); without one no\n"
	      "                         Node is mirrored\n"
	      "  --sa-dir DIR           service-account folder (default $LDMESH_SYNC_SA_DIR\n"
	      "                         or " SYNC_SA_DIR ")\n"
	      "  --lost-after SECONDS   remove DIR/.ldmesh-synced after the server has been\n"
	      "                         unreachable this long (default 60)\n"
	      "  --log-format text|json each log line as text (time, level, message) or\n"
	      "                         as one JSON object (default text)\n"
	      "  -v, --verbose          log every request\n"
	      "  --version              print the version and exit\n", f);
}

struct main_args {
	const char *dir, *kubeconfig, *node, *sa_dir;
	double lost_after;
	bool verbose;
};

static int main__args(int argc, char **argv, struct main_args *a)
{
	static const struct option longopts[] = {
		{ "manifests", required_argument, NULL, 'm' },
		{ "kubeconfig", required_argument, NULL, 'k' },
		{ "node", required_argument, NULL, 'n' },
		{ "sa-dir", required_argument, NULL, 'S' },
		{ "lost-after", required_argument, NULL, 'L' },
		{ "log-format", required_argument, NULL, 'F' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int opt;

	while ((opt = getopt_long(argc, argv, "m:k:n:vh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'm': a->dir = optarg; break;
		case 'k': a->kubeconfig = optarg; break;
		case 'n': a->node = optarg; break;
		case 'S': a->sa_dir = optarg; break;
		case 'L':
			a->lost_after = strtod(optarg, &end);
			if (*end || end == optarg || a->lost_after <= 0) {
				log_error("--lost-after: not a positive number of seconds: `%s'",
					  optarg);
				return 2;
			}
			break;
		case 'F':
			if (log_set_format(optarg) < 0) {
				log_error("--log-format %s: not text or json", optarg);
				return 2;
			}
			break;
		case 'v': a->verbose = true; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("ldmesh-sync %s\n", LDMESH_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc || !a->dir) {
		usage(stderr);
		return 2;
	}
	return -1;
}

int main(int argc, char **argv)
{
	struct main_args a = { .lost_after = SYNC_LOST_AFTER };
	struct sync_config cfg;
	struct sigaction sa = { .sa_handler = main__on_signal };
	char err[512];
	int ret;

	log_init("ldmesh-sync", false); /* the arguments' errors are logged too */
	ret = main__args(argc, argv, &a);
	if (ret >= 0)
		return ret;
	log_init("ldmesh-sync", a.verbose);
	if (!a.node && getenv("NODE_NAME") && *getenv("NODE_NAME"))
		a.node = getenv("NODE_NAME");
	if (!a.sa_dir)
		a.sa_dir = getenv("LDMESH_SYNC_SA_DIR");
	ret = a.kubeconfig ? sync_config_kubeconfig(&cfg, a.kubeconfig, err, sizeof(err))
			   : sync_config_in_cluster(&cfg, a.sa_dir ? a.sa_dir : SYNC_SA_DIR,
						    err, sizeof(err));
	if (ret) {
		log_error("%s", err);
		return 1;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		log_error("curl_global_init failed");
		sync_config_free(&cfg);
		return 1;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	log_info("mirroring %s into %s", cfg.server, a.dir);
	ret = sync_run(&(struct sync_opts){ .dir = a.dir, .node = a.node,
					    .lost_after = a.lost_after, .cfg = &cfg,
					    .stop = &main__stop });
	curl_global_cleanup();
	sync_config_free(&cfg);
	return ret ? 1 : 0;
}
