/* cmocka tests for the manifest parser (agent/manifest*.c): every kind,
 * the API defaults, and each error with its exact file:line:col. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <ldmesh/snapshot.h>

#include "testutil.h"

#define VALID LDMESH_FIXTURES "/manifests/valid/"
#define INVALID LDMESH_FIXTURES "/manifests/invalid/"

static const uint8_t *v4(uint8_t out[16], unsigned a, unsigned b, unsigned c,
			 unsigned d)
{
	memset(out, 0, 16);
	out[10] = out[11] = 0xff;
	out[12] = (uint8_t)a;
	out[13] = (uint8_t)b;
	out[14] = (uint8_t)c;
	out[15] = (uint8_t)d;
	return out;
}

static void load_ok(const char *path, struct manifest_set *set)
{
	struct tu_diag t;

	tu_diag_init(&t);
	memset(set, 0, sizeof(*set));
	if (manifest_load_file(path, set, &t.d) != 0) {
		for (unsigned i = 0; i < t.n; i++)
			print_error("%s\n", t.lines[i]);
		fail_msg("%s did not load", path);
	}
	assert_int_equal(t.d.errors, 0);
	assert_int_equal(t.n, 0);
}

static int load_str_ok(const char *text, struct manifest_set *set)
{
	struct tu_diag t;
	int ret;

	tu_diag_init(&t);
	memset(set, 0, sizeof(*set));
	ret = manifest_load_data("t.yaml", text, strlen(text), set, &t.d);
	for (unsigned i = 0; i < t.n; i++)
		print_error("%s\n", t.lines[i]);
	return ret;
}

/* Loads a broken file; checks *out is untouched, the return, and that the
 * reported lines are exactly `want` (each "line:col: message", NULL-ended),
 * in any order. */
static void expect_errors(const char *path, int want_ret, const char **want)
{
	struct manifest_set set, sentinel;
	struct tu_diag t;
	unsigned n = 0;
	char line[768];

	memset(&sentinel, 0xa5, sizeof(sentinel));
	set = sentinel;
	tu_diag_init(&t);
	assert_int_equal(manifest_load_file(path, &set, &t.d), want_ret);
	assert_memory_equal(&set, &sentinel, sizeof(set));
	for (; want[n]; n++) {
		snprintf(line, sizeof(line), "%s:%s", path, want[n]);
		bool found = false;

		for (unsigned i = 0; i < t.n; i++)
			found |= !strcmp(t.lines[i], line);
		if (!found) {
			for (unsigned i = 0; i < t.n; i++)
				print_error("got:  %s\n", t.lines[i]);
			fail_msg("missing: %s", line);
		}
	}
	assert_int_equal(t.n, n);
	assert_int_equal(t.d.errors, n);
}

#define EXPECT(file, ret, ...)                                        \
	expect_errors(INVALID file, ret, (const char *[]){ __VA_ARGS__, NULL })

static void test_seed_service(void **state)
{
	struct manifest_set set;
	const struct k8s_service *s;

	load_ok(VALID "seed-service.yaml", &set);
	assert_int_equal(set.n_services, 1);
	assert_int_equal(set.n_slices, 0);
	assert_int_equal(set.n_pods, 0);
	assert_int_equal(set.skipped, 0);
	s = &set.services[0];
	assert_string_equal(s->meta.ns, "default");
	assert_string_equal(s->meta.name, "backend");
	assert_false(s->meta.deleting);
	assert_int_equal(s->meta.line, 1);
	assert_int_equal(s->meta.col, 1);
	assert_int_equal(s->type, LDMESH_SVC_CLUSTER_IP);
	assert_false(s->headless);
	assert_int_equal(s->n_cluster_ips, 0); /* the agent allocates one */
	assert_true(s->has_selector);
	assert_int_equal(s->selector.n, 2);
	assert_string_equal(s->selector.v[0].key, "app");
	assert_string_equal(s->selector.v[0].value, "testapp");
	assert_string_equal(s->selector.v[1].key, "type");
	assert_string_equal(s->selector.v[1].value, "backend");
	assert_int_equal(s->n_ports, 1);
	assert_string_equal(s->ports[0].name, "");
	assert_int_equal(s->ports[0].port, 80);
	assert_int_equal(s->ports[0].target_port, 80);
	assert_null(s->ports[0].target_port_name);
	assert_null(s->ports[0].app_protocol);
	assert_int_equal(s->ports[0].node_port, 0);
	assert_int_equal(s->ports[0].protocol, LDMESH_PROTO_TCP);
	assert_null(s->external_name);
	assert_false(s->affinity_client_ip);
	assert_int_equal(s->affinity_timeout_s, 10800);
	assert_false(s->internal_local);
	assert_false(s->external_local);
	assert_false(s->publish_not_ready);
	assert_int_equal(s->n_external_ips, 0);
	manifest_set_free(&set);
	assert_null(set.services);
	assert_int_equal(set.n_services, 0);
}

