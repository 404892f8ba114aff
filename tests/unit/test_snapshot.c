/* Snapshot builder + header check + lookups: round trip, every lookup,
 * refusal of damaged headers (each damage re-sealed so the test reaches the
 * check it names, not just the header checksum), damaged records refused
 * at access, and known answers that pin the format. */
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

static void v4(uint8_t out[16], uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	memset(out, 0, 16);
	out[10] = out[11] = 0xff;
	out[12] = a; out[13] = b; out[14] = c; out[15] = d;
}

struct fixture {
	struct snap_port_in ports[2];
	uint16_t ep_ports[4][2];
	struct snap_endpoint_in eps[4];
	struct snap_port_in hl_port;
	uint16_t hl_ep_ports[2][1];
	struct snap_endpoint_in hl_eps[2];
	struct snap_service_in svcs[3];
	struct snap_input in;
	void *bytes;
	size_t size;
	struct ldmesh_snap snap;
};

/* default/backend 10.96.0.10: http 80->8080, metrics 9090->9090; endpoints:
 * .5 ready on node-a, .6 ready on node-b, .7 terminating+serving, .8 not
 * ready. default/db headless with two hostnamed pods. prod/empty: none. */
static void fixture_build(struct fixture *f, uint16_t backend_flags)
{
	memset(f, 0, sizeof(*f));
	f->ports[0] = (struct snap_port_in){ .name = "http", .port = 80,
		.target_port = 8080, .protocol = LDMESH_PROTO_TCP };
	f->ports[1] = (struct snap_port_in){ .name = "metrics", .port = 9090,
		.target_port = 9090, .protocol = LDMESH_PROTO_TCP };
	static const uint32_t flags[4] = {
		LDMESH_EP_F_READY | LDMESH_EP_F_SERVING,
		LDMESH_EP_F_READY | LDMESH_EP_F_SERVING,
		LDMESH_EP_F_SERVING | LDMESH_EP_F_TERMINATING,
		0,
	};
	/* Input order deliberately not rank order. */
	static const uint8_t last[4] = { 8, 5, 7, 6 };
	static const uint32_t order[4] = { 3, 0, 2, 1 };
	for (int i = 0; i < 4; i++) {
		f->ep_ports[i][0] = 8080;
		f->ep_ports[i][1] = 9090;
		v4(f->eps[i].addr, 10, 244, 1, last[i]);
		f->eps[i].flags = flags[order[i]];
		f->eps[i].node = (i % 2) ? "node-a" : "node-b";
		f->eps[i].zone = "zone-1";
		f->eps[i].ports = f->ep_ports[i];
	}
	f->eps[1].node = "node-a"; /* .5 */
	f->eps[3].node = "node-b"; /* .6 */
	f->svcs[0] = (struct snap_service_in){ .ns = "default", .name = "backend",
		.type = LDMESH_SVC_CLUSTER_IP, .flags = backend_flags,
		.n_cluster_ips = 1, .ports = f->ports, .n_ports = 2,
		.endpoints = f->eps, .n_endpoints = 4 };
	v4(f->svcs[0].cluster_ips[0], 10, 96, 0, 10);

	f->hl_port = (struct snap_port_in){ .name = "pg", .port = 5432,
		.target_port = 5432, .protocol = LDMESH_PROTO_TCP };
	for (int i = 0; i < 2; i++) {
		v4(f->hl_eps[i].addr, 10, 244, 2, (uint8_t)(10 + i));
		f->hl_eps[i].flags = LDMESH_EP_F_READY | LDMESH_EP_F_SERVING;
		f->hl_eps[i].hostname = i ? "db-1" : "db-0";
		f->hl_ep_ports[i][0] = 5432;
		f->hl_eps[i].ports = f->hl_ep_ports[i];
	}
	f->svcs[1] = (struct snap_service_in){ .ns = "default", .name = "db",
		.flags = LDMESH_SVC_F_HEADLESS, .ports = &f->hl_port, .n_ports = 1,
		.endpoints = f->hl_eps, .n_endpoints = 2 };
	f->svcs[2] = (struct snap_service_in){ .ns = "prod", .name = "empty",
		.n_cluster_ips = 1, .ports = f->ports, .n_ports = 1 };
	v4(f->svcs[2].cluster_ips[0], 10, 96, 0, 11);

	f->in = (struct snap_input){ .cluster_domain = "cluster.local",
		.node_name = "node-a", .generation = 7, .created_unix_ns = 1,
		.services = f->svcs, .n_services = 3 };
	assert_int_equal(snap_build(&f->in, &f->bytes, &f->size), 0);
	char why[160] = "";
	assert_int_equal(tu_snap_init(&f->snap, f->bytes, f->size, why, sizeof(why)), 0);
}

