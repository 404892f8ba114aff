/* SPDX-License-Identifier: MIT */
/*
 * connect(2): a connect to a service VIP goes to a live backend instead,
 * decided now. Anything else reaches the real connect with the caller's own
 * pointer and length. The path makes no allocation and takes no lock; it
 * asks the kernel a socket's type (getsockopt SO_TYPE) only for a socket it
 * did not see being made (socktype.h), and only once the address is a VIP.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "addr.h"
#include "connect.h"
#include "failover_fd.h"
#include "fdcount.h"
#include "fdmap.h"
#include "outlier.h"
#include "socktype.h"
#include "real.h"
#include "rng.h"
#include "route.h"
#include "state.h"
#include "trace.h"
#include "umem.h"

static void hook_connect__trace_pass(const char *what, int fd, const uint8_t a[16],
				    uint16_t port)
{
	struct trace_line l;

	trace_begin(&l, what);
	trace_i64(&l, fd);
	trace_str(&l, " ");
	trace_ipport(&l, a, port);
	trace_str(&l, " pass");
	trace_emit(&l);
}

static void hook_connect__trace(const char *what, int fd, const struct ldmesh_snap *s,
				const uint8_t a[16], uint16_t port,
				const struct route_result *r)
{
	struct trace_line l;

	trace_begin(&l, what);
	trace_i64(&l, fd);
	trace_str(&l, " ");
	trace_ipport(&l, a, port);
	trace_route(&l, s, r, true);
	trace_emit(&l);
}

/* The VIP slot for this socket's protocol into *vip, given what the TCP
 * probe found (have_tcp) or, failing that, the UDP one (have_udp). */
static inline __attribute__((always_inline)) bool hook_connect__slot(int fd, const struct ldmesh_snap *s,
			       const uint8_t a[16], uint16_t port, bool have_tcp,
			       bool have_udp, struct ldmesh_vip_slot *vip)
{
	int type = socktype_get(fd);

	/* Sockets made through our socket() hook are known; others (accepted,
	 * inherited) are asked. */
	if (!type) {
		socklen_t tl = sizeof(type);
		int saved = errno;

		if (real.getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0) {
			errno = saved; /* the real connect reports EBADF/ENOTSOCK */
			return false;
		}
	}
	if (type == SOCK_STREAM)
		return have_tcp;
	if (type == SOCK_DGRAM)
		return have_udp ||
		       ldmesh_snap_find_vip(s, a, port, LDMESH_PROTO_UDP, vip);
	return false;
}

/* The real connect to a backend already chosen for `fd` (the repeated
 * connect of a non-blocking one); the choice is forgotten when the kernel
 * says it failed for good, and a failure of the backend counts toward its
 * ejection, as an SO_ERROR read would. */
static int hook_connect__real(int fd, const struct sockaddr_storage *ss, socklen_t sl)
{
	int rc = real.connect(fd, (const struct sockaddr *)ss, sl), err;

	if (rc == 0)
		fdcount_connected(fd);
	if (rc < 0) {
		err = errno;
		if (err == EISCONN)
			fdcount_connected(fd);
		/* still connecting (or already connected): getpeername will
		 * see the backend, and a repeated connect must find it */
		if (failover_backend_failed(err))
			failover_so_error(fd, err);
		else if (err != EINPROGRESS && err != EINTR && err != EALREADY &&
			 err != EISCONN)
			fdmap_clear(fd);
		errno = err;
	}
	return rc;
}

static int hook_connect__again(int fd, const struct fdmap_view *prev,
			       const struct sockaddr_storage *ss, socklen_t sl)
{
	if (trace_on()) {
		struct trace_line l;

		trace_begin(&l, "connect fd=");
		trace_i64(&l, fd);
		trace_str(&l, " again -> ");
		trace_ipport(&l, prev->backend, prev->backend_port);
		trace_str(&l, " (the backend chosen first)");
		trace_emit(&l);
	}
	return hook_connect__real(fd, ss, sl);
}

/* The redirected connect failed (errno): a TCP backend that refused,
 * reset or is unreachable gets another one in this same call (failover.h);
 * otherwise the kernel's answer stands. Out of line: the connect path
 * carries none of it. */
