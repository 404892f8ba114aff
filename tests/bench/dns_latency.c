/* SPDX-License-Identifier: MIT */
/*
 * Latency of a DNS server at a fixed query rate (dnsperf 2.10 reports no
 * percentiles): sends the names of a dnsperf data file ("NAME TYPE" lines,
 * A only here) round-robin at RATE queries a second for SECONDS from one
 * UDP socket, matches answers by ID, and prints the answered count and the
 * p50, p99, p99.9 and max latency in microseconds. A query unanswered for
 * a second counts as lost.
 *   dns_latency ADDR PORT DATAFILE RATE SECONDS
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static size_t build(uint8_t *m, uint16_t id, const char *name)
{
	size_t n = 12;
	const char *p = name;

	memset(m, 0, 12);
	m[0] = (uint8_t)(id >> 8);
	m[1] = (uint8_t)id;
	m[2] = 1;
	m[5] = 1;
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);

		m[n++] = (uint8_t)l;
		memcpy(m + n, p, l);
		n += l;
		p += l + (dot ? 1 : 0);
	}
	m[n++] = 0;
	m[n++] = 0, m[n++] = 1, m[n++] = 0, m[n++] = 1;
	return n;
}

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static uint64_t sent_at[65536];
	char line[512], **names = NULL;
	size_t n_names = 0, cap = 0, n_lat = 0;
	uint64_t *lat, rate, secs, total, t0, sent = 0;
	struct sockaddr_in a = { .sin_family = AF_INET };
	FILE *f;
	int fd;

	if (argc != 6) {
		fprintf(stderr, "usage: dns_latency ADDR PORT DATAFILE RATE SECONDS\n");
		return 2;
	}
	inet_pton(AF_INET, argv[1], &a.sin_addr);
	a.sin_port = htons((uint16_t)atoi(argv[2]));
	rate = strtoull(argv[4], NULL, 10);
	secs = strtoull(argv[5], NULL, 10);
	total = rate * secs;
	if (!(f = fopen(argv[3], "r")))
		return perror(argv[3]), 1;
	while (fgets(line, sizeof(line), f)) {
		if (n_names == cap && !(names = realloc(names, (cap = cap * 2 + 1024) * sizeof(*names))))
			return 1;
		line[strcspn(line, " \n")] = 0;
		names[n_names++] = strdup(line);
	}
	fclose(f);
	lat = calloc(total, sizeof(*lat));
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	if (!n_names || !lat || fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)))
		return perror("setup"), 1;
	t0 = now_ns();
	for (;;) {
		uint64_t t = now_ns(), due = (t - t0) * rate / 1000000000ULL;
		uint8_t m[600];
		ssize_t r;

		while (sent < due && sent < total) {
			uint16_t id = (uint16_t)sent;

			sent_at[id] = now_ns();
			send(fd, m, build(m, id, names[sent % n_names]), 0);
			sent++;
		}
		while ((r = recv(fd, m, sizeof(m), 0)) >= 12) {
			uint16_t id = (uint16_t)(m[0] << 8 | m[1]);

			if (sent_at[id] && n_lat < total) {
				lat[n_lat++] = now_ns() - sent_at[id];
				sent_at[id] = 0;
			}
		}
		if (sent >= total && (n_lat >= total || t - t0 > (secs + 1) * 1000000000ULL))
			break;
		/* a short sleep: the rate is kept by `due`, not by the sleep */
		struct timespec ts = { 0, 20000 };
		nanosleep(&ts, NULL);
	}
	qsort(lat, n_lat, sizeof(*lat), cmp);
	if (!n_lat)
		return printf("answered 0 of %llu\n", (unsigned long long)total), 1;
	printf("answered %zu of %llu at %llu qps: p50 %llu us, p99 %llu us, p99.9 %llu us, "
	       "max %llu us\n", n_lat, (unsigned long long)total, (unsigned long long)rate,
	       (unsigned long long)(lat[n_lat / 2] / 1000),
	       (unsigned long long)(lat[n_lat * 99 / 100] / 1000),
	       (unsigned long long)(lat[n_lat * 999 / 1000] / 1000),
	       (unsigned long long)(lat[n_lat - 1] / 1000));
	return 0;
}
