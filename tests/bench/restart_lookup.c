/*
 * restart_lookup: what a long-lived process pays at its first lookup after
 * an agent restart publishes (issue 26; tests/bench/bench_restart.sh runs
 * it). build/tests/bench_restart_lookup TABLE_DIR IPV4 PORT: maps the
 * table, looks the VIP up once (warm), prints "ready", waits (bounded,
 * 60 s) for the generation to change, then times the first
 * acquire+lookup+release and the second, and prints
 * "<first ns> <second ns> <generation> <base generation or 0>".
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ldmesh/reader.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static struct ldmesh_table table;

/* One connect's table work: pin, find the VIP, let go. */
static int lookup(const uint8_t addr[16], uint16_t port, uint64_t *gen, uint64_t *base)
{
	struct ldmesh_vip_slot out;
	const struct ldmesh_snap *s;
	int slot, found;

	if (!(s = ldmesh_table_acquire(&table, &slot)))
		return -1;
	found = ldmesh_table_find_connect_vip(&table, s, addr, port, &out) != 0;
	*gen = s->generation;
	*base = s->base_generation;
	ldmesh_table_release(&table, slot);
	return found;
}

int main(int argc, char **argv)
{
	uint8_t addr[16] = { [10] = 0xff, [11] = 0xff };
	uint64_t gen0, gen, base, t0, t1, t2, deadline;
	uint16_t port;

	if (argc != 4 || inet_pton(AF_INET, argv[2], addr + 12) != 1) {
		fprintf(stderr, "usage: %s TABLE_DIR IPV4 PORT\n", argv[0]);
		return 2;
	}
	port = (uint16_t)atoi(argv[3]);
	if (ldmesh_table_init(&table, argv[1], &ldmesh_reader_libc, NULL, NULL) ||
	    lookup(addr, port, &gen0, &base) != 1) {
		fprintf(stderr, "%s: no table, or %s:%u not in it\n", argv[1], argv[2], port);
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	deadline = now_ns() + 60000000000ULL;
	while (__atomic_load_n(&ldmesh_table_control(&table)->generation, __ATOMIC_ACQUIRE) == gen0) {
		if (now_ns() > deadline)
			return 1;
		usleep(1000);
	}
	t0 = now_ns();
	if (lookup(addr, port, &gen, &base) != 1)
		return 1;
	t1 = now_ns();
	lookup(addr, port, &gen, &base);
	t2 = now_ns();
	printf("%llu %llu %llu %llu\n", (unsigned long long)(t1 - t0), (unsigned long long)(t2 - t1),
	       (unsigned long long)gen, (unsigned long long)base);
	return 0;
}
