/* Concurrency stress of the live table (issue 4): one publisher thread
 * (agent/publish/publish.c + agent/snapshot/snap_build.c, as the agent does it) publishes
 * LDMESH_STRESS_GENS generations (default 100,000) of a churning endpoint
 * set into a temp table directory while 4 reader threads loop on
 * ldmesh_table_acquire / find_vip / find_name / pick / release. One
 * generation in AHEAD_EVERY is announced ahead first (as a fold's base
 * is) and the readers' once-a-second check made due, so they map it while
 * the one before is current and switch to it without a system call.
 *
 * Every endpoint address encodes the generation that published it
 * (11+k . g>>16 . g>>8 . g, k < 1 + g % 3), so a reader can tell which
 * generation an answer came from. It fails when:
 *  - an answer is not an endpoint of the generation of the snapshot it came
 *    from (a torn or mixed view), or of no generation at all;
 *  - a reader sees generations go backwards (beyond the "minus one" the
 *    promise allows), or a generation newer than the one published;
 *  - a refresh refuses a snapshot for any reason other than the file being
 *    already swept (ENOENT: the publisher outran the reader), i.e. a reader
 *    ever saw a half-written or invalid snapshot;
 *  - after the run, /proc/self/maps or /proc/self/fd grew by more than a
 *    small constant over a baseline taken after a warm-up round (so glibc's
 *    thread-stack cache and malloc arenas already exist), or a slot still
 *    holds a reference, or more snapshot files than the current and the
 *    previous are left in the table directory.
 *
 * Thread-safe in design for ThreadSanitizer (`ctest -R stress`): the test's
 * own shared state is atomics only; cmocka asserts run on the main thread
 * after join (reader threads only record). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "ldmesh/hash.h"
#include "ldmesh/reader.h"
#include "publish.h"
#include "snap_build.h"
#include "testutil.h"

#if defined(__SANITIZE_THREAD__)
#define STRESS_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define STRESS_SANITIZED 1
#endif
#endif
#if !defined(STRESS_SANITIZED) && defined(__SANITIZE_ADDRESS__)
#define STRESS_SANITIZED 1
#endif

#define READERS 4
#define AHEAD_EVERY 16 /* one generation in 16 is announced ahead first */
#define WARMUP_GENS 2000
#define MAX_EPS 3
#define PACE_NS 5000000ULL  /* at most 5 ms per generation */
/* A backstop for the whole run, not a pace: the count is the goal. A quiet
 * machine takes 10-20 s; beside two CPU-bound loops on two cores about
 * 150 s, beside four more (CI machines are shared). ctest's timeout for
 * this test is 960. */
#define STRESS_DEADLINE_S 900
/* Allowed growth after the run: the table keeps at most
 * LDMESH_TABLE_SLOTS mappings, the baseline already holds one. */
#define MAPS_SLACK (LDMESH_TABLE_SLOTS + 2)
#define FD_SLACK 2

static const uint8_t vip[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 96, 0, 10 };
static const char fqdn[] = "backend.default.svc.cluster.local";

static unsigned eps_of(uint64_t g)
{
	return 1 + (unsigned)(g % MAX_EPS);
}

static void ep_addr(uint8_t out[16], uint64_t g, unsigned k)
{
	memset(out, 0, 16);
	out[10] = out[11] = 0xff;
	out[12] = (uint8_t)(11 + k);
	out[13] = (uint8_t)(g >> 16);
	out[14] = (uint8_t)(g >> 8);
	out[15] = (uint8_t)g;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static unsigned count_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	unsigned n = 0;
	int c;
	if (!f)
		return 0;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

/* Lines of /proc/self/maps naming a file under `dir` (the table's control
 * page and snapshots, both the reader's and the publisher's). */
static unsigned count_maps_of(const char *dir)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[1024];
	unsigned n = 0;
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, dir) != NULL;
	fclose(f);
	return n;
}

