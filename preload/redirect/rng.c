/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "rng.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define RNG_GOLDEN 0x9e3779b97f4a7c15ULL

static atomic_uint_least64_t rng__seed;
static atomic_uint_least64_t rng__threads;

/* 0 = not seeded yet; a seeded state is never 0 (see rng__seed_thread) */
static __thread uint64_t rng__state LDMESH_TLS_IE;

static uint64_t rng__mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rng__draw_seed(void)
{
	uint64_t s = 0;
	struct timespec ts;

	/* GRND_NONBLOCK: early boot must not stall the host program */
	if (getrandom(&s, sizeof(s), GRND_NONBLOCK) == (ssize_t)sizeof(s))
		return s;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	s = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32);
	s ^= (uint64_t)getpid() << 16;
	s ^= (uint64_t)(uintptr_t)&s; /* stack ASLR */
	return rng__mix(s);
}

void rng_init(void)
{
	atomic_store(&rng__seed, rng__draw_seed());
}

void rng_after_fork(void)
{
	rng_init();
	rng__state = 0;
}

static void rng__seed_thread(void)
{
	uint64_t n = atomic_fetch_add_explicit(&rng__threads, 1,
					       memory_order_relaxed);
	uint64_t s = atomic_load_explicit(&rng__seed, memory_order_relaxed);

	rng__state = rng__mix(s + (n + 1) * RNG_GOLDEN);
	if (!rng__state)
		rng__state = RNG_GOLDEN;
}

uint64_t rng_next(void)
{
	if (__builtin_expect(!rng__state, 0))
		rng__seed_thread();
	rng__state += RNG_GOLDEN;
	return rng__mix(rng__state);
}
