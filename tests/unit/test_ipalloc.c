/* cmocka tests for agent/common/ipalloc.c (CIDR parsing, deterministic ClusterIP
 * allocation) and for the determinism the model builds on it. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ldmesh/reader.h"
#include "ipalloc.h"
#include "model.h"
#include "snap_build.h"
#include "testutil.h"

static void ip(uint8_t out[16], const char *text)
{
	assert_int_equal(manifest_parse_ip(text, out), 0);
}

static const char *fmt(const uint8_t a[16])
{
	static char buf[4][64];
	static int k;
	k = (k + 1) % 4;
	return ipalloc_format(a, buf[k], sizeof(buf[k]));
}

/* Host offset (last 32 bits) of an address inside a CIDR. */
static uint32_t offset_of(const struct ipalloc_cidr *c, const uint8_t a[16])
{
	uint32_t v = 0, b = 0;
	for (int i = 12; i < 16; i++) {
		v = (v << 8) | a[i];
		b = (b << 8) | c->base[i];
	}
	return v - b;
}

static void cidr(struct ipalloc_cidr *c, const char *text)
{
	assert_int_equal(ipalloc_parse_cidr(text, c), 0);
}

/* ---- parsing ------------------------------------------------------------ */

static void test_parse_v4_default_range(void **state)
{
	struct ipalloc_cidr c;
	uint8_t want[16];

	(void)state;
	cidr(&c, "10.96.0.0/12");
	ip(want, "10.96.0.0");
	assert_memory_equal(c.base, want, 16);
	assert_int_equal(c.prefix, 96 + 12);
}

static void test_parse_v6(void **state)
{
	struct ipalloc_cidr c;
	uint8_t want[16];

	(void)state;
	cidr(&c, "fd00:10:96::/108");
	ip(want, "fd00:10:96::");
	assert_memory_equal(c.base, want, 16);
	assert_int_equal(c.prefix, 108);
	cidr(&c, "fd00::/126"); /* exactly 4 addresses */
	assert_int_equal(c.prefix, 126);
}

static void test_parse_smallest_v4(void **state)
{
	struct ipalloc_cidr c;

	(void)state;
	cidr(&c, "192.168.7.4/30");
	assert_int_equal(c.prefix, 126);
}

static void test_parse_rejects_host_bits(void **state)
{
	struct ipalloc_cidr c;

	(void)state;
	memset(&c, 0x5a, sizeof(c));
	assert_int_equal(ipalloc_parse_cidr("10.96.0.5/12", &c), -EINVAL);
	assert_int_equal(ipalloc_parse_cidr("10.97.0.0/12", &c), -EINVAL);
	assert_int_equal(ipalloc_parse_cidr("192.168.7.6/30", &c), -EINVAL);
	assert_int_equal(ipalloc_parse_cidr("fd00:10:96::1/108", &c), -EINVAL);
	/* *out untouched on failure */
	for (size_t i = 0; i < sizeof(c); i++)
		assert_int_equal(((uint8_t *)&c)[i], 0x5a);
}

static void test_parse_rejects_bad_prefix(void **state)
{
	struct ipalloc_cidr c;

	(void)state;
	assert_int_equal(ipalloc_parse_cidr("10.0.0.0/33", &c), -EINVAL);
	assert_int_equal(ipalloc_parse_cidr("fd00::/129", &c), -EINVAL);
	assert_int_equal(ipalloc_parse_cidr("10.0.0.0/-1", &c), -EINVAL);
	assert_int_equal(ipalloc_parse_cidr("10.0.0.0/", &c), -EINVAL);
	assert_int_equal(ipalloc_parse_cidr("10.0.0.0/12x", &c), -EINVAL);
	assert_int_equal(ipalloc_parse_cidr("10.0.0.0/99999999999999999999", &c), -EINVAL);
}

static void test_parse_rejects_too_small(void **state)
{
	struct ipalloc_cidr c;

	(void)state;
	assert_int_equal(ipalloc_parse_cidr("10.0.0.0/31", &c), -EINVAL);
	assert_int_equal(ipalloc_parse_cidr("10.0.0.1/32", &c), -EINVAL);
	assert_int_equal(ipalloc_parse_cidr("fd00::/127", &c), -EINVAL);
	assert_int_equal(ipalloc_parse_cidr("fd00::/128", &c), -EINVAL);
	/* wider than 32 host bits is refused too (the API allows 2^20) */
	assert_int_equal(ipalloc_parse_cidr("fd00::/64", &c), -EINVAL);
}