static void test_round_trip(void **state)
{
	struct fixture f;
	fixture_build(&f, 0);
	const struct ldmesh_snap *s = &f.snap;

	assert_int_equal(s->generation, 7);
	assert_int_equal(s->n_services, 3);
	assert_string_equal(tu_str(s, s->cluster_domain), "cluster.local");
	assert_string_equal(tu_str(s, s->node_name), "node-a");
	const struct ldmesh_service *b = &s->services[0];
	assert_string_equal(tu_str(s, b->ns), "default");
	assert_string_equal(tu_str(s, b->name), "backend");
	assert_int_equal(b->port_count, 2);
	assert_string_equal(tu_str(s, s->ports[b->first_port + 1].name), "metrics");
	assert_int_equal(b->endpoint_count, 4);
	assert_int_equal(b->ready_count, 2);
	assert_int_equal(b->fallback_count, 1);
	/* Rank order: the two ready (.5, .6 in input order), then .7, then .8. */
	assert_int_equal(s->endpoints[b->first_endpoint + 0].addr[15], 5);
	assert_int_equal(s->endpoints[b->first_endpoint + 1].addr[15], 6);
	assert_int_equal(s->endpoints[b->first_endpoint + 2].addr[15], 7);
	assert_int_equal(s->endpoints[b->first_endpoint + 3].addr[15], 8);
	/* LOCAL marks node-a endpoints. */
	assert_true(s->endpoints[b->first_endpoint].flags & LDMESH_EP_F_LOCAL);
	assert_false(s->endpoints[b->first_endpoint + 1].flags & LDMESH_EP_F_LOCAL);
	/* Interned: node-b appears once in the pool even on several endpoints. */
	assert_string_equal(tu_str(s, s->endpoints[b->first_endpoint + 1].node), "node-b");
	assert_int_equal(s->endpoints[b->first_endpoint + 1].node,
			 s->endpoints[b->first_endpoint + 2].node);
	free(f.bytes);
}

static void test_vip_lookup(void **state)
{
	struct fixture f;
	fixture_build(&f, 0);
	uint8_t a[16];

	v4(a, 10, 96, 0, 10);
	const struct ldmesh_vip_slot *slot = tu_vip(&f.snap, a, 9090, LDMESH_PROTO_TCP);
	assert_non_null(slot);
	assert_int_equal(slot->service, 0);
	assert_int_equal(slot->port_index, 1);
	assert_null(tu_vip(&f.snap, a, 9090, LDMESH_PROTO_UDP));
	assert_null(tu_vip(&f.snap, a, 81, LDMESH_PROTO_TCP));
	v4(a, 10, 96, 0, 12);
	assert_null(tu_vip(&f.snap, a, 80, LDMESH_PROTO_TCP));
	v4(a, 10, 96, 0, 11);
	slot = tu_vip(&f.snap, a, 80, LDMESH_PROTO_TCP);
	assert_non_null(slot);
	assert_int_equal(slot->service, 2);
	free(f.bytes);
}

