/* Hostile or damaged tables through the live-table API.
 *
 * Each damage is written into a real table directory as the next
 * snap.<gen> (publish_snapshot writes the bytes as given and bumps the
 * control page); header damages are re-sealed with a correct header
 * checksum so the check under test is the one that refuses them.
 *  - A damaged header is refused when mapped: ldmesh_table_acquire keeps
 *    the previous good generation in use, a lookup on it still answers,
 *    and the event callback reported LDMESH_TABLE_REFUSED for that
 *    generation with a reason naming the problem.
 *  - A damaged body cannot be found without reading the whole file, which
 *    format 2 never does per process: it is mapped, and every read of it
 *    (tests/snap_exercise.h) stays inside the file and terminates, both on
 *    a copy that ends exactly at an inaccessible guard page (a read out of
 *    bounds is a SIGSEGV here) and through the live table.
 * Covered: every header field, every section's offset/count/size/
 * entry_size, each service's ranges, each string reference (also at the
 * pool's last byte, and a length byte running past the pool), each index
 * slot's service/port/endpoint/fqdn, probe bounds and full index chains,
 * zero-sized file, file shorter than the header, total_size vs file size,
 * a symlink, a directory or a FIFO as snap.<gen>, and control pages with a
 * wrong magic/version/size or of another file type. And the control page's
 * records: a file put in the published one's place is refused, a torn
 * record falls back to checking the directory, and a directory made
 * writable by others is refused from the next once-a-second check. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "ldmesh/hash.h"
#include "ldmesh/reader.h"
#include "publish.h"
#include "snap_build.h"
#include "testutil.h"
#include "../snap_exercise.h"

static void v4(uint8_t out[16], uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	memset(out, 0, 16);
	out[10] = out[11] = 0xff;
	out[12] = a; out[13] = b; out[14] = c; out[15] = d;
}

/* ---- a realistic snapshot: every section non-empty ------------------------ */

static void *build_good(uint64_t gen, size_t *size)
{
	struct snap_port_in ports[2] = {
		{ .name = "http", .app_protocol = "http", .port = 80, .target_port = 8080,
		  .protocol = LDMESH_PROTO_TCP },
		{ .name = "metrics", .target_port_name = "metrics", .port = 9090,
		  .protocol = LDMESH_PROTO_TCP },
	};
	uint16_t ep_ports[3][2] = { { 8080, 9090 }, { 8080, 9090 }, { 8080, 0 } };
	struct snap_endpoint_in eps[3];
	struct snap_port_in pg = { .name = "pg", .port = 5432, .target_port = 5432,
				   .protocol = LDMESH_PROTO_TCP };
	uint16_t hl_ports[2][1] = { { 5432 }, { 5432 } };
	struct snap_endpoint_in hl[2];
	struct snap_service_in svcs[3];
	struct snap_input in;
	void *out = NULL;

	memset(eps, 0, sizeof(eps));
	for (int i = 0; i < 3; i++) {
		v4(eps[i].addr, 10, 244, 1, (uint8_t)(5 + i));
		eps[i].flags = LDMESH_EP_F_READY | LDMESH_EP_F_SERVING;
		eps[i].node = i ? "node-b" : "node-a";
		eps[i].zone = "zone-1";
		eps[i].target = "Pod/backend-x";
		eps[i].zone_hints = "zone-1";
		eps[i].ports = ep_ports[i];
	}
	memset(hl, 0, sizeof(hl));
	for (int i = 0; i < 2; i++) {
		v4(hl[i].addr, 10, 244, 2, (uint8_t)(10 + i));
		hl[i].flags = LDMESH_EP_F_READY | LDMESH_EP_F_SERVING;
		hl[i].hostname = i ? "db-1" : "db-0";
		hl[i].ports = hl_ports[i];
	}
	memset(svcs, 0, sizeof(svcs));
	svcs[0] = (struct snap_service_in){ .ns = "default", .name = "backend",
		.type = LDMESH_SVC_CLUSTER_IP, .flags = LDMESH_SVC_F_AFFINITY_CLIENT_IP,
		.n_cluster_ips = 1, .ports = ports, .n_ports = 2, .endpoints = eps,
		.n_endpoints = 3 };
	v4(svcs[0].cluster_ips[0], 10, 96, 0, 10);
	svcs[1] = (struct snap_service_in){ .ns = "default", .name = "db",
		.flags = LDMESH_SVC_F_HEADLESS, .ports = &pg, .n_ports = 1,
		.endpoints = hl, .n_endpoints = 2 };
	svcs[2] = (struct snap_service_in){ .ns = "prod", .name = "ext",
		.type = LDMESH_SVC_EXTERNAL_NAME, .external_name = "db.example.org" };
	in = (struct snap_input){ .cluster_domain = "cluster.local", .node_name = "node-a",
		.generation = gen, .created_unix_ns = 1, .services = svcs, .n_services = 3 };
	assert_int_equal(snap_build(&in, &out, size), 0);
	return out;
}

/* Re-seal the header checksum as the format defines it, leaving every
 * other field (a wrong magic too) as the damage made it. */
static void reseal(uint8_t *b, size_t size)
{
	uint64_t sum = ldmesh_hash64(b + LDMESH_SNAP_OFF_TOTAL_SIZE,
				     LDMESH_SNAP_HEADER_SIZE - LDMESH_SNAP_OFF_TOTAL_SIZE, 0);

	(void)size;
	memcpy(b + LDMESH_SNAP_OFF_HEADER_CHECKSUM, &sum, sizeof(sum));
}

#define HDR(b) ((struct ldmesh_snap_header *)(b))
#define SEC(b, id) (&HDR(b)->sections[id])
#define AT(b, id, type) ((type *)((b) + SEC(b, id)->offset))

/* ---- the live table under test -------------------------------------------- */

struct ctx {
	char *dir;
	struct publisher pub;
	struct ldmesh_table t;
	enum ldmesh_table_event last_ev;
	uint64_t last_gen;
	char last_why[256];
	unsigned events;
	uint64_t good_gen;   /* the generation that must stay in use */
	unsigned refused;    /* damages refused as expected */
};

