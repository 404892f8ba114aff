/* SPDX-License-Identifier: MIT */
/*
 * The live table: follows the agent's generation counter and keeps a
 * mapping of the current snapshot whose header was checked.
 *
 * Read side (every connect): one acquire load of the generation and one
 * read of the CPU's tick counter, then pin the current slot with a reference count
 * in the thread's own stripe (reader.h, "Pins") and re-check that it is
 * still current. Refresh side: one thread at a time
 * (an atomic flag, never waited on: a thread that loses the race keeps
 * using the current snapshot) maps the new file into a free slot, makes it
 * current, and unmaps slots nobody is inside. Once a second it also asks
 * whether the directory was replaced (a new device/inode at the path, or
 * the old control page retired) and follows the new one, and whether it
 * is still one to trust.
 *
 * Only async-signal-safe calls, all through t->sys; messages are built by
 * hand from constant reasons.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <string.h>

#include "table_priv.h"

/* The first pins[] offset of this thread's stripe, plus one (0: none
 * taken yet). Initial exec: one load from the thread pointer on the
 * connect path, and no allocation on a thread's first pin. */
static __thread unsigned table__stripe_tls __attribute__((tls_model("initial-exec")));
static atomic_uint table__stripes_taken;

_Static_assert(LDMESH_TABLE_SLOTS <= LDMESH_TABLE_STRIPE_WORDS, "a stripe holds every slot");

/* Round robin: threads started together (a worker pool) get different
 * lines. A signal handler that pins first in the middle of this takes a
 * stripe too; either is right, since the handle names the count used. */
static inline unsigned table__stripe(void)
{
	unsigned s = table__stripe_tls;

	if (__builtin_expect(!s, 0)) {
		s = atomic_fetch_add_explicit(&table__stripes_taken, 1, memory_order_relaxed) %
			    LDMESH_TABLE_STRIPES * LDMESH_TABLE_STRIPE_WORDS + 1;
		table__stripe_tls = s;
	}
	return s - 1;
}

/* Pin slot `cur` on this thread's stripe if it is still current: the
 * handle (the index in pins[] of the count used), or -1. The seq_cst
 * pair with table__reclaim (reader: count up, then load current;
 * reclaimer: store current, then load the counts) means a reader that
 * keeps a slot is counted. */
static inline int table__pin_current(struct ldmesh_table *t, int cur)
{
	unsigned h = t->pin_first + table__stripe() + (unsigned)cur;

	atomic_fetch_add(&t->pins[h], 1);
	if (__builtin_expect(atomic_load(&t->current) == cur, 1))
		return (int)h;
	atomic_fetch_sub(&t->pins[h], 1);
	return -1;
}

unsigned ldmesh_table_pinned(struct ldmesh_table *t, int i)
{
	unsigned n = 0;

	for (unsigned k = 0; k < LDMESH_TABLE_STRIPES; k++)
		n += atomic_load(&t->pins[t->pin_first + k * LDMESH_TABLE_STRIPE_WORDS + (unsigned)i]);
	return n;
}

static void table__unpin_all(struct ldmesh_table *t)
{
	for (size_t i = 0; i < sizeof(t->pins) / sizeof(t->pins[0]); i++)
		atomic_store(&t->pins[i], 0);
}

