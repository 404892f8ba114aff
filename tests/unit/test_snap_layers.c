/* SPDX-License-Identifier: MIT */
/*
 * A delta read over its base (snapshot.h, "Bases and deltas"; reader.h,
 * "Layers"). The base and the delta are built by the agent's own builder;
 * the second becomes a delta by its header (base_generation, re-sealed),
 * and the shadows and the SUPERSEDED section the writer would add are
 * planted by hand, so this tests the reader against the format, not
 * against one writer. Then the live table follows bases and deltas.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <setjmp.h>
#include <cmocka.h>

#include "ldmesh/hash.h"
#include "ldmesh/reader.h"
#include "snap_build.h"
#include "testutil.h"

#define HDR(b) ((struct ldmesh_snap_header *)(b))

static void v4(uint8_t out[16], uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	memset(out, 0, 16);
	out[10] = out[11] = 0xff;
	out[12] = a; out[13] = b; out[14] = c; out[15] = d;
}

/* ---- building ------------------------------------------------------------ */

struct blob {
	uint8_t *b;
	size_t size;
};

static const struct snap_port_in http = { .name = "http", .port = 80, .target_port = 8080,
					  .protocol = LDMESH_PROTO_TCP };
static const uint16_t p8080[1] = { 8080 };

/* One ClusterIP service 10.96.0.<ip> with `n` endpoints 10.244.<net>.<k+1>. */
static void svc(struct snap_service_in *s, struct snap_endpoint_in *eps, const char *name,
		uint8_t ip, uint8_t net, unsigned n, uint16_t flags)
{
	static const char *hosts[] = { "h0", "h1", "h2" };

	for (unsigned k = 0; k < n; k++) {
		eps[k] = (struct snap_endpoint_in){ .flags = LDMESH_EP_F_READY | LDMESH_EP_F_SERVING,
			.node = k ? "node-b" : "node-a", .zone = "zone-1", .target = name,
			.hostname = (flags & LDMESH_SVC_F_HEADLESS) ? hosts[k % 3] : NULL,
			.ports = p8080 };
		v4(eps[k].addr, 10, 244, net, (uint8_t)(k + 1));
	}
	*s = (struct snap_service_in){ .ns = "default", .name = name, .flags = flags,
		.n_cluster_ips = (flags & LDMESH_SVC_F_HEADLESS) ? 0 : 1, .ports = &http,
		.n_ports = 1, .endpoints = eps, .n_endpoints = n };
	v4(s->cluster_ips[0], 10, 96, 0, ip);
}

static struct blob build(const char *domain, const char *node, uint64_t gen,
			 const struct snap_service_in *svcs, size_t n)
{
	struct snap_input in = { .cluster_domain = domain, .node_name = node,
				 .generation = gen, .created_unix_ns = gen, .services = svcs,
				 .n_services = n };
	struct blob out;
	void *p = NULL;

	assert_int_equal(snap_build(&in, &p, &out.size), 0);
	out.b = p;
	return out;
}

/* The base of the fixtures: a (affinity, 3 endpoints), b, c, and the
 * headless h with per-pod names. */
static struct blob build_base(uint64_t gen, const char *domain, const char *node)
{
	static struct snap_endpoint_in ea[3], eb[1], ec[1], eh[2];
	struct snap_service_in s[4];

	svc(&s[0], ea, "a", 1, 1, 3, LDMESH_SVC_F_AFFINITY_CLIENT_IP);
	svc(&s[1], eb, "b", 2, 2, 1, 0);
	svc(&s[2], ec, "c", 3, 3, 1, 0);
	svc(&s[3], eh, "h", 0, 4, 2, LDMESH_SVC_F_HEADLESS);
	return build(domain, node, gen, s, 4);
}

static void reseal(struct blob *d)
{
	struct ldmesh_snap_header h;

	memcpy(&h, d->b, sizeof(h));
	ldmesh_snap_header_seal(d->b, &h);
}

static void make_delta(struct blob *d, uint64_t base_gen)
{
	HDR(d->b)->base_generation = base_gen;
	reseal(d);
}

/* The delta of the fixtures: b changed (one endpoint on 10.244.9.x), d new;
 * not yet a delta (make_delta). */
static struct blob build_delta_records(uint64_t gen, const char *domain, const char *node)
{
	static struct snap_endpoint_in eb[1], ed[2];
	struct snap_service_in s[2];

	svc(&s[0], eb, "b", 2, 9, 1, 0);
	svc(&s[1], ed, "d", 4, 8, 2, 0);
	return build(domain, node, gen, s, 2);
}

static void view(struct ldmesh_snap *s, const struct blob *d)
{
	char why[128];

	assert_int_equal(tu_snap_init(s, d->b, d->size, why, sizeof(why)), 0);
}

/* A shadow for a VIP key in the delta's own index, where a lookup of the
 * key probes, the probe bound raised to reach it. */
static void plant_vip_shadow(struct blob *d, const uint8_t addr[16], uint16_t port)
{
	struct ldmesh_snap s;
	struct ldmesh_vip_slot *slots;
	uint32_t i, n = 1;

	view(&s, d);
	slots = (struct ldmesh_vip_slot *)(d->b + HDR(d->b)->sections[LDMESH_SEC_VIP_INDEX].offset);
	i = (uint32_t)ldmesh_vip_hash(addr, port, LDMESH_PROTO_TCP) & (s.vip_slots - 1);
	for (; slots[i].service != LDMESH_NONE; i = (i + 1) & (s.vip_slots - 1))
		n++;
	memcpy(slots[i].addr, addr, 16);
	slots[i].port = port;
	slots[i].protocol = LDMESH_PROTO_TCP;
	slots[i].service = LDMESH_SHADOW;
	if (HDR(d->b)->vip_max_probe < n)
		HDR(d->b)->vip_max_probe = n;
	reseal(d);
}

/* The same for a name; `fqdn_ref` a unified string reference (the delta
 * may point at its base's copy of the name). */
static void plant_name_shadow(struct blob *d, const char *fqdn, ldmesh_str_t fqdn_ref)
{
	struct ldmesh_snap s;
	struct ldmesh_name_slot *slots;
	uint64_t h = ldmesh_hash64(fqdn, strlen(fqdn), 0);
	uint32_t i, n = 1;

	view(&s, d);
	slots = (struct ldmesh_name_slot *)(d->b + HDR(d->b)->sections[LDMESH_SEC_NAME_INDEX].offset);
	i = (uint32_t)h & (s.name_slots - 1);
	for (; slots[i].service != LDMESH_NONE; i = (i + 1) & (s.name_slots - 1))
		n++;
	slots[i] = (struct ldmesh_name_slot){ .hash = h, .fqdn = fqdn_ref,
					      .service = LDMESH_SHADOW, .endpoint = LDMESH_NONE };
	if (HDR(d->b)->name_max_probe < n)
		HDR(d->b)->name_max_probe = n;
	reseal(d);
}