static void on_event(void *c, enum ldmesh_table_event ev, uint64_t gen, const char *why)
{
	struct ctx *x = c;
	x->last_ev = ev;
	x->last_gen = gen;
	snprintf(x->last_why, sizeof(x->last_why), "%s", why ? why : "");
	x->events++;
}

/* The in-use snapshot still answers a lookup by address and by name. */
static void assert_serves(const struct ldmesh_snap *s)
{
	uint8_t a[16];
	uint16_t port = 0;
	struct ldmesh_service svc = { 0 };
	v4(a, 10, 96, 0, 10);
	const struct ldmesh_vip_slot *vs = tu_vip(s, a, 80, LDMESH_PROTO_TCP);
	assert_non_null(vs);
	assert_true(ldmesh_snap_service(s, vs->service, &svc));
	assert_int_not_equal(ldmesh_snap_pick(s, &svc, vs->port_index, 42, &port), LDMESH_NONE);
	assert_int_equal(port, 8080);
	const char *n = "db-1.db.default.svc.cluster.local";
	assert_non_null(tu_name(s, n, strlen(n)));
}

static void ctx_open(struct ctx *x)
{
	char why[256];
	size_t size;
	void *good;
	int slot;

	memset(x, 0, sizeof(*x));
	x->dir = tu_tmpdir("hostile");
	assert_int_equal(publish_open(&x->pub, x->dir, why, sizeof(why)), 0);
	assert_int_equal(ldmesh_table_init(&x->t, x->dir, &ldmesh_reader_libc, on_event, x), 0);
	good = build_good(1, &size);
	assert_int_equal(publish_snapshot(&x->pub, good, size, 0, why, sizeof(why)), 0);
	free(good);
	const struct ldmesh_snap *s = ldmesh_table_acquire(&x->t, &slot);
	assert_non_null(s);
	assert_int_equal(s->generation, 1);
	ldmesh_table_release(&x->t, slot);
	x->good_gen = 1;
}

static void ctx_close(struct ctx *x)
{
	ldmesh_table_close(&x->t);
	publish_close(&x->pub);
	tu_rmtree(x->dir);
	free(x->dir);
}

/* Run the header check (and, if it accepts, every read a reader makes) on
 * a copy of the bytes that ends exactly at a PROT_NONE page: any read past
 * the end of the file faults. Returns ldmesh_snap_init's result. */
static int guarded_init(const uint8_t *bytes, size_t size, char *why, size_t why_len)
{
	long pg = sysconf(_SC_PAGESIZE);
	size_t span = (size + (size_t)pg - 1) / (size_t)pg * (size_t)pg + (size_t)pg;
	uint8_t *m = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct ldmesh_snap s;
	int rc;

	assert_true(m != MAP_FAILED);
	assert_int_equal(mprotect(m + span - pg, (size_t)pg, PROT_NONE), 0);
	/* end flush with the guard page, yet 8-byte aligned as a mapping is */
	uint8_t *copy = m + span - pg - ((size + 7) & ~(size_t)7);
	if (size)
		memcpy(copy, bytes, size);
	rc = tu_snap_init(&s, copy, size, why, why_len);
	if (rc == 0) {
		/* accepted: every read must stay inside too */
		uint8_t a[16];
		struct ldmesh_vip_slot vip;
		v4(a, 10, 96, 0, 10);
		for (uint16_t p = 0; p < 100; p++)
			ldmesh_snap_find_vip(&s, a, p, LDMESH_PROTO_TCP, &vip);
		(void)exercise_snap(&s, 0, UINT32_MAX);
	}
	munmap(m, span);
	return rc;
}

/* Publish `bytes` as the next generation and check it is refused for
 * `reason` while the last good generation stays in use. */
static void expect_refused_at(struct ctx *x, const uint8_t *bytes, size_t size,
			      const char *reason, const char *label, int line)
{
	char why[256], vwhy[256] = "";
	uint64_t gen = publish_next_generation(&x->pub);
	int slot;

	if (reason[0] != '!') {
		/* the validator alone, with a guard page after the file */
		if (guarded_init(bytes, size, vwhy, sizeof(vwhy)) == 0)
			fail_msg("line %d %s: validator accepted it", line, label);
	}
	assert_int_equal(publish_snapshot(&x->pub, bytes, size, 0, why, sizeof(why)), 0);
	x->events = 0;
	const struct ldmesh_snap *s = ldmesh_table_acquire(&x->t, &slot);
	if (!s)
		fail_msg("line %d %s: no snapshot in use after the damage", line, label);
	if (s->generation != x->good_gen)
		fail_msg("line %d %s: generation %llu in use, expected %llu", line, label,
			 (unsigned long long)s->generation, (unsigned long long)x->good_gen);
	assert_serves(s);
	ldmesh_table_release(&x->t, slot);
	if (x->events != 1 || x->last_ev != LDMESH_TABLE_REFUSED || x->last_gen != gen)
		fail_msg("line %d %s: expected one REFUSED event for gen %llu, got %u (last %d gen %llu)",
			 line, label, (unsigned long long)gen, x->events, x->last_ev,
			 (unsigned long long)x->last_gen);
	if (!strstr(x->last_why, reason[0] == '!' ? reason + 1 : reason))
		fail_msg("line %d %s: refused for '%s', expected '%s'", line, label,
			 x->last_why, reason);
	x->refused++;
	/* A second acquire does not retry the refused generation. */
	x->events = 0;
	s = ldmesh_table_acquire(&x->t, &slot);
	assert_non_null(s);
	ldmesh_table_release(&x->t, slot);
	assert_int_equal(x->events, 0);
}
#define expect_refused(x, b, n, reason, label) \
	expect_refused_at(x, b, n, reason, label, __LINE__)

static void publish_good(struct ctx *x);

