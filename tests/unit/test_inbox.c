/* SPDX-License-Identifier: MIT */
/* The agent's inbox (agent/health/inbox.c): datagrams whose header or
 * sizes are wrong never reach a handler; each sender gets a bounded rate,
 * all of them together too, and the table of senders stays bounded; the
 * socket beside the table takes datagrams from anyone, with credentials. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "inbox.h"
#include "testutil.h"

#define SEC 1000000000ULL

struct seen {
	unsigned n;
	struct inbox_msg last;
	struct ldmesh_report_failure first;
};

static void on_msg(void *ctx, const struct inbox_msg *m)
{
	struct seen *s = ctx;

	s->n++;
	s->last = *m;
	if (m->type == LDMESH_REPORT_FAILURES && m->count)
		memcpy(&s->first, m->entries, sizeof(s->first));
}

/* A failures datagram of `count` entries of `entry_size` bytes into buf;
 * its length. */
static size_t failures(unsigned char *buf, uint32_t count, uint32_t entry_size)
{
	struct ldmesh_report_hdr h = { .magic = LDMESH_REPORT_MAGIC,
				       .version = LDMESH_REPORT_VERSION,
				       .type = LDMESH_REPORT_FAILURES, .count = count,
				       .entry_size = entry_size };

	memcpy(buf, &h, sizeof(h));
	memset(buf + sizeof(h), 0, (size_t)count * entry_size);
	for (uint32_t i = 0; i < count; i++)
		buf[sizeof(h) + (size_t)i * entry_size + 32] = (unsigned char)(i + 1); /* port */
	return sizeof(h) + (size_t)count * entry_size;
}

static struct inbox *new_inbox(struct seen *s)
{
	struct inbox *in;

	assert_int_equal(inbox_new(&in), 0);
	inbox_on(in, LDMESH_REPORT_FAILURES, on_msg, s);
	return in;
}

static void test_good_datagrams_reach_the_handler(void **state)
{
	unsigned char buf[1024];
	struct seen s = { 0 };
	struct inbox *in = new_inbox(&s);
	size_t len = failures(buf, 3, sizeof(struct ldmesh_report_failure));

	(void)state;
	assert_int_equal(inbox_feed(in, buf, len, 42, 1000, SEC), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.last.pid, 42);
	assert_int_equal(s.last.uid, 1000);
	assert_int_equal(s.last.count, 3);
	assert_int_equal(s.first.port, 1);
	/* a newer sender's longer entries: read as their known prefix */
	len = failures(buf, 2, sizeof(struct ldmesh_report_failure) + 8);
	assert_int_equal(inbox_feed(in, buf, len, 42, 1000, SEC), 0);
	assert_int_equal(s.last.entry_size, sizeof(struct ldmesh_report_failure) + 8);
	/* no entries at all is still a well-formed datagram */
	len = failures(buf, 0, sizeof(struct ldmesh_report_failure));
	assert_int_equal(inbox_feed(in, buf, len, 42, 1000, SEC), 0);
	assert_int_equal(inbox_stats(in)->accepted, 3);
	inbox_free(in);
}

static void test_bad_datagrams_are_dropped(void **state)
{
	const size_t fsz = sizeof(struct ldmesh_report_failure);
	unsigned char buf[1024];
	struct ldmesh_report_hdr *h = (struct ldmesh_report_hdr *)buf;
	struct seen s = { 0 };
	struct inbox *in = new_inbox(&s);
	size_t len;
	unsigned bad = 0;

	(void)state;
	len = failures(buf, 2, fsz);
	h->magic ^= 1;
	assert_int_equal(inbox_feed(in, buf, len, 7, 0, SEC), -EINVAL), bad++;
	len = failures(buf, 2, fsz);
	h->version = LDMESH_REPORT_VERSION + 1;
	assert_int_equal(inbox_feed(in, buf, len, 7, 0, SEC), -EINVAL), bad++;
	len = failures(buf, 2, fsz);
	h->type = 99;
	assert_int_equal(inbox_feed(in, buf, len, 7, 0, SEC), -EINVAL), bad++;
	/* count * entry_size must be exactly the rest */
	len = failures(buf, 2, fsz);
	assert_int_equal(inbox_feed(in, buf, len - 1, 7, 0, SEC), -EINVAL), bad++;
	h->count = 3;
	assert_int_equal(inbox_feed(in, buf, len, 7, 0, SEC), -EINVAL), bad++;
	/* a count whose product wraps 32 bits */
	h->count = 0x80000000U / (uint32_t)fsz * 2 + 2;
	assert_int_equal(inbox_feed(in, buf, len, 7, 0, SEC), -EINVAL), bad++;
	/* entries shorter than the agent knows */
	len = failures(buf, 2, fsz - 4);
	assert_int_equal(inbox_feed(in, buf, len, 7, 0, SEC), -EINVAL), bad++;
	/* shorter than a header */
	assert_int_equal(inbox_feed(in, buf, 10, 7, 0, SEC), -EINVAL), bad++;
	assert_int_equal(inbox_feed(in, buf, 0, 7, 0, SEC), -EINVAL), bad++;
	assert_int_equal(s.n, 0);
	assert_int_equal(inbox_stats(in)->invalid, bad);
	inbox_free(in);
}

