/* A large `kind: List` is streamed (issue 26: agent peak RSS parsing a
 * 100,000-Service List, 467 MB): its items are parsed into objects one by
 * one and their YAML freed, so the peak is the objects, not the tree. The
 * results are the tree's (the same List cut in two small files, parsed
 * whole, gives the same Services); an error in an item keeps its
 * path:line:col; a typed list's items take its kind; a List that uses
 * anchors is not streamed and still right. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "manifest.h"
#include "testutil.h"
#include "yaml_tree.h"

#ifndef YAML_TREE_STREAM_MIN_BYTES /* (so the test builds on the tree-only parser) */
#define YAML_TREE_STREAM_MIN_BYTES (1u << 20)
#endif

#if defined(__SANITIZE_ADDRESS__)
#define MEM_SCALE 4
#else
#define MEM_SCALE 1
#endif

struct text {
	char *buf;
	size_t len, cap;
};

static void put(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		assert_true(n >= 0);
		if ((size_t)n < t->cap - t->len)
			break;
		t->cap = t->cap * 2 + (size_t)n + 4096;
		t->buf = realloc(t->buf, t->cap);
		assert_non_null(t->buf);
	}
	t->len += (size_t)n;
}

/* Service i as kubectl prints it in a List (keys sorted), or without
 * apiVersion and kind for a typed list. */
static void put_item(struct text *t, unsigned i, bool typed, unsigned bad_port_at)
{
	unsigned ip = i + 1;

	if (!typed)
		put(t, "- apiVersion: v1\n  kind: Service\n  metadata:\n");
	else
		put(t, "- metadata:\n");
	put(t, "    labels:\n      app: svc-%u\n    name: svc-%u\n    namespace: ns-%u\n", i, i,
	    i % 7);
	put(t, "  spec:\n    clusterIP: 10.%u.%u.%u\n", 96 + (ip >> 16), (ip >> 8) & 255, ip & 255);
	put(t, "    ports:\n    - name: http\n      port: %u\n      protocol: TCP\n"
	       "      targetPort: %u\n",
	    i == bad_port_at ? 70000 : 80 + i % 100, 8080 + i % 10);
	put(t, "    selector:\n      app: svc-%u\n    type: ClusterIP\n", i);
}

/* A List of Services [from, to), kubectl's key order: kind after items. */
static struct text gen_list(unsigned from, unsigned to, bool typed, unsigned bad_port_at)
{
	struct text t = { NULL, 0, 0 };

	put(&t, "apiVersion: v1\nitems:\n");
	for (unsigned i = from; i < to; i++)
		put_item(&t, i, typed, bad_port_at);
	put(&t, "kind: %s\nmetadata:\n  resourceVersion: \"\"\n", typed ? "ServiceList" : "List");
	return t;
}

static void load_ok(const struct text *t, struct manifest_set *set)
{
	struct tu_diag d;

	tu_diag_init(&d);
	assert_int_equal(manifest_load_data("list.yaml", t->buf, t->len, set, &d.d), 0);
	assert_int_equal(d.d.errors, 0);
}

static void assert_same_service(const struct k8s_service *a, const struct k8s_service *b)
{
	assert_string_equal(a->meta.name, b->meta.name);
	assert_string_equal(a->meta.ns, b->meta.ns);
	assert_int_equal(a->n_cluster_ips, b->n_cluster_ips);
	assert_memory_equal(a->cluster_ips[0], b->cluster_ips[0], 16);
	assert_int_equal(a->n_ports, b->n_ports);
	assert_int_equal(a->ports[0].port, b->ports[0].port);
	assert_int_equal(a->ports[0].target_port, b->ports[0].target_port);
	assert_int_equal(a->selector.n, 1);
	assert_int_equal(b->selector.n, 1);
	assert_string_equal(a->selector.v[0].value, b->selector.v[0].value);
}

#define N_ITEMS 4000 /* ~1.3 MB: streamed; each half is one tree */

static void test_streamed_same_as_tree(void **state)
{
	struct text all = gen_list(0, N_ITEMS, false, UINT32_MAX);
	struct text lo = gen_list(0, N_ITEMS / 2, false, UINT32_MAX);
	struct text hi = gen_list(N_ITEMS / 2, N_ITEMS, false, UINT32_MAX);
	struct manifest_set s_all = { 0 }, s_lo = { 0 }, s_hi = { 0 };

	(void)state;
	assert_true(all.len >= YAML_TREE_STREAM_MIN_BYTES);
	assert_true(lo.len < YAML_TREE_STREAM_MIN_BYTES && hi.len < YAML_TREE_STREAM_MIN_BYTES);
	load_ok(&all, &s_all);
	load_ok(&lo, &s_lo);
	load_ok(&hi, &s_hi);
	assert_int_equal(s_all.n_services, N_ITEMS);
	assert_int_equal(s_lo.n_services + s_hi.n_services, N_ITEMS);
	for (unsigned i = 0; i < N_ITEMS; i++)
		assert_same_service(&s_all.services[i], i < N_ITEMS / 2 ? &s_lo.services[i]
									 : &s_hi.services[i - N_ITEMS / 2]);
	manifest_set_free(&s_all);
	manifest_set_free(&s_lo);
	manifest_set_free(&s_hi);
	free(all.buf);
	free(lo.buf);
	free(hi.buf);
}

