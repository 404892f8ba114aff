/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "failover.h"

#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include "addr.h"
#include "fdmap.h"
#include "outlier.h"
#include "real.h"
#include "rng.h"
#include "trace.h"

static uint64_t failover__now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* A backend failed a connect: count it, and say so when that ejects it. */
static void failover__failed(int fd, const uint8_t addr[16], uint16_t port, int err,
			     const char *how)
{
	uint64_t ejected = outlier_failure(addr, port, failover__now_ns());
	struct trace_line l;

	if (!trace_on())
		return;
	trace_begin(&l, "connect fd=");
	trace_i64(&l, fd);
	trace_str(&l, " ");
	trace_ipport(&l, addr, port);
	trace_str(&l, how);
	trace_str(&l, strerror(err));
	trace_str(&l, ")");
	trace_emit(&l);
	if (ejected) {
		trace_begin(&l, "outlier ");
		trace_ipport(&l, addr, port);
		trace_str(&l, " ejected for ");
		trace_u64(&l, ejected / 1000000);
		trace_str(&l, " ms");
		trace_emit(&l);
	}
}

struct failover__avoid {
	uint64_t now;
	unsigned n;
	uint8_t addr[CONFIG_ATTEMPTS_MAX][16];
	uint16_t port[CONFIG_ATTEMPTS_MAX];
};

static bool failover__avoid(void *ctx, const uint8_t addr[16], uint16_t port)
{
	struct failover__avoid *a = ctx;

	for (unsigned i = 0; i < a->n; i++)
		if (a->port[i] == port && !memcmp(a->addr[i], addr, 16))
			return true;
	return outlier_active() && outlier_is_ejected(addr, port, a->now);
}

void failover_avoid_ejected(const struct ldmesh_snap *s, const struct ldmesh_vip_slot *vip,
			    int family, struct route_result *r)
{
	struct failover__avoid a = { .now = failover__now_ns(), .n = 0 };
	struct route_result again;

	if (!failover__avoid(&a, r->backend, r->backend_port))
		return;
	/* at random among the others, so the ejected one's share spreads
	 * evenly (a ClientIP-sticky client moves too while it is out) */
	route_pick_other(s, vip, family, rng_next(), failover__avoid, &a, &again);
	/* every candidate ejected: the first pick stands (never none) */
	if (again.verdict == ROUTE_REDIRECT)
		*r = again;
}

/* SO_SNDTIMEO of `fd` in ns, 0 when unset. */
static uint64_t failover__sndtimeo(int fd, struct timeval *tv)
{
	socklen_t len = sizeof(*tv);

	if (real.getsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, tv, &len) < 0)
		return 0;
	return (uint64_t)tv->tv_sec * 1000000000ULL + (uint64_t)tv->tv_usec * 1000ULL;
}

static void failover__trace_retry(int fd, unsigned attempt, unsigned of,
				  const struct ldmesh_snap *s, const struct route_result *r)
{
	struct trace_line l;

	trace_begin(&l, "connect fd=");
	trace_i64(&l, fd);
	trace_str(&l, " retry ");
	trace_u64(&l, attempt);
	trace_str(&l, "/");
	trace_u64(&l, of);
	trace_str(&l, " -> ");
	trace_ipport(&l, r->backend, r->backend_port);
	trace_svc(&l, s, r->svc_ns, r->svc_name);
	trace_emit(&l);
}

int failover_connect(struct preload_state *st, int fd, int family, const uint8_t vip[16],
		     uint16_t vport, const struct route_result *first, int err, uint64_t t0)
{
	struct failover__avoid a = { .n = 1 };
	struct timeval saved_tv, tv;
	uint64_t budget = 0;
	unsigned attempts = st->cfg.connect_attempts;

	memcpy(a.addr[0], first->backend, 16);
	a.port[0] = first->backend_port;
	failover__failed(fd, first->backend, first->backend_port, err, " failed (");
	if (attempts > 1)
		budget = failover__sndtimeo(fd, &saved_tv);
	while (a.n < attempts && a.n < CONFIG_ATTEMPTS_MAX) {
		struct ldmesh_vip_slot slot;
		struct route_result r;
		struct sockaddr_storage ss;
		const struct ldmesh_snap *s;
		socklen_t sl;
		int k, rc;

		/* SO_SNDTIMEO bounds the whole call: a retry gets what is left */
		if (budget) {
			uint64_t spent = ldmesh_table_elapsed_ns(&st->table, t0);
			if (spent >= budget)
				break;
			tv.tv_sec = (time_t)((budget - spent) / 1000000000ULL);
			tv.tv_usec = (suseconds_t)((budget - spent) % 1000000000ULL / 1000);
			if (!tv.tv_sec && !tv.tv_usec)
				tv.tv_usec = 1;
			real.setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		}
		s = ldmesh_table_acquire(&st->table, &k);
		if (!s)
			break;
		if (!ldmesh_snap_find_vip(s, vip, vport, LDMESH_PROTO_TCP, &slot)) {
			ldmesh_table_release(&st->table, k);
			break;
		}
		a.now = failover__now_ns();
		s = ldmesh_snap_holder(s, &slot);
		route_pick_other(s, &slot, family, rng_next(), failover__avoid, &a, &r);
		/* everything tried (or ejected): the caller gets the last error */
		if (r.verdict != ROUTE_REDIRECT ||
		    !(sl = addr_to_sockaddr(family, r.backend, r.backend_port, &ss))) {
			ldmesh_table_release(&st->table, k);
			break;
		}
		if (trace_on())
			failover__trace_retry(fd, a.n + 1, attempts, s, &r);
		ldmesh_table_release(&st->table, k);
		memcpy(a.addr[a.n], r.backend, 16);
		a.port[a.n++] = r.backend_port;
		fdmap_set_backend(fd, r.backend, r.backend_port);
		rc = real.connect(fd, (const struct sockaddr *)&ss, sl);
		err = rc < 0 ? errno : 0;
		if (budget)
			real.setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &saved_tv, sizeof(saved_tv));
		if (!rc) {
			outlier_success(r.backend, r.backend_port);
			return 0;
		}
		if (!failover_backend_failed(err)) {
			/* under way (EINPROGRESS) or the caller's own error */
			if (err != EINPROGRESS && err != EINTR && err != EALREADY && err != EISCONN)
				fdmap_clear(fd);
			errno = err;
			return -1;
		}
		failover__failed(fd, r.backend, r.backend_port, err, " failed (");
	}
	if (budget)
		real.setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &saved_tv, sizeof(saved_tv));
	fdmap_clear(fd);
	errno = err;
	return -1;
}

void failover_so_error(int fd, int err)
{
	struct fdmap_view v;

	if (!fdmap_get(fd, &v))
		return;
	if (!err) {
		if (atomic_load_explicit(&outlier_tracked, memory_order_relaxed))
			outlier_success(v.backend, v.backend_port);
		return;
	}
	if (!failover_backend_failed(err))
		return;
	/* read once: a later SO_ERROR (0 now) must not count as a success */
	fdmap_clear(fd);
	failover__failed(fd, v.backend, v.backend_port, err, " failed later (");
}