/* Publish `bytes` (a sound header over a damaged body) as the next
 * generation: it is taken into use, every read of it stays inside the
 * file and ends, both behind a guard page and through the live table;
 * then a good generation replaces it. */
static void expect_survived_at(struct ctx *x, const uint8_t *bytes, size_t size,
			       const char *label, int line)
{
	char why[256], vwhy[256] = "";
	uint64_t gen = publish_next_generation(&x->pub);
	int slot;

	if (guarded_init(bytes, size, vwhy, sizeof(vwhy)) != 0)
		fail_msg("line %d %s: header refused: %s", line, label, vwhy);
	assert_int_equal(publish_snapshot(&x->pub, bytes, size, 0, why, sizeof(why)), 0);
	const struct ldmesh_snap *s = ldmesh_table_acquire(&x->t, &slot);
	if (!s || s->generation != gen)
		fail_msg("line %d %s: generation %llu not taken into use", line, label,
			 (unsigned long long)gen);
	(void)exercise_snap(s, 0, UINT32_MAX);
	ldmesh_table_release(&x->t, slot);
	x->refused++;
	publish_good(x);
}
#define expect_survived(x, b, n, label) expect_survived_at(x, b, n, label, __LINE__)

/* Publish the next generation, a good one; returns it. */
static uint64_t publish_next_good(struct ctx *x)
{
	char why[256];
	size_t size;
	uint64_t gen = publish_next_generation(&x->pub);
	void *good = build_good(gen, &size);

	assert_int_equal(publish_snapshot(&x->pub, good, size, 0, why, sizeof(why)), 0);
	free(good);
	return gen;
}

/* Publish a good generation again: the table follows it. */
static void publish_good(struct ctx *x)
{
	uint64_t gen = publish_next_good(x);
	int slot;

	const struct ldmesh_snap *s = ldmesh_table_acquire(&x->t, &slot);
	assert_non_null(s);
	assert_int_equal(s->generation, gen);
	assert_serves(s);
	ldmesh_table_release(&x->t, slot);
	x->good_gen = gen;
}

/* A damaged copy of the next generation's good bytes. */
struct dmg {
	uint8_t *b;
	size_t size;
};

static struct dmg next_copy(struct ctx *x)
{
	struct dmg d;
	d.b = build_good(publish_next_generation(&x->pub), &d.size);
	return d;
}

/* ---- header ------------------------------------------------------------ */