/* SUPERSEDED appended at the end of the file (it is the last section). */
static void set_superseded(struct blob *d, const uint32_t *v, uint32_t n)
{
	uint64_t off = (d->size + 7) & ~7ULL;
	struct ldmesh_section *sec;

	d->b = realloc(d->b, off + 4 * (size_t)n + 8);
	assert_non_null(d->b);
	memset(d->b + d->size, 0, off - d->size);
	memcpy(d->b + off, v, 4 * (size_t)n);
	sec = &HDR(d->b)->sections[LDMESH_SEC_SUPERSEDED];
	sec->offset = off;
	sec->count = n;
	sec->size = 4ULL * n;
	d->size = off + 4 * (size_t)n;
	HDR(d->b)->total_size = d->size;
	reseal(d);
}

/* ---- the fixture: base 5, delta 7 over it, both views ----------------------- */

struct layers {
	struct blob base, delta;
	struct ldmesh_snap bv, dv; /* dv linked to bv */
	uint32_t base_b, base_c;   /* base indexes of b and c */
};

static const char *fq(const char *svc_name)
{
	static char buf[4][96];
	static unsigned k;
	char *b = buf[k++ % 4];

	snprintf(b, sizeof(buf[0]), "%s.default.svc.cluster.local", svc_name);
	return b;
}

static uint32_t base_index(const struct ldmesh_snap *base, const char *name)
{
	const struct ldmesh_name_slot *n = tu_name(base, fq(name), strlen(fq(name)));

	assert_non_null(n);
	return n->service;
}

static int layers_setup(void **state)
{
	struct layers *l = calloc(1, sizeof(*l));
	const struct ldmesh_name_slot *cn;
	uint8_t c_vip[16];
	uint32_t sup[2];
	char why[128];

	l->base = build_base(5, "cluster.local", "node-a");
	view(&l->bv, &l->base);
	l->base_b = base_index(&l->bv, "b");
	l->base_c = base_index(&l->bv, "c");
	cn = tu_name(&l->bv, fq("c"), strlen(fq("c")));

	l->delta = build_delta_records(7, "cluster.local", "node-a");
	make_delta(&l->delta, 5);
	v4(c_vip, 10, 96, 0, 3);
	plant_vip_shadow(&l->delta, c_vip, 80);
	{
		struct ldmesh_snap d;
		view(&d, &l->delta);
		plant_name_shadow(&l->delta, fq("c"), d.strings_size + cn->fqdn);
	}
	sup[0] = l->base_b < l->base_c ? l->base_b : l->base_c;
	sup[1] = l->base_b < l->base_c ? l->base_c : l->base_b;
	set_superseded(&l->delta, sup, 2);
	view(&l->dv, &l->delta);
	assert_int_equal(ldmesh_snap_link(&l->dv, &l->bv, NULL), 0);
	(void)why;
	*state = l;
	return 0;
}

static int layers_teardown(void **state)
{
	struct layers *l = *state;

	free(l->base.b);
	free(l->delta.b);
	free(l);
	return 0;
}

static const struct ldmesh_vip_slot *vip_of(const struct ldmesh_snap *s, uint8_t ip)
{
	uint8_t a[16];

	v4(a, 10, 96, 0, ip);
	return tu_vip(s, a, 80, LDMESH_PROTO_TCP);
}

static uint8_t first_ep_octet(const struct ldmesh_snap *s, uint32_t service)
{
	struct ldmesh_service v;
	struct ldmesh_endpoint e;

	assert_true(ldmesh_snap_service(s, service, &v));
	assert_true(ldmesh_snap_endpoint(s, v.first_endpoint, &e));
	return e.addr[14];
}

/* ---- lookups ------------------------------------------------------------- */

static void test_delta_record_wins(void **state)
{
	struct layers *l = *state;
	const struct ldmesh_vip_slot *v = vip_of(&l->dv, 2);
	const struct ldmesh_name_slot *n = tu_name(&l->dv, fq("b"), strlen(fq("b")));

	assert_non_null(v);
	assert_true(v->service < l->dv.n_services);
	assert_int_equal(first_ep_octet(&l->dv, v->service), 9); /* the delta's b */
	assert_int_equal(first_ep_octet(&l->bv, vip_of(&l->bv, 2)->service), 2);
	assert_non_null(n);
	assert_int_equal(n->service, v->service);
	/* new in the delta */
	assert_non_null(vip_of(&l->dv, 4));
	assert_null(vip_of(&l->bv, 4));
}

static void test_shadow_hides_base_key(void **state)
{
	struct layers *l = *state;
	struct ldmesh_snap unlinked;

	assert_non_null(vip_of(&l->bv, 3));
	assert_non_null(tu_name(&l->bv, fq("c"), strlen(fq("c"))));
	assert_null(vip_of(&l->dv, 3));
	assert_null(tu_name(&l->dv, fq("c"), strlen(fq("c"))));
	/* a shadow is absent in an unlinked delta too, and its own records
	 * still answer; the base's keys do not */
	view(&unlinked, &l->delta);
	assert_null(unlinked.base_snap);
	assert_null(vip_of(&unlinked, 3));
	assert_non_null(vip_of(&unlinked, 2));
	assert_null(vip_of(&unlinked, 1));
	assert_false(ldmesh_snap_service(&unlinked, unlinked.n_services, &(struct ldmesh_service){ 0 }));
	assert_int_equal(ldmesh_snap_service_count(&unlinked), unlinked.n_services);
}

/* Everything a reader gets for base service `name` through the delta is
 * what it gets from the base alone, its indexes moved up. */
