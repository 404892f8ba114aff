/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "failover_fd.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "fdcount.h"
#include "fdmap.h"
#include "real.h"

/* SO_SNDTIMEO of `fd` in ns, 0 when unset. */
static uint64_t failover__sndtimeo(int fd, struct timeval *tv)
{
	socklen_t len = sizeof(*tv);

	if (real.getsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, tv, &len) < 0)
		return 0;
	return (uint64_t)tv->tv_sec * 1000000000ULL + (uint64_t)tv->tv_usec * 1000ULL;
}

int failover_connect(struct preload_state *st, int fd, int family, const uint8_t vip[16],
		     uint16_t vport, const struct route_result *first, int err, uint64_t t0)
{
	struct failover_caller who = { .tid = 0, .fd = fd };
	struct failover_run f;
	struct timeval saved_tv, tv;
	uint64_t budget = 0;

	failover_begin(&f, &who, family, vip, vport, st->cfg.connect_attempts, first, err);
	if (f.attempts > 1)
		budget = failover__sndtimeo(fd, &saved_tv);
	for (;;) {
		struct route_result r;
		struct sockaddr_storage ss;
		socklen_t sl;
		int rc;

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
		if (!failover_next(&f, &st->table, &r, &ss, &sl))
			break;
		fdmap_set_backend(fd, r.backend, r.backend_port);
		rc = real.connect(fd, (const struct sockaddr *)&ss, sl);
		err = rc < 0 ? errno : 0;
		if (budget)
			real.setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &saved_tv, sizeof(saved_tv));
		if (failover_outcome(&f, &r, err)) {
			if (!err) {
				fdcount_set(fd, ldmesh_tick() - t0, FDCOUNT_OPENED);
				return 0;
			}
			if (err == EINPROGRESS || err == EINTR)
				fdcount_set(fd, ldmesh_tick(), FDCOUNT_CONNECTING);
			if (err != EINPROGRESS && err != EINTR && err != EALREADY && err != EISCONN)
				fdmap_clear(fd);
			errno = err;
			return -1;
		}
	}
	if (budget)
		real.setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &saved_tv, sizeof(saved_tv));
	fdmap_clear(fd);
	errno = f.err;
	return -1;
}

void failover_so_error(int fd, int err)
{
	struct failover_caller who = { .tid = 0, .fd = fd };
	struct fdmap_view v;

	if (!fdmap_get(fd, &v))
		return;
	if (err && !failover_backend_failed(err))
		return;
	/* read once: a later SO_ERROR (0 now) must not count as a success */
	if (err) {
		fdmap_clear(fd);
		fdcount_forget(fd);
	} else {
		fdcount_connected(fd);
	}
	failover_learnt(&who, v.vip, v.vip_port, v.backend, v.backend_port, err);
}
