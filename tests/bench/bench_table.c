/*
 * Table benchmark (run by hand: build/tests/bench_table [--quick]).
 *
 *  1. parse, resolve+build time and bytes per endpoint for 1k, 10k, 100k
 *     services x 10 endpoints (manifests generated in memory, parsed by the
 *     real parser);
 *  2. ns per lookup (VIP and name) at 1 .. 100k services, keys in random
 *     order so the caches see what a busy process sees;
 *  3. manifest edit -> new generation visible to a reader, with the real
 *     agent binary over 10k services in files.
 *
 * --quick stops at 10k services; --edit-only [N [EPS [node]]] runs only
 * the edit part (N services of EPS endpoints, one file each; default
 * 10000 x 10; with "node", the edited file also holds a Node of another
 * node whose zone label each edit flips, the agent run with --node; with
 * "alloc2", each edit is a new file of two Services without a clusterIP;
 * the folder is made under $TMPDIR, /tmp when unset: give a tmpfs);
 * --switch-only stops after the cost of a new generation in a process;
 * --delta gives the builder's cache (heap bytes per service) and the time
 * and size of a delta of one changed service at 10k x 10 and 100k x 1.
 *
 * No network traffic: everything is in memory or in a temporary folder.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdbool.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ldmesh/hash.h"
#include "ldmesh/reader.h"
#include "publish.h"
#include "manifest.h"
#include "model.h"
#include "snap_build.h"

#define EPS_PER_SVC 10
#define SVCS_PER_FILE 1000
#define EDIT_TABLE_HEAD "| services x endpoints | services per file | edits | min | median | p90 | max " \
	"| agent RSS MB | agent peak RSS MB |\n|---|---|---|---|---|---|---|---|---|\n"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One Service plus its EndpointSlice with EPS_PER_SVC ready endpoints.
 * Service i's ClusterIP is 10.96.0.0 + i + 1: the CIDR's network address
 * is no ClusterIP (the agent refuses it, as the API server does). */
static size_t gen_service(char *buf, size_t cap, unsigned i, unsigned eps)
{
	size_t len = (size_t)snprintf(buf, cap,
		"---\napiVersion: v1\nkind: Service\nmetadata: {name: svc-%u, namespace: ns-%u}\n"
		"spec:\n  clusterIP: 10.%u.%u.%u\n  ports: [{name: http, port: 80, targetPort: 8080}]\n"
		"---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
		"metadata: {name: svc-%u-abcde, namespace: ns-%u, labels: {kubernetes.io/service-name: svc-%u}}\n"
		"addressType: IPv4\nports: [{name: http, port: 8080, protocol: TCP}]\nendpoints:\n",
		i, i % 100, 96 + ((i + 1) >> 16), ((i + 1) >> 8) & 255, (i + 1) & 255, i, i % 100, i);
	for (unsigned e = 0; e < eps; e++) {
		unsigned pod = i * eps + e;
		len += (size_t)snprintf(buf + len, cap - len,
			"- addresses: [\"10.%u.%u.%u\"]\n  conditions: {ready: true}\n"
			"  nodeName: node-%u\n  zone: zone-%u\n  targetRef: {kind: Pod, name: svc-%u-pod-%u}\n",
			128 + (pod >> 16), (pod >> 8) & 255, pod & 255, pod % 50, pod % 3, i, e);
	}
	return len;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "bench: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

static void quiet(void *ctx, const char *line)
{
	fprintf(stderr, "%s\n", line);
}

struct built {
	struct model_source *src;
	struct manifest_set *sets; /* src[f].set */
	size_t n_src;
	void *bytes;
	size_t size;
};

/* Parse n services of `eps` endpoints (in files of SVCS_PER_FILE) and
 * resolve them into *out, timing both. */
static void model_n(unsigned n, unsigned eps, struct built *b, struct model_out *out,
		    double *parse_s, double *resolve_s)
{
	size_t cap = (size_t)SVCS_PER_FILE * (1024 + 160 * eps);
	char *text = malloc(cap);
	struct diag d = { .report = quiet };
	struct model_opts o = { .cluster_domain = "cluster.local", .node_name = "node-1" };
	double t0;
	int err;

	ipalloc_parse_cidrs("10.96.0.0/12", &o.cidrs);
	b->n_src = (n + SVCS_PER_FILE - 1) / SVCS_PER_FILE;
	b->src = calloc(b->n_src, sizeof(*b->src));
	b->sets = calloc(b->n_src, sizeof(*b->sets));
	if (!b->src || !b->sets)
		die("calloc", ENOMEM);
	*parse_s = 0;
	for (size_t f = 0; f < b->n_src; f++) {
		size_t len = 0;
		for (unsigned i = (unsigned)f * SVCS_PER_FILE; i < n && i < (f + 1) * SVCS_PER_FILE; i++)
			len += gen_service(text + len, cap - len, i, eps);
		char *path;
		if (asprintf(&path, "bench/%06zu.yaml", f) < 0)
			die("asprintf", ENOMEM);
		b->src[f].path = path;
		b->src[f].set = &b->sets[f];
		t0 = now_s();
		err = manifest_load_data(path, text, len, &b->sets[f], &d);
		*parse_s += now_s() - t0;
		if (err)
			die("parse", err);
	}
	free(text);
	t0 = now_s();
	if ((err = model_resolve(b->src, b->n_src, &o, NULL, out, &d)))
		die("resolve", err);
	*resolve_s = now_s() - t0;
	out->in.generation = 1;
}

static void build_n(unsigned n, struct built *b, double *parse_s, double *build_s)
{
	struct model_out out;
	double t0, resolve_s;
	int err;

	model_n(n, EPS_PER_SVC, b, &out, parse_s, &resolve_s);
	t0 = now_s();
	if ((err = snap_build(&out.in, &b->bytes, &b->size)))
		die("build", err);
	*build_s = resolve_s + now_s() - t0;
	model_out_free(&out);
}

static void built_free(struct built *b)
{
	for (size_t f = 0; f < b->n_src; f++) {
		free((char *)b->src[f].path);
		manifest_set_free(&b->sets[f]);
	}
	free(b->src);
	free(b->sets);
	free(b->bytes);
}

#define LOOKUPS 2000000

static void bench_lookups(unsigned n, const struct ldmesh_snap *s)
{
	uint8_t (*keys)[16] = malloc(sizeof(*keys) * 4096);
	char (*names)[64] = malloc(sizeof(*names) * 4096);
	volatile uintptr_t sink = 0;
	double t0, vip_ns, name_ns;

	/* 4096 random existing keys, visited in a scrambled order: at 100k
	 * services most of them miss the CPU caches, as in a real process. */
	for (unsigned k = 0; k < 4096; k++) {
		uint64_t r = ldmesh_hash64(&k, sizeof(k), n);
		unsigned i = (unsigned)(r % n);
		memset(keys[k], 0, 16);
		keys[k][10] = keys[k][11] = 0xff;
		keys[k][12] = 10;
		keys[k][13] = (uint8_t)(96 + ((i + 1) >> 16));
		keys[k][14] = (uint8_t)(((i + 1) >> 8) & 255);
		keys[k][15] = (uint8_t)((i + 1) & 255);
		snprintf(names[k], sizeof(names[k]), "svc-%u.ns-%u.svc.cluster.local", i, i % 100);
	}
	t0 = now_s();
	for (unsigned i = 0; i < LOOKUPS; i++) {
		struct ldmesh_vip_slot v;
		if (!ldmesh_snap_find_vip(s, keys[(i * 2654435761u) & 4095], 80, LDMESH_PROTO_TCP, &v))
			die("vip lookup missed", EINVAL);
		sink += v.service;
	}
	vip_ns = (now_s() - t0) * 1e9 / LOOKUPS;
	t0 = now_s();
	for (unsigned i = 0; i < LOOKUPS; i++) {
		const char *nm = names[(i * 2654435761u) & 4095];
		struct ldmesh_name_slot v;
		if (!ldmesh_snap_find_name(s, nm, strlen(nm), &v))
			die("name lookup missed", EINVAL);
		sink += v.service;
	}
	name_ns = (now_s() - t0) * 1e9 / LOOKUPS;
	printf("| %7u | %8.1f | %8.1f |\n", n, vip_ns, name_ns);
	free(keys);
	free(names);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Page faults this thread took so far. A system call: read it where the
 * timed code's caches are not at stake (before the publish round trip,
 * which makes system calls of its own). */
static long minor_faults(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_THREAD, &ru) == 0 ? ru.ru_minflt : 0;
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;
	return x < y ? -1 : x > y;
}