static unsigned count_dir(const char *path, const char *prefix)
{
	DIR *d = opendir(path);
	struct dirent *e;
	unsigned n = 0;
	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' &&
		    (!prefix || !strncmp(e->d_name, prefix, strlen(prefix))))
			n++;
	closedir(d);
	return n;
}

/* ---- shared state (atomics only) ---------------------------------------- */

struct stress {
	struct ldmesh_table table;
	struct publisher pub;
	char *dir;
	atomic_uint_least64_t published; /* last generation made current */
	atomic_uint_least64_t target;    /* publish up to this generation */
	atomic_uint_least64_t seen;      /* newest generation a reader used */
	atomic_bool stop;
	atomic_uint refused_enoent, refused_other, switched;
	char first_refusal[192]; /* written once, guarded by refused_other 0->1 */
	atomic_int publish_err;
	atomic_uint pace_timeouts; /* generations no reader used within PACE_NS */
};

static void on_event(void *ctx, enum ldmesh_table_event ev, uint64_t gen,
		     const char *why)
{
	struct stress *st = ctx;
	(void)gen;
	if (ev == LDMESH_TABLE_SWITCHED) {
		atomic_fetch_add_explicit(&st->switched, 1, memory_order_relaxed);
	} else if (ev == LDMESH_TABLE_REFUSED) {
		/* The publisher removes snap.<g-2> after publishing g: a
		 * reader that lagged two publishes finds its file gone. That
		 * is the only refusal a correct publisher may cause. */
		if (strstr(why, "No such file")) {
			atomic_fetch_add_explicit(&st->refused_enoent, 1, memory_order_relaxed);
		} else if (atomic_fetch_add(&st->refused_other, 1) == 0) {
			snprintf(st->first_refusal, sizeof(st->first_refusal),
				 "gen %llu: %s", (unsigned long long)gen, why);
		}
	}
}

struct reader {
	pthread_t th;
	struct stress *st;
	uint64_t ops, misses, max_lag, last_gen;
	unsigned errors;
	char first_error[200];
};

static void reader_fail(struct reader *r, const char *fmt, ...)
{
	va_list ap;
	if (r->errors++ == 0) {
		va_start(ap, fmt);
		vsnprintf(r->first_error, sizeof(r->first_error), fmt, ap);
		va_end(ap);
	}
}

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void reader_once(struct reader *r, uint64_t *rng)
{
	struct stress *st = r->st;
	uint64_t before = atomic_load(&st->published), g, eg;
	const struct ldmesh_snap *s;
	const struct ldmesh_vip_slot *vs;
	const struct ldmesh_name_slot *ns;
	const struct ldmesh_endpoint *e;
	uint32_t ep;
	uint16_t port = 0;
	int slot;

	s = ldmesh_table_acquire(&st->table, &slot);
	if (!s) {
		reader_fail(r, "acquire returned NULL after generation %llu",
			    (unsigned long long)before);
		return;
	}
	g = s->generation;
	if (g + 1 < r->last_gen)
		reader_fail(r, "generation went back from %llu to %llu",
			    (unsigned long long)r->last_gen, (unsigned long long)g);
	if (g > atomic_load(&st->published) + 1)
		/* +1: the publisher stores `published` just after the control
		 * page, so a reader may see the new snapshot first */
		reader_fail(r, "generation %llu from the future (published %llu)",
			    (unsigned long long)g, (unsigned long long)atomic_load(&st->published));
	if (before > g && before - g > r->max_lag)
		r->max_lag = before - g;
	if (g > r->last_gen) {
		uint64_t cur = atomic_load_explicit(&st->seen, memory_order_relaxed);
		r->last_gen = g;
		while (cur < g && !atomic_compare_exchange_weak(&st->seen, &cur, g))
			;
	}
	vs = tu_vip(s, vip, 80, LDMESH_PROTO_TCP);
	ns = tu_name(s, fqdn, sizeof(fqdn) - 1);
	if (!vs || !ns || ns->service != vs->service) {
		reader_fail(r, "gen %llu: service not found (vip %p name %p)",
			    (unsigned long long)g, (const void *)vs, (const void *)ns);
		goto out;
	}
	ep = ldmesh_snap_pick(s, &s->services[vs->service], vs->port_index,
			      splitmix(rng), &port);
	if (ep == LDMESH_NONE || port != 8080) {
		reader_fail(r, "gen %llu: no pick (port %u)", (unsigned long long)g, port);
		goto out;
	}
	e = &s->endpoints[ep];
	eg = ((uint64_t)e->addr[13] << 16) | ((uint64_t)e->addr[14] << 8) | e->addr[15];
	/* generations are encoded in 24 bits */
	if (eg != (g & 0xffffff) || e->addr[12] < 11 ||
	    (unsigned)(e->addr[12] - 11) >= eps_of(g))
		reader_fail(r, "gen %llu answered %u.%u.%u.%u, not one of its endpoints",
			    (unsigned long long)g, e->addr[12], e->addr[13],
			    e->addr[14], e->addr[15]);
	r->ops++;
out:
	ldmesh_table_release(&st->table, slot);
}

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	uint64_t rng = (uint64_t)(uintptr_t)r;

	/* Yield now and then: the machine may have fewer cores than threads,
	 * and the publisher must get its turn. */
	for (unsigned n = 0; !atomic_load_explicit(&r->st->stop, memory_order_acquire); n++) {
		reader_once(r, &rng);
		if (n % 64 == 0)
			sched_yield();
	}
	return NULL;
}

