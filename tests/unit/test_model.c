/* cmocka tests for the cluster model (agent/model/model.c): Service <-> Pod /
 * EndpointSlice / Endpoints joins, endpoint conditions, named ports,
 * headless and ExternalName services, conflicts between files, and the
 * snapshot the result builds into. */
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

#include "ldmesh/hash.h"
#include "ldmesh/reader.h"
#include "model.h"
#include "snap_build.h"
#include "testutil.h"

#define MODEL_FIX LDMESH_FIXTURES "/model/"

#define RS (LDMESH_EP_F_READY | LDMESH_EP_F_SERVING)
#define ST (LDMESH_EP_F_SERVING | LDMESH_EP_F_TERMINATING)

struct world {
	struct model_source src[8];
	struct manifest_set sets[8]; /* src[i].set */
	size_t n;
	struct model_out out;
	struct tu_diag diag;
	int resolved;
	void *bytes;
	size_t size;
	struct ldmesh_snap snap;
};

static void ip(uint8_t out[16], const char *text)
{
	if (manifest_parse_ip(text, out))
		fail_msg("bad ip in test: %s", text);
}

static const char *fmt(const uint8_t a[16])
{
	static char buf[8][64];
	static int k;
	k = (k + 1) % 8;
	return ipalloc_format(a, buf[k], sizeof(buf[k]));
}

static void print_diag(const struct tu_diag *t)
{
	for (unsigned i = 0; i < t->n; i++)
		print_error("%s\n", t->lines[i]);
}

static void add_text(struct world *w, const char *path, const char *text)
{
	struct tu_diag t;

	tu_diag_init(&t);
	w->src[w->n].path = path;
	w->src[w->n].set = &w->sets[w->n];
	memset(&w->sets[w->n], 0, sizeof(w->sets[w->n]));
	if (manifest_load_data(path, text, strlen(text), &w->sets[w->n], &t.d)) {
		print_diag(&t);
		fail_msg("%s did not load", path);
	}
	w->n++;
}

static void add_file(struct world *w, const char *path)
{
	struct tu_diag t;

	tu_diag_init(&t);
	w->src[w->n].path = path;
	w->src[w->n].set = &w->sets[w->n];
	memset(&w->sets[w->n], 0, sizeof(w->sets[w->n]));
	if (manifest_load_file(path, &w->sets[w->n], &t.d)) {
		print_diag(&t);
		fail_msg("%s did not load", path);
	}
	w->n++;
}

static void resolve_cidr(struct world *w, const char *cidr)
{
	struct model_opts o = { .cluster_domain = "cluster.local", .node_name = "node-a" };

	assert_int_equal(ipalloc_parse_cidrs(cidr, &o.cidrs), 0);
	tu_diag_init(&w->diag);
	assert_int_equal(model_resolve(w->src, w->n, &o, NULL, &w->out, &w->diag.d), 0);
	w->resolved = 1;
}

static void resolve(struct world *w)
{
	resolve_cidr(w, "10.96.0.0/12,fd00:10:96::/108");
}

/* Resolve and expect no warnings. */
static void resolve_clean(struct world *w)
{
	resolve(w);
	print_diag(&w->diag);
	assert_int_equal(w->diag.n, 0);
	assert_int_equal(w->out.conflicts, 0);
}

static void build(struct world *w)
{
	char why[256] = "";

	w->out.in.generation = 3;
	w->out.in.created_unix_ns = 1;
	assert_int_equal(snap_build(&w->out.in, &w->bytes, &w->size), 0);
	if (tu_snap_init(&w->snap, w->bytes, w->size, why, sizeof(why)))
		fail_msg("snapshot refused: %s", why);
}

static void world_free(struct world *w)
{
	free(w->bytes);
	if (w->resolved)
		model_out_free(&w->out);
	for (size_t i = 0; i < w->n; i++)
		manifest_set_free(&w->sets[i]);
	memset(w, 0, sizeof(*w));
}

static const struct snap_service_in *svc_of(const struct world *w, const char *ns,
					    const char *name)
{
	for (size_t i = 0; i < w->out.n_services; i++)
		if (!strcmp(w->out.services[i].ns, ns) && !strcmp(w->out.services[i].name, name))
			return &w->out.services[i];
	fail_msg("no service %s/%s", ns, name);
	return NULL;
}

static const struct snap_endpoint_in *ep_of(const struct snap_service_in *s, const char *addr)
{
	uint8_t a[16];

	ip(a, addr);
	for (size_t i = 0; i < s->n_endpoints; i++)
		if (!memcmp(s->endpoints[i].addr, a, 16))
			return &s->endpoints[i];
	return NULL;
}

/* The exact endpoint set, in any order: "addr" and flags, NULL-terminated. */
struct want_ep {
	const char *addr;
	uint32_t flags;
};

static void expect_eps(const struct snap_service_in *s, const struct want_ep *want)
{
	size_t n = 0;

	for (; want[n].addr; n++) {
		const struct snap_endpoint_in *e = ep_of(s, want[n].addr);
		if (!e)
			fail_msg("%s/%s: endpoint %s missing", s->ns, s->name, want[n].addr);
		if (e->flags != want[n].flags)
			fail_msg("%s/%s: endpoint %s flags %#x, want %#x", s->ns, s->name,
				 want[n].addr, e->flags, want[n].flags);
	}
	if (s->n_endpoints != n) {
		for (size_t i = 0; i < s->n_endpoints; i++)
			print_error("have %s\n", fmt(s->endpoints[i].addr));
		fail_msg("%s/%s: %zu endpoints, want %zu", s->ns, s->name, s->n_endpoints, n);
	}
}

static const struct ldmesh_service *snap_svc(const struct world *w, const char *fqdn)
{
	const struct ldmesh_name_slot *n = tu_name(&w->snap, fqdn, strlen(fqdn));

	if (!n)
		fail_msg("name %s not in snapshot", fqdn);
	assert_int_equal(n->endpoint, LDMESH_NONE);
	return &w->snap.services[n->service];
}

/* ---- the seed: endpoints from pods ------------------------------------- */

