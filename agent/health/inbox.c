/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "inbox.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* A token bucket, in thousandths of a datagram so refills need no
 * floating point. */
struct bucket {
	uint64_t milli;   /* tokens * 1000 */
	uint64_t at_ns;   /* when last refilled */
};

struct sender {
	pid_t pid;        /* 0: free */
	uint64_t used_ns; /* last heard, for eviction */
	struct bucket b;
};

struct handler {
	inbox_fn fn;
	void *ctx;
};

#define INBOX_TYPES 3 /* enum ldmesh_report_type's values, 1 and 2, and 0 unused */

struct inbox {
	int fd;
	char path[PATH_MAX];
	dev_t dev;        /* the socket file we bound, so we remove only ours */
	ino_t ino;
	struct handler on[INBOX_TYPES];
	struct sender senders[INBOX_SENDERS];
	size_t n_senders;
	struct bucket total;
	struct inbox_stats stats;
	unsigned char buf[LDMESH_REPORT_MAX];
};

int inbox_new(struct inbox **out)
{
	struct inbox *in = calloc(1, sizeof(*in));

	if (!in)
		return -ENOMEM;
	in->fd = -1;
	in->total.milli = (uint64_t)INBOX_TOTAL_BURST * 1000;
	*out = in;
	return 0;
}

/* "<table without trailing slashes>.sock". */
static int inbox__path(const char *table, char *out, size_t cap)
{
	size_t len = strlen(table);

	while (len > 1 && table[len - 1] == '/')
		len--;
	return (size_t)snprintf(out, cap, "%.*s%s", (int)len, table,
				LDMESH_REPORT_SOCK_SUFFIX) >= cap ? -ENAMETOOLONG : 0;
}

/* A socket file left by an agent that died is ours to replace (we hold
 * the table's lock); anything else there is not. */
static int inbox__unlink_stale(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	return unlink(path) < 0 ? -errno : 0;
}