static void test_seed_from_memory(void **state)
{
	static const char seed[] = "apiVersion: v1\n"
				   "kind: Service\n"
				   "metadata:\n"
				   "  name: backend\n"
				   "spec:\n"
				   "  selector:\n"
				   "    app: testapp\n"
				   "    type: backend\n"
				   "  ports:\n"
				   "  - protocol: TCP\n"
				   "    port: 80\n"
				   "    targetPort: 80\n";
	struct manifest_set set;

	assert_int_equal(load_str_ok(seed, &set), 0);
	assert_int_equal(set.n_services, 1);
	assert_string_equal(set.services[0].meta.name, "backend");
	assert_int_equal(set.services[0].ports[0].target_port, 80);
	manifest_set_free(&set);
}

static void test_kubectl_output(void **state)
{
	struct manifest_set set;
	const struct k8s_service *s;
	const struct k8s_slice *sl;
	const struct k8s_pod *p;
	uint8_t ip[16], ip6[16];

	load_ok(VALID "kubectl-output.yaml", &set);
	assert_int_equal(set.n_services, 1);
	assert_int_equal(set.n_slices, 1);
	assert_int_equal(set.n_pods, 1);
	assert_int_equal(set.skipped, 0);

	s = &set.services[0];
	assert_string_equal(s->meta.ns, "shop");
	assert_int_equal(s->meta.line, 3); /* the item, inside the List */
	assert_int_equal(s->meta.col, 3);
	/* parsed and checked, kept only for a Pod (the others' have no
	 * place): only a Pod's labels are read later */
	assert_int_equal(set.pods[0].labels.n > 0, 1);
	assert_int_equal(s->n_cluster_ips, 1);
	assert_memory_equal(s->cluster_ips[0], v4(ip, 10, 96, 12, 34), 16);
	assert_int_equal(s->ports[0].port, 80);
	assert_int_equal(s->ports[0].target_port, 8080);

	sl = &set.slices[0];
	assert_string_equal(sl->meta.name, "backend-x7k2p");
	assert_string_equal(sl->service, "backend");
	assert_false(sl->from_endpoints);
	assert_int_equal(sl->n_ports, 1);
	assert_string_equal(sl->ports[0].name, "");
	assert_int_equal(sl->ports[0].port, 8080);
	assert_int_equal(sl->ports[0].protocol, LDMESH_PROTO_TCP);
	assert_int_equal(sl->n_endpoints, 2);
	assert_memory_equal(sl->endpoints[0].addr, v4(ip, 10, 244, 1, 5), 16);
	assert_true(sl->endpoints[0].ready);
	assert_true(sl->endpoints[0].serving);
	assert_false(sl->endpoints[0].terminating);
	assert_string_equal(sl->endpoints[0].node, "node-a");
	assert_string_equal(sl->endpoints[0].zone, "zone-a");
	assert_string_equal(sl->endpoints[0].target, "backend-7d9c-abcde");
	assert_string_equal(sl->endpoints[0].zone_hints, "zone-a,zone-b");
	assert_null(sl->endpoints[0].hostname);
	assert_memory_equal(sl->endpoints[1].addr, v4(ip, 10, 244, 2, 7), 16);
	assert_false(sl->endpoints[1].ready);
	assert_true(sl->endpoints[1].serving);
	assert_true(sl->endpoints[1].terminating);
	assert_null(sl->endpoints[1].zone);
	assert_null(sl->endpoints[1].zone_hints);
	assert_null(sl->endpoints[1].target);

	p = &set.pods[0];
	assert_string_equal(p->meta.name, "backend-7d9c-abcde");
	assert_int_equal(p->labels.n, 3);
	assert_int_equal(p->n_ips, 2);
	assert_memory_equal(p->ips[0], v4(ip, 10, 244, 1, 5), 16);
	assert_int_equal(manifest_parse_ip("fd00:10:244:1::5", ip6), 0);
	assert_memory_equal(p->ips[1], ip6, 16);
	assert_string_equal(p->node, "node-a");
	assert_string_equal(p->hostname, "backend-0");
	assert_string_equal(p->subdomain, "backend");
	assert_true(p->ready);
	assert_int_equal(p->phase, K8S_POD_RUNNING);
	assert_int_equal(p->n_ports, 2);
	assert_string_equal(p->ports[0].name, "http");
	assert_int_equal(p->ports[0].port, 8080);
	assert_string_equal(p->ports[1].name, "metrics");
	assert_int_equal(p->ports[1].port, 9090);
	assert_int_equal(p->ports[1].protocol, LDMESH_PROTO_TCP);
	manifest_set_free(&set);
}

