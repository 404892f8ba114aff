/* cmocka tests for traffic splits (issue 25, item 3): TCPRoute manifests
 * (agent/manifest/manifest_tcproute.c) and their errors at line:col, the
 * model's attachment and precedence (agent/model/model_route.c), the 3.5
 * SPLITS section as written and read (bounds included), and the pick by
 * weight (preload/redirect/route.c). */
#define _GNU_SOURCE
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
#include "model.h"
#include "route.h"
#include "snap_build.h"
#include "sources.h"
#include "testutil.h"

#include "../snap_exercise.h"

#define ROUTE_HEAD                                                  \
	"apiVersion: gateway.networking.k8s.io/v1\n"                \
	"kind: TCPRoute\n"                                           \
	"metadata: {name: canary, namespace: default}\n"

static int load(const char *text, struct manifest_set *set, struct tu_diag *t)
{
	tu_diag_init(t);
	memset(set, 0, sizeof(*set));
	return manifest_load_data("r.yaml", text, strlen(text), set, &t->d);
}

static void test_parse_defaults(void **state)
{
	struct manifest_set set;
	struct tu_diag t;
	const struct k8s_tcproute *r;

	(void)state;
	assert_int_equal(load("apiVersion: gateway.networking.k8s.io/v1alpha2\n"
			      "kind: TCPRoute\n"
			      "metadata: {name: canary, namespace: shop}\n"
			      "spec:\n"
			      "  parentRefs:\n"
			      "  - {group: \"\", kind: Service, name: web, port: 9000}\n"
			      "  - {name: edge}\n" /* a Gateway: not ours */
			      "  rules:\n"
			      "  - backendRefs:\n"
			      "    - {name: web-v1, port: 9000}\n"
			      "    - {name: web-v2, port: 9000, weight: 0}\n"
			      "    - {name: web-v3, namespace: other, port: 9000, weight: 5}\n",
			      &set, &t), 0);
	assert_int_equal(set.n_routes, 1);
	r = &set.routes[0];
	assert_string_equal(r->meta.ns, "shop");
	assert_int_equal(r->n_parents, 1);
	assert_string_equal(r->parents[0].ns, "shop");
	assert_string_equal(r->parents[0].name, "web");
	assert_int_equal(r->parents[0].port, 9000);
	assert_int_equal(r->n_refs, 3);
	assert_int_equal(r->refs[0].weight, 1); /* the API's default */
	assert_false(r->refs[0].refused);
	assert_int_equal(r->refs[1].weight, 0);
	/* another namespace needs a ReferenceGrant: kept, refused, warned */
	assert_true(r->refs[2].refused);
	assert_int_equal(r->refs[2].weight, 5);
	assert_true(tu_diag_has(&t, "r.yaml:12:7: warning: spec.rules[0].backendRefs[2]: in "
				   "namespace other"));
	manifest_set_free(&set);
}

/* Each error once, at its line:col; the file's set untouched. */
static void expect_error(const char *text, const char *want)
{
	struct manifest_set set;
	struct tu_diag t;

	assert_int_equal(load(text, &set, &t), -EINVAL);
	if (!tu_diag_has(&t, want)) {
		for (unsigned i = 0; i < t.n; i++)
			print_error("%s\n", t.lines[i]);
		fail_msg("no \"%s\"", want);
	}
}