static void test_parse_rejects_garbage(void **state)
{
	struct ipalloc_cidr c;

	(void)state;
	assert_int_equal(ipalloc_parse_cidr("", &c), -EINVAL);
	assert_int_equal(ipalloc_parse_cidr("10.96.0.0", &c), -EINVAL);
	assert_int_equal(ipalloc_parse_cidr("/12", &c), -EINVAL);
	assert_int_equal(ipalloc_parse_cidr("10.96.0/12", &c), -EINVAL);
	assert_int_equal(ipalloc_parse_cidr("10.96.0.256/24", &c), -EINVAL);
	assert_int_equal(ipalloc_parse_cidr("backend/12", &c), -EINVAL);
	assert_int_equal(ipalloc_parse_cidr("10.96.0.0/12/4", &c), -EINVAL);
	assert_int_equal(ipalloc_parse_cidr("10.96.0.0//12", &c), -EINVAL);
	assert_int_equal(ipalloc_parse_cidr(
		"0000:0000:0000:0000:0000:0000:0000:0000:0000:0000/12", &c), -EINVAL);
}

static void test_contains(void **state)
{
	struct ipalloc_cidr c;
	uint8_t a[16];

	(void)state;
	cidr(&c, "10.96.0.0/12");
	ip(a, "10.96.0.0");
	assert_true(ipalloc_contains(&c, a));
	ip(a, "10.111.255.255");
	assert_true(ipalloc_contains(&c, a));
	ip(a, "10.112.0.0");
	assert_false(ipalloc_contains(&c, a));
	ip(a, "10.95.255.255");
	assert_false(ipalloc_contains(&c, a));
	ip(a, "::ffff:0:0"); /* not the v4 range just because bits line up */
	assert_false(ipalloc_contains(&c, a));
	ip(a, "fd00::a60:0"); /* 10.96.0.0's bits in a non-mapped address */
	assert_false(ipalloc_contains(&c, a));
}

/* ---- allocation ---------------------------------------------------------- */

static void test_assign_deterministic_across_allocators(void **state)
{
	struct ipalloc_cidr c;
	struct ipalloc a, b;
	uint8_t x[16], y[16];
	char name[32];

	(void)state;
	cidr(&c, "10.96.0.0/12");
	assert_int_equal(ipalloc_init(&a, &c), 0);
	assert_int_equal(ipalloc_init(&b, &c), 0);
	for (int i = 0; i < 50; i++) {
		snprintf(name, sizeof(name), "svc-%d", i);
		assert_int_equal(ipalloc_assign(&a, "default", name, x), 0);
		assert_int_equal(ipalloc_assign(&b, "default", name, y), 0);
		assert_memory_equal(x, y, 16);
	}
	/* namespace is part of the key */
	assert_int_equal(ipalloc_assign(&a, "prod", "backend", x), 0);
	assert_int_equal(ipalloc_assign(&b, "default", "backend", y), 0);
	assert_memory_not_equal(x, y, 16);
	ipalloc_free(&a);
	ipalloc_free(&b);
}

static void test_assign_independent_of_other_services_order(void **state)
{
	struct ipalloc_cidr c;
	struct ipalloc a, b;
	uint8_t first[16], later[16], tmp[16];
	char name[32];

	(void)state;
	cidr(&c, "10.96.0.0/12");
	assert_int_equal(ipalloc_init(&a, &c), 0);
	assert_int_equal(ipalloc_init(&b, &c), 0);
	assert_int_equal(ipalloc_assign(&a, "default", "backend", first), 0);
	for (int i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "other-%d", 199 - i);
		assert_int_equal(ipalloc_assign(&a, "default", name, tmp), 0);
		snprintf(name, sizeof(name), "other-%d", i);
		assert_int_equal(ipalloc_assign(&b, "default", name, tmp), 0);
	}
	assert_int_equal(ipalloc_assign(&b, "default", "backend", later), 0);
	assert_memory_equal(first, later, 16);
	ipalloc_free(&a);
	ipalloc_free(&b);
}