/* ---- the publisher -------------------------------------------------------- */

static int publish_gen(struct stress *st)
{
	uint64_t g = publish_next_generation(&st->pub);
	unsigned n = eps_of(g);
	uint16_t ports[MAX_EPS][1];
	struct snap_endpoint_in eps[MAX_EPS];
	struct snap_port_in port = { .name = "http", .port = 80, .target_port = 8080,
				     .protocol = LDMESH_PROTO_TCP };
	struct snap_service_in svc = { .ns = "default", .name = "backend",
		.type = LDMESH_SVC_CLUSTER_IP, .n_cluster_ips = 1,
		.ports = &port, .n_ports = 1, .endpoints = eps, .n_endpoints = n };
	struct snap_input in = { .cluster_domain = "cluster.local",
		.generation = g, .created_unix_ns = g, .services = &svc, .n_services = 1 };
	char why[256];
	void *bytes;
	size_t size;
	int err;

	memcpy(svc.cluster_ips[0], vip, 16);
	memset(eps, 0, sizeof(eps));
	for (unsigned k = 0; k < n; k++) {
		ep_addr(eps[k].addr, g, k);
		eps[k].flags = LDMESH_EP_F_READY | LDMESH_EP_F_SERVING;
		ports[k][0] = 8080;
		eps[k].ports = ports[k];
	}
	if ((err = snap_build(&in, &bytes, &size)))
		return err;
	if (g % AHEAD_EVERY) {
		err = publish_snapshot(&st->pub, bytes, size, 0, why, sizeof(why));
	} else if (!(err = publish_ahead(&st->pub, bytes, size, 0, why, sizeof(why)))) {
		/* announced ahead, as a fold is: the readers' next acquire
		 * runs the check that maps it; the check re-arms its deadline
		 * first, so once that moved the mapping is under way (or
		 * done) when the base becomes current. Bounded in time: a
		 * starved reader must not stall the publisher. */
		uint64_t until = now_ns() + PACE_NS;

		ldmesh_table_check_now(&st->table);
		while (!atomic_load(&st->table.next_dir_check_ns) && now_ns() < until)
			sched_yield();
		err = publish_ahead_commit(&st->pub, why, sizeof(why));
	}
	free(bytes);
	if (err) {
		fprintf(stderr, "publish %llu: %s\n", (unsigned long long)g, why);
		return err;
	}
	atomic_store(&st->published, g);
	return 0;
}

