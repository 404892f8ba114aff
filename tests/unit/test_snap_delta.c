/*
 * Deltas over a base (agent/snapshot/snap_delta.c): after random sequences of
 * edits, a lookup layered over base and delta (delta first: a record
 * answers, a shadow says absent, no slot goes on to the base) answers
 * every key exactly as a full build of the same services does. Also
 * SUPERSEDED, the "nothing to publish" answer, the delta's size, and
 * -ESTALE without a usable base. The lookup is this test's own, over two
 * views, so it checks the writer against the format, not against the
 * reader's layering.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ldmesh/hash.h"
#include "ldmesh/reader.h"
#include "snap_build.h"
#include "testutil.h"

#define VARIANTS 8      /* bit 0: the port set; bits 1-2: the endpoints */
#define MAX_EPS 3
#define ABSENT (-1)

/* One service's input, with the storage it points into. */
struct svc_buf {
	char ns[16], name[24], hostnames[MAX_EPS][16], target[MAX_EPS][32];
	struct snap_port_in ports[2];
	uint16_t ep_ports[MAX_EPS][2];
	struct snap_endpoint_in eps[MAX_EPS];
	struct snap_service_in in;
};

static void v4(uint8_t out[16], uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	memset(out, 0, 16);
	out[10] = out[11] = 0xff;
	out[12] = a; out[13] = b; out[14] = c; out[15] = d;
}

static void cluster_ip(uint8_t out[16], unsigned i)
{
	v4(out, 10, (uint8_t)(96 + (i >> 16)), (uint8_t)(i >> 8), (uint8_t)i);
}

static int headless(unsigned i)
{
	return i % 5 == 0;
}

/* Service i in variant v: every (i, v) has content of its own. */
static void fill(struct svc_buf *b, unsigned i, int v)
{
	unsigned n_eps = 1 + ((unsigned)v >> 1) % MAX_EPS;

	memset(b, 0, sizeof(*b));
	snprintf(b->ns, sizeof(b->ns), "ns-%u", i % 3);
	snprintf(b->name, sizeof(b->name), "svc-%u", i);
	if (v & 1) {
		b->ports[0] = (struct snap_port_in){ .name = "a", .port = 81, .target_port = 8081,
						     .protocol = LDMESH_PROTO_TCP };
		b->ports[1] = (struct snap_port_in){ .name = "m", .port = 9090, .target_port = 9091,
						     .protocol = LDMESH_PROTO_TCP };
	} else {
		b->ports[0] = (struct snap_port_in){ .name = "a", .port = 80, .target_port = 8080,
						     .protocol = LDMESH_PROTO_TCP };
	}
	for (unsigned k = 0; k < n_eps; k++) {
		struct snap_endpoint_in *e = &b->eps[k];
		v4(e->addr, 10, (uint8_t)(128 + (i >> 8)), (uint8_t)i, (uint8_t)(v * 8 + k + 1));
		e->flags = LDMESH_EP_F_READY | LDMESH_EP_F_SERVING;
		e->node = k ? "node-a" : "node-b";
		snprintf(b->hostnames[k], sizeof(b->hostnames[k]), "h%d-%u", v, k);
		snprintf(b->target[k], sizeof(b->target[k]), "Pod/svc-%u-%d-%u", i, v, k);
		e->hostname = headless(i) ? b->hostnames[k] : NULL;
		e->target = b->target[k];
		b->ep_ports[k][0] = b->ports[0].target_port;
		b->ep_ports[k][1] = b->ports[1].target_port;
		e->ports = b->ep_ports[k];
	}
	b->in = (struct snap_service_in){
		/* equal keys for equal input, as the model gives them; some
		 * services have none, so both paths (reuse, rebuild) run */
		.cache_key = i % 4 ? ((uint64_t)i << 8 | (uint64_t)v) + 1 : 0,
		.ns = b->ns, .name = b->name, .type = LDMESH_SVC_CLUSTER_IP,
		.flags = headless(i) ? LDMESH_SVC_F_HEADLESS : 0,
		.n_cluster_ips = headless(i) ? 0 : 1,
		.ports = b->ports, .n_ports = (v & 1) ? 2 : 1,
		.endpoints = b->eps, .n_endpoints = n_eps,
	};
	cluster_ip(b->in.cluster_ips[0], i);
}

/* ---- the oracle's lookups --------------------------------------------- */

enum slot { SLOT_NONE, SLOT_RECORD, SLOT_SHADOW };

