/* SPDX-License-Identifier: MIT */
/*
 * Verified ejection: the agent's own TCP probes of the backends processes
 * report failing (ldmesh/report.h), and the set of backends it ejected.
 *
 * A report is a hint. health_suspect starts a probe (a non-blocking
 * connect from the agent, bounded by a timeout); only a probe that fails
 * (refused, unreachable, no answer in time) ejects the backend, so a liar
 * cannot eject one that answers. An ejected backend is probed again after
 * the re-check interval, doubled after every failed re-check up to a cap,
 * and re-admitted when a probe connects. Everything is bounded: probes in
 * flight (one per backend), backends ejected, backends remembered as
 * recently healthy (reports about them are not probed again until the
 * interval has passed: a flood of lies costs one probe per backend per
 * interval). What does not fit is dropped and counted.
 *
 * The caller decides which backends may be suspected at all (the ready
 * endpoints of its table) and publishes what changes (health_fn).
 */
#ifndef LDMESH_AGENT_HEALTH_H
#define LDMESH_AGENT_HEALTH_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HEALTH_PROBES 64        /* probes in flight, at most */
#define HEALTH_EJECTED_MAX 256  /* backends ejected, at most */
#define HEALTH_RECENT 256       /* backends remembered as found healthy */
#define HEALTH_TIMEOUT_MS 1000  /* a probe's connect, at most */
#define HEALTH_BACKOFF_CAP 8    /* re-checks slow to 8 x the interval */

struct health_backend {
	uint8_t addr[16]; /* IPv4-mapped for v4 */
	uint16_t port;
};

/* A backend ejected (true) or re-admitted (false); `why` says what the
 * probe saw. */
typedef void (*health_fn)(void *ctx, const struct health_backend *b, bool ejected,
			  const char *why);

struct health_stats {
	uint64_t suspected;   /* reports that reached health_suspect */
	uint64_t probes;      /* probes started */
	uint64_t ejections;
	uint64_t readmissions;
	uint64_t dropped;     /* no probe slot or no room to eject */
	uint64_t skipped;     /* already ejected, probing, or found healthy
	                         within the interval */
};

struct health_opts {
	unsigned interval_ms; /* re-check interval, and the hold on a healthy
	                         backend's reports */
	unsigned timeout_ms;  /* a probe's connect (0: HEALTH_TIMEOUT_MS) */
	health_fn changed;
	void *ctx;
};

struct health;

int health_new(const struct health_opts *o, struct health **out); /* 0 or -ENOMEM */
void health_free(struct health *h);

/* A process says `b` failed: probe it unless it is ejected, being probed,
 * or was found healthy less than an interval ago. 0 when a probe started
 * (or finished at once), 1 when skipped, -EBUSY/-ENOSPC when dropped. */
int health_suspect(struct health *h, const struct health_backend *b, uint64_t now_ns);

/* The probes' sockets into fds[0..cap) (POLLOUT): how many. */
size_t health_pollfds(const struct health *h, struct pollfd *fds, size_t cap);

/* Finish the probes that answered (`fds` as health_pollfds filled them,
 * with revents) or timed out, and start the re-checks that are due. */
void health_step(struct health *h, const struct pollfd *fds, size_t n, uint64_t now_ns);

/* Milliseconds until health_step has something to do (a probe's deadline,
 * a re-check), or -1. */
int health_timeout_ms(const struct health *h, uint64_t now_ns);

/* Forget ejected backends (and probes) for which keep() is false: gone
 * from the table. How many were forgotten; health_fn is not called. */
size_t health_forget(struct health *h, bool (*keep)(void *ctx, const struct health_backend *b),
		     void *ctx);

/* The backends ejected now, in no particular order. */
size_t health_ejected(const struct health *h, struct health_backend *out, size_t cap);

/* When `b`, ejected, is probed again (CLOCK_MONOTONIC ns), or 0 if it is
 * not ejected. */
uint64_t health_next_check(const struct health *h, const struct health_backend *b);

const struct health_stats *health_stats(const struct health *h);

#endif