static void test_header_fields(void **state)
{
	struct ctx x;
	struct dmg d;
	(void)state;
	ctx_open(&x);

#define CASE(stmt, do_reseal, reason)                                      \
	do {                                                               \
		d = next_copy(&x);                                         \
		stmt;                                                      \
		if (do_reseal)                                             \
			reseal(d.b, d.size);                               \
		expect_refused(&x, d.b, d.size, reason, #stmt);            \
		free(d.b);                                                 \
	} while (0)

	CASE(HDR(d.b)->magic ^= 1, 1, "bad magic");
	CASE(HDR(d.b)->magic = 0, 1, "bad magic");
	CASE(HDR(d.b)->version_major = 1, 1, "format version differs");
	CASE(HDR(d.b)->version_major = 2, 1, "format version differs");
	CASE(HDR(d.b)->version_major = 4, 1, "format version differs");
	CASE(HDR(d.b)->header_checksum ^= 1, 0, "bad header checksum");
	CASE(HDR(d.b)->total_size += 8, 1, "size in header differs");
	CASE(HDR(d.b)->total_size -= 8, 1, "size in header differs");
	CASE(HDR(d.b)->total_size = UINT64_MAX, 1, "size in header differs");
	CASE(HDR(d.b)->header_size = 64, 1, "bad header size");
	CASE(HDR(d.b)->header_size = 0, 1, "bad header size");
	CASE(HDR(d.b)->header_size = (uint32_t)d.size + 1, 1, "bad header size");
	CASE(HDR(d.b)->header_size = UINT32_MAX, 1, "bad header size");
	/* a larger header (a future minor) overlapping the first section */
	CASE(HDR(d.b)->header_size = LDMESH_SNAP_HEADER_SIZE + 8, 1, "section outside the file");
	CASE(HDR(d.b)->generation += 1, 1, "!generation in the header differs"); /* table check */
	CASE(HDR(d.b)->generation = 0, 1, "!generation in the header differs");
	/* Header fields that only lookups use are checked where they are
	 * used: a bad string reference reads as "", a probe bound past the
	 * index is cut to it. */
#define SURV(stmt)                                                         \
	do {                                                               \
		d = next_copy(&x);                                         \
		stmt;                                                      \
		reseal(d.b, d.size);                                       \
		expect_survived(&x, d.b, d.size, #stmt);                   \
		free(d.b);                                                 \
	} while (0)
	SURV(HDR(d.b)->cluster_domain = SEC(d.b, LDMESH_SEC_STRINGS)->count);
	SURV(HDR(d.b)->cluster_domain = SEC(d.b, LDMESH_SEC_STRINGS)->count - 1);
	SURV(HDR(d.b)->node_name = UINT32_MAX);
	SURV(HDR(d.b)->node_name = 1); /* inside a string */
	SURV(HDR(d.b)->vip_max_probe = SEC(d.b, LDMESH_SEC_VIP_INDEX)->count + 1);
	SURV(HDR(d.b)->vip_max_probe = UINT32_MAX);
	SURV(HDR(d.b)->name_max_probe = SEC(d.b, LDMESH_SEC_NAME_INDEX)->count + 1);
	SURV(HDR(d.b)->name_max_probe = 0);
	/* the body is not covered by the header checksum */
	SURV(d.b[HDR(d.b)->sections[LDMESH_SEC_ENDPOINTS].offset] ^= 0x40);
	SURV(d.b[d.size - 1] ^= 0x01);

	/* files of the wrong size */
	d = next_copy(&x);
	expect_refused(&x, d.b, 0, "shorter than a snapshot header", "zero-sized file");
	expect_refused(&x, d.b, 1, "shorter than a snapshot header", "1-byte file");
	expect_refused(&x, d.b, 100, "shorter than a snapshot header", "shorter than the header");
	expect_refused(&x, d.b, sizeof(struct ldmesh_snap_header) - 1, "shorter than a snapshot header",
		       "one byte short of a header");
	expect_refused(&x, d.b, sizeof(struct ldmesh_snap_header), "size in header differs",
		       "header only");
	expect_refused(&x, d.b, d.size - 1, "size in header differs", "last byte cut");
	expect_refused(&x, d.b, d.size / 2, "size in header differs", "cut in half");
	free(d.b);
	d = next_copy(&x);
	d.b = realloc(d.b, d.size + 4096);
	memset(d.b + d.size, 0, 4096);
	expect_refused(&x, d.b, d.size + 4096, "size in header differs", "trailing bytes");
	free(d.b);

	/* bit flips everywhere, not re-sealed: refused in the header, read
	 * safely in the body */
	for (size_t off = 0; ; off += 61) {
		d = next_copy(&x);
		if (off >= d.size) {
			free(d.b);
			break;
		}
		d.b[off] ^= (uint8_t)(1u << (off % 8));
		if (off < sizeof(struct ldmesh_snap_header))
			expect_refused(&x, d.b, d.size, "", "bit flip in the header");
		else
			expect_survived(&x, d.b, d.size, "bit flip in the body");
		free(d.b);
		if (off % 610 == 0)
			publish_good(&x);
	}
	publish_good(&x);
	print_message("%u damaged headers and files refused or read safely\n", x.refused);
	ctx_close(&x);
}

/* ---- sections ------------------------------------------------------------ */

static void test_sections(void **state)
{
	struct ctx x;
	struct dmg d;
	(void)state;
	ctx_open(&x);

	for (int i = 0; i < LDMESH_SEC_COUNT; i++) {
		char label[64];
		snprintf(label, sizeof(label), "section %d", i);
#define SCASE(stmt, reason)                                               \
	do {                                                              \
		d = next_copy(&x);                                        \
		struct ldmesh_section *sec = SEC(d.b, i);                 \
		(void)sec;                                                \
		stmt;                                                     \
		reseal(d.b, d.size);                                      \
		expect_refused(&x, d.b, d.size, reason, label);           \
		free(d.b);                                                \
	} while (0)
		SCASE(sec->entry_size += 1, "entry size");
		SCASE(sec->entry_size = 0, "entry size");
		SCASE(sec->entry_size = UINT32_MAX, "entry size");
		SCASE(sec->size += sec->entry_size, "size");
		SCASE(sec->size = UINT64_MAX, "size");
		SCASE(sec->count += 1, "size");
		SCASE(sec->count = UINT32_MAX, "size");
		/* count and size agree but run far past the file */
		SCASE((sec->count = 0x80000001u,
		       sec->size = (uint64_t)sec->count * sec->entry_size), "outside the file");
		SCASE((sec->count = UINT32_MAX,
		       sec->size = (uint64_t)sec->count * sec->entry_size), "outside the file");
		/* an empty section may end the file, not start past it */
		SCASE(sec->offset = sec->size ? d.size : d.size + 8, "outside the file");
		SCASE(sec->offset = d.size + 8, "outside the file");
		SCASE(sec->offset = UINT64_MAX - 7, "outside the file");
		SCASE(sec->offset = (UINT64_MAX - sec->size + 1) & ~7ULL, "outside the file");
		SCASE(sec->offset += 1, "outside the file"); /* misaligned */
		SCASE(sec->offset = 0, "outside the file");  /* over the header */
		SCASE(sec->offset = 8, "outside the file");
		if (i > 0) /* overlapping the section before */
			SCASE(sec->offset = SEC(d.b, i - 1)->offset, "outside the file");
		/* the last section's end one byte past the file */
		SCASE((sec->offset = (d.size - sec->size + 8) & ~7ULL), "outside the file");
	}
	/* index capacity not a power of two (count and size consistent) */
	d = next_copy(&x);
	SEC(d.b, LDMESH_SEC_VIP_INDEX)->count = 3;
	SEC(d.b, LDMESH_SEC_VIP_INDEX)->size = 3 * sizeof(struct ldmesh_vip_slot);
	HDR(d.b)->vip_max_probe = 1;
	reseal(d.b, d.size);
	expect_refused(&x, d.b, d.size, "power of two", "vip capacity 3");
	free(d.b);
	d = next_copy(&x);
	SEC(d.b, LDMESH_SEC_NAME_INDEX)->count -= 1;
	SEC(d.b, LDMESH_SEC_NAME_INDEX)->size -= sizeof(struct ldmesh_name_slot);
	HDR(d.b)->name_max_probe = 1;
	reseal(d.b, d.size);
	expect_refused(&x, d.b, d.size, "power of two", "name capacity - 1");
	free(d.b);
	/* an empty string pool, or one not starting with the empty string */
	d = next_copy(&x);
	SEC(d.b, LDMESH_SEC_STRINGS)->count = 0;
	SEC(d.b, LDMESH_SEC_STRINGS)->size = 0;
	reseal(d.b, d.size);
	expect_survived(&x, d.b, d.size, "no strings");
	free(d.b);
	d = next_copy(&x);
	AT(d.b, LDMESH_SEC_STRINGS, uint8_t)[0] = 5;
	reseal(d.b, d.size);
	expect_survived(&x, d.b, d.size, "string 0 not empty");
	free(d.b);
	publish_good(&x);
	print_message("%u damaged section tables refused\n", x.refused);
	ctx_close(&x);
}

/* ---- records --------------------------------------------------------------- */

static void test_records(void **state)
{
	struct ctx x;
	struct dmg d;
	(void)state;
	ctx_open(&x);

#define RCASE(stmt, what)                                                 \
	do {                                                              \
		d = next_copy(&x);                                        \
		struct ldmesh_service *sv_ = AT(d.b, LDMESH_SEC_SERVICES, struct ldmesh_service); \
		struct ldmesh_port *po = AT(d.b, LDMESH_SEC_PORTS, struct ldmesh_port); \
		struct ldmesh_endpoint *ep = AT(d.b, LDMESH_SEC_ENDPOINTS, struct ldmesh_endpoint); \
		struct ldmesh_vip_slot *vs = AT(d.b, LDMESH_SEC_VIP_INDEX, struct ldmesh_vip_slot); \
		struct ldmesh_name_slot *ns_ = AT(d.b, LDMESH_SEC_NAME_INDEX, struct ldmesh_name_slot); \
		uint32_t pool = SEC(d.b, LDMESH_SEC_STRINGS)->count;      \
		uint32_t nvip = SEC(d.b, LDMESH_SEC_VIP_INDEX)->count;    \
		uint32_t nname = SEC(d.b, LDMESH_SEC_NAME_INDEX)->count;  \
		struct ldmesh_service *sv = sv_; struct ldmesh_name_slot *ns = ns_; \
		(void)sv; (void)po; (void)ep; (void)vs; (void)ns; (void)pool; \
		(void)nvip; (void)nname;                                  \
		stmt;                                                     \
		reseal(d.b, d.size);                                      \
		expect_survived(&x, d.b, d.size, what);                   \
		free(d.b);                                                \
	} while (0)

	/* each service's ranges (service 0 backend: 2 ports, 3 endpoints,
	 * affinity; service 1 db: 1 port, 2 endpoints) */
	for (int s = 0; s < 2; s++) {
		RCASE(sv[s].ip_count = 3, "cluster IPs");
		RCASE(sv[s].first_port = SEC(d.b, LDMESH_SEC_PORTS)->count, "ports out of range");
		RCASE(sv[s].first_port = UINT32_MAX, "ports out of range");
		RCASE(sv[s].port_count = UINT32_MAX, "ports out of range");
		RCASE(sv[s].first_endpoint = UINT32_MAX, "endpoints out of range");
		RCASE(sv[s].endpoint_count += SEC(d.b, LDMESH_SEC_ENDPOINTS)->count, "endpoints out of range");
		RCASE(sv[s].ready_count = sv[s].endpoint_count + 1, "chosen endpoints");
		RCASE(sv[s].fallback_count = UINT32_MAX, "chosen endpoints");
		RCASE((sv[s].ready_count = UINT32_MAX, sv[s].fallback_count = 2), "chosen endpoints");
		RCASE(sv[s].first_endpoint_port = UINT32_MAX, "endpoint ports out of range");
		RCASE(sv[s].first_endpoint_port = SEC(d.b, LDMESH_SEC_ENDPOINT_PORTS)->count -
						  sv[s].endpoint_count * sv[s].port_count + 1,
		      "endpoint ports out of range");
		RCASE((sv[s].port_count = 0x10000, sv[s].first_port = 0), "ports out of range");
		RCASE(sv[s].affinity_offset = UINT32_MAX, "affinity table out of range");
		RCASE(sv[s].affinity_size = SEC(d.b, LDMESH_SEC_AFFINITY)->count + 1,
		      "affinity table out of range");
		RCASE(sv[s].ns = pool, "bad string reference");
		RCASE(sv[s].name = pool - 1, "bad string reference");
		RCASE(sv[s].external_name = UINT32_MAX, "bad string reference");
	}
	RCASE(AT(d.b, LDMESH_SEC_AFFINITY, uint32_t)[sv[0].affinity_offset] = sv[0].ready_count,
	      "affinity entry");
	RCASE(AT(d.b, LDMESH_SEC_AFFINITY, uint32_t)[sv[0].affinity_offset] = UINT32_MAX,
	      "affinity entry");
	/* ports and endpoints: every string reference, past the pool and at
	 * its last byte */
	RCASE(po[0].name = pool, "port 0: bad string");
	RCASE(po[1].target_port_name = pool - 1, "port 1: bad string");
	RCASE(po[2].app_protocol = UINT32_MAX, "port 2: bad string");
	RCASE(ep[0].node = pool - 1, "endpoint 0: bad string");
	RCASE(ep[1].zone = pool, "endpoint 1: bad string");
	RCASE(ep[2].hostname = pool - 1, "endpoint 2: bad string");
	RCASE(ep[3].target = 0x7fffffff, "endpoint 3: bad string");
	RCASE(ep[4].zone_hints = pool - 1, "endpoint 4: bad string");
	/* a string whose length byte runs past the end of the pool: the last
	 * string is "db-1"-ish; point a reference at a byte near the end whose
	 * value as a length overshoots */
	RCASE((AT(d.b, LDMESH_SEC_STRINGS, uint8_t)[pool - 2] = 200,
	       sv[0].name = pool - 2), "bad string reference");
	/* a length byte that lands inside the pool but not on a NUL */
	RCASE(AT(d.b, LDMESH_SEC_STRINGS, uint8_t)[sv[0].name] += 1, "bad string reference");
	/* index slots */
	for (uint32_t i = 0, done = 0; i < 64 && done < 2; i++) {
		d = next_copy(&x);
		struct ldmesh_vip_slot *v = AT(d.b, LDMESH_SEC_VIP_INDEX, struct ldmesh_vip_slot);
		uint32_t n = SEC(d.b, LDMESH_SEC_VIP_INDEX)->count;
		bool skip = i >= n || v[i].service == LDMESH_NONE;
		free(d.b);
		if (skip)
			continue;
		done++;
		RCASE(vs[i].service = SEC(d.b, LDMESH_SEC_SERVICES)->count, "vip slot");
		RCASE(vs[i].service = LDMESH_NONE - 1, "vip slot");
		RCASE(vs[i].port_index = sv[vs[i].service].port_count, "vip slot");
		RCASE(vs[i].port_index = UINT32_MAX, "vip slot");
	}
	for (uint32_t i = 0, done = 0; i < 64 && done < 3; i++) {
		d = next_copy(&x);
		struct ldmesh_name_slot *v = AT(d.b, LDMESH_SEC_NAME_INDEX, struct ldmesh_name_slot);
		uint32_t n = SEC(d.b, LDMESH_SEC_NAME_INDEX)->count, first_ep = 0;
		if (i < n && v[i].service != LDMESH_NONE)
			first_ep = AT(d.b, LDMESH_SEC_SERVICES,
				      struct ldmesh_service)[v[i].service].first_endpoint;
		bool skip = i >= n || v[i].service == LDMESH_NONE;
		free(d.b);
		if (skip)
			continue;
		done++;
		RCASE(ns[i].service = SEC(d.b, LDMESH_SEC_SERVICES)->count, "name slot");
		RCASE(ns[i].fqdn = pool - 1, "name slot");
		RCASE(ns[i].fqdn = pool, "name slot");
		RCASE(ns[i].endpoint = SEC(d.b, LDMESH_SEC_ENDPOINTS)->count, "name slot");
		RCASE(ns[i].endpoint = sv[ns[i].service].first_endpoint +
				       sv[ns[i].service].endpoint_count, "endpoint out of range");
		if (first_ep > 0)
			RCASE(ns[i].endpoint = first_ep - 1, "endpoint out of range");
	}
	publish_good(&x);
	print_message("%u damaged records read safely\n", x.refused);
	ctx_close(&x);
}

/* Full index chains (every slot taken, probe bound = capacity) are valid
 * input: a miss must still stop, through the table and with a guard page. */
static void test_full_chains(void **state)
{
	struct ctx x;
	struct dmg d;
	char why[256];
	int slot;
	(void)state;
	ctx_open(&x);

	d = next_copy(&x);
	struct ldmesh_vip_slot *v = AT(d.b, LDMESH_SEC_VIP_INDEX, struct ldmesh_vip_slot);
	struct ldmesh_name_slot *n = AT(d.b, LDMESH_SEC_NAME_INDEX, struct ldmesh_name_slot);
	uint32_t nv = SEC(d.b, LDMESH_SEC_VIP_INDEX)->count, nn = SEC(d.b, LDMESH_SEC_NAME_INDEX)->count;
	struct ldmesh_vip_slot vfill = { 0 };
	struct ldmesh_name_slot nfill = { 0 };
	for (uint32_t i = 0; i < nv; i++)
		if (v[i].service != LDMESH_NONE)
			vfill = v[i];
	for (uint32_t i = 0; i < nn; i++)
		if (n[i].service != LDMESH_NONE)
			nfill = n[i];
	for (uint32_t i = 0; i < nv; i++)
		if (v[i].service == LDMESH_NONE)
			v[i] = vfill, v[i].port = 1; /* never matches a real key */
	for (uint32_t i = 0; i < nn; i++)
		if (n[i].service == LDMESH_NONE)
			n[i] = nfill, n[i].hash ^= 1;
	HDR(d.b)->vip_max_probe = nv;
	HDR(d.b)->name_max_probe = nn;
	reseal(d.b, d.size);
	assert_int_equal(guarded_init(d.b, d.size, why, sizeof(why)), 0);
	assert_int_equal(publish_snapshot(&x.pub, d.b, d.size, 0, why, sizeof(why)), 0);
	const struct ldmesh_snap *s = ldmesh_table_acquire(&x.t, &slot);
	assert_non_null(s);
	assert_int_equal(s->generation, HDR(d.b)->generation);
	uint8_t a[16];
	v4(a, 1, 2, 3, 4);
	assert_null(tu_vip(s, a, 80, LDMESH_PROTO_TCP));
	assert_null(tu_name(s, "x.y.svc.cluster.local", 21));
	assert_serves(s);
	ldmesh_table_release(&x.t, slot);
	free(d.b);
	ctx_close(&x);
}

/* ---- things that are not snapshot files ------------------------------------ */

static void on_alarm(int sig)
{
	(void)sig;
	static const char msg[] = "test_hostile_table: blocked opening a FIFO in the table\n";
	if (write(2, msg, sizeof(msg) - 1) < 0)
		_exit(3);
	_exit(2);
}

static void test_not_files(void **state)
{
	struct ctx x;
	char path[512], why[256];
	int slot;
	(void)state;
	ctx_open(&x);
	signal(SIGALRM, on_alarm);

	/* Each: bump the control page to a generation whose snap file is
	 * something else. publish_snapshot can't do that, so write the
	 * control page directly, as a crafted table would. */
	const char *kinds[] = { "missing", "symlink", "directory", "fifo" };
	const char *reasons[] = { "No such file", "symbolic links", "", "" };
	for (int k = 0; k < 4; k++) {
		uint64_t gen = publish_next_generation(&x.pub);
		snprintf(path, sizeof(path), "%s/snap.%llu", x.dir, (unsigned long long)gen);
		if (k == 1) {
			char target[512];
			snprintf(target, sizeof(target), "%s/snap.%llu", x.dir,
				 (unsigned long long)x.good_gen);
			assert_int_equal(symlink(target, path), 0);
		} else if (k == 2) {
			assert_int_equal(mkdir(path, 0755), 0);
		} else if (k == 3) {
			assert_int_equal(mkfifo(path, 0644), 0);
		}
		__atomic_store_n(&x.pub.control->generation, gen, __ATOMIC_RELEASE);
		x.pub.generation = x.pub.numbered = gen;
		x.events = 0;
		alarm(5);
		const struct ldmesh_snap *s = ldmesh_table_acquire(&x.t, &slot);
		alarm(0);
		assert_non_null(s);
		assert_int_equal(s->generation, x.good_gen);
		assert_serves(s);
		ldmesh_table_release(&x.t, slot);
		if (x.events != 1 || x.last_ev != LDMESH_TABLE_REFUSED || !strstr(x.last_why, reasons[k]))
			fail_msg("%s as snap.N: events %u last %d why '%s'", kinds[k], x.events,
				 x.last_ev, x.last_why);
		print_message("%s as snap.%llu: refused: %s\n", kinds[k], (unsigned long long)gen,
			      x.last_why);
		/* the tools' one-file loader refuses it too, without blocking */
		struct ldmesh_snap one;
		alarm(5);
		assert_int_not_equal(ldmesh_snap_map_file(&one, path, why, sizeof(why)), 0);
		alarm(0);
		if (k == 2)
			rmdir(path);
		else
			unlink(path);
	}
	publish_good(&x);
	signal(SIGALRM, SIG_DFL);
	ctx_close(&x);
}

/* Control pages that are not control pages: MISSING with a reason, no
 * snapshot, no crash; a FIFO must not block. */
static void test_bad_control(void **state)
{
	char *dir = tu_tmpdir("hostile-ctl");
	char path[512];
	struct ldmesh_table t;
	struct ctx x; /* only for the event sink */
	struct ldmesh_control c;
	int slot;
	(void)state;

	memset(&x, 0, sizeof(x));
	snprintf(path, sizeof(path), "%s/control", dir);
	signal(SIGALRM, on_alarm);
	for (int k = 0; k < 6; k++) {
		const char *reason = "not a control page";
		unlink(path);
		rmdir(path);
		memset(&c, 0, sizeof(c));
		c.magic = LDMESH_CONTROL_MAGIC;
		c.version_major = LDMESH_SNAP_VERSION_MAJOR;
		c.generation = 1;
		size_t len = 4096;
		if (k == 0)
			c.magic ^= 0x100;
		else if (k == 1)
			c.version_major = LDMESH_SNAP_VERSION_MAJOR + 1;
		else if (k == 2)
			len = sizeof(c) - 1, reason = "too short";
		else if (k == 3)
			len = 0, reason = "too short";
		if (k <= 3) {
			FILE *f = fopen(path, "w");
			uint8_t page[4096] = { 0 };
			memcpy(page, &c, sizeof(c));
			assert_non_null(f);
			assert_int_equal(fwrite(page, 1, len, f), len);
			fclose(f);
		} else if (k == 4) {
			assert_int_equal(mkdir(path, 0755), 0);
			reason = "";
		} else {
			assert_int_equal(mkfifo(path, 0644), 0);
			reason = "";
		}
		assert_int_equal(ldmesh_table_init(&t, dir, &ldmesh_reader_libc, on_event, &x), 0);
		x.events = 0;
		alarm(5);
		assert_null(ldmesh_table_acquire(&t, &slot));
		alarm(0);
		if (x.events != 1 || x.last_ev != LDMESH_TABLE_MISSING || !strstr(x.last_why, reason))
			fail_msg("control case %d: events %u last %d why '%s'", k, x.events,
				 x.last_ev, x.last_why);
		print_message("control case %d: %s\n", k, x.last_why);
		ldmesh_table_close(&t);
	}
	signal(SIGALRM, SIG_DFL);
	unlink(path);
	rmdir(path);
	tu_rmtree(dir);
	free(dir);
}

/* ---- the control page's records --------------------------------------- */

/* The reader's system calls, counted. */
static struct {
	unsigned openat, fstatat, pread, mmap;
} calls;

static int count_openat(int dirfd, const char *path, int flags)
{
	calls.openat++;
	return ldmesh_reader_libc.openat(dirfd, path, flags);
}

static int count_fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
	calls.fstatat++;
	return ldmesh_reader_libc.fstatat(dirfd, path, st, flags);
}

static ssize_t count_pread(int fd, void *buf, size_t len, off_t off)
{
	calls.pread++;
	return ldmesh_reader_libc.pread(fd, buf, len, off);
}

static void *count_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	calls.mmap++;
	return ldmesh_reader_libc.mmap(addr, len, prot, flags, fd, off);
}