static void test_counts_carry_their_source(void **state)
{
	unsigned char buf[2048] = { 0 };
	struct ldmesh_report_hdr h = { .magic = LDMESH_REPORT_MAGIC,
				       .version = LDMESH_REPORT_VERSION,
				       .type = LDMESH_REPORT_COUNTS, .count = 2,
				       .entry_size = sizeof(struct ldmesh_report_count) };
	size_t len = sizeof(h) + sizeof(struct ldmesh_report_source) +
		     2 * sizeof(struct ldmesh_report_count);
	struct seen s = { 0 };
	struct inbox *in;

	(void)state;
	assert_int_equal(inbox_new(&in), 0);
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), "shop", 4);
	/* nobody registered for counts: dropped, counted */
	assert_int_equal(inbox_feed(in, buf, len, 9, 0, SEC), -ENOENT);
	assert_int_equal(inbox_stats(in)->unhandled, 1);
	inbox_on(in, LDMESH_REPORT_COUNTS, on_msg, &s);
	assert_int_equal(inbox_feed(in, buf, len, 9, 0, SEC), 0);
	assert_non_null(s.last.source);
	assert_memory_equal(s.last.source, "shop", 4);
	assert_ptr_equal(s.last.entries, buf + sizeof(h) + sizeof(struct ldmesh_report_source));
	/* the source missing: the sizes do not add up */
	assert_int_equal(inbox_feed(in, buf, len - sizeof(struct ldmesh_report_source), 9, 0,
				    SEC), -EINVAL);
	inbox_free(in);
}

/* `n` one-entry datagrams from `pid` at `now`: how many were let in. */
static unsigned flood(struct inbox *in, pid_t pid, unsigned n, uint64_t now)
{
	unsigned char buf[256];
	size_t len = failures(buf, 1, sizeof(struct ldmesh_report_failure));
	unsigned ok = 0;

	for (unsigned i = 0; i < n; i++)
		ok += inbox_feed(in, buf, len, pid, 0, now) == 0;
	return ok;
}

static void test_a_flooding_sender_is_limited_alone(void **state)
{
	struct seen s = { 0 };
	struct inbox *in = new_inbox(&s);

	(void)state;
	/* at one instant: the burst, no more */
	assert_int_equal(flood(in, 100, 1000, SEC), INBOX_SENDER_BURST);
	assert_int_equal(inbox_stats(in)->rate_limited, 1000 - INBOX_SENDER_BURST);
	/* another sender is not held back by the flooder */
	assert_int_equal(flood(in, 101, 1, SEC), 1);
	/* a second later the flooder has its rate back, not more */
	assert_int_equal(flood(in, 100, 1000, 2 * SEC), INBOX_SENDER_RATE);
	/* after a long quiet, a full bucket, not a bigger one */
	assert_int_equal(flood(in, 100, 1000, 1000 * SEC), INBOX_SENDER_BURST);
	inbox_free(in);
}