static void same_service(const struct layers *l, uint32_t bi, uint32_t di)
{
	struct ldmesh_service bs, ds;
	const struct ldmesh_snap *b = &l->bv, *d = &l->dv;

	assert_true(ldmesh_snap_service(b, bi, &bs));
	assert_true(ldmesh_snap_service(d, di, &ds));
	assert_int_equal(di, bi + d->n_services);
	assert_string_equal(tu_str(d, ds.ns), tu_str(b, bs.ns));
	assert_string_equal(tu_str(d, ds.name), tu_str(b, bs.name));
	assert_int_equal(ds.first_port, bs.first_port + d->n_ports);
	assert_int_equal(ds.first_endpoint, bs.first_endpoint + d->n_endpoints);
	assert_int_equal(ds.endpoint_count, bs.endpoint_count);
	assert_memory_equal(ds.cluster_ips, bs.cluster_ips, sizeof(bs.cluster_ips));
	for (uint32_t p = 0; p < bs.port_count; p++) {
		struct ldmesh_port bp, dp;

		assert_true(ldmesh_snap_port(b, bs.first_port + p, &bp));
		assert_true(ldmesh_snap_port(d, ds.first_port + p, &dp));
		assert_int_equal(dp.port, bp.port);
		assert_int_equal(dp.target_port, bp.target_port);
		assert_string_equal(tu_str(d, dp.name), tu_str(b, bp.name));
		for (uint32_t e = 0; e < bs.endpoint_count; e++)
			assert_int_equal(ldmesh_snap_endpoint_port(d, &ds, ds.first_endpoint + e, p),
					 ldmesh_snap_endpoint_port(b, &bs, bs.first_endpoint + e, p));
	}
	for (uint32_t e = 0; e < bs.endpoint_count; e++) {
		struct ldmesh_endpoint be, de;

		assert_true(ldmesh_snap_endpoint(b, bs.first_endpoint + e, &be));
		assert_true(ldmesh_snap_endpoint(d, ds.first_endpoint + e, &de));
		assert_memory_equal(de.addr, be.addr, 16);
		assert_int_equal(de.flags, be.flags);
		assert_string_equal(tu_str(d, de.node), tu_str(b, be.node));
		assert_string_equal(tu_str(d, de.zone), tu_str(b, be.zone));
		assert_string_equal(tu_str(d, de.hostname), tu_str(b, be.hostname));
		assert_string_equal(tu_str(d, de.target), tu_str(b, be.target));
	}
	/* backend choice, affinity table included, for many draws */
	for (uint64_t r = 1; r < 200; r++) {
		uint64_t rnd = r * 0x9e3779b97f4a7c15ULL;
		uint16_t bp = 0, dp = 0;
		uint32_t be = ldmesh_snap_pick(b, &bs, 0, rnd, &bp);
		uint32_t de = ldmesh_snap_pick(d, &ds, 0, rnd, &dp);

		if (be == LDMESH_NONE) {
			assert_int_equal(de, LDMESH_NONE);
			continue;
		}
		assert_int_equal(de, be + d->n_endpoints);
		assert_int_equal(dp, bp);
	}
}

static void test_absent_key_falls_to_base(void **state)
{
	struct layers *l = *state;
	const struct ldmesh_vip_slot *bv = vip_of(&l->bv, 1), *dv = vip_of(&l->dv, 1);
	const struct ldmesh_name_slot *bn, *dn;
	struct ldmesh_service a;

	assert_non_null(bv);
	assert_non_null(dv);
	assert_int_equal(dv->service, bv->service + l->dv.n_services);
	assert_int_equal(dv->port_index, bv->port_index);
	assert_true(ldmesh_snap_service(&l->bv, bv->service, &a));
	assert_true(a.affinity_size > 0); /* the affinity path is covered */
	same_service(l, bv->service, dv->service);

	/* per-pod names of the headless base service: endpoint moved up */
	bn = tu_name(&l->bv, "h1.h.default.svc.cluster.local", 30);
	dn = tu_name(&l->dv, "h1.h.default.svc.cluster.local", 30);
	assert_non_null(bn);
	assert_non_null(dn);
	assert_int_not_equal(bn->endpoint, LDMESH_NONE);
	assert_int_equal(dn->service, bn->service + l->dv.n_services);
	assert_int_equal(dn->endpoint, bn->endpoint + l->dv.n_endpoints);
	assert_string_equal(tu_str(&l->dv, dn->fqdn), "h1.h.default.svc.cluster.local");
	same_service(l, bn->service, dn->service);
	dn = tu_name(&l->dv, fq("a"), strlen(fq("a")));
	assert_non_null(dn);
	assert_int_equal(dn->endpoint, LDMESH_NONE);
	/* out of the unified range */
	assert_false(ldmesh_snap_service(&l->dv, ldmesh_snap_service_count(&l->dv), &a));
	assert_string_equal(tu_str(&l->dv, l->dv.strings_size + l->bv.strings_size), "");
}

/* The connect path reads the layer holding the service: the same answer
 * as the unified view, with the base's own indexes. */
static void test_holder_is_the_layer_with_the_service(void **state)
{
	struct layers *l = *state;
	struct ldmesh_vip_slot in_base = *vip_of(&l->dv, 1), in_delta = *vip_of(&l->dv, 2);
	struct ldmesh_vip_slot unified = in_base;
	const struct ldmesh_snap *h;
	struct ldmesh_service a, b;
	uint16_t pa, pb;

	h = ldmesh_snap_holder(&l->dv, &in_base);
	assert_ptr_equal(h, &l->bv);
	assert_int_equal(in_base.service, vip_of(&l->bv, 1)->service);
	assert_true(ldmesh_snap_service(h, in_base.service, &a));
	assert_true(ldmesh_snap_service(&l->dv, unified.service, &b));
	assert_int_equal(a.endpoint_count, b.endpoint_count);
	for (uint64_t rnd = 0; rnd < 64; rnd++) {
		uint32_t ea = ldmesh_snap_pick(h, &a, in_base.port_index, rnd << 58, &pa);
		uint32_t eb = ldmesh_snap_pick(&l->dv, &b, unified.port_index, rnd << 58, &pb);
		assert_int_equal(ea + l->dv.n_endpoints, eb);
		assert_int_equal(pa, pb);
	}
	/* a service of the delta's own stays where it is */
	unified = in_delta;
	assert_ptr_equal(ldmesh_snap_holder(&l->dv, &in_delta), &l->dv);
	assert_int_equal(in_delta.service, unified.service);
	/* a base alone is its own holder */
	in_base = *vip_of(&l->bv, 1);
	assert_ptr_equal(ldmesh_snap_holder(&l->bv, &in_base), &l->bv);
}