static enum slot probe_vip(const struct ldmesh_snap *s, const uint8_t addr[16], uint16_t port,
			   uint32_t *svc, uint32_t *port_index)
{
	uint32_t mask = s->vip_slots - 1, i;

	if (!s->vip_slots)
		return SLOT_NONE;
	i = (uint32_t)ldmesh_vip_hash(addr, port, LDMESH_PROTO_TCP) & mask;
	for (uint32_t n = 0; n < s->vip_max_probe; n++, i = (i + 1) & mask) {
		const struct ldmesh_vip_slot *slot = &s->vip[i];
		if (slot->service == LDMESH_NONE)
			return SLOT_NONE;
		if (slot->port != port || slot->protocol != LDMESH_PROTO_TCP ||
		    memcmp(slot->addr, addr, 16))
			continue;
		*svc = slot->service;
		*port_index = slot->port_index;
		return slot->service == LDMESH_SHADOW ? SLOT_SHADOW : SLOT_RECORD;
	}
	return SLOT_NONE;
}

static enum slot probe_name(const struct ldmesh_snap *s, const char *fqdn, uint32_t *svc,
			    uint32_t *endpoint)
{
	size_t len = strlen(fqdn);
	uint64_t hash = ldmesh_hash64(fqdn, len, 0);
	uint32_t mask = s->name_slots - 1, i;

	if (!s->name_slots)
		return SLOT_NONE;
	i = (uint32_t)hash & mask;
	for (uint32_t n = 0; n < s->name_max_probe; n++, i = (i + 1) & mask) {
		const struct ldmesh_name_slot *slot = &s->names[i];
		struct ldmesh_strv v;
		if (slot->service == LDMESH_NONE)
			return SLOT_NONE;
		v = ldmesh_snap_string(s, slot->fqdn);
		if (slot->hash != hash || v.len != len || memcmp(v.p, fqdn, len))
			continue;
		*svc = slot->service;
		*endpoint = slot->endpoint;
		return slot->service == LDMESH_SHADOW ? SLOT_SHADOW : SLOT_RECORD;
	}
	return SLOT_NONE;
}

static void addr_text(char *out, size_t cap, const uint8_t a[16])
{
	snprintf(out, cap, "%u.%u.%u.%u", a[12], a[13], a[14], a[15]);
}

/* What a record says: the service, the port asked for (or the pod a name
 * names), and every endpoint with its ports. */
static void describe(const struct ldmesh_snap *s, uint32_t svc, uint32_t port_index,
		     uint32_t endpoint, char *out, size_t cap)
{
	struct ldmesh_service v;
	struct ldmesh_port p;
	struct ldmesh_endpoint e;
	char a[32];
	size_t len;

	assert_true(ldmesh_snap_service(s, svc, &v));
	len = (size_t)snprintf(out, cap, "%s/", tu_str(s, v.ns));
	len += (size_t)snprintf(out + len, cap - len, "%s", tu_str(s, v.name));
	if (port_index != LDMESH_NONE) {
		assert_true(ldmesh_snap_port(s, v.first_port + port_index, &p));
		len += (size_t)snprintf(out + len, cap - len, " port %u->%u", p.port, p.target_port);
	}
	if (endpoint != LDMESH_NONE) {
		assert_true(ldmesh_snap_endpoint(s, endpoint, &e));
		addr_text(a, sizeof(a), e.addr);
		len += (size_t)snprintf(out + len, cap - len, " pod %s", a);
	}
	for (uint32_t k = 0; k < v.endpoint_count; k++) {
		assert_true(ldmesh_snap_endpoint(s, v.first_endpoint + k, &e));
		addr_text(a, sizeof(a), e.addr);
		len += (size_t)snprintf(out + len, cap - len, " %s", a);
		for (uint32_t q = 0; q < v.port_count; q++)
			len += (size_t)snprintf(out + len, cap - len, ":%u",
						ldmesh_snap_endpoint_port(s, &v, v.first_endpoint + k, q));
	}
}

/* The answer for a VIP key: the delta first (when there is one), then the
 * base. */