static long rss_kb(void)
{
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
			resident = 0;
		fclose(f);
	}
	return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Snapshot files are immutable once published: lift that, then remove. */
static void remove_tree(const char *dir)
{
	char cmd[700];

	snprintf(cmd, sizeof(cmd), "chattr -R -i %s 2>/dev/null; rm -rf %s", dir, dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench: could not remove %s\n", dir);
}

/*
 * A publisher in a process of its own, as the agent is on a node (the
 * reader's caches are then not the ones that just wrote the file): makes
 * `dir` (a mkdtemp template) and runs fn(dir, cmd, ack, arg) in a child,
 * which never returns. The parent gets the write end of `cmd` and the
 * read end of `ack`.
 */
static pid_t publisher_start(char *dir, void (*fn)(const char *, int, int, void *),
			     void *arg, int *cmd_w, int *ack_r)
{
	int cmd[2], ack[2];
	pid_t pid;

	if (!mkdtemp(dir) || pipe(cmd) || pipe(ack))
		die("publisher setup", errno);
	fflush(stdout);
	if ((pid = fork()) < 0)
		die("fork", errno);
	if (pid == 0) {
		close(cmd[1]);
		close(ack[0]);
		fn(dir, cmd[0], ack[1], arg);
		_exit(0);
	}
	close(cmd[0]);
	close(ack[1]);
	*cmd_w = cmd[1];
	*ack_r = ack[0];
	return pid;
}

/*
 * The agent's side of bench_switch (publisher_start): each byte read
 * from `cmd` publishes that many new generations of `b` (SWITCH_ANNOUNCE:
 * announces one ahead, as a fold does; SWITCH_COMMIT: makes it current),
 * then writes `scribble` bytes of memory of its own (the control row: a
 * small table with a big table's write), then one byte goes back on
 * `ack`. Exits at EOF.
 */
struct switch_job {
	const struct built *b;
	size_t scribble;
};
#define SWITCH_ANNOUNCE 0x80
#define SWITCH_COMMIT 0x81

/* `b` as the next generation of `pub`, into `copy`. */
static void switch_stamp(const struct publisher *pub, const struct built *b, uint8_t *copy)
{
	struct ldmesh_snap_header h;

	memcpy(copy, b->bytes, b->size);
	memcpy(&h, copy, sizeof(h));
	h.generation = publish_next_generation(pub);
	ldmesh_snap_header_seal(copy, &h);
}

static void switch_publisher(const char *dir, int cmd, int ack, void *arg)
{
	const struct switch_job *job = arg;
	const struct built *b = job->b;
	size_t scribble = job->scribble;
	struct publisher pub;
	uint8_t *copy = malloc(b->size), k, done = 1;
	volatile uint64_t *junk = scribble ? malloc(scribble) : NULL;
	char why[256];

	if (!copy || (scribble && !junk) || publish_open(&pub, dir, why, sizeof(why)))
		die("publish_open", EIO);
	while (read(cmd, &k, 1) == 1) {
		int err = 0;

		if (k == SWITCH_COMMIT) {
			err = publish_ahead_commit(&pub, why, sizeof(why));
		} else if (k == SWITCH_ANNOUNCE) {
			switch_stamp(&pub, b, copy);
			err = publish_ahead(&pub, copy, b->size, 0, why, sizeof(why));
		} else {
			while (k-- && !err) {
				switch_stamp(&pub, b, copy);
				err = publish_snapshot(&pub, copy, b->size, 0, why, sizeof(why));
			}
		}
		if (err)
			die(why, EIO);
		/* word by word: a large memset may bypass the caches */
		for (size_t i = 0; i < scribble / sizeof(*junk); i++)
			junk[i] = i ^ k;
		if (write(ack, &done, 1) != 1)
			break;
	}
	publish_close(&pub);
	free(copy);
	free((void *)junk);
	_exit(0);
}

/* Ask the publisher for `k` generations and wait until they are out. */
static void switch_publish(int cmd, int ack, uint8_t k)
{
	if (write(cmd, &k, 1) != 1 || read(ack, &k, 1) != 1)
		die("publisher", EPIPE);
}

/* A service's ClusterIP (port 80) and name, as gen_service makes them. */
struct switch_key {
	uint8_t vip[16];
	char fqdn[64];
};

static struct switch_key switch_key_of(unsigned i)
{
	struct switch_key k = { .vip = { [10] = 0xff, [11] = 0xff, [12] = 10,
					 [13] = (uint8_t)(96 + ((i + 1) >> 16)),
					 [14] = (uint8_t)((i + 1) >> 8), [15] = (uint8_t)(i + 1) } };

	snprintf(k.fqdn, sizeof(k.fqdn), "svc-%u.ns-%u.svc.cluster.local", i, i % 100);
	return k;
}

/* What the first lookups after a switch look up: svc-1's ClusterIP and
 * svc-7's name. */
#define SWITCH_VIP_OF 1
#define SWITCH_NAME_OF 7

/* The first acquire + VIP lookup + name lookup, in us; the generation it
 * found in *gen, what the connect's pick then took (its service, endpoint
 * ports and endpoint records, as preload/redirect/route.c reads them) in *pick_us,
 * and the RSS all of it added to `rss_before` (read by the caller before
 * the publish: reading it here would warm the very system calls a switch
 * makes) in *grew_kb, and the page faults since `faults_before` in
 * *faults. */
static double key_lookup(struct ldmesh_table *t, const uint8_t vip_key[16], const char *fqdn,
			 bool note, uint64_t *gen, double *pick_us, long rss_before, long *grew_kb,
			 long faults_before, long *faults)
{
	struct ldmesh_vip_slot vip;
	struct ldmesh_name_slot name;
	struct ldmesh_service svc;
	struct ldmesh_endpoint ep;
	double t0 = now_s(), took;
	uint16_t port;
	uint32_t e;
	bool found;
	int slot;
	const struct ldmesh_snap *s = ldmesh_table_acquire(t, &slot);

	if (!s)
		die("acquire after publish", EINVAL);
	ldmesh_snap_find_vip(s, vip_key, 80, LDMESH_PROTO_TCP, &vip);
	found = ldmesh_snap_find_name(s, fqdn, strlen(fqdn), &name);
	took = (now_s() - t0) * 1e6;
	if (!found)
		die("switch: the name looked up is not in the table", ENOENT);
	t0 = now_s();
	if (!ldmesh_snap_service(s, vip.service, &svc) ||
	    (e = ldmesh_snap_pick(s, &svc, vip.port_index, 0x9e3779b97f4a7c15ULL, &port)) ==
		    LDMESH_NONE ||
	    !ldmesh_snap_endpoint(s, e, &ep))
		die("switch: no endpoint picked", EINVAL);
	*pick_us = (now_s() - t0) * 1e6;
	*gen = s->generation;
	ldmesh_table_release(t, slot);
	/* as the preload's connect and getaddrinfo do (untimed: they note
	 * after the lookup, and a note is a compare) */
	if (note) {
		ldmesh_table_note_vip(t, ldmesh_vip_hash(vip_key, 80, LDMESH_PROTO_TCP));
		ldmesh_table_note_name(t, name.hash);
	}
	*faults = minor_faults() - faults_before;
	*grew_kb = rss_kb() - rss_before;
	return took;
}

static double switch_lookup(struct ldmesh_table *t, bool note, uint64_t *gen, double *pick_us,
			    long rss_before, long *grew_kb, long faults_before, long *faults)
{
	struct switch_key v = switch_key_of(SWITCH_VIP_OF), n = switch_key_of(SWITCH_NAME_OF);

	return key_lookup(t, v.vip, n.fqdn, note, gen, pick_us, rss_before, grew_kb,
			  faults_before, faults);
}

/* The next acquire with the once-a-second check due (as a second later),
 * which releases the mappings the switch left: in us (its RSS unused). */
static double switch_check(struct ldmesh_table *t, bool note)
{
	uint64_t gen;
	double pick;
	long grew, faults;

	ldmesh_table_check_now(t);
	return switch_lookup(t, note, &gen, &pick, 0, &grew, 0, &faults);
}

#define SWITCHES 15

static void switch_event(void *ctx, enum ldmesh_table_event ev, uint64_t gen, const char *why)
{
	(void)ctx;
	if (ev != LDMESH_TABLE_SWITCHED && ev != LDMESH_TABLE_AHEAD)
		fprintf(stderr, "bench: table event %d gen %llu: %s\n", (int)ev,
			(unsigned long long)gen, why);
}

/*
 * What a new base costs a running process: the snapshot published into a
 * real table directory by a publisher process (as the agent does), then
 * the first acquire + VIP lookup + name lookup, timed, with the process's
 * RSS before and after; then the check that releases the old mapping.
 * `step` generations per round: 1, or 3 so that the agent has retired
 * (unlinked) the one the process was using by the time it switches; or
 * 0: one base announced ahead (as a fold is), the process's once-a-second
 * check (timed, with its lookups), then the base made current. `note`:
 * the lookups are noted as the preload notes them, so the check warms
 * them in a base announced ahead; without, they are keys the process
 * looks up for the first time.
 * Format 2 checks only the header, so all of it should stay flat as the
 * table grows. `scribble` bytes written by the publisher after each
 * publish (0 but in the control row) show how much of a large table's
 * figure is the caches its write emptied, not the table's size.
 */
static void bench_switch(unsigned n, const struct built *b, uint8_t step, bool note,
			 size_t scribble)
{
	char dir[] = "/dev/shm/ldmesh-bench-XXXXXX";
	struct ldmesh_table t;
	double us[SWITCHES], pick_us[SWITCHES], check_us[SWITCHES], ahead_us[SWITCHES];
	long max_grew = 0, faults[SWITCHES];
	struct switch_job job = { .b = b, .scribble = scribble };
	int cmd[2], ack[2];
	uint64_t want = 0, gen;
	pid_t pid = publisher_start(dir, switch_publisher, &job, &cmd[1], &ack[0]);

	switch_publish(cmd[1], ack[0], 0); /* the control page is there */
	if (ldmesh_table_init(&t, dir, &ldmesh_reader_libc, switch_event, NULL))
		die("table_init", EINVAL);
	/* generation g is in use (the process is running, has looked up),
	 * then the next is published and the next acquire switches to it */
	for (int r = -1; r < SWITCHES; r++) {
		double took, pick;
		long g_kb, rss = rss_kb(), flt, f0;

		if (r >= 0 && !step) {
			switch_publish(cmd[1], ack[0], SWITCH_ANNOUNCE);
			ahead_us[r] = switch_check(&t, note);
			f0 = minor_faults();
			switch_publish(cmd[1], ack[0], SWITCH_COMMIT);
			want++;
		} else {
			f0 = minor_faults();
			switch_publish(cmd[1], ack[0], r < 0 ? 1 : step);
			want += r < 0 ? 1 : step;
		}
		took = switch_lookup(&t, note, &gen, &pick, rss, &g_kb, f0, &flt);
		if (gen != want)
			die("switch: not the generation just published", EINVAL);
		if (r >= 0) {
			us[r] = took;
			pick_us[r] = pick;
			faults[r] = flt;
			max_grew = g_kb > max_grew ? g_kb : max_grew;
			check_us[r] = switch_check(&t, note);
		}
	}
	close(cmd[1]);
	waitpid(pid, NULL, 0);
	close(ack[0]);
	qsort(us, SWITCHES, sizeof(us[0]), cmp_double);
	qsort(check_us, SWITCHES, sizeof(check_us[0]), cmp_double);
	qsort(pick_us, SWITCHES, sizeof(pick_us[0]), cmp_double);
	printf("| %u%s | %zu | ", n,
	       scribble ? ", then as many bytes written as the largest" : "", b->size);
	if (step) {
		printf("%u | - | - ", step);
	} else {
		qsort(ahead_us, SWITCHES, sizeof(ahead_us[0]), cmp_double);
		printf("1, announced ahead, %s | %.1f | %.1f ",
		       note ? "keys looked up before (warmed)" : "keys new to the process",
		       ahead_us[SWITCHES / 2], ahead_us[SWITCHES - 1]);
	}
	qsort(faults, SWITCHES, sizeof(faults[0]), cmp_long);
	printf("| %.1f | %.1f | %.1f | %ld | %.1f | %.1f | %+ld |\n", us[SWITCHES / 2],
	       us[SWITCHES - 1], pick_us[SWITCHES / 2], faults[SWITCHES / 2],
	       check_us[SWITCHES / 2], check_us[SWITCHES - 1], max_grew);
	fflush(stdout);
	ldmesh_table_close(&t);
	remove_tree(dir);
}

/*
 * The floor under "first lookup after switch" on this machine: the same
 * publisher and file, mapped (untimed) as a check would map a base
 * announced ahead, then a byte read from the page of each index slot the
 * two lookups start at (the VIP's and the name's), timed: two page faults
 * in a fresh mapping with no table code at all. No lookup can cost less.
 */
static void bench_switch_floor(unsigned n, const struct built *b)
{
	char dir[] = "/dev/shm/ldmesh-bench-XXXXXX", path[64];
	struct switch_job job = { .b = b, .scribble = 0 };
	struct ldmesh_snap v;
	double us[SWITCHES];
	long faults[SWITCHES];
	size_t vip_off, name_off;
	struct switch_key kv = switch_key_of(SWITCH_VIP_OF), kn = switch_key_of(SWITCH_NAME_OF);
	int cmd, ack;
	pid_t pid = publisher_start(dir, switch_publisher, &job, &cmd, &ack);

	if (ldmesh_snap_init(&v, b->bytes, b->size, NULL))
		die("floor: init", EINVAL);
	vip_off = (size_t)((const uint8_t *)&v.vip[ldmesh_vip_hash(kv.vip, 80, LDMESH_PROTO_TCP) &
						  (v.vip_slots - 1)] - (const uint8_t *)b->bytes);
	name_off = (size_t)((const uint8_t *)&v.names[ldmesh_hash64(kn.fqdn, strlen(kn.fqdn), 0) &
						     (v.name_slots - 1)] - (const uint8_t *)b->bytes);
	for (int r = -1; r < SWITCHES; r++) {
		struct stat st;
		double t0;
		long f0;
		int fd;

		switch_publish(cmd, ack, 1);
		snprintf(path, sizeof(path), "%s/snap.%d", dir, r + 2);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) < 0)
			die("floor: open", errno);
		f0 = minor_faults();
		const volatile uint8_t *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
		close(fd);
		if (m == MAP_FAILED)
			die("floor: mmap", errno);
		t0 = now_s();
		(void)m[vip_off];
		(void)m[name_off];
		if (r >= 0) {
			us[r] = (now_s() - t0) * 1e6;
			faults[r] = minor_faults() - f0;
		}
		munmap((void *)m, (size_t)st.st_size);
	}
	close(cmd);
	waitpid(pid, NULL, 0);
	close(ack);
	qsort(us, SWITCHES, sizeof(us[0]), cmp_double);
	qsort(faults, SWITCHES, sizeof(faults[0]), cmp_long);
	printf("| %u, floor: the two index slots' pages read in a fresh mapping, no table code "
	       "| %zu | 1 | - | - | %.1f | %.1f | - | %ld | - | - | - |\n",
	       n, b->size, us[SWITCHES / 2], us[SWITCHES - 1], faults[SWITCHES / 2]);
	fflush(stdout);
	remove_tree(dir);
}