static void test_many_senders_share_a_bound(void **state)
{
	struct seen s = { 0 };
	struct inbox *in = new_inbox(&s);
	unsigned ok = 0;

	(void)state;
	/* thousands of pids (a forking flooder): the table of senders stays
	 * bounded and all of them together get the total's burst */
	for (pid_t pid = 1; pid <= 5000; pid++)
		ok += flood(in, pid, 5, SEC);
	assert_int_equal(ok, INBOX_TOTAL_BURST);
	assert_int_equal(inbox_senders(in), INBOX_SENDERS);
	assert_int_equal(inbox_stats(in)->evicted, 5000 - INBOX_SENDERS);
	assert_int_equal(inbox_stats(in)->rate_limited, 5 * 5000 - INBOX_TOTAL_BURST);
	inbox_free(in);
}

static void test_the_least_recent_sender_is_forgotten(void **state)
{
	unsigned char buf[256];
	size_t len = failures(buf, 1, sizeof(struct ldmesh_report_failure));
	struct seen s = { 0 };
	struct inbox *in = new_inbox(&s);

	(void)state;
	/* pid 1 spends its burst first; the others fill the table after it,
	 * but pid 1 is heard again (refused) last: pid 2 is the one
	 * forgotten, and pid 1 keeps its empty bucket */
	for (int i = 0; i < INBOX_SENDER_BURST; i++)
		assert_int_equal(inbox_feed(in, buf, len, 1, 0, SEC), 0);
	for (pid_t pid = 2; pid <= INBOX_SENDERS; pid++)
		(void)inbox_feed(in, buf, len, pid, 0, SEC + (uint64_t)pid);
	assert_int_equal(inbox_feed(in, buf, len, 1, 0, SEC + 1000), -EAGAIN);
	assert_int_equal(inbox_feed(in, buf, len, 9999, 0, SEC + 2000), 0);
	assert_int_equal(inbox_stats(in)->evicted, 1);
	assert_int_equal(inbox_feed(in, buf, len, 1, 0, SEC + 3000), -EAGAIN);
	inbox_free(in);
}

struct drained {
	struct inbox *in;
	struct seen *s;
};

static bool got_one(void *ctx)
{
	struct drained *d = ctx;
	struct pollfd p = { .fd = inbox_fd(d->in), .events = POLLIN };

	if (poll(&p, 1, 100) > 0)
		(void)inbox_drain(d->in, SEC);
	return d->s->n > 0;
}

static void test_the_socket_beside_the_table(void **state)
{
	char *dir = tu_tmpdir("inbox"), table[600], path[640], why[512];
	unsigned char buf[256];
	size_t len = failures(buf, 1, sizeof(struct ldmesh_report_failure));
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct seen s = { 0 };
	struct inbox *in = new_inbox(&s);
	struct drained d = { in, &s };
	struct stat st;
	int fd;

	(void)state;
	snprintf(table, sizeof(table), "%s/table/", dir);
	snprintf(path, sizeof(path), "%s/table.sock", dir);
	/* a stale socket of an agent that died is replaced */
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	assert_true(strlen(path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	assert_int_equal(inbox_open(in, table, why, sizeof(why)), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0666);
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	assert_int_equal(sendto(fd, buf, len, 0, (struct sockaddr *)&sa, sizeof(sa)), (ssize_t)len);
	close(fd);
	assert_true(tu_wait(got_one, &d));
	assert_int_equal(s.last.pid, getpid());
	assert_int_equal(s.last.uid, getuid());
	inbox_free(in);
	assert_int_equal(stat(path, &st), -1); /* removed with the inbox */
	/* something that is not a socket is not ours to remove */
	tu_write(dir, "table.sock", "x");
	assert_int_equal(inbox_new(&in), 0);
	assert_int_equal(inbox_open(in, table, why, sizeof(why)), -EEXIST);
	assert_non_null(strstr(why, "not a socket"));
	inbox_free(in);
	assert_int_equal(stat(path, &st), 0);
	tu_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_datagrams_reach_the_handler),
		cmocka_unit_test(test_bad_datagrams_are_dropped),
		cmocka_unit_test(test_counts_carry_their_source),
		cmocka_unit_test(test_a_flooding_sender_is_limited_alone),
		cmocka_unit_test(test_many_senders_share_a_bound),
		cmocka_unit_test(test_the_least_recent_sender_is_forgotten),
		cmocka_unit_test(test_the_socket_beside_the_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