static void test_name_lookup(void **state)
{
	struct fixture f;
	fixture_build(&f, 0);
	const char *n = "backend.default.svc.cluster.local";
	const struct ldmesh_name_slot *slot = tu_name(&f.snap, n, strlen(n));
	assert_non_null(slot);
	assert_int_equal(slot->service, 0);
	assert_int_equal(slot->endpoint, LDMESH_NONE);

	n = "db-1.db.default.svc.cluster.local";
	slot = tu_name(&f.snap, n, strlen(n));
	assert_non_null(slot);
	assert_int_equal(slot->service, 1);
	assert_int_equal(f.snap.endpoints[slot->endpoint].addr[15], 11);

	n = "empty.prod.svc.cluster.local";
	assert_non_null(tu_name(&f.snap, n, strlen(n)));
	n = "backend.prod.svc.cluster.local";
	assert_null(tu_name(&f.snap, n, strlen(n)));
	n = "backend.default.svc.cluster.loca";
	assert_null(tu_name(&f.snap, n, strlen(n)));
	free(f.bytes);
}

static void test_pick(void **state)
{
	struct fixture f;
	fixture_build(&f, 0);
	const struct ldmesh_service *b = &f.snap.services[0];
	unsigned hits[256] = { 0 };
	uint16_t port = 0;

	for (uint64_t i = 0; i < 1000; i++) {
		uint32_t ep = ldmesh_snap_pick(&f.snap, b, 0, ldmesh_hash64(&i, 8, 1), &port);
		assert_int_not_equal(ep, LDMESH_NONE);
		assert_int_equal(port, 8080);
		hits[f.snap.endpoints[ep].addr[15]]++;
	}
	/* Only the two ready endpoints, each about half the time. */
	assert_int_equal(hits[5] + hits[6], 1000);
	assert_true(hits[5] > 400 && hits[6] > 400);

	ldmesh_snap_pick(&f.snap, b, 1, 0, &port);
	assert_int_equal(port, 9090);
	/* No endpoints: reject. */
	assert_int_equal(ldmesh_snap_pick(&f.snap, &f.snap.services[2], 0, 1, &port), LDMESH_NONE);
	free(f.bytes);
}

static void test_fallback_to_terminating(void **state)
{
	struct fixture f;
	fixture_build(&f, 0);
	free(f.bytes);
	/* Make .5 and .6 not ready: only .7 (serving, terminating) remains. */
	f.eps[1].flags = 0;
	f.eps[3].flags = 0;
	assert_int_equal(snap_build(&f.in, &f.bytes, &f.size), 0);
	assert_int_equal(tu_snap_init(&f.snap, f.bytes, f.size, NULL, 0), 0);
	const struct ldmesh_service *b = &f.snap.services[0];
	assert_int_equal(b->ready_count, 0);
	assert_int_equal(b->fallback_count, 1);
	uint16_t port;
	uint32_t ep = ldmesh_snap_pick(&f.snap, b, 0, 12345, &port);
	assert_int_equal(f.snap.endpoints[ep].addr[15], 7);
	free(f.bytes);
}

static void test_internal_traffic_local(void **state)
{
	struct fixture f;
	fixture_build(&f, LDMESH_SVC_F_INTERNAL_LOCAL);
	const struct ldmesh_service *b = &f.snap.services[0];
	/* Only .5 is ready on node-a. */
	assert_int_equal(b->ready_count, 1);
	assert_int_equal(f.snap.endpoints[b->first_endpoint].addr[15], 5);
	free(f.bytes);
}

static void test_affinity_consistent(void **state)
{
	struct fixture f;
	fixture_build(&f, LDMESH_SVC_F_AFFINITY_CLIENT_IP);
	const struct ldmesh_service *b = &f.snap.services[0];
	uint16_t port;
	assert_true(b->affinity_size >= 251);
	/* Same client hash, same backend, every time. */
	uint32_t first = ldmesh_snap_pick(&f.snap, b, 0, 424242, &port);
	for (int i = 0; i < 50; i++)
		assert_int_equal(ldmesh_snap_pick(&f.snap, b, 0, 424242, &port), first);
	/* Both backends own a fair share of the table. */
	unsigned owned[2] = { 0, 0 };
	for (uint32_t i = 0; i < b->affinity_size; i++)
		owned[f.snap.affinity[b->affinity_offset + i]]++;
	assert_true(owned[0] > b->affinity_size / 3 && owned[1] > b->affinity_size / 3);
	free(f.bytes);
}