static void test_listing_skips_superseded(void **state)
{
	struct layers *l = *state;
	uint32_t n = ldmesh_snap_service_count(&l->dv), listed = 0;
	char seen[64] = "";

	assert_int_equal(n, l->dv.n_services + l->bv.n_services);
	for (uint32_t i = 0; i < n; i++) {
		struct ldmesh_service s;

		if (!ldmesh_snap_service_listed(&l->dv, i))
			continue;
		listed++;
		assert_true(ldmesh_snap_service(&l->dv, i, &s));
		strcat(seen, tu_str(&l->dv, s.name));
	}
	assert_int_equal(listed, 4);
	assert_false(ldmesh_snap_service_listed(&l->dv, l->dv.n_services + l->base_b));
	assert_false(ldmesh_snap_service_listed(&l->dv, l->dv.n_services + l->base_c));
	assert_false(ldmesh_snap_service_listed(&l->dv, n));
	/* the delta's b and d, then the base's a and h */
	assert_string_equal(seen, "bdah");
	/* a base lists all it has */
	for (uint32_t i = 0; i < l->bv.n_services; i++)
		assert_true(ldmesh_snap_service_listed(&l->bv, i));
}

/* ---- link and header ------------------------------------------------------ */

static void expect_link(struct ldmesh_snap *d, const struct ldmesh_snap *b, const char *reason)
{
	const char *why = NULL;

	d->base_snap = NULL;
	assert_int_equal(ldmesh_snap_link(d, b, &why), -EINVAL);
	assert_non_null(why);
	if (!strstr(why, reason))
		fail_msg("refused for \"%s\", want \"%s\"", why, reason);
	assert_null(d->base_snap);
}

static void test_link_refuses(void **state)
{
	struct layers *l = *state;
	struct ldmesh_snap d, b;
	struct blob other;

	view(&d, &l->delta);
	expect_link(&d, &d, "itself a delta");
	b = l->bv;
	b.generation = 4;
	expect_link(&d, &b, "not the generation");
	expect_link(&l->bv, &l->bv, "not a delta");
	b = l->bv;
	b.n_services = LDMESH_SHADOW - d.n_services;
	expect_link(&d, &b, "too large");
	b = l->bv;
	b.strings_size = UINT32_MAX;
	expect_link(&d, &b, "too large");

	other = build_base(5, "other.local", "node-a");
	view(&b, &other);
	expect_link(&d, &b, "cluster domain");
	free(other.b);
	other = build_base(5, "cluster.local", "node-z");
	view(&b, &other);
	expect_link(&d, &b, "node name");
	free(other.b);
	assert_int_equal(ldmesh_snap_link(&d, &l->bv, NULL), 0);
}

static void test_header_checks(void **state)
{
	struct layers *l = *state;
	struct ldmesh_snap s;
	struct blob d = { .size = l->delta.size };
	const char *why = NULL;
	uint32_t one = 0;

	d.b = malloc(d.size);
	memcpy(d.b, l->delta.b, d.size);
	make_delta(&d, 7); /* its own generation */
	assert_int_equal(ldmesh_snap_init(&s, d.b, d.size, &why), -EINVAL);
	assert_non_null(strstr(why, "base generation not older"));
	make_delta(&d, 8);
	assert_int_equal(ldmesh_snap_init(&s, d.b, d.size, &why), -EINVAL);
	make_delta(&d, 0); /* a base with SUPERSEDED entries */
	assert_int_equal(ldmesh_snap_init(&s, d.b, d.size, &why), -EINVAL);
	assert_non_null(strstr(why, "superseded"));
	set_superseded(&d, &one, 0);
	assert_int_equal(ldmesh_snap_init(&s, d.b, d.size, &why), 0);
	assert_int_equal(s.base_generation, 0);
	free(d.b);
}

/* ---- files ---------------------------------------------------------------- */

static void write_snap(const char *dir, uint64_t gen, const struct blob *d)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/snap.%llu", dir, (unsigned long long)gen);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, d->b, d->size), (ssize_t)d->size);
	close(fd);
}

static void test_map_file_links_base(void **state)
{
	struct layers *l = *state;
	char *dir = tu_tmpdir("layers"), path[512], why[256];
	struct ldmesh_snap s;

	write_snap(dir, 7, &l->delta);
	snprintf(path, sizeof(path), "%s/snap.7", dir);
	/* no base yet: refused, nothing left mapped */
	assert_int_not_equal(ldmesh_snap_map_file(&s, path, why, sizeof(why)), 0);
	assert_non_null(strstr(why, "snap.5"));
	write_snap(dir, 5, &l->base);
	assert_int_equal(ldmesh_snap_map_file(&s, path, why, sizeof(why)), 0);
	assert_non_null(s.base_snap);
	assert_int_equal(s.base_snap->generation, 5);
	assert_int_equal(vip_of(&s, 1)->service, vip_of(&l->bv, 1)->service + s.n_services);
	assert_null(vip_of(&s, 3));
	ldmesh_snap_unmap(&s);
	assert_null(s.base_snap);
	assert_null(s.base);
	tu_rmtree(dir);
	free(dir);
}

/* ---- the live table --------------------------------------------------------- */

struct live {
	char *dir;
	struct ldmesh_control *control; /* the writer's mapping */
	struct ldmesh_table t;
	char refused[256];
	unsigned n_refused;
	char ahead[256]; /* the last LDMESH_TABLE_AHEAD's why */
};

static void live_event(void *ctx, enum ldmesh_table_event ev, uint64_t gen, const char *why)
{
	struct live *lv = ctx;

	(void)gen;
	if (ev == LDMESH_TABLE_REFUSED) {
		snprintf(lv->refused, sizeof(lv->refused), "%s", why);
		lv->n_refused++;
	}
	if (ev == LDMESH_TABLE_AHEAD)
		snprintf(lv->ahead, sizeof(lv->ahead), "%s", why);
}

static void live_open(struct live *lv)
{
	char path[512];
	int fd;

	memset(lv, 0, sizeof(*lv));
	lv->dir = tu_tmpdir("layers-live");
	chmod(lv->dir, 0755);
	snprintf(path, sizeof(path), "%s/control", lv->dir);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 4096), 0);
	lv->control = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(lv->control != MAP_FAILED);
	close(fd);
	lv->control->magic = LDMESH_CONTROL_MAGIC;
	lv->control->version_major = LDMESH_SNAP_VERSION_MAJOR;
	assert_int_equal(ldmesh_table_init(&lv->t, lv->dir, &ldmesh_reader_libc, live_event, lv), 0);
}

/* The record of snap.<gen> as the agent writes it; false when there is no
 * such file. */
