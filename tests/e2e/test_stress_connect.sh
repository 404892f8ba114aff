#!/usr/bin/env bash
# Concurrency stress end to end (issue 4): 4 pods answering with their IP,
# the real agent, and one preloaded process with 4 threads doing
# getaddrinfo("stress") + connect + read in a loop while a 5th thread
# rewrites the manifest STEPS times (default 1,000), each time with a
# different non-empty subset of the pods ready, waiting for the agent to
# publish each one (so generation -> pod set is known by construction).
#
# Each connect records the generation in the control page right before and
# right after it (the client maps <table>/control itself). It fails when:
#  - any answer comes from a pod outside the union of the pod sets of
#    generations [before - 1, after] (current or immediately previous);
#  - any getaddrinfo/connect/read fails, or the process crashes;
#  - the process's /proc/self/maps lines or /proc/self/fd entries grow
#    between a baseline after warm-up and the end;
#  - a step's generation is not published, or fewer than 2,000 connects
#    were made. The manifest churns until STEPS steps and 2,000 connects
#    are done, however long a busy machine takes; 900 s is only a backstop.
. "$(dirname "$0")/lib.sh"
e2e_netns "$@"
e2e_setup

STEPS=${LDMESH_STRESS_STEPS:-1000}
PODS=(10.244.7.1 10.244.7.2 10.244.7.3 10.244.7.4)
e2e_add_ip "${PODS[@]}"
for ip in "${PODS[@]}"; do e2e_pod "$ip" 8080; done

# The manifest for a ready-mask (bit i = pod i ready); the client writes
# the same text itself, this is the first one for the agent to start on.
manifest() {
	local mask=$1 i
	cat <<-YAML
	apiVersion: v1
	kind: Service
	metadata: {name: stress, namespace: default}
	spec:
	  clusterIP: 10.96.0.80
	  selector: {app: stress}
	  ports: [{port: 80, targetPort: 8080}]
	YAML
	for i in 0 1 2 3; do
		local ready=False
		[ $(((mask >> i) & 1)) = 1 ] && ready=True
		cat <<-YAML
		---
		apiVersion: v1
		kind: Pod
		metadata: {name: p$i, namespace: default, labels: {app: stress}}
		status: {phase: Running, podIP: ${PODS[$i]}, conditions: [{type: Ready, status: "$ready"}]}
		YAML
	done
}
manifest 15 | e2e_put stress.yaml
e2e_agent

cat >"$E2E_TMP/stress.c" <<'C'
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define THREADS 4
#define MIN_CONNS 2000
#define MAXGEN 100000
static const char *pods[4] = { "10.244.7.1", "10.244.7.2", "10.244.7.3", "10.244.7.4" };
static const volatile uint64_t *genp;      /* control->generation */
static unsigned char mask_of[MAXGEN];      /* generation -> ready mask */
static atomic_int mask_known[MAXGEN];
static atomic_bool stop;
static atomic_ulong conns, bad, errs;
static const char *mdir, *tmp;

static uint64_t gen(void) { return __atomic_load_n(genp, __ATOMIC_ACQUIRE); }
static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}
static unsigned count(const char *what)
{
	unsigned n = 0;
	if (!strcmp(what, "maps")) {
		FILE *f = fopen("/proc/self/maps", "r");
		int c;
		while (f && (c = fgetc(f)) != EOF)
			n += c == '\n';
		if (f)
			fclose(f);
	} else {
		DIR *d = opendir("/proc/self/fd");
		struct dirent *e;
		while (d && (e = readdir(d)))
			n += e->d_name[0] != '.';
		if (d)
			closedir(d);
	}
	return n;
}

