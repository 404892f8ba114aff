/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "health.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MS 1000000ULL

struct probe {
	int fd;               /* -1: free */
	struct health_backend b;
	uint64_t deadline_ns;
};

struct ejected {
	struct health_backend b;
	uint64_t next_ns;     /* the next re-check */
	unsigned interval_ms; /* the current back-off */
};

struct recent {
	struct health_backend b;
	uint64_t until_ns;    /* reports about b are skipped until then */
};

struct health {
	struct health_opts o;
	struct probe probes[HEALTH_PROBES];
	struct ejected ej[HEALTH_EJECTED_MAX];
	size_t n_ej;
	struct recent recent[HEALTH_RECENT]; /* a ring: the oldest is overwritten */
	size_t recent_next;
	struct health_stats stats;
};

static bool same(const struct health_backend *a, const struct health_backend *b)
{
	return a->port == b->port && !memcmp(a->addr, b->addr, 16);
}

int health_new(const struct health_opts *o, struct health **out)
{
	struct health *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	h->o = *o;
	if (!h->o.timeout_ms)
		h->o.timeout_ms = HEALTH_TIMEOUT_MS;
	for (size_t i = 0; i < HEALTH_PROBES; i++)
		h->probes[i].fd = -1;
	*out = h;
	return 0;
}

void health_free(struct health *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < HEALTH_PROBES; i++)
		if (h->probes[i].fd >= 0)
			close(h->probes[i].fd);
	free(h);
}

static struct ejected *health__ejected(struct health *h, const struct health_backend *b)
{
	for (size_t i = 0; i < h->n_ej; i++)
		if (same(&h->ej[i].b, b))
			return &h->ej[i];
	return NULL;
}

static struct probe *health__probing(struct health *h, const struct health_backend *b)
{
	for (size_t i = 0; i < HEALTH_PROBES; i++)
		if (h->probes[i].fd >= 0 && same(&h->probes[i].b, b))
			return &h->probes[i];
	return NULL;
}

static bool health__recently_ok(const struct health *h, const struct health_backend *b,
				uint64_t now_ns)
{
	for (size_t i = 0; i < HEALTH_RECENT; i++)
		if (h->recent[i].until_ns > now_ns && same(&h->recent[i].b, b))
			return true;
	return false;
}

/* The address of `b` as a sockaddr for connect. */
static socklen_t health__sockaddr(const struct health_backend *b, struct sockaddr_storage *ss)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	memset(ss, 0, sizeof(*ss));
	if (!memcmp(b->addr, mapped, 12)) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(b->port);
		memcpy(&sin->sin_addr, b->addr + 12, 4);
		return sizeof(*sin);
	}
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(b->port);
	memcpy(&sin6->sin6_addr, b->addr, 16);
	return sizeof(*sin6);
}

/* "10.0.0.1:80" or "[fd00::1]:80". */
static void health__name(const struct health_backend *b, char *out, size_t cap)
{
	struct sockaddr_storage ss;
	char a[INET6_ADDRSTRLEN] = "?";

	if (health__sockaddr(b, &ss) == sizeof(struct sockaddr_in)) {
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, a, sizeof(a));
		snprintf(out, cap, "%s:%u", a, b->port);
	} else {
		inet_ntop(AF_INET6, b->addr, a, sizeof(a));
		snprintf(out, cap, "[%s]:%u", a, b->port);
	}
}

/* What a probe of `b` found: 0 (it connected) or the error, with `why`. */
static void health__result(struct health *h, const struct health_backend *b, int err,
			   uint64_t now_ns)
{
	struct ejected *e = health__ejected(h, b);
	char why[160], name[64];

	health__name(b, name, sizeof(name));
	if (!err) {
		h->recent[h->recent_next] = (struct recent){
			.b = *b, .until_ns = now_ns + (uint64_t)h->o.interval_ms * MS };
		h->recent_next = (h->recent_next + 1) % HEALTH_RECENT;
		if (!e)
			return;
		*e = h->ej[--h->n_ej];
		h->stats.readmissions++;
		snprintf(why, sizeof(why), "%s: the agent's probe connected", name);
		h->o.changed(h->o.ctx, b, false, why);
		return;
	}
	snprintf(why, sizeof(why), "%s: the agent's probe failed: %s", name,
		 err == ETIMEDOUT ? "no answer in time" : strerror(err));
	if (e) {
		/* still failing: back off, up to the cap */
		if (e->interval_ms < h->o.interval_ms * HEALTH_BACKOFF_CAP)
			e->interval_ms *= 2;
		e->next_ns = now_ns + (uint64_t)e->interval_ms * MS;
		return;
	}
	if (h->n_ej == HEALTH_EJECTED_MAX) {
		h->stats.dropped++;
		return;
	}
	h->ej[h->n_ej++] = (struct ejected){ .b = *b, .interval_ms = h->o.interval_ms,
					     .next_ns = now_ns + (uint64_t)h->o.interval_ms * MS };
	h->stats.ejections++;
	h->o.changed(h->o.ctx, b, true, why);
}

/* Start a probe of `b` in slot `p`. A connect that finishes at once is a
 * result now. */
