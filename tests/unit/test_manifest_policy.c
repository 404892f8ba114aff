/* cmocka tests for what the agent's flags add to the manifest checks
 * (issue 21, item 14): a service CIDR's network and broadcast addresses
 * refused as clusterIPs at their place, and --external-ips (deny, allow,
 * prefixes) applied to spec.externalIPs with one warning per Service. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "ipalloc.h"
#include "manifest.h"
#include "testutil.h"

static const char svc_ext[] =
	"apiVersion: v1\nkind: Service\nmetadata: {name: ext, namespace: web}\n"
	"spec:\n  clusterIP: 10.96.0.5\n  externalIPs: [8.8.8.8, 203.0.113.7, \"2001:db8::1\"]\n"
	"  ports: [{port: 80}]\n";

static void ip(uint8_t out[16], const char *text)
{
	assert_int_equal(manifest_parse_ip(text, out), 0);
}

static void policy(const char *cidrs, const char *extips)
{
	struct manifest_policy p;

	memset(&p, 0, sizeof(p));
	assert_int_equal(ipalloc_parse_cidrs(cidrs, &p.cidrs), 0);
	assert_int_equal(manifest_parse_extip_policy(extips, &p), 0);
	manifest_set_policy(&p);
}

static int teardown(void **state)
{
	(void)state;
	manifest_set_policy(NULL);
	return 0;
}

static int load(const char *text, struct manifest_set *set, struct tu_diag *d)
{
	tu_diag_init(d);
	return manifest_load_data("s.yaml", text, strlen(text), set, &d->d);
}

static void test_reserved_addresses(void **state)
{
	struct ipalloc_cidr c;
	uint8_t a[16];

	(void)state;
	assert_int_equal(ipalloc_parse_cidr("10.96.0.0/12", &c), 0);
	ip(a, "10.96.0.0");
	assert_string_equal(ipalloc_reserved(&c, a), "network");
	ip(a, "10.111.255.255");
	assert_string_equal(ipalloc_reserved(&c, a), "broadcast");
	ip(a, "10.111.255.254");
	assert_null(ipalloc_reserved(&c, a));
	ip(a, "10.96.0.1");
	assert_null(ipalloc_reserved(&c, a));
	/* IPv6: the network address only (no broadcast in IPv6) */
	assert_int_equal(ipalloc_parse_cidr("fd00:10:96::/108", &c), 0);
	ip(a, "fd00:10:96::");
	assert_string_equal(ipalloc_reserved(&c, a), "network");
	ip(a, "fd00:10:96::f:ffff");
	assert_null(ipalloc_reserved(&c, a));
}

static void test_clusterip_network_refused(void **state)
{
	static const char *const bad[][2] = {
		{ "  clusterIP: 10.96.0.0\n", "s.yaml:5:14: spec.clusterIP: Invalid value: \"10.96.0.0\": "
					     "the network address of the service CIDR 10.96.0.0/12" },
		{ "  clusterIPs: [10.111.255.255]\n", "s.yaml:5:16: spec.clusterIPs[0]: Invalid value: "
						     "\"10.111.255.255\": the broadcast address" },
	};
	(void)state;
	policy("10.96.0.0/12", "deny");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[512];
		struct manifest_set set;
		struct tu_diag d;

		snprintf(text, sizeof(text),
			 "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n%s"
			 "  ports: [{port: 80}]\n", bad[i][0]);
		assert_int_equal(load(text, &set, &d), -EINVAL);
		assert_true(tu_diag_has(&d, bad[i][1]));
	}
}

static void test_extips_deny_warns_once(void **state)
{
	struct manifest_set set;
	struct tu_diag d;

	(void)state;
	policy("10.96.0.0/12", "deny");
	assert_int_equal(load(svc_ext, &set, &d), 0);
	assert_int_equal(set.n_services, 1);
	assert_int_equal(set.services[0].n_external_ips, 0);
	assert_int_equal(d.d.errors, 0);
	assert_int_equal(d.n, 1); /* one warning for the Service */
	assert_true(tu_diag_has(&d, "s.yaml:6:16: warning: spec.externalIPs: 8.8.8.8, "
				    "203.0.113.7, 2001:db8::1 refused by --external-ips deny"));
	assert_true(tu_diag_has(&d, "Service web/ext is applied without them"));
	manifest_set_free(&set);
}

static void test_extips_prefixes(void **state)
{
	struct manifest_set set;
	struct tu_diag d;
	uint8_t a[16];

	(void)state;
	policy("10.96.0.0/12", "203.0.113.0/24,2001:db8::1");
	assert_int_equal(load(svc_ext, &set, &d), 0);
	assert_int_equal(set.services[0].n_external_ips, 2);
	ip(a, "203.0.113.7");
	assert_memory_equal(set.services[0].external_ips[0], a, 16);
	ip(a, "2001:db8::1");
	assert_memory_equal(set.services[0].external_ips[1], a, 16);
	assert_int_equal(d.n, 1);
	assert_true(tu_diag_has(&d, "warning: spec.externalIPs: 8.8.8.8 refused"));
	manifest_set_free(&set);
}

static void test_extips_allow(void **state)
{
	struct manifest_set set;
	struct tu_diag d;

	(void)state;
	policy("10.96.0.0/12", "allow");
	assert_int_equal(load(svc_ext, &set, &d), 0);
	assert_int_equal(set.services[0].n_external_ips, 3);
	assert_int_equal(d.n, 0);
	manifest_set_free(&set);
}

static void test_extip_policy_parse(void **state)
{
	static const char *const bad[] = { "", "denyall", "1.2.3.4/33", "10.0.0.1/8", ",",
					   "1.2.3.0/24,", "::1/129", "1.2.3.0/024" };
	struct manifest_policy p;

	(void)state;
	memset(&p, 0, sizeof(p));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(manifest_parse_extip_policy(bad[i], &p), -EINVAL);
	assert_int_equal(manifest_parse_extip_policy("8.8.8.8,10.0.0.0/8,::/0", &p), 0);
	assert_int_equal(p.extip_mode, MANIFEST_EXTIP_NETS);
	assert_int_equal(p.n_extip_nets, 3);
	assert_int_equal(manifest_parse_extip_policy("allow", &p), 0);
	assert_int_equal(p.extip_mode, MANIFEST_EXTIP_ALLOW);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reserved_addresses),
		cmocka_unit_test_teardown(test_clusterip_network_refused, teardown),
		cmocka_unit_test_teardown(test_extips_deny_warns_once, teardown),
		cmocka_unit_test_teardown(test_extips_prefixes, teardown),
		cmocka_unit_test_teardown(test_extips_allow, teardown),
		cmocka_unit_test(test_extip_policy_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