/* The next good generation published, then taken up by `t`: its
 * generation, and the calls that took. */
static uint64_t switch_counted(struct ctx *x, struct ldmesh_table *t)
{
	uint64_t gen;
	int slot;

	publish_next_good(x);
	memset(&calls, 0, sizeof(calls));
	const struct ldmesh_snap *s = ldmesh_table_acquire(t, &slot);
	assert_non_null(s);
	gen = s->generation;
	ldmesh_table_release(t, slot);
	return gen;
}

/* A table `t` over a fresh ctx, whose system calls are counted through
 * `sys` (which must outlive it), having switched once already. */
static void counted_open(struct ctx *x, struct ldmesh_table *t, struct ldmesh_reader_sys *sys)
{
	ctx_open(x);
	*sys = ldmesh_reader_libc;
	sys->openat = count_openat;
	sys->fstatat = count_fstatat;
	sys->pread = count_pread;
	sys->mmap = count_mmap;
	assert_int_equal(ldmesh_table_init(t, x->dir, sys, on_event, x), 0);
	uint64_t gen = switch_counted(x, t);
	assert_int_equal(gen, x->pub.generation);
}

/* With the agent's record a switch is open, fstat, mmap, close: the
 * directory is not stat'ed and the header not read. A record that fails
 * its checksum (a torn copy) costs the two back, and still switches. */