static int __attribute__((noinline, cold))
hook_connect__failed(struct preload_state *st, int fd, int family, const uint8_t vip[16],
		     uint16_t vport, uint8_t protocol, const struct route_result *r, uint64_t t0)
{
	int err = errno;

	if (protocol == LDMESH_PROTO_TCP && failover_backend_failed(err))
		return failover_connect(st, fd, family, vip, vport, r, err, t0);
	/* under way: its outcome is learnt later (SO_ERROR, close) */
	if (protocol == LDMESH_PROTO_TCP && (err == EINPROGRESS || err == EINTR))
		fdcount_set(fd, t0, FDCOUNT_CONNECTING);
	if (err != EINPROGRESS && err != EINTR && err != EALREADY && err != EISCONN)
		fdmap_clear(fd);
	errno = err;
	return -1;
}

/*
 * Where a connect (or a Fast Open send: `what` begins its trace line) of
 * `fd`, a `family` socket, to a:port goes. CONNECT_REDIRECT fills the
 * backend's address (*ss, *sl), the pick (*r, for failover) and the VIP's
 * protocol; the socket is not remembered yet. Inlined: it is the connect
 * path itself, and a call's prologue would cost every connect.
 */
static inline __attribute__((always_inline)) enum connect_verdict
hook_connect__decide(struct preload_state *st, const char *what, int fd, int family,
		     const uint8_t a[16], uint16_t port, struct route_result *r,
		     uint8_t *protocol, struct sockaddr_storage *ss, socklen_t *sl)
{
	const struct ldmesh_snap *s;
	struct ldmesh_vip_slot vip;
	uint8_t proto;
	int slot;

	s = ldmesh_table_acquire(&st->table, &slot);
	if (!s)
		goto pass;
	/* Most VIPs are TCP: the UDP probe waits until the socket says it is
	 * one, or the TCP probe missed. */
	proto = ldmesh_table_find_connect_vip(&st->table, s, a, port, &vip);
	if (!proto || !hook_connect__slot(fd, s, a, port, proto == LDMESH_PROTO_TCP,
					  proto == LDMESH_PROTO_UDP, &vip)) {
		ldmesh_table_release(&st->table, slot);
		goto pass;
	}
	/* from here on only the layer holding the service is read */
	s = ldmesh_snap_holder(s, &vip);
	route_pick(s, &vip, family, rng_next(), st->cfg.client_hash, r);
	/* one load while no backend is ejected */
	if (__builtin_expect(outlier_active(), 0) && r->verdict == ROUTE_REDIRECT)
		failover_avoid_ejected(s, &vip, family, r);
	*sl = r->verdict == ROUTE_REDIRECT
		      ? addr_to_sockaddr(family, r->backend, r->backend_port, ss) : 0;
	*protocol = vip.protocol;
	if (trace_on()) {
		hook_connect__trace(what, fd, s, a, port, r);
		trace_stack(1);
	}
	ldmesh_table_release(&st->table, slot);
	return *sl ? CONNECT_REDIRECT : CONNECT_REFUSE;

pass:
	if (trace_on()) {
		hook_connect__trace_pass(what, fd, a, port);
		trace_stack(1);
	}
	return CONNECT_PASS;
}

