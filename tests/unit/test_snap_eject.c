/* SPDX-License-Identifier: MIT */
/*
 * Ejected backends in the table (agent/snapshot/snap_block.c): a ready
 * endpoint whose address:port the agent ejected is ordered out of the
 * chosen ones and flagged; at most max_percent of a Service's chosen ones
 * are (never all: then all are used); the affinity table is built from
 * what stays chosen; and a delta naming the Service changes its block
 * though the model's key is the same, and changes it back at re-admission.
 * A headless Service's name, in the preload and in ldmesh-dns alike, no
 * longer lists an ejected pod; its own per-pod name still answers.
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

#include "answer.h"
#include "config.h"
#include "ldmesh/reader.h"
#include "lookup.h"
#include "snap_build.h"
#include "testutil.h"

#define N_EPS 4

struct fix {
	struct snap_port_in port;
	uint16_t ep_ports[N_EPS][1];
	struct snap_endpoint_in eps[N_EPS];
	struct snap_service_in svc;
	struct snap_input in;
	struct snap_ejected_backend bad[N_EPS];
	struct snap_ejected ej;
};

static void v4(uint8_t out[16], uint8_t d)
{
	memset(out, 0, 16);
	out[10] = out[11] = 0xff;
	out[12] = 10;
	out[13] = 1;
	out[15] = d;
}

/* One Service of `n` ready endpoints 10.1.0.1.. on port 8080. */
static void fix_init(struct fix *f, unsigned n, uint16_t svc_flags)
{
	memset(f, 0, sizeof(*f));
	f->port = (struct snap_port_in){ .port = 80, .target_port = 8080,
					 .protocol = LDMESH_PROTO_TCP };
	for (unsigned k = 0; k < n; k++) {
		v4(f->eps[k].addr, (uint8_t)(k + 1));
		f->eps[k].flags = LDMESH_EP_F_READY | LDMESH_EP_F_SERVING;
		f->ep_ports[k][0] = 8080;
		f->eps[k].ports = f->ep_ports[k];
	}
	f->svc = (struct snap_service_in){ .cache_key = 77, .ns = "default", .name = "web",
					   .type = LDMESH_SVC_CLUSTER_IP, .flags = svc_flags,
					   .n_cluster_ips = 1, .ports = &f->port, .n_ports = 1,
					   .endpoints = f->eps, .n_endpoints = n };
	v4(f->svc.cluster_ips[0], 200);
	f->svc.cluster_ips[0][13] = 96;
	f->ej = (struct snap_ejected){ .v = f->bad, .max_percent = 50 };
	f->in = (struct snap_input){ .cluster_domain = "cluster.local", .generation = 1,
				     .created_unix_ns = 1, .services = &f->svc, .n_services = 1,
				     .ejected = &f->ej };
}

/* Eject 10.1.0.d:port (kept sorted, as the agent keeps them). */
static void eject(struct fix *f, uint8_t d, uint16_t port)
{
	v4(f->bad[f->ej.n].addr, d);
	f->bad[f->ej.n++].port = port;
	qsort(f->bad, f->ej.n, sizeof(f->bad[0]), snap_ejected_cmp);
}

struct built {
	void *bytes;
	size_t size;
	struct ldmesh_snap snap;
	struct ldmesh_service svc;
};

static void build(const struct fix *f, struct built *b)
{
	char why[160] = "";

	assert_int_equal(snap_build(&f->in, &b->bytes, &b->size), 0);
	assert_int_equal(tu_snap_init(&b->snap, b->bytes, b->size, why, sizeof(why)), 0);
	assert_true(ldmesh_snap_service(&b->snap, 0, &b->svc));
}

/* The last octet of endpoint `i` of the Service, and its flags. */
static uint8_t ep(const struct built *b, uint32_t i, uint32_t *flags)
{
	struct ldmesh_endpoint e;

	assert_true(ldmesh_snap_endpoint(&b->snap, b->svc.first_endpoint + i, &e));
	*flags = e.flags;
	return e.addr[15];
}