static void test_parse_errors(void **state)
{
	(void)state;
	expect_error(ROUTE_HEAD "spec:\n"
				"  parentRefs: [{kind: Service, name: web}]\n"
				"  rules:\n"
				"  - backendRefs:\n"
				"    - {name: a, port: 80, weight: 1000001}\n",
		     "r.yaml:8:35: spec.rules[0].backendRefs[0].weight: Invalid value: 1000001");
	expect_error(ROUTE_HEAD "spec:\n"
				"  parentRefs: [{kind: Service, name: web}]\n"
				"  rules: [{backendRefs: [{name: a, weight: -1, port: 80}]}]\n",
		     "spec.rules[0].backendRefs[0].weight: Invalid value: -1");
	expect_error(ROUTE_HEAD "spec:\n"
				"  parentRefs: [{kind: Service, name: web}]\n"
				"  rules: [{backendRefs: [{name: a}]}]\n",
		     "r.yaml:6:26: spec.rules[0].backendRefs[0].port: Required value");
	expect_error(ROUTE_HEAD "spec:\n"
				"  parentRefs: [{kind: Service, name: web}]\n",
		     "r.yaml:5:3: spec.rules: Required value");
	expect_error(ROUTE_HEAD "spec:\n"
				"  parentRefs: [{kind: Service, name: web}]\n"
				"  rules: [{backendRefs: []}]\n",
		     "spec.rules[0].backendRefs: Required value");
	expect_error(ROUTE_HEAD "spec:\n"
				"  parentRefs: [{kind: Service, name: Web_1}]\n"
				"  rules: [{backendRefs: [{name: a, port: 80}]}]\n",
		     "spec.parentRefs[0].name: Invalid value");
}

/* ---- the model and the table ---------------------------------------------- */

struct world {
	struct model_source src[4];
	struct manifest_set sets[4];
	size_t n;
	struct model_out out;
	struct tu_diag diag;
	void *bytes;
	size_t size;
	struct ldmesh_snap snap;
};

static void add(struct world *w, const char *path, const char *text)
{
	struct tu_diag t;

	w->src[w->n].path = path;
	w->src[w->n].set = &w->sets[w->n];
	assert_int_equal(load(text, &w->sets[w->n], &t), 0);
	w->n++;
}

static void resolve_build(struct world *w)
{
	struct model_opts o = { .cluster_domain = "cluster.local" };
	char why[256] = "";

	assert_int_equal(ipalloc_parse_cidrs("10.96.0.0/12", &o.cidrs), 0);
	tu_diag_init(&w->diag);
	assert_int_equal(model_resolve(w->src, w->n, &o, NULL, &w->out, &w->diag.d), 0);
	w->out.in.generation = 2;
	assert_int_equal(snap_build(&w->out.in, &w->bytes, &w->size), 0);
	if (tu_snap_init(&w->snap, w->bytes, w->size, why, sizeof(why)))
		fail_msg("snapshot refused: %s", why);
}

static void world_free(struct world *w)
{
	free(w->bytes);
	model_out_free(&w->out);
	for (size_t i = 0; i < w->n; i++)
		manifest_set_free(&w->sets[i]);
	memset(w, 0, sizeof(*w));
}

#define SVC(name, ip, pod)                                                              \
	"---\napiVersion: v1\nkind: Service\nmetadata: {name: " name ", namespace: default}\n" \
	"spec: {clusterIP: " ip ", ports: [{port: 9000, targetPort: 9100}]}\n"           \
	"---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"                    \
	"metadata: {name: " name "-1, namespace: default,"                                \
	" labels: {kubernetes.io/service-name: " name "}}\n"                              \
	"addressType: IPv4\nports: [{port: 9100}]\n"                                     \
	"endpoints: [{addresses: [" pod "]}]\n"

#define SERVICES                                                             \
	SVC("web", "10.96.0.80", "10.244.9.5") SVC("web-v1", "10.96.0.81", "10.244.1.5") \
	SVC("web-v2", "10.96.0.82", "10.244.2.5")

static const char *route_text(const char *name, const char *created, unsigned w1, unsigned w2)
{
	static char buf[2][1024];
	static int k;

	k ^= 1;
	snprintf(buf[k], sizeof(buf[k]),
		 "apiVersion: gateway.networking.k8s.io/v1\nkind: TCPRoute\n"
		 "metadata: {name: %s, namespace: default, creationTimestamp: \"%s\"}\n"
		 "spec:\n  parentRefs: [{kind: Service, name: web}]\n"
		 "  rules: [{backendRefs: [{name: web-v1, port: 9000, weight: %u},"
		 " {name: web-v2, port: 9000, weight: %u}]}]\n",
		 name, created, w1, w2);
	return buf[k];
}

static uint32_t service_named(const struct ldmesh_snap *s, const char *fqdn,
			      struct ldmesh_service *out)
{
	struct ldmesh_name_slot ns;

	assert_true(ldmesh_snap_find_name(s, fqdn, strlen(fqdn), &ns));
	assert_true(ldmesh_snap_service(s, ns.service, out));
	return ns.service;
}

