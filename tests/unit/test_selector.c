/* cmocka tests for agent/model/selector.c: equality-based Service selectors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "selector.h"
#include "testutil.h"

#define LABELS(arr) ((struct k8s_labels){ (struct k8s_label *)(arr), sizeof(arr) / sizeof((arr)[0]) })

static struct k8s_label seed_sel[] = {
	{ "app", "testapp" },
	{ "type", "backend" },
};

static void test_exact_match(void **state)
{
	struct k8s_label pod[] = { { "type", "backend" }, { "app", "testapp" } };
	struct k8s_labels sel = LABELS(seed_sel), lab = LABELS(pod);

	(void)state;
	assert_true(selector_matches(&sel, &lab));
}

static void test_subset_match_extra_pod_labels(void **state)
{
	struct k8s_label pod[] = {
		{ "pod-template-hash", "5d8f7c" },
		{ "app", "testapp" },
		{ "tier", "x" },
		{ "type", "backend" },
	};
	struct k8s_labels sel = LABELS(seed_sel), lab = LABELS(pod);

	(void)state;
	assert_true(selector_matches(&sel, &lab));
}

static void test_value_mismatch(void **state)
{
	struct k8s_label pod[] = { { "app", "testapp" }, { "type", "frontend" } };
	struct k8s_labels sel = LABELS(seed_sel), lab = LABELS(pod);

	(void)state;
	assert_false(selector_matches(&sel, &lab));
}

static void test_value_prefix_is_mismatch(void **state)
{
	/* "backend" vs "backend2" and "testap" vs "testapp": whole values. */
	struct k8s_label pod1[] = { { "app", "testapp" }, { "type", "backend2" } };
	struct k8s_label pod2[] = { { "app", "testap" }, { "type", "backend" } };
	struct k8s_labels sel = LABELS(seed_sel), l1 = LABELS(pod1), l2 = LABELS(pod2);

	(void)state;
	assert_false(selector_matches(&sel, &l1));
	assert_false(selector_matches(&sel, &l2));
}

static void test_missing_key(void **state)
{
	struct k8s_label pod[] = { { "app", "testapp" } };
	struct k8s_labels sel = LABELS(seed_sel), lab = LABELS(pod);

	(void)state;
	assert_false(selector_matches(&sel, &lab));
}

static void test_key_present_as_value_only(void **state)
{
	/* The selector's key appears as another label's value: no match. */
	struct k8s_label pod[] = { { "app", "testapp" }, { "kind", "type" } };
	struct k8s_labels sel = LABELS(seed_sel), lab = LABELS(pod);

	(void)state;
	assert_false(selector_matches(&sel, &lab));
}

static void test_pod_without_labels(void **state)
{
	struct k8s_labels sel = LABELS(seed_sel), lab = { NULL, 0 };

	(void)state;
	assert_false(selector_matches(&sel, &lab));
}

static void test_empty_selector_selects_nothing(void **state)
{
	struct k8s_label pod[] = { { "app", "testapp" }, { "type", "backend" } };
	struct k8s_labels sel = { NULL, 0 }, lab = LABELS(pod), none = { NULL, 0 };

	(void)state;
	assert_false(selector_matches(&sel, &lab));
	assert_false(selector_matches(&sel, &none));
}

static void test_empty_value_matches_only_empty(void **state)
{
	struct k8s_label s[] = { { "canary", "" } };
	struct k8s_label yes[] = { { "canary", "" } };
	struct k8s_label no[] = { { "canary", "true" } };
	struct k8s_labels sel = LABELS(s), ly = LABELS(yes), ln = LABELS(no);

	(void)state;
	assert_true(selector_matches(&sel, &ly));
	assert_false(selector_matches(&sel, &ln));
}

static void test_keys_are_case_sensitive(void **state)
{
	struct k8s_label pod[] = { { "App", "testapp" }, { "type", "backend" } };
	struct k8s_label pod2[] = { { "app", "TestApp" }, { "type", "backend" } };
	struct k8s_labels sel = LABELS(seed_sel), l1 = LABELS(pod), l2 = LABELS(pod2);

	(void)state;
	assert_false(selector_matches(&sel, &l1));
	assert_false(selector_matches(&sel, &l2));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact_match),
		cmocka_unit_test(test_subset_match_extra_pod_labels),
		cmocka_unit_test(test_value_mismatch),
		cmocka_unit_test(test_value_prefix_is_mismatch),
		cmocka_unit_test(test_missing_key),
		cmocka_unit_test(test_key_present_as_value_only),
		cmocka_unit_test(test_pod_without_labels),
		cmocka_unit_test(test_empty_selector_selects_nothing),
		cmocka_unit_test(test_empty_value_matches_only_empty),
		cmocka_unit_test(test_keys_are_case_sensitive),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
