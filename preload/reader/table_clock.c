/* SPDX-License-Identifier: MIT */
/*
 * The table's sense of time: the once-a-second check is asked for on
 * every acquire, so it is armed as a deadline on the CPU's tick counter
 * (one instruction to read), calibrated against the clock.
 */
#define _GNU_SOURCE

#include "table_priv.h"

/*
 * "Is a second up?" is asked on every acquire. A clock_gettime call costs
 * tens of instructions even from the vDSO; the CPU's tick counter
 * (ldmesh_tick) is one instruction. Its rate is measured against the clock
 * over the first second (until then a low guess makes checks early, never
 * late: an early one only re-arms). Elsewhere the clock is the tick.
 */
#define TABLE_TICKS_GUESS 100000000ULL /* per second: lower than any real rate */
#define TABLE_CALIBRATE_NS 500000000ULL

/* Arm the fast check for the deadline next_dir_check_ns. */
void table__arm(struct ldmesh_table *t, uint64_t now_ns)
{
	uint64_t tick = ldmesh_tick(), rate = atomic_load(&t->ticks_per_s);
	uint64_t due = atomic_load(&t->next_dir_check_ns);
	uint64_t wait_ns = due > now_ns ? due - now_ns : 0;

	if (!LDMESH_TICKS) {
		atomic_store(&t->next_check_tick, due);
		return;
	}
	if (!rate && now_ns - t->ns0 >= TABLE_CALIBRATE_NS && tick > t->tick0) {
		rate = (uint64_t)((double)(tick - t->tick0) * 1e9 / (double)(now_ns - t->ns0));
		atomic_store(&t->ticks_per_s, rate);
	}
	if (!rate)
		rate = TABLE_TICKS_GUESS;
	atomic_store(&t->next_check_tick,
		     tick + (uint64_t)((double)wait_ns * (double)rate / 1e9));
}

uint64_t ldmesh_table_elapsed_ns(struct ldmesh_table *t, uint64_t since)
{
	uint64_t rate = atomic_load_explicit(&t->ticks_per_s, memory_order_relaxed), now = ldmesh_tick();

	if (!LDMESH_TICKS)
		return now - since;
	if (!rate) {
		/* not calibrated yet: measure the rate since init against the
		 * clock now (a slow path: a failed connect is asking) */
		uint64_t ns = table__now_ns() - t->ns0;
		if (ns < 1000000 || now <= t->tick0)
			return 0;
		rate = (uint64_t)((double)(now - t->tick0) * 1e9 / (double)ns);
	}
	if (!rate || now < since)
		return 0;
	return (uint64_t)((double)(now - since) * 1e9 / (double)rate);
}
