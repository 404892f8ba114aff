/* SPDX-License-Identifier: MIT */
/*
 * The agent's probes (agent/health/health.c), on 127.0.0.1: a backend is
 * ejected only when the agent's own connect fails; one that answers is
 * never ejected however often it is reported, and a flood of reports
 * about it costs one probe per interval; an ejected backend is re-checked,
 * backs off while it fails, and is re-admitted when it answers; one gone
 * from the table is forgotten.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "health.h"
#include "testutil.h"

#define MS 1000000ULL
#define INTERVAL_MS 200

struct events {
	unsigned ejected, readmitted;
	char why[200];
};

static void on_change(void *ctx, const struct health_backend *b, bool ejected, const char *why)
{
	struct events *e = ctx;

	(void)b;
	if (ejected)
		e->ejected++;
	else
		e->readmitted++;
	snprintf(e->why, sizeof(e->why), "%s", why);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* A listening socket on 127.0.0.1 and its port; *fd to close it. */
static uint16_t listener(int *fd)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);

	*fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(*fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(*fd, 64), 0);
	assert_int_equal(getsockname(*fd, (struct sockaddr *)&sa, &len), 0);
	return ntohs(sa.sin_port);
}

/* A port on 127.0.0.1 nothing listens on (bound, never listening, so no
 * one else takes it meanwhile); *fd holds it. */
static uint16_t refusing(int *fd)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);

	*fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(*fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(*fd, (struct sockaddr *)&sa, &len), 0);
	return ntohs(sa.sin_port);
}

static struct health_backend loopback(uint16_t port)
{
	struct health_backend b = { .port = port };

	b.addr[10] = b.addr[11] = 0xff;
	b.addr[12] = 127;
	b.addr[15] = 1;
	return b;
}

struct run {
	struct health *h;
	struct events *ev;
	unsigned want_ejected, want_readmitted;
	uint64_t skew_ns; /* added to the clock: re-checks come due at once */
	uint64_t probes;  /* probes started before */
};

/* Step the probes until the events counted reach what is wanted. */
static bool reached(void *ctx)
{
	struct run *r = ctx;
	struct pollfd fds[HEALTH_PROBES];
	size_t n = health_pollfds(r->h, fds, HEALTH_PROBES);

	if (n)
		(void)poll(fds, n, 50);
	health_step(r->h, fds, n, now_ns() + r->skew_ns);
	return r->ev->ejected >= r->want_ejected && r->ev->readmitted >= r->want_readmitted;
}

/* A re-check started and finished. */
static bool rechecked(void *ctx)
{
	struct run *r = ctx;

	(void)reached(ctx);
	return health_stats(r->h)->probes > r->probes &&
	       !health_pollfds(r->h, (struct pollfd[HEALTH_PROBES]){ 0 }, HEALTH_PROBES);
}

static struct health *new_health(struct events *ev)
{
	struct health_opts o = { .interval_ms = INTERVAL_MS, .changed = on_change, .ctx = ev };
	struct health *h;

	assert_int_equal(health_new(&o, &h), 0);
	return h;
}

static void test_a_refusing_backend_is_ejected_and_readmitted(void **state)
{
	struct events ev = { 0 };
	struct health *h = new_health(&ev);
	int hold, lfd;
	uint16_t port = refusing(&hold);
	struct health_backend b = loopback(port), out[4];
	struct run r = { h, &ev, 1, 0, 0, 0 };

	(void)state;
	assert_int_equal(health_suspect(h, &b, now_ns()), 0);
	assert_true(tu_wait(reached, &r));
	assert_int_equal(ev.ejected, 1);
	assert_non_null(strstr(ev.why, "refused"));
	assert_int_equal(health_ejected(h, out, 4), 1);
	/* reported again while ejected: nothing new */
	assert_int_equal(health_suspect(h, &b, now_ns()), 1);
	/* a failed re-check doubles the wait */
	uint64_t first = health_next_check(h, &b);
	r.skew_ns = 10 * INTERVAL_MS * MS;
	r.probes = health_stats(h)->probes;
	assert_true(tu_wait(rechecked, &r));
	assert_true(health_next_check(h, &b) - first >= 2 * INTERVAL_MS * MS);
	/* it answers again: re-admitted at the next re-check */
	close(hold);
	int one = 1;
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 8), 0);
	r.want_readmitted = 1;
	r.skew_ns = 100 * INTERVAL_MS * MS;
	assert_true(tu_wait(reached, &r));
	assert_int_equal(health_ejected(h, out, 4), 0);
	assert_non_null(strstr(ev.why, "connected"));
	close(lfd);
	health_free(h);
}

