/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "failover.h"

#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include "addr.h"
#include "counts.h"
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

/* The start of a line about one call: "connect fd=N" for the preload's
 * own, "exec pid=T connect fd=N" for a call under ldmesh-exec (the form of
 * its other lines). */
static void failover__line(struct trace_line *l, const struct failover_caller *who)
{
	if (who->tid) {
		trace_begin(l, "exec pid=");
		trace_i64(l, who->tid);
		trace_str(l, " connect fd=");
	} else {
		trace_begin(l, "connect fd=");
	}
	trace_i64(l, who->fd);
}

/* The counters' key of a TCP connect through vip:vport to addr:port. */
static void failover__key(struct counts_key *k, const uint8_t vip[16], uint16_t vport,
			  const uint8_t addr[16], uint16_t port)
{
	memcpy(k->vip, vip, 16);
	memcpy(k->backend, addr, 16);
	k->vip_port = vport;
	k->backend_port = port;
	k->protocol = LDMESH_PROTO_TCP;
}

/* A backend failed a connect (through vip:vport): count it toward its
 * ejection and in the counters, report it to the agent, and say so when
 * that ejects it. */
static void failover__failed(const struct failover_caller *who, const uint8_t vip[16],
			     uint16_t vport, const uint8_t addr[16], uint16_t port, int err,
			     const char *how)
{
	uint64_t ejected = outlier_failure(addr, port, failover__now_ns());
	struct trace_line l;
	struct counts_key k;

	failover__key(&k, vip, vport, addr, port);
	counts_failure(&k, err);

	if (!trace_on())
		return;
	failover__line(&l, who);
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

/* What a pick passes over: the backends this call tried, and the ejected. */
struct failover__avoid {
	uint64_t now;
	const struct failover_run *f; /* NULL: none tried */
};

static bool failover__avoid(void *ctx, const uint8_t addr[16], uint16_t port)
{
	struct failover__avoid *a = ctx;

	for (unsigned i = 0; a->f && i < a->f->n; i++)
		if (a->f->tried_port[i] == port && !memcmp(a->f->tried[i], addr, 16))
			return true;
	return outlier_active() && outlier_is_ejected(addr, port, a->now);
}

void failover_avoid_ejected(const struct ldmesh_snap *s, const struct ldmesh_vip_slot *vip,
			    int family, struct route_result *r)
{
	struct failover__avoid a = { .now = failover__now_ns(), .f = NULL };
	struct route_result again;

	if (!failover__avoid(&a, r->backend, r->backend_port))
		return;
	/* at random among the others, so the ejected one's share spreads
	 * evenly (a ClientIP-sticky client moves too while it is out) */
	route_pick_other(s, vip, family, rng_next(), failover__avoid, &a, &again);
	/* every candidate ejected: the first pick stands (never none) */
	if (again.verdict == ROUTE_REDIRECT) {
		struct counts_key k;

		failover__key(&k, vip->addr, vip->port, r->backend, r->backend_port);
		k.protocol = vip->protocol;
		counts_ejected(&k);
		*r = again;
	}
}

static void failover__trace_retry(const struct failover_run *f, const struct ldmesh_snap *s,
				  const struct route_result *r)
{
	struct trace_line l;

	failover__line(&l, &f->who);
	trace_str(&l, " retry ");
	trace_u64(&l, f->n + 1);
	trace_str(&l, "/");
	trace_u64(&l, f->attempts);
	trace_str(&l, " -> ");
	trace_ipport(&l, r->backend, r->backend_port);
	trace_svc(&l, s, r->svc_ns, r->svc_name);
	trace_emit(&l);
}

static void failover__tried(struct failover_run *f, const uint8_t addr[16], uint16_t port)
{
	memcpy(f->tried[f->n], addr, 16);
	f->tried_port[f->n++] = port;
}

void failover_begin(struct failover_run *f, const struct failover_caller *who, int family,
		    const uint8_t vip[16], uint16_t vport, unsigned attempts,
		    const struct route_result *first, int err)
{
	f->who = *who;
	f->family = family;
	memcpy(f->vip, vip, 16);
	f->vport = vport;
	f->attempts = attempts < CONFIG_ATTEMPTS_MAX ? attempts : CONFIG_ATTEMPTS_MAX;
	f->n = 0;
	f->err = err;
	failover__tried(f, first->backend, first->backend_port);
	failover__failed(who, vip, vport, first->backend, first->backend_port, err, " failed (");
}

bool failover_next(struct failover_run *f, struct ldmesh_table *t, struct route_result *r,
		   struct sockaddr_storage *ss, socklen_t *sl)
{
	struct failover__avoid a = { .f = f };
	struct ldmesh_vip_slot slot;
	const struct ldmesh_snap *s;
	int k;

	if (f->n >= f->attempts)
		return false;
	s = ldmesh_table_acquire(t, &k);
	if (!s)
		return false;
	if (!ldmesh_snap_find_vip(s, f->vip, f->vport, LDMESH_PROTO_TCP, &slot)) {
		ldmesh_table_release(t, k);
		return false;
	}
	a.now = failover__now_ns();
	s = ldmesh_snap_holder(s, &slot);
	route_pick_other(s, &slot, f->family, rng_next(), failover__avoid, &a, r);
	/* everything tried (or ejected): the caller gets the last error */
	if (r->verdict != ROUTE_REDIRECT ||
	    !(*sl = addr_to_sockaddr(f->family, r->backend, r->backend_port, ss))) {
		ldmesh_table_release(t, k);
		return false;
	}
	if (trace_on())
		failover__trace_retry(f, s, r);
	ldmesh_table_release(t, k);
	{
		struct counts_key ck;

		failover__key(&ck, f->vip, f->vport, f->tried[f->n - 1], f->tried_port[f->n - 1]);
		counts_failover(&ck);
	}
	failover__tried(f, r->backend, r->backend_port);
	return true;
}

bool failover_outcome(struct failover_run *f, const struct route_result *r, int err)
{
	f->err = err;
	if (!err) {
		outlier_success(r->backend, r->backend_port);
		return true;
	}
	/* under way (EINPROGRESS) or the caller's own error */
	if (!failover_backend_failed(err))
		return true;
	failover__failed(&f->who, f->vip, f->vport, r->backend, r->backend_port, err, " failed (");
	return false;
}

void failover_learnt(const struct failover_caller *who, const uint8_t vip[16], uint16_t vport,
		     const uint8_t addr[16], uint16_t port, int err)
{
	if (!err) {
		if (atomic_load_explicit(&outlier_tracked, memory_order_relaxed))
			outlier_success(addr, port);
		return;
	}
	if (failover_backend_failed(err))
		failover__failed(who, vip, vport, addr, port, err, " failed later (");
}
