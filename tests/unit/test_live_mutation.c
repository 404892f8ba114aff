/* Bytes of a live, mapped snapshot rewritten in place while four threads
 * read it. Root can write a table after readers mapped it (lifting the
 * immutable flag first); the reader must answer wrongly at worst, never
 * read outside the mapping, loop without bound or fault. A file is
 * published, mapped read-only as a reader maps it, and rewritten through
 * a second, writable mapping of the same file: random bytes, whole random
 * 4- and 8-byte fields (0, all ones, small, random), and whole records
 * copied from elsewhere in the file; every 50,000 mutations the good bytes
 * come back, so the readers keep meeting tables that are almost right
 * (the hardest case: deep in the lookup paths). Under ASan and UBSan (the
 * asan pass of tests/run.sh) any stray read is a crash.
 *
 * Not a "stress" test by name on purpose: the mutations are data races by
 * design, which ThreadSanitizer would (rightly) report. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "ldmesh/reader.h"
#include "snap_build.h"
#include "testutil.h"
#include "../snap_exercise.h"

#define READERS 4
#define SERVICES 300
#define MUTATIONS 1000000u
#define RESTORE_EVERY 50000u
/* Per run; a backstop, not the goal: the count is. 2.5 s for both runs
 * on a quiet 2-core machine; tests/CMakeLists.txt's timeout covers two. */
#define DEADLINE_S 300

/* One file, or a delta and its base: the reader's view is of file 0 (the
 * delta, linked to file 1 by ldmesh_snap_map_file), and every mutation
 * hits one of them, so lookups meet a damaged delta over a damaged base. */