static void test_seed_endpoints_from_pods(void **state)
{
	struct world w = { .n = 0 };
	const struct snap_service_in *s;
	struct ipalloc_cidr c;

	(void)state;
	add_file(&w, MODEL_FIX "seed.yaml");
	resolve_clean(&w);
	/* only default/backend: the other-namespace pod makes no service */
	assert_int_equal(w.out.n_services, 1);
	s = svc_of(&w, "default", "backend");
	static const struct want_ep want[] = {
		{ "10.244.1.5", RS },
		{ "10.244.1.6", RS },
		{ "10.244.1.7", 0 },
		{ "10.244.1.9", ST },
		{ NULL, 0 },
	};
	expect_eps(s, want);
	assert_int_equal(s->n_ports, 1);
	assert_int_equal(s->ports[0].port, 80);
	assert_int_equal(s->ports[0].target_port, 80);
	assert_int_equal(s->ports[0].protocol, LDMESH_PROTO_TCP);
	for (size_t i = 0; i < s->n_endpoints; i++)
		assert_int_equal(s->endpoints[i].ports[0], 80);
	const struct snap_endpoint_in *e = ep_of(s, "10.244.1.5");
	assert_string_equal(e->node, "node-a");
	assert_string_equal(e->target, "backend-1");
	assert_null(e->hostname); /* no spec.hostname/subdomain */
	assert_string_equal(ep_of(s, "10.244.1.6")->node, "node-b");
	assert_string_equal(ep_of(s, "10.244.1.9")->target, "backend-deleting");
	/* ClusterIP allocated inside the default CIDR */
	assert_int_equal(s->n_cluster_ips, 1);
	assert_int_equal(ipalloc_parse_cidr("10.96.0.0/12", &c), 0);
	assert_true(ipalloc_contains(&c, s->cluster_ips[0]));
	assert_int_equal(s->flags, LDMESH_SVC_F_ALLOCATED_IP);
	assert_int_equal(s->type, LDMESH_SVC_CLUSTER_IP);
	world_free(&w);
}

static void test_seed_snapshot_routes_to_ready_pods(void **state)
{
	struct world w = { .n = 0 };
	const struct snap_service_in *s;
	const struct ldmesh_service *ls;
	const struct ldmesh_vip_slot *v;
	uint32_t first, n;
	unsigned hit5 = 0, hit6 = 0;

	(void)state;
	add_file(&w, MODEL_FIX "seed.yaml");
	resolve_clean(&w);
	s = svc_of(&w, "default", "backend");
	build(&w);
	ls = snap_svc(&w, "backend.default.svc.cluster.local");
	assert_int_equal(ls->endpoint_count, 4);
	assert_int_equal(ls->ready_count, 2);
	assert_int_equal(ls->fallback_count, 1);
	assert_int_equal(ls->ip_count, 1);
	assert_memory_equal(ls->cluster_ips[0], s->cluster_ips[0], 16);
	v = tu_vip(&w.snap, s->cluster_ips[0], 80, LDMESH_PROTO_TCP);
	assert_non_null(v);
	assert_ptr_equal(&w.snap.services[v->service], ls);
	assert_null(tu_vip(&w.snap, s->cluster_ips[0], 8080, LDMESH_PROTO_TCP));
	assert_null(tu_vip(&w.snap, s->cluster_ips[0], 80, LDMESH_PROTO_UDP));
	n = ldmesh_snap_candidates(ls, &first);
	assert_int_equal(n, 2);
	for (uint64_t r = 0; r < 64; r++) {
		uint16_t port = 0;
		uint32_t ep = ldmesh_snap_pick(&w.snap, ls, 0, ldmesh_hash64(&r, sizeof(r), 1), &port);
		assert_int_not_equal(ep, LDMESH_NONE);
		assert_int_equal(port, 80);
		const char *a = fmt(w.snap.endpoints[ep].addr);
		if (!strcmp(a, "10.244.1.5"))
			hit5++;
		else if (!strcmp(a, "10.244.1.6"))
			hit6++;
		else
			fail_msg("picked %s", a);
	}
	assert_true(hit5 > 0 && hit6 > 0);
	world_free(&w);
}

static void test_publish_not_ready_addresses(void **state)
{
	static const char pnr[] =
		"apiVersion: v1\nkind: Service\nmetadata:\n  name: backend-peers\n"
		"spec:\n  publishNotReadyAddresses: true\n  clusterIP: None\n"
		"  selector:\n    app: testapp\n    type: backend\n"
		"  ports:\n  - port: 7000\n";
	struct world w = { .n = 0 };
	const struct snap_service_in *s;

	(void)state;
	add_file(&w, MODEL_FIX "seed.yaml");
	add_text(&w, "/m/peers.yaml", pnr);
	resolve_clean(&w);
	s = svc_of(&w, "default", "backend-peers");
	static const struct want_ep want[] = {
		{ "10.244.1.5", RS },
		{ "10.244.1.6", RS },
		{ "10.244.1.7", LDMESH_EP_F_READY },
		{ "10.244.1.9", LDMESH_EP_F_READY | ST },
		{ NULL, 0 },
	};
	expect_eps(s, want);
	assert_int_equal(s->flags, LDMESH_SVC_F_HEADLESS | LDMESH_SVC_F_PUBLISH_NOT_READY);
	for (size_t i = 0; i < s->n_endpoints; i++)
		assert_int_equal(s->endpoints[i].ports[0], 7000);
	/* the seed service next to it is unaffected */
	assert_int_equal(ep_of(svc_of(&w, "default", "backend"), "10.244.1.7")->flags, 0);
	build(&w);
	assert_int_equal(snap_svc(&w, "backend-peers.default.svc.cluster.local")->ready_count, 4);
	world_free(&w);
}

static void test_service_without_selector_gets_no_pods(void **state)
{
	static const char nosel[] =
		"apiVersion: v1\nkind: Service\nmetadata:\n  name: manual\n"
		"spec:\n  ports:\n  - port: 80\n";
	struct world w = { .n = 0 };

	(void)state;
	add_file(&w, MODEL_FIX "seed.yaml");
	add_text(&w, "/m/manual.yaml", nosel);
	resolve_clean(&w);
	assert_int_equal(svc_of(&w, "default", "manual")->n_endpoints, 0);
	world_free(&w);
}

/* ---- named targetPort -------------------------------------------------- */

static const char named_yaml[] =
	"apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n"
	"spec:\n  selector:\n    app: web\n  ports:\n"
	"  - name: http\n    port: 80\n    targetPort: http\n"
	"  - name: metrics\n    port: 9100\n    targetPort: 9100\n"
	"---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: web-v1\n  labels: {app: web}\n"
	"spec:\n  containers:\n  - name: app\n    image: web:1\n"
	"    ports:\n    - name: http\n      containerPort: 8080\n"
	"status:\n  phase: Running\n  podIP: 10.244.6.1\n"
	"  conditions:\n  - type: Ready\n    status: \"True\"\n"
	/* second version: http is 9090, in the second container */
	"---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: web-v2\n  labels: {app: web}\n"
	"spec:\n  containers:\n  - name: sidecar\n    image: s:1\n"
	"    ports:\n    - name: admin\n      containerPort: 8080\n"
	"  - name: app\n    image: web:2\n"
	"    ports:\n    - name: http\n      containerPort: 9090\n"
	"status:\n  phase: Running\n  podIP: 10.244.6.2\n"
	"  conditions:\n  - type: Ready\n    status: \"True\"\n"
	/* no port named http at all */
	"---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: web-old\n  labels: {app: web}\n"
	"spec:\n  containers:\n  - name: app\n    image: web:0\n"
	"    ports:\n    - name: web\n      containerPort: 80\n"
	"status:\n  phase: Running\n  podIP: 10.244.6.3\n"
	"  conditions:\n  - type: Ready\n    status: \"True\"\n"
	/* http, but UDP: the service port is TCP */
	"---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: web-udp\n  labels: {app: web}\n"
	"spec:\n  containers:\n  - name: app\n    image: web:3\n"
	"    ports:\n    - name: http\n      containerPort: 7070\n      protocol: UDP\n"
	"status:\n  phase: Running\n  podIP: 10.244.6.4\n"
	"  conditions:\n  - type: Ready\n    status: \"True\"\n";