/* Re-seal the header checksum as the format defines it after a deliberate
 * edit, leaving every other field as the edit made it. */
static void reseal(void *bytes)
{
	uint64_t sum = ldmesh_hash64((uint8_t *)bytes + LDMESH_SNAP_OFF_TOTAL_SIZE,
				     LDMESH_SNAP_HEADER_SIZE - LDMESH_SNAP_OFF_TOTAL_SIZE, 0);

	memcpy((uint8_t *)bytes + LDMESH_SNAP_OFF_HEADER_CHECKSUM, &sum, sizeof(sum));
}

static void expect_refused(void *bytes, size_t size, const char *reason)
{
	struct ldmesh_snap s;
	char why[160] = "";
	assert_int_equal(tu_snap_init(&s, bytes, size, why, sizeof(why)), -EINVAL);
	if (!strstr(why, reason))
		fail_msg("refused for '%s', expected '%s'", why, reason);
}

static void test_refuses_damaged_header(void **state)
{
	struct fixture f;
	fixture_build(&f, 0);
	uint8_t *copy = malloc(f.size);
	struct ldmesh_snap_header *h = (void *)copy;

	/* truncated */
	expect_refused(f.bytes, 100, "truncated");
	expect_refused(f.bytes, f.size - 8, "size");
	/* one bit flipped anywhere in the header after the checksum */
	for (size_t off = LDMESH_SNAP_OFF_TOTAL_SIZE; off < sizeof(*h); off += 7) {
		memcpy(copy, f.bytes, f.size);
		copy[off] ^= 0x10;
		expect_refused(copy, f.size, "header checksum");
	}
	/* wrong magic / version */
	memcpy(copy, f.bytes, f.size);
	h->magic ^= 1;
	expect_refused(copy, f.size, "magic");
	memcpy(copy, f.bytes, f.size);
	h->version_major = 1;
	expect_refused(copy, f.size, "version");
	/* a size that is not the file's, sealed */
	memcpy(copy, f.bytes, f.size);
	h->total_size += 8;
	reseal(copy);
	expect_refused(copy, f.size, "size in header");
	/* section outside the file */
	memcpy(copy, f.bytes, f.size);
	h->sections[LDMESH_SEC_ENDPOINTS].offset = f.size;
	reseal(copy);
	expect_refused(copy, f.size, "outside the file");
	/* count that overflows size */
	memcpy(copy, f.bytes, f.size);
	h->sections[LDMESH_SEC_SERVICES].count = 0x80000001u;
	reseal(copy);
	expect_refused(copy, f.size, "count x entry size");
	/* an index that is not a power of two */
	memcpy(copy, f.bytes, f.size);
	h->sections[LDMESH_SEC_VIP_INDEX].count -= 1;
	h->sections[LDMESH_SEC_VIP_INDEX].size -= sizeof(struct ldmesh_vip_slot);
	reseal(copy);
	expect_refused(copy, f.size, "power of two");
	free(copy);
	free(f.bytes);
}

/* The body is not checked when mapped (that would be O(table) per
 * process): damaged records are refused where they are read. */