static bool live_record(struct live *lv, uint64_t gen, struct ldmesh_control_record *rec)
{
	char path[512];
	uint8_t head[LDMESH_SNAP_HEADER_SIZE];
	struct ldmesh_snap_header h;
	struct ldmesh_file_id base = { 0, 0 };
	struct stat st, bst;
	bool ok = false;
	int fd;

	snprintf(path, sizeof(path), "%s/snap.%llu", lv->dir, (unsigned long long)gen);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && pread(fd, head, sizeof(head), 0) == (ssize_t)sizeof(head) &&
	    fstat(fd, &st) == 0) {
		memcpy(&h, head, sizeof(h));
		snprintf(path, sizeof(path), "%s/snap.%llu", lv->dir,
			 (unsigned long long)h.base_generation);
		if (h.base_generation && stat(path, &bst) == 0)
			base = ldmesh_file_id_of(&bst);
		ldmesh_control_record_seal(rec, head, ldmesh_file_id_of(&st), base);
		ok = true;
	}
	if (fd >= 0)
		close(fd);
	return ok;
}

/* As the agent publishes: the record of snap.<gen> (when there is such a
 * file), then the generation. */
static void live_publish(struct live *lv, uint64_t gen)
{
	struct ldmesh_control_record rec;

	if (live_record(lv, gen, &rec))
		ldmesh_control_record_put(lv->control, &rec);
	__atomic_store_n(&lv->control->generation, gen, __ATOMIC_RELEASE);
}

/* As the agent announces a base ahead: its record in `ahead`, the
 * generation unchanged. */
static void live_announce(struct live *lv, uint64_t gen)
{
	struct ldmesh_control_record rec;

	assert_true(live_record(lv, gen, &rec));
	ldmesh_control_ahead_put(lv->control, &rec);
}

static void live_remove(struct live *lv, uint64_t gen)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/snap.%llu", lv->dir, (unsigned long long)gen);
	unlink(path);
}

/* Generation `gen` as a base (base_gen 0) or a delta over base_gen: "g"
 * with endpoint 10.244.<net>.1, and in a base "only-base" with
 * 10.244.<base_net>.1. */
static void live_write_nets(struct live *lv, uint64_t gen, uint64_t base_gen, uint8_t net,
			    uint8_t base_net)
{
	static struct snap_endpoint_in ep[1];
	struct snap_service_in s[2];
	struct blob b;
	unsigned n = 1;

	svc(&s[0], ep, "g", 1, net, 1, 0);
	if (!base_gen) { /* a base also holds a service only it has */
		static struct snap_endpoint_in eo[1];
		svc(&s[1], eo, "only-base", 2, base_net, 1, 0);
		n = 2;
	}
	b = build("cluster.local", "node-a", gen, s, n);
	if (base_gen)
		make_delta(&b, base_gen);
	write_snap(lv->dir, gen, &b);
	free(b.b);
}

/* The endpoint of "g" telling the generation: 10.244.<gen>.1. */
static void live_write(struct live *lv, uint64_t gen, uint64_t base_gen)
{
	live_write_nets(lv, gen, base_gen, (uint8_t)gen, 200);
}

/* What a pod sees now: the generation and the endpoint behind 10.96.0.1,
 * and whether the base-only service answers through it. */
static uint64_t live_gen(struct live *lv, uint8_t *ep_net, bool *base_svc)
{
	int slot;
	const struct ldmesh_snap *s = ldmesh_table_acquire(&lv->t, &slot);
	uint64_t g;

	assert_non_null(s);
	g = s->generation;
	*ep_net = first_ep_octet(s, vip_of(s, 1)->service);
	*base_svc = vip_of(s, 2) != NULL;
	ldmesh_table_release(&lv->t, slot);
	return g;
}

static unsigned live_used(struct live *lv)
{
	unsigned n = 0;

	for (int i = 0; i < LDMESH_TABLE_SLOTS; i++)
		n += atomic_load(&lv->t.slots[i].used);
	return n;
}

static unsigned live_maps(const char *dir)
{
	char line[1024];
	unsigned n = 0;
	FILE *f = fopen("/proc/self/maps", "r");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		n += strstr(line, dir) && strstr(line, "/snap.");
	fclose(f);
	return n;
}

/* The table closed: none of its files stays mapped. */
static void live_close(struct live *lv)
{
	ldmesh_table_close(&lv->t);
	assert_int_equal(live_maps(lv->dir), 0);
	munmap(lv->control, 4096);
	tu_rmtree(lv->dir);
	free(lv->dir);
}

static void live_expect(struct live *lv, uint64_t gen, uint8_t net)
{
	uint8_t got;
	bool base_svc;

	assert_int_equal(live_gen(lv, &got, &base_svc), gen);
	assert_int_equal(got, net);
	assert_true(base_svc);
}

/* Mappings of snap.<gen> in this process, `deleted` ones (of a file
 * since removed) or not. */
static unsigned live_mapped(struct live *lv, uint64_t gen, bool deleted)
{
	char line[1024], name[64], gone[80];
	unsigned n = 0;
	FILE *f = fopen("/proc/self/maps", "r");

	snprintf(name, sizeof(name), "/snap.%llu\n", (unsigned long long)gen);
	snprintf(gone, sizeof(gone), "/snap.%llu (deleted)\n", (unsigned long long)gen);
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		n += strstr(line, lv->dir) && strstr(line, deleted ? gone : name);
	fclose(f);
	return n;
}

/* The endpoint octet of "only-base" now. */
static uint8_t live_base_net(struct live *lv)
{
	int slot;
	const struct ldmesh_snap *s = ldmesh_table_acquire(&lv->t, &slot);
	uint8_t net;

	assert_non_null(s);
	net = first_ep_octet(s, vip_of(s, 2)->service);
	ldmesh_table_release(&lv->t, slot);
	return net;
}

/*
 * A base announced ahead (snapshot.h, 3.2) is mapped by the once-a-second
 * check, not before, and the switch to it, or to a delta over it, uses
 * that mapping. An announced file is only ever used as the file a
 * generation's own record names: one put in its place under the same
 * number (an agent restarted meanwhile) is mapped afresh, as base and as
 * a delta's base. One passed over, or announced by a damaged record, is
 * let go or never mapped.
 */