static void test_json_service(void **state)
{
	struct manifest_set set;
	const struct k8s_service *s;
	uint8_t ip[16];

	load_ok(VALID "service.json", &set);
	assert_int_equal(set.n_services, 1);
	s = &set.services[0];
	assert_string_equal(s->meta.ns, "cache");
	assert_string_equal(s->meta.name, "redis");
	assert_int_equal(s->type, LDMESH_SVC_NODE_PORT);
	assert_memory_equal(s->cluster_ips[0], v4(ip, 10, 96, 0, 20), 16);
	assert_int_equal(s->n_ports, 2);
	assert_string_equal(s->ports[0].name, "redis");
	assert_int_equal(s->ports[0].node_port, 30079);
	assert_string_equal(s->ports[0].app_protocol, "redis");
	assert_int_equal(s->ports[1].port, 26379);
	assert_int_equal(s->ports[1].target_port, 26379);
	assert_true(s->affinity_client_ip);
	assert_int_equal(s->affinity_timeout_s, 600);
	assert_true(s->external_local);
	assert_false(s->internal_local);
	assert_true(s->publish_not_ready);
	assert_int_equal(s->n_external_ips, 1);
	assert_memory_equal(s->external_ips[0], v4(ip, 192, 0, 2, 10), 16);
	manifest_set_free(&set);
}

static void test_json_list(void **state)
{
	struct manifest_set set;

	load_ok(VALID "list.json", &set);
	assert_int_equal(set.n_services, 1);
	assert_int_equal(set.skipped, 1); /* the ConfigMap */
	assert_string_equal(set.services[0].meta.name, "mysql");
	assert_int_equal(set.services[0].ports[0].port, 3306);
	assert_int_equal(set.services[0].ports[0].target_port, 3306);
	manifest_set_free(&set);
}

static void test_typed_list(void **state)
{
	/* The API's own list: items carry no apiVersion/kind. */
	const char *t = "apiVersion: v1\nkind: ServiceList\nitems:\n"
			"- metadata: {name: a}\n  spec: {ports: [{port: 1}]}\n"
			"- metadata: {name: b}\n  spec: {ports: [{port: 2}]}\n";
	struct manifest_set set;

	assert_int_equal(load_str_ok(t, &set), 0);
	assert_int_equal(set.n_services, 2);
	assert_string_equal(set.services[1].meta.name, "b");
	assert_int_equal(set.services[1].meta.line, 6);
	manifest_set_free(&set);
}

static void test_multi_doc(void **state)
{
	struct manifest_set set;

	load_ok(VALID "multi-doc.yaml", &set);
	assert_int_equal(set.n_services, 3);
	assert_int_equal(set.skipped, 1);
	assert_string_equal(set.services[0].meta.ns, "default");
	assert_string_equal(set.services[0].meta.name, "frontend");
	assert_string_equal(set.services[1].meta.ns, "other");
	assert_string_equal(set.services[1].meta.name, "frontend");
	assert_int_equal(set.services[1].ports[0].port, 8080);
	assert_string_equal(set.services[2].meta.name, "redis-leader");
	assert_int_equal(set.services[2].meta.line, 28);
	manifest_set_free(&set);
}

static void test_endpoints(void **state)
{
	struct manifest_set set;
	const struct k8s_slice *a, *b;
	uint8_t ip[16];

	load_ok(VALID "endpoints.yaml", &set);
	assert_int_equal(set.n_slices, 2);
	a = &set.slices[0];
	b = &set.slices[1];
	assert_true(a->from_endpoints);
	assert_string_equal(a->service, "legacy");
	assert_string_equal(a->meta.name, "legacy");
	assert_int_equal(a->n_endpoints, 3);
	assert_memory_equal(a->endpoints[0].addr, v4(ip, 10, 244, 3, 1), 16);
	assert_true(a->endpoints[0].ready);
	assert_true(a->endpoints[0].serving);
	assert_false(a->endpoints[0].terminating);
	assert_string_equal(a->endpoints[0].node, "node-c");
	assert_string_equal(a->endpoints[0].hostname, "legacy-0");
	assert_string_equal(a->endpoints[0].target, "legacy-0");
	assert_null(a->endpoints[1].node);
	assert_memory_equal(a->endpoints[2].addr, v4(ip, 10, 244, 3, 3), 16);
	assert_false(a->endpoints[2].ready);
	assert_false(a->endpoints[2].serving);
	assert_false(a->endpoints[2].terminating);
	assert_string_equal(a->endpoints[2].node, "node-d");
	assert_int_equal(a->n_ports, 2);
	assert_string_equal(a->ports[1].name, "dns");
	assert_int_equal(a->ports[1].port, 53);
	assert_int_equal(a->ports[1].protocol, LDMESH_PROTO_UDP);

	assert_true(b->from_endpoints);
	assert_string_equal(b->service, "legacy");
	assert_int_equal(b->n_endpoints, 1);
	assert_int_equal(manifest_parse_ip("2001:db8::7", ip), 0);
	assert_memory_equal(b->endpoints[0].addr, ip, 16);
	assert_int_equal(b->ports[0].port, 9000);
	manifest_set_free(&set);
}

static void test_endpoints_empty(void **state)
{
	struct manifest_set set;

	assert_int_equal(load_str_ok("apiVersion: v1\nkind: Endpoints\n"
				     "metadata: {name: e, namespace: x}\n",
				     &set),
			 0);
	assert_int_equal(set.n_slices, 1);
	assert_int_equal(set.slices[0].n_endpoints, 0);
	assert_string_equal(set.slices[0].service, "e");
	assert_string_equal(set.slices[0].meta.ns, "x");
	manifest_set_free(&set);
}