static void answer_vip(const struct ldmesh_snap *base, const struct ldmesh_snap *delta,
		       const uint8_t addr[16], uint16_t port, char *out, size_t cap)
{
	uint32_t svc, port_index;
	enum slot r = delta ? probe_vip(delta, addr, port, &svc, &port_index) : SLOT_NONE;

	if (r == SLOT_RECORD)
		return describe(delta, svc, port_index, LDMESH_NONE, out, cap);
	if (r == SLOT_NONE && probe_vip(base, addr, port, &svc, &port_index) == SLOT_RECORD)
		return describe(base, svc, port_index, LDMESH_NONE, out, cap);
	snprintf(out, cap, "absent");
}

static void answer_name(const struct ldmesh_snap *base, const struct ldmesh_snap *delta,
			const char *fqdn, char *out, size_t cap)
{
	uint32_t svc, endpoint;
	enum slot r = delta ? probe_name(delta, fqdn, &svc, &endpoint) : SLOT_NONE;

	if (r == SLOT_RECORD)
		return describe(delta, svc, LDMESH_NONE, endpoint, out, cap);
	if (r == SLOT_NONE && probe_name(base, fqdn, &svc, &endpoint) == SLOT_RECORD)
		return describe(base, svc, LDMESH_NONE, endpoint, out, cap);
	snprintf(out, cap, "absent");
}

/* ---- the world: services by index, as the base has them and as they are */

struct world {
	unsigned n;
	int base_v[64], cur_v[64], last_overlay[64]; /* variant, or ABSENT */
	struct svc_buf bufs[64];
	struct snap_cache *cache;
	void *base_bytes, *delta_bytes;
	size_t base_size, delta_size;
	struct ldmesh_snap base, delta;
	uint64_t generation;
	unsigned nulls, deltas;
	bool whole; /* edits as a full resolve makes them: the whole table
	               (snap_build_delta_whole), not the changes */
};

/* The services with variants v[] (index order), as builder input. */
static void world_input(struct world *w, const int *v, struct snap_input *in,
			struct snap_service_in *svcs)
{
	size_t n = 0;

	for (unsigned i = 0; i < w->n; i++) {
		if (v[i] == ABSENT)
			continue;
		fill(&w->bufs[i], i, v[i]);
		svcs[n++] = w->bufs[i].in;
	}
	*in = (struct snap_input){ .cluster_domain = "cluster.local", .node_name = "node-a",
				   .generation = ++w->generation, .created_unix_ns = 1,
				   .services = svcs, .n_services = n };
}

static void world_base(struct world *w)
{
	struct snap_service_in svcs[64];
	struct snap_input in;

	world_input(w, w->cur_v, &in, svcs);
	free(w->base_bytes);
	free(w->delta_bytes);
	w->delta_bytes = NULL;
	assert_int_equal(snap_build_cached(&in, w->cache, &w->base_bytes, &w->base_size), 0);
	assert_int_equal(tu_snap_init(&w->base, w->base_bytes, w->base_size, NULL, 0), 0);
	memcpy(w->base_v, w->cur_v, sizeof(w->base_v));
	for (unsigned i = 0; i < w->n; i++)
		w->last_overlay[i] = w->cur_v[i];
	assert_int_equal(snap_cache_base_services(w->cache), in.n_services);
	assert_int_equal(snap_cache_overlay_services(w->cache), 0);
}

static const struct ldmesh_snap_header *header_of(const void *bytes)
{
	return bytes;
}

/* SUPERSEDED: the base indexes of the services changed or removed since
 * the base, ascending. */
static void check_superseded(const struct world *w)
{
	const struct ldmesh_snap_header *h = header_of(w->delta_bytes);
	const struct ldmesh_section *sec = &h->sections[LDMESH_SEC_SUPERSEDED];
	const uint32_t *got = (const uint32_t *)((const uint8_t *)w->delta_bytes + sec->offset);
	uint32_t base_index = 0, n = 0;

	for (unsigned i = 0; i < w->n; i++) {
		if (w->base_v[i] == ABSENT)
			continue;
		if (w->cur_v[i] != w->base_v[i]) {
			assert_true(n < sec->count);
			assert_int_equal(got[n], base_index);
			n++;
		}
		base_index++;
	}
	assert_int_equal(sec->count, n);
	assert_int_equal(h->base_generation, w->base.generation);
}

/* Every key any variant of any service could have, layered over base and
 * delta, against a full build of the services as they are now. */