/* A connect to web (10.96.0.80:9000/proto) redirected: the third octet
 * of the pod it went to (10.244.<n>.5). */
static uint8_t pick(const struct world *w, uint8_t proto, uint64_t rnd, uint64_t client,
		    struct route_result *r)
{
	struct ldmesh_vip_slot vip;
	uint8_t a[16];

	assert_int_equal(manifest_parse_ip("10.96.0.80", a), 0);
	assert_true(ldmesh_snap_find_vip(&w->snap, a, 9000, proto, &vip));
	route_pick(&w->snap, &w->snap, &vip, AF_INET, rnd, client, r);
	assert_int_equal(r->verdict, ROUTE_REDIRECT);
	return r->backend[14];
}

/* The table's splits of web; the pick sends exactly the weights' shares of
 * draws spread evenly over the low 32 bits (the split's bits). */
static void test_table_and_pick(void **state)
{
	struct world w = { .n = 0 };
	struct ldmesh_service svc;
	struct ldmesh_split sp;
	struct ldmesh_vip_slot vip;
	uint8_t a[16];
	unsigned got[2] = { 0, 0 }, n = 1000;

	(void)state;
	add(&w, "s.yaml", SERVICES);
	add(&w, "r.yaml", route_text("canary", "2024-01-01T00:00:00Z", 90, 10));
	resolve_build(&w);
	assert_int_equal(w.diag.n, 0);
	service_named(&w.snap, "web.default.svc.cluster.local", &svc);
	assert_int_equal(svc.split_count, 2);
	assert_true(ldmesh_snap_split(&w.snap, &svc, 0, &sp));
	assert_string_equal(tu_str(&w.snap, sp.target), "web-v1.default.svc.cluster.local");
	assert_int_equal(sp.weight, 90);
	assert_int_equal(sp.port, 9000);
	assert_int_equal(sp.parent_port, 0);
	assert_true(ldmesh_snap_split(&w.snap, &svc, 1, &sp));
	assert_int_equal(sp.weight, 10);
	assert_false(ldmesh_snap_split(&w.snap, &svc, 2, &sp));
	/* a backend without a route has none */
	service_named(&w.snap, "web-v1.default.svc.cluster.local", &svc);
	assert_int_equal(svc.split_count, 0);

	assert_int_equal(manifest_parse_ip("10.96.0.80", a), 0);
	assert_true(ldmesh_snap_find_vip(&w.snap, a, 9000, LDMESH_PROTO_TCP, &vip));
	for (unsigned i = 0; i < n; i++) {
		struct route_result r;
		uint64_t rnd = ((uint64_t)i << 32) / n + 1; /* low bits: i/n */

		route_pick(&w.snap, &w.snap, &vip, AF_INET, rnd, 0, &r);
		assert_int_equal(r.verdict, ROUTE_REDIRECT);
		assert_int_equal(r.split_total, 100);
		assert_int_equal(r.backend_port, 9100);
		got[r.backend[14] == 2]++; /* 10.244.1.5 or 10.244.2.5 */
		assert_true(r.backend[14] == 1 || r.backend[14] == 2);
	}
	assert_int_equal(got[0], 900);
	assert_int_equal(got[1], 100);
	world_free(&w);
}

/* A TCPRoute splits TCP only: a UDP connect to the parent's port of the
 * same number goes to the parent's own endpoint. */
static void test_udp_not_split(void **state)
{
	struct world w = { .n = 0 };
	struct route_result r;

	(void)state;
	add(&w, "s.yaml",
	    "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default}\n"
	    "spec: {clusterIP: 10.96.0.80, ports: [{name: t, port: 9000, targetPort: 9100},"
	    " {name: u, port: 9000, targetPort: 9100, protocol: UDP}]}\n"
	    "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
	    "metadata: {name: web-1, namespace: default, labels: {kubernetes.io/service-name: web}}\n"
	    "addressType: IPv4\nports: [{name: t, port: 9100}, {name: u, port: 9100, protocol: UDP}]\n"
	    "endpoints: [{addresses: [10.244.9.5]}]\n"
	    SVC("web-v1", "10.96.0.81", "10.244.1.5") SVC("web-v2", "10.96.0.82", "10.244.2.5"));
	add(&w, "r.yaml", route_text("canary", "2024-01-01T00:00:00Z", 1, 0));
	resolve_build(&w);
	assert_int_equal(pick(&w, LDMESH_PROTO_UDP, 12345, 0, &r), 9);
	assert_int_equal(r.split_total, 0);
	assert_int_equal(pick(&w, LDMESH_PROTO_TCP, 12345, 0, &r), 1);
	world_free(&w);
}