static void test_named_target_port(void **state)
{
	struct manifest_set set;
	const struct k8s_service *s;

	load_ok(VALID "named-target-port.yaml", &set);
	s = &set.services[0];
	assert_string_equal(s->ports[0].target_port_name, "http-alt");
	assert_int_equal(s->ports[0].target_port, 0);
	assert_string_equal(s->ports[1].target_port_name, "8443x");
	assert_int_equal(s->ports[1].port, 443);
	manifest_set_free(&set);
}

static void test_headless(void **state)
{
	struct manifest_set set;

	load_ok(VALID "headless.yaml", &set);
	assert_true(set.services[0].headless);
	assert_int_equal(set.services[0].n_cluster_ips, 0);
	assert_int_equal(set.services[0].n_ports, 0);
	manifest_set_free(&set);
}

static void test_external_name(void **state)
{
	struct manifest_set set;

	load_ok(VALID "external-name.yaml", &set);
	assert_int_equal(set.services[0].type, LDMESH_SVC_EXTERNAL_NAME);
	assert_string_equal(set.services[0].external_name, "db.example.com.");
	assert_string_equal(set.services[0].meta.ns, "prod");
	manifest_set_free(&set);
}

static void test_dual_stack(void **state)
{
	struct manifest_set set;
	const struct k8s_service *s;
	uint8_t ip[16];

	load_ok(VALID "dual-stack.yaml", &set);
	s = &set.services[0];
	assert_int_equal(s->n_cluster_ips, 2);
	assert_memory_equal(s->cluster_ips[0], v4(ip, 10, 96, 5, 5), 16);
	assert_int_equal(manifest_parse_ip("fd00:10:96::5", ip), 0);
	assert_memory_equal(s->cluster_ips[1], ip, 16);
	/* Same port, two protocols: allowed. */
	assert_int_equal(s->ports[0].protocol, LDMESH_PROTO_UDP);
	assert_int_equal(s->ports[1].protocol, LDMESH_PROTO_TCP);
	manifest_set_free(&set);
}

static void test_slice_defaults(void **state)
{
	const char *t =
		"apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
		"metadata: {name: s6, labels: {kubernetes.io/service-name: svc}}\n"
		"addressType: IPv6\n"
		"ports: [{name: p, protocol: UDP}]\n"
		"endpoints:\n"
		"- addresses: ['fd00::1']\n"
		"- addresses: ['fd00::2']\n  conditions: {ready: false}\n"
		"- addresses: ['fd00::3']\n  conditions: {ready: ~, serving: false}\n"
		"---\n"
		"apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
		"metadata: {name: f, labels: {kubernetes.io/service-name: svc}}\n"
		"addressType: FQDN\nendpoints: [{addresses: [example.com]}]\n"
		"---\n"
		"apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
		"metadata: {name: orphan}\naddressType: IPv4\n"
		"---\n"
		"apiVersion: discovery.k8s.io/v1beta1\nkind: EndpointSlice\n"
		"metadata: {name: old}\n";
	struct manifest_set set;
	const struct k8s_slice *s;

	struct tu_diag d;

	/* each skipped document said where and why, as notes (`-v`), not
	 * errors */
	tu_diag_init(&d);
	memset(&set, 0, sizeof(set));
	assert_int_equal(manifest_load_data("t.yaml", t, strlen(t), &set, &d.d), 0);
	assert_int_equal(d.n, 0);
	assert_int_equal(d.n_notes, 3);
	assert_non_null(strstr(d.notes[0], "skipped EndpointSlice: FQDN addresses"));
	assert_non_null(strstr(d.notes[1], "skipped EndpointSlice: no kubernetes.io/service-name label"));
	assert_non_null(strstr(d.notes[2], "t.yaml:"));
	assert_non_null(strstr(d.notes[2], "skipped discovery.k8s.io/v1beta1 EndpointSlice: not a kind ldmesh reads"));
	manifest_set_free(&set);
	assert_int_equal(load_str_ok(t, &set), 0);
	assert_int_equal(set.n_slices, 1);
	assert_int_equal(set.skipped, 3); /* FQDN, no service, v1beta1 */
	s = &set.slices[0];
	assert_int_equal(s->ports[0].port, 0); /* "all ports" */
	assert_int_equal(s->ports[0].protocol, LDMESH_PROTO_UDP);
	assert_true(s->endpoints[0].ready);
	assert_true(s->endpoints[0].serving);
	assert_false(s->endpoints[0].terminating);
	assert_false(s->endpoints[1].ready);
	assert_false(s->endpoints[1].serving); /* absent serving = ready */
	assert_true(s->endpoints[2].ready);    /* null ready = absent */
	assert_false(s->endpoints[2].serving);
	assert_int_equal(s->endpoints[2].addr[15], 3);
	manifest_set_free(&set);
}