static void check_answers(struct world *w)
{
	struct snap_service_in svcs[64];
	struct snap_input in;
	struct ldmesh_snap full;
	void *bytes;
	size_t size;
	char want[512], got[512], fqdn[128];
	static const uint16_t ports[] = { 80, 81, 9090 };

	world_input(w, w->cur_v, &in, svcs);
	w->generation--;
	assert_int_equal(snap_build(&in, &bytes, &size), 0);
	assert_int_equal(tu_snap_init(&full, bytes, size, NULL, 0), 0);
	for (unsigned i = 0; i < w->n; i++) {
		uint8_t ip[16];
		cluster_ip(ip, i);
		for (unsigned p = 0; p < sizeof(ports) / sizeof(ports[0]); p++) {
			answer_vip(&full, NULL, ip, ports[p], want, sizeof(want));
			answer_vip(&w->base, w->delta_bytes ? &w->delta : NULL, ip, ports[p], got,
				   sizeof(got));
			assert_string_equal(got, want);
		}
		snprintf(fqdn, sizeof(fqdn), "svc-%u.ns-%u.svc.cluster.local", i, i % 3);
		answer_name(&full, NULL, fqdn, want, sizeof(want));
		answer_name(&w->base, w->delta_bytes ? &w->delta : NULL, fqdn, got, sizeof(got));
		assert_string_equal(got, want);
		for (int v = 0; headless(i) && v < VARIANTS; v++) {
			for (unsigned k = 0; k < MAX_EPS; k++) {
				snprintf(fqdn, sizeof(fqdn), "h%d-%u.svc-%u.ns-%u.svc.cluster.local", v,
					 k, i, i % 3);
				answer_name(&full, NULL, fqdn, want, sizeof(want));
				answer_name(&w->base, w->delta_bytes ? &w->delta : NULL, fqdn, got,
					    sizeof(got));
				assert_string_equal(got, want);
			}
		}
	}
	free(bytes);
}

static unsigned overlay_size(const struct world *w)
{
	unsigned n = 0;

	for (unsigned i = 0; i < w->n; i++)
		n += w->cur_v[i] != w->base_v[i];
	return n;
}

static unsigned overlay_removed(const struct world *w)
{
	unsigned n = 0;

	for (unsigned i = 0; i < w->n; i++)
		n += w->cur_v[i] == ABSENT && w->base_v[i] != ABSENT;
	return n;
}

/* Apply `n` changes (index, variant or ABSENT) as one delta and check it. */
static void world_delta(struct world *w, const unsigned *idx, const int *v, size_t n)
{
	struct svc_buf bufs[8];
	struct snap_change ch[8];
	struct snap_input hdr;
	void *bytes = (void *)1;
	size_t size = 1;
	int same = 1;

	assert_true(n <= 8);
	for (size_t k = 0; k < n; k++) {
		fill(&bufs[k], idx[k], v[k] == ABSENT ? 0 : v[k]);
		ch[k] = (struct snap_change){ .ns = bufs[k].ns, .name = bufs[k].name,
					      .svc = v[k] == ABSENT ? NULL : &bufs[k].in };
		w->cur_v[idx[k]] = v[k];
	}
	hdr = (struct snap_input){ .cluster_domain = "cluster.local", .node_name = "node-a",
				   .generation = ++w->generation, .created_unix_ns = 1 };
	if (w->whole) {
		struct snap_service_in svcs[64];

		w->generation--;
		world_input(w, w->cur_v, &hdr, svcs);
		assert_int_equal(snap_build_delta_whole(&hdr, w->cache, &bytes, &size), 0);
	} else {
		assert_int_equal(snap_build_delta(&hdr, w->cache, ch, n, &bytes, &size), 0);
	}
	/* Nothing to publish exactly when the overlay is what it was. */
	for (unsigned i = 0; i < w->n; i++) {
		int now = w->cur_v[i] == w->base_v[i] ? -2 : w->cur_v[i];
		int was = w->last_overlay[i] == w->base_v[i] ? -2 : w->last_overlay[i];
		same &= now == was;
		w->last_overlay[i] = w->cur_v[i];
	}
	assert_int_equal(snap_cache_overlay_services(w->cache), overlay_size(w));
	if (same) {
		assert_null(bytes);
		assert_int_equal(size, 0);
		w->nulls++;
		return;
	}
	assert_non_null(bytes);
	w->deltas++;
	free(w->delta_bytes);
	w->delta_bytes = bytes;
	w->delta_size = size;
	assert_int_equal(tu_snap_init(&w->delta, bytes, size, NULL, 0), 0);
	assert_int_equal(w->delta.generation, hdr.generation);
	/* the services changed or added since the base, no more */
	assert_int_equal(w->delta.n_services, overlay_size(w) - overlay_removed(w));
	check_superseded(w);
	check_answers(w);
}