/* A route may name its parent as a backend (a canary beside the stable
 * version): that share goes to the parent's own endpoints, not round the
 * split again. */
static void test_parent_as_backend(void **state)
{
	struct world w = { .n = 0 };
	struct route_result r;

	(void)state;
	add(&w, "s.yaml", SERVICES);
	add(&w, "r.yaml", ROUTE_HEAD "spec:\n"
				     "  parentRefs: [{kind: Service, name: web}]\n"
				     "  rules: [{backendRefs: [{name: web, port: 9000}]}]\n");
	resolve_build(&w);
	for (uint64_t i = 0; i < 16; i++) {
		assert_int_equal(pick(&w, LDMESH_PROTO_TCP, i * 0x9e3779b97f4a7c15ULL, 0, &r), 9);
		assert_int_equal(r.split_total, 1);
	}
	world_free(&w);
}

/* sessionAffinity: ClientIP on the parent: one client, whatever the
 * random draw, always reaches the same backend Service (and pod); the
 * clients together still spread over both. */
static void test_affinity_sticks(void **state)
{
	struct world w = { .n = 0 };
	struct route_result r;
	unsigned seen[2] = { 0, 0 };

	(void)state;
	add(&w, "s.yaml",
	    "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default}\n"
	    "spec: {clusterIP: 10.96.0.80, sessionAffinity: ClientIP,"
	    " ports: [{port: 9000, targetPort: 9100}]}\n"
	    SVC("web-v1", "10.96.0.81", "10.244.1.5") SVC("web-v2", "10.96.0.82", "10.244.2.5"));
	add(&w, "r.yaml", route_text("canary", "2024-01-01T00:00:00Z", 1, 1));
	resolve_build(&w);
	for (uint64_t client = 1; client <= 64; client++) {
		uint8_t first = pick(&w, LDMESH_PROTO_TCP, 0, client * 0xc2b2ae3d27d4eb4fULL, &r);

		for (uint64_t i = 1; i < 8; i++)
			assert_int_equal(pick(&w, LDMESH_PROTO_TCP, i * 0x9e3779b97f4a7c15ULL,
					      client * 0xc2b2ae3d27d4eb4fULL, &r), first);
		seen[first == 2]++;
	}
	assert_true(seen[0] > 0 && seen[1] > 0);
	world_free(&w);
}

/* Two routes on one parent: the older wins whatever the names, the other is
 * reported; a route on a missing Service attaches nowhere, reported. */
static void test_precedence(void **state)
{
	struct world w = { .n = 0 };
	struct ldmesh_service svc;
	struct ldmesh_split sp;

	(void)state;
	add(&w, "s.yaml", SERVICES);
	add(&w, "a.yaml", route_text("a-newer", "2024-06-01T00:00:00Z", 1, 0));
	add(&w, "b.yaml", route_text("b-older", "2024-01-01T00:00:00Z", 0, 1));
	add(&w, "c.yaml", ROUTE_HEAD "spec:\n"
				     "  parentRefs: [{kind: Service, name: nowhere}]\n"
				     "  rules: [{backendRefs: [{name: web-v1, port: 9000}]}]\n");
	resolve_build(&w);
	assert_true(tu_diag_has(&w.diag, "a.yaml:1:1: warning: TCPRoute default/a-newer: loses "
					 "to TCPRoute default/b-older"));
	assert_true(tu_diag_has(&w.diag, "c.yaml:1:1: warning: TCPRoute default/canary: parent "
					 "Service default/nowhere not found"));
	assert_int_equal(w.out.n_route_notes, 2);
	service_named(&w.snap, "web.default.svc.cluster.local", &svc);
	assert_int_equal(svc.split_count, 2);
	assert_true(ldmesh_snap_split(&w.snap, &svc, 1, &sp));
	assert_int_equal(sp.weight, 1); /* b-older's: web-v2 at 1 */
	world_free(&w);
}