static void test_pod(void **state)
{
	const char *t = "apiVersion: v1\nkind: Pod\n"
			"metadata:\n  name: p1\n  namespace: ns1\n"
			"  deletionTimestamp: \"2024-05-01T10:00:00Z\"\n"
			"  labels: {app: x}\n"
			"spec:\n  containers:\n  - name: c\n"
			"    ports: [{containerPort: 53, protocol: UDP}]\n"
			"status:\n  podIP: 10.0.0.9\n  phase: Failed\n"
			"  conditions: [{type: Ready, status: \"False\"}]\n"
			"---\napiVersion: v1\nkind: Pod\nmetadata: {name: p2}\n";
	struct manifest_set set;
	const struct k8s_pod *p;
	uint8_t ip[16];

	assert_int_equal(load_str_ok(t, &set), 0);
	assert_int_equal(set.n_pods, 2);
	p = &set.pods[0];
	assert_true(p->meta.deleting);
	assert_int_equal(p->n_ips, 1);
	assert_memory_equal(p->ips[0], v4(ip, 10, 0, 0, 9), 16);
	assert_int_equal(p->phase, K8S_POD_FAILED);
	assert_false(p->ready);
	assert_int_equal(p->n_ports, 1);
	assert_string_equal(p->ports[0].name, "");
	assert_int_equal(p->ports[0].protocol, LDMESH_PROTO_UDP);
	assert_null(p->node);
	p = &set.pods[1];
	assert_false(p->meta.deleting);
	assert_int_equal(p->n_ips, 0);
	assert_int_equal(p->phase, K8S_POD_PENDING);
	assert_false(p->ready);
	manifest_set_free(&set);
}

static void test_nulls_are_absent(void **state)
{
	const char *t = "apiVersion: v1\nkind: Service\n"
			"metadata: {name: nn, namespace: ~, labels: null}\n"
			"spec:\n  clusterIP: \"\"\n  selector:\n  type: null\n"
			"  ports:\n  - port: 80\n    targetPort: ~\n"
			"    protocol:\n    nodePort: 0\n";
	struct manifest_set set;

	assert_int_equal(load_str_ok(t, &set), 0);
	assert_string_equal(set.services[0].meta.ns, "default");
	assert_int_equal(set.services[0].n_cluster_ips, 0);
	assert_false(set.services[0].has_selector);
	assert_int_equal(set.services[0].type, LDMESH_SVC_CLUSTER_IP);
	assert_int_equal(set.services[0].ports[0].target_port, 80);
	assert_int_equal(set.services[0].ports[0].protocol, LDMESH_PROTO_TCP);
	manifest_set_free(&set);

	assert_int_equal(load_str_ok("", &set), 0);
	assert_int_equal(set.n_services + set.n_slices + set.n_pods, 0);
	manifest_set_free(&set);
	assert_int_equal(load_str_ok("---\n---\n# just a comment\n", &set), 0);
	manifest_set_free(&set);
}

static void test_merge_and_anchors(void **state)
{
	const char *t = "apiVersion: v1\nkind: Service\n"
			"metadata: {name: m}\n"
			"spec:\n  ports:\n  - &p {name: a, port: 80}\n"
			"  - <<: *p\n    name: b\n    protocol: UDP\n";
	struct manifest_set set;

	assert_int_equal(load_str_ok(t, &set), 0);
	assert_int_equal(set.services[0].ports[1].port, 80);
	assert_string_equal(set.services[0].ports[1].name, "b");
	assert_int_equal(set.services[0].ports[1].protocol, LDMESH_PROTO_UDP);
	manifest_set_free(&set);
}

static void test_err_syntax(void **state)
{
	EXPECT("syntax-error.yaml", -EINVAL,
	       "8:4: did not find expected key while parsing a block mapping (started at line 6)");
}

static void test_err_port_70000(void **state)
{
	EXPECT("port-70000.yaml", -EINVAL,
	       "15:11: spec.ports[1].port: 70000 is not a port (1-65535)");
}

static void test_err_port_0(void **state)
{
	EXPECT("port-0.yaml", -EINVAL,
	       "7:11: spec.ports[0].port: 0 is not a port (1-65535)");
}

static void test_err_bad_ip(void **state)
{
	EXPECT("bad-ip.yaml", -EINVAL,
	       "6:14: spec.clusterIP: \"010.96.0.1\" is not a valid IP address",
	       "18:15: endpoints[0].addresses[0]: \"10.244.1.256\" is not a valid IP address",
	       "19:15: endpoints[1].addresses[0]: \"fd00::1\" must be an IPv4 address (addressType)");
}

static void test_err_bad_protocol(void **state)
{
	EXPECT("bad-protocol.yaml", -EINVAL,
	       "8:15: spec.ports[0].protocol: unsupported value \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\"");
}

static void test_err_bad_target_port(void **state)
{
	EXPECT("bad-target-port.yaml", -EINVAL,
	       "8:17: spec.ports[0].targetPort: \"Http_Port\" is not a valid port name (IANA_SVC_NAME: 1-15 of [-a-z0-9], at least one letter, no leading, trailing or double '-')");
}

