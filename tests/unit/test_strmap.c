/* cmocka tests for agent/model/strmap.c: growth from an undersized start, value
 * order (insertion and strmap_insert's), unlink, keys that share a hash or
 * a prefix, and the empty key. */
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
#include "strmap.h"

static size_t key_of(char *buf, size_t cap, unsigned i)
{
	/* 7 to 18 bytes with a NUL inside; the '.' at the end keeps a key's
	 * prefix from being another key. */
	int n = snprintf(buf, cap, "ns-%u", i % 97);
	n += 1 + snprintf(buf + n + 1, cap - (size_t)n - 1, "%.*s%u.", (int)(i % 7), "xxxxxxx", i);
	return (size_t)n;
}

static void expect_values(const struct strmap *m, const char *key, size_t len,
			  const uint32_t *want, size_t n)
{
	size_t k = 0;

	for (uint32_t v = strmap_first(m, key, len); v != STRMAP_END; v = strmap_next(m, v)) {
		assert_true(k < n);
		assert_int_equal(v, want[k]);
		k++;
	}
	assert_int_equal(k, n);
}

/* Sized for nothing, filled with 100,000 keys: every key keeps its values
 * in order through every growth of the slots, entries, keys and values. */
static void test_growth_keeps_keys_and_order(void **state)
{
	enum { N = 100000 };
	struct strmap m;
	char key[64];

	assert_int_equal(strmap_init(&m, 0), 0);
	for (unsigned i = 0; i < N; i++) {
		size_t len = key_of(key, sizeof(key), i);
		assert_int_equal(strmap_add(&m, key, len, i), 0);
		if (i % 3 == 0)
			assert_int_equal(strmap_add(&m, key, len, N + i), 0);
	}
	assert_int_equal(m.used, N);
	for (unsigned i = 0; i < N; i++) {
		size_t len = key_of(key, sizeof(key), i);
		uint32_t want[2] = { i, N + i };
		expect_values(&m, key, len, want, i % 3 == 0 ? 2 : 1);
		/* A prefix of a key is another key, and not there. */
		assert_int_equal(strmap_first(&m, key, len - 1), STRMAP_END);
	}
	assert_int_equal(strmap_first(&m, "nope", 4), STRMAP_END);
	assert_int_equal(strmap_first(&m, "", 0), STRMAP_END);
	strmap_free(&m);
}

static int by_value(void *ctx, uint32_t a, uint32_t b)
{
	const uint32_t *rank = ctx;
	return rank[a] < rank[b];
}

static void test_insert_order_and_unlink(void **state)
{
	struct strmap m;
	uint32_t rank[] = { 50, 10, 40, 20, 30, 5 };

	assert_int_equal(strmap_init(&m, 4), 0);
	/* Interleaved adds to two keys, one of them empty. */
	for (uint32_t v = 0; v < 6; v++)
		assert_int_equal(strmap_add(&m, v % 2 ? "" : "a", v % 2 ? 0 : 1, v), 0);
	expect_values(&m, "a", 1, (uint32_t[]){ 0, 2, 4 }, 3);
	expect_values(&m, "", 0, (uint32_t[]){ 1, 3, 5 }, 3);

	/* Unlink the middle, the tail, then the head: adding again appends. */
	assert_int_equal(strmap_unlink(&m, "a", 1, 2), 0);
	expect_values(&m, "a", 1, (uint32_t[]){ 0, 4 }, 2);
	assert_int_equal(strmap_unlink(&m, "a", 1, 4), 0);
	assert_int_equal(strmap_add(&m, "a", 1, 2), 0);
	expect_values(&m, "a", 1, (uint32_t[]){ 0, 2 }, 2);
	assert_int_equal(strmap_unlink(&m, "a", 1, 0), 0);
	assert_int_equal(strmap_unlink(&m, "a", 1, 2), 0);
	assert_int_equal(strmap_first(&m, "a", 1), STRMAP_END);
	assert_int_equal(strmap_unlink(&m, "a", 1, 2), -ENOENT);
	assert_int_equal(strmap_unlink(&m, "b", 1, 2), -ENOENT);
	assert_int_equal(strmap_unlink(&m, "", 0, 0), -ENOENT);
	/* The key stays: an emptied key takes values again, as the only ones. */
	assert_int_equal(m.used, 2);
	assert_int_equal(strmap_add(&m, "a", 1, 4), 0);
	expect_values(&m, "a", 1, (uint32_t[]){ 4 }, 1);
	assert_int_equal(m.used, 2);

	/* strmap_insert keeps the order of `rank`, whatever the order in. */
	assert_int_equal(strmap_insert(&m, "r", 1, 2, by_value, rank), 0);
	assert_int_equal(strmap_insert(&m, "r", 1, 0, by_value, rank), 0);
	assert_int_equal(strmap_insert(&m, "r", 1, 3, by_value, rank), 0);
	assert_int_equal(strmap_insert(&m, "r", 1, 5, by_value, rank), 0);
	assert_int_equal(strmap_insert(&m, "r", 1, 4, by_value, rank), 0);
	expect_values(&m, "r", 1, (uint32_t[]){ 5, 3, 4, 2, 0 }, 5);
	/* The tail follows an insert at the end and an unlink of the tail. */
	assert_int_equal(strmap_unlink(&m, "r", 1, 0), 0);
	assert_int_equal(strmap_add(&m, "r", 1, 1), 0);
	expect_values(&m, "r", 1, (uint32_t[]){ 5, 3, 4, 2, 1 }, 5);
	/* No `before`: the end. */
	assert_int_equal(strmap_unlink(&m, "r", 1, 3), 0);
	assert_int_equal(strmap_insert(&m, "r", 1, 3, NULL, NULL), 0);
	expect_values(&m, "r", 1, (uint32_t[]){ 5, 4, 2, 1, 3 }, 5);
	/* A value past max_value grows the values. */
	assert_int_equal(strmap_add(&m, "big", 3, 1000), 0);
	expect_values(&m, "big", 3, (uint32_t[]){ 1000 }, 1);
	strmap_free(&m);
}