/* A changed route changes its parent's cache key only (so only the parent
 * is republished), and a route with the same content keeps it. */
static void test_cache_keys(void **state)
{
	struct world w1 = { .n = 0 }, w2 = { .n = 0 }, w3 = { .n = 0 };
	uint64_t k[3][3];

	(void)state;
	add(&w1, "s.yaml", SERVICES);
	add(&w1, "r.yaml", route_text("canary", "2024-01-01T00:00:00Z", 90, 10));
	resolve_build(&w1);
	add(&w2, "s.yaml", SERVICES);
	add(&w2, "r.yaml", route_text("canary", "2024-01-01T00:00:00Z", 50, 50));
	resolve_build(&w2);
	add(&w3, "s.yaml", SERVICES);
	resolve_build(&w3);
	for (int i = 0; i < 3; i++) {
		k[0][i] = w1.out.services[i].cache_key;
		k[1][i] = w2.out.services[i].cache_key;
		k[2][i] = w3.out.services[i].cache_key;
	}
	/* services in file order: web, web-v1, web-v2 (the key also names
	 * the file's load, equal here as each world loads once) */
	assert_int_not_equal(k[0][0], k[1][0]);
	assert_int_not_equal(k[0][0], k[2][0]);
	assert_int_equal(k[0][1], k[1][1]);
	assert_int_equal(k[0][2], k[1][2]);
	world_free(&w1);
	world_free(&w2);
	world_free(&w3);
}

/* A hostile SPLITS. The section's descriptor: each damage (resealed) is
 * refused at init. The records: every byte of SPLITS and of the services'
 * split words flipped in turn, the table still maps and every access
 * (tests/snap_exercise.h, the pick included) stays inside it. */
static void seal_damaged(uint8_t *b, const struct ldmesh_snap_header *h)
{
	ldmesh_snap_header_seal(b, h);
}

static void expect_refused(const struct world *w, uint8_t *copy, void (*damage)(struct ldmesh_section *, size_t),
			   const char *what)
{
	struct ldmesh_snap_header h;
	struct ldmesh_snap s;
	char why[256] = "";

	memcpy(copy, w->bytes, w->size);
	memcpy(&h, w->bytes, sizeof(h));
	damage(&h.splits, w->size);
	seal_damaged(copy, &h);
	if (!tu_snap_init(&s, copy, w->size, why, sizeof(why)))
		fail_msg("%s: not refused", what);
	assert_non_null(strstr(why, "splits"));
}

static void d_entry(struct ldmesh_section *x, size_t n) { (void)n; x->entry_size = 12, x->size = 24; }
static void d_entry0(struct ldmesh_section *x, size_t n) { (void)n; x->entry_size = 0; }
static void d_size(struct ldmesh_section *x, size_t n) { (void)n; x->size += 16; }
static void d_count(struct ldmesh_section *x, size_t n) { (void)n; x->count = UINT32_MAX; }
static void d_far(struct ldmesh_section *x, size_t n)
{
	(void)n;
	x->count = 0x80000001u;
	x->size = (uint64_t)x->count * x->entry_size;
}
static void d_past(struct ldmesh_section *x, size_t n) { x->offset = n + 8; }
static void d_end(struct ldmesh_section *x, size_t n) { x->offset = (n - x->size + 8) & ~7ULL; }
static void d_wrap(struct ldmesh_section *x, size_t n) { (void)n; x->offset = (UINT64_MAX - x->size + 1) & ~7ULL; }
static void d_odd(struct ldmesh_section *x, size_t n) { (void)n; x->offset += 4; }
static void d_header(struct ldmesh_section *x, size_t n) { (void)n; x->offset = 8; }
static void d_early(struct ldmesh_section *x, size_t n) { (void)n; x->offset -= 8; } /* over SUPERSEDED's end */