static void test_table_maps_announced_base(void **state)
{
	struct live lv;
	(void)state;

	live_open(&lv);
	live_write(&lv, 1, 0);
	live_publish(&lv, 1);
	live_expect(&lv, 1, 1);

	/* mapped at the check, then the edit before it became current is a
	 * delta over it: the one mapping serves as its base */
	live_write(&lv, 2, 0);
	live_announce(&lv, 2);
	live_expect(&lv, 1, 1);
	assert_int_equal(live_mapped(&lv, 2, false), 0);
	ldmesh_table_check_now(&lv.t);
	live_expect(&lv, 1, 1);
	assert_int_equal(live_mapped(&lv, 2, false), 1);
	live_write(&lv, 3, 2);
	live_publish(&lv, 3);
	live_expect(&lv, 3, 3);
	assert_int_equal(live_mapped(&lv, 2, false), 1);

	/* mapped ahead, then current: no second mapping; the check then
	 * lets go of what it replaced */
	live_write(&lv, 4, 0);
	live_announce(&lv, 4);
	ldmesh_table_check_now(&lv.t);
	live_expect(&lv, 3, 3);
	assert_int_equal(live_mapped(&lv, 4, false), 1);
	live_publish(&lv, 4);
	live_expect(&lv, 4, 4);
	assert_int_equal(live_mapped(&lv, 4, false), 1);
	ldmesh_table_check_now(&lv.t);
	live_expect(&lv, 4, 4);
	assert_int_equal(live_maps(lv.dir), 1);

	/* another file under the announced number: the switch maps that
	 * one, and the check lets go of the one announced */
	live_write_nets(&lv, 5, 0, 5, 205);
	live_announce(&lv, 5);
	ldmesh_table_check_now(&lv.t);
	live_expect(&lv, 4, 4);
	live_remove(&lv, 5);
	live_write_nets(&lv, 5, 0, 55, 155);
	live_publish(&lv, 5);
	live_expect(&lv, 5, 55);
	assert_int_equal(live_base_net(&lv), 155);
	assert_int_equal(live_mapped(&lv, 5, true), 1);
	ldmesh_table_check_now(&lv.t);
	live_expect(&lv, 5, 55);
	assert_int_equal(live_mapped(&lv, 5, true), 0);

	/* the same as a delta's base */
	live_write_nets(&lv, 6, 0, 6, 206);
	live_announce(&lv, 6);
	ldmesh_table_check_now(&lv.t);
	live_expect(&lv, 5, 55);
	live_remove(&lv, 6);
	live_write_nets(&lv, 6, 0, 66, 166);
	live_write(&lv, 7, 6);
	live_publish(&lv, 7);
	live_expect(&lv, 7, 7);
	assert_int_equal(live_base_net(&lv), 166);
	ldmesh_table_check_now(&lv.t);
	live_expect(&lv, 7, 7);
	assert_int_equal(live_mapped(&lv, 6, true), 0);

	/* passed over by a base published meanwhile: let go at the check */
	live_write(&lv, 8, 0);
	live_announce(&lv, 8);
	ldmesh_table_check_now(&lv.t);
	live_expect(&lv, 7, 7);
	assert_int_equal(live_mapped(&lv, 8, false), 1);
	live_write(&lv, 9, 0);
	live_publish(&lv, 9);
	live_expect(&lv, 9, 9);
	ldmesh_table_check_now(&lv.t);
	live_expect(&lv, 9, 9);
	assert_int_equal(live_mapped(&lv, 8, false), 0);

	/* a damaged announcement maps nothing; the switch maps the file */
	live_write(&lv, 10, 0);
	live_announce(&lv, 10);
	lv.control->ahead.checksum ^= 1;
	ldmesh_table_check_now(&lv.t);
	live_expect(&lv, 9, 9);
	assert_int_equal(live_mapped(&lv, 10, false), 0);
	live_publish(&lv, 10);
	live_expect(&lv, 10, 10);
	assert_int_equal(lv.n_refused, 0);

	live_close(&lv);
}

/* ---- warming an announced base ------------------------------------------------ */

#define WARM_SERVICES 20000u

/* Base `gen` of WARM_SERVICES services s-<i>, ClusterIP 10.96.<i/256>.<i%256>,
 * one endpoint 10.244.<i/256>.<i%256>: a file of a few MB, so that the keys
 * a test looks up lie pages apart. */
static void live_write_many(struct live *lv, uint64_t gen)
{
	struct snap_service_in *s = calloc(WARM_SERVICES, sizeof(*s));
	struct snap_endpoint_in *eps = calloc(WARM_SERVICES, sizeof(*eps));
	char (*names)[16] = calloc(WARM_SERVICES, sizeof(*names));
	struct blob b;

	assert_non_null(s);
	assert_non_null(eps);
	assert_non_null(names);
	for (unsigned i = 0; i < WARM_SERVICES; i++) {
		snprintf(names[i], sizeof(names[i]), "s-%u", i);
		svc(&s[i], &eps[i], names[i], 0, 0, 1, 0);
		v4(s[i].cluster_ips[0], 10, 96, (uint8_t)(i >> 8), (uint8_t)i);
		v4(eps[i].addr, 10, 244, (uint8_t)(i >> 8), (uint8_t)i);
	}
	b = build("cluster.local", "node-a", gen, s, WARM_SERVICES);
	write_snap(lv->dir, gen, &b);
	free(b.b);
	free(names);
	free(eps);
	free(s);
}

static long thread_minor_faults(void)
{
	struct rusage ru;

	assert_int_equal(getrusage(RUSAGE_THREAD, &ru), 0);
	return ru.ru_minflt;
}

/* What the preload reads for service s-<i>: its VIP (connect: service,
 * pick, endpoint, the names the trace prints) and its name (getaddrinfo,
 * with the cluster domain lookup_name reads first). */
static void lookup_service(const struct ldmesh_snap *s, unsigned i, uint64_t *vip_hash,
			 uint64_t *name_hash)
{
	uint8_t ip[16];
	char fqdn[64];
	struct ldmesh_vip_slot vip;
	struct ldmesh_name_slot name;
	struct ldmesh_service sv;
	struct ldmesh_endpoint ep;
	uint16_t port;
	size_t len;

	v4(ip, 10, 96, (uint8_t)(i >> 8), (uint8_t)i);
	*vip_hash = ldmesh_vip_hash(ip, 80, LDMESH_PROTO_TCP);
	assert_true(ldmesh_snap_find_vip_hashed(s, *vip_hash, ip, 80, LDMESH_PROTO_TCP, &vip));
	assert_true(ldmesh_snap_service(s, vip.service, &sv));
	assert_true(ldmesh_snap_endpoint(s, ldmesh_snap_pick(s, &sv, vip.port_index, i, &port),
					 &ep));
	assert_int_equal(ep.addr[14], (uint8_t)(i >> 8));
	assert_int_equal(ep.addr[15], (uint8_t)i);
	assert_int_equal(port, 8080);
	(void)ldmesh_snap_string(s, sv.ns);
	(void)ldmesh_snap_string(s, sv.name);
	(void)ldmesh_snap_string(s, s->cluster_domain);
	len = (size_t)snprintf(fqdn, sizeof(fqdn), "s-%u.default.svc.cluster.local", i);
	assert_true(ldmesh_snap_find_name(s, fqdn, len, &name));
	assert_int_equal(name.service, vip.service);
	*name_hash = name.hash;
}