static void test_a_healthy_backend_is_never_ejected(void **state)
{
	struct events ev = { 0 };
	struct health *h = new_health(&ev);
	int lfd;
	struct health_backend b = loopback(listener(&lfd)), out[4];
	struct run r = { h, &ev, 0, 0, 0, 0 };
	uint64_t t = now_ns();

	(void)state;
	/* a flood of lies: one probe, then skipped while it runs and for an
	 * interval after it connected */
	for (int i = 0; i < 10000; i++)
		(void)health_suspect(h, &b, t);
	while (health_pollfds(h, (struct pollfd[HEALTH_PROBES]){ 0 }, HEALTH_PROBES))
		assert_true(tu_wait(reached, &r));
	for (int i = 0; i < 10000; i++)
		assert_int_equal(health_suspect(h, &b, now_ns()), 1);
	assert_int_equal(health_stats(h)->probes, 1);
	assert_int_equal(ev.ejected, 0);
	assert_int_equal(health_ejected(h, out, 4), 0);
	close(lfd);
	health_free(h);
}

static void test_probes_in_flight_are_bounded(void **state)
{
	struct events ev = { 0 };
	struct health *h = new_health(&ev);
	struct pollfd fds[HEALTH_PROBES + 8];
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY) };
	socklen_t len = sizeof(sa);
	int lfd = socket(AF_INET, SOCK_STREAM, 0), busy = 0;

	(void)state;
	/* a listener that never accepts, with the smallest backlog: once it
	 * is full, connects to it stay in progress (127.0.0.x, each address
	 * another backend) */
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 0), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &len), 0);
	for (unsigned i = 0; i < HEALTH_PROBES + 100; i++) {
		struct health_backend b = loopback(ntohs(sa.sin_port));
		b.addr[14] = (uint8_t)(i / 250);
		b.addr[15] = (uint8_t)(1 + i % 250);
		busy += health_suspect(h, &b, now_ns()) == -EBUSY;
	}
	assert_true(busy > 0);
	assert_int_equal(health_pollfds(h, fds, HEALTH_PROBES + 8), HEALTH_PROBES);
	assert_int_equal(health_stats(h)->dropped, (uint64_t)busy);
	close(lfd);
	health_free(h);
}

static void test_ipv6_backends_are_probed(void **state)
{
	struct events ev = { 0 };
	struct health *h = new_health(&ev);
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	socklen_t len = sizeof(sa);
	struct health_backend b = { .port = 0 };
	struct run r = { h, &ev, 1, 0, 0, 0 };
	char want[64];
	int hold = socket(AF_INET6, SOCK_STREAM, 0);

	(void)state;
	/* ::1 on a port bound and never listened on: refused */
	if (hold < 0 || bind(hold, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (hold >= 0)
			close(hold);
		health_free(h);
		skip(); /* no IPv6 loopback here */
	}
	assert_int_equal(getsockname(hold, (struct sockaddr *)&sa, &len), 0);
	memcpy(b.addr, &sa.sin6_addr, 16);
	b.port = ntohs(sa.sin6_port);
	assert_int_equal(health_suspect(h, &b, now_ns()), 0);
	assert_true(tu_wait(reached, &r));
	snprintf(want, sizeof(want), "[::1]:%u: the agent's probe failed", b.port);
	assert_non_null(strstr(ev.why, want));
	close(hold);
	health_free(h);
}

static bool keep_none(void *ctx, const struct health_backend *b)
{
	(void)ctx, (void)b;
	return false;
}

static void test_a_backend_gone_is_forgotten(void **state)
{
	struct events ev = { 0 };
	struct health *h = new_health(&ev);
	int hold;
	struct health_backend b = loopback(refusing(&hold)), out[4];
	struct run r = { h, &ev, 1, 0, 0, 0 };

	(void)state;
	assert_int_equal(health_suspect(h, &b, now_ns()), 0);
	assert_true(tu_wait(reached, &r));
	assert_int_equal(health_forget(h, keep_none, NULL), 1);
	assert_int_equal(health_ejected(h, out, 4), 0);
	assert_int_equal(health_timeout_ms(h, now_ns()), -1);
	close(hold);
	health_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_refusing_backend_is_ejected_and_readmitted),
		cmocka_unit_test(test_a_healthy_backend_is_never_ejected),
		cmocka_unit_test(test_probes_in_flight_are_bounded),
		cmocka_unit_test(test_a_backend_gone_is_forgotten),
		cmocka_unit_test(test_ipv6_backends_are_probed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