static void test_err_dup_port_names(void **state)
{
	EXPECT("dup-port-names.yaml", -EINVAL,
	       "9:5: spec.ports[1].name: Duplicate value: \"web\"",
	       "11:5: spec.ports[2].name: Required value (every port needs a name when there is more than one)");
}

static void test_err_missing_name(void **state)
{
	EXPECT("missing-name.yaml", -EINVAL,
	       "4:3: metadata.name: Required value");
}

static void test_err_wrong_type(void **state)
{
	EXPECT("wrong-type.yaml", -EINVAL,
	       "5:5: metadata.name: must be a string, not a map",
	       "8:11: spec.ports[0].port: must be an integer, not the string \"80\"");
}

static void test_err_dup_object(void **state)
{
	EXPECT("dup-object.yaml", -EINVAL,
	       "9:1: duplicate Service default/backend (first defined at line 1)");
}

static void test_err_non_utf8(void **state)
{
	EXPECT("non-utf8.yaml", -EINVAL,
	       "4:13: invalid leading UTF-8 octet (#FF): not valid UTF-8 YAML text");
}

static void test_err_alias_bomb(void **state)
{
	EXPECT("alias-bomb.yaml", -EINVAL,
	       "7:8: more than 1000000 nodes added by aliases: refusing to go on");
}

static void test_err_many(void **state)
{
	/* Semantic errors do not stop the parse: all are reported. */
	EXPECT("many-errors.yaml", -EINVAL,
	       "4:9: metadata.name: \"Backend\" is not a valid DNS-1035 label (at most 63 of [-a-z0-9], starting with a letter, alphanumeric at the end)",
	       "5:14: metadata.namespace: \"my_ns\" is not a valid DNS-1123 label (at most 63 of [-a-z0-9], alphanumeric at both ends)",
	       "7:9: spec.type: unsupported value \"Weird\": supported values: \"ClusterIP\", \"NodePort\", \"LoadBalancer\", \"ExternalName\"",
	       "8:14: spec.clusterIP: \"10.96.0.1.5\" is not a valid IP address",
	       "13:5: spec.ports[1]: Duplicate value: port 80/TCP already used",
	       "18:23: spec.sessionAffinityConfig.clientIP.timeoutSeconds: 0 is out of range (1-86400)",
	       "20:1: apiVersion: Required value",
	       "24:1: a document must be a map, not a sequence");
}

static void test_err_external_name(void **state)
{
	EXPECT("bad-external-name.yaml", -EINVAL,
	       "7:17: spec.externalName: \"not a host!\" is not a valid DNS-1123 subdomain",
	       "14:3: spec.externalName: Required value (type is ExternalName)");
}

static void test_err_depth_bomb(void **state)
{
	struct manifest_set set = { .skipped = 42 };
	struct tu_diag t;
	char *text = malloc(200001);

	memset(text, '[', 100000);
	memset(text + 100000, ']', 100000);
	text[200000] = 0;
	tu_diag_init(&t);
	assert_int_equal(manifest_load_data("deep.yaml", text, 200000, &set,
					    &t.d),
			 -EINVAL);
	assert_int_equal(set.skipped, 42);
	assert_int_equal(t.n, 1);
	assert_string_equal(t.lines[0], "deep.yaml:1:65: nesting deeper than 64");
	free(text);
}

