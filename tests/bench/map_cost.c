/* SPDX-License-Identifier: MIT */
/*
 * map_cost: what taking a small snapshot file costs, alone (issue 26 row 1;
 * tests/bench/results/first_connect.md). Run by hand on a file on tmpfs:
 *
 *     cc -O2 -o /tmp/map_cost tests/bench/map_cost.c
 *     head -c 5136 /dev/urandom >/dev/shm/f && /tmp/map_cost /dev/shm/f [SLEEP_US]
 *
 * Three ways, alternated, each timed from open to the first and last byte
 * read: open+fstat+mmap+close then a fault; the same with MAP_POPULATE;
 * open+fstat+pread+close into a buffer. With SLEEP_US (e.g. 50000) each
 * try follows a sleep, as a connect after an idle while does (cold
 * caches); without, a hot loop. Medians and p10/p90 in us.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define WAYS 3
#define TRIES_MAX 1000

static char buf[1 << 20];

static double now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* One try of way `w` on `path`, in us. */
static double one(const char *path, int w)
{
	const volatile char *p;
	struct stat st;
	double t0 = now_us(), t;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);

	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size <= 0 || (size_t)st.st_size > sizeof(buf)) {
		perror(path);
		exit(2);
	}
	if (w == 2) {
		if (pread(fd, buf, (size_t)st.st_size, 0) != st.st_size)
			exit(2);
		close(fd);
		p = buf;
	} else {
		p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED | (w ? MAP_POPULATE : 0),
			 fd, 0);
		close(fd);
		if (p == MAP_FAILED)
			exit(2);
	}
	(void)p[0];
	(void)p[st.st_size - 1];
	t = now_us() - t0;
	if (w != 2)
		munmap((void *)p, (size_t)st.st_size);
	return t;
}

int main(int argc, char **argv)
{
	static double t[WAYS][TRIES_MAX];
	static const char *name[WAYS] = { "mmap, fault", "mmap MAP_POPULATE", "pread" };
	long sleep_us = argc > 2 ? atol(argv[2]) : 0;
	int tries = sleep_us ? 40 : TRIES_MAX;

	if (argc < 2) {
		fprintf(stderr, "usage: map_cost FILE [SLEEP_US]\n");
		return 2;
	}
	for (int r = 0; r < tries * WAYS; r++) {
		if (sleep_us)
			usleep((useconds_t)sleep_us);
		t[r % WAYS][r / WAYS] = one(argv[1], r % WAYS);
	}
	for (int w = 0; w < WAYS; w++) {
		qsort(t[w], (size_t)tries, sizeof(double), cmp);
		printf("%-18s median %6.1f us  p10 %6.1f  p90 %6.1f\n", name[w], t[w][tries / 2],
		       t[w][tries / 10], t[w][tries * 9 / 10]);
	}
	return 0;
}
