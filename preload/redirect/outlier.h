/* SPDX-License-Identifier: MIT */
/*
 * Outlier ejection for connects, per process, in the spirit of Envoy's
 * outlier detection: a backend whose connects fail `consecutive` times in a
 * row is passed over for base x (number of its ejections) of time, at most
 * `max`; a connect that succeeds clears its count. Failures are what a
 * connect returns (refused, reset, unreachable, timed out), or what
 * SO_ERROR later says of a non-blocking one. Never ejecting the last
 * backend is the chooser's part: it takes an ejected one when every
 * candidate is ejected.
 *
 * Lock-free, no allocation: a fixed table of backends; a failure finding
 * it full simply is not remembered. The connect path asks nothing of it
 * while no backend is ejected (outlier_active() is one load).
 */
#ifndef LDMESH_PRELOAD_OUTLIER_H
#define LDMESH_PRELOAD_OUTLIER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "export.h"

#define OUTLIER_SLOTS 256 /* backends remembered per process */

/* Envoy's defaults are 5 failures, 30 s and 300 s for HTTP errors; a
 * refused connect is a harder signal, so two in a row eject here. */
#define OUTLIER_DEFAULTS \
	{ .consecutive = 2, .base_ns = 30000000000ULL, .max_ns = 300000000000ULL }

struct outlier_config {
	unsigned consecutive;  /* failures in a row that eject */
	uint64_t base_ns;      /* ejection time, times the ejection count */
	uint64_t max_ns;       /* at most */
};

/* Ejections that may still be in force; the connect path's only question
 * while all is well. */
extern atomic_uint outlier_ejections LDMESH_HIDDEN;
/* Backends with a failure on record (so a success has something to clear). */
extern atomic_uint outlier_tracked LDMESH_HIDDEN;

static inline bool outlier_active(void)
{
	return atomic_load_explicit(&outlier_ejections, memory_order_relaxed) != 0;
}

void outlier_configure(const struct outlier_config *c) LDMESH_HIDDEN;

/* Whether `addr`:`port` is ejected at `now_ns` (an ejection found over is
 * cleared here). */
bool outlier_is_ejected(const uint8_t addr[16], uint16_t port, uint64_t now_ns) LDMESH_HIDDEN;

/* A connect to `addr`:`port` failed at `now_ns`. Returns the ejection time
 * when this failure ejected it, else 0. */
uint64_t outlier_failure(const uint8_t addr[16], uint16_t port, uint64_t now_ns) LDMESH_HIDDEN;

/* A connect to it succeeded: its run of failures is over. */
void outlier_success(const uint8_t addr[16], uint16_t port) LDMESH_HIDDEN;

/* Forget everything (tests). */
void outlier_reset(void) LDMESH_HIDDEN;

#endif
