/* SPDX-License-Identifier: MIT */
/* Name normalisation, the candidate order (Kubernetes forms, search list,
 * ndots), resolv.conf parsing and lookups against a real snapshot. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "lookup.h"
#include "names.h"
#include "test_preload_fixture.h"
#include "testutil.h"

static const char k8s_resolv[] =
	"# written by kubelet\n"
	"search default.svc.cluster.local svc.cluster.local cluster.local\n"
	"nameserver 10.96.0.10\n"
	"options ndots:5\n";

static void pod_config(struct preload_config *c, const char *ns)
{
	config_defaults(c);
	snprintf(c->ns, sizeof(c->ns), "%s", ns);
	config_parse_resolv(c, k8s_resolv, strlen(k8s_resolv));
}

static void test_normalise(void **state)
{
	struct names_query q;

	assert_true(names_normalise("Backend.Default.SVC.Cluster.Local.", &q));
	assert_string_equal(q.name, "backend.default.svc.cluster.local");
	assert_int_equal(q.len, strlen("backend.default.svc.cluster.local"));
	assert_true(q.absolute);
	assert_int_equal(q.dots, 4);

	assert_true(names_normalise("backend", &q));
	assert_string_equal(q.name, "backend");
	assert_false(q.absolute);
	assert_int_equal(q.dots, 0);

	assert_false(names_normalise("", &q));
	assert_false(names_normalise(".", &q));
	assert_false(names_normalise("a..b", &q));
	assert_false(names_normalise(".a", &q));
	assert_false(names_normalise("a..", &q));
	assert_false(names_normalise("a b", &q));
	assert_false(names_normalise("fe80::1%eth0", &q));

	/* 253 bytes is the limit, with or without the root dot */
	char name[300];
	memset(name, 'a', sizeof(name));
	for (int i = 63; i < 253; i += 64)
		name[i] = '.';
	name[253] = 0;
	assert_true(names_normalise(name, &q));
	assert_int_equal(q.len, 253);
	name[253] = '.';
	name[254] = 0;
	assert_true(names_normalise(name, &q));
	assert_int_equal(q.len, 253);
	name[253] = 'a';
	assert_false(names_normalise(name, &q));
}

static void test_in_domain(void **state)
{
	const char *d = "cluster.local";
	size_t dl = strlen(d);

	assert_true(names_in_domain("cluster.local", 13, d, dl));
	assert_true(names_in_domain("a.svc.cluster.local", 19, d, dl));
	assert_false(names_in_domain("mycluster.local", 15, d, dl));
	assert_false(names_in_domain("local", 5, d, dl));
	assert_false(names_in_domain("a.cluster.local", 15, d, 0));
}

/* every candidate in order, joined with ' ' */
static void candidates(const char *name, const struct preload_config *c,
		       char *out, size_t cap)
{
	struct names_query q;
	char cand[NAMES_BUF];
	int n;

	out[0] = 0;
	assert_true(names_normalise(name, &q));
	for (unsigned i = 0; (n = names_candidate(&q, c, "cluster.local", 13, i, cand)) >= 0; i++) {
		if (!n) {
			strncat(out, "(long) ", cap - strlen(out) - 1);
			continue;
		}
		strncat(out, cand, cap - strlen(out) - 1);
		strncat(out, " ", cap - strlen(out) - 1);
	}
}

static void test_candidates_order(void **state)
{
	struct preload_config c;
	char out[2048];

	/* a pod in "shop": our forms, then the search list, as-is last
	 * because 0 dots < ndots 5 */
	pod_config(&c, "shop");
	candidates("backend", &c, out, sizeof(out));
	assert_string_equal(out,
		"backend.shop.svc.cluster.local backend.svc.cluster.local "
		"backend.cluster.local "
		"backend.default.svc.cluster.local backend.svc.cluster.local "
		"backend.cluster.local backend ");

	/* absolute: exactly the name */
	candidates("backend.other.", &c, out, sizeof(out));
	assert_string_equal(out, "backend.other ");

	/* ndots 1 and a host search list: a dotted name goes as-is first */
	config_defaults(&c);
	config_set_search(&c, "corp.example", 12);
	candidates("db.other", &c, out, sizeof(out));
	assert_string_equal(out,
		"db.other.default.svc.cluster.local db.other.svc.cluster.local "
		"db.other.cluster.local db.other db.other.corp.example ");
	candidates("db", &c, out, sizeof(out));
	assert_string_equal(out,
		"db.default.svc.cluster.local db.svc.cluster.local "
		"db.cluster.local db.corp.example db ");
}