static void test_damaged_records_refused_at_access(void **state)
{
	struct fixture f;
	fixture_build(&f, 0);
	struct ldmesh_snap_header *h = f.bytes;
	uint8_t *file = f.bytes;
	struct ldmesh_service *svc = (void *)(file + h->sections[LDMESH_SEC_SERVICES].offset);
	struct ldmesh_vip_slot *vip = (void *)(file + h->sections[LDMESH_SEC_VIP_INDEX].offset);
	struct ldmesh_service copy;
	uint8_t a[16];

	/* the body's damage does not stop the mapping */
	svc[0].endpoint_count = 0xffffffffu;
	assert_int_equal(tu_snap_init(&f.snap, f.bytes, f.size, NULL, 0), 0);
	assert_false(ldmesh_snap_service(&f.snap, 0, &copy));
	assert_true(ldmesh_snap_service(&f.snap, 1, &copy));
	assert_false(ldmesh_snap_service(&f.snap, f.snap.n_services, &copy));
	/* ranges that each run past their section */
	svc[0].endpoint_count = 4;
	svc[0].first_port = f.snap.n_ports;
	assert_false(ldmesh_snap_service(&f.snap, 0, &copy));
	svc[0].first_port = 0;
	svc[0].ready_count = 5;
	assert_false(ldmesh_snap_service(&f.snap, 0, &copy));
	svc[0].ready_count = 2;
	/* a port matrix past its section: every cell reads "not served" */
	svc[0].first_endpoint_port = f.snap.n_endpoint_ports - 1;
	assert_true(ldmesh_snap_service(&f.snap, 0, &copy));
	assert_int_equal(ldmesh_snap_endpoint_port(&f.snap, &copy, copy.first_endpoint + 1, 0), 0);
	uint16_t port = 0;
	assert_int_equal(ldmesh_snap_pick(&f.snap, &copy, 1, 7, &port), LDMESH_NONE);
	svc[0].first_endpoint_port = 0;
	/* an affinity table past its section: the pick is random, not a fault */
	svc[0].affinity_size = 1000;
	svc[0].affinity_offset = f.snap.n_affinity;
	assert_true(ldmesh_snap_service(&f.snap, 0, &copy));
	assert_int_not_equal(ldmesh_snap_pick(&f.snap, &copy, 0, 7, &port), LDMESH_NONE);
	svc[0].affinity_size = 0;
	svc[0].affinity_offset = 0;
	svc[0].ip_count = 3;
	assert_false(ldmesh_snap_service(&f.snap, 0, &copy));
	svc[0].ip_count = 1;
	assert_true(ldmesh_snap_service(&f.snap, 0, &copy));
	/* endpoint ports outside the service read as "not served" */
	assert_int_equal(ldmesh_snap_endpoint_port(&f.snap, &copy, copy.first_endpoint + 4, 0), 0);
	assert_int_equal(ldmesh_snap_endpoint_port(&f.snap, &copy, copy.first_endpoint, 2), 0);
	assert_int_equal(ldmesh_snap_endpoint_port(&f.snap, &copy, copy.first_endpoint, 0), 8080);
	/* a string reference past the pool, or whose length runs past it,
	 * reads as empty */
	svc[1].name = f.snap.strings_size + 3;
	assert_true(ldmesh_snap_service(&f.snap, 1, &copy));
	assert_string_equal(tu_str(&f.snap, copy.name), "");
	((uint8_t *)f.snap.strings)[f.snap.strings_size - 2] = 0xff;
	assert_string_equal(tu_str(&f.snap, f.snap.strings_size - 2), "");
	/* an index slot naming a service that does not exist: a miss */
	v4(a, 10, 96, 0, 10);
	for (uint32_t i = 0; i < f.snap.vip_slots; i++)
		if (vip[i].service != LDMESH_NONE)
			vip[i].service = 99;
	assert_null(tu_vip(&f.snap, a, 80, LDMESH_PROTO_TCP));
	free(f.bytes);
}

static void test_full_index_lookup_terminates(void **state)
{
	/* Every slot occupied, probe bound past the capacity: a miss must
	 * stop after the capacity. */
	struct fixture f;
	fixture_build(&f, 0);
	struct ldmesh_snap_header *h = f.bytes;
	struct ldmesh_vip_slot *vip = (void *)((uint8_t *)f.bytes + h->sections[LDMESH_SEC_VIP_INDEX].offset);
	uint32_t n = h->sections[LDMESH_SEC_VIP_INDEX].count;
	for (uint32_t i = 0; i < n; i++)
		if (vip[i].service == LDMESH_NONE)
			vip[i] = vip[(i + 1) % n].service != LDMESH_NONE ? vip[(i + 1) % n] : vip[0],
			vip[i].service = 0, vip[i].port_index = 0;
	h->vip_max_probe = 0xffffffffu;
	reseal(f.bytes);
	assert_int_equal(tu_snap_init(&f.snap, f.bytes, f.size, NULL, 0), 0);
	assert_int_equal(f.snap.vip_max_probe, n);
	uint8_t a[16];
	v4(a, 1, 2, 3, 4);
	assert_null(tu_vip(&f.snap, a, 1, LDMESH_PROTO_TCP));
	free(f.bytes);
}