static void test_an_ejected_endpoint_is_ordered_out(void **state)
{
	struct fix f;
	struct built b;
	uint32_t fl;

	(void)state;
	fix_init(&f, 3, 0);
	eject(&f, 2, 8080);
	build(&f, &b);
	assert_int_equal(b.svc.ready_count, 2);
	assert_int_equal(b.svc.endpoint_count, 3);
	assert_int_equal(ep(&b, 0, &fl), 1);
	assert_false(fl & LDMESH_EP_F_EJECTED);
	assert_int_equal(ep(&b, 1, &fl), 3);
	assert_int_equal(ep(&b, 2, &fl), 2);
	assert_true(fl & LDMESH_EP_F_EJECTED);
	assert_true(fl & LDMESH_EP_F_READY); /* still what Kubernetes says */
	free(b.bytes);
	/* another port of that address is another backend */
	fix_init(&f, 3, 0);
	eject(&f, 2, 9999);
	build(&f, &b);
	assert_int_equal(b.svc.ready_count, 3);
	free(b.bytes);
}

static void test_at_most_the_share_is_ejected(void **state)
{
	struct fix f;
	struct built b;
	uint32_t fl;

	(void)state;
	/* 2 of 3 dead, 50%: one ordered out (the first in input order) */
	fix_init(&f, 3, 0);
	eject(&f, 1, 8080);
	eject(&f, 3, 8080);
	build(&f, &b);
	assert_int_equal(b.svc.ready_count, 2);
	assert_int_equal(ep(&b, 2, &fl), 1);
	assert_true(fl & LDMESH_EP_F_EJECTED);
	assert_int_equal(ep(&b, 1, &fl), 3);
	assert_false(fl & LDMESH_EP_F_EJECTED);
	free(b.bytes);
	/* 100%: both, but never the last one standing */
	f.ej.max_percent = 100;
	build(&f, &b);
	assert_int_equal(b.svc.ready_count, 1);
	assert_int_equal(ep(&b, 0, &fl), 2);
	free(b.bytes);
	/* all of them ejected: all of them used (the panic threshold) */
	eject(&f, 2, 8080);
	build(&f, &b);
	assert_int_equal(b.svc.ready_count, 3);
	for (uint32_t i = 0; i < 3; i++) {
		(void)ep(&b, i, &fl);
		assert_false(fl & LDMESH_EP_F_EJECTED);
	}
	free(b.bytes);
	/* a single backend is never ejected */
	fix_init(&f, 1, 0);
	eject(&f, 1, 8080);
	f.ej.max_percent = 100;
	build(&f, &b);
	assert_int_equal(b.svc.ready_count, 1);
	free(b.bytes);
}

static void test_affinity_uses_the_chosen_set(void **state)
{
	struct fix f;
	struct built b;

	(void)state;
	fix_init(&f, 4, LDMESH_SVC_F_AFFINITY_CLIENT_IP);
	f.svc.affinity_timeout_s = 10800;
	eject(&f, 4, 8080);
	build(&f, &b);
	assert_int_equal(b.svc.ready_count, 3);
	assert_true(b.svc.affinity_size > 0);
	for (uint32_t i = 0; i < b.svc.affinity_size; i++)
		assert_true(b.snap.affinity[b.svc.affinity_offset + i] < 3);
	free(b.bytes);
}

