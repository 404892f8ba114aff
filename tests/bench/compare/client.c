/* SPDX-License-Identifier: MIT */
/*
 * The measuring client for tests/bench/compare/run.sh. Plain libc calls, so
 * the same binary measures every data path: run it under LD_PRELOAD for
 * ldmesh, against a ClusterIP with iptables/nft DNAT, or against the pod IP.
 *
 *   client lat  IP PORT MAXN MAXSEC     connect+close; "p50_us p99_us mean_us n"
 *   client rps  IP PORT SEC             connect, request, response, close;
 *                                       "req_per_s n"
 *   client bulk IP PORT SEC             one connection, write as fast as it
 *                                       can; "gbit_per_s bytes"
 *   client prog IP PORT WANT TIMEOUT_MS rename SRC DST
 *   client prog IP PORT WANT TIMEOUT_MS exec CMD [ARG...]
 *                                       do the change (rename, or run CMD on
 *                                       CPU 0), then connect until the banner
 *                                       port answers WANT; "ms attempts"
 *   client gai  NAME MAXN MAXSEC        getaddrinfo(AF_INET); "p50_us p99_us
 *                                       mean_us n answer"
 *   client gai1 NAME                    exactly one getaddrinfo(AF_INET); the
 *                                       answer (an address or the error)
 *   client foot NAME IP PORT            one lookup and one connect, then
 *                                       "rss_kb pss_kb" from smaps_rollup
 *
 * Every loop is bounded by a count and a time. Errors exit 1 with a message.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what)
{
	fprintf(stderr, "client: %s: %s\n", what, strerror(errno));
	exit(1);
}

static struct sockaddr_in addr_of(const char *ip, const char *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port)) };
	if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) {
		fprintf(stderr, "client: bad IPv4 address %s\n", ip);
		exit(2);
	}
	return a;
}

static int dial(const struct sockaddr_in *a)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	if (connect(fd, (const struct sockaddr *)a, sizeof(*a)) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static int cmp(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return a < b ? -1 : a > b;
}

static void stats(double *s, size_t n, double *p50, double *p99, double *mean)
{
	double sum = 0;
	qsort(s, n, sizeof(*s), cmp);
	for (size_t i = 0; i < n; i++)
		sum += s[i];
	*p50 = s[n / 2];
	*p99 = s[(size_t)((double)n * 0.99)];
	*mean = sum / (double)n;
}

#define WARMUP 200

static int cmd_lat(char **a)
{
	struct sockaddr_in sa = addr_of(a[0], a[1]);
	size_t max = (size_t)atol(a[2]), n = 0;
	double limit = atof(a[3]), *s = malloc(max * sizeof(double)), t0, t, end, p50, p99, mean;

	if (!s || max < 10)
		return 2;
	for (int i = 0; i < WARMUP; i++) {
		int fd = dial(&sa);
		if (fd < 0)
			die("connect (warm-up)");
		close(fd);
	}
	end = now() + limit;
	while (n < max) {
		t0 = now();
		int fd = dial(&sa);
		if (fd < 0)
			die("connect");
		close(fd);
		t = now();
		s[n++] = (t - t0) * 1e6;
		if (t > end)
			break;
	}
	stats(s, n, &p50, &p99, &mean);
	printf("%.2f %.2f %.2f %zu\n", p50, p99, mean, n);
	return 0;
}

static int cmd_rps(char **a)
{
	static const char req[] = "GET / HTTP/1.0\r\nHost: svc\r\n\r\n";
	struct sockaddr_in sa = addr_of(a[0], a[1]);
	double limit = atof(a[2]), t0, end;
	long n = 0;
	char buf[512];

	t0 = now();
	end = t0 + limit;
	while (n < 10000000) {
		int fd = dial(&sa);
		ssize_t r;
		if (fd < 0)
			die("connect");
		if (write(fd, req, sizeof(req) - 1) != (ssize_t)sizeof(req) - 1)
			die("write");
		while ((r = read(fd, buf, sizeof(buf))) > 0)
			;
		if (r < 0)
			die("read");
		close(fd);
		n++;
		if ((n & 63) == 0 && now() > end)
			break;
	}
	printf("%.0f %ld\n", (double)n / (now() - t0), n);
	return 0;
}

static int cmd_bulk(char **a)
{
	static char buf[1 << 17];
	struct sockaddr_in sa = addr_of(a[0], a[1]);
	double limit = atof(a[2]), t0, t = 0;
	unsigned long long bytes = 0;
	int fd = dial(&sa);

	if (fd < 0)
		die("connect");
	memset(buf, 'x', sizeof(buf));
	/* half a second of warm-up, then the measured part */
	t0 = now();
	while (now() - t0 < 0.5)
		if (write(fd, buf, sizeof(buf)) < 0)
			die("write");
	t0 = now();
	for (unsigned long i = 0; i < 100000000UL; i++) {
		ssize_t w = write(fd, buf, sizeof(buf));
		if (w < 0)
			die("write");
		bytes += (unsigned long long)w;
		if ((i & 15) == 0 && (t = now()) - t0 > limit)
			break;
	}
	t = now();
	close(fd);
	printf("%.3f %llu\n", (double)bytes * 8 / (t - t0) / 1e9, bytes);
	return 0;
}