/* The line of the n-th occurrence (from 1) of `needle` at a line start. */
static unsigned line_of(const struct text *t, const char *needle, unsigned nth)
{
	unsigned line = 1;
	size_t nl = strlen(needle);

	for (size_t i = 0; i < t->len; i++) {
		if ((i == 0 || t->buf[i - 1] == '\n') && !strncmp(t->buf + i, needle, nl) && !--nth)
			return line;
		line += t->buf[i] == '\n';
	}
	fail_msg("%s not found", needle);
	return 0;
}

static void test_streamed_error_keeps_position(void **state)
{
	const unsigned bad = 3210;
	struct text t = gen_list(0, N_ITEMS, false, bad);
	struct manifest_set set = { 0 };
	char want[160];
	struct tu_diag d;

	(void)state;
	assert_true(t.len >= YAML_TREE_STREAM_MIN_BYTES);
	tu_diag_init(&d);
	assert_int_equal(manifest_load_data("list.yaml", t.buf, t.len, &set, &d.d), -EINVAL);
	/* "      port: 70000": the value is at column 13 */
	snprintf(want, sizeof(want), "list.yaml:%u:13: spec.ports[0].port: 70000 is not a port",
		 line_of(&t, "      port: 70000", 1));
	if (!tu_diag_has(&d, want))
		fail_msg("no \"%s\" in %u lines, first \"%s\"", want, d.n, d.n ? d.lines[0] : "");
	free(t.buf);
}

static void test_streamed_typed_list(void **state)
{
	struct text t = gen_list(0, N_ITEMS * 2, true, UINT32_MAX);
	struct manifest_set set = { 0 };

	(void)state;
	assert_true(t.len >= YAML_TREE_STREAM_MIN_BYTES);
	load_ok(&t, &set);
	assert_int_equal(set.n_services, N_ITEMS * 2);
	assert_string_equal(set.services[N_ITEMS * 2 - 1].meta.name, "svc-7999");
	manifest_set_free(&set);
	free(t.buf);
}

/* An anchor in item 0 named by an alias in the last item: the document
 * is read as one tree (an item freed early would leave the alias
 * dangling), with the same results. */
static void test_anchored_list_not_streamed(void **state)
{
	struct text t = { NULL, 0, 0 };
	struct manifest_set set = { 0 };

	(void)state;
	put(&t, "apiVersion: v1\nitems:\n- apiVersion: v1\n  kind: Service\n"
		"  metadata: {name: first, namespace: default}\n"
		"  spec:\n    clusterIP: 10.96.0.1\n    ports: &ports\n    - port: 80\n");
	for (unsigned i = 1; i < N_ITEMS; i++)
		put_item(&t, i, false, UINT32_MAX);
	put(&t, "- apiVersion: v1\n  kind: Service\n  metadata: {name: last, namespace: default}\n"
		"  spec:\n    clusterIP: 10.97.0.1\n    ports: *ports\nkind: List\n");
	assert_true(t.len >= YAML_TREE_STREAM_MIN_BYTES);
	load_ok(&t, &set);
	assert_int_equal(set.n_services, N_ITEMS + 1);
	assert_string_equal(set.services[N_ITEMS].meta.name, "last");
	assert_int_equal(set.services[N_ITEMS].ports[0].port, 80);
	manifest_set_free(&set);
	free(t.buf);
}

/* 20,000 Services (~6.5 MB of YAML): held as a tree that is ~100 MB at
 * the peak; streamed, the objects and one item's tree. */
static void test_streamed_peak_memory(void **state)
{
	struct text t = gen_list(0, 20000, false, UINT32_MAX);
	struct manifest_set set = { 0 };
	size_t before, peak;
	int fd = open("/proc/self/clear_refs", O_WRONLY);

	(void)state;
	if (fd < 0 || write(fd, "5", 1) != 1 || !tu_status_kb("VmHWM")) {
		if (fd >= 0)
			close(fd);
		free(t.buf);
		skip(); /* no VmHWM reset (Linux < 4.0): nothing to measure */
	}
	close(fd);
	before = tu_status_kb("VmRSS");
	load_ok(&t, &set);
	peak = (tu_status_kb("VmHWM") - before) * 1024;
	assert_int_equal(set.n_services, 20000);
	print_message("peak growth %zu kB for %zu bytes of YAML\n", peak / 1024, t.len);
	assert_true(peak < ((size_t)24 * MEM_SCALE << 20));
	manifest_set_free(&set);
	free(t.buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_streamed_same_as_tree),
		cmocka_unit_test(test_streamed_error_keeps_position),
		cmocka_unit_test(test_streamed_typed_list),
		cmocka_unit_test(test_anchored_list_not_streamed),
		cmocka_unit_test(test_streamed_peak_memory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
