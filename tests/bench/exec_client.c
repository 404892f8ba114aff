/* SPDX-License-Identifier: MIT */
/*
 * exec_client IP PORT N: N connects (socket; SO_LINGER {1,0} so close sends
 * a RST and leaves no TIME_WAIT; [t0] connect; close [t1]), after 200 untimed
 * ones; prints the median and mean of the timed part in microseconds. The
 * one binary of tests/bench/bench_exec.sh, run with and without ldmesh-exec.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WARMUP 200
#define MAX_N 20000

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static double t[MAX_N];
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct linger lg = { 1, 0 };
	double sum = 0;
	int n;

	if (argc != 4 || inet_pton(AF_INET, argv[1], &sin.sin_addr) != 1 ||
	    (n = atoi(argv[3])) < 1 || n > MAX_N) {
		fprintf(stderr, "usage: exec_client IP PORT N (N <= %d)\n", MAX_N);
		return 2;
	}
	sin.sin_port = htons((uint16_t)atoi(argv[2]));
	for (int i = -WARMUP; i < n; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		double t0, t1;

		if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) < 0) {
			perror("exec_client: socket");
			return 1;
		}
		t0 = now_us();
		if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
			fprintf(stderr, "exec_client: connect %s:%s: %s\n", argv[1], argv[2], strerror(errno));
			return 1;
		}
		close(fd);
		t1 = now_us();
		if (i >= 0) {
			t[i] = t1 - t0;
			sum += t[i];
		}
	}
	qsort(t, (size_t)n, sizeof(t[0]), cmp);
	printf("%.2f %.2f\n", t[n / 2], sum / n);
	return 0;
}