static void test_resolv_parse(void **state)
{
	struct preload_config c;
	static const char text[] =
		"domain first.example\n"
		"search A.example. b.example # comment\n"
		"; comment\n"
		"options timeout:1 ndots:3 attempts:2\n"
		"options ndots:99\n";

	config_defaults(&c);
	assert_int_equal(c.ndots, 1);
	config_parse_resolv(&c, text, strlen(text));
	assert_int_equal(c.n_search, 2);
	assert_string_equal(config_search(&c, 0), "a.example");
	assert_string_equal(config_search(&c, 1), "b.example");
	/* glibc caps ndots at RES_MAXNDOTS */
	assert_int_equal(c.ndots, 15);

	/* the last of domain/search wins, and domain is one entry */
	static const char text2[] = "search x.example y.example\ndomain z.example w\n";
	config_parse_resolv(&c, text2, strlen(text2));
	assert_int_equal(c.n_search, 1);
	assert_string_equal(config_search(&c, 0), "z.example");
}

static void test_config_load_env(void **state)
{
	struct preload_config c;
	char *dir = tu_tmpdir("names");
	char path[512];

	tu_write(dir, "resolv.conf", k8s_resolv);
	snprintf(path, sizeof(path), "%s/resolv.conf", dir);
	setenv("LDMESH_RESOLV_CONF", path, 1);
	setenv("LDMESH_NAMESPACE", "shop", 1);
	setenv("LDMESH_TABLE", "/tmp/ldmesh-table", 1);
	setenv("LDMESH_TRACE", "stack", 1);
	unsetenv("LOCALDOMAIN");
	unsetenv("RES_OPTIONS");
	config_load(&c);
	assert_string_equal(c.ns, "shop");
	assert_string_equal(c.table_dir, "/tmp/ldmesh-table");
	assert_int_equal(c.trace, CONFIG_TRACE_STACK);
	assert_int_equal(c.ndots, 5);
	assert_int_equal(c.n_search, 3);
	assert_string_equal(config_search(&c, 2), "cluster.local");
	assert_false(c.disabled);

	/* glibc's overrides win over the file */
	setenv("LOCALDOMAIN", "one.example two.example", 1);
	setenv("RES_OPTIONS", "ndots:2", 1);
	setenv("LDMESH_DISABLE", "1", 1);
	config_load(&c);
	assert_int_equal(c.n_search, 2);
	assert_string_equal(config_search(&c, 1), "two.example");
	assert_int_equal(c.ndots, 2);
	assert_true(c.disabled);

	unsetenv("LOCALDOMAIN");
	unsetenv("RES_OPTIONS");
	unsetenv("LDMESH_DISABLE");
	unsetenv("LDMESH_TRACE");
	unsetenv("LDMESH_NAMESPACE");
	unsetenv("LDMESH_TABLE");
	unsetenv("LDMESH_RESOLV_CONF");
	tu_rmtree(dir);
	free(dir); /* asprintf'd by tu_tmpdir */
}

static void expect_found(const struct ldmesh_snap *s, const struct preload_config *c,
			 const char *name, const char *canon, const char *svc,
			 const char *ip)
{
	struct lookup_result r;
	uint8_t want[16];

	lookup_name(s, c, name, 0, &r);
	assert_int_equal(r.status, LOOKUP_FOUND);
	assert_string_equal(r.canon, canon);
	assert_string_equal(r.svc, svc);
	assert_int_equal(r.n_addrs, 1);
	fx_ip(want, ip);
	assert_memory_equal(r.addrs[0], want, 16);
	assert_int_equal(r.generation, 42);
}