/*
 * Known answers: a change to the hash, the header or the layout of any
 * record changes these numbers, so it cannot pass unnoticed. If one of them
 * changes on purpose, that is a format change: bump
 * LDMESH_SNAP_VERSION_MAJOR (or MINOR for an addition) and update them.
 */
static void test_known_answers(void **state)
{
	struct fixture f;

	assert_int_equal(ldmesh_hash64("", 0, 0), 0x0000000000000000ULL);
	assert_int_equal(ldmesh_hash64("backend.default.svc.cluster.local", 33, 0),
			 0xacf53b541b173dceULL);
	uint8_t a[16];
	v4(a, 10, 96, 0, 10);
	assert_int_equal(ldmesh_vip_hash(a, 80, LDMESH_PROTO_TCP), 0x4ed173873f4a9239ULL);
	fixture_build(&f, LDMESH_SVC_F_AFFINITY_CLIENT_IP);
	/* the fixture's whole file, header and all, byte for byte (3.4: the
	 * ClusterIP's reverse name; 3.5: version_minor) */
	assert_int_equal(f.size, 3400);
	assert_int_equal(ldmesh_hash64(f.bytes, f.size, 0), 0x01308aa247e01740ULL);
	/* and its control page record, as the agent writes it */
	struct ldmesh_control_record rec;
	ldmesh_control_record_seal(&rec, f.bytes, (struct ldmesh_file_id){ 4242, 1000000007 },
				   (struct ldmesh_file_id){ 0, 0 });
	assert_int_equal(rec.generation, 7);
	assert_int_equal(rec.checksum, 0x713f5ef0909f89e5ULL);
	free(f.bytes);
}

/* Two snapshots say the same thing: every record equal, strings compared
 * by value (a cached build may place shared strings elsewhere), and every
 * service reachable through both indexes in both. */
static void assert_same_content(const struct ldmesh_snap *a, const struct ldmesh_snap *b)
{
	assert_int_equal(a->n_services, b->n_services);
	assert_int_equal(a->n_endpoints, b->n_endpoints);
	assert_int_equal(a->n_ports, b->n_ports);
	for (uint32_t i = 0; i < a->n_services; i++) {
		const struct ldmesh_service *x = &a->services[i], *y = &b->services[i];
		assert_string_equal(tu_str(a, x->ns), tu_str(b, y->ns));
		assert_string_equal(tu_str(a, x->name), tu_str(b, y->name));
		assert_int_equal(x->ready_count, y->ready_count);
		assert_int_equal(x->fallback_count, y->fallback_count);
		assert_int_equal(x->endpoint_count, y->endpoint_count);
		assert_int_equal(x->first_endpoint, y->first_endpoint);
		assert_memory_equal(x->cluster_ips, y->cluster_ips, sizeof(x->cluster_ips));
		for (uint32_t e = 0; e < x->endpoint_count; e++) {
			const struct ldmesh_endpoint *p = &a->endpoints[x->first_endpoint + e];
			const struct ldmesh_endpoint *q = &b->endpoints[y->first_endpoint + e];
			assert_memory_equal(p->addr, q->addr, 16);
			assert_int_equal(p->flags, q->flags);
			assert_string_equal(tu_str(a, p->node), tu_str(b, q->node));
			assert_string_equal(tu_str(a, p->zone), tu_str(b, q->zone));
			assert_string_equal(tu_str(a, p->hostname), tu_str(b, q->hostname));
			for (uint32_t k = 0; k < x->port_count; k++)
				assert_int_equal(ldmesh_snap_endpoint_port(a, x, x->first_endpoint + e, k),
						 ldmesh_snap_endpoint_port(b, y, y->first_endpoint + e, k));
		}
		char fqdn[300];
		snprintf(fqdn, sizeof(fqdn), "%s.%s.svc.cluster.local", tu_str(a, x->name),
			 tu_str(a, x->ns));
		const struct ldmesh_name_slot *na = tu_name(a, fqdn, strlen(fqdn));
		const struct ldmesh_name_slot *nb = tu_name(b, fqdn, strlen(fqdn));
		assert_non_null(na);
		assert_non_null(nb);
		assert_int_equal(na->service, nb->service);
	}
}