static void test_record_spares_calls(void **state)
{
	struct ldmesh_reader_sys sys;
	struct ldmesh_table t;
	struct ctx x;
	uint64_t gen;
	(void)state;
	counted_open(&x, &t, &sys);
	x.events = 0;
	gen = switch_counted(&x, &t);
	assert_int_equal(gen, x.pub.generation);
	assert_int_equal(x.events, 1);
	assert_int_equal(x.last_ev, LDMESH_TABLE_SWITCHED);
	assert_int_equal(calls.openat, 1);
	assert_int_equal(calls.mmap, 1);
	assert_int_equal(calls.fstatat, 0);
	assert_int_equal(calls.pread, 0);

	/* the record of the next generation damaged after it was written */
	uint64_t next = publish_next_good(&x);
	x.pub.control->records[next & 1].snap.ino ^= 1;
	memset(&calls, 0, sizeof(calls));
	int slot;
	const struct ldmesh_snap *s = ldmesh_table_acquire(&t, &slot);
	assert_non_null(s);
	assert_int_equal(s->generation, next);
	ldmesh_table_release(&t, slot);
	assert_int_equal(calls.fstatat, 1);
	assert_int_equal(calls.pread, 1);
	ldmesh_table_close(&t);
	ctx_close(&x);
}

/* A base the agent announced ahead is mapped by the check (open, mmap),
 * and the switch to it when the agent makes it current makes no system
 * call at all. */