static void test_named_target_port_per_pod(void **state)
{
	struct world w = { .n = 0 };
	const struct snap_service_in *s;
	static const struct {
		const char *addr;
		uint16_t http, metrics;
	} want[] = {
		{ "10.244.6.1", 8080, 9100 },
		{ "10.244.6.2", 9090, 9100 },
		{ "10.244.6.3", 0, 9100 },
		{ "10.244.6.4", 0, 9100 },
	};

	(void)state;
	add_text(&w, "/m/web.yaml", named_yaml);
	resolve_clean(&w);
	s = svc_of(&w, "default", "web");
	assert_int_equal(s->n_ports, 2);
	assert_string_equal(s->ports[0].target_port_name, "http");
	assert_int_equal(s->ports[0].target_port, 0);
	assert_null(s->ports[1].target_port_name);
	assert_int_equal(s->ports[1].target_port, 9100);
	assert_int_equal(s->n_endpoints, 4);
	for (size_t i = 0; i < 4; i++) {
		const struct snap_endpoint_in *e = ep_of(s, want[i].addr);
		assert_non_null(e);
		assert_int_equal(e->flags, RS);
		assert_int_equal(e->ports[0], want[i].http);
		assert_int_equal(e->ports[1], want[i].metrics);
	}
	/* end to end: a connect to :80 only lands on pods that serve http */
	build(&w);
	const struct ldmesh_service *ls = snap_svc(&w, "web.default.svc.cluster.local");
	assert_int_equal(ls->ready_count, 4);
	for (uint64_t r = 0; r < 64; r++) {
		uint16_t port = 0;
		uint32_t ep = ldmesh_snap_pick(&w.snap, ls, 0, ldmesh_hash64(&r, sizeof(r), 2), &port);
		assert_int_not_equal(ep, LDMESH_NONE);
		const char *a = fmt(w.snap.endpoints[ep].addr);
		if (!strcmp(a, "10.244.6.1"))
			assert_int_equal(port, 8080);
		else if (!strcmp(a, "10.244.6.2"))
			assert_int_equal(port, 9090);
		else
			fail_msg("picked %s, which does not serve http", a);
	}
	world_free(&w);
}

/* ---- EndpointSlices and Endpoints -------------------------------------- */

static void test_slices_joined_across_three_slices(void **state)
{
	struct world w = { .n = 0 };
	const struct snap_service_in *s;
	static const struct {
		const char *addr;
		uint32_t flags;
		uint16_t http, dns;
	} want[] = {
		{ "10.244.3.1", RS, 8080, 5300 },
		{ "10.244.3.2", RS, 8080, 5300 }, /* first listing, not multi-bbbb's */
		{ "10.244.3.3", ST, 8081, 0 },    /* its dns port is TCP */
		{ "10.244.3.4", 0, 8082, 5302 },
	};

	(void)state;
	add_file(&w, MODEL_FIX "slices.yaml");
	resolve_clean(&w);
	s = svc_of(&w, "shop", "multi");
	assert_int_equal(s->n_endpoints, 4);
	/* slices in file order, endpoints in slice order */
	for (size_t i = 0; i < 4; i++) {
		const struct snap_endpoint_in *e = &s->endpoints[i];
		assert_string_equal(fmt(e->addr), want[i].addr);
		assert_int_equal(e->flags, want[i].flags);
		assert_int_equal(e->ports[0], want[i].http);
		assert_int_equal(e->ports[1], want[i].dns);
	}
	assert_string_equal(s->endpoints[0].node, "node-a");
	assert_string_equal(s->endpoints[0].zone, "zone-1");
	assert_string_equal(s->endpoints[0].target, "multi-1");
	assert_string_equal(s->endpoints[1].node, "node-b");
	/* the matching pod is ignored: slices win */
	assert_null(ep_of(s, "10.244.3.99"));
	assert_null(ep_of(s, "10.244.9.9"));
	assert_string_equal(fmt(s->cluster_ips[0]), "10.96.50.50");
	assert_int_equal(s->flags, 0);

	build(&w);
	uint8_t vip[16];
	ip(vip, "10.96.50.50");
	const struct ldmesh_vip_slot *v = tu_vip(&w.snap, vip, 53, LDMESH_PROTO_UDP);
	assert_non_null(v);
	assert_int_equal(v->port_index, 1);
	const struct ldmesh_service *ls = &w.snap.services[v->service];
	assert_int_equal(ls->ready_count, 2);
	for (uint64_t r = 0; r < 32; r++) {
		uint16_t port = 0;
		uint32_t ep = ldmesh_snap_pick(&w.snap, ls, 1, r * 0x9e3779b97f4a7c15ULL, &port);
		assert_int_not_equal(ep, LDMESH_NONE);
		assert_int_equal(port, 5300);
	}
	assert_null(tu_vip(&w.snap, vip, 53, LDMESH_PROTO_TCP));
	world_free(&w);
}

static void test_slices_split_across_files(void **state)
{
	/* slices of one service in two files, listed before the Service */
	static const char s1[] =
		"apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n"
		"  name: api-1\n  labels: {kubernetes.io/service-name: api}\n"
		"addressType: IPv4\nports:\n- {name: '', protocol: TCP, port: 9000}\n"
		"endpoints:\n- addresses: [10.244.8.1]\n";
	static const char s2[] =
		"apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n"
		"  name: api-2\n  labels: {kubernetes.io/service-name: api}\n"
		"addressType: IPv4\nports:\n- {protocol: TCP, port: 9001}\n"
		"endpoints:\n- addresses: [10.244.8.2]\n  conditions: {ready: false, serving: false}\n";
	static const char svc[] =
		"apiVersion: v1\nkind: Service\nmetadata:\n  name: api\n"
		"spec:\n  ports:\n  - port: 80\n    targetPort: 9999\n";
	struct world w = { .n = 0 };
	const struct snap_service_in *s;

	(void)state;
	add_text(&w, "/m/a.yaml", s1);
	add_text(&w, "/m/b.yaml", s2);
	add_text(&w, "/m/c.yaml", svc);
	resolve_clean(&w);
	s = svc_of(&w, "default", "api");
	assert_int_equal(s->n_endpoints, 2);
	assert_string_equal(fmt(s->endpoints[0].addr), "10.244.8.1");
	assert_int_equal(s->endpoints[0].flags, RS);
	assert_int_equal(s->endpoints[0].ports[0], 9000);
	assert_string_equal(fmt(s->endpoints[1].addr), "10.244.8.2");
	assert_int_equal(s->endpoints[1].flags, 0);
	assert_int_equal(s->endpoints[1].ports[0], 9001);
	world_free(&w);
}