static void test_cached_build_matches_fresh(void **state)
{
	struct fixture f;
	struct snap_cache *cache;
	void *cached, *fresh;
	size_t cached_size, fresh_size;

	fixture_build(&f, 0);
	free(f.bytes);
	for (size_t i = 0; i < 3; i++)
		f.svcs[i].cache_key = 100 + i;
	assert_int_equal(snap_cache_new(&cache), 0);
	assert_int_equal(snap_build_cached(&f.in, cache, &cached, &cached_size), 0);
	free(cached);

	/* One service changes (the model gives it a new key); the others are
	 * taken from the cache. The result is byte for byte a fresh build. */
	f.eps[1].flags = 0;
	f.svcs[0].cache_key = 200;
	f.in.generation = 8;
	assert_int_equal(snap_build_cached(&f.in, cache, &cached, &cached_size), 0);
	assert_int_equal(snap_build(&f.in, &fresh, &fresh_size), 0);
	struct ldmesh_snap a, b;
	assert_int_equal(tu_snap_init(&a, cached, cached_size, NULL, 0), 0);
	assert_int_equal(tu_snap_init(&b, fresh, fresh_size, NULL, 0), 0);
	assert_same_content(&a, &b);
	assert_int_equal(a.services[0].ready_count, 1);
	free(fresh);
	free(cached);

	/* Proof that blocks really are reused: the overlay's, which a delta
	 * made (the base's are not kept, snap_cache.h). An input change the
	 * key does not announce stays invisible to the next cached build. */
	struct snap_change ch = { .ns = f.svcs[0].ns, .name = f.svcs[0].name, .svc = &f.svcs[0] };
	f.eps[1].flags = LDMESH_EP_F_READY | LDMESH_EP_F_SERVING;
	f.svcs[0].cache_key = 300;
	f.in.generation = 9;
	assert_int_equal(snap_build_delta(&f.in, cache, &ch, 1, &cached, &cached_size), 0);
	assert_non_null(cached);
	free(cached);
	assert_int_equal(snap_cache_overlay_services(cache), 1);
	f.eps[3].flags = 0;
	f.in.generation = 10;
	assert_int_equal(snap_build_cached(&f.in, cache, &cached, &cached_size), 0);
	assert_int_equal(snap_build(&f.in, &fresh, &fresh_size), 0);
	assert_int_equal(tu_snap_init(&a, cached, cached_size, NULL, 0), 0);
	assert_int_equal(tu_snap_init(&b, fresh, fresh_size, NULL, 0), 0);
	assert_int_equal(a.services[0].ready_count, 2);
	assert_int_equal(b.services[0].ready_count, 1);
	free(fresh);
	free(cached);
	snap_cache_free(cache);
}

static void test_long_name_refused(void **state)
{
	char longname[300];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	struct snap_service_in s = { .ns = "default", .name = longname };
	struct snap_input in = { .cluster_domain = "cluster.local", .services = &s, .n_services = 1 };
	void *out = NULL;
	size_t size = 0;
	assert_int_equal(snap_build(&in, &out, &size), -EINVAL);
	assert_null(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_vip_lookup),
		cmocka_unit_test(test_name_lookup),
		cmocka_unit_test(test_pick),
		cmocka_unit_test(test_fallback_to_terminating),
		cmocka_unit_test(test_internal_traffic_local),
		cmocka_unit_test(test_affinity_consistent),
		cmocka_unit_test(test_refuses_damaged_header),
		cmocka_unit_test(test_damaged_records_refused_at_access),
		cmocka_unit_test(test_known_answers),
		cmocka_unit_test(test_full_index_lookup_terminates),
		cmocka_unit_test(test_cached_build_matches_fresh),
		cmocka_unit_test(test_long_name_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