struct hk {
	uint32_t hash;
	uint32_t i;
};

static int hk_cmp(const void *a, const void *b)
{
	const struct hk *x = a, *y = b;
	return x->hash < y->hash ? -1 : x->hash > y->hash ? 1 : (x->i > y->i) - (x->i < y->i);
}

/* Keys whose hashes agree in every bit the map keeps (the low 32) and
 * keys that only share a slot: each finds its own values. */
static void test_colliding_keys(void **state)
{
	enum { N = 400000 };
	struct hk *h = malloc(N * sizeof(*h));
	uint32_t pairs[16][2];
	size_t n_pairs = 0;
	struct strmap m;
	char key[32];

	assert_non_null(h);
	for (uint32_t i = 0; i < N; i++) {
		int len = snprintf(key, sizeof(key), "k%u", i);
		h[i] = (struct hk){ (uint32_t)ldmesh_hash64(key, (size_t)len, 0), i };
	}
	qsort(h, N, sizeof(*h), hk_cmp);
	for (size_t i = 1; i < N && n_pairs < 16; i++)
		if (h[i].hash == h[i - 1].hash) {
			pairs[n_pairs][0] = h[i - 1].i;
			pairs[n_pairs][1] = h[i].i;
			n_pairs++;
		}
	assert_true(n_pairs > 0);
	free(h);

	/* Small on purpose: the pairs also share slots with each other. */
	assert_int_equal(strmap_init(&m, 2), 0);
	for (size_t p = 0; p < n_pairs; p++)
		for (int s = 0; s < 2; s++) {
			int len = snprintf(key, sizeof(key), "k%u", pairs[p][s]);
			assert_int_equal(strmap_add(&m, key, (size_t)len, (uint32_t)(p * 2 + (size_t)s)), 0);
		}
	assert_int_equal(m.used, n_pairs * 2);
	for (size_t p = 0; p < n_pairs; p++)
		for (int s = 0; s < 2; s++) {
			int len = snprintf(key, sizeof(key), "k%u", pairs[p][s]);
			uint32_t want = (uint32_t)(p * 2 + (size_t)s);
			expect_values(&m, key, (size_t)len, &want, 1);
		}
	/* Unlinking one of a pair leaves the other. */
	int len = snprintf(key, sizeof(key), "k%u", pairs[0][0]);
	assert_int_equal(strmap_unlink(&m, key, (size_t)len, 1), -ENOENT);
	assert_int_equal(strmap_unlink(&m, key, (size_t)len, 0), 0);
	len = snprintf(key, sizeof(key), "k%u", pairs[0][1]);
	expect_values(&m, key, (size_t)len, (uint32_t[]){ 1 }, 1);
	strmap_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_growth_keeps_keys_and_order),
		cmocka_unit_test(test_insert_order_and_unlink),
		cmocka_unit_test(test_colliding_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