/*
 * The control for the rows of keys new to a process: a service the process
 * has not looked up before, in a base it has had mapped all along (no new
 * generation), with another service looked up first. Its lookups fault in
 * their own pages just the same: that part of a switch's figure is the
 * key's, not the switch's.
 */
static void bench_cold_key(unsigned n, const struct built *b)
{
	char dir[] = "/dev/shm/ldmesh-bench-XXXXXX";
	struct switch_job job = { .b = b, .scribble = 0 };
	struct switch_key k = switch_key_of(1);
	struct ldmesh_table t;
	double us[SWITCHES], pick_us[SWITCHES], pick;
	long faults[SWITCHES], grew;
	uint64_t gen;
	int cmd, ack;
	pid_t pid = publisher_start(dir, switch_publisher, &job, &cmd, &ack);

	switch_publish(cmd, ack, 0);
	switch_publish(cmd, ack, 1);
	if (ldmesh_table_init(&t, dir, &ldmesh_reader_libc, switch_event, NULL))
		die("table_init", EINVAL);
	key_lookup(&t, k.vip, k.fqdn, true, &gen, &pick, 0, &grew, 0, &faults[0]);
	for (int r = 0; r < SWITCHES; r++) {
		k = switch_key_of((unsigned)(r + 1) * (n / (SWITCHES + 1)) + 3);
		us[r] = key_lookup(&t, k.vip, k.fqdn, true, &gen, &pick_us[r], 0, &grew,
				   minor_faults(), &faults[r]);
		if (gen != 1)
			die("cold key: not the one generation published", EINVAL);
	}
	ldmesh_table_close(&t);
	close(cmd);
	waitpid(pid, NULL, 0);
	close(ack);
	remove_tree(dir);
	qsort(us, SWITCHES, sizeof(us[0]), cmp_double);
	qsort(pick_us, SWITCHES, sizeof(pick_us[0]), cmp_double);
	qsort(faults, SWITCHES, sizeof(faults[0]), cmp_long);
	printf("| %u, control: a service not looked up before, no new generation | %zu | - | - | - "
	       "| %.1f | %.1f | %.1f | %ld | - | - | - |\n",
	       n, b->size, us[SWITCHES / 2], us[SWITCHES - 1], pick_us[SWITCHES / 2],
	       faults[SWITCHES / 2]);
	fflush(stdout);
}