static void test_err_oversize(void **state)
{
	struct manifest_set set = { .skipped = 42 };
	struct tu_diag t;
	char *dir = tu_tmpdir("manifest");
	char path[512], want[768];
	int fd;

	snprintf(path, sizeof(path), "%s/huge.yaml", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	/* Sparse: costs no disk, and the parser must not read it. */
	assert_int_equal(ftruncate(fd, (off_t)MANIFEST_MAX_FILE_BYTES + 1), 0);
	close(fd);
	tu_diag_init(&t);
	assert_int_equal(manifest_load_file(path, &set, &t.d), -EFBIG);
	assert_int_equal(set.skipped, 42);
	assert_int_equal(t.d.errors, 1);
	snprintf(want, sizeof(want),
		 "%s: file is %u bytes, more than the %u allowed for a manifest",
		 path, MANIFEST_MAX_FILE_BYTES + 1, MANIFEST_MAX_FILE_BYTES);
	assert_string_equal(t.lines[0], want);

	snprintf(path, sizeof(path), "%s/missing.yaml", dir);
	tu_diag_init(&t);
	assert_int_equal(manifest_load_file(path, &set, &t.d), -ENOENT);
	snprintf(want, sizeof(want), "%s: open: No such file or directory",
		 path);
	assert_string_equal(t.lines[0], want);
	tu_rmtree(dir);
	free(dir);
}

static void test_err_inline(void **state)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "apiVersion: v1\nkind: Service\nmetadata: {name: 123}\nspec: {ports: [{port: 1}]}\n",
		  "t.yaml:3:18: metadata.name: must be a string, not the integer 123" },
		{ "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 1, targetPort: \"8080\"}]}\n",
		  "t.yaml:4:38: spec.ports[0].targetPort: \"8080\" is not a valid port name (IANA_SVC_NAME: 1-15 of [-a-z0-9], at least one letter, no leading, trailing or double '-')" },
		{ "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 1, targetPort: 65536}]}\n",
		  "t.yaml:4:38: spec.ports[0].targetPort: 65536 is not a port (1-65535)" },
		{ "apiVersion: v1\nkind: Service\nmetadata: {name: s, labels: {app: yes}}\nspec: {ports: [{port: 1}]}\n",
		  "t.yaml:3:35: metadata.labels.app: must be a string, not the boolean yes" },
		{ "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {clusterIP: None, clusterIPs: [10.96.0.1], ports: [{port: 1}]}\n",
		  "t.yaml:4:38: spec.clusterIPs[0]: \"10.96.0.1\" must match clusterIP \"None\"" },
		{ "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {clusterIPs: [10.96.0.1, 10.96.0.2], ports: [{port: 1}]}\n",
		  "t.yaml:4:32: spec.clusterIPs[1]: dual-stack IPs must be of different families" },
		{ "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 1, nodePort: 30000}]}\n",
		  "t.yaml:4:36: spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'" },
		{ "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {type: ExternalName, externalName: a.b, clusterIP: 10.0.0.1}\n",
		  "t.yaml:4:58: spec.clusterIPs: Forbidden: may not be set for ExternalName services" },
		{ "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {}\n",
		  "t.yaml:4:7: spec.ports: Required value" },
		{ "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n",
		  "t.yaml:1:1: spec: Required value" },
		{ "kind: Service\napiVersion: v1\nmetadata: {name: s, namespace: a.b}\nspec: {ports: [{port: 1}]}\n",
		  "t.yaml:3:32: metadata.namespace: \"a.b\" is not a valid DNS-1123 label (at most 63 of [-a-z0-9], alphanumeric at both ends)" },
		{ "apiVersion: v1\nkind: Pod\nmetadata: {name: Bad_Pod}\n",
		  "t.yaml:3:18: metadata.name: \"Bad_Pod\" is not a valid DNS-1123 subdomain (at most 253 of [-a-z0-9.], alphanumeric at both ends of each label)" },
		{ "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{ports: [{containerPort: 80, name: a}]}, {ports: [{containerPort: 81, name: a}]}]}\n",
		  "t.yaml:4:97: spec.containers[1].ports[0].name: Duplicate value: \"a\"" },
		{ "apiVersion: v1\nkind: Endpoints\nmetadata: {name: e}\nsubsets: [{addresses: [{ip: 1.2.3.4}], ports: [{port: 1}, {port: 2, name: b}]}]\n",
		  "t.yaml:4:48: subsets[0].ports[0].name: Required value" },
		{ "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: e}\naddressType: IP\n",
		  "t.yaml:4:14: addressType: unsupported value \"IP\": supported values: \"IPv4\", \"IPv6\", \"FQDN\"" },
		{ "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 1}], sessionAffinityConfig: {clientIP: {timeoutSeconds: 5}}}\n",
		  "t.yaml:4:51: spec.sessionAffinityConfig: Forbidden: must not be set when `sessionAffinity` is None" },
		{ "apiVersion: v1\nkind: Service\nmetadata: {name: \"s\\0x\"}\nspec: {ports: [{port: 1}]}\n",
		  "t.yaml:3:18: metadata.name: must not contain NUL characters" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct manifest_set set = { .skipped = 42 };
		struct tu_diag t;

		tu_diag_init(&t);
		assert_int_equal(manifest_load_data("t.yaml", cases[i].text,
						    strlen(cases[i].text), &set,
						    &t.d),
				 -EINVAL);
		assert_int_equal(set.skipped, 42);
		if (t.n != 1 || strcmp(t.lines[0], cases[i].want)) {
			for (unsigned j = 0; j < t.n; j++)
				print_error("got:  %s\n", t.lines[j]);
			fail_msg("case %zu: want %s", i, cases[i].want);
		}
	}
}

static void test_no_diag(void **state)
{
	struct manifest_set set = { .skipped = 42 };

	/* A NULL diag is allowed; the error still fails the load. */
	assert_int_equal(manifest_load_data("x", "a: [", 4, &set, NULL),
			 -EINVAL);
	assert_int_equal(set.skipped, 42);
}

/* status.loadBalancer.ingress: ip entries of a LoadBalancer Service, not
 * those with ipMode: Proxy, not hostname-only ones, and nothing for other
 * types; a bad ipMode is reported where it is. */