static int inbox__bind(struct inbox *in, char *why, size_t why_len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int one = 1, err;
	struct stat st;

	if (strlen(in->path) >= sizeof(sa.sun_path)) {
		snprintf(why, why_len, "%s: longer than a socket path may be", in->path);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, in->path, strlen(in->path) + 1);
	if ((err = inbox__unlink_stale(in->path))) {
		snprintf(why, why_len, "%s: %s", in->path,
			 err == -EEXIST ? "exists and is not a socket" : strerror(-err));
		return err;
	}
	in->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (in->fd < 0 ||
	    setsockopt(in->fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0 ||
	    bind(in->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    /* every pod may send: reports are hints the agent verifies */
	    chmod(in->path, 0666) < 0 || lstat(in->path, &st) < 0) {
		err = -errno;
		snprintf(why, why_len, "%s: %s", in->path, strerror(errno));
		return err;
	}
	in->dev = st.st_dev;
	in->ino = st.st_ino;
	return 0;
}

int inbox_open(struct inbox *in, const char *table, char *why, size_t why_len)
{
	int err;

	why[0] = 0;
	if ((err = inbox__path(table, in->path, sizeof(in->path)))) {
		snprintf(why, why_len, "report socket for %s: path too long", table);
		return err;
	}
	if ((err = inbox__bind(in, why, why_len)) && in->fd >= 0) {
		close(in->fd);
		in->fd = -1;
	}
	return err;
}

int inbox_fd(const struct inbox *in)
{
	return in->fd;
}

void inbox_on(struct inbox *in, uint16_t type, inbox_fn fn, void *ctx)
{
	if (type < INBOX_TYPES)
		in->on[type] = (struct handler){ fn, ctx };
}

/* The size of the part between the header and the entries, and of an
 * entry, that this agent knows for `type`; false for a type it does not. */
static bool inbox__known(uint16_t type, size_t *lead, size_t *entry)
{
	switch (type) {
	case LDMESH_REPORT_FAILURES:
		*lead = 0;
		*entry = sizeof(struct ldmesh_report_failure);
		return true;
	case LDMESH_REPORT_COUNTS:
		*lead = sizeof(struct ldmesh_report_source);
		*entry = sizeof(struct ldmesh_report_count);
		return true;
	default:
		return false;
	}
}

int inbox_check(const void *buf, size_t len, struct inbox_msg *m)
{
	struct ldmesh_report_hdr h;
	size_t lead, entry;
	const unsigned char *p = buf;

	if (len < sizeof(h) || len > LDMESH_REPORT_MAX)
		return -EINVAL;
	memcpy(&h, buf, sizeof(h));
	if (h.magic != LDMESH_REPORT_MAGIC || h.version != LDMESH_REPORT_VERSION ||
	    !inbox__known(h.type, &lead, &entry))
		return -EINVAL;
	/* a newer sender may append fields to an entry, never take any away;
	 * 64 KiB datagrams bound count * entry_size well inside 64 bits */
	if (h.entry_size < entry || len - sizeof(h) < lead ||
	    (uint64_t)h.count * h.entry_size != len - sizeof(h) - lead)
		return -EINVAL;
	m->type = h.type;
	m->count = h.count;
	m->entry_size = h.entry_size;
	m->source = lead ? p + sizeof(h) : NULL;
	m->entries = p + sizeof(h) + lead;
	return 0;
}

/* Refill `b` (rate a second, up to burst) and take a token if there is
 * one. */
static bool inbox__take(struct bucket *b, uint64_t now_ns, uint64_t rate, uint64_t burst)
{
	uint64_t cap = burst * 1000;

	if (now_ns > b->at_ns) {
		uint64_t dt = now_ns - b->at_ns;
		/* dt capped so dt * rate cannot overflow (a bucket is full
		 * after burst/rate seconds anyway) */
		uint64_t add = (dt > 1000000000000ULL ? 1000000000000ULL : dt) * rate / 1000000ULL;

		b->milli = b->milli + add > cap ? cap : b->milli + add;
		b->at_ns = now_ns;
	}
	if (b->milli < 1000)
		return false;
	b->milli -= 1000;
	return true;
}

/* The sender `pid`'s entry: found, free, or the least recently heard one
 * taken over. */
static struct sender *inbox__sender(struct inbox *in, pid_t pid, uint64_t now_ns)
{
	struct sender *oldest = NULL;

	for (size_t i = 0; i < in->n_senders; i++) {
		struct sender *s = &in->senders[i];
		if (s->pid == pid)
			return s;
		if (!oldest || s->used_ns < oldest->used_ns)
			oldest = s;
	}
	if (in->n_senders < INBOX_SENDERS)
		oldest = &in->senders[in->n_senders++];
	else
		in->stats.evicted++;
	*oldest = (struct sender){ .pid = pid,
				   .b = { .milli = (uint64_t)INBOX_SENDER_BURST * 1000,
					  .at_ns = now_ns } };
	return oldest;
}

/* Whether `pid` may send one more datagram now. The sender's bucket first:
 * a flooder spends its own tokens, not everyone's. */
static bool inbox__admit(struct inbox *in, pid_t pid, uint64_t now_ns)
{
	struct sender *s = inbox__sender(in, pid, now_ns);

	s->used_ns = now_ns;
	if (!in->total.at_ns)
		in->total.at_ns = now_ns;
	return inbox__take(&s->b, now_ns, INBOX_SENDER_RATE, INBOX_SENDER_BURST) &&
	       inbox__take(&in->total, now_ns, INBOX_TOTAL_RATE, INBOX_TOTAL_BURST);
}

int inbox_feed(struct inbox *in, const void *buf, size_t len, pid_t pid, uid_t uid,
	       uint64_t now_ns)
{
	struct inbox_msg m = { .pid = pid, .uid = uid };
	struct handler *h;

	if (inbox_check(buf, len, &m) < 0) {
		in->stats.invalid++;
		return -EINVAL;
	}
	if (!inbox__admit(in, pid, now_ns)) {
		in->stats.rate_limited++;
		return -EAGAIN;
	}
	h = &in->on[m.type];
	if (!h->fn) {
		in->stats.unhandled++;
		return -ENOENT;
	}
	in->stats.accepted++;
	h->fn(h->ctx, &m);
	return 0;
}

/* One datagram from the socket with its sender's credentials: its length,
 * -EAGAIN when there is none to read, -EINVAL when it came without
 * credentials or did not fit. */
static ssize_t inbox__recv(struct inbox *in, struct ucred *cred)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct ucred))];
		struct cmsghdr align;
	} c;
	struct iovec iov = { .iov_base = in->buf, .iov_len = sizeof(in->buf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.buf,
			     .msg_controllen = sizeof(c.buf) };
	ssize_t n = recvmsg(in->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	bool have = false;

	if (n < 0)
		return -EAGAIN; /* or an error, retried next turn */
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_CREDENTIALS &&
		    cm->cmsg_len == CMSG_LEN(sizeof(*cred))) {
			memcpy(cred, CMSG_DATA(cm), sizeof(*cred));
			have = true;
		}
	}
	/* a sender cannot pass descriptors here (MSG_CMSG_CLOEXEC above and
	 * SCM_RIGHTS would need closing): a datagram with any is refused */
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			int *fds = (int *)CMSG_DATA(cm);
			size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < k; i++)
				close(fds[i]);
			have = false;
		}
	if (!have || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || cred->pid <= 0)
		return -EINVAL;
	return n;
}

unsigned inbox_drain(struct inbox *in, uint64_t now_ns)
{
	unsigned got = 0;

	if (in->fd < 0)
		return 0;
	while (got < INBOX_PER_TURN) {
		struct ucred cred = { 0 };
		ssize_t n = inbox__recv(in, &cred);

		if (n == -EAGAIN)
			break;
		got++;
		in->stats.received++;
		if (n < 0)
			in->stats.invalid++;
		else
			(void)inbox_feed(in, in->buf, (size_t)n, cred.pid, cred.uid, now_ns);
	}
	return got;
}

const struct inbox_stats *inbox_stats(const struct inbox *in)
{
	return &in->stats;
}

size_t inbox_senders(const struct inbox *in)
{
	return in->n_senders;
}

void inbox_free(struct inbox *in)
{
	struct stat st;

	if (!in)
		return;
	if (in->fd >= 0) {
		close(in->fd);
		/* a newer agent may have bound its own since (it took the
		 * lock after us): leave that one */
		if (lstat(in->path, &st) == 0 && st.st_dev == in->dev && st.st_ino == in->ino)
			unlink(in->path);
	}
	free(in);
}
