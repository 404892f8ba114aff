/* SPDX-License-Identifier: MIT */
/*
 * preload_client: the one binary behind tests/bench/bench_preload.sh.
 *
 *   preload_client server PORT READYFILE
 *       accept-and-close loop on 0.0.0.0:PORT (bounded: exits after 15 min)
 *   preload_client bench LIB ROUNDS BATCH VIP POD LO PORT VPORT NAME
 *       the driver: spawns two workers from this same binary, one plain and
 *       one with LD_PRELOAD=LIB, and runs every series in interleaved
 *       batches (round r runs the series forward when r is even, backward
 *       when odd, so neither side always goes first); prints markdown rows
 *   preload_client worker
 *       (internal) reads commands on stdin, writes samples on stdout
 *   preload_client cg OP ... N
 *       one callgrind measurement (run under valgrind --tool=callgrind
 *       --collect-atstart=no): 50 untimed warm-up calls, then N calls, each
 *       with collection toggled on around the call only.
 *         cg nop N                      the toggles themselves (baseline)
 *         cg connect IP PORT N          connect() only (socket/close outside)
 *         cg close IP PORT N            close() of a connected socket only
 *         cg gai NAME SERVICE N         getaddrinfo()+freeaddrinfo()
 *
 * Every connect: socket(); setsockopt(SO_LINGER {1,0}) so close() sends a
 * RST and leaves no TIME_WAIT; then [t0] connect(); close(); [t1]. Only the
 * bracketed part is timed (CLOCK_MONOTONIC, vDSO), the same in every mode.
 * Network: only the addresses given on the command line are dialled; the
 * script runs everything inside a private network namespace.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_CALLGRIND
#include <valgrind/callgrind.h>
#else
#define CALLGRIND_TOGGLE_COLLECT do { } while (0)
#endif

#define MAX_BATCH 10000
#define WARMUP 500

static void die(const char *what)
{
	fprintf(stderr, "preload_client: %s: %s\n", what, strerror(errno));
	exit(2);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int parse_in(const char *ip, const char *port, struct sockaddr_in *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)atoi(port));
	return inet_pton(AF_INET, ip, &sa->sin_addr) == 1 ? 0 : -1;
}

/* ---------------------------------------------------------------- server */

static int server_main(int argc, char **argv)
{
	struct sockaddr_in sa;
	int one = 1, lfd, fd;
	FILE *f;

	if (argc != 4)
		return 2;
	alarm(900); /* bounded even if the script's trap never runs */
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		die("socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	parse_in("0.0.0.0", argv[2], &sa);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("bind");
	if (listen(lfd, 4096) < 0)
		die("listen");
	f = fopen(argv[3], "w");
	if (!f)
		die(argv[3]);
	fclose(f);
	for (;;) {
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0)
			close(fd);
		else if (errno != EINTR && errno != ECONNABORTED)
			die("accept");
	}
}

/* ---------------------------------------------------------------- worker */

enum { OP_CONNECT = 1, OP_GAI, OP_CHECK_CONNECT, OP_CHECK_GAI, OP_QUIT };

struct cmd {
	int op;
	int count;
	int record;
	struct sockaddr_in sa;
	char name[128];
	char service[16];
};

static int one_connect(const struct sockaddr_in *sa, uint32_t *ns)
{
	static const struct linger lg = { 1, 0 };
	uint64_t t0, t1;
	int fd, rc, err;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	t0 = now_ns();
	rc = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	err = errno;
	close(fd);
	t1 = now_ns();
	if (ns)
		*ns = (uint32_t)(t1 - t0 > UINT32_MAX ? UINT32_MAX : t1 - t0);
	return rc < 0 ? err : 0;
}

static const struct addrinfo gai_hints = {
	.ai_family = AF_UNSPEC,
	.ai_socktype = SOCK_STREAM,
};

static int one_gai(const char *name, const char *service, uint32_t *ns,
		   struct in_addr *first)
{
	struct addrinfo *res = NULL;
	uint64_t t0, t1;
	int rc;

	t0 = now_ns();
	rc = getaddrinfo(name, service, &gai_hints, &res);
	if (!rc && first) {
		for (struct addrinfo *a = res; a; a = a->ai_next)
			if (a->ai_family == AF_INET) {
				*first = ((struct sockaddr_in *)a->ai_addr)->sin_addr;
				break;
			}
	}
	if (!rc)
		freeaddrinfo(res);
	t1 = now_ns();
	if (ns)
		*ns = (uint32_t)(t1 - t0 > UINT32_MAX ? UINT32_MAX : t1 - t0);
	return rc;
}

static void full_write(int fd, const void *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			die("write");
		p = (const char *)p + w;
		n -= (size_t)w;
	}
}

static int full_read(int fd, void *p, size_t n)
{
	while (n) {
		ssize_t r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p = (char *)p + r;
		n -= (size_t)r;
	}
	return 0;
}