/* Heap bytes in use (mallinfo2), mmapped chunks included (the cache's
 * buffers are large enough to be): what the builder keeps between builds
 * is the difference around a build whose output was freed. */
static size_t heap_used(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

#define DELTA_ROUNDS 41

/* snap_build_delta of one changed service (its first endpoint moves, back
 * and forth), median over DELTA_ROUNDS; the delta's size in *size. With
 * `whole`, snap_build_delta_whole of the table with that change, as a
 * full resolve publishes it. */
static double delta_ms(struct snap_cache *cache, const struct model_out *out, bool whole,
		       size_t *size)
{
	size_t mid = out->in.n_services / 2;
	const struct snap_service_in *orig = &out->in.services[mid];
	struct snap_endpoint_in *eps = malloc((orig->n_endpoints + 1) * sizeof(*eps));
	struct snap_service_in *all = malloc((out->in.n_services + 1) * sizeof(*all));
	struct snap_service_in *svc = &all[mid];
	struct snap_change ch = { .ns = orig->ns, .name = orig->name, .svc = svc };
	struct snap_input hdr = out->in;
	double ms[DELTA_ROUNDS];
	void *bytes;
	int err;

	if (!eps || !all)
		die("delta_ms", ENOMEM);
	/* the table as a full resolve hands it over (every service, the
	 * others with the keys they had) when `whole`; else the one change */
	memcpy(all, out->in.services, out->in.n_services * sizeof(*all));
	hdr.services = all;
	memcpy(eps, orig->endpoints, orig->n_endpoints * sizeof(*eps));
	svc->endpoints = eps;
	for (int r = 0; r < DELTA_ROUNDS; r++) {
		/* (another bit for the whole table: its first round must not
		 * say what the last single change left) */
		eps[0].addr[15] ^= whole ? 2 : 1;
		svc->cache_key = 0; /* new input: the block is built */
		hdr.generation++;
		double t0 = now_s();
		err = whole ? snap_build_delta_whole(&hdr, cache, &bytes, size)
			    : snap_build_delta(&hdr, cache, &ch, 1, &bytes, size);
		if (err || !bytes)
			die("snap_build_delta", err ? err : EINVAL);
		ms[r] = (now_s() - t0) * 1e3;
		free(bytes);
	}
	free(all);
	free(eps);
	qsort(ms, DELTA_ROUNDS, sizeof(ms[0]), cmp_double);
	return ms[DELTA_ROUNDS / 2];
}

/*
 * The agent's side of delta_switch_us (publisher_start): publishes
 * `bytes` as the base, acks, then for each byte read from `cmd` builds and
 * publishes a delta moving the first endpoint of `orig` (another address
 * each round) and acks. Exits at EOF.
 */
struct delta_job {
	struct snap_cache *cache;
	const struct model_out *out;
	const struct snap_service_in *orig;
	void *bytes;
	size_t size;
};

static void delta_publisher(const char *dir, int cmd, int ack, void *arg)
{
	const struct delta_job *job = arg;
	struct snap_cache *cache = job->cache;
	const struct model_out *out = job->out;
	const struct snap_service_in *orig = job->orig;
	void *bytes = job->bytes;
	size_t size = job->size;
	struct snap_endpoint_in *eps = malloc((orig->n_endpoints + 1) * sizeof(*eps));
	struct snap_service_in svc = *orig;
	struct snap_change ch = { .ns = orig->ns, .name = orig->name, .svc = &svc };
	struct snap_input hdr = out->in;
	struct publisher pub;
	char why[256];
	uint8_t r, done = 1;
	int err;

	if (!eps || publish_open(&pub, dir, why, sizeof(why)) ||
	    publish_snapshot(&pub, bytes, size, 0, why, sizeof(why)))
		die("delta publisher", EIO);
	memcpy(eps, orig->endpoints, orig->n_endpoints * sizeof(*eps));
	svc.endpoints = eps;
	if (write(ack, &done, 1) != 1)
		_exit(1);
	while (read(cmd, &r, 1) == 1) {
		void *delta;
		size_t delta_size;

		/* an address no generated service has, another each round */
		eps[0].addr[12] = 192;
		eps[0].addr[15] = r;
		svc.cache_key = 0;
		hdr.generation = publish_next_generation(&pub);
		if ((err = snap_build_delta(&hdr, cache, &ch, 1, &delta, &delta_size)) || !delta)
			die("snap_build_delta", err ? err : EINVAL);
		if (publish_snapshot(&pub, delta, delta_size, 1, why, sizeof(why)))
			die(why, EIO);
		free(delta);
		if (write(ack, &done, 1) != 1)
			break;
	}
	publish_close(&pub);
	free(eps);
	_exit(0);
}

/*
 * What switching to a delta of one changed service costs a running
 * process (median of SWITCHES, us): the first acquire + VIP lookup + name
 * lookup after each publish, the deltas published by another process as
 * the agent does (bench_switch says why).
 */
static double delta_switch_us(struct snap_cache *cache, const struct model_out *out,
			      void *bytes, size_t size)
{
	char dir[] = "/dev/shm/ldmesh-bench-XXXXXX";
	const struct snap_service_in *orig = &out->in.services[out->in.n_services / 2];
	struct ldmesh_table t;
	const struct ldmesh_snap *snap;
	struct ldmesh_vip_slot vip;
	struct ldmesh_name_slot name;
	char fqdn[300];
	double us[SWITCHES];
	struct delta_job job = { cache, out, orig, bytes, size };
	int slot, len, cmd[2], ack[2];
	uint64_t gen;
	uint8_t k;
	pid_t pid = publisher_start(dir, delta_publisher, &job, &cmd[1], &ack[0]);

	if (read(ack[0], &k, 1) != 1 || ldmesh_table_init(&t, dir, &ldmesh_reader_libc, NULL, NULL) ||
	    !(snap = ldmesh_table_acquire(&t, &slot)))
		die("table_init", EINVAL);
	gen = snap->generation;
	ldmesh_table_release(&t, slot);
	len = snprintf(fqdn, sizeof(fqdn), "%s.%s.svc.cluster.local", orig->name, orig->ns);
	for (int r = 0; r < SWITCHES; r++) {
		k = (uint8_t)r;
		if (write(cmd[1], &k, 1) != 1 || read(ack[0], &k, 1) != 1)
			die("delta publisher", EPIPE);
		gen++;
		double t0 = now_s();
		snap = ldmesh_table_acquire(&t, &slot);
		if (!snap || snap->generation != gen)
			die("acquire after publish", EINVAL);
		ldmesh_snap_find_vip(snap, orig->cluster_ips[0], orig->ports[0].port,
				     LDMESH_PROTO_TCP, &vip);
		ldmesh_snap_find_name(snap, fqdn, (size_t)len, &name);
		us[r] = (now_s() - t0) * 1e6;
		ldmesh_table_release(&t, slot);
	}
	close(cmd[1]);
	waitpid(pid, NULL, 0);
	close(ack[0]);
	ldmesh_table_close(&t);
	remove_tree(dir);
	qsort(us, SWITCHES, sizeof(us[0]), cmp_double);
	return us[SWITCHES / 2];
}

/*
 * The cache the agent keeps at n services x eps endpoints (heap bytes per
 * service it holds after a full build, the base), what a delta of one
 * changed service costs over that base, and what switching to such a
 * delta costs a running process.
 */
static void bench_delta(unsigned n, unsigned eps)
{
	struct built b = { 0 };
	struct model_out out;
	struct snap_cache *cache;
	double parse_s, resolve_s, t0, base_ms;
	void *bytes;
	size_t size, before, kept;
	int err;

	model_n(n, eps, &b, &out, &parse_s, &resolve_s);
	before = heap_used();
	if ((err = snap_cache_new(&cache)))
		die("snap_cache_new", err);
	t0 = now_s();
	if ((err = snap_build_cached(&out.in, cache, &bytes, &size)))
		die("build", err);
	base_ms = (now_s() - t0) * 1e3;
	double switch_us = delta_switch_us(cache, &out, bytes, size);
	free(bytes);
	kept = heap_used() - before; /* the base's (the deltas are the child's) */
	double one_ms = delta_ms(cache, &out, false, &size);
	double whole_ms = delta_ms(cache, &out, true, &size);
	printf("| %u x %u | %.1f | %.0f | %.3f | %.1f | %zu | %.1f |\n", n, eps, base_ms,
	       (double)kept / n, one_ms, whole_ms, size, switch_us);
	fflush(stdout);
	snap_cache_free(cache);
	model_out_free(&out);
	b.bytes = NULL;
	built_free(&b);
}

static void write_file(const char *path, const char *text, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, text, len) != (ssize_t)len || close(fd) < 0)
		die(path, errno);
}