static void test_slice_without_service_label_not_joined(void **state)
{
	/* named like the service's slices, but no kubernetes.io/service-name */
	static const char orphan[] =
		"apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n"
		"  name: backend-abcde\n  labels: {app: testapp}\n"
		"addressType: IPv4\nports:\n- {protocol: TCP, port: 80}\n"
		"endpoints:\n- addresses: [10.244.7.7]\n";
	struct world w = { .n = 0 };

	(void)state;
	add_file(&w, MODEL_FIX "seed.yaml");
	add_text(&w, "/m/orphan.yaml", orphan);
	resolve_clean(&w);
	const struct snap_service_in *s = svc_of(&w, "default", "backend");
	assert_null(ep_of(s, "10.244.7.7"));
	assert_int_equal(s->n_endpoints, 4); /* still from pods */
	world_free(&w);
}

static void test_slices_win_over_pods(void **state)
{
	static const char slice[] =
		"apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n"
		"  name: whatever\n  labels: {kubernetes.io/service-name: backend}\n"
		"addressType: IPv4\nports:\n- {protocol: TCP, port: 8080}\n"
		"endpoints:\n- addresses: [10.244.7.7]\n  conditions: {ready: true}\n";
	struct world w = { .n = 0 };
	const struct snap_service_in *s;

	(void)state;
	add_file(&w, MODEL_FIX "seed.yaml");
	add_text(&w, "/m/zz-slice.yaml", slice);
	resolve_clean(&w);
	s = svc_of(&w, "default", "backend");
	static const struct want_ep want[] = { { "10.244.7.7", RS }, { NULL, 0 } };
	expect_eps(s, want);
	/* unnamed slice port matches the unnamed service port */
	assert_int_equal(s->endpoints[0].ports[0], 8080);
	world_free(&w);
}

static const char legacy_svc[] =
	"apiVersion: v1\nkind: Service\nmetadata:\n  name: legacy\n"
	"spec:\n  ports:\n  - name: http\n    port: 80\n    targetPort: 8080\n"
	"  - name: raw\n    port: 81\n    targetPort: 8181\n";
static const char legacy_ep[] =
	"apiVersion: v1\nkind: Endpoints\nmetadata:\n  name: legacy\n"
	"subsets:\n- addresses:\n  - ip: 10.0.0.1\n    nodeName: node-c\n"
	"  notReadyAddresses:\n  - ip: 10.0.0.2\n"
	"  ports:\n  - {name: http, port: 9000, protocol: TCP}\n"
	"- addresses:\n  - ip: 10.0.0.3\n";

static void test_endpoints_used_without_slices(void **state)
{
	struct world w = { .n = 0 };
	const struct snap_service_in *s;

	(void)state;
	add_text(&w, "/m/a.yaml", legacy_svc);
	add_text(&w, "/m/b.yaml", legacy_ep);
	resolve_clean(&w);
	s = svc_of(&w, "default", "legacy");
	static const struct want_ep want[] = {
		{ "10.0.0.1", RS },
		{ "10.0.0.2", 0 },
		{ "10.0.0.3", RS },
		{ NULL, 0 },
	};
	expect_eps(s, want);
	/* subset 1 serves http on 9000 and not raw; subset 2 has no ports:
	 * the numeric targetPorts */
	assert_int_equal(ep_of(s, "10.0.0.1")->ports[0], 9000);
	assert_int_equal(ep_of(s, "10.0.0.1")->ports[1], 0);
	assert_string_equal(ep_of(s, "10.0.0.1")->node, "node-c");
	assert_int_equal(ep_of(s, "10.0.0.3")->ports[0], 8080);
	assert_int_equal(ep_of(s, "10.0.0.3")->ports[1], 8181);
	world_free(&w);
}

static void test_endpoints_ignored_when_slices_exist(void **state)
{
	static const char slice[] =
		"apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n"
		"  name: legacy-x1\n  labels: {kubernetes.io/service-name: legacy}\n"
		"addressType: IPv4\nports:\n- {name: http, protocol: TCP, port: 9500}\n"
		"endpoints:\n- addresses: [10.0.1.1]\n";
	/* both orders: the Endpoints file before and after the slice's */
	for (int order = 0; order < 2; order++) {
		struct world w = { .n = 0 };
		const struct snap_service_in *s;

		add_text(&w, "/m/0.yaml", legacy_svc);
		add_text(&w, order ? "/m/2.yaml" : "/m/1.yaml", legacy_ep);
		add_text(&w, order ? "/m/1.yaml" : "/m/2.yaml", slice);
		if (order) { /* keep the array in path order */
			struct model_source t = w.src[1];
			w.src[1] = w.src[2];
			w.src[2] = t;
		}
		resolve_clean(&w);
		s = svc_of(&w, "default", "legacy");
		static const struct want_ep want[] = { { "10.0.1.1", RS }, { NULL, 0 } };
		expect_eps(s, want);
		assert_int_equal(s->endpoints[0].ports[0], 9500);
		world_free(&w);
	}
	(void)state;
}

static void test_empty_endpoints_object_means_no_endpoints(void **state)
{
	/* An Endpoints object with no subsets says "none", even though pods
	 * match the selector. */
	static const char ep[] =
		"apiVersion: v1\nkind: Endpoints\nmetadata:\n  name: backend\n";
	struct world w = { .n = 0 };

	(void)state;
	add_file(&w, MODEL_FIX "seed.yaml");
	add_text(&w, "/m/ep.yaml", ep);
	resolve_clean(&w);
	assert_int_equal(svc_of(&w, "default", "backend")->n_endpoints, 0);
	world_free(&w);
}

/* ---- headless and ExternalName ----------------------------------------- */

static const char headless_yaml[] =
	"apiVersion: v1\nkind: Service\nmetadata:\n  name: db\n"
	"spec:\n  clusterIP: None\n  selector: {app: db}\n  ports:\n  - port: 5432\n"
	"---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: db-0\n  labels: {app: db}\n"
	"spec:\n  hostname: db-0\n  subdomain: db\n  containers: [{name: pg, image: pg}]\n"
	"status:\n  phase: Running\n  podIPs: [{ip: 10.244.4.1}, {ip: 'fd00:244::4:1'}]\n"
	"  conditions: [{type: Ready, status: 'True'}]\n"
	"---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: db-1\n  labels: {app: db}\n"
	"spec:\n  hostname: db-1\n  subdomain: other\n  containers: [{name: pg, image: pg}]\n"
	"status:\n  phase: Running\n  podIP: 10.244.4.2\n"
	"  conditions: [{type: Ready, status: 'True'}]\n"
	"---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: db-2\n  labels: {app: db}\n"
	"spec:\n  subdomain: db\n  containers: [{name: pg, image: pg}]\n"
	"status:\n  phase: Running\n  podIP: 10.244.4.3\n"
	"  conditions: [{type: Ready, status: 'True'}]\n";