static void world_init(struct world *w, unsigned n)
{
	memset(w, 0, sizeof(*w));
	w->n = n;
	for (unsigned i = 0; i < n; i++)
		w->cur_v[i] = i % 6 == 1 ? ABSENT : (int)(i % VARIANTS);
	assert_int_equal(snap_cache_new(&w->cache), 0);
	world_base(w);
}

static void world_free(struct world *w)
{
	free(w->base_bytes);
	free(w->delta_bytes);
	snap_cache_free(w->cache);
}

/* One random change of the kinds an agent sees. */
static void random_change(const struct world *w, unsigned *idx, int *v)
{
	unsigned i = (unsigned)rand() % w->n;
	int cur = w->cur_v[i];

	*idx = i;
	switch (rand() % 7) {
	case 0: /* edit the endpoints */
		*v = cur == ABSENT ? ABSENT : cur ^ 2;
		break;
	case 1: /* edit the ports */
		*v = cur == ABSENT ? ABSENT : cur ^ 1;
		break;
	case 2: /* add, or re-add a removed one */
		*v = cur == ABSENT ? rand() % VARIANTS : cur;
		break;
	case 3: /* remove */
		*v = ABSENT;
		break;
	case 4: /* back to what the base says */
		*v = w->base_v[i];
		break;
	case 5: /* the same content again */
		*v = cur;
		break;
	default:
		*v = rand() % VARIANTS;
		break;
	}
}

static void random_edits(bool whole)
{
	struct world w;

	srand(12345);
	world_init(&w, 48);
	w.whole = whole;
	for (int round = 0; round < 400; round++) {
		unsigned idx[4];
		int v[4];
		size_t n = 1 + (size_t)rand() % 4;
		for (size_t k = 0; k < n; k++)
			random_change(&w, &idx[k], &v[k]);
		world_delta(&w, idx, v, n);
		/* now and then a new base, as the agent makes one when the
		 * overlay grows: later deltas are over it */
		if (round % 97 == 96)
			world_base(&w);
	}
	/* both outcomes were exercised */
	assert_true(w.nulls > 10);
	assert_true(w.deltas > 100);
	world_free(&w);
}

static void test_random_edits_answer_like_full_build(void **state)
{
	(void)state;
	random_edits(false);
}

/* The same edits given as a full resolve gives them, the whole table each
 * time: the same deltas (what changed since the base, removals found by
 * their absence), the same answers, nothing published when nothing
 * changed. */
static void test_whole_table_edits_are_the_same_deltas(void **state)
{
	(void)state;
	random_edits(true);
}

static void test_touch_publishes_nothing(void **state)
{
	struct world w;
	unsigned i = 2;
	int v;

	(void)state;
	world_init(&w, 8);
	/* no change, and a change to the content the base has */
	world_delta(&w, NULL, NULL, 0);
	v = w.cur_v[i];
	world_delta(&w, &i, &v, 1);
	assert_int_equal(w.nulls, 2);
	/* one edit publishes; the same edit again does not */
	v = w.cur_v[i] ^ 2;
	world_delta(&w, &i, &v, 1);
	world_delta(&w, &i, &v, 1);
	assert_int_equal(w.deltas, 1);
	assert_int_equal(w.nulls, 3);
	/* back to the base: a delta with nothing in it, then nothing */
	v = w.base_v[i];
	world_delta(&w, &i, &v, 1);
	assert_int_equal(w.delta.n_services, 0);
	world_delta(&w, &i, &v, 1);
	assert_int_equal(w.nulls, 4);
	/* removing what the base never had leaves nothing */
	i = 1;
	v = ABSENT;
	assert_int_equal(w.cur_v[i], ABSENT);
	world_delta(&w, &i, &v, 1);
	assert_int_equal(w.nulls, 5);
	world_free(&w);
}