static void write_manifest(unsigned mask)
{
	char path[512], final[512];
	snprintf(path, sizeof(path), "%s/stress.tmp", tmp);
	snprintf(final, sizeof(final), "%s/stress.yaml", mdir);
	FILE *f = fopen(path, "w");
	if (!f) { perror(path); exit(2); }
	fprintf(f, "apiVersion: v1\nkind: Service\nmetadata: {name: stress, namespace: default}\n"
		   "spec:\n  clusterIP: 10.96.0.80\n  selector: {app: stress}\n"
		   "  ports: [{port: 80, targetPort: 8080}]\n");
	for (int i = 0; i < 4; i++)
		fprintf(f, "---\napiVersion: v1\nkind: Pod\nmetadata: {name: p%d, namespace: default, "
			   "labels: {app: stress}}\nstatus: {phase: Running, podIP: %s, conditions: "
			   "[{type: Ready, status: \"%s\"}]}\n", i, pods[i], (mask >> i) & 1 ? "True" : "False");
	fclose(f);
	if (rename(path, final)) { perror("rename"); exit(2); }
}

static void record(uint64_t g, unsigned mask)
{
	if (g < MAXGEN) {
		mask_of[g] = (unsigned char)mask;
		atomic_store(&mask_known[g], 1);
	}
}

static int pod_index(const char *ip)
{
	for (int i = 0; i < 4; i++)
		if (!strcmp(ip, pods[i]))
			return i;
	return -1;
}

struct res { uint64_t before, after; int pod; };
static struct res *results[THREADS];
static size_t nres[THREADS], capres = 400000;