/* The agent's resident set now and at its peak, in MB (/proc/PID/status). */
static void agent_rss(pid_t pid, double *rss, double *hwm)
{
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	*rss = *hwm = 0;
	if (!(f = fopen(path, "r")))
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned long kb;
		if (sscanf(line, "VmRSS: %lu", &kb) == 1)
			*rss = (double)kb / 1024;
		else if (sscanf(line, "VmHWM: %lu", &kb) == 1)
			*hwm = (double)kb / 1024;
	}
	fclose(f);
}

/* A Node of another node in the edited file, its zone label flipped by
 * each edit (`r`): until 2026-12-08 every such edit was resolved in full. */
static size_t edit_node(char *buf, size_t cap, int r)
{
	return (size_t)snprintf(buf, cap, "---\napiVersion: v1\nkind: Node\nmetadata: {name: elsewhere, "
				"labels: {topology.kubernetes.io/zone: zone-%c}}\n", 'a' + (r & 1));
}

/* Two Services without a clusterIP, new names each round: until
 * 2026-12-08 two allocations at once were resolved in full. */
static void edit_alloc2(const char *dir, int r)
{
	char path[600], text[1024];
	size_t len = 0;

	for (int k = 0; k < 2; k++)
		len += (size_t)snprintf(text + len, sizeof(text) - len,
			"---\napiVersion: v1\nkind: Service\nmetadata: {name: new-%d-%d, namespace: ns-new}\n"
			"spec:\n  ports: [{name: http, port: 80, targetPort: 8080}]\n", r, k);
	snprintf(path, sizeof(path), "%s/m/new-%03d.yaml", dir, r);
	write_file(path, text, len);
}

