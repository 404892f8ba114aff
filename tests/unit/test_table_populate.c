/* cmocka tests for how the table maps a snapshot (table_switch.c,
 * table__map_flags): a small file (a delta is 1-6 kB) is mapped with its
 * pages in place, so the lookups of the connect that switched to it take
 * no page fault (a trap costs more than the lookup:
 * tests/bench/results/first_connect.md); a large one (a base) is not, so
 * nothing a process does costs O(table). Faults are counted with
 * getrusage(RUSAGE_THREAD): the reads below are this thread's. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <cmocka.h>

#include "ldmesh/reader.h"
#include "publish.h"
#include "reader/table_priv.h"
#include "testutil.h"

static long thread_faults(void)
{
	struct rusage ru;

	assert_int_equal(getrusage(RUSAGE_THREAD, &ru), 0);
	return ru.ru_minflt + ru.ru_majflt;
}

/* Page faults taken reading one byte of every page of the current
 * snapshot's mapping, right after the switch to it; its size in *size.
 * Not instrumented by ASan: its shadow pages would fault on their own. */
__attribute__((no_sanitize_address)) static long faults_reading_current(struct ldmesh_table *t, size_t *size)
{
	const struct ldmesh_snap *s = &t->slots[atomic_load(&t->current)].snap;
	const volatile uint8_t *p = (const volatile uint8_t *)s->base;
	long before;

	*size = s->size;
	before = thread_faults();
	for (size_t off = 0; off < s->size; off += 4096)
		(void)p[off];
	return thread_faults() - before;
}

/* Switch a table to a snapshot of `n_services` just published; the page
 * faults reading all of it then take, and its size. */
static long faults_after_switch(unsigned n_services, size_t *size)
{
	char *dir = tu_tmpdir("table-populate");
	struct publisher p;
	struct ldmesh_table t;
	char why[256];
	long faults;
	int slot;

	assert_int_equal(publish_open(&p, dir, why, sizeof(why)), 0);
	assert_int_equal(ldmesh_table_init(&t, dir, &ldmesh_reader_libc, NULL, NULL), 0);
	/* a first generation, taken as a process does: the control page
	 * opened, then the one measured switched to */
	tu_publish_ok(&p, 1);
	assert_non_null(ldmesh_table_acquire(&t, &slot));
	ldmesh_table_release(&t, slot);
	tu_publish_ok(&p, n_services);
	assert_int_equal(table__switch(&t, p.generation), TABLE_SWITCHED);
	faults = faults_reading_current(&t, size);
	ldmesh_table_close(&t);
	publish_close(&p);
	tu_rmtree(dir);
	free(dir);
	return faults;
}

static void test_small_snapshot_mapped_in_place(void **state)
{
	size_t size;
	long faults = faults_after_switch(40, &size);

	(void)state;
	assert_true(size > 4096); /* more than one page: the test means something */
	assert_true(size <= TABLE_POPULATE_MAX);
	assert_int_equal(faults, 0);
}

static void test_large_snapshot_left_to_fault(void **state)
{
	size_t size;
	long faults = faults_after_switch(4000, &size);

	(void)state;
	assert_true(size > TABLE_POPULATE_MAX);
	assert_true(faults > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small_snapshot_mapped_in_place),
		cmocka_unit_test(test_large_snapshot_left_to_fault),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