static void test_assign_stays_inside_and_skips_network_broadcast(void **state)
{
	struct ipalloc_cidr c;
	struct ipalloc a;
	uint8_t x[16];
	char name[32];

	(void)state;
	/* a /28: 14 usable; fill it and check every one */
	cidr(&c, "10.96.0.16/28");
	assert_int_equal(ipalloc_init(&a, &c), 0);
	unsigned seen = 0;
	for (int i = 0; i < 14; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		assert_int_equal(ipalloc_assign(&a, "default", name, x), 0);
		assert_true(ipalloc_contains(&c, x));
		uint32_t off = offset_of(&c, x);
		assert_in_range(off, 1, 14);
		assert_int_equal(seen & (1u << off), 0); /* never twice */
		seen |= 1u << off;
	}
	assert_int_equal(seen, 0x7ffe);
	assert_int_equal(ipalloc_assign(&a, "default", "one-more", x), -ENOSPC);
	ipalloc_free(&a);
}

static void test_assign_in_default_range_is_inside(void **state)
{
	struct ipalloc_cidr c;
	struct ipalloc a;
	uint8_t x[16];
	char name[32];

	(void)state;
	cidr(&c, "10.96.0.0/12");
	assert_int_equal(ipalloc_init(&a, &c), 0);
	for (int i = 0; i < 3000; i++) { /* also exercises the set growing */
		snprintf(name, sizeof(name), "svc%d", i);
		assert_int_equal(ipalloc_assign(&a, "ns", name, x), 0);
		assert_true(ipalloc_contains(&c, x));
		uint32_t off = offset_of(&c, x);
		assert_true(off >= 1 && off <= (1u << 20) - 2);
	}
	assert_int_equal((int)a.used, 3000);
	ipalloc_free(&a);
}

static void test_assign_v6_inside(void **state)
{
	struct ipalloc_cidr c;
	struct ipalloc a, b;
	uint8_t x[16], y[16];

	(void)state;
	cidr(&c, "fd00:10:96::/108");
	assert_int_equal(ipalloc_init(&a, &c), 0);
	assert_int_equal(ipalloc_init(&b, &c), 0);
	assert_int_equal(ipalloc_assign(&a, "default", "backend", x), 0);
	assert_int_equal(ipalloc_assign(&b, "default", "backend", y), 0);
	assert_memory_equal(x, y, 16);
	assert_true(ipalloc_contains(&c, x));
	assert_int_not_equal(offset_of(&c, x), 0);
	ipalloc_free(&a);
	ipalloc_free(&b);
}

static void test_assign_avoids_reserved(void **state)
{
	struct ipalloc_cidr c;
	struct ipalloc a;
	uint8_t r[16], x[16];

	(void)state;
	cidr(&c, "10.0.0.0/29"); /* usable .1 - .6 */
	assert_int_equal(ipalloc_init(&a, &c), 0);
	ip(r, "10.0.0.2"); assert_int_equal(ipalloc_reserve(&a, r), 0);
	ip(r, "10.0.0.5"); assert_int_equal(ipalloc_reserve(&a, r), 0);
	assert_int_equal(ipalloc_reserve(&a, r), -EEXIST);
	unsigned seen = 0;
	char name[16];
	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		assert_int_equal(ipalloc_assign(&a, "default", name, x), 0);
		seen |= 1u << offset_of(&c, x);
	}
	assert_int_equal(seen, (1u << 1) | (1u << 3) | (1u << 4) | (1u << 6));
	assert_int_equal(ipalloc_assign(&a, "default", "full", x), -ENOSPC);
	ipalloc_free(&a);
}

static void test_assign_reserve_reports_taken(void **state)
{
	struct ipalloc_cidr c;
	struct ipalloc a;
	uint8_t x[16];

	(void)state;
	cidr(&c, "10.96.0.0/12");
	assert_int_equal(ipalloc_init(&a, &c), 0);
	assert_int_equal(ipalloc_assign(&a, "default", "backend", x), 0);
	/* an explicit clusterIP equal to an allocated one is a clash */
	assert_int_equal(ipalloc_reserve(&a, x), -EEXIST);
	ipalloc_free(&a);
}