static void bench_edit(const char *agent, unsigned n, unsigned per_file, unsigned eps,
		       const char *mode)
{
	bool node = !strcmp(mode, "node"), alloc2 = !strcmp(mode, "alloc2");
	const char *tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char dir[400], table[512], path[600];
	size_t cap = (size_t)SVCS_PER_FILE * 4096;
	char *text = malloc(cap);
	double lat[40];
	int rounds = 40;

	snprintf(dir, sizeof(dir), "%s/ldmesh-bench-XXXXXX", tmp);
	if (!mkdtemp(dir))
		die("mkdtemp", errno);
	snprintf(table, sizeof(table), "%s/table", dir);
	snprintf(path, sizeof(path), "%s/m", dir);
	mkdir(path, 0755);
	for (unsigned f = 0; f * per_file < n; f++) {
		size_t len = 0;
		for (unsigned i = f * per_file; i < n && i < (f + 1) * per_file; i++)
			len += gen_service(text + len, cap - len, i, eps);
		if (node && !f)
			len += edit_node(text + len, cap - len, 1);
		snprintf(path, sizeof(path), "%s/m/%06u.yaml", dir, f);
		write_file(path, text, len);
	}
	snprintf(path, sizeof(path), "%s/m", dir);
	pid_t pid = fork();
	if (pid == 0) {
		const char *log = getenv("BENCH_AGENT_LOG");
		int fd = log ? open(log, O_WRONLY | O_CREAT | O_APPEND, 0644) : open("/dev/null", O_WRONLY);
		dup2(fd, 2);
		if (node)
			execl(agent, agent, "--manifests", path, "--table", table, "--node", "node-1",
			      (char *)NULL);
		else
			execl(agent, agent, "--manifests", path, "--table", table, (char *)NULL);
		_exit(127);
	}
	/* Watch the generation the way a pod does: the control page. */
	char control[600];
	snprintf(control, sizeof(control), "%s/control", table);
	const struct ldmesh_control *c = NULL;
	for (int i = 0; i < 3000 && !c; i++) {
		int fd = open(control, O_RDONLY);
		if (fd >= 0) {
			void *m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
			close(fd);
			c = m == MAP_FAILED ? NULL : m;
		}
		usleep(10000);
	}
	if (!c)
		die("agent did not publish", ETIMEDOUT);
	for (int i = 0; i < 6000 && !__atomic_load_n(&c->generation, __ATOMIC_ACQUIRE); i++)
		usleep(10000);
	snprintf(path, sizeof(path), "%s/m/000000.yaml", dir);
	for (int r = 0; r < rounds; r++) {
		uint64_t before = __atomic_load_n(&c->generation, __ATOMIC_ACQUIRE);
		size_t len = 0;
		/* The edit: one service of the file gains or loses an endpoint. */
		for (unsigned i = 0; i < per_file && i < n; i++)
			len += gen_service(text + len, cap - len, i, eps + (i == 0 ? (unsigned)(~r & 1) : 0));
		if (node)
			len += edit_node(text + len, cap - len, r);
		double t0 = now_s();
		if (alloc2)
			edit_alloc2(dir, r);
		else
			write_file(path, text, len);
		double t1 = t0;
		for (int spin = 0; spin < 2000000; spin++) {
			if (__atomic_load_n(&c->generation, __ATOMIC_ACQUIRE) != before) {
				t1 = now_s();
				break;
			}
			usleep(20);
		}
		lat[r] = (t1 - t0) * 1e3;
		usleep(20000);
	}
	double rss, hwm;
	agent_rss(pid, &rss, &hwm);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	qsort(lat, (size_t)rounds, sizeof(lat[0]), cmp_double);
	printf("| %u x %u | %u%s | %d | %.2f | %.2f | %.2f | %.2f | %.0f | %.0f |\n", n, eps, per_file,
	       node ? " and a Node's zone" : alloc2 ? ": two new Services without clusterIP" : "",
	       rounds, lat[0], lat[rounds / 2],
	       lat[rounds * 9 / 10], lat[rounds - 1], rss, hwm);
	free(text);
	remove_tree(dir);
}

