/* SPDX-License-Identifier: MIT */
/*
 * The preload's counters per redirected TCP socket (counts.h), kept by fd
 * so that the connect path pays one store and no lookup: a connect leaves
 * its word here, and the close of the socket (or the next flush, for a
 * connection still open) counts it under its (VIP, backend), which the fd
 * map (fdmap.h) holds. At close one getsockopt(TCP_INFO) gives the bytes
 * and the smoothed RTT, and says whether the socket was still connecting:
 * a program that gives up on a connect (curl --connect-timeout) closes it
 * so, and that is a timeout of the backend.
 */
#ifndef LDMESH_PRELOAD_FDCOUNT_H
#define LDMESH_PRELOAD_FDCOUNT_H

#include <stdatomic.h>
#include <stdint.h>

#include "export.h"
#include "fdmap.h"

/* A word per fd below FDMAP_MAX: ticks << 2 | FDCOUNT_*. */
#define FDCOUNT_CONNECTING 1u /* ticks: ldmesh_tick() as the connect began */
#define FDCOUNT_OPENED 2u     /* connected, not counted yet; ticks: latency */
#define FDCOUNT_COUNTED 3u    /* counted as opened; the close is to come */

extern _Atomic uint64_t fdcount_tab[FDMAP_MAX] LDMESH_HIDDEN;

/* The connect path's store: `fd` connected after `ticks`. An fd above the
 * map is not remembered at all (nor is it by the fd map), hence counted
 * at once. */
static inline __attribute__((always_inline)) void fdcount_set(int fd, uint64_t ticks,
							      unsigned what)
{
	if (__builtin_expect((unsigned)fd < FDMAP_MAX, 1))
		atomic_store_explicit(&fdcount_tab[fd], ticks << 2 | what, memory_order_relaxed);
}

/* A non-blocking connect of `fd` is known to have succeeded (SO_ERROR 0,
 * a repeated connect saying EISCONN). */
void fdcount_connected(int fd) LDMESH_HIDDEN;

/* `fd` is about to close: count what it was (reads TCP_INFO once, only
 * for a redirected TCP socket). Keeps errno. */
void fdcount_closing(int fd) LDMESH_HIDDEN;

/* Forget `fd` (dup2 over it: its socket may live on elsewhere). */
void fdcount_forget(int fd) LDMESH_HIDDEN;

/* Count the connections opened but not counted yet (before a flush). */
void fdcount_collect(void) LDMESH_HIDDEN;

/* In a forked child: nothing of the parent's is counted again. */
void fdcount_after_fork(void) LDMESH_HIDDEN;

#endif