static void test_collision_moves_to_next_free(void **state)
{
	struct ipalloc_cidr c;
	struct ipalloc a, b;
	uint8_t home[16], moved[16], want[16], again[16];

	(void)state;
	cidr(&c, "10.96.0.0/12");
	assert_int_equal(ipalloc_init(&a, &c), 0);
	assert_int_equal(ipalloc_assign(&a, "default", "backend", home), 0);
	ipalloc_free(&a);

	/* Someone else holds backend's home address: it moves one up (the
	 * usable range is [1, 2^20-2]; wrap to 1 past the top). */
	uint32_t off = offset_of(&c, home);
	uint32_t next = off == (1u << 20) - 2 ? 1 : off + 1;
	memcpy(want, c.base, 16);
	want[13] |= (uint8_t)(next >> 16);
	want[14] = (uint8_t)(next >> 8);
	want[15] = (uint8_t)next;

	assert_int_equal(ipalloc_init(&a, &c), 0);
	assert_int_equal(ipalloc_reserve(&a, home), 0);
	assert_int_equal(ipalloc_assign(&a, "default", "backend", moved), 0);
	assert_memory_equal(moved, want, 16);

	/* And the same on every node. */
	assert_int_equal(ipalloc_init(&b, &c), 0);
	assert_int_equal(ipalloc_reserve(&b, home), 0);
	assert_int_equal(ipalloc_assign(&b, "default", "backend", again), 0);
	assert_memory_equal(again, want, 16);

	/* Two taken in a row: moves two up. */
	ipalloc_free(&b);
	assert_int_equal(ipalloc_init(&b, &c), 0);
	assert_int_equal(ipalloc_reserve(&b, home), 0);
	assert_int_equal(ipalloc_reserve(&b, want), 0);
	assert_int_equal(ipalloc_assign(&b, "default", "backend", again), 0);
	assert_int_equal(offset_of(&c, again),
			 next == (1u << 20) - 2 ? 1 : next + 1);
	ipalloc_free(&a);
	ipalloc_free(&b);
}

static void test_tiny_cidr_fills_up(void **state)
{
	struct ipalloc_cidr c;
	struct ipalloc a;
	uint8_t x[16], y[16], z[16];

	(void)state;
	cidr(&c, "10.0.0.0/30"); /* .1 and .2 only */
	assert_int_equal(ipalloc_init(&a, &c), 0);
	assert_int_equal(ipalloc_assign(&a, "default", "a", x), 0);
	assert_int_equal(ipalloc_assign(&a, "default", "b", y), 0);
	assert_memory_not_equal(x, y, 16);
	assert_int_equal(offset_of(&c, x) + offset_of(&c, y), 3);
	memset(z, 0x77, 16);
	assert_int_equal(ipalloc_assign(&a, "default", "c", z), -ENOSPC);
	assert_int_equal(ipalloc_assign(&a, "default", "a", z), -ENOSPC);
	ipalloc_free(&a);

	/* v6 /126: no broadcast, so ::1, ::2, ::3 */
	cidr(&c, "fd00::/126");
	assert_int_equal(ipalloc_init(&a, &c), 0);
	unsigned seen = 0;
	assert_int_equal(ipalloc_assign(&a, "d", "a", x), 0);
	seen |= 1u << offset_of(&c, x);
	assert_int_equal(ipalloc_assign(&a, "d", "b", x), 0);
	seen |= 1u << offset_of(&c, x);
	assert_int_equal(ipalloc_assign(&a, "d", "c", x), 0);
	seen |= 1u << offset_of(&c, x);
	assert_int_equal(seen, 0xe);
	assert_int_equal(ipalloc_assign(&a, "d", "d", x), -ENOSPC);
	ipalloc_free(&a);
}

static void test_format(void **state)
{
	uint8_t a[16];
	char buf[64];

	(void)state;
	ip(a, "10.96.0.10");
	assert_string_equal(ipalloc_format(a, buf, sizeof(buf)), "10.96.0.10");
	ip(a, "fd00:10:96::a");
	assert_string_equal(ipalloc_format(a, buf, sizeof(buf)), "fd00:10:96::a");
}

/* ---- model level ------------------------------------------------------- */

struct world {
	struct model_source src[4];
	struct manifest_set sets[4]; /* src[i].set */
	size_t n;
};

static void world_add(struct world *w, const char *path, const char *text)
{
	struct tu_diag t;

	tu_diag_init(&t);
	w->src[w->n].path = path;
	w->src[w->n].set = &w->sets[w->n];
	memset(&w->sets[w->n], 0, sizeof(w->sets[w->n]));
	if (manifest_load_data(path, text, strlen(text), &w->sets[w->n], &t.d)) {
		for (unsigned i = 0; i < t.n; i++)
			print_error("%s\n", t.lines[i]);
		fail_msg("%s did not load", path);
	}
	w->n++;
}

static void world_free(struct world *w)
{
	for (size_t i = 0; i < w->n; i++)
		manifest_set_free(&w->sets[i]);
	w->n = 0;
}