static void test_hostile_splits(void **state)
{
	struct world w = { .n = 0 };
	struct ldmesh_snap_header h;
	struct ldmesh_service svc;
	struct ldmesh_split sp;
	struct ldmesh_snap s;
	char why[256];
	uint8_t *copy;
	static const struct { void (*fn)(struct ldmesh_section *, size_t); const char *what; } cases[] = {
		{ d_entry, "entry size 12" }, { d_entry0, "entry size 0" }, { d_size, "size" },
		{ d_count, "count" }, { d_far, "far past the file" }, { d_past, "past the file" },
		{ d_end, "end past the file" }, { d_wrap, "wrapping" }, { d_odd, "misaligned" },
		{ d_header, "over the header" }, { d_early, "over the sections" },
	};

	(void)state;
	add(&w, "s.yaml", SERVICES);
	add(&w, "r.yaml", route_text("canary", "2024-01-01T00:00:00Z", 90, 10));
	resolve_build(&w);
	copy = aligned_alloc(8, (w.size + 7) & ~(size_t)7);
	assert_non_null(copy);
	memcpy(&h, w.bytes, sizeof(h));
	assert_int_equal(h.splits.count, 2);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_refused(&w, copy, cases[i].fn, cases[i].what);

	/* the service claims more splits than the section has */
	memcpy(copy, w.bytes, w.size);
	assert_int_equal(tu_snap_init(&s, copy, w.size, why, sizeof(why)), 0);
	{
		uint32_t i = service_named(&s, "web.default.svc.cluster.local", &svc);
		struct ldmesh_service *rec = (struct ldmesh_service *)&s.services[i];
		struct ldmesh_split *last = (struct ldmesh_split *)&s.splits[s.n_splits - 1];

		rec->split_count = UINT32_MAX;
		rec->first_split = s.n_splits - 1;
		last->weight = UINT32_MAX;
		assert_true(ldmesh_snap_service(&s, i, &svc));
		assert_true(ldmesh_snap_split(&s, &svc, 0, &sp));
		assert_int_equal(sp.weight, LDMESH_SPLIT_WEIGHT_MAX);
		assert_false(ldmesh_snap_split(&s, &svc, 1, &sp));
		(void)exercise_snap(&s, 0, UINT32_MAX);
		rec->first_split = UINT32_MAX - 1;
		assert_true(ldmesh_snap_service(&s, i, &svc));
		assert_false(ldmesh_snap_split(&s, &svc, 0, &sp));
		(void)exercise_snap(&s, 0, UINT32_MAX);
	}
	/* every byte of SPLITS, each bit pattern that moves references far */
	for (uint64_t off = h.splits.offset; off < h.splits.offset + h.splits.size; off++)
		for (unsigned v = 0; v < 3; v++) {
			static const uint8_t vals[3] = { 0xff, 0x80, 0x01 };

			memcpy(copy, w.bytes, w.size);
			copy[off] ^= vals[v];
			assert_int_equal(tu_snap_init(&s, copy, w.size, why, sizeof(why)), 0);
			(void)exercise_snap(&s, 0, UINT32_MAX);
		}
	free(copy);
	world_free(&w);
}

/* With a route in force, an edit of a parent's or a backend's endpoints is
 * applied in place (the split stays, in the parent's key: what a full
 * resolve gives); an edit of the parent's own object, or of the route, is
 * resolved in full. */
static const struct snap_service_in *svc_in(const struct model_out *m, const char *name)
{
	for (size_t i = 0; i < m->n_services; i++)
		if (!strcmp(m->services[i].name, name))
			return &m->services[i];
	fail_msg("no service %s", name);
	return NULL;
}

static int update(struct sources *src, const char *dir, const char *rel,
		  const struct model_opts *o, struct model_out *m, struct tu_diag *t)
{
	const struct snap_change *ch;
	char path[512];
	size_t n_ch;
	int r;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	assert_true(sources_update(src, path, true, &t->d) >= 0);
	r = model_update(m, src->v, src->n, src->retired, src->n_retired, o, &t->d, &ch, &n_ch);
	if (r == 0) {
		struct model_out out;

		assert_int_equal(model_resolve(src->v, src->n, o, m, &out, &t->d), 0);
		model_out_free(m);
		*m = out;
	}
	sources_retired_free(src);
	return r;
}