static void test_announced_switch_makes_no_call(void **state)
{
	struct ldmesh_reader_sys sys;
	struct ldmesh_table t;
	struct ctx x;
	char why[256];
	size_t size;
	int slot;
	(void)state;
	counted_open(&x, &t, &sys);
	uint64_t gen = publish_next_generation(&x.pub);
	void *good = build_good(gen, &size);
	assert_int_equal(publish_ahead(&x.pub, good, size, 0, why, sizeof(why)), 0);
	free(good);
	assert_int_equal(x.pub.ahead, gen);
	ldmesh_table_check_now(&t);
	memset(&calls, 0, sizeof(calls));
	x.events = 0;
	const struct ldmesh_snap *s = ldmesh_table_acquire(&t, &slot);
	assert_non_null(s);
	assert_int_equal(s->generation, gen - 1);
	ldmesh_table_release(&t, slot);
	assert_int_equal(calls.openat, 1);
	assert_int_equal(calls.mmap, 1);
	assert_int_equal(x.events, 1);
	assert_int_equal(x.last_ev, LDMESH_TABLE_AHEAD);
	assert_int_equal(x.last_gen, gen);

	assert_int_equal(publish_ahead_commit(&x.pub, why, sizeof(why)), 0);
	assert_int_equal(x.pub.generation, gen);
	x.events = 0;
	memset(&calls, 0, sizeof(calls));
	s = ldmesh_table_acquire(&t, &slot);
	assert_non_null(s);
	assert_int_equal(s->generation, gen);
	assert_serves(s);
	ldmesh_table_release(&t, slot);
	assert_int_equal(x.events, 1);
	assert_int_equal(x.last_ev, LDMESH_TABLE_SWITCHED);
	assert_string_equal(x.last_why, "mapped ahead");
	assert_int_equal(calls.openat + calls.fstatat + calls.pread + calls.mmap, 0);
	ldmesh_table_close(&t);
	ctx_close(&x);
}