static const struct snap_service_in *svc_of(const struct model_out *o, const char *ns,
					    const char *name)
{
	for (size_t i = 0; i < o->n_services; i++)
		if (!strcmp(o->services[i].ns, ns) && !strcmp(o->services[i].name, name))
			return &o->services[i];
	fail_msg("no service %s/%s", ns, name);
	return NULL;
}

static const char backend_yaml[] =
	"apiVersion: v1\nkind: Service\nmetadata:\n  name: backend\n"
	"spec:\n  selector:\n    app: testapp\n    type: backend\n"
	"  ports:\n  - protocol: TCP\n    port: 80\n    targetPort: 80\n";

static const char others_yaml[] =
	"apiVersion: v1\nkind: Service\nmetadata:\n  name: aaa\n"
	"spec:\n  ports:\n  - port: 80\n"
	"---\napiVersion: v1\nkind: Service\nmetadata:\n  name: zzz\n  namespace: prod\n"
	"spec:\n  ports:\n  - port: 80\n"
	"---\napiVersion: v1\nkind: Service\nmetadata:\n  name: fixed\n"
	"spec:\n  clusterIP: 10.96.0.10\n  ports:\n  - port: 53\n";

static void resolve(struct world *w, struct model_out *out)
{
	struct model_opts o = { .cluster_domain = "cluster.local" };
	struct tu_diag t;

	cidr(&o.cidrs.v[0], "10.96.0.0/12");
	o.cidrs.n = 1;
	tu_diag_init(&t);
	assert_int_equal(model_resolve(w->src, w->n, &o, NULL, out, &t.d), 0);
	assert_int_equal(t.n, 0);
	assert_int_equal(out->conflicts, 0);
}

static void test_model_allocation_stable_across_file_sets(void **state)
{
	struct world w1 = { .n = 0 }, w2 = { .n = 0 };
	struct model_out o1, o2;
	const struct snap_service_in *b1, *b2;
	struct ipalloc_cidr c;

	(void)state;
	cidr(&c, "10.96.0.0/12");
	world_add(&w1, "/m/backend.yaml", backend_yaml);
	world_add(&w2, "/m/a-others.yaml", others_yaml);
	world_add(&w2, "/m/b-backend.yaml", backend_yaml);
	resolve(&w1, &o1);
	resolve(&w2, &o2);
	assert_int_equal(o1.n_services, 1);
	assert_int_equal(o2.n_services, 4);
	b1 = svc_of(&o1, "default", "backend");
	b2 = svc_of(&o2, "default", "backend");
	assert_int_equal(b1->n_cluster_ips, 1);
	assert_int_equal(b2->n_cluster_ips, 1);
	assert_memory_equal(b1->cluster_ips[0], b2->cluster_ips[0], 16);
	assert_true(ipalloc_contains(&c, b1->cluster_ips[0]));
	assert_int_equal(b1->flags & LDMESH_SVC_F_ALLOCATED_IP, LDMESH_SVC_F_ALLOCATED_IP);
	/* the explicit one is kept and not marked allocated */
	const struct snap_service_in *f = svc_of(&o2, "default", "fixed");
	assert_string_equal(fmt(f->cluster_ips[0]), "10.96.0.10");
	assert_int_equal(f->flags & LDMESH_SVC_F_ALLOCATED_IP, 0);
	model_out_free(&o1);
	model_out_free(&o2);
	world_free(&w1);
	world_free(&w2);
}

static void test_model_identical_input_identical_snapshot(void **state)
{
	struct world w1 = { .n = 0 }, w2 = { .n = 0 };
	struct model_out o1, o2;
	void *s1, *s2;
	size_t n1, n2;
	struct ldmesh_snap snap;
	char why[128];

	(void)state;
	world_add(&w1, "/m/a-others.yaml", others_yaml);
	world_add(&w1, "/m/b-backend.yaml", backend_yaml);
	world_add(&w2, "/m/a-others.yaml", others_yaml);
	world_add(&w2, "/m/b-backend.yaml", backend_yaml);
	resolve(&w1, &o1);
	resolve(&w2, &o2);
	o1.in.generation = o2.in.generation = 7;
	o1.in.created_unix_ns = o2.in.created_unix_ns = 1700000000000000000ULL;
	assert_int_equal(snap_build(&o1.in, &s1, &n1), 0);
	assert_int_equal(snap_build(&o2.in, &s2, &n2), 0);
	assert_int_equal(n1, n2);
	assert_memory_equal(s1, s2, n1);
	assert_int_equal(tu_snap_init(&snap, s1, n1, why, sizeof(why)), 0);
	assert_int_equal(snap.n_services, 4);
	/* the allocated VIP routes to backend */
	const struct snap_service_in *b = svc_of(&o1, "default", "backend");
	const struct ldmesh_vip_slot *v = tu_vip(&snap, b->cluster_ips[0], 80,
							       LDMESH_PROTO_TCP);
	assert_non_null(v);
	assert_string_equal(tu_str(&snap, snap.services[v->service].name), "backend");
	free(s1);
	free(s2);
	model_out_free(&o1);
	model_out_free(&o2);
	world_free(&w1);
	world_free(&w2);
}

