/* SPDX-License-Identifier: MIT */
/* counts.c: what a process tells the agent (ldmesh/report.h). A failure
 * becomes one report (one per backend in COUNTS_REPORT_EVERY_NS), counters
 * leave as increments since the last send, so their sum over datagrams is
 * exact; a socket owned by someone else gets nothing; and counters leave
 * only while the agent serves them (the control page's METRICS flag). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "counts.h"
#include "ldmesh/reader.h"
#include "ldmesh/report.h"
#include "publish.h"
#include "real.h"
#include "testutil.h"

static char *dir;
static int sink = -1;
static struct preload_config cfg;
static char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static struct publisher pub;  /* the table's control page, its flags */
static struct ldmesh_table table;

/* What the agent says in the control page: metrics served or not. */
static void metrics_served(bool on)
{
	pub.control_flags = on ? LDMESH_CONTROL_F_METRICS : 0;
	publish_heartbeat(&pub);
}

/* A process's first connect maps the control page: so here. */
static bool map_control(void)
{
	int slot;

	if (ldmesh_table_acquire(&table, &slot))
		ldmesh_table_release(&table, slot);
	return ldmesh_table_control(&table) != NULL;
}

static int setup(void **state)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	(void)state;
	real_init();
	dir = tu_tmpdir("counts");
	config_defaults(&cfg);
	snprintf(cfg.table_dir, sizeof(cfg.table_dir), "%s/table", dir);
	snprintf(cfg.ns, sizeof(cfg.ns), "shop");
	snprintf(cfg.hostname, sizeof(cfg.hostname), "web-7d9f");
	snprintf(sock_path, sizeof(sock_path), "%s/table%s", dir, LDMESH_REPORT_SOCK_SUFFIX);
	memcpy(sun.sun_path, sock_path, strlen(sock_path) + 1);
	sink = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	if (sink < 0 || bind(sink, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		return -1;
	if (publish_open(&pub, cfg.table_dir, NULL, 0) < 0 ||
	    ldmesh_table_init(&table, cfg.table_dir, &ldmesh_reader_libc, NULL, NULL) < 0)
		return -1;
	metrics_served(true);
	if (!map_control())
		return -1;
	counts_setup(&cfg, &table, NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ldmesh_table_close(&table);
	publish_close(&pub);
	close(sink);
	tu_rmtree(dir);
	free(dir);
	return 0;
}

static struct counts_key key(uint8_t backend_last)
{
	struct counts_key k = { .vip_port = 80, .backend_port = 8080, .protocol = LDMESH_PROTO_TCP };

	k.vip[10] = k.vip[11] = 0xff; /* ::ffff:10.96.0.10 */
	k.vip[12] = 10, k.vip[13] = 96, k.vip[15] = 10;
	k.backend[10] = k.backend[11] = 0xff;
	k.backend[12] = 10, k.backend[13] = 244, k.backend[15] = backend_last;
	return k;
}

/* The next datagram waiting (-1: none), into buf. */
static ssize_t next(void *buf, size_t cap)
{
	return recv(sink, buf, cap, MSG_DONTWAIT);
}

static unsigned char buf[LDMESH_REPORT_MAX];

/* Everything waiting at the socket: failure reports of `k` into *reports
 * (the last in *last), counters of `k` summed into *sum. */
struct drained {
	unsigned reports, datagrams;
	struct ldmesh_report_failure last;
	struct ldmesh_report_count sum;
};

static void add_count(struct ldmesh_report_count *s, const struct ldmesh_report_count *e)
{
	s->opened += e->opened;
	s->closed += e->closed;
	s->failovers += e->failovers;
	s->ejections += e->ejections;
	for (unsigned i = 0; i < LDMESH_FAIL_REASONS; i++)
		s->failed[i] += e->failed[i];
	for (unsigned i = 0; i < LDMESH_LATENCY_BUCKETS; i++)
		s->latency[i] += e->latency[i];
	s->latency_us_sum += e->latency_us_sum;
	s->bytes_sent += e->bytes_sent;
	s->bytes_received += e->bytes_received;
	s->rtt_us_sum += e->rtt_us_sum;
	s->rtt_count += e->rtt_count;
}

static void drain(const struct counts_key *k, struct drained *d)
{
	const struct ldmesh_report_hdr *h = (const void *)buf;
	ssize_t n;

	memset(d, 0, sizeof(*d));
	while ((n = next(buf, sizeof(buf))) >= 0) {
		d->datagrams++;
		assert_true((size_t)n >= sizeof(*h));
		assert_int_equal(h->magic, LDMESH_REPORT_MAGIC);
		assert_int_equal(h->version, LDMESH_REPORT_VERSION);
		if (h->type == LDMESH_REPORT_FAILURES) {
			const struct ldmesh_report_failure *f = (const void *)(h + 1);

			assert_int_equal(h->entry_size, sizeof(*f));
			assert_int_equal(n, sizeof(*h) + h->count * sizeof(*f));
			for (unsigned i = 0; i < h->count; i++)
				if (!memcmp(f[i].addr, k->backend, 16)) {
					d->reports++;
					d->last = f[i];
				}
			continue;
		}
		const struct ldmesh_report_source *src = (const void *)(h + 1);
		const struct ldmesh_report_count *e = (const void *)(src + 1);

		assert_int_equal(h->type, LDMESH_REPORT_COUNTS);
		assert_int_equal(h->entry_size, sizeof(*e));
		assert_int_equal(n, sizeof(*h) + sizeof(*src) + h->count * sizeof(*e));
		assert_string_equal(src->ns, "shop");
		assert_string_equal(src->pod, "web-7d9f");
		for (unsigned i = 0; i < h->count; i++)
			if (!memcmp(e[i].backend, k->backend, 16) && !memcmp(e[i].vip, k->vip, 16) &&
			    e[i].backend_port == k->backend_port && e[i].vip_port == k->vip_port)
				add_count(&d->sum, &e[i]);
	}
}

/* Two failures of one backend at once: one report; the counts go in one
 * or two datagrams (the first flush at once, the next at most a second
 * later, here forced) whose sum is both. */
static void test_failure_reported_once_counted_twice(void **state)
{
	struct counts_key k = key(5);
	struct drained d;

	(void)state;
	counts_failure(&k, ECONNREFUSED);
	counts_failure(&k, ECONNREFUSED);
	counts_flush(true);
	drain(&k, &d);
	assert_int_equal(d.reports, 1);
	assert_int_equal(d.last.reason, LDMESH_FAIL_REFUSED);
	assert_memory_equal(d.last.vip, k.vip, 16);
	assert_int_equal(d.last.port, 8080);
	assert_int_equal(d.last.vip_port, 80);
	assert_int_equal(d.last.protocol, LDMESH_PROTO_TCP);
	assert_int_equal(d.sum.failed[LDMESH_FAIL_REFUSED], 2);
	/* nothing new: nothing sent */
	counts_flush(true);
	drain(&k, &d);
	assert_int_equal(d.datagrams, 0);
}

static void test_counters_by_field(void **state)
{
	struct counts_key k = key(6);
	struct drained d;

	(void)state;
	counts_opened(&k, 3000000);       /* 3 ms: the (2.5 ms, 5 ms] bucket */
	counts_opened(&k, 40000);         /* 40 us: the first */
	counts_opened(&k, 9000000000ULL); /* 9 s: the last, +Inf */
	counts_closed(&k, true, UINT64_MAX, 1000, 2000, 150); /* opened, unmeasured */
	counts_closed(&k, false, 0, 1, 2, UINT32_MAX);
	counts_failover(&k);
	counts_ejected(&k);
	counts_failure(&k, ETIMEDOUT);
	counts_failure(&k, EINVAL);
	counts_failure(&k, EPERM);
	counts_flush(true);
	drain(&k, &d);
	assert_int_equal(d.sum.opened, 4);
	assert_int_equal(d.sum.closed, 2);
	assert_int_equal(d.sum.latency[0], 1);
	assert_int_equal(d.sum.latency[6], 1);
	assert_int_equal(d.sum.latency[LDMESH_LATENCY_BUCKETS - 1], 1);
	assert_int_equal(d.sum.latency_us_sum, 3000 + 40 + 9000000);
	assert_int_equal(d.sum.bytes_sent, 1001);
	assert_int_equal(d.sum.bytes_received, 2002);
	assert_int_equal(d.sum.rtt_us_sum, 150);
	assert_int_equal(d.sum.rtt_count, 1);
	assert_int_equal(d.sum.failovers, 1);
	assert_int_equal(d.sum.ejections, 1);
	assert_int_equal(d.sum.failed[LDMESH_FAIL_TIMEOUT], 1);
	assert_int_equal(d.sum.failed[LDMESH_FAIL_UNREACHABLE], 1);
	assert_int_equal(d.sum.failed[0], 1);
	/* a report per backend, the first reason (then 100 ms of quiet) */
	assert_int_equal(d.reports, 1);
	assert_int_equal(d.last.reason, LDMESH_FAIL_TIMEOUT);
}

/* A socket that is not root's nor ours: nothing is sent to it, and the
 * counts wait for one that is. */
static void test_untrusted_socket_gets_nothing(void **state)
{
	struct counts_key k = key(7);
	struct drained d;

	(void)state;
	if (geteuid() != 0)
		skip();
	assert_int_equal(chown(sock_path, 65534, 65534), 0);
	counts_failure(&k, ECONNREFUSED);
	counts_flush(true);
	assert_int_equal(chown(sock_path, 0, 0), 0);
	drain(&k, &d);
	assert_int_equal(d.datagrams, 0);
	counts_flush(true);
	drain(&k, &d);
	assert_int_equal(d.sum.failed[LDMESH_FAIL_REFUSED], 1);
}

/* An agent without --metrics: the failure is reported all the same, the
 * counters wait (nothing reads them) and leave once it serves them. */
static void test_counters_wait_without_metrics(void **state)
{
	struct counts_key k = key(8);
	struct drained d;

	(void)state;
	metrics_served(false);
	counts_failure(&k, ECONNREFUSED);
	counts_opened(&k, 40000);
	counts_flush(true);
	drain(&k, &d);
	assert_int_equal(d.reports, 1);
	assert_int_equal(d.sum.opened, 0);
	assert_int_equal(d.sum.failed[LDMESH_FAIL_REFUSED], 0);
	metrics_served(true);
	counts_flush(true);
	drain(&k, &d);
	assert_int_equal(d.sum.opened, 1);
	assert_int_equal(d.sum.failed[LDMESH_FAIL_REFUSED], 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_failure_reported_once_counted_twice),
		cmocka_unit_test(test_counters_by_field),
		cmocka_unit_test(test_untrusted_socket_gets_nothing),
		cmocka_unit_test(test_counters_wait_without_metrics),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