static void assert_as_full(const struct sources *src, const struct model_opts *o,
			   const struct model_out *m, struct tu_diag *t)
{
	struct model_out ref;

	assert_int_equal(model_resolve(src->v, src->n, o, NULL, &ref, &t->d), 0);
	for (size_t i = 0; i < ref.n_services; i++) {
		const struct snap_service_in *a = svc_in(m, ref.services[i].name);

		assert_int_equal(a->cache_key, ref.services[i].cache_key);
		assert_int_equal(a->n_splits, ref.services[i].n_splits);
		assert_int_equal(a->n_endpoints, ref.services[i].n_endpoints);
	}
	model_out_free(&ref);
}

#define SLICE(svc, ip)                                                            \
	"---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"                 \
	"metadata: {name: " svc "-1, namespace: default,"                          \
	" labels: {kubernetes.io/service-name: " svc "}}\n"                        \
	"addressType: IPv4\nports: [{port: 9100}]\nendpoints: [{addresses: [" ip "]}]\n"

static void test_update_in_place(void **state)
{
	struct model_opts o = { .cluster_domain = "cluster.local" };
	struct sources src = { .v = NULL };
	struct model_out m;
	struct tu_diag t;
	char *dir = tu_tmpdir("split-update");

	(void)state;
	assert_int_equal(ipalloc_parse_cidrs("10.96.0.0/12", &o.cidrs), 0);
	tu_diag_init(&t);
	tu_write(dir, "svc.yaml",
		 "apiVersion: v1\nkind: Service\nmetadata: {name: web}\n"
		 "spec: {clusterIP: 10.96.0.80, ports: [{port: 9000}]}\n---\n"
		 "apiVersion: v1\nkind: Service\nmetadata: {name: web-v1}\n"
		 "spec: {clusterIP: 10.96.0.81, ports: [{port: 9000}]}\n");
	tu_write(dir, "sl.yaml", SLICE("web", "10.244.9.5") SLICE("web-v1", "10.244.1.5"));
	tu_write(dir, "route.yaml", route_text("canary", "2024-01-01T00:00:00Z", 1, 1));
	assert_true(sources_rescan(&src, dir, &t.d) > 0);
	sources_retired_free(&src);
	assert_int_equal(model_resolve(src.v, src.n, &o, NULL, &m, &t.d), 0);
	assert_int_equal(svc_in(&m, "web")->n_splits, 2);

	tu_write(dir, "sl.yaml", SLICE("web", "10.244.9.6") SLICE("web-v1", "10.244.1.6"));
	assert_int_equal(update(&src, dir, "sl.yaml", &o, &m, &t), 1);
	assert_int_equal(svc_in(&m, "web")->n_splits, 2);
	assert_as_full(&src, &o, &m, &t);

	tu_write(dir, "route.yaml", route_text("canary", "2024-01-01T00:00:00Z", 3, 1));
	assert_int_equal(update(&src, dir, "route.yaml", &o, &m, &t), 0);
	assert_as_full(&src, &o, &m, &t);

	tu_write(dir, "svc.yaml",
		 "apiVersion: v1\nkind: Service\nmetadata: {name: web}\n"
		 "spec: {clusterIP: 10.96.0.80, ports: [{name: a, port: 9000}, {name: b, port: 9001}]}\n---\n"
		 "apiVersion: v1\nkind: Service\nmetadata: {name: web-v1}\n"
		 "spec: {clusterIP: 10.96.0.81, ports: [{port: 9000}]}\n");
	assert_int_equal(update(&src, dir, "svc.yaml", &o, &m, &t), 0);
	assert_as_full(&src, &o, &m, &t);

	model_out_free(&m);
	sources_free(&src);
	tu_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_defaults),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_table_and_pick),
		cmocka_unit_test(test_udp_not_split),
		cmocka_unit_test(test_parent_as_backend),
		cmocka_unit_test(test_affinity_sticks),
		cmocka_unit_test(test_precedence),
		cmocka_unit_test(test_cache_keys),
		cmocka_unit_test(test_hostile_splits),
		cmocka_unit_test(test_update_in_place),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