/* Service s-<i> looked up in the live table (lookup_service), noted as
 * the preload's hooks note them when `note`. Returns the minor faults the
 * lookups took (in this thread: nothing else runs in it meanwhile). */
static long live_lookup_service(struct live *lv, unsigned i, uint64_t want_gen, bool note)
{
	const struct ldmesh_snap *s;
	uint64_t vh, nh;
	int slot;
	long f0 = thread_minor_faults();

	s = ldmesh_table_acquire(&lv->t, &slot);
	assert_non_null(s);
	assert_int_equal(s->generation, want_gen);
	lookup_service(s, i, &vh, &nh);
	ldmesh_table_release(&lv->t, slot);
	f0 = thread_minor_faults() - f0;
	if (note) {
		ldmesh_table_note_vip(&lv->t, vh);
		ldmesh_table_note_name(&lv->t, nh);
	}
	return f0;
}

/* ---- which pages a warm reads ---------------------------------------------- */

/* A snapshot copied into pages that are all PROT_NONE until read: the
 * SIGSEGV handler records each page read and opens it, so a run of code
 * tells exactly which pages of the snapshot it read, whatever the
 * filesystem's folio sizes or the kernel's fault-around. */
#define TRAP_PAGES_MAX 4096
static uint8_t *trap_base;
static size_t trap_npages, trap_page;
static unsigned char trap_read[TRAP_PAGES_MAX];

static void trap_segv(int sig, siginfo_t *si, void *uc)
{
	uintptr_t a = (uintptr_t)si->si_addr, b = (uintptr_t)trap_base;
	size_t k = (a - b) / trap_page;

	(void)uc;
	if (a < b || k >= trap_npages) {
		signal(sig, SIG_DFL); /* not ours: crash as it would */
		return;
	}
	trap_read[k] = 1;
	mprotect(trap_base + k * trap_page, trap_page, PROT_READ);
}

static void trap_arm(void)
{
	memset(trap_read, 0, sizeof(trap_read));
	assert_int_equal(mprotect(trap_base, trap_npages * trap_page, PROT_NONE), 0);
}

static unsigned trap_count(const unsigned char *set)
{
	unsigned n = 0;

	for (size_t k = 0; k < trap_npages; k++)
		n += set[k];
	return n;
}

/*
 * ldmesh_snap_warm reads every page the lookups of its keys read (so
 * they take no fault after the switch), little else, and no more pages
 * than its budget.
 */