/* One changed service at 10,000: the delta is the size of the change. */
static void test_delta_size_is_the_change(void **state)
{
	enum { N = 10000 };
	struct svc_buf *bufs = calloc(N, sizeof(*bufs));
	struct snap_service_in *svcs = calloc(N, sizeof(*svcs));
	struct snap_input in = { .cluster_domain = "cluster.local", .generation = 1,
				 .services = svcs, .n_services = N };
	struct snap_cache *cache;
	struct snap_change ch;
	struct svc_buf edit;
	void *bytes;
	size_t size;

	(void)state;
	assert_non_null(bufs);
	for (unsigned i = 0; i < N; i++) {
		fill(&bufs[i], i, 2);
		svcs[i] = bufs[i].in;
	}
	assert_int_equal(snap_cache_new(&cache), 0);
	assert_int_equal(snap_build_cached(&in, cache, &bytes, &size), 0);
	assert_true(size > 1000000);
	free(bytes);
	fill(&edit, 4321, 4);
	ch = (struct snap_change){ .ns = edit.ns, .name = edit.name, .svc = &edit.in };
	in.generation = 2;
	assert_int_equal(snap_build_delta(&in, cache, &ch, 1, &bytes, &size), 0);
	assert_non_null(bytes);
	assert_true(size < 64 * 1024);
	assert_int_equal(snap_cache_overlay_services(cache), 1);
	assert_int_equal(snap_cache_base_services(cache), N);
	free(bytes);
	snap_cache_free(cache);
	free(bufs);
	free(svcs);
}

static void test_no_base_is_stale(void **state)
{
	struct snap_cache *cache;
	struct snap_input hdr = { .cluster_domain = "cluster.local", .generation = 1 };
	struct svc_buf b;
	struct snap_change ch;
	void *bytes = NULL;
	size_t size = 0;

	(void)state;
	fill(&b, 3, 0);
	ch = (struct snap_change){ .ns = b.ns, .name = b.name, .svc = &b.in };
	assert_int_equal(snap_cache_new(&cache), 0);
	assert_int_equal(snap_build_delta(&hdr, cache, &ch, 1, &bytes, &size), -ESTALE);
	assert_null(bytes);
	/* a base built for another node: its blocks do not hold here */
	hdr.services = &b.in;
	hdr.n_services = 1;
	assert_int_equal(snap_build_cached(&hdr, cache, &bytes, &size), 0);
	free(bytes);
	bytes = NULL;
	hdr.node_name = "node-z";
	assert_int_equal(snap_build_delta(&hdr, cache, &ch, 1, &bytes, &size), -ESTALE);
	hdr.node_name = NULL;
	assert_int_equal(snap_build_delta(&hdr, cache, &ch, 1, &bytes, &size), 0);
	assert_null(bytes); /* the same service as the base's */
	snap_cache_free(cache);
}

/* A shared pool past its bound is started over by the next base: until
 * then every block points into it, so no delta is built. */
static void test_full_shared_pool_is_stale(void **state)
{
	enum { EPS = 20000 };
	struct snap_endpoint_in *eps = calloc(EPS, sizeof(*eps));
	char (*nodes)[256] = calloc(EPS, sizeof(*nodes));
	struct svc_buf b;
	struct snap_input hdr = { .cluster_domain = "cluster.local", .generation = 1,
				  .services = &b.in, .n_services = 1 };
	struct snap_cache *cache;
	struct snap_change ch;
	void *bytes;
	size_t size;

	(void)state;
	fill(&b, 7, 0);
	for (unsigned k = 0; k < EPS; k++) {
		/* unique node names of 250 bytes: 5 MB of shared strings */
		memset(nodes[k], 'n', 250);
		snprintf(nodes[k], 12, "%010u", k);
		nodes[k][10] = 'x';
		eps[k] = b.eps[0];
		eps[k].node = nodes[k];
	}
	b.in.endpoints = eps;
	b.in.n_endpoints = EPS;
	b.in.cache_key = 0; /* the input changes below, the key would not */
	assert_int_equal(snap_cache_new(&cache), 0);
	assert_int_equal(snap_build_cached(&hdr, cache, &bytes, &size), 0);
	free(bytes);
	ch = (struct snap_change){ .ns = b.ns, .name = b.name, .svc = &b.in };
	b.in.n_endpoints = 1;
	assert_int_equal(snap_build_delta(&hdr, cache, &ch, 1, &bytes, &size), -ESTALE);
	/* the next base starts the pool over; deltas work again */
	assert_int_equal(snap_build_cached(&hdr, cache, &bytes, &size), 0);
	free(bytes);
	b.in.n_endpoints = 2;
	assert_int_equal(snap_build_delta(&hdr, cache, &ch, 1, &bytes, &size), 0);
	assert_non_null(bytes);
	free(bytes);
	snap_cache_free(cache);
	free(eps);
	free(nodes);
}

