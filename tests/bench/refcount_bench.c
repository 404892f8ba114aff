/*
 * refcount_bench: what the snapshot pin costs a connect (issue 26, "paper
 * check for large nodes"). Run by hand through tests/bench/bench_refcount.sh,
 * or: build/tests/bench_refcount TABLE_DIR [ITERS]
 *
 * Three measurements, each with threads pinned to CPUs 0 and 1:
 *  1. model: the acquire/release pattern alone (a load of the generation, a
 *     load of `current`, an RMW, a re-load of `current`, a release RMW),
 *     with the count on ONE line all threads share (the old scheme) and on
 *     a line of the thread's own (a stripe per thread); 1 thread, then 2
 *     threads on two cores, back to back (the worst case: a connect does
 *     nothing else). `ns/pair` is one acquire+release; with 2 threads the
 *     shared line moves between the cores on each RMW, so its cost there
 *     is the cache-line transfer the 64-core model scales.
 *  2. real: ldmesh_table_acquire + ldmesh_table_release on the table in
 *     TABLE_DIR (published by the agent), 1 and 2 threads: the library as
 *     built, before or after the change.
 *  3. floor: socket() + connect() to a refused 127.0.0.1 port + close(),
 *     1 thread and 2 threads: the cheapest connect there is, what 1% is
 *     taken of.
 * Each figure is the median of ROUNDS rounds, with the range.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ldmesh/reader.h"

#define ROUNDS 9
#define MAX_THREADS 2
#define LINE 64

enum mode { M_SHARED, M_STRIPED, M_REAL, M_CONNECT };

/* The model's table: `current` and the generation read-mostly, the count
 * either in one shared line or one line per thread. */
static struct {
	_Alignas(LINE) atomic_uint_least64_t generation;
	atomic_int current;
	_Alignas(LINE) atomic_uint shared;
	_Alignas(LINE) struct {
		atomic_uint refs;
		char pad[LINE - sizeof(atomic_uint)];
	} stripe[MAX_THREADS];
} model;

static struct ldmesh_table table;
static uint16_t refused_port;
static pthread_barrier_t start;

struct job {
	enum mode mode;
	int cpu;
	long iters;
	double ns;
};

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set))
		fprintf(stderr, "warning: cannot pin to CPU %d\n", cpu);
}

/* The old acquire/release on `refs`: seq_cst RMW then a re-check of
 * current (the reclaimer's Dekker pair), release RMW at the end. */
static inline void model_pair(atomic_uint *refs)
{
	uint64_t g = atomic_load_explicit(&model.generation, memory_order_acquire);
	int cur = atomic_load(&model.current);

	atomic_fetch_add(refs, 1);
	if (atomic_load(&model.current) != cur || g == UINT64_MAX)
		abort();
	atomic_fetch_sub_explicit(refs, 1, memory_order_release);
}

static void refused_connect(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(refused_port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 ||
	    errno != ECONNREFUSED)
		abort();
	close(fd);
}

static void *run(void *arg)
{
	struct job *j = arg;
	atomic_uint *mine = &model.stripe[j->cpu].refs;
	double t0;
	int slot;

	pin(j->cpu);
	pthread_barrier_wait(&start);
	t0 = now_ns();
	for (long i = 0; i < j->iters; i++) {
		switch (j->mode) {
		case M_SHARED:
			model_pair(&model.shared);
			break;
		case M_STRIPED:
			model_pair(mine);
			break;
		case M_REAL:
			if (!ldmesh_table_acquire(&table, &slot))
				abort();
			ldmesh_table_release(&table, slot);
			break;
		case M_CONNECT:
			refused_connect();
			break;
		}
	}
	j->ns = (now_ns() - t0) / (double)j->iters;
	return NULL;
}

/* One round: `threads` threads on CPUs 0.. doing `iters` each; the mean
 * ns per operation over the threads. */
static double round_of(enum mode mode, int threads, long iters)
{
	pthread_t tid[MAX_THREADS];
	struct job jobs[MAX_THREADS];
	double sum = 0;

	pthread_barrier_init(&start, NULL, (unsigned)threads);
	for (int k = 0; k < threads; k++) {
		jobs[k] = (struct job){ .mode = mode, .cpu = k, .iters = iters };
		pthread_create(&tid[k], NULL, run, &jobs[k]);
	}
	for (int k = 0; k < threads; k++) {
		pthread_join(tid[k], NULL);
		sum += jobs[k].ns;
	}
	pthread_barrier_destroy(&start);
	return sum / threads;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void row(const char *what, enum mode mode, int threads, long iters)
{
	double r[ROUNDS];

	for (int i = 0; i < ROUNDS; i++)
		r[i] = round_of(mode, threads, iters);
	qsort(r, ROUNDS, sizeof(r[0]), cmp);
	printf("| %s | %d | %.1f | %.1f-%.1f |\n", what, threads, r[ROUNDS / 2], r[0],
	       r[ROUNDS - 1]);
	fflush(stdout);
}

/* A loopback port nobody listens on: bound then closed, so a connect to
 * it is refused at once (the cheap floor of a connect). */
static uint16_t find_refused_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	uint16_t port;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(fd, (struct sockaddr *)&a, &len))
		abort();
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

int main(int argc, char **argv)
{
	long iters = argc > 2 ? atol(argv[2]) : 2000000;
	int slot;

	if (argc < 2) {
		fprintf(stderr, "usage: %s TABLE_DIR [ITERS]\n", argv[0]);
		return 2;
	}
	if (ldmesh_table_init(&table, argv[1], &ldmesh_reader_libc, NULL, NULL) ||
	    !ldmesh_table_acquire(&table, &slot)) {
		fprintf(stderr, "%s: no table\n", argv[1]);
		return 1;
	}
	ldmesh_table_release(&table, slot);
	refused_port = find_refused_port();
	atomic_init(&model.current, 1);
	printf("| what | threads | ns median | range (%d rounds) |\n|---|---|---|---|\n",
	       ROUNDS);
	for (int n = 1; n <= MAX_THREADS; n++) {
		row("model: one shared count", M_SHARED, n, iters);
		row("model: a count per thread", M_STRIPED, n, iters);
		row("real: ldmesh_table_acquire+release", M_REAL, n, iters);
		row("floor: socket+connect(refused 127.0.0.1)+close", M_CONNECT, n,
		    iters / 100);
	}
	return 0;
}