static void test_headless_service(void **state)
{
	struct world w = { .n = 0 };
	const struct snap_service_in *s;

	(void)state;
	add_text(&w, "/m/db.yaml", headless_yaml);
	resolve_clean(&w);
	s = svc_of(&w, "default", "db");
	assert_int_equal(s->n_cluster_ips, 0);
	assert_int_equal(s->flags, LDMESH_SVC_F_HEADLESS); /* not ALLOCATED_IP */
	/* headless takes every family */
	static const struct want_ep want[] = {
		{ "10.244.4.1", RS }, { "fd00:244::4:1", RS },
		{ "10.244.4.2", RS }, { "10.244.4.3", RS }, { NULL, 0 },
	};
	expect_eps(s, want);
	assert_string_equal(ep_of(s, "10.244.4.1")->hostname, "db-0");
	assert_string_equal(ep_of(s, "fd00:244::4:1")->hostname, "db-0");
	assert_null(ep_of(s, "10.244.4.2")->hostname); /* subdomain is another service */
	assert_null(ep_of(s, "10.244.4.3")->hostname); /* no hostname */

	build(&w);
	const struct ldmesh_service *ls = snap_svc(&w, "db.default.svc.cluster.local");
	assert_int_equal(ls->ip_count, 0);
	const char *fq = "db-0.db.default.svc.cluster.local";
	const struct ldmesh_name_slot *n = tu_name(&w.snap, fq, strlen(fq));
	assert_non_null(n);
	assert_int_not_equal(n->endpoint, LDMESH_NONE);
	assert_string_equal(tu_str(&w.snap, w.snap.endpoints[n->endpoint].hostname), "db-0");
	fq = "db-1.db.default.svc.cluster.local";
	assert_null(tu_name(&w.snap, fq, strlen(fq)));
	world_free(&w);
}

static void test_external_name_service(void **state)
{
	static const char ext[] =
		"apiVersion: v1\nkind: Service\nmetadata:\n  name: my-db\n"
		"spec:\n  type: ExternalName\n  externalName: db.example.com\n"
		"  selector: {app: testapp, type: backend}\n";
	struct world w = { .n = 0 };
	const struct snap_service_in *s;

	(void)state;
	add_file(&w, MODEL_FIX "seed.yaml");
	add_text(&w, "/m/ext.yaml", ext);
	resolve_clean(&w);
	s = svc_of(&w, "default", "my-db");
	assert_int_equal(s->type, LDMESH_SVC_EXTERNAL_NAME);
	assert_string_equal(s->external_name, "db.example.com");
	assert_int_equal(s->n_cluster_ips, 0);
	assert_int_equal(s->n_endpoints, 0);
	assert_int_equal(s->flags, 0);
	build(&w);
	const struct ldmesh_service *ls = snap_svc(&w, "my-db.default.svc.cluster.local");
	assert_int_equal(ls->type, LDMESH_SVC_EXTERNAL_NAME);
	assert_int_equal(ls->ip_count, 0);
	assert_int_equal(ls->endpoint_count, 0);
	assert_string_equal(tu_str(&w.snap, ls->external_name), "db.example.com");
	world_free(&w);
}

/* ---- conflicts --------------------------------------------------------- */

static void test_duplicate_service_first_file_wins(void **state)
{
	static const char a[] =
		"apiVersion: v1\nkind: Service\nmetadata:\n  name: backend\n"
		"spec:\n  clusterIP: 10.96.1.1\n  ports:\n  - port: 80\n    targetPort: 8080\n";
	static const char b[] =
		"apiVersion: v1\nkind: Service\nmetadata:\n  name: other\n"
		"spec:\n  ports:\n  - port: 1\n"
		"---\napiVersion: v1\nkind: Service\nmetadata:\n  name: backend\n"
		"spec:\n  clusterIP: 10.96.2.2\n  ports:\n  - port: 81\n";
	struct world w = { .n = 0 };
	const struct snap_service_in *s;

	(void)state;
	add_text(&w, "/m/a.yaml", a);
	add_text(&w, "/m/b.yaml", b);
	resolve(&w);
	assert_int_equal(w.out.n_services, 2);
	assert_int_equal(w.out.conflicts, 1);
	s = svc_of(&w, "default", "backend");
	assert_int_equal(s->n_ports, 1);
	assert_int_equal(s->ports[0].port, 80);
	assert_int_equal(s->ports[0].target_port, 8080);
	assert_int_equal(s->n_cluster_ips, 1);
	assert_string_equal(fmt(s->cluster_ips[0]), "10.96.1.1");
	/* one warning, at the loser's place, naming the winner's file */
	print_diag(&w.diag);
	assert_int_equal(w.diag.n, 1);
	assert_int_equal(w.diag.d.errors, 0); /* a warning, not an error */
	assert_string_equal(w.diag.lines[0],
			    "/m/b.yaml:9:1: warning: Service default/backend is also defined in "
			    "/m/a.yaml; using that one");
	world_free(&w);
}

static void test_duplicate_service_winner_follows_path_order(void **state)
{
	/* the same two files, the other way round by path */
	static const char one[] =
		"apiVersion: v1\nkind: Service\nmetadata:\n  name: dup\n"
		"spec:\n  ports:\n  - port: 1111\n";
	static const char two[] =
		"apiVersion: v1\nkind: Service\nmetadata:\n  name: dup\n"
		"spec:\n  ports:\n  - port: 2222\n";
	struct world w = { .n = 0 };

	(void)state;
	add_text(&w, "/m/1-two.yaml", two);
	add_text(&w, "/m/2-one.yaml", one);
	resolve(&w);
	assert_int_equal(w.out.n_services, 1);
	assert_int_equal(svc_of(&w, "default", "dup")->ports[0].port, 2222);
	assert_true(tu_diag_has(&w.diag, "/m/2-one.yaml:1:1: warning:"));
	assert_true(tu_diag_has(&w.diag, "also defined in /m/1-two.yaml"));
	world_free(&w);
}