static void *publisher_main(void *arg)
{
	struct stress *st = arg;
	uint64_t deadline = now_ns() + STRESS_DEADLINE_S * 1000000000ULL;

	while (atomic_load(&st->published) < atomic_load(&st->target)) {
		int err = publish_gen(st);
		uint64_t g = atomic_load(&st->published), until = now_ns() + PACE_NS;

		if (err || now_ns() > deadline) {
			atomic_store(&st->publish_err, err ? err : -ETIMEDOUT);
			break;
		}
		/* Pace: let a reader map this generation before the next, so
		 * (nearly) every one of them is mapped, validated and later
		 * unmapped, as a long-lived process would see them. */
		while (atomic_load(&st->seen) < g) {
			if (now_ns() >= until) {
				atomic_fetch_add(&st->pace_timeouts, 1);
				break;
			}
			sched_yield();
		}
	}
	return NULL;
}

/* One round: readers run while the publisher goes up to `upto`; then every
 * reader must reach the last generation. Fails the test on any error. */
static void run_round(struct stress *st, uint64_t upto, uint64_t *ops)
{
	struct reader rd[READERS];
	pthread_t pub;

	memset(rd, 0, sizeof(rd));
	atomic_store(&st->stop, false);
	atomic_store(&st->target, upto);
	for (int i = 0; i < READERS; i++) {
		rd[i].st = st;
		assert_int_equal(pthread_create(&rd[i].th, NULL, reader_main, &rd[i]), 0);
	}
	assert_int_equal(pthread_create(&pub, NULL, publisher_main, st), 0);
	pthread_join(pub, NULL);
	atomic_store_explicit(&st->stop, true, memory_order_release);
	for (int i = 0; i < READERS; i++)
		pthread_join(rd[i].th, NULL);

	if (atomic_load(&st->publish_err))
		fail_msg("publisher stopped at generation %llu of %llu: %s",
			 (unsigned long long)atomic_load(&st->published),
			 (unsigned long long)upto,
			 strerror(-atomic_load(&st->publish_err)));
	for (int i = 0; i < READERS; i++) {
		if (rd[i].errors)
			fail_msg("reader %d: %u errors, first: %s", i, rd[i].errors,
				 rd[i].first_error);
		if (!rd[i].ops)
			fail_msg("reader %d made no lookup", i);
		*ops += rd[i].ops;
		print_message("reader %d: %llu lookups, last gen %llu, max lag %llu\n", i,
			      (unsigned long long)rd[i].ops,
			      (unsigned long long)rd[i].last_gen,
			      (unsigned long long)rd[i].max_lag);
	}
	/* With every generation used by some reader before the next was
	 * published, `current` is never more than one behind the control
	 * page: each answer comes from the generation published when the
	 * lookup began or the one before. (A loaded machine can make the
	 * publisher stop waiting; then lag is only reported.) */
	if (!atomic_load(&st->pace_timeouts))
		for (int i = 0; i < READERS; i++)
			if (rd[i].max_lag > 1)
				fail_msg("reader %d answered from a generation %llu behind the "
					 "published one", i, (unsigned long long)rd[i].max_lag);
	if (atomic_load(&st->refused_other))
		fail_msg("a reader refused a published snapshot: %s", st->first_refusal);

	/* Quiet now: the next acquire must land on the last generation (the
	 * refresh flag is free, so nothing may keep it on an older one). */
	int slot;
	const struct ldmesh_snap *s = ldmesh_table_acquire(&st->table, &slot);
	assert_non_null(s);
	assert_int_equal(s->generation, upto);
	ldmesh_table_release(&st->table, slot);
}