static void *client(void *arg)
{
	long t = (long)arg;
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM };
	while (!atomic_load(&stop)) {
		struct addrinfo *ai = NULL;
		char buf[64] = "";
		size_t got = 0;
		ssize_t n;
		int rc = getaddrinfo("stress", "80", &hints, &ai);
		if (rc) { atomic_fetch_add(&errs, 1); fprintf(stderr, "gai: %s\n", gai_strerror(rc)); continue; }
		char ip[32];
		inet_ntop(AF_INET, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, ip, sizeof(ip));
		if (strcmp(ip, "10.96.0.80")) { atomic_fetch_add(&bad, 1); fprintf(stderr, "stress resolved to %s\n", ip); }
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct timeval tv = { .tv_sec = 5 };
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		uint64_t before = gen();
		rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
		uint64_t after = gen();
		freeaddrinfo(ai);
		if (rc) { atomic_fetch_add(&errs, 1); fprintf(stderr, "connect: %s\n", strerror(errno)); close(fd); continue; }
		while (got < sizeof(buf) - 1 && (n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
			got += (size_t)n;
		close(fd);
		buf[got] = 0;
		if (got && buf[got - 1] == '\n')
			buf[got - 1] = 0;
		int p = pod_index(buf);
		if (p < 0) { atomic_fetch_add(&errs, 1); fprintf(stderr, "answer '%s'\n", buf); continue; }
		if (nres[t] < capres)
			results[t][nres[t]++] = (struct res){ before, after, p };
		atomic_fetch_add(&conns, 1);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 5) return 2;
	const char *table = argv[1];
	mdir = argv[2];
	tmp = argv[3];
	int steps = atoi(argv[4]);
	char path[512];
	snprintf(path, sizeof(path), "%s/control", table);
	int cfd = open(path, O_RDONLY);
	if (cfd < 0) { perror(path); return 2; }
	const uint8_t *c = mmap(NULL, 64, PROT_READ, MAP_SHARED, cfd, 0);
	close(cfd);
	if (c == MAP_FAILED) return 2;
	genp = (const volatile uint64_t *)(c + 8);
	record(gen(), 15);
	pthread_t th[THREADS];
	for (long i = 0; i < THREADS; i++) {
		results[i] = calloc(capres, sizeof(struct res));
		pthread_create(&th[i], NULL, client, (void *)i);
	}
	/* warm-up: every table slot and thread reaches its steady state */
	unsigned prev = 15, published = 0, timeouts = 0;
	double t0 = now(), deadline = t0 + 900;
	unsigned maps0 = 0, fds0 = 0;
	int s;
	/* events, not time: the counts are the goal, the deadline a backstop */
	for (s = 0; (s < steps || atomic_load(&conns) < MIN_CONNS) && s < MAXGEN - 100 &&
		    now() < deadline; s++) {
		if (s == 20) { maps0 = count("maps"); fds0 = count("fd"); }
		/* a different non-empty subset each step */
		unsigned mask = 1 + (unsigned)(((unsigned)s * 7u + 3u) % 15u);
		if (mask == prev)
			mask = mask % 15 + 1;
		uint64_t g0 = gen();
		write_manifest(mask);
		/* a bound, not a pace: on a loaded machine (CI is shared) the
		 * agent may wait its turn for the CPU for seconds */
		double until = now() + 60;
		while (gen() == g0 && now() < until)
			usleep(200);
		if (gen() == g0) { timeouts++; continue; }
		if (gen() != g0 + 1) { fprintf(stderr, "generation jumped %llu -> %llu\n",
			(unsigned long long)g0, (unsigned long long)gen()); timeouts++; }
		record(gen(), mask);
		prev = mask;
		published++;
	}
	usleep(100000);
	unsigned maps1 = count("maps"), fds1 = count("fd");
	atomic_store(&stop, true);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	/* check every answer */
	unsigned long checked = 0, unknown = 0;
	for (int t = 0; t < THREADS; t++)
		for (size_t i = 0; i < nres[t]; i++) {
			struct res *r = &results[t][i];
			unsigned allowed = 0;
			int known = 1;
			for (uint64_t g = r->before ? r->before - 1 : 0; g <= r->after; g++) {
				if (g == 0) continue;
				if (g >= MAXGEN || !atomic_load(&mask_known[g])) { known = 0; continue; }
				allowed |= mask_of[g];
			}
			if (!known) { unknown++; continue; }
			checked++;
			if (!(allowed >> r->pod & 1)) {
				if (atomic_fetch_add(&bad, 1) < 5)
					fprintf(stderr, "connect during gens %llu..%llu reached pod %d, allowed mask %#x\n",
						(unsigned long long)r->before, (unsigned long long)r->after, r->pod, allowed);
			}
		}
	printf("steps %d published %u timeouts %u conns %lu checked %lu unknown %lu bad %lu errs %lu "
	       "maps %u %u fds %u %u secs %.1f\n", s, published, timeouts,
	       (unsigned long)atomic_load(&conns), checked, unknown, (unsigned long)atomic_load(&bad),
	       (unsigned long)atomic_load(&errs), maps0, maps1, fds0, fds1, now() - t0);
	return 0;
}
C
command -v cc >/dev/null || e2e_skip "no C compiler"
cc -O1 -Wall -Wextra -Werror -pthread -o "$E2E_TMP/stress" "$E2E_TMP/stress.c" || e2e_die "cannot compile the stress client"

# bounded: the client stops itself after 900 s (a backstop it reaches only
# if something is wrong); timeout is the backstop's backstop
rc=0
out=$(LDMESH_TRACE= timeout 960 env LD_PRELOAD="$PRELOAD" LDMESH_TABLE="$TABLE" \
	LDMESH_RESOLV_CONF="$RESOLV" LDMESH_NAMESPACE=default \
	"$E2E_TMP/stress" "$TABLE" "$MANIFESTS" "$E2E_TMP" "$STEPS" 2>"$E2E_TMP/stress.err") || rc=$?
e2e_log "$out"
check_eq "stress client exited cleanly (no crash)" 0 "$rc"
head -n 5 "$E2E_TMP/stress.err" | sed 's/^/# /'
read -r _ steps _ published _ timeouts _ conns _ checked _ unknown _ bad _ errs _ maps0 maps1 _ fds0 fds1 _ secs <<<"$out"
check_ge "the manifest was rewritten at least $STEPS times" "$STEPS" "${steps:-0}"
check_eq "every step published its own generation" "${steps:-x}" "${published:-0}"
check_eq "no publish wait timed out" 0 "${timeouts:-1}"
check_ge "connections made under churn" 2000 "${conns:-0}"
check_ge "connections checked against their generations" 2000 "${checked:-0}"
check_eq "every answer came from a pod of the current or previous generation" 0 "${bad:-1}"
check_eq "no getaddrinfo/connect/read errors" 0 "${errs:-1}"
check "mappings did not grow ($maps0 -> $maps1)" test "${maps1:-999}" -le "$((${maps0:-0} + 6))"
# (up to 4 sockets are open at either sample)
check "descriptors did not grow ($fds0 -> $fds1)" test "${fds1:-999}" -le "$((${fds0:-0} + 5))"
check "agent still running" kill -0 "$E2E_AGENT_PID"
e2e_done
