/* SPDX-License-Identifier: MIT */
/*
 * sync_client: the running process of tests/bench/bench_sync.sh's watch
 * latency figure. Run under LD_PRELOAD=libldmesh.so; it resolves names
 * with getaddrinfo, as an application would, one after the other:
 *
 *     sync_client PREFIX FIRST COUNT OUT
 *
 * For k = FIRST .. FIRST+COUNT-1 it polls getaddrinfo("PREFIXk") (k as
 * %06d) every 100 us until the name resolves, then appends
 * "<k> <CLOCK_REALTIME ns> <tries>" to OUT (flushed: the script waits on
 * it) and goes on with the next name. Bounded: gives up (exit 1) after 20 s
 * on one name. Before the first poll of a name it writes "<k> polling" so
 * the script knows the client is there before it sends the event.
 */
#define _GNU_SOURCE
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

static uint64_t now_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int resolves(const char *name)
{
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;
	int ret = getaddrinfo(name, "80", &hints, &res);

	if (res)
		freeaddrinfo(res);
	return ret == 0;
}

int main(int argc, char **argv)
{
	const struct timespec pause = { .tv_nsec = 100 * 1000 };
	char name[256];
	FILE *out;
	long first, count;

	if (argc != 5) {
		fprintf(stderr, "usage: sync_client PREFIX FIRST COUNT OUT\n");
		return 2;
	}
	first = atol(argv[2]);
	count = atol(argv[3]);
	out = fopen(argv[4], "a");
	if (!out) {
		perror(argv[4]);
		return 1;
	}
	for (long k = first; k < first + count; k++) {
		uint64_t deadline = now_ns(CLOCK_MONOTONIC) + 20ull * 1000000000ull;
		unsigned long tries = 0;

		snprintf(name, sizeof(name), "%s%06ld", argv[1], k);
		fprintf(out, "%ld polling\n", k);
		fflush(out);
		for (;;) {
			tries++;
			if (resolves(name))
				break;
			if (now_ns(CLOCK_MONOTONIC) > deadline) {
				fprintf(stderr, "sync_client: %s did not resolve in 20 s\n", name);
				return 1;
			}
			nanosleep(&pause, NULL);
		}
		fprintf(out, "%ld %llu %lu\n", k, (unsigned long long)now_ns(CLOCK_REALTIME), tries);
		fflush(out);
	}
	return 0;
}
