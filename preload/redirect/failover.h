/* SPDX-License-Identifier: MIT */
/*
 * Connect failover and outlier ejection, off the connect path's hot line:
 * nothing here runs while every connect succeeds and no backend is ejected.
 *
 *  - A connect to a redirected backend that is refused, reset or
 *    unreachable is tried again on another candidate of the same service
 *    port, inside the same call, up to LDMESH_CONNECT_ATTEMPTS backends in
 *    all; SO_SNDTIMEO, when set, bounds the whole call. The caller sees one
 *    connect: the first that succeeds (or is under way: EINPROGRESS), or
 *    the last error.
 *  - Each failure counts toward the backend's ejection (outlier.h), and so
 *    does one a non-blocking connect reports later through SO_ERROR; each
 *    is counted and reported to the agent (counts.h).
 *  - While some backend is ejected, picks pass over ejected backends.
 */
#ifndef LDMESH_PRELOAD_FAILOVER_H
#define LDMESH_PRELOAD_FAILOVER_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config.h"
#include "export.h"
#include "ldmesh/reader.h"
#include "route.h"

/* Whether a connect error says the backend failed (not the caller). */
static inline bool failover_backend_failed(int err)
{
	switch (err) {
	case ECONNREFUSED:
	case ECONNRESET:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case EHOSTDOWN:
	case ETIMEDOUT:
	/* the address went away (a redirected connect's address is ours,
	 * never the caller's mistake) */
	case EINVAL:
		return true;
	default:
		return false;
	}
}

/* Pick again passing over ejected backends (only called while some are). */
void failover_avoid_ejected(const struct ldmesh_snap *s, const struct ldmesh_vip_slot *vip,
			    int family, struct route_result *r) LDMESH_HIDDEN;

/* Who made the call, for trace lines: the preload's own process (tid 0,
 * "connect fd=N ...") or a thread under ldmesh-exec ("exec pid=T connect
 * fd=N ..."); `fd` is the caller's descriptor number. */
struct failover_caller {
	int tid;
	int fd;
};

/*
 * One call's failover, step by step, so the preload (which connects inline)
 * and ldmesh-exec (which may finish a connect later, on another thread)
 * run the same rules and write the same lines:
 *
 *   failover_begin(&f, ...);              the first backend failed
 *   while (failover_next(&f, t, &r, &ss, &sl)) {
 *           err = <connect to ss>;
 *           if (failover_outcome(&f, &r, err))
 *                   return err;           done: connected, under way, or
 *   }                                     the caller's own error
 *   return f.err;                         every candidate failed
 */
struct failover_run {
	struct failover_caller who;
	int family;
	uint8_t vip[16];
	uint16_t vport;
	unsigned attempts;  /* backends in all, the first included */
	unsigned n;         /* tried so far */
	uint8_t tried[CONFIG_ATTEMPTS_MAX][16];
	uint16_t tried_port[CONFIG_ATTEMPTS_MAX];
	int err;            /* the last attempt's error */
};

/* The redirected connect (to `vip`:`vport`, dialled as `family`) to
 * first->backend failed with `err`, a backend failure: counted toward its
 * ejection and traced. */
void failover_begin(struct failover_run *f, const struct failover_caller *who, int family,
		    const uint8_t vip[16], uint16_t vport, unsigned attempts,
		    const struct route_result *first, int err) LDMESH_HIDDEN;

/* The next backend to try (neither tried nor ejected), traced as a retry:
 * true with it in *r and its address in *ss (*sl bytes); false when none
 * is left, f->err then being the call's answer. */
bool failover_next(struct failover_run *f, struct ldmesh_table *t, struct route_result *r,
		   struct sockaddr_storage *ss, socklen_t *sl) LDMESH_HIDDEN;

/* The attempt at r->backend ended with `err` (0: connected). True when
 * that ends the call with `err` (connected, under way, or an error that is
 * not the backend's); false when it was a backend failure (counted, traced)
 * and the next may be tried. */
bool failover_outcome(struct failover_run *f, const struct route_result *r,
		      int err) LDMESH_HIDDEN;

/* How a connect to the redirected backend `addr`:`port` (dialled as
 * `vip`:`vport`) ended, learnt after
 * the call (SO_ERROR, a repeated connect): a backend failure counts toward
 * its ejection (traced "failed later"), 0 clears its run of failures;
 * anything else says nothing of the backend. */
void failover_learnt(const struct failover_caller *who, const uint8_t vip[16], uint16_t vport,
		     const uint8_t addr[16], uint16_t port, int err) LDMESH_HIDDEN;

#endif