static int cmd_prog(char **a, int argc)
{
	struct sockaddr_in sa = addr_of(a[0], a[1]);
	const char *want = a[2];
	double timeout = atof(a[3]) / 1e3, t0, t;
	long attempts = 0;
	pid_t child = -1;
	char buf[64];

	if (argc < 6)
		return 2;
	/* the change's actor gets the other core, as the agent and kube-proxy
	 * would; it must not inherit the measuring client's preload */
	if (!strcmp(a[4], "rename")) {
		t0 = now();
		if (rename(a[5], a[6]) < 0)
			die("rename");
	} else if (!strcmp(a[4], "exec")) {
		t0 = now();
		child = fork();
		if (child < 0)
			die("fork");
		if (child == 0) {
			cpu_set_t set;
			CPU_ZERO(&set);
			CPU_SET(0, &set);
			sched_setaffinity(0, sizeof(set), &set);
			unsetenv("LD_PRELOAD");
			execvp(a[5], a + 5);
			_exit(127);
		}
	} else {
		return 2;
	}
	for (;;) {
		int fd = dial(&sa);
		ssize_t n = 0, r;
		attempts++;
		if (fd >= 0) {
			while (n < (ssize_t)sizeof(buf) - 1 && (r = read(fd, buf + n, sizeof(buf) - 1 - (size_t)n)) > 0)
				n += r;
			close(fd);
			buf[n > 0 ? n : 0] = 0;
			if (n > 0 && buf[n - 1] == '\n')
				buf[n - 1] = 0;
			if (!strcmp(buf, want))
				break;
		}
		t = now();
		if (t - t0 > timeout) {
			fprintf(stderr, "client: %s never answered within %.0f ms (%ld attempts)\n",
				want, timeout * 1e3, attempts);
			if (child > 0)
				waitpid(child, NULL, 0);
			return 1;
		}
	}
	t = now();
	if (child > 0) {
		int st;
		if (waitpid(child, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
			fprintf(stderr, "client: %s failed\n", a[5]);
			return 1;
		}
	}
	printf("%.3f %ld\n", (t - t0) * 1e3, attempts);
	return 0;
}

static int lookup(const char *name, char *answer, size_t cap)
{
	struct addrinfo h = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *r = NULL;
	int rc = getaddrinfo(name, NULL, &h, &r);

	if (rc == 0) {
		if (answer)
			inet_ntop(AF_INET, &((struct sockaddr_in *)r->ai_addr)->sin_addr, answer, (socklen_t)cap);
		freeaddrinfo(r);
	} else if (answer) {
		snprintf(answer, cap, "%s", gai_strerror(rc));
		for (char *p = answer; *p; p++)
			if (*p == ' ')
				*p = '_';
	}
	return rc;
}

static int cmd_gai(char **a)
{
	size_t max = (size_t)atol(a[1]), n = 0;
	double limit = atof(a[2]), *s = malloc(max * sizeof(double)), t0, t, end, p50, p99, mean;
	char answer[64];

	if (!s || max < 10)
		return 2;
	if (lookup(a[0], answer, sizeof(answer)) != 0) {
		printf("0 0 0 0 %s\n", answer);
		return 1;
	}
	for (int i = 0; i < 20; i++)
		lookup(a[0], NULL, 0);
	end = now() + limit;
	while (n < max) {
		t0 = now();
		if (lookup(a[0], NULL, 0) != 0) {
			fprintf(stderr, "client: getaddrinfo %s failed mid-run\n", a[0]);
			return 1;
		}
		t = now();
		s[n++] = (t - t0) * 1e6;
		if (t > end)
			break;
	}
	stats(s, n, &p50, &p99, &mean);
	printf("%.2f %.2f %.2f %zu %s\n", p50, p99, mean, n, answer);
	return 0;
}

static int cmd_gai1(char **a)
{
	char answer[64];
	int rc = lookup(a[0], answer, sizeof(answer));

	printf("%s\n", answer);
	return rc ? 1 : 0;
}

static int cmd_foot(char **a)
{
	struct sockaddr_in sa = addr_of(a[1], a[2]);
	char line[256], answer[64];
	long rss = -1, pss = -1;
	FILE *f;
	int fd;

	lookup(a[0], answer, sizeof(answer));
	fd = dial(&sa);
	if (fd >= 0)
		close(fd);
	f = fopen("/proc/self/smaps_rollup", "r");
	if (!f)
		die("/proc/self/smaps_rollup");
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "Rss: %ld kB", &rss);
		sscanf(line, "Pss: %ld kB", &pss);
	}
	fclose(f);
	printf("%ld %ld %s\n", rss, pss, answer);
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc >= 6 && !strcmp(argv[1], "lat"))
		return cmd_lat(argv + 2);
	if (argc >= 5 && !strcmp(argv[1], "rps"))
		return cmd_rps(argv + 2);
	if (argc >= 5 && !strcmp(argv[1], "bulk"))
		return cmd_bulk(argv + 2);
	if (argc >= 8 && !strcmp(argv[1], "prog"))
		return cmd_prog(argv + 2, argc - 2);
	if (argc >= 5 && !strcmp(argv[1], "gai"))
		return cmd_gai(argv + 2);
	if (argc >= 3 && !strcmp(argv[1], "gai1"))
		return cmd_gai1(argv + 2);
	if (argc >= 5 && !strcmp(argv[1], "foot"))
		return cmd_foot(argv + 2);
	fprintf(stderr, "usage: see the comment at the top of client.c\n");
	return 2;
}
