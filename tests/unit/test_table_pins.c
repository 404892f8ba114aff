/* The table's pins (issue 26, "paper check for large nodes"): threads pin
 * the current snapshot each on a cache line of its own, so on a many-core
 * node connects do not move one shared line between the cores; and the
 * per-thread counts still keep a snapshot mapped while any thread is
 * inside it (safe reclamation), whichever thread lets it go. */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "ldmesh/reader.h"
#include "publish.h"
#include "testutil.h"

#define THREADS 4

struct pinner {
	struct ldmesh_table *t;
	pthread_barrier_t *all_pinned;
	pthread_barrier_t *let_go;
	int handle;
	uint32_t services; /* read from the pinned snapshot after let_go */
};

/* Pin, wait for every thread to hold its pin, wait for main's checks,
 * read through the pinned view, let go. */
static void *pinner_run(void *arg)
{
	struct pinner *p = arg;
	const struct ldmesh_snap *s = ldmesh_table_acquire(p->t, &p->handle);

	pthread_barrier_wait(p->all_pinned);
	pthread_barrier_wait(p->let_go);
	if (s) {
		p->services = ldmesh_snap_service_count(s);
		ldmesh_table_release(p->t, p->handle);
	}
	return NULL;
}

struct releaser {
	struct ldmesh_table *t;
	int handle;
};

static void *releaser_run(void *arg)
{
	struct releaser *r = arg;

	ldmesh_table_release(r->t, r->handle);
	return NULL;
}

/* The 64-byte line a pin handle counts in (reader.h, "Pins"). */
static uintptr_t line_of(const struct ldmesh_table *t, int h)
{
	assert_true(h >= 0 && (size_t)h < sizeof(t->pins) / sizeof(t->pins[0]));
	return (uintptr_t)&t->pins[h] / 64;
}

static void start_pinners(struct ldmesh_table *t, struct pinner *p, pthread_t *tid,
			  pthread_barrier_t *all_pinned, pthread_barrier_t *let_go, int n)
{
	pthread_barrier_init(all_pinned, NULL, (unsigned)n + 1);
	pthread_barrier_init(let_go, NULL, (unsigned)n + 1);
	for (int k = 0; k < n; k++) {
		p[k] = (struct pinner){ .t = t, .all_pinned = all_pinned, .let_go = let_go,
					.handle = -1 };
		assert_int_equal(pthread_create(&tid[k], NULL, pinner_run, &p[k]), 0);
	}
	pthread_barrier_wait(all_pinned);
}

static void join_pinners(pthread_t *tid, pthread_barrier_t *all_pinned,
			 pthread_barrier_t *let_go, int n)
{
	pthread_barrier_wait(let_go);
	for (int k = 0; k < n; k++)
		pthread_join(tid[k], NULL);
	pthread_barrier_destroy(all_pinned);
	pthread_barrier_destroy(let_go);
}

/* Four threads inside the same snapshot count on four lines, none of
 * them a line the table's other fields (read on every connect) live on. */