static void health__start(struct health *h, struct probe *p, const struct health_backend *b,
			  uint64_t now_ns)
{
	struct sockaddr_storage ss;
	socklen_t len = health__sockaddr(b, &ss);
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	h->stats.probes++;
	if (fd < 0) {
		h->stats.dropped++; /* out of descriptors: not the backend's fault */
		return;
	}
	if (connect(fd, (struct sockaddr *)&ss, len) == 0 || errno != EINPROGRESS) {
		int err = errno;
		bool ok = err == 0 || err == EISCONN;
		close(fd);
		/* errors of our own (no memory, no ports) say nothing of it */
		if (ok || err == ECONNREFUSED || err == ENETUNREACH || err == EHOSTUNREACH ||
		    err == ETIMEDOUT || err == EINVAL || err == EADDRNOTAVAIL)
			health__result(h, b, ok ? 0 : err, now_ns);
		return;
	}
	*p = (struct probe){ .fd = fd, .b = *b,
			     .deadline_ns = now_ns + (uint64_t)h->o.timeout_ms * MS };
}

/* The index of a free probe slot, or HEALTH_PROBES. */
static size_t health__free_index(const struct health *h)
{
	size_t i = 0;

	while (i < HEALTH_PROBES && h->probes[i].fd >= 0)
		i++;
	return i;
}

static struct probe *health__free_slot(struct health *h)
{
	size_t i = health__free_index(h);

	return i < HEALTH_PROBES ? &h->probes[i] : NULL;
}

int health_suspect(struct health *h, const struct health_backend *b, uint64_t now_ns)
{
	struct probe *p;

	h->stats.suspected++;
	if (health__ejected(h, b) || health__probing(h, b) || health__recently_ok(h, b, now_ns)) {
		h->stats.skipped++;
		return 1;
	}
	if (h->n_ej == HEALTH_EJECTED_MAX) {
		h->stats.dropped++;
		return -ENOSPC;
	}
	if (!(p = health__free_slot(h))) {
		h->stats.dropped++;
		return -EBUSY;
	}
	health__start(h, p, b, now_ns);
	return 0;
}

size_t health_pollfds(const struct health *h, struct pollfd *fds, size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < HEALTH_PROBES && n < cap; i++)
		if (h->probes[i].fd >= 0)
			fds[n++] = (struct pollfd){ .fd = h->probes[i].fd, .events = POLLOUT };
	return n;
}

/* Finish probe `p`: its socket said something (`answered`), or its time is
 * up. */
static void health__finish(struct health *h, struct probe *p, bool answered, uint64_t now_ns)
{
	struct health_backend b = p->b;
	int err = ETIMEDOUT;
	socklen_t len = sizeof(err);

	if (answered && getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	close(p->fd);
	p->fd = -1;
	health__result(h, &b, err, now_ns);
}

void health_step(struct health *h, const struct pollfd *fds, size_t n, uint64_t now_ns)
{
	for (size_t i = 0; i < HEALTH_PROBES; i++) {
		struct probe *p = &h->probes[i];
		bool answered = false;

		if (p->fd < 0)
			continue;
		for (size_t k = 0; k < n; k++)
			if (fds[k].fd == p->fd && fds[k].revents)
				answered = true;
		if (answered || now_ns >= p->deadline_ns)
			health__finish(h, p, answered, now_ns);
	}
	/* re-checks due; one not started for want of a slot waits its turn */
	for (size_t i = 0; i < h->n_ej; i++) {
		struct ejected *e = &h->ej[i];
		struct probe *p;

		if (e->next_ns > now_ns || health__probing(h, &e->b) || !(p = health__free_slot(h)))
			continue;
		/* no second start before this one finishes */
		e->next_ns = now_ns + (uint64_t)e->interval_ms * MS;
		struct health_backend b = e->b;
		size_t before = h->n_ej;
		health__start(h, p, &b, now_ns);
		if (h->n_ej < before)
			i--; /* re-admitted at once: entry i now holds another */
	}
}

int health_timeout_ms(const struct health *h, uint64_t now_ns)
{
	uint64_t next = UINT64_MAX;

	for (size_t i = 0; i < HEALTH_PROBES; i++)
		if (h->probes[i].fd >= 0 && h->probes[i].deadline_ns < next)
			next = h->probes[i].deadline_ns;
	/* a re-check due with every slot taken waits for a probe to end (its
	 * deadline is above), not in a busy loop */
	for (size_t i = 0; i < h->n_ej && health__free_index(h) < HEALTH_PROBES; i++)
		if (h->ej[i].next_ns < next)
			next = h->ej[i].next_ns;
	if (next == UINT64_MAX)
		return -1;
	return next <= now_ns ? 0 : (int)((next - now_ns + MS - 1) / MS);
}

size_t health_forget(struct health *h, bool (*keep)(void *ctx, const struct health_backend *b),
		     void *ctx)
{
	size_t gone = 0;

	for (size_t i = 0; i < h->n_ej;) {
		if (keep(ctx, &h->ej[i].b)) {
			i++;
			continue;
		}
		h->ej[i] = h->ej[--h->n_ej];
		gone++;
	}
	for (size_t i = 0; i < HEALTH_PROBES; i++)
		if (h->probes[i].fd >= 0 && !keep(ctx, &h->probes[i].b)) {
			close(h->probes[i].fd);
			h->probes[i].fd = -1;
		}
	return gone;
}

size_t health_ejected(const struct health *h, struct health_backend *out, size_t cap)
{
	size_t n = h->n_ej < cap ? h->n_ej : cap;

	for (size_t i = 0; i < n; i++)
		out[i] = h->ej[i].b;
	return n;
}

uint64_t health_next_check(const struct health *h, const struct health_backend *b)
{
	for (size_t i = 0; i < h->n_ej; i++)
		if (same(&h->ej[i].b, b))
			return h->ej[i].next_ns;
	return 0;
}

const struct health_stats *health_stats(const struct health *h)
{
	return &h->stats;
}