int ldmesh_table_init(struct ldmesh_table *t, const char *dir,
		      const struct ldmesh_reader_sys *sys,
		      ldmesh_table_event_fn on_event, void *event_ctx)
{
	size_t len = strlen(dir);

	/* Room for "/snap." and 20 digits after the directory in messages. */
	if (len + 32 >= sizeof(t->dir))
		return -ENAMETOOLONG;
	memset(t, 0, sizeof(*t));
	memcpy(t->dir, dir, len + 1);
	t->sys = sys;
	atomic_init(&t->control, NULL);
	atomic_init(&t->current, -1);
	atomic_init(&t->seen_generation, 0);
	atomic_init(&t->next_retry_ns, 0);
	atomic_init(&t->next_dir_check_ns, 0);
	atomic_init(&t->next_check_tick, 0);
	atomic_init(&t->ticks_per_s, 0);
	t->ahead_slot = -1;
	t->tick0 = ldmesh_tick();
	t->ns0 = table__now_ns();
	atomic_flag_clear(&t->refreshing);
	/* the first count at a 64-byte boundary: pins[] is 4-aligned */
	t->pin_first = (unsigned)((64 - ((uintptr_t)t->pins & 63)) & 63) / sizeof(t->pins[0]);
	for (size_t i = 0; i < sizeof(t->pins) / sizeof(t->pins[0]); i++)
		atomic_init(&t->pins[i], 0);
	for (int i = 0; i < LDMESH_TABLE_SLOTS; i++) {
		atomic_init(&t->slots[i].used, false);
		atomic_init(&t->slots[i].generation, 0);
		t->slots[i].base_slot = -1;
	}
	t->on_event = on_event;
	t->event_ctx = event_ctx;
	return 0;
}

/* Bound on pin retries: `current` only moves on a publish, so losing the
 * race more than a few times in a row means something is badly wrong; pass
 * through rather than spin. */
#define TABLE_PIN_TRIES 16

/* Before the first snapshot is mapped there is nothing to pin, so a call
 * that finds another thread in table__refresh (holding `refreshing`, maybe
 * mapping that first snapshot right now) would pass through although the
 * table exists. Wait for that thread instead, bounded in time: this happens
 * only while no snapshot is mapped (startup, or a table that appears late). */
#define TABLE_FIRST_WAIT_NS 100000000ULL

static void table__wait_refresher(struct ldmesh_table *t)
{
	uint64_t deadline = 0;

	while (atomic_load(&t->current) < 0) {
		if (!atomic_flag_test_and_set(&t->refreshing)) {
			/* nobody is refreshing: whatever it did is done */
			atomic_flag_clear(&t->refreshing);
			return;
		}
		if (!deadline)
			deadline = table__now_ns() + TABLE_FIRST_WAIT_NS;
		else if (table__now_ns() > deadline)
			return;
		sched_yield();
	}
}

/*
 * The snapshot in use is more than one generation behind the control page
 * while another thread is mapping the newest (it holds `refreshing`, maybe
 * preempted): wait for it rather than route from a table two or more
 * publishes old. A switch takes tens of microseconds, but a refresher
 * preempted in it waits for the CPU for as long as the run queue ahead of
 * it takes: with a 3 ms slice and a few runnable tasks per core that is
 * several ms (2 ms was exceeded by 2 of 39,709 connects of
 * e2e_test_stress_connect with both cores busy). 20 ms covers that and
 * still keeps a refresher stopped for good (SIGSTOP, a debugger) from
 * holding connects up for long. Taken only while two publishes behind.
 */
#define TABLE_CATCH_UP_NS 20000000ULL

/* Out of line: rarely taken, and the connect path pays for code it runs. */
__attribute__((noinline)) static void table__catch_up(struct ldmesh_table *t,
							uint64_t want)
{
	uint64_t deadline = 0;
	int cur;

	if (want == LDMESH_GENERATION_RETIRED)
		return;
	while (atomic_flag_test_and_set(&t->refreshing)) {
		if (!deadline)
			deadline = table__now_ns() + TABLE_CATCH_UP_NS;
		else if (table__now_ns() > deadline)
			return;
		sched_yield();
	}
	/* the other thread is done; whatever is newer still, map it now */
	atomic_flag_clear(&t->refreshing);
	cur = atomic_load(&t->current);
	if (cur >= 0 && atomic_load(&t->slots[cur].generation) + 1 < want)
		table__refresh(t);
}

/* The general case of ldmesh_table_acquire: a generation to follow, a
 * check due, no snapshot yet, or a lost race to pin. Out of line, so the
 * connect path's common case saves no registers for it. */