static void test_duplicate_cluster_ip_second_left_out(void **state)
{
	static const char a[] =
		"apiVersion: v1\nkind: Service\nmetadata:\n  name: alpha\n"
		"spec:\n  clusterIP: 10.96.5.5\n  selector: {app: alpha}\n  ports:\n  - port: 80\n"
		"---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: alpha-0\n  labels: {app: alpha}\n"
		"status:\n  phase: Running\n  podIP: 10.244.10.1\n"
		"  conditions: [{type: Ready, status: 'True'}]\n";
	static const char b[] =
		"apiVersion: v1\nkind: Service\nmetadata:\n  name: beta\n"
		"spec:\n  clusterIP: 10.96.5.5\n  selector: {app: beta}\n  ports:\n  - port: 80\n"
		"---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: beta-0\n  labels: {app: beta}\n"
		"status:\n  phase: Running\n  podIP: 10.244.10.2\n"
		"  conditions: [{type: Ready, status: 'True'}]\n";
	struct world w = { .n = 0 };
	uint8_t vip[16];

	(void)state;
	add_text(&w, "/m/a.yaml", a);
	add_text(&w, "/m/b.yaml", b);
	resolve(&w);
	print_diag(&w.diag);
	assert_int_equal(w.out.conflicts, 1);
	assert_int_equal(w.diag.n, 1);
	/* both Services and both files named */
	assert_string_equal(w.diag.lines[0],
			    "/m/b.yaml:1:1: warning: clusterIP 10.96.5.5 of Service default/beta "
			    "is taken by Service default/alpha (/m/a.yaml); default/beta is left out");
	const struct snap_service_in *sa = svc_of(&w, "default", "alpha");
	assert_int_equal(sa->n_cluster_ips, 1);
	assert_string_equal(fmt(sa->cluster_ips[0]), "10.96.5.5");
	/* the loser keeps no half state: no record, no name, no address (a
	 * client resolving beta gets "not found", never alpha's address) */
	for (size_t i = 0; i < w.out.n_services; i++)
		assert_string_not_equal(w.out.services[i].name, "beta");
	build(&w);
	ip(vip, "10.96.5.5");
	const struct ldmesh_vip_slot *v = tu_vip(&w.snap, vip, 80, LDMESH_PROTO_TCP);
	assert_non_null(v);
	assert_string_equal(tu_str(&w.snap, w.snap.services[v->service].name), "alpha");
	const char *fq = "beta.default.svc.cluster.local";
	assert_null(tu_name(&w.snap, fq, strlen(fq)));
	world_free(&w);
}

static void test_cluster_ip_outside_service_cidr_left_out(void **state)
{
	static const char t[] =
		"apiVersion: v1\nkind: Service\nmetadata:\n  name: lan\n"
		"spec:\n  clusterIP: 192.168.1.1\n  ports:\n  - port: 80\n"
		"---\napiVersion: v1\nkind: Service\nmetadata:\n  name: v6\n"
		"spec:\n  clusterIP: 'fd00:10:96::9'\n  ports:\n  - port: 80\n";
	struct world w = { .n = 0 };

	(void)state;
	add_text(&w, "/m/a.yaml", t);
	resolve_cidr(&w, "10.96.0.0/12");
	print_diag(&w.diag);
	/* 192.168.1.1 may be a node on the LAN: not a ClusterIP; with no
	 * IPv6 service CIDR no IPv6 address is one either */
	assert_int_equal(w.out.conflicts, 2);
	assert_int_equal(w.diag.n, 2);
	assert_string_equal(w.diag.lines[0],
			    "/m/a.yaml:1:1: warning: clusterIP 192.168.1.1 of Service default/lan is "
			    "outside the service CIDR 10.96.0.0/12; default/lan is left out");
	assert_non_null(strstr(w.diag.lines[1], "fd00:10:96::9 of Service default/v6 is outside"));
	assert_int_equal(w.out.n_services, 0);
	world_free(&w);
}

/* ---- dual stack -------------------------------------------------------- */

static const char dual_pods[] =
	"apiVersion: v1\nkind: Pod\nmetadata:\n  name: ds-0\n  labels: {app: ds}\n"
	"status:\n  phase: Running\n"
	"  podIPs: [{ip: 10.244.5.1}, {ip: 'fd00:244::5:1'}]\n"
	"  conditions: [{type: Ready, status: 'True'}]\n"
	"---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: ds-1\n  labels: {app: ds}\n"
	"status:\n  phase: Running\n"
	"  podIPs: [{ip: 'fd00:244::5:2'}, {ip: 10.244.5.2}]\n"
	"  conditions: [{type: Ready, status: 'True'}]\n";

static const char dual_svcs[] =
	"apiVersion: v1\nkind: Service\nmetadata:\n  name: v4\n"
	"spec:\n  clusterIP: 10.96.7.7\n  selector: {app: ds}\n  ports: [{port: 80}]\n"
	"---\napiVersion: v1\nkind: Service\nmetadata:\n  name: v6\n"
	"spec:\n  clusterIP: 'fd00:10:96::7'\n  selector: {app: ds}\n  ports: [{port: 80}]\n"
	"---\napiVersion: v1\nkind: Service\nmetadata:\n  name: both\n"
	"spec:\n  ipFamilyPolicy: RequireDualStack\n  ipFamilies: [IPv4, IPv6]\n"
	"  clusterIP: 10.96.7.8\n  clusterIPs: [10.96.7.8, 'fd00:10:96::8']\n"
	"  selector: {app: ds}\n  ports: [{port: 80}]\n"
	"---\napiVersion: v1\nkind: Service\nmetadata:\n  name: auto\n"
	"spec:\n  selector: {app: ds}\n  ports: [{port: 80}]\n";

static void test_dual_stack_pod_ips_filtered_by_family(void **state)
{
	struct world w = { .n = 0 };

	(void)state;
	add_text(&w, "/m/pods.yaml", dual_pods);
	add_text(&w, "/m/svcs.yaml", dual_svcs);
	resolve_clean(&w);
	static const struct want_ep v4[] = { { "10.244.5.1", RS }, { "10.244.5.2", RS }, { NULL, 0 } };
	static const struct want_ep v6[] = { { "fd00:244::5:1", RS }, { "fd00:244::5:2", RS }, { NULL, 0 } };
	static const struct want_ep both[] = {
		{ "10.244.5.1", RS }, { "10.244.5.2", RS },
		{ "fd00:244::5:1", RS }, { "fd00:244::5:2", RS }, { NULL, 0 },
	};
	expect_eps(svc_of(&w, "default", "v4"), v4);
	expect_eps(svc_of(&w, "default", "v6"), v6);
	expect_eps(svc_of(&w, "default", "both"), both);
	/* allocated from a v4 CIDR: v4 pod IPs only */
	expect_eps(svc_of(&w, "default", "auto"), v4);
	world_free(&w);
}

static void test_dual_stack_allocated_from_v6_cidr(void **state)
{
	struct world w = { .n = 0 };
	struct ipalloc_cidr c;

	(void)state;
	add_text(&w, "/m/pods.yaml", dual_pods);
	add_text(&w, "/m/svcs.yaml", dual_svcs);
	/* the first CIDR given is where allocation happens */
	resolve_cidr(&w, "fd00:10:96::/108,10.96.0.0/12");
	assert_int_equal(w.diag.n, 0);
	const struct snap_service_in *s = svc_of(&w, "default", "auto");
	assert_int_equal(ipalloc_parse_cidr("fd00:10:96::/108", &c), 0);
	assert_int_equal(s->n_cluster_ips, 1);
	assert_true(ipalloc_contains(&c, s->cluster_ips[0]));
	static const struct want_ep v6[] = { { "fd00:244::5:1", RS }, { "fd00:244::5:2", RS }, { NULL, 0 } };
	expect_eps(s, v6);
	world_free(&w);
}

