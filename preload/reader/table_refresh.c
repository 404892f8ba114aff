/* SPDX-License-Identifier: MIT */
/*
 * The refresh side of the table, one thread at a time (`refreshing`):
 * follow the generation counter, the once-a-second look at the directory,
 * and the base announced ahead mapped and warmed before it is needed.
 */
#define _GNU_SOURCE

#include "table_priv.h"

/* Warm the base announced ahead in slot `i` for the keys this process
 * looked up lately (ldmesh_table_note_*); how many it holds. */
static unsigned table__warm(struct ldmesh_table *t, int i)
{
	uint64_t vip[LDMESH_TABLE_USED], name[LDMESH_TABLE_USED];

	for (int k = 0; k < LDMESH_TABLE_USED; k++) {
		vip[k] = atomic_load_explicit(&t->used_vip[k], memory_order_relaxed);
		name[k] = atomic_load_explicit(&t->used_name[k], memory_order_relaxed);
	}
	return ldmesh_snap_warm(&t->slots[i].snap, vip, LDMESH_TABLE_USED, name,
				LDMESH_TABLE_USED, LDMESH_TABLE_WARM_PAGES);
}

/*
 * Map the base the agent announced ahead (snapshot.h, 3.2), if it is
 * newer than the current generation and not mapped yet: the once-a-second
 * check pays the system calls a switch to it would (open, fstat, mmap,
 * close), so the connect that meets the new generation makes none. And
 * the page faults: it reads, in the new base, the pages this process's
 * recent lookups will read there (table__warm), each check until the
 * switch, so keys noted meanwhile are warmed too. The same checks as a
 * switch; a file that fails them is not reported here (the switch to it
 * will be, if it comes), and one no longer announced is let go.
 */
static void table__premap(struct ldmesh_table *t)
{
	const struct ldmesh_control *c = atomic_load(&t->control);
	uint64_t cur = __atomic_load_n(&c->generation, __ATOMIC_ACQUIRE);
	struct table__msg why = { .len = 0 }, warmed = { .len = 0 };
	struct ldmesh_control_record rec;
	struct table__expect ex;
	struct ldmesh_snap snap;
	struct ldmesh_file_id id;
	unsigned n;
	int i;

	if (t->dir_bad || cur == LDMESH_GENERATION_RETIRED ||
	    ldmesh_control_ahead_get(c, &rec) < 0 || rec.generation < cur) {
		table__ahead_drop(t);
		return;
	}
	/* kept until the switch (it may be current already, and this
	 * process not switched yet: that comes right after the check) */
	if (table__ahead_is(t, rec.generation, &rec.snap)) {
		table__warm(t, t->ahead_slot);
		return;
	}
	table__ahead_drop(t);
	if (rec.generation == cur)
		return;
	ex.id = rec.snap;
	ex.header = &rec.header;
	if (table__map(t, rec.generation, cur, &ex, &snap, &id, &why) != TABLE_MAPPED)
		return;
	i = table__free_slot(t);
	if (i < 0) {
		table__unmap(t, &snap);
		return;
	}
	table__install(t, i, &snap, id, -1);
	t->slots[i].links++;
	t->ahead_slot = i;
	n = table__warm(t, i);
	table__put(&warmed, "warmed for ");
	table__put_u64(&warmed, n);
	table__put(&warmed, n == 1 ? " key this process looked up" : " keys this process looked up");
	table__event(t, LDMESH_TABLE_AHEAD, rec.generation, warmed.buf);
}

static void table__follow(struct ldmesh_table *t)
{
	if (table__open_control(t) < 0)
		return;
	table__ahead_drop(t);
	/* its generations are not the old directory's: no slot mapped so
	 * far may serve as one of its bases */
	t->dir_epoch++;
	table__event(t, LDMESH_TABLE_REPLACED, 0, t->dir);
	/* Whatever the new directory's generation, it is news. */
	atomic_store(&t->seen_generation, 0);
}

#define TABLE_GONE_TRIES 8

void table__refresh(struct ldmesh_table *t)
{
	const struct ldmesh_control *c;
	uint64_t gen, now;

	if (atomic_flag_test_and_set(&t->refreshing))
		return;
	now = table__now_ns();
	c = atomic_load(&t->control);
	if (!c) {
		if (now < atomic_load(&t->next_retry_ns))
			goto out;
		atomic_store(&t->next_retry_ns, now + LDMESH_TABLE_RETRY_NS);
		if (table__open_control(t) < 0)
			goto out;
		atomic_store(&t->next_dir_check_ns, now + LDMESH_TABLE_DIR_CHECK_NS);
		c = atomic_load(&t->control);
	} else if (now >= atomic_load(&t->next_dir_check_ns)) {
		atomic_store(&t->next_dir_check_ns, now + LDMESH_TABLE_DIR_CHECK_NS);
		if (table__dir_replaced(t))
			table__follow(t);
		table__premap(t);
		/* what earlier switches left mapped (table__switch), and
		 * an announced base let go */
		table__reclaim(t);
	}
	table__arm(t, now);
	/* Each generation is tried once: a refused one is not re-read on
	 * every call, only when the agent publishes the next. A file gone
	 * before it could be opened means newer ones were published in the
	 * meantime (the agent keeps the previous one, removes the older):
	 * take the newest at once rather than stay on an older snapshot
	 * until the next publish. Bounded: a busy agent cannot keep a reader
	 * here. */
	for (int tries = 0; tries < TABLE_GONE_TRIES; tries++) {
		enum table_switch r;

		gen = __atomic_load_n(&c->generation, __ATOMIC_ACQUIRE);
		if (gen == atomic_load(&t->seen_generation))
			break;
		atomic_store(&t->seen_generation, gen);
		if (gen == LDMESH_GENERATION_RETIRED) {
			/* The agent abandoned this directory: look for its
			 * successor now, and again each second until it
			 * appears. */
			if (table__dir_replaced(t))
				table__follow(t);
			break;
		}
		if (!gen)
			break;
		r = table__switch(t, gen);
		if (r == TABLE_DIR_REPLACED)
			table__follow(t);
		if (r != TABLE_GONE)
			break;
		if (tries + 1 == TABLE_GONE_TRIES)
			table__event(t, LDMESH_TABLE_REFUSED, gen,
				     "snapshot removed before it could be opened");
	}
out:
	atomic_flag_clear(&t->refreshing);
}