LDMESH_EXPORT int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct preload_state *st;
	struct fdmap_view prev;
	struct route_result r;
	struct sockaddr_storage ss;
	socklen_t sl = 0;
	uint8_t a[16];
	uint16_t port;
	uint64_t t0;
	uint8_t proto = 0;

	/* A socket's association changes with every connect (UDP re-connects,
	 * AF_UNSPEC dissolves): forget what it dialled before. Only an IP
	 * address can be a VIP, so only one makes the state (a unix socket's
	 * connect, to syslog or D-Bus, leaves it be). */
	if (!umem_sockaddr(sa, len, a, &port)) {
		if (state_peek())
			fdmap_clear(fd);
		return real.connect(fd, sa, len);
	}
	st = state_get();
	if (!st)
		return real.connect(fd, sa, len);
	/* The same VIP again on a socket whose redirect is under way: the
	 * non-blocking idiom (connect, EINPROGRESS, connect again until
	 * EISCONN) and a retry after EINTR. The kernel must be asked about
	 * the backend it is already connecting to, and getpeername keep
	 * answering the VIP: no second pick. (A UDP socket connecting again
	 * asks for a route afresh.) */
	if (__builtin_expect(fdmap_get(fd, &prev), 0)) {
		if (prev.family == sa->sa_family && prev.vip_port == port &&
		    !memcmp(prev.vip, a, 16) && socktype_get(fd) != SOCK_DGRAM) {
			sl = addr_to_sockaddr(sa->sa_family, prev.backend, prev.backend_port, &ss);
			if (sl)
				return hook_connect__again(fd, &prev, &ss, sl);
		}
		/* a fresh socket has nothing to forget (socket() cleared its
		 * number); this one dialled something else before */
		fdmap_clear(fd);
	}

	switch (hook_connect__decide(st, "connect fd=", fd, sa->sa_family, a, port, &r, &proto,
				     &ss, &sl)) {
	case CONNECT_PASS:
		return real.connect(fd, sa, len);
	case CONNECT_REFUSE:
		errno = ECONNREFUSED;
		return -1;
	case CONNECT_REDIRECT:
		break;
	}
	fdmap_set(fd, sa->sa_family, a, port, r.backend, r.backend_port);
	/* LDMESH_CONNECT_TIMEOUT: the kernel gives up the SYN itself, and
	 * the failover below tries the next backend; one system call that
	 * needs no undoing (it matters to no later send), where bounding the
	 * call by SO_SNDTIMEO would take three */
	if (proto == LDMESH_PROTO_TCP && st->cfg.connect_syncnt)
		real.setsockopt(fd, IPPROTO_TCP, TCP_SYNCNT, &st->cfg.connect_syncnt, sizeof(int));
	t0 = ldmesh_tick();
	if (__builtin_expect(real.connect(fd, (const struct sockaddr *)&ss, sl) == 0, 1)) {
		if (proto == LDMESH_PROTO_TCP)
			fdcount_set(fd, ldmesh_tick() - t0, FDCOUNT_OPENED);
		if (atomic_load_explicit(&outlier_tracked, memory_order_relaxed))
			outlier_success(r.backend, r.backend_port);
		return 0;
	}
	return hook_connect__failed(st, fd, sa->sa_family, a, port, proto, &r, t0);
}

enum connect_verdict connect_fastopen(int fd, const struct sockaddr *sa, socklen_t len,
				      struct sockaddr_storage *to, socklen_t *to_len)
{
	struct preload_state *st;
	struct fdmap_view prev;
	struct route_result r;
	enum connect_verdict v;
	uint8_t a[16], proto;
	uint16_t port;

	if (!umem_sockaddr(sa, len, a, &port) || !(st = state_get()))
		return CONNECT_PASS;
	/* a socket redirected already (connecting, or connected: the kernel
	 * says EALREADY or EISCONN, or sends) keeps its backend */
	if (fdmap_get(fd, &prev)) {
		if (prev.family == sa->sa_family && prev.vip_port == port && !memcmp(prev.vip, a, 16)) {
			*to_len = addr_to_sockaddr(sa->sa_family, prev.backend, prev.backend_port, to);
			return *to_len ? CONNECT_REDIRECT : CONNECT_PASS;
		}
		fdmap_clear(fd);
	}
	v = hook_connect__decide(st, "sendto MSG_FASTOPEN fd=", fd, sa->sa_family, a, port, &r,
				 &proto, to, to_len);
	if (v == CONNECT_REDIRECT) {
		fdmap_set(fd, sa->sa_family, a, port, r.backend, r.backend_port);
		fdcount_set(fd, ldmesh_tick(), FDCOUNT_CONNECTING);
	}
	return v;
}

ssize_t connect_fastopen_sent(int fd, ssize_t rc)
{
	int err = errno;

	/* no failover here: the data went with the first try, and a retry
	 * would have to send it again */
	if (rc < 0 && err != EINPROGRESS && err != EINTR && err != EALREADY && err != EISCONN &&
	    err != EAGAIN)
		fdmap_clear(fd);
	errno = err;
	return rc;
}
