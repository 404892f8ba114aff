/* cmocka tests for the table's switch (preload/reader/table_switch.c): what
 * table__switch answers means what happened. With every slot pinned by a
 * reader nothing switches, and it says so (TABLE_BUSY, not
 * TABLE_SWITCHED): the snapshot in use stays, no switch is reported, and
 * the generation is taken once a slot is let go. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ldmesh/reader.h"
#include "publish.h"
#include "reader/table_priv.h"
#include "testutil.h"

struct events {
	uint64_t switched[64]; /* generations reported switched to */
	unsigned n;
};

static void on_event(void *ctx, enum ldmesh_table_event ev, uint64_t gen, const char *why)
{
	struct events *e = ctx;

	(void)why;
	if (ev == LDMESH_TABLE_SWITCHED && e->n < 64)
		e->switched[e->n++] = gen;
}

static uint64_t current_generation(struct ldmesh_table *t)
{
	int cur = atomic_load(&t->current);

	assert_true(cur >= 0);
	return atomic_load(&t->slots[cur].generation);
}

static void test_busy_is_not_switched(void **state)
{
	char *dir = tu_tmpdir("table-switch");
	struct events ev = { .n = 0 };
	struct publisher p;
	struct ldmesh_table t;
	int pins[LDMESH_TABLE_SLOTS];
	char why[256];

	(void)state;
	assert_int_equal(publish_open(&p, dir, why, sizeof(why)), 0);
	assert_int_equal(ldmesh_table_init(&t, dir, &ldmesh_reader_libc, on_event, &ev), 0);
	/* one reader inside each generation: every slot pinned */
	for (int i = 0; i < LDMESH_TABLE_SLOTS; i++) {
		const struct ldmesh_snap *s;

		tu_publish_ok(&p, 2);
		s = ldmesh_table_acquire(&t, &pins[i]);
		assert_non_null(s);
		assert_int_equal(s->generation, p.generation);
	}
	uint64_t held = p.generation;
	unsigned reported = ev.n;

	tu_publish_ok(&p, 3);
	assert_int_equal(table__switch(&t, p.generation), TABLE_BUSY);
	assert_int_equal(current_generation(&t), held);
	assert_int_equal(ev.n, reported); /* no switch said */
	/* a slot let go: the same generation is taken */
	ldmesh_table_release(&t, pins[0]);
	assert_int_equal(table__switch(&t, p.generation), TABLE_SWITCHED);
	assert_int_equal(current_generation(&t), p.generation);
	assert_int_equal(ev.n, reported + 1);
	assert_int_equal(ev.switched[ev.n - 1], p.generation);
	for (int i = 1; i < LDMESH_TABLE_SLOTS; i++)
		ldmesh_table_release(&t, pins[i]);
	ldmesh_table_close(&t);
	publish_close(&p);
	tu_rmtree(dir);
	free(dir);
}

/* Through the public acquire too: a process whose slots are all pinned
 * keeps its snapshot, and takes the new one at its next call once a slot
 * is free. */
static void test_busy_then_taken_by_acquire(void **state)
{
	char *dir = tu_tmpdir("table-switch");
	struct publisher p;
	struct ldmesh_table t;
	const struct ldmesh_snap *s;
	int pins[LDMESH_TABLE_SLOTS], slot;
	char why[256];

	(void)state;
	assert_int_equal(publish_open(&p, dir, why, sizeof(why)), 0);
	assert_int_equal(ldmesh_table_init(&t, dir, &ldmesh_reader_libc, NULL, NULL), 0);
	for (int i = 0; i < LDMESH_TABLE_SLOTS; i++) {
		tu_publish_ok(&p, 2);
		assert_non_null(ldmesh_table_acquire(&t, &pins[i]));
	}
	uint64_t held = p.generation;

	tu_publish_ok(&p, 3);
	s = ldmesh_table_acquire(&t, &slot);
	assert_non_null(s);
	assert_int_equal(s->generation, held);
	ldmesh_table_release(&t, slot);
	for (int i = 0; i < LDMESH_TABLE_SLOTS; i++)
		ldmesh_table_release(&t, pins[i]);
	s = ldmesh_table_acquire(&t, &slot);
	assert_non_null(s);
	assert_int_equal(s->generation, p.generation);
	assert_int_equal(s->n_services, 3);
	ldmesh_table_release(&t, slot);
	ldmesh_table_close(&t);
	publish_close(&p);
	tu_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_busy_is_not_switched),
		cmocka_unit_test(test_busy_then_taken_by_acquire),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