/* ---- sizes ------------------------------------------------------------- */

static void test_many_pods_one_service(void **state)
{
	/* grows the endpoint accumulator several times; port rows stay
	 * attached to their endpoint */
	char *yaml = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&yaml, &len);
	struct world w = { .n = 0 };

	(void)state;
	fprintf(f, "apiVersion: v1\nkind: Service\nmetadata:\n  name: big\n"
		   "spec:\n  selector: {app: big}\n  ports:\n"
		   "  - {name: a, port: 80, targetPort: a}\n  - {name: b, port: 81, targetPort: 9000}\n");
	for (int i = 0; i < 300; i++)
		fprintf(f, "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: big-%d\n"
			   "  labels: {app: big}\nspec:\n  containers:\n  - name: c\n    image: i\n"
			   "    ports: [{name: a, containerPort: %d}]\n"
			   "status:\n  phase: Running\n  podIP: 10.245.%d.%d\n"
			   "  conditions: [{type: Ready, status: '%s'}]\n",
			i, 1000 + i, i / 200, i % 200 + 1, i % 3 ? "True" : "False");
	fclose(f);
	add_text(&w, "/m/big.yaml", yaml);
	free(yaml);
	resolve_clean(&w);
	const struct snap_service_in *s = svc_of(&w, "default", "big");
	assert_int_equal(s->n_endpoints, 300);
	for (int i = 0; i < 300; i++) {
		char a[32];
		snprintf(a, sizeof(a), "10.245.%d.%d", i / 200, i % 200 + 1);
		const struct snap_endpoint_in *e = ep_of(s, a);
		assert_non_null(e);
		assert_int_equal(e->flags, i % 3 ? RS : 0);
		assert_int_equal(e->ports[0], 1000 + i);
		assert_int_equal(e->ports[1], 9000);
		assert_string_equal(fmt(e->addr), a);
	}
	build(&w);
	assert_int_equal(snap_svc(&w, "big.default.svc.cluster.local")->ready_count, 200);
	world_free(&w);
}

static const char *reuse_yaml(const char *name, const char *ip, int n_eps)
{
	static char buf[4][2048];
	static int k;
	k = (k + 1) % 4;
	int len = snprintf(buf[k], sizeof(buf[k]),
		"apiVersion: v1\nkind: Service\nmetadata: {name: %s}\n"
		"spec: {clusterIP: %s, ports: [{port: 80, targetPort: 8080}]}\n"
		"---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
		"metadata: {name: %s-1, labels: {kubernetes.io/service-name: %s}}\n"
		"addressType: IPv4\nports: [{port: 8080, protocol: TCP}]\nendpoints:\n",
		name, ip, name, name);
	for (int i = 0; i < n_eps; i++)
		len += snprintf(buf[k] + len, sizeof(buf[k]) - (size_t)len,
				"- addresses: [\"10.244.%d.%d\"]\n", n_eps, i + 1);
	return buf[k];
}

/* An incremental resolve (previous result given) reuses the services whose
 * inputs did not change and gives exactly what a full resolve gives. */
static void test_incremental_resolve_matches_full(void **state)
{
	struct world w = { .n = 0 };
	struct model_opts o = { .cluster_domain = "cluster.local", .node_name = "node-a" };
	struct model_out full, inc;
	struct tu_diag t;

	assert_int_equal(ipalloc_parse_cidrs("10.96.0.0/12", &o.cidrs), 0);
	add_text(&w, "a.yaml", reuse_yaml("alpha", "10.96.0.1", 2));
	add_text(&w, "b.yaml", reuse_yaml("beta", "10.96.0.2", 3));
	w.src[0].load_id = 1;
	w.src[1].load_id = 2;
	tu_diag_init(&t);
	assert_int_equal(model_resolve(w.src, w.n, &o, NULL, &w.out, &t.d), 0);
	w.resolved = 1;
	const struct snap_endpoint_in *alpha_eps = w.out.services[0].endpoints;

	/* b.yaml is re-read with one endpoint more: a new load. */
	manifest_set_free(&w.sets[1]);
	const char *text = reuse_yaml("beta", "10.96.0.2", 4);
	assert_int_equal(manifest_load_data("b.yaml", text, strlen(text), &w.sets[1], &t.d), 0);
	w.src[1].load_id = 3;
	assert_int_equal(model_resolve(w.src, w.n, &o, &w.out, &inc, &t.d), 0);
	assert_int_equal(model_resolve(w.src, w.n, &o, NULL, &full, &t.d), 0);

	/* alpha's endpoints were taken over, not rebuilt; beta's are new. */
	assert_ptr_equal(inc.services[0].endpoints, alpha_eps);
	assert_null(w.out.services[0].endpoints);
	assert_int_equal(inc.n_services, full.n_services);
	for (size_t i = 0; i < full.n_services; i++) {
		assert_int_equal(inc.services[i].cache_key, full.services[i].cache_key);
		assert_int_equal(inc.services[i].n_endpoints, full.services[i].n_endpoints);
		for (size_t e = 0; e < full.services[i].n_endpoints; e++)
			assert_memory_equal(inc.services[i].endpoints[e].addr,
					    full.services[i].endpoints[e].addr, 16);
	}
	assert_int_equal(inc.services[1].n_endpoints, 4);
	assert_int_not_equal(inc.services[1].cache_key, w.out.services[1].cache_key);
	model_out_free(&inc);
	model_out_free(&full);
	world_free(&w);
}

/* ---- ClusterIPs never move ---------------------------------------------- */

static const char *svc_text(char *buf, size_t cap, const char *name, const char *created)
{
	snprintf(buf, cap,
		 "apiVersion: v1\nkind: Service\nmetadata:\n  name: %s\n%s%s%s"
		 "spec:\n  selector: {app: %s}\n  ports: [{port: 80}]\n",
		 name, created ? "  creationTimestamp: \"" : "", created ? created : "",
		 created ? "\"\n" : "", name);
	return buf;
}

static const char *ip_of(const struct model_out *out, const char *name, char text[64])
{
	for (size_t i = 0; i < out->n_services; i++)
		if (!strcmp(out->services[i].name, name))
			return ipalloc_format(out->services[i].cluster_ips[0], text, 64);
	return NULL;
}

/*
 * default/aa866931 hashes to default/backend's address (10.108.13.101)
 * and sorts first by name. Issue 9 found it moved backend on a running
 * agent. Now: older first by creationTimestamp on a fresh resolve (so every
 * node agrees), and whatever a resolve allocated stays with its Service.
 */
