/* SPDX-License-Identifier: MIT */
/*
 * first_client: the process behind tests/bench/bench_first_connect.sh,
 * run with LD_PRELOAD=libldmesh.so inside the script's private network
 * namespace.
 *
 *   first_client TABLE VIP PORT
 *
 * Connects twice to VIP:PORT (a ClusterIP; the redirect's pod address is
 * routed to lo, so the connect is refused at once), prints "ready" and
 * waits for a line on stdin, sleeps 100 ms and connects twice (the idle
 * pair: the floor, no new generation), prints "idle", waits for a line
 * (the script writes a new Service file then), waits until the control page's generation moves (bounded: 30 s), then
 * connects twice more. Prints one line:
 *
 *   fresh_first fresh_second idle_first idle_second switch_first
 *   switch_second (us)
 *   rss_growth_kB (VmRSS after the first connect minus before it), and
 *   of it RssFile (pages of the table's files mapped)
 *   page faults of the fresh pair, the idle first, the switch pair
 *   whether the new generation is a delta or a base
 *
 * Each connect: socket() untimed, then [t0] connect() [t1], close()
 * untimed. Page faults by getrusage(RUSAGE_THREAD) around the connect.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ldmesh/snapshot.h"

struct one {
	double us;
	long minflt;
};

static long minflt_now(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return ru.ru_minflt + ru.ru_majflt;
}

/* A field of /proc/self/status in kB ("VmRSS:", "RssFile:", ...). */
static long status_kb(const char *field)
{
	char line[256];
	long kb = -1;
	size_t len = strlen(field);
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, len))
			kb = strtol(line + len, NULL, 10);
	fclose(f);
	return kb;
}

/* FIRST_SMAPS=1: /proc/self/smaps's Rss per mapping copied to stderr
 * before and after the first connect, to see whose pages it touched. */
static void smaps_dump(const char *tag)
{
	char line[512], name[512] = "";
	FILE *f;

	if (!getenv("FIRST_SMAPS") || !(f = fopen("/proc/self/smaps", "r")))
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strchr(line, '-') && strchr(line, '-') < strchr(line, ' ') &&
		    line[0] != ' ') {
			line[strcspn(line, "\n")] = 0;
			snprintf(name, sizeof(name), "%s", line);
		} else if (!strncmp(line, "Rss:", 4)) {
			fprintf(stderr, "%s %ld %s\n", tag, strtol(line + 4, NULL, 10), name);
		}
	}
	fclose(f);
}

static struct one connect_once(const struct sockaddr_in *sa)
{
	struct timespec t0, t1;
	struct one r;
	long f0;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		perror("socket");
		exit(2);
	}
	f0 = minflt_now();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	(void)connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	r.minflt = minflt_now() - f0;
	close(fd);
	r.us = (double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3;
	return r;
}

int main(int argc, char **argv)
{
	char path[4096], line[16];
	struct sockaddr_in sa = { .sin_family = AF_INET };
	const volatile struct ldmesh_control *c;
	struct one a, b, i, j, x, y;
	long rss0, rss1, file0, file1;
	uint64_t gen;
	int fd;

	if (argc != 4 || inet_pton(AF_INET, argv[2], &sa.sin_addr) != 1) {
		fprintf(stderr, "usage: first_client TABLE VIP PORT\n");
		return 2;
	}
	sa.sin_port = htons((uint16_t)atoi(argv[3]));
	snprintf(path, sizeof(path), "%s/" LDMESH_CONTROL_NAME, argv[1]);
	/* the bench's own view of the generation, mapped before the timed
	 * connects so that it costs them nothing */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	c = fd < 0 ? MAP_FAILED : mmap(NULL, sizeof(*c), PROT_READ, MAP_SHARED, fd, 0);
	if (c == MAP_FAILED) {
		perror(path);
		return 2;
	}
	close(fd);
	gen = c->generation;
	rss0 = status_kb("VmRSS:");
	file0 = status_kb("RssFile:");
	smaps_dump("before");
	a = connect_once(&sa);
	smaps_dump("after");
	rss1 = status_kb("VmRSS:");
	file1 = status_kb("RssFile:");
	b = connect_once(&sa);
	printf("ready\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 2;
	/* the floor under the switch's pair: a pair after as long a sleep,
	 * with no new generation (caches and predictors gone cold) */
	usleep(100000);
	i = connect_once(&sa);
	j = connect_once(&sa);
	printf("idle\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 2;
	for (int k = 0; k < 30000 && c->generation == gen; k++)
		usleep(1000);
	if (c->generation == gen) {
		fprintf(stderr, "first_client: no new generation in 30 s\n");
		return 3;
	}
	smaps_dump("before-switch");
	x = connect_once(&sa);
	smaps_dump("after-switch");
	y = connect_once(&sa);
	gen = c->generation;
	printf("%.1f %.1f %.1f %.1f %.1f %.1f %ld %ld %ld %ld %ld %ld %ld %s\n", a.us, b.us, i.us,
	       j.us, x.us, y.us, rss1 - rss0, file1 - file0, a.minflt, b.minflt, i.minflt,
	       x.minflt, y.minflt,
	       c->records[gen & 1].generation != gen ? "?"
	       : c->records[gen & 1].header.base_generation ? "delta" : "base");
	return 0;
}