static int worker_main(void)
{
	static uint32_t samples[MAX_BATCH];
	struct cmd c;

	alarm(900);
	while (full_read(0, &c, sizeof(c)) == 0) {
		int32_t status = 0;

		if (c.op == OP_QUIT)
			break;
		if (c.count < 0 || c.count > MAX_BATCH)
			c.count = 0;
		switch (c.op) {
		case OP_CONNECT:
			for (int i = 0; i < c.count && !status; i++)
				status = one_connect(&c.sa, &samples[i]);
			break;
		case OP_GAI:
			for (int i = 0; i < c.count && !status; i++)
				status = one_gai(c.name, c.service, &samples[i], NULL);
			break;
		case OP_CHECK_CONNECT:
			status = one_connect(&c.sa, NULL);
			c.count = 0;
			break;
		case OP_CHECK_GAI: {
			struct in_addr a = { 0 };
			status = one_gai(c.name, c.service, NULL, &a);
			/* on success report the first IPv4 address */
			if (!status)
				status = (int32_t)a.s_addr;
			else
				status = -1000 + status;
			c.count = 0;
			break;
		}
		}
		full_write(1, &status, sizeof(status));
		if (c.op == OP_CONNECT || c.op == OP_GAI)
			full_write(1, samples, sizeof(uint32_t) * (size_t)c.count);
	}
	return 0;
}

/* ---------------------------------------------------------------- driver */

struct worker {
	pid_t pid;
	int to, from;
};