/* A file put in the place of the published one, by someone who may write
 * the directory: the same bytes, owned by root, mode 0444, a regular file,
 * so every other check passes. The record names the published inode, so
 * it is refused and the previous generation stays in use; the agent's
 * next generation is taken as usual. */
static void test_replaced_file_refused(void **state)
{
	char why[256], path[512];
	struct ctx x;
	size_t size;
	int slot, fd;
	(void)state;
	ctx_open(&x);
	uint64_t gen = publish_next_generation(&x.pub);
	void *good = build_good(gen, &size);
	assert_int_equal(publish_snapshot(&x.pub, good, size, 0, why, sizeof(why)), 0);
	snprintf(path, sizeof(path), "%s/snap.%llu", x.dir, (unsigned long long)gen);
	tu_unseal(path);
	assert_int_equal(unlink(path), 0);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, good, size), (ssize_t)size);
	close(fd);
	free(good);

	x.events = 0;
	const struct ldmesh_snap *s = ldmesh_table_acquire(&x.t, &slot);
	assert_non_null(s);
	assert_int_equal(s->generation, x.good_gen);
	assert_serves(s);
	ldmesh_table_release(&x.t, slot);
	if (x.events != 1 || x.last_ev != LDMESH_TABLE_REFUSED ||
	    !strstr(x.last_why, "not the file the control page published"))
		fail_msg("replaced snap.%llu: events %u last %d why '%s'",
			 (unsigned long long)gen, x.events, x.last_ev, x.last_why);
	print_message("replaced snap.%llu: refused: %s\n", (unsigned long long)gen, x.last_why);
	publish_good(&x);
	ctx_close(&x);
}

/* A directory made writable by others after the reader took it: a switch
 * bound to the record does not look at it, the once-a-second check does.
 * From that check on the next generation is refused, naming the reason;
 * once the directory is closed again, the next check takes it. */
static void test_untrusted_dir_at_check(void **state)
{
	struct ctx x;
	int slot;
	(void)state;
	ctx_open(&x);
	assert_int_equal(chmod(x.dir, 0775), 0);
	uint64_t gen = publish_next_good(&x);
	ldmesh_table_check_now(&x.t);
	x.events = 0;
	const struct ldmesh_snap *s = ldmesh_table_acquire(&x.t, &slot);
	assert_non_null(s);
	assert_int_equal(s->generation, x.good_gen);
	ldmesh_table_release(&x.t, slot);
	if (x.events < 1 || x.last_ev != LDMESH_TABLE_REFUSED ||
	    !strstr(x.last_why, "writable by group or others"))
		fail_msg("group-writable directory: events %u last %d why '%s'", x.events,
			 x.last_ev, x.last_why);
	print_message("group-writable directory: refused: %s\n", x.last_why);

	assert_int_equal(chmod(x.dir, 0755), 0);
	ldmesh_table_check_now(&x.t);
	s = ldmesh_table_acquire(&x.t, &slot);
	assert_non_null(s);
	assert_int_equal(s->generation, gen);
	assert_serves(s);
	ldmesh_table_release(&x.t, slot);
	ctx_close(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_fields),
		cmocka_unit_test(test_sections),
		cmocka_unit_test(test_records),
		cmocka_unit_test(test_full_chains),
		cmocka_unit_test(test_not_files),
		cmocka_unit_test(test_record_spares_calls),
		cmocka_unit_test(test_announced_switch_makes_no_call),
		cmocka_unit_test(test_replaced_file_refused),
		cmocka_unit_test(test_untrusted_dir_at_check),
		cmocka_unit_test(test_bad_control),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