__attribute__((noinline)) static const struct ldmesh_snap *
table__acquire_slow(struct ldmesh_table *t, int *slot)
{
	const struct ldmesh_control *c = atomic_load(&t->control);
	uint64_t gen = c ? __atomic_load_n(&c->generation, __ATOMIC_ACQUIRE) : 0;

	if (!c || gen != atomic_load(&t->seen_generation) ||
	    ldmesh_tick() >= atomic_load(&t->next_check_tick))
		table__refresh(t);
	if (atomic_load(&t->current) < 0)
		table__wait_refresher(t);

	for (int n = 0; n < TABLE_PIN_TRIES; n++) {
		int cur = atomic_load(&t->current), h;
		if (cur < 0)
			return NULL;
		if (n == 0 && atomic_load_explicit(&t->slots[cur].generation,
						   memory_order_relaxed) + 1 < gen) {
			table__catch_up(t, gen);
			continue;
		}
		if ((h = table__pin_current(t, cur)) >= 0) {
			*slot = h;
			return &t->slots[cur].snap;
		}
	}
	return NULL;
}

const struct ldmesh_snap *ldmesh_table_acquire(struct ldmesh_table *t,
					       int *slot)
{
	const struct ldmesh_control *c = atomic_load_explicit(&t->control,
							      memory_order_acquire);
	uint64_t gen = c ? __atomic_load_n(&c->generation, __ATOMIC_ACQUIRE) : 0;
	int cur = atomic_load(&t->current);

	/* The common case, which every connect takes: nothing to follow, no
	 * check due, and the current snapshot at most one generation behind
	 * (the refresher marks a generation seen before it maps it; one two
	 * behind is the slow path's to catch up), pinned at the first try. */
	if (__builtin_expect(c && cur >= 0 &&
			     gen == atomic_load_explicit(&t->seen_generation,
							 memory_order_relaxed) &&
			     ldmesh_tick() < atomic_load_explicit(&t->next_check_tick,
								  memory_order_relaxed) &&
			     atomic_load_explicit(&t->slots[cur].generation,
						  memory_order_relaxed) + 1 >= gen, 1)) {
		int h = table__pin_current(t, cur);

		if (__builtin_expect(h >= 0, 1)) {
			*slot = h;
			return &t->slots[cur].snap;
		}
	}
	return table__acquire_slow(t, slot);
}

void ldmesh_table_release(struct ldmesh_table *t, int slot)
{
	atomic_fetch_sub_explicit(&t->pins[slot], 1, memory_order_release);
}

void ldmesh_table_check_now(struct ldmesh_table *t)
{
	atomic_store(&t->next_dir_check_ns, 0);
	atomic_store(&t->next_check_tick, 0);
}

const struct ldmesh_control *ldmesh_table_control(struct ldmesh_table *t)
{
	return atomic_load(&t->control);
}

void ldmesh_table_close(struct ldmesh_table *t)
{
	const struct ldmesh_control *c = atomic_load(&t->control);

	atomic_store(&t->current, -1);
	for (int i = 0; i < LDMESH_TABLE_SLOTS; i++) {
		if (atomic_load(&t->slots[i].used))
			table__unmap(t, &t->slots[i].snap);
		atomic_store(&t->slots[i].used, false);
		t->slots[i].base_slot = -1;
		t->slots[i].links = 0;
	}
	t->ahead_slot = -1;
	table__unpin_all(t);
	if (c)
		t->sys->munmap((void *)c, sizeof(*c));
	atomic_store(&t->control, NULL);
	atomic_store(&t->seen_generation, 0);
	atomic_store(&t->next_retry_ns, 0);
	atomic_store(&t->next_dir_check_ns, 0);
	atomic_store(&t->next_check_tick, 0);
}

void ldmesh_table_after_fork(struct ldmesh_table *t)
{
	/* links stay: the child inherits every mapping they guard */
	table__unpin_all(t);
	atomic_flag_clear(&t->refreshing);
}
