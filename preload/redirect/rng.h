/* SPDX-License-Identifier: MIT */
/*
 * Per-thread random numbers for backend choice: splitmix64 in initial-exec
 * TLS. The hot path makes no syscall: a thread seeds itself on first use
 * from a process seed (getrandom once at init) and a per-thread counter.
 */
#ifndef LDMESH_PRELOAD_RNG_H
#define LDMESH_PRELOAD_RNG_H

#include <stdint.h>

#include "export.h"

/* Draw the process seed (getrandom, or a clock/pid/ASLR mix without it). */
void rng_init(void) LDMESH_HIDDEN;
/* In a forked child: a new process seed and a fresh state for the one
 * thread, so parent and child (and siblings) draw different backends. */
void rng_after_fork(void) LDMESH_HIDDEN;
uint64_t rng_next(void) LDMESH_HIDDEN;

#endif