static void test_threads_pin_on_lines_of_their_own(void **state)
{
	char *dir = tu_tmpdir("table-pins");
	pthread_barrier_t all_pinned, let_go;
	struct pinner p[THREADS];
	pthread_t tid[THREADS];
	struct publisher pub;
	struct ldmesh_table *t = calloc(1, sizeof(*t)); /* malloc'd: 16-aligned only */
	uintptr_t first, last;
	int cur, h;
	char why[256];

	(void)state;
	assert_non_null(t);
	assert_int_equal(publish_open(&pub, dir, why, sizeof(why)), 0);
	tu_publish_ok(&pub, 3);
	assert_int_equal(ldmesh_table_init(t, dir, &ldmesh_reader_libc, NULL, NULL), 0);
	assert_non_null(ldmesh_table_acquire(t, &h)); /* map it once */
	ldmesh_table_release(t, h);
	cur = atomic_load(&t->current);

	start_pinners(t, p, tid, &all_pinned, &let_go, THREADS);
	first = (uintptr_t)&t->pins[0] / 64 + 1; /* lines wholly inside pins[] */
	last = ((uintptr_t)&t->pins[sizeof(t->pins) / sizeof(t->pins[0]) - 1] + 4) / 64 - 1;
	for (int k = 0; k < THREADS; k++) {
		assert_true(p[k].handle >= 0);
		assert_true(line_of(t, p[k].handle) >= first && line_of(t, p[k].handle) <= last);
		for (int j = 0; j < k; j++)
			assert_true(line_of(t, p[k].handle) != line_of(t, p[j].handle));
	}
	assert_int_equal(ldmesh_table_pinned(t, cur), THREADS);
	join_pinners(tid, &all_pinned, &let_go, THREADS);
	for (int k = 0; k < THREADS; k++)
		assert_int_equal(p[k].services, 3);
	assert_int_equal(ldmesh_table_pinned(t, cur), 0);

	ldmesh_table_close(t);
	free(t);
	publish_close(&pub);
	tu_rmtree(dir);
	free(dir);
}

/* A snapshot a thread is inside stays mapped through a switch and the
 * reclaim that follows (the once-a-second check), and goes once the
 * last thread is out; a pin let go by another thread than the one that
 * took it counts down where it counted up. */
static void test_pinned_snapshot_outlives_switch(void **state)
{
	char *dir = tu_tmpdir("table-pins");
	pthread_barrier_t all_pinned, let_go;
	struct pinner p[2];
	pthread_t tid[2];
	struct publisher pub;
	struct ldmesh_table t;
	const struct ldmesh_snap *s;
	int old, h, other;
	char why[256];

	(void)state;
	assert_int_equal(publish_open(&pub, dir, why, sizeof(why)), 0);
	tu_publish_ok(&pub, 2);
	assert_int_equal(ldmesh_table_init(&t, dir, &ldmesh_reader_libc, NULL, NULL), 0);
	assert_non_null(ldmesh_table_acquire(&t, &h));
	ldmesh_table_release(&t, h);
	old = atomic_load(&t.current);

	start_pinners(&t, p, tid, &all_pinned, &let_go, 2);
	assert_non_null(ldmesh_table_acquire(&t, &other)); /* main inside too */
	tu_publish_ok(&pub, 5);
	for (int round = 0; round < 3; round++) { /* switch, then reclaims */
		ldmesh_table_check_now(&t);
		s = ldmesh_table_acquire(&t, &h);
		assert_non_null(s);
		assert_int_equal(ldmesh_snap_service_count(s), 5);
		ldmesh_table_release(&t, h);
	}
	assert_int_not_equal(atomic_load(&t.current), old);
	assert_true(atomic_load(&t.slots[old].used));
	assert_int_equal(ldmesh_table_pinned(&t, old), 3);
	join_pinners(tid, &all_pinned, &let_go, 2); /* they read the old view */
	assert_int_equal(p[0].services, 2);
	assert_int_equal(p[1].services, 2);
	assert_int_equal(ldmesh_table_pinned(&t, old), 1);
	/* main's pin let go by another thread: the slot is free after */
	{
		struct releaser r = { .t = &t, .handle = other };
		pthread_t rel;

		assert_int_equal(pthread_create(&rel, NULL, releaser_run, &r), 0);
		pthread_join(rel, NULL);
	}
	assert_int_equal(ldmesh_table_pinned(&t, old), 0);
	ldmesh_table_check_now(&t);
	s = ldmesh_table_acquire(&t, &h);
	assert_non_null(s);
	ldmesh_table_release(&t, h);
	assert_false(atomic_load(&t.slots[old].used));

	ldmesh_table_close(&t);
	publish_close(&pub);
	tu_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_threads_pin_on_lines_of_their_own),
		cmocka_unit_test(test_pinned_snapshot_outlives_switch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