int main(int argc, char **argv)
{
	unsigned sizes[] = { 1000, 10000, 100000 };
	unsigned n_sizes = 3;
	/* BENCH_AGENT: another build's agent, to compare side by side */
	const char *agent = getenv("BENCH_AGENT") ? getenv("BENCH_AGENT")
						  : LDMESH_BINARY_DIR "/agent/ldmesh-agent";

	bool switch_only = argc > 1 && !strcmp(argv[1], "--switch-only");

	if (argc > 1 && !strcmp(argv[1], "--delta")) {
		printf("| services x endpoints | base build ms | cache heap bytes per service "
		       "| delta of one service, median ms "
		       "| the same from a full resolve (the whole table given), median ms "
		       "| delta bytes | first lookup after a switch to a delta, median us |\n"
		       "|---|---|---|---|---|---|---|\n");
		bench_delta(10000, 10);
		bench_delta(100000, 1);
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "--quick"))
		n_sizes = 2;
	if (argc > 1 && !strcmp(argv[1], "--edit-only")) {
		unsigned n = argc > 2 ? (unsigned)atoi(argv[2]) : 10000;
		unsigned eps = argc > 3 ? (unsigned)atoi(argv[3]) : EPS_PER_SVC;
		printf(EDIT_TABLE_HEAD);
		bench_edit(agent, n ? n : 10000, 1, eps, argc > 4 ? argv[4] : "");
		return 0;
	}
	printf("## snapshot build (%d endpoints per service)\n\n", EPS_PER_SVC);
	printf("| services | parse s | resolve+build ms | bytes | bytes/endpoint |\n|---|---|---|---|---|\n");
	struct built keep[3];
	for (unsigned k = 0; k < n_sizes; k++) {
		double parse_s, build_s;
		build_n(sizes[k], &keep[k], &parse_s, &build_s);
		printf("| %u | %.2f | %.1f | %zu | %.1f |\n", sizes[k], parse_s, build_s * 1e3,
		       keep[k].size, (double)keep[k].size / ((double)sizes[k] * EPS_PER_SVC));
		fflush(stdout);
	}
	printf("\n## a new generation in a running process (first acquire + VIP + name lookup;"
	       " then the pick a connect makes: service, endpoint ports, endpoint)\n\n");
	printf("| services | snapshot bytes | generations per switch "
	       "| the check that maps it ahead (and looks up), median us | max us "
	       "| first lookup after switch, median us | max us "
	       "| then the connect's pick, median us "
	       "| page faults of both, median "
	       "| next check (releases the old), median us | max us "
	       "| RSS growth per switch, max kB |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n");
	for (unsigned k = 0; k < n_sizes; k++) {
		bench_switch(sizes[k], &keep[k], 1, true, 0);
		bench_switch(sizes[k], &keep[k], 3, true, 0);
		bench_switch(sizes[k], &keep[k], 0, false, 0);
		bench_switch(sizes[k], &keep[k], 0, true, 0);
	}
	/* The control: what is left of the largest table's cost when the
	 * smallest table is published with the same amount written. */
	if (n_sizes > 1)
		bench_switch(sizes[0], &keep[0], 1, true, keep[n_sizes - 1].size);
	bench_switch_floor(sizes[n_sizes - 1], &keep[n_sizes - 1]);
	bench_cold_key(sizes[n_sizes - 1], &keep[n_sizes - 1]);
	if (switch_only)
		return 0;
	printf("\n## lookups (ns per call, random keys)\n\n| services | vip ns | name ns |\n|---|---|---|\n");
	{
		struct built one;
		double p, b;
		struct ldmesh_snap s;
		build_n(1, &one, &p, &b);
		if (ldmesh_snap_init(&s, one.bytes, one.size, NULL))
			die("init", EINVAL);
		bench_lookups(1, &s);
		built_free(&one);
	}
	for (unsigned k = 0; k < n_sizes; k++) {
		struct ldmesh_snap s;
		if (ldmesh_snap_init(&s, keep[k].bytes, keep[k].size, NULL))
			die("init", EINVAL);
		bench_lookups(sizes[k], &s);
		built_free(&keep[k]);
	}
	printf("\n## manifest edit -> new generation visible (ms, from write() to the control page moving)\n\n");
	printf(EDIT_TABLE_HEAD);
	bench_edit(agent, 10000, 1, EPS_PER_SVC, "");
	bench_edit(agent, 10000, SVCS_PER_FILE, EPS_PER_SVC, "");
	bench_edit(agent, 10000, 1, EPS_PER_SVC, "node");
	return 0;
}