static void test_stress_publish_vs_readers(void **state)
{
	struct stress *st = calloc(1, sizeof(*st));
	const char *env = getenv("LDMESH_STRESS_GENS");
	uint64_t gens = env ? strtoull(env, NULL, 10) : 100000;
	char why[256];
	unsigned maps0, fds0, maps1, fds1, tmaps, used = 0;
	uint64_t ops = 0, t0;
	int slot;

	(void)state;
#ifdef STRESS_SANITIZED
	if (!env)
		gens = 10000; /* ~10x slower under a sanitizer */
#endif
	assert_non_null(st);
	if (gens < 1000)
		gens = 1000;
	if (gens > 0xffffff - WARMUP_GENS)
		gens = 0xffffff - WARMUP_GENS;
	/* Tables live on tmpfs (/run on a node). On a disk filesystem every
	 * publish journals the immutable flag twice (set, then lifted to
	 * unlink), which stretches 100,000 generations past the deadline. */
	if (!getenv("TMPDIR") && access("/dev/shm", W_OK) == 0)
		setenv("TMPDIR", "/dev/shm", 0);
	st->dir = tu_tmpdir("stress");
	assert_int_equal(publish_open(&st->pub, st->dir, why, sizeof(why)), 0);
	assert_int_equal(ldmesh_table_init(&st->table, st->dir, &ldmesh_reader_libc, on_event, st), 0);
	assert_int_equal(publish_gen(st), 0);
	assert_non_null(ldmesh_table_acquire(&st->table, &slot));
	ldmesh_table_release(&st->table, slot);

	/* Warm-up round: thread stacks, malloc arenas, the table's slots all
	 * reach their steady state before the baseline. */
	run_round(st, WARMUP_GENS, &ops);
	maps0 = count_lines("/proc/self/maps");
	fds0 = count_dir("/proc/self/fd", NULL);

	t0 = now_ns();
	ops = 0;
	run_round(st, WARMUP_GENS + gens, &ops);
	maps1 = count_lines("/proc/self/maps");
	fds1 = count_dir("/proc/self/fd", NULL);
	tmaps = count_maps_of(st->dir);
	print_message("%llu generations in %.1f s, %llu lookups by %d readers; "
		      "%u switches, %u refreshes found the file already swept, "
		      "%u paced waits timed out; "
		      "maps %u -> %u (table %u), fds %u -> %u\n",
		      (unsigned long long)gens, (double)(now_ns() - t0) / 1e9,
		      (unsigned long long)ops, READERS, atomic_load(&st->switched),
		      atomic_load(&st->refused_enoent), atomic_load(&st->pace_timeouts), maps0, maps1, tmaps, fds0, fds1);

	/* The table's own mappings: the control page (reader and publisher)
	 * and at most LDMESH_TABLE_SLOTS snapshots, whatever the count of
	 * generations. */
	if (tmaps > LDMESH_TABLE_SLOTS + 2)
		fail_msg("%u mappings of the table directory after %llu generations", tmaps,
			 (unsigned long long)gens);
#ifdef STRESS_SANITIZED
	/* A sanitizer's runtime maps shadow memory as it goes: the process-
	 * wide count says nothing about the table there. */
	maps1 = maps0;
#endif
	if (maps1 > maps0 + MAPS_SLACK)
		fail_msg("mappings grew from %u to %u over %llu generations", maps0, maps1,
			 (unsigned long long)gens);
	if (fds1 > fds0 + FD_SLACK)
		fail_msg("descriptors grew from %u to %u over %llu generations", fds0, fds1,
			 (unsigned long long)gens);
	for (int i = 0; i < LDMESH_TABLE_SLOTS; i++) {
		assert_int_equal(ldmesh_table_pinned(&st->table, i), 0);
		used += atomic_load(&st->table.slots[i].used);
	}
	assert_true(used >= 1 && used <= LDMESH_TABLE_SLOTS);
	/* The publisher keeps the current file and the previous one. */
	assert_true(count_dir(st->dir, LDMESH_SNAP_PREFIX) <= 2);

	ldmesh_table_close(&st->table);
	publish_close(&st->pub);
	/* Everything the table mapped is gone again (the table's own count,
	 * checked above, is what holds under a sanitizer). */
#ifndef STRESS_SANITIZED
	assert_true(count_lines("/proc/self/maps") <= maps0);
#endif
	tu_rmtree(st->dir);
	free(st->dir);
	free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stress_publish_vs_readers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