static void test_model_explicit_ip_steers_allocation(void **state)
{
	struct world w1 = { .n = 0 }, w2 = { .n = 0 };
	struct model_out o1, o2;
	char yaml[512];

	(void)state;
	world_add(&w1, "/m/backend.yaml", backend_yaml);
	resolve(&w1, &o1);
	const struct snap_service_in *b1 = svc_of(&o1, "default", "backend");
	/* Another Service takes backend's would-be address explicitly: every
	 * node moves backend to the same next address. */
	snprintf(yaml, sizeof(yaml),
		 "apiVersion: v1\nkind: Service\nmetadata:\n  name: squatter\n  namespace: zz\n"
		 "spec:\n  clusterIP: %s\n  ports:\n  - port: 80\n", fmt(b1->cluster_ips[0]));
	world_add(&w2, "/m/a.yaml", backend_yaml);
	world_add(&w2, "/m/b.yaml", yaml);
	resolve(&w2, &o2);
	const struct snap_service_in *b2 = svc_of(&o2, "default", "backend");
	const struct snap_service_in *sq = svc_of(&o2, "zz", "squatter");
	assert_memory_equal(sq->cluster_ips[0], b1->cluster_ips[0], 16);
	assert_memory_not_equal(b2->cluster_ips[0], b1->cluster_ips[0], 16);
	struct ipalloc_cidr c;
	cidr(&c, "10.96.0.0/12");
	uint32_t off = offset_of(&c, b1->cluster_ips[0]);
	assert_int_equal(offset_of(&c, b2->cluster_ips[0]),
			 off == (1u << 20) - 2 ? 1 : off + 1);
	model_out_free(&o1);
	model_out_free(&o2);
	world_free(&w1);
	world_free(&w2);
}

/*
 * Known answer: the address every node allocates for the seed's
 * default/backend in the default service CIDR. A change to the allocation
 * hash moves every allocated ClusterIP on upgrade (clients holding the old
 * address reach nothing), so it cannot pass unnoticed.
 */
static void test_known_answer_default_backend(void **state)
{
	struct ipalloc_cidr c;
	struct ipalloc a;
	uint8_t ip[16];
	char text[64];

	(void)state;
	cidr(&c, "10.96.0.0/12");
	assert_int_equal(ipalloc_init(&a, &c), 0);
	assert_int_equal(ipalloc_assign(&a, "default", "backend", ip), 0);
	assert_string_equal(ipalloc_format(ip, text, sizeof(text)), "10.108.13.101");
	ipalloc_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_answer_default_backend),
		cmocka_unit_test(test_parse_v4_default_range),
		cmocka_unit_test(test_parse_v6),
		cmocka_unit_test(test_parse_smallest_v4),
		cmocka_unit_test(test_parse_rejects_host_bits),
		cmocka_unit_test(test_parse_rejects_bad_prefix),
		cmocka_unit_test(test_parse_rejects_too_small),
		cmocka_unit_test(test_parse_rejects_garbage),
		cmocka_unit_test(test_contains),
		cmocka_unit_test(test_assign_deterministic_across_allocators),
		cmocka_unit_test(test_assign_independent_of_other_services_order),
		cmocka_unit_test(test_assign_stays_inside_and_skips_network_broadcast),
		cmocka_unit_test(test_assign_in_default_range_is_inside),
		cmocka_unit_test(test_assign_v6_inside),
		cmocka_unit_test(test_assign_avoids_reserved),
		cmocka_unit_test(test_assign_reserve_reports_taken),
		cmocka_unit_test(test_collision_moves_to_next_free),
		cmocka_unit_test(test_tiny_cidr_fills_up),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_model_allocation_stable_across_file_sets),
		cmocka_unit_test(test_model_identical_input_identical_snapshot),
		cmocka_unit_test(test_model_explicit_ip_steers_allocation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
