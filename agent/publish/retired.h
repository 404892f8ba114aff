/* SPDX-License-Identifier: MIT */
/*
 * Snapshot files the agent has unlinked, held open a little longer.
 *
 * Whoever drops the last reference to an unlinked tmpfs file frees its
 * pages, and that costs time in proportion to the file: about 15 ms for a
 * base of 100,000 services x 10 endpoints (bench_table --switch-only,
 * "generations per switch" 3). A reader releases the mappings it switched
 * away from at its once-a-second check; were the agent's unlink the last
 * reference but for that mapping, a connect in some pod would pay for
 * freeing the whole table. So the agent keeps each retired file open for
 * RETIRED_HOLD_NS, long enough for every active reader to let go, and the
 * agent's own close frees the pages. Bounded in count and in bytes (twice
 * the newest base: a burst of new bases must not hold the node's memory);
 * beyond either bound the oldest is let go at once, as without a hold.
 * A reader idle for longer than the hold still frees what it alone maps.
 */
#ifndef LDMESH_AGENT_RETIRED_H
#define LDMESH_AGENT_RETIRED_H

#include <stdint.h>

#define RETIRED_MAX 8
#define RETIRED_HOLD_NS 3000000000ULL /* a reader's check period, thrice */

struct retired_file {
	int fd;
	uint64_t bytes;
	uint64_t until_ns; /* CLOCK_MONOTONIC */
};

struct retired {
	struct retired_file files[RETIRED_MAX];
	unsigned n;      /* oldest first */
	uint64_t bytes;  /* of all n */
};

/* Hold `fd` (an unlinked snapshot of `bytes`) from `now_ns`, within
 * `budget` bytes in all; takes the descriptor in every case. */
void retired_hold(struct retired *r, int fd, uint64_t bytes, uint64_t budget,
		  uint64_t now_ns);

/* Close the files whose hold is over at `now_ns`. Returns the ms until the
 * next is due (at least 1), or -1 when none is held. */
int retired_release(struct retired *r, uint64_t now_ns);

void retired_close_all(struct retired *r);

#endif