static void test_a_delta_follows_ejection(void **state)
{
	struct snap_cache *c;
	struct snap_change ch;
	struct fix f;
	void *bytes;
	size_t size;

	(void)state;
	fix_init(&f, 3, 0);
	ch = (struct snap_change){ .ns = "default", .name = "web", .svc = &f.svc };
	assert_int_equal(snap_cache_new(&c), 0);
	assert_int_equal(snap_build_cached(&f.in, c, &bytes, &size), 0);
	free(bytes);
	/* same model key, nothing ejected: nothing to publish */
	assert_int_equal(snap_build_delta(&f.in, c, &ch, 1, &bytes, &size), 0);
	assert_null(bytes);
	/* ejected: the block differs though the model's key does not */
	eject(&f, 2, 8080);
	assert_int_equal(snap_build_delta(&f.in, c, &ch, 1, &bytes, &size), 0);
	assert_non_null(bytes);
	free(bytes);
	/* re-admitted: back to what the base says */
	f.ej.n = 0;
	assert_int_equal(snap_build_delta(&f.in, c, &ch, 1, &bytes, &size), 0);
	assert_non_null(bytes);
	free(bytes);
	assert_int_equal(snap_cache_overlay_services(c), 0);
	snap_cache_free(c);
}

/* The ANCOUNT of ldmesh-dns's answer to "<name> A", and whether the
 * answer carries 10.1.0.<absent>. */
static unsigned dns_a(const struct built *b, const char *name, uint8_t absent, bool *has)
{
	uint8_t q[300], out[1024];
	size_t n = 12, out_len = 0;
	struct dns_query_info info;
	const char *l = name;

	memset(q, 0, sizeof(q));
	q[1] = 0x42;  /* id */
	q[2] = 0x01;  /* RD */
	q[5] = 1;     /* QDCOUNT */
	while (*l) {
		const char *dot = strchr(l, '.');
		size_t k = dot ? (size_t)(dot - l) : strlen(l);

		q[n++] = (uint8_t)k;
		memcpy(q + n, l, k);
		n += k;
		l += k + (dot ? 1 : 0);
	}
	q[n++] = 0;
	q[n++] = 0, q[n++] = 1; /* A */
	q[n++] = 0, q[n++] = 1; /* IN */
	assert_int_equal(dns_handle(&b->snap, q, n, false, 0, out, sizeof(out), &out_len, &info),
			 DNS_REPLY);
	*has = false;
	for (size_t i = 12; i + 4 <= out_len; i++)
		if (out[i] == 10 && out[i + 1] == 1 && out[i + 2] == 0 && out[i + 3] == absent)
			*has = true;
	return (unsigned)(out[6] << 8 | out[7]);
}

static void test_a_headless_name_leaves_out_an_ejected_pod(void **state)
{
	struct lookup_result r;
	struct preload_config c;
	struct fix f;
	struct built b;
	bool has;

	(void)state;
	fix_init(&f, 3, LDMESH_SVC_F_HEADLESS);
	f.svc.n_cluster_ips = 0;
	build(&f, &b);
	config_defaults(&c);
	lookup_name(&b.snap, &c, "web.default.svc.cluster.local", 0, &r);
	assert_int_equal(r.status, LOOKUP_FOUND);
	assert_int_equal(r.n_addrs, 3);
	assert_int_equal(dns_a(&b, "web.default.svc.cluster.local", 2, &has), 3);
	assert_true(has);
	free(b.bytes);

	eject(&f, 2, 8080);
	build(&f, &b);
	lookup_name(&b.snap, &c, "web.default.svc.cluster.local", 0, &r);
	assert_int_equal(r.status, LOOKUP_FOUND);
	assert_int_equal(r.n_addrs, 2);
	for (unsigned i = 0; i < r.n_addrs; i++)
		assert_int_not_equal(r.addrs[i][15], 2);
	assert_int_equal(dns_a(&b, "web.default.svc.cluster.local", 2, &has), 2);
	assert_false(has);
	/* its own name still answers: the pod is there, only not chosen */
	assert_int_equal(dns_a(&b, "10-1-0-2.web.default.svc.cluster.local", 2, &has), 1);
	assert_true(has);
	free(b.bytes);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_an_ejected_endpoint_is_ordered_out),
		cmocka_unit_test(test_a_headless_name_leaves_out_an_ejected_pod),
		cmocka_unit_test(test_at_most_the_share_is_ejected),
		cmocka_unit_test(test_affinity_uses_the_chosen_set),
		cmocka_unit_test(test_a_delta_follows_ejection),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