struct live {
	struct ldmesh_snap snap; /* the reader's view */
	int n_files;
	uint8_t *rw[2];          /* the writer's mappings */
	uint8_t *good[2];        /* the bytes as published */
	size_t size[2];
	atomic_bool stop;
	atomic_uint_least64_t reads[READERS];
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void v4(uint8_t out[16], uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	memset(out, 0, 16);
	out[10] = out[11] = 0xff;
	out[12] = a; out[13] = b; out[14] = c; out[15] = d;
}

/* SERVICES services, each with two ports, three endpoints with names and
 * zones, every third one headless with hostnames, every fifth with
 * ClientIP affinity: every section and every string kind is present. */
static void *build(size_t *size, uint64_t gen, size_t n_services)
{
	static struct snap_service_in svcs[SERVICES];
	static struct snap_endpoint_in eps[SERVICES][3];
	static uint16_t ep_ports[SERVICES][3][2];
	static struct snap_port_in ports[2] = {
		{ .name = "http", .port = 80, .target_port = 8080, .protocol = LDMESH_PROTO_TCP },
		{ .name = "dns", .target_port_name = "dns", .port = 53, .protocol = LDMESH_PROTO_UDP },
	};
	static char names[SERVICES][32], hosts[SERVICES][3][16];
	struct snap_input in = { .cluster_domain = "cluster.local", .node_name = "node-a",
				 .generation = gen, .created_unix_ns = gen, .services = svcs,
				 .n_services = n_services };
	void *out = NULL;

	for (int i = 0; i < SERVICES; i++) {
		snprintf(names[i], sizeof(names[i]), "svc-%d", i);
		for (int e = 0; e < 3; e++) {
			v4(eps[i][e].addr, 10, 244, (uint8_t)(i >> 2), (uint8_t)(e + 4 * (i & 3)));
			eps[i][e].flags = LDMESH_EP_F_READY | LDMESH_EP_F_SERVING;
			eps[i][e].node = e ? "node-b" : "node-a";
			eps[i][e].zone = "zone-1";
			eps[i][e].zone_hints = "zone-1";
			eps[i][e].target = "Pod/p";
			snprintf(hosts[i][e], sizeof(hosts[i][e]), "h%d", e);
			eps[i][e].hostname = i % 3 == 0 ? hosts[i][e] : NULL;
			ep_ports[i][e][0] = 8080;
			ep_ports[i][e][1] = 5353;
			eps[i][e].ports = ep_ports[i][e];
		}
		svcs[i] = (struct snap_service_in){ .ns = "default", .name = names[i],
			.flags = (uint16_t)((i % 3 == 0 ? LDMESH_SVC_F_HEADLESS : 0) |
					    (i % 5 == 0 ? LDMESH_SVC_F_AFFINITY_CLIENT_IP : 0)),
			.n_cluster_ips = i % 3 == 0 ? 0 : 1, .ports = ports, .n_ports = 2,
			.endpoints = eps[i], .n_endpoints = 3 };
		v4(svcs[i].cluster_ips[0], 10, 96, (uint8_t)(i >> 8), (uint8_t)i);
	}
	assert_int_equal(snap_build(&in, &out, size), 0);
	return out;
}

struct reader_arg {
	struct live *l;
	int id;
};

static void *reader_main(void *p)
{
	struct reader_arg *a = p;
	struct live *l = a->l;
	uint64_t rnd = 0x9e3779b97f4a7c15ULL * (uint64_t)(a->id + 1), sink = 0, n = 0;

	while (!atomic_load_explicit(&l->stop, memory_order_relaxed)) {
		uint32_t first = (uint32_t)xorshift(&rnd);
		struct ldmesh_vip_slot vip;
		uint8_t addr[16];

		sink += exercise_snap(&l->snap, first, 4);
		v4(addr, 10, 96, 0, (uint8_t)first);
		if (ldmesh_snap_find_vip(&l->snap, addr, 80, LDMESH_PROTO_TCP, &vip))
			sink += vip.service;
		n++;
	}
	atomic_store(&l->reads[a->id], n);
	return (void *)(uintptr_t)(sink & 1);
}

/* One mutation of one of the writable mappings. */
static void mutate(struct live *l, uint64_t *rnd)
{
	uint64_t r = xorshift(rnd);
	int f = (int)((r >> 40) % (uint64_t)l->n_files);
	uint8_t *rw = l->rw[f];
	size_t size = l->size[f];
	size_t off = (size_t)(xorshift(rnd) % size);
	static const uint32_t values[] = { 0, 1, 2, 3, 0x7fffffffu, 0xfffffffeu,
					   0xffffffffu, 0x80000000u, 255, 256 };

	switch (r % 4) {
	case 0: /* a random byte */
		rw[off] = (uint8_t)(r >> 8);
		break;
	case 1: /* a whole 4-byte field, aligned as fields are */
		off &= ~(size_t)3;
		if (off + 4 <= size) {
			uint32_t v = (r >> 8) & 1 ? values[(r >> 16) % 10] : (uint32_t)(r >> 32);
			memcpy(rw + off, &v, 4);
		}
		break;
	case 2: /* a whole 8-byte field */
		off &= ~(size_t)7;
		if (off + 8 <= size) {
			uint64_t v = (r >> 8) & 1 ? UINT64_MAX : xorshift(rnd);
			memcpy(rw + off, &v, 8);
		}
		break;
	default: { /* a whole record's worth of bytes from elsewhere */
		size_t from = (size_t)(xorshift(rnd) % size), len = 8 + (r >> 8) % 89;
		if (off + len <= size && from + len <= size)
			memmove(rw + off, rw + from, len);
		break;
	}
	}
}

static void write_file(struct live *l, int f, const char *dir, uint64_t gen)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/snap.%llu", dir, (unsigned long long)gen);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, l->good[f], l->size[f]), (ssize_t)l->size[f]);
	l->rw[f] = mmap(NULL, l->size[f], PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(l->rw[f] != MAP_FAILED);
	close(fd);
}

static void restore(struct live *l)
{
	for (int f = 0; f < l->n_files; f++)
		memcpy(l->rw[f], l->good[f], l->size[f]);
}

/* `layers`: snap.2, a delta over its first tenth, and snap.1, its base. */
static void run(const char *tag, bool layers, unsigned mutations)
{
	char *dir = tu_tmpdir(tag), path[512], why[256];
	struct live *l = calloc(1, sizeof(*l));
	struct reader_arg args[READERS];
	pthread_t th[READERS];
	uint64_t rnd = 0x2545f4914f6cdd1dULL, deadline, done = 0;

	assert_non_null(l);
	l->n_files = layers ? 2 : 1;
	l->good[0] = build(&l->size[0], layers ? 2 : 1, layers ? SERVICES / 10 : SERVICES);
	if (layers) {
		struct ldmesh_snap_header h;

		memcpy(&h, l->good[0], sizeof(h));
		h.base_generation = 1;
		ldmesh_snap_header_seal(l->good[0], &h);
		l->good[1] = build(&l->size[1], 1, SERVICES);
		write_file(l, 1, dir, 1);
	}
	write_file(l, 0, dir, layers ? 2 : 1);
	/* the reader maps it as the table does: read-only, header checked */
	snprintf(path, sizeof(path), "%s/snap.%d", dir, layers ? 2 : 1);
	assert_int_equal(ldmesh_snap_map_file(&l->snap, path, why, sizeof(why)), 0);
	assert_true(layers == (l->snap.base_snap != NULL));

	for (int i = 0; i < READERS; i++) {
		args[i] = (struct reader_arg){ .l = l, .id = i };
		assert_int_equal(pthread_create(&th[i], NULL, reader_main, &args[i]), 0);
	}
	deadline = now_ns() + DEADLINE_S * 1000000000ULL;
	for (; done < mutations && now_ns() < deadline; done++) {
		mutate(l, &rnd);
		if (done % RESTORE_EVERY == RESTORE_EVERY - 1)
			restore(l);
		/* let the readers meet each state: a mutation is a few
		 * nanoseconds, a walk of four services about a microsecond */
		for (volatile int spin = 0; spin < 200; spin++)
			;
	}
	atomic_store(&l->stop, true);
	for (int i = 0; i < READERS; i++)
		pthread_join(th[i], NULL);

	uint64_t reads = 0;
	for (int i = 0; i < READERS; i++) {
		uint64_t n = atomic_load(&l->reads[i]);
		print_message("reader %d: %llu walks\n", i, (unsigned long long)n);
		assert_true(n > 0);
		reads += n;
	}
	print_message("%llu mutations of a live %zu-byte snapshot%s, %llu reader walks, "
		      "no fault\n", (unsigned long long)done, l->size[0],
		      layers ? " and its base" : "", (unsigned long long)reads);
	if (done < mutations)
		fail_msg("only %llu of %u mutations before the %d s bound",
			 (unsigned long long)done, mutations, DEADLINE_S);
	ldmesh_snap_unmap(&l->snap);
	for (int f = 0; f < l->n_files; f++) {
		munmap(l->rw[f], l->size[f]);
		free(l->good[f]);
	}
	free(l);
	tu_rmtree(dir);
	free(dir);
}

static void test_live_mutation(void **state)
{
	(void)state;
	run("mutate", false, MUTATIONS);
}

/* Fewer: the single-file run already covers the records' own paths. */
static void test_live_mutation_layers(void **state)
{
	(void)state;
	run("mutate-layers", true, MUTATIONS / 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_live_mutation),
		cmocka_unit_test(test_live_mutation_layers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