static void spawn(struct worker *w, const char *self, const char *preload)
{
	int in[2], out[2];

	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
		die("pipe");
	w->pid = fork();
	if (w->pid < 0)
		die("fork");
	if (w->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		if (preload)
			setenv("LD_PRELOAD", preload, 1);
		else
			unsetenv("LD_PRELOAD");
		execl(self, self, "worker", (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	w->to = in[1];
	w->from = out[0];
}

static int32_t run(struct worker *w, const struct cmd *c, uint32_t *samples)
{
	int32_t status;

	full_write(w->to, c, sizeof(*c));
	if (full_read(w->from, &status, sizeof(status)) < 0) {
		fprintf(stderr, "preload_client: worker %d died\n", (int)w->pid);
		exit(2);
	}
	if ((c->op == OP_CONNECT || c->op == OP_GAI) &&
	    full_read(w->from, samples, sizeof(uint32_t) * (size_t)c->count) < 0) {
		fprintf(stderr, "preload_client: worker %d died\n", (int)w->pid);
		exit(2);
	}
	return status;
}

struct series {
	const char *label;
	struct worker *w;
	struct cmd c;
	uint32_t *all;     /* rounds * batch samples */
	uint32_t *round_med;
	uint32_t med, p99;
};

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static uint32_t pct(uint32_t *v, size_t n, unsigned p)
{
	qsort(v, n, sizeof(*v), cmp_u32);
	return v[(n * p) / 100 < n ? (n * p) / 100 : n - 1];
}

static void ratio_range(const struct series *base, const struct series *cand,
			int rounds, bool inverse, double *lo, double *hi)
{
	*lo = 1e18;
	*hi = 0;
	for (int r = 0; r < rounds; r++) {
		double q = inverse ? (double)base->round_med[r] / cand->round_med[r]
				   : (double)cand->round_med[r] / base->round_med[r];
		if (q < *lo)
			*lo = q;
		if (q > *hi)
			*hi = q;
	}
}

static void row(const char *num, const char *what, const struct series *s,
		int n, const char *ratio, const char *range, const char *target,
		const char *verdict)
{
	printf("| %s | %s | %s | %d | %u | %u | %s | %s | %s | %s |\n", num, what,
	       s->label, n, s->med, s->p99, ratio, range, target, verdict);
}

static void compare(const char *num, const char *what, const struct series *b,
		    const struct series *c, int rounds, int n, double limit,
		    bool speedup)
{
	double q, lo, hi;
	char ratio[48], range[48], target[32];
	bool met;

	if (speedup) {
		q = (double)b->med / c->med;
		ratio_range(b, c, rounds, true, &lo, &hi);
		snprintf(ratio, sizeof(ratio), "**%.2fx faster**", q);
		snprintf(target, sizeof(target), ">= %.0fx faster", limit);
		met = q >= limit;
	} else {
		q = (double)c->med / b->med;
		ratio_range(b, c, rounds, false, &lo, &hi);
		snprintf(ratio, sizeof(ratio), "**%.3fx**", q);
		snprintf(target, sizeof(target), "<= %.2fx", limit);
		met = q <= limit;
	}
	snprintf(range, sizeof(range), "%.3f .. %.3f", lo, hi);
	row(num, what, b, n, "1 (baseline)", "", "", "");
	row("", "", c, n, ratio, range, target, met ? "**MET**" : "**MISSED**");
}

static void check(struct worker *w, int op, const struct sockaddr_in *sa,
		  const char *name, int32_t want, const char *what)
{
	struct cmd c = { .op = op };
	int32_t got;

	if (sa)
		c.sa = *sa;
	if (name) {
		snprintf(c.name, sizeof(c.name), "%s", name);
		snprintf(c.service, sizeof(c.service), "80");
	}
	got = run(w, &c, NULL);
	if (got != want) {
		fprintf(stderr, "preload_client: sanity check failed: %s "
			"(got %d, want %d)\n", what, got, want);
		exit(3);
	}
}

static int bench_main(int argc, char **argv)
{
	struct worker plain, pre;
	struct sockaddr_in vip, pod, lo;
	const char *lib, *name;
	int rounds, batch, n;
	struct in_addr vaddr;

	if (argc != 11) {
		fprintf(stderr, "usage: preload_client bench LIB ROUNDS BATCH VIP "
			"POD LO PORT VPORT NAME\n");
		return 2;
	}
	lib = argv[2];
	rounds = atoi(argv[3]);
	batch = atoi(argv[4]);
	name = argv[10];
	if (rounds < 2 || rounds > 1000 || batch < 100 || batch > MAX_BATCH) {
		fprintf(stderr, "preload_client: rounds 2..1000, batch 100..%d\n",
			MAX_BATCH);
		return 2;
	}
	if (parse_in(argv[5], argv[9], &vip) || parse_in(argv[6], argv[8], &pod) ||
	    parse_in(argv[7], argv[8], &lo)) {
		fprintf(stderr, "preload_client: bad address\n");
		return 2;
	}
	vaddr = vip.sin_addr;
	spawn(&plain, "/proc/self/exe", NULL);
	spawn(&pre, "/proc/self/exe", lib);

	/* The ClusterIP is unrouted: only the preload reaches it. */
	check(&plain, OP_CHECK_CONNECT, &vip, NULL, ENETUNREACH,
	      "ClusterIP without the preload must fail with ENETUNREACH");
	check(&pre, OP_CHECK_CONNECT, &vip, NULL, 0,
	      "ClusterIP through the preload must connect");
	check(&plain, OP_CHECK_CONNECT, &pod, NULL, 0, "pod IP direct");
	check(&plain, OP_CHECK_CONNECT, &lo, NULL, 0, "127.0.0.1 direct");
	check(&pre, OP_CHECK_GAI, NULL, name, (int32_t)vaddr.s_addr,
	      "getaddrinfo(name) through the preload must answer the ClusterIP");
	check(&plain, OP_CHECK_GAI, NULL, name, (int32_t)vaddr.s_addr,
	      "getaddrinfo(name) from /etc/hosts must answer the ClusterIP");

	struct series s[] = {
		{ .label = "pod IP, no preload", .w = &plain, .c = { .op = OP_CONNECT, .sa = pod } },
		{ .label = "ClusterIP via preload", .w = &pre, .c = { .op = OP_CONNECT, .sa = vip } },
		{ .label = "127.0.0.1, no preload", .w = &plain, .c = { .op = OP_CONNECT, .sa = lo } },
		{ .label = "127.0.0.1, preload loaded", .w = &pre, .c = { .op = OP_CONNECT, .sa = lo } },
		{ .label = "pod IP, preload loaded", .w = &pre, .c = { .op = OP_CONNECT, .sa = pod } },
		{ .label = "/etc/hosts (files), no preload", .w = &plain, .c = { .op = OP_GAI } },
		{ .label = "preload table", .w = &pre, .c = { .op = OP_GAI } },
	};
	const int ns = (int)(sizeof(s) / sizeof(s[0]));

	n = rounds * batch;
	for (int i = 0; i < ns; i++) {
		snprintf(s[i].c.name, sizeof(s[i].c.name), "%s", name);
		snprintf(s[i].c.service, sizeof(s[i].c.service), "%s", argv[9]);
		s[i].all = calloc((size_t)n, sizeof(uint32_t));
		s[i].round_med = calloc((size_t)rounds, sizeof(uint32_t));
		if (!s[i].all || !s[i].round_med)
			die("calloc");
		/* warm-up batch, not recorded: lazy binding, first table map,
		 * caches, the server's accept path */
		static uint32_t warm[WARMUP];
		s[i].c.count = WARMUP;
		if (run(s[i].w, &s[i].c, warm) != 0) {
			fprintf(stderr, "preload_client: warm-up of '%s' failed\n",
				s[i].label);
			return 3;
		}
		s[i].c.count = batch;
	}
	for (int r = 0; r < rounds; r++) {
		for (int k = 0; k < ns; k++) {
			int i = (r & 1) ? ns - 1 - k : k;
			uint32_t *dst = s[i].all + (size_t)r * batch;
			int32_t st = run(s[i].w, &s[i].c, dst);

			if (st != 0) {
				fprintf(stderr, "preload_client: '%s' failed in "
					"round %d: %d\n", s[i].label, r, st);
				return 3;
			}
			/* per-round median, on a copy */
			uint32_t *tmp = malloc(sizeof(uint32_t) * (size_t)batch);
			if (!tmp)
				die("malloc");
			memcpy(tmp, dst, sizeof(uint32_t) * (size_t)batch);
			s[i].round_med[r] = pct(tmp, (size_t)batch, 50);
			free(tmp);
		}
	}
	for (int i = 0; i < ns; i++) {
		s[i].med = pct(s[i].all, (size_t)n, 50);
		s[i].p99 = pct(s[i].all, (size_t)n, 99);
	}
	{
		struct cmd q = { .op = OP_QUIT };
		full_write(plain.to, &q, sizeof(q));
		full_write(pre.to, &q, sizeof(q));
		waitpid(plain.pid, NULL, 0);
		waitpid(pre.pid, NULL, 0);
	}

	printf("| # | measurement (per call) | series | n | median (ns) | p99 (ns) "
	       "| ratio of medians | per-round ratio min .. max | target | result |\n");
	printf("|---|---|---|---|---|---|---|---|---|---|\n");
	compare("1", "connect+close, same server and port", &s[0], &s[1], rounds,
		n, 1.05, false);
	compare("2", "connect+close to a non-service address", &s[2], &s[3],
		rounds, n, 1.02, false);
	row("2b", "(info) pod IP dialled directly, preload loaded", &s[4], n,
	    "", "", "", "");
	compare("3", "getaddrinfo(name)+freeaddrinfo", &s[5], &s[6], rounds, n,
		5, true);
	printf("\nper-round ratio for 2b vs. pod IP without preload: ");
	{
		double lo2, hi2;
		ratio_range(&s[0], &s[4], rounds, false, &lo2, &hi2);
		printf("median ratio %.3fx, per-round %.3f .. %.3f\n",
		       (double)s[4].med / s[0].med, lo2, hi2);
	}
	return 0;
}

/* ---------------------------------------------------------------- callgrind */

static int cg_main(int argc, char **argv)
{
	static const struct linger lg = { 1, 0 };
	const char *op = argv[2];
	struct sockaddr_in sa;
	int n, fd;

	if (!strcmp(op, "nop") && argc == 4) {
		n = atoi(argv[3]);
		for (int i = 0; i < n; i++) {
			CALLGRIND_TOGGLE_COLLECT;
			CALLGRIND_TOGGLE_COLLECT;
		}
		return 0;
	}
	if ((!strcmp(op, "connect") || !strcmp(op, "close")) && argc == 6) {
		bool time_connect = !strcmp(op, "connect");

		if (parse_in(argv[3], argv[4], &sa))
			return 2;
		n = atoi(argv[5]);
		for (int i = 0; i < 50 + n; i++) {
			bool on = i >= 50;
			int rc;

			fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (fd < 0)
				die("socket");
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
			if (on && time_connect)
				CALLGRIND_TOGGLE_COLLECT;
			rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
			if (on && time_connect)
				CALLGRIND_TOGGLE_COLLECT;
			if (rc < 0)
				die("connect");
			if (on && !time_connect)
				CALLGRIND_TOGGLE_COLLECT;
			close(fd);
			if (on && !time_connect)
				CALLGRIND_TOGGLE_COLLECT;
		}
		return 0;
	}
	if (!strcmp(op, "gai") && argc == 6) {
		n = atoi(argv[5]);
		for (int i = 0; i < 50 + n; i++) {
			struct addrinfo *res;
			int rc;

			if (i >= 50)
				CALLGRIND_TOGGLE_COLLECT;
			rc = getaddrinfo(argv[3], argv[4], &gai_hints, &res);
			if (!rc)
				freeaddrinfo(res);
			if (i >= 50)
				CALLGRIND_TOGGLE_COLLECT;
			if (rc) {
				fprintf(stderr, "getaddrinfo: %s\n", gai_strerror(rc));
				return 3;
			}
		}
		return 0;
	}
	fprintf(stderr, "usage: preload_client cg nop N | cg connect|close IP PORT N"
		" | cg gai NAME SERVICE N\n");
	return 2;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc >= 2 && !strcmp(argv[1], "server"))
		return server_main(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "worker"))
		return worker_main();
	if (argc >= 2 && !strcmp(argv[1], "bench"))
		return bench_main(argc, argv);
	if (argc >= 3 && !strcmp(argv[1], "cg"))
		return cg_main(argc, argv);
	fprintf(stderr, "usage: preload_client server|bench|cg ... (see the source)\n");
	return 2;
}