static void test_lookup_forms(void **state)
{
	struct preload_config c;
	struct lookup_result r;
	struct fx f;
	const char *fq = "backend.default.svc.cluster.local";

	fx_build(&f, 42);
	pod_config(&c, "default");
	expect_found(&f.snap, &c, "backend", fq, "default/backend", "10.96.0.10");
	expect_found(&f.snap, &c, "BACKEND", fq, "default/backend", "10.96.0.10");
	expect_found(&f.snap, &c, "backend.default", fq, "default/backend", "10.96.0.10");
	expect_found(&f.snap, &c, "backend.default.svc", fq, "default/backend", "10.96.0.10");
	expect_found(&f.snap, &c, "backend.default.svc.cluster.local", fq,
		     "default/backend", "10.96.0.10");
	expect_found(&f.snap, &c, "Backend.Default.Svc.Cluster.Local.", fq,
		     "default/backend", "10.96.0.10");
	/* another namespace's service, relative to ours */
	expect_found(&f.snap, &c, "db.other", "db.other.svc.cluster.local",
		     "other/db", "10.96.0.12");
	/* "db" alone is default/db, which does not exist: DNS may answer */
	lookup_name(&f.snap, &c, "db", 0, &r);
	assert_int_equal(r.status, LOOKUP_PASS);

	/* a pod in "other" finds its own db by the short name */
	pod_config(&c, "other");
	expect_found(&f.snap, &c, "db", "db.other.svc.cluster.local",
		     "other/db", "10.96.0.12");

	/* ldmesh's forms apply even with no search list at all */
	config_defaults(&c);
	expect_found(&f.snap, &c, "backend", fq, "default/backend", "10.96.0.10");

	/* an absolute short name is not relative to anything */
	lookup_name(&f.snap, &c, "backend.", 0, &r);
	assert_int_equal(r.status, LOOKUP_PASS);

	/* cluster-domain misses are final; other names are DNS's */
	lookup_name(&f.snap, &c, "nope.default.svc.cluster.local", 0, &r);
	assert_int_equal(r.status, LOOKUP_NOTFOUND);
	lookup_name(&f.snap, &c, "nope.default.svc.cluster.local.", 0, &r);
	assert_int_equal(r.status, LOOKUP_NOTFOUND);
	lookup_name(&f.snap, &c, "example.com", 0, &r);
	assert_int_equal(r.status, LOOKUP_PASS);
	lookup_name(&f.snap, &c, "10.96.0.10", 0, &r);
	assert_int_equal(r.status, LOOKUP_PASS);
	/* an empty service (no endpoints) still has its ClusterIP */
	expect_found(&f.snap, &c, "empty", "empty.default.svc.cluster.local",
		     "default/empty", "10.96.0.11");
	fx_free(&f);
}

static void test_lookup_headless_external(void **state)
{
	struct preload_config c;
	struct lookup_result r;
	uint8_t a1[16], a2[16];
	struct fx f;

	fx_build(&f, 42);
	pod_config(&c, "default");
	fx_ip(a1, "10.244.3.1");
	fx_ip(a2, "10.244.3.2");

	/* ready pods only */
	lookup_name(&f.snap, &c, "headless", 0, &r);
	assert_int_equal(r.status, LOOKUP_FOUND);
	assert_int_equal(r.n_addrs, 2);
	assert_true((!memcmp(r.addrs[0], a1, 16) && !memcmp(r.addrs[1], a2, 16)) ||
		    (!memcmp(r.addrs[0], a2, 16) && !memcmp(r.addrs[1], a1, 16)));

	/* per-pod names */
	expect_found(&f.snap, &c, "web-1.headless",
		     "web-1.headless.default.svc.cluster.local",
		     "default/headless", "10.244.3.2");
	expect_found(&f.snap, &c, "web-0.headless.default.svc.cluster.local.",
		     "web-0.headless.default.svc.cluster.local",
		     "default/headless", "10.244.3.1");

	/* publishNotReadyAddresses lists the not-ready pod */
	expect_found(&f.snap, &c, "pubheadless",
		     "pubheadless.default.svc.cluster.local",
		     "default/pubheadless", "10.244.6.1");

	/* ExternalName out of the cluster: the target, normalised and made
	 * absolute, so the resolver asks it once, not through the search list */
	lookup_name(&f.snap, &c, "ext", 0, &r);
	assert_int_equal(r.status, LOOKUP_EXTERNAL);
	assert_string_equal(r.canon, "example.com.");
	assert_string_equal(r.svc, "default/ext");

	/* ExternalName into the cluster is followed inside the table */
	expect_found(&f.snap, &c, "alias", "backend.default.svc.cluster.local",
		     "default/backend", "10.96.0.10");
	fx_free(&f);
}

static void test_lookup_dual(void **state)
{
	struct preload_config c;
	struct lookup_result r;
	uint8_t v4[16], v6[16];
	struct fx f;

	fx_build(&f, 42);
	pod_config(&c, "default");
	lookup_name(&f.snap, &c, "dual", 0, &r);
	assert_int_equal(r.status, LOOKUP_FOUND);
	assert_int_equal(r.n_addrs, 2);
	fx_ip(v4, "10.96.0.20");
	fx_ip(v6, "fd00:96::20");
	assert_memory_equal(r.addrs[0], v4, 16);
	assert_memory_equal(r.addrs[1], v6, 16);
	fx_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normalise),
		cmocka_unit_test(test_in_domain),
		cmocka_unit_test(test_candidates_order),
		cmocka_unit_test(test_resolv_parse),
		cmocka_unit_test(test_config_load_env),
		cmocka_unit_test(test_lookup_forms),
		cmocka_unit_test(test_lookup_headless_external),
		cmocka_unit_test(test_lookup_dual),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