static void test_warm_reads_the_lookups_pages(void **state)
{
	static const unsigned keys[] = { 3, 9001, 19999 };
	unsigned char looked[TRAP_PAGES_MAX];
	uint64_t vh[3], nh[3];
	struct sigaction sa = { .sa_sigaction = trap_segv, .sa_flags = SA_SIGINFO }, old;
	struct ldmesh_snap s;
	struct live lv;
	char path[512];
	struct blob b;
	unsigned n_looked, n_warm;
	int fd;
	(void)state;

	/* the snapshot as the agent writes it, copied into trap pages */
	live_open(&lv);
	live_write_many(&lv, 1);
	snprintf(path, sizeof(path), "%s/snap.1", lv.dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	b.size = (size_t)lseek(fd, 0, SEEK_END);
	trap_page = (size_t)sysconf(_SC_PAGESIZE);
	trap_npages = (b.size + trap_page - 1) / trap_page;
	assert_true(trap_npages <= TRAP_PAGES_MAX);
	trap_base = mmap(NULL, trap_npages * trap_page, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(trap_base != MAP_FAILED);
	assert_int_equal(pread(fd, trap_base, b.size, 0), (ssize_t)b.size);
	close(fd);
	view(&s, &(struct blob){ trap_base, b.size });
	assert_int_equal(sigaction(SIGSEGV, &sa, &old), 0);

	trap_arm();
	for (unsigned k = 0; k < 3; k++)
		lookup_service(&s, keys[k], &vh[k], &nh[k]);
	memcpy(looked, trap_read, sizeof(looked));
	n_looked = trap_count(looked);

	trap_arm();
	assert_int_equal(ldmesh_snap_warm(&s, vh, 3, nh, 3, LDMESH_TABLE_WARM_PAGES), 6);
	n_warm = trap_count(trap_read);
	for (size_t k = 0; k < trap_npages; k++)
		if (looked[k] && !trap_read[k])
			fail_msg("page %zu read by a lookup, not warmed", k);
	/* beyond them only whole ranges the lookups read one entry of */
	assert_true(n_warm <= n_looked + 3);
	assert_true(n_warm <= LDMESH_TABLE_WARM_PAGES);

	/* the budget bounds it; keys not in the table read only probes */
	trap_arm();
	ldmesh_snap_warm(&s, vh, 3, nh, 3, 2);
	assert_true(trap_count(trap_read) <= 2);
	vh[0] ^= 1;
	trap_arm();
	assert_int_equal(ldmesh_snap_warm(&s, vh, 1, NULL, 0, LDMESH_TABLE_WARM_PAGES), 0);
	assert_true(trap_count(trap_read) <= 2);

	assert_int_equal(sigaction(SIGSEGV, &old, NULL), 0);
	munmap(trap_base, trap_npages * trap_page);
	live_close(&lv);
}

/*
 * The check that maps a base announced ahead also reads, in it, the pages
 * this process's recent lookups will read (ldmesh_snap_warm): the first
 * lookups of those services after the switch take no page fault at all,
 * where without the notes they fault.
 */
static void test_table_warms_announced_base(void **state)
{
	static const unsigned keys[] = { 3, 9001, 19999 };
	struct live lv;
	long faults = 0;
	(void)state;

	live_open(&lv);
	live_write_many(&lv, 1);
	live_publish(&lv, 1);
	for (unsigned k = 0; k < 3; k++)
		live_lookup_service(&lv, keys[k], 1, false);

	/* not noted: the first lookups after the switch fault */
	live_write_many(&lv, 2);
	live_announce(&lv, 2);
	ldmesh_table_check_now(&lv.t);
	live_lookup_service(&lv, 5, 1, false);
	assert_string_equal(lv.ahead, "warmed for 0 keys this process looked up");
	live_publish(&lv, 2);
	for (unsigned k = 0; k < 3; k++)
		faults += live_lookup_service(&lv, keys[k], 2, true);
	assert_true(faults > 0);

	/* noted (just now): warmed by the check, no fault after the switch */
	live_write_many(&lv, 3);
	live_announce(&lv, 3);
	ldmesh_table_check_now(&lv.t);
	live_lookup_service(&lv, keys[0], 2, true);
	assert_string_equal(lv.ahead, "warmed for 6 keys this process looked up");
	live_publish(&lv, 3);
	for (unsigned k = 0; k < 3; k++)
		assert_int_equal(live_lookup_service(&lv, keys[k], 3, true), 0);
	assert_int_equal(lv.n_refused, 0);
	live_close(&lv);
}

static void test_table_follows_layers(void **state)
{
	struct live lv;
	int slot;
	(void)state;

	live_open(&lv);
	live_write(&lv, 1, 0);
	live_publish(&lv, 1);
	live_expect(&lv, 1, 1);
	live_write(&lv, 2, 1);
	live_publish(&lv, 2);
	live_expect(&lv, 2, 2);
	live_write(&lv, 3, 1);
	live_publish(&lv, 3);
	live_expect(&lv, 3, 3);
	/* the base was mapped once and is shared: delta 3 and base 1, and
	 * delta 2 left for the check, not unmapped by the switch */
	assert_int_equal(live_used(&lv), 3);
	assert_int_equal(live_maps(lv.dir), 3);
	ldmesh_table_check_now(&lv.t);
	live_expect(&lv, 3, 3);
	assert_int_equal(live_used(&lv), 2);
	assert_int_equal(live_maps(lv.dir), 2);

	/* a new base, then a delta over it whose base the reader never saw
	 * and which is gone: keep 3, refuse without a fault */
	live_write(&lv, 4, 0);
	live_write(&lv, 5, 4);
	live_remove(&lv, 4);
	live_publish(&lv, 5);
	live_expect(&lv, 3, 3);
	assert_int_equal(lv.n_refused, 1);
	assert_non_null(strstr(lv.refused, "snap.4"));
	/* the agent moves on: a new base and a delta over it */
	live_write(&lv, 6, 0);
	live_write(&lv, 7, 6);
	live_publish(&lv, 7);
	live_expect(&lv, 7, 7);
	assert_int_equal(live_used(&lv), 4);
	ldmesh_table_check_now(&lv.t);
	live_expect(&lv, 7, 7);
	assert_int_equal(live_used(&lv), 2);

	/* a reader inside a delta keeps it and its base while the table
	 * moves to a delta over yet another base */
	{
		const struct ldmesh_snap *held = ldmesh_table_acquire(&lv.t, &slot);
		live_write(&lv, 8, 0);
		live_write(&lv, 9, 8);
		live_publish(&lv, 9);
		live_expect(&lv, 9, 9);
		assert_int_equal(live_used(&lv), 4);
		assert_int_equal(first_ep_octet(held, vip_of(held, 1)->service), 7);
		assert_non_null(vip_of(held, 2)); /* through base 6 */
		/* the check leaves the pinned pair alone */
		ldmesh_table_check_now(&lv.t);
		live_expect(&lv, 9, 9);
		assert_int_equal(live_used(&lv), 4);
		ldmesh_table_release(&lv.t, slot);
		ldmesh_table_check_now(&lv.t);
		live_expect(&lv, 9, 9);
		assert_int_equal(live_used(&lv), 2);
	}

	/* many generations, the agent's pattern: a base every fourth, the
	 * files before the current base removed; the slots stay bounded
	 * with no check due (a switch that finds none free releases what it
	 * can) */
	uint64_t base = 8;
	for (uint64_t g = 10; g < 400; g++) {
		bool is_base = g % 4 == 0;

		live_write(&lv, g, is_base ? 0 : base);
		live_publish(&lv, g);
		if (g % 3)
			live_expect(&lv, g, (uint8_t)g);
		if (is_base) {
			for (uint64_t o = base; o < g; o++)
				live_remove(&lv, o);
			base = g;
		}
		assert_true(live_used(&lv) <= LDMESH_TABLE_SLOTS);
		assert_true(live_maps(lv.dir) <= LDMESH_TABLE_SLOTS);
	}
	live_expect(&lv, 399, (uint8_t)399);
	ldmesh_table_check_now(&lv.t);
	live_expect(&lv, 399, (uint8_t)399);
	assert_int_equal(live_used(&lv), 2);
	assert_int_equal(live_maps(lv.dir), 2);
	assert_int_equal(lv.n_refused, 1);

	/* a new base put in the place of the one the record names, after the
	 * delta over it was published: the delta is refused, naming the base
	 * (same bytes, root's, 0444: only the record tells them apart) */
	{
		char path[512], copy[520];

		live_write(&lv, 400, 0);
		live_write(&lv, 401, 400);
		live_publish(&lv, 401);
		snprintf(path, sizeof(path), "%s/snap.400", lv.dir);
		snprintf(copy, sizeof(copy), "%s.copy", path);
		assert_int_equal(link(path, copy), 0);
		assert_int_equal(unlink(path), 0);
		live_write(&lv, 400, 0);
		live_expect(&lv, 399, (uint8_t)399);
		assert_int_equal(lv.n_refused, 2);
		assert_non_null(strstr(lv.refused, "snap.400: not the file the control page published"));
		unlink(copy);
	}
	live_close(&lv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_delta_record_wins, layers_setup, layers_teardown),
		cmocka_unit_test_setup_teardown(test_shadow_hides_base_key, layers_setup, layers_teardown),
		cmocka_unit_test_setup_teardown(test_absent_key_falls_to_base, layers_setup, layers_teardown),
		cmocka_unit_test_setup_teardown(test_holder_is_the_layer_with_the_service,
						layers_setup, layers_teardown),
		cmocka_unit_test_setup_teardown(test_listing_skips_superseded, layers_setup, layers_teardown),
		cmocka_unit_test_setup_teardown(test_link_refuses, layers_setup, layers_teardown),
		cmocka_unit_test_setup_teardown(test_header_checks, layers_setup, layers_teardown),
		cmocka_unit_test_setup_teardown(test_map_file_links_base, layers_setup, layers_teardown),
		cmocka_unit_test(test_table_follows_layers),
		cmocka_unit_test(test_table_maps_announced_base),
		cmocka_unit_test(test_warm_reads_the_lookups_pages),
		cmocka_unit_test(test_table_warms_announced_base),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