static void test_lb_ingress(void **state)
{
	static const char lb[] =
		"apiVersion: v1\nkind: Service\nmetadata: {name: shop}\n"
		"spec: {type: LoadBalancer, ports: [{port: 443}]}\n"
		"status:\n  loadBalancer:\n    ingress:\n"
		"    - {ip: 203.0.113.10}\n    - {ip: 203.0.113.11, ipMode: Proxy}\n"
		"    - {hostname: lb.example}\n    - {ip: 203.0.113.12, ipMode: VIP}\n";
	static const char cluster_ip[] =
		"apiVersion: v1\nkind: Service\nmetadata: {name: shop}\n"
		"spec: {ports: [{port: 443}]}\n"
		"status: {loadBalancer: {ingress: [{ip: 203.0.113.10}]}}\n";
	static const char bad_mode[] =
		"apiVersion: v1\nkind: Service\nmetadata: {name: shop}\n"
		"spec: {type: LoadBalancer, ports: [{port: 443}]}\n"
		"status: {loadBalancer: {ingress: [{ip: 203.0.113.10, ipMode: Direct}]}}\n";
	struct manifest_set set;
	uint8_t want[16];
	struct tu_diag t;

	assert_int_equal(load_str_ok(lb, &set), 0);
	assert_int_equal(set.services[0].n_lb_ips, 2);
	assert_memory_equal(set.services[0].lb_ips[0], v4(want, 203, 0, 113, 10), 16);
	assert_memory_equal(set.services[0].lb_ips[1], v4(want, 203, 0, 113, 12), 16);
	manifest_set_free(&set);
	assert_int_equal(load_str_ok(cluster_ip, &set), 0);
	assert_int_equal(set.services[0].n_lb_ips, 0);
	manifest_set_free(&set);

	tu_diag_init(&t);
	memset(&set, 0, sizeof(set));
	assert_int_not_equal(manifest_load_data("t.yaml", bad_mode, strlen(bad_mode), &set, &t.d), 0);
	assert_int_equal(t.n, 1);
	assert_non_null(strstr(t.lines[0], "status.loadBalancer.ingress[0].ipMode"));
}

static void test_parse_ip(void **state)
{
	uint8_t ip[16], want[16];
	static const char *const bad[] = {
		"010.1.1.1", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4 ",
		" 1.2.3.4", "", "1..2.3", "0x1.1.1.1", "1.2.3.-4",
		"fe80::1%eth0", ":::", "1.2.3.4/32", "abc", "1234.1.1.1",
	};

	assert_int_equal(manifest_parse_ip("10.96.0.10", ip), 0);
	assert_memory_equal(ip, v4(want, 10, 96, 0, 10), 16);
	assert_int_equal(manifest_parse_ip("0.0.0.0", ip), 0);
	assert_memory_equal(ip, v4(want, 0, 0, 0, 0), 16);
	assert_int_equal(manifest_parse_ip("255.255.255.255", ip), 0);
	assert_int_equal(manifest_parse_ip("::1", ip), 0);
	memset(want, 0, 16);
	want[15] = 1;
	assert_memory_equal(ip, want, 16);
	assert_int_equal(manifest_parse_ip("2001:DB8::1", ip), 0);
	assert_int_equal(ip[0], 0x20);
	assert_int_equal(ip[1], 0x01);
	assert_int_equal(ip[2], 0x0d);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		if (manifest_parse_ip(bad[i], ip) != -EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
	assert_int_equal(manifest_parse_ip(NULL, ip), -EINVAL);
}

static void test_set_free(void **state)
{
	struct manifest_set set = { 0 };

	manifest_set_free(NULL);
	manifest_set_free(&set);
	manifest_set_free(&set);
	assert_null(set.services);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seed_service),
		cmocka_unit_test(test_seed_from_memory),
		cmocka_unit_test(test_kubectl_output),
		cmocka_unit_test(test_json_service),
		cmocka_unit_test(test_json_list),
		cmocka_unit_test(test_typed_list),
		cmocka_unit_test(test_multi_doc),
		cmocka_unit_test(test_endpoints),
		cmocka_unit_test(test_endpoints_empty),
		cmocka_unit_test(test_named_target_port),
		cmocka_unit_test(test_headless),
		cmocka_unit_test(test_external_name),
		cmocka_unit_test(test_dual_stack),
		cmocka_unit_test(test_lb_ingress),
		cmocka_unit_test(test_slice_defaults),
		cmocka_unit_test(test_pod),
		cmocka_unit_test(test_nulls_are_absent),
		cmocka_unit_test(test_merge_and_anchors),
		cmocka_unit_test(test_err_syntax),
		cmocka_unit_test(test_err_port_70000),
		cmocka_unit_test(test_err_port_0),
		cmocka_unit_test(test_err_bad_ip),
		cmocka_unit_test(test_err_bad_protocol),
		cmocka_unit_test(test_err_bad_target_port),
		cmocka_unit_test(test_err_dup_port_names),
		cmocka_unit_test(test_err_missing_name),
		cmocka_unit_test(test_err_wrong_type),
		cmocka_unit_test(test_err_dup_object),
		cmocka_unit_test(test_err_non_utf8),
		cmocka_unit_test(test_err_alias_bomb),
		cmocka_unit_test(test_err_many),
		cmocka_unit_test(test_err_external_name),
		cmocka_unit_test(test_err_depth_bomb),
		cmocka_unit_test(test_err_oversize),
		cmocka_unit_test(test_err_inline),
		cmocka_unit_test(test_no_diag),
		cmocka_unit_test(test_parse_ip),
		cmocka_unit_test(test_set_free),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