/*
 * A restarted publisher (issue 26, snap_cache_restore): a new cache made
 * from the base on disk and the model as it is after changes made while
 * it was down; its first delta and the random edits after it answer like
 * a full build. With `damage`, one service's endpoint in the base file is
 * overwritten (bytes a header check does not cover): the restore finds it
 * unlike the model and the first delta supersedes it.
 */
static void restarted_edits(bool damage)
{
	struct snap_service_in svcs[64];
	struct snap_input in;
	struct world w;
	unsigned idx[2] = { 2, 7 }, expect_kept = 0, damaged = 3;
	int v[2];
	size_t kept = 0;

	srand(777);
	world_init(&w, 48);
	snap_cache_free(w.cache); /* the agent stops; a new one starts */
	assert_int_equal(snap_cache_new(&w.cache), 0);
	if (damage) {
		struct ldmesh_service svc;

		assert_true(ldmesh_snap_service(&w.base, damaged, &svc) && svc.endpoint_count);
		((struct ldmesh_endpoint *)w.base.endpoints)[svc.first_endpoint].addr[15] ^= 0x55;
		w.base_v[damaged + 1] = -3; /* (index 1 is absent) its own, like no variant */
	}
	/* changes made while it was down, unlike the base */
	v[0] = w.base_v[2] ^ 1;
	v[1] = ABSENT;
	w.cur_v[idx[0]] = v[0];
	w.cur_v[idx[1]] = v[1];
	world_input(&w, w.cur_v, &in, svcs);
	w.generation--;
	assert_int_equal(snap_cache_restore(w.cache, &in, &w.base, &kept), 0);
	for (unsigned i = 0; i < w.n; i++) {
		bool alike = w.base_v[i] != ABSENT && w.cur_v[i] == w.base_v[i];

		expect_kept += alike;
		/* shadowed from the file, whose block content this process
		 * never had: no variant is "as the base" for it any more (a
		 * service put back stays in the overlay, correct, until the
		 * next base) */
		if (w.base_v[i] != ABSENT && !alike)
			w.base_v[i] = -3;
		w.last_overlay[i] = w.base_v[i];
	}
	assert_int_equal(kept, expect_kept);
	assert_int_equal(snap_cache_base_generation(w.cache), w.base.generation);
	w.whole = true;
	world_delta(&w, idx, v, 2);
	for (int round = 0; round < 150; round++) {
		unsigned ri[4];
		int rv[4];
		size_t n = 1 + (size_t)rand() % 4;

		for (size_t k = 0; k < n; k++) {
			random_change(&w, &ri[k], &rv[k]);
			if (rv[k] == -3) /* "as the base" of one shadowed from the file */
				rv[k] = rand() % VARIANTS;
		}
		w.whole = round % 2;
		world_delta(&w, ri, rv, n);
	}
	world_free(&w);
}

static void test_restarted_cache_deltas_answer_like_full_build(void **state)
{
	(void)state;
	restarted_edits(false);
}

static void test_restarted_over_damaged_base_supersedes_it(void **state)
{
	(void)state;
	restarted_edits(true);
}

/* A base made for another node: -ESTALE, and no base in the cache. */
static void test_restore_foreign_base_is_stale(void **state)
{
	struct snap_service_in svcs[64];
	struct snap_input in;
	struct world w;
	size_t kept;

	(void)state;
	world_init(&w, 12);
	snap_cache_free(w.cache);
	assert_int_equal(snap_cache_new(&w.cache), 0);
	world_input(&w, w.cur_v, &in, svcs);
	in.node_name = "node-b";
	assert_int_equal(snap_cache_restore(w.cache, &in, &w.base, &kept), -ESTALE);
	assert_int_equal(snap_cache_base_generation(w.cache), 0);
	world_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_edits_answer_like_full_build),
		cmocka_unit_test(test_whole_table_edits_are_the_same_deltas),
		cmocka_unit_test(test_touch_publishes_nothing),
		cmocka_unit_test(test_delta_size_is_the_change),
		cmocka_unit_test(test_no_base_is_stale),
		cmocka_unit_test(test_full_shared_pool_is_stale),
		cmocka_unit_test(test_restarted_cache_deltas_answer_like_full_build),
		cmocka_unit_test(test_restarted_over_damaged_base_supersedes_it),
		cmocka_unit_test(test_restore_foreign_base_is_stale),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