static void test_newer_service_never_takes_an_allocated_address(void **state)
{
	struct model_opts o = { .cluster_domain = "cluster.local" };
	struct model_source src[2];
	struct manifest_set sets[2];
	struct model_out first, second;
	struct tu_diag t;
	char b1[512], b2[512], a[64], b[64];

	(void)state;
	assert_int_equal(ipalloc_parse_cidrs("10.96.0.0/12", &o.cidrs), 0);
	tu_diag_init(&t);
	memset(src, 0, sizeof(src));
	memset(sets, 0, sizeof(sets));
	src[0].set = &sets[0];
	src[1].set = &sets[1];
	src[0].path = "/m/aa.yaml";
	src[1].path = "/m/backend.yaml";
	svc_text(b1, sizeof(b1), "aa866931", "2025-06-01T00:00:00Z");
	svc_text(b2, sizeof(b2), "backend", "2024-01-01T00:00:00Z");
	assert_int_equal(manifest_load_data("aa.yaml", b1, strlen(b1), &sets[0], &t.d), 0);
	assert_int_equal(manifest_load_data("backend.yaml", b2, strlen(b2), &sets[1], &t.d), 0);
	/* a fresh node, both at once: the older Service keeps the hashed slot */
	assert_int_equal(model_resolve(src, 2, &o, NULL, &first, &t.d), 0);
	assert_string_equal(ip_of(&first, "backend", b), "10.108.13.101");
	assert_string_equal(ip_of(&first, "aa866931", a), "10.108.13.102");
	model_out_free(&first);

	/* no timestamps (hand-written): a running agent keeps what it gave */
	manifest_set_free(&sets[0]);
	manifest_set_free(&sets[1]);
	svc_text(b1, sizeof(b1), "aa866931", NULL);
	svc_text(b2, sizeof(b2), "backend", NULL);
	assert_int_equal(manifest_load_data("backend.yaml", b2, strlen(b2), &sets[1], &t.d), 0);
	assert_int_equal(model_resolve(&src[1], 1, &o, NULL, &first, &t.d), 0);
	assert_string_equal(ip_of(&first, "backend", b), "10.108.13.101");
	assert_int_equal(manifest_load_data("aa.yaml", b1, strlen(b1), &sets[0], &t.d), 0);
	assert_int_equal(model_resolve(src, 2, &o, &first, &second, &t.d), 0);
	assert_string_equal(ip_of(&second, "backend", b), "10.108.13.101");
	assert_string_equal(ip_of(&second, "aa866931", a), "10.108.13.102");
	model_out_free(&first);
	model_out_free(&second);
	manifest_set_free(&sets[0]);
	manifest_set_free(&sets[1]);
}

/*
 * Property: Services added and removed at random, in random order, one
 * resolve after another (as a running agent does): every Service that
 * survives a step keeps its address. Names come from a small pool in a
 * small CIDR (/26: 62 addresses) so collisions are the rule.
 */
static void test_allocated_addresses_stable_under_churn(void **state)
{
	enum { POOL = 40, STEPS = 300 };
	struct model_opts o = { .cluster_domain = "cluster.local" };
	struct model_source src[POOL];
	struct manifest_set sets[POOL];
	struct model_out prev = { .services = NULL }, next;
	struct tu_diag t;
	bool present[POOL] = { false };
	char names[POOL][16], was[POOL][64], text[512], now_ip[64];
	uint64_t rnd = 0x9e3779b97f4a7c15ULL;
	unsigned moved = 0, checked = 0;

	(void)state;
	assert_int_equal(ipalloc_parse_cidrs("10.96.0.0/26", &o.cidrs), 0);
	tu_diag_init(&t);
	memset(src, 0, sizeof(src));
	memset(sets, 0, sizeof(sets));
	for (int i = 0; i < POOL; i++)
		src[i].set = &sets[i];
	memset(was, 0, sizeof(was)); /* no address before the first step */
	for (int i = 0; i < POOL; i++)
		snprintf(names[i], sizeof(names[i]), "svc-%d", i);
	for (int step = 0; step < STEPS; step++) {
		struct model_source live[POOL];
		size_t n = 0;

		/* flip one or two Services in or out */
		for (int f = 0; f < 1 + (int)(rnd & 1); f++) {
			rnd ^= rnd << 13, rnd ^= rnd >> 7, rnd ^= rnd << 17;
			int k = (int)(rnd % POOL);
			if (present[k]) {
				manifest_set_free(&sets[k]);
				present[k] = false;
			} else {
				svc_text(text, sizeof(text), names[k], NULL);
				assert_int_equal(manifest_load_data(names[k], text, strlen(text),
								    &sets[k], &t.d), 0);
				src[k].path = names[k];
				present[k] = true;
			}
		}
		for (int k = 0; k < POOL; k++)
			if (present[k])
				live[n++] = src[k];
		assert_int_equal(model_resolve(live, n, &o, step ? &prev : NULL, &next, &t.d), 0);
		for (int k = 0; k < POOL; k++) {
			const char *ipt = present[k] ? ip_of(&next, names[k], now_ip) : NULL;
			if (ipt && was[k][0]) {
				checked++;
				moved += strcmp(was[k], ipt) != 0;
			}
			snprintf(was[k], sizeof(was[k]), "%s", ipt ? ipt : "");
		}
		if (step)
			model_out_free(&prev);
		prev = next;
	}
	model_out_free(&prev);
	for (int k = 0; k < POOL; k++)
		if (present[k])
			manifest_set_free(&sets[k]);
	print_message("%u surviving allocations checked over %d steps, %u moved\n", checked,
		      STEPS, moved);
	assert_true(checked > 1000);
	assert_int_equal(moved, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seed_endpoints_from_pods),
		cmocka_unit_test(test_seed_snapshot_routes_to_ready_pods),
		cmocka_unit_test(test_publish_not_ready_addresses),
		cmocka_unit_test(test_service_without_selector_gets_no_pods),
		cmocka_unit_test(test_named_target_port_per_pod),
		cmocka_unit_test(test_slices_joined_across_three_slices),
		cmocka_unit_test(test_slices_split_across_files),
		cmocka_unit_test(test_slice_without_service_label_not_joined),
		cmocka_unit_test(test_slices_win_over_pods),
		cmocka_unit_test(test_endpoints_used_without_slices),
		cmocka_unit_test(test_endpoints_ignored_when_slices_exist),
		cmocka_unit_test(test_empty_endpoints_object_means_no_endpoints),
		cmocka_unit_test(test_headless_service),
		cmocka_unit_test(test_external_name_service),
		cmocka_unit_test(test_duplicate_service_first_file_wins),
		cmocka_unit_test(test_duplicate_service_winner_follows_path_order),
		cmocka_unit_test(test_duplicate_cluster_ip_second_left_out),
		cmocka_unit_test(test_cluster_ip_outside_service_cidr_left_out),
		cmocka_unit_test(test_newer_service_never_takes_an_allocated_address),
		cmocka_unit_test(test_allocated_addresses_stable_under_churn),
		cmocka_unit_test(test_dual_stack_pod_ips_filtered_by_family),
		cmocka_unit_test(test_dual_stack_allocated_from_v6_cidr),
		cmocka_unit_test(test_many_pods_one_service),
		cmocka_unit_test(test_incremental_resolve_matches_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
