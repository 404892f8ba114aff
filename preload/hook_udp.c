/* SPDX-License-Identifier: MIT */
/*
 * Datagrams to a UDP VIP from a socket that is not connected (DNS,
 * statsd and syslog clients), and the replies:
 *
 *  - sendto/sendmsg/sendmmsg naming a UDP VIP go to a backend chosen once
 *    per socket (per VIP: a socket is remembered with the last VIP it sent
 *    to), not per datagram: a request and its retries reach one server,
 *    and the replies can be told apart from anything else the socket gets.
 *  - recvfrom/recvmsg/recvmmsg show the VIP as the source of what that
 *    backend sends back, so clients that check the reply's source (most
 *    resolvers) accept it, as Cilium's socket load balancer does.
 *  - A socket whose backend has left the table (a new generation without
 *    it) gets a live one on its next datagram; a UDP socket connected to a
 *    VIP is re-pointed the same way on its next send/sendto/sendmsg.
 *
 * Everything else passes through: a datagram to an address that is not a
 * UDP VIP, TCP sockets (their sends never look at the table), receives on
 * sockets that never sent to a VIP.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"
#include "connect.h"
#include "fdmap.h"
#include "real.h"
#include "rng.h"
#include "route.h"
#include "socktype.h"
#include "state.h"
#include "trace.h"
#include "umem.h"

#define UDP_MMSG_CHUNK 64 /* sendmmsg messages rewritten at a time */
#define UDP_MMSG_MAX 1024  /* UIO_MAXIOV: the kernel's cap on one sendmmsg */

/* Whether backend:port is still a candidate of the VIP's service. */
static bool udp__candidate(const struct ldmesh_snap *s, const struct ldmesh_vip_slot *vip,
			   const uint8_t backend[16], uint16_t port)
{
	struct ldmesh_service svc;
	struct ldmesh_endpoint e;
	uint32_t first, n;

	if (!ldmesh_snap_service(s, vip->service, &svc))
		return false;
	n = ldmesh_snap_candidates(&svc, &first);
	for (uint32_t i = first; i < first + n; i++)
		if (ldmesh_snap_endpoint_port(s, &svc, i, vip->port_index) == port &&
		    ldmesh_snap_endpoint(s, i, &e) && !memcmp(e.addr, backend, 16))
			return true;
	return false;
}

static void udp__trace(int fd, const char *what, const struct ldmesh_snap *s,
		       const uint8_t a[16], uint16_t port, const struct route_result *r)
{
	struct trace_line l;

	trace_begin(&l, what);
	trace_i64(&l, fd);
	trace_str(&l, " ");
	trace_ipport(&l, a, port);
	trace_route(&l, s, r, false);
	trace_emit(&l);
}

enum udp_verdict { UDP_PASS, UDP_SEND, UDP_REFUSE };

/* The type of a socket our socket() hook did not see (inherited, or made
 * before the state existed). */
static bool udp__type(int fd, int *type)
{
	socklen_t len = sizeof(*type);
	int saved = errno;
	bool ok = real.getsockopt(fd, SOL_SOCKET, SO_TYPE, type, &len) == 0;

	errno = saved;
	return ok;
}

/*
 * Where a datagram from `fd` to `sa` goes: UDP_PASS (not a UDP VIP, or not
 * a datagram socket), UDP_REFUSE (a VIP without endpoints), or UDP_SEND with
 * the backend in *to.
 */
static enum udp_verdict udp__route(int fd, const struct sockaddr *sa, socklen_t len,
				   struct sockaddr_storage *to, socklen_t *to_len)
{
	struct preload_state *st;
	const struct ldmesh_snap *s;
	struct ldmesh_vip_slot vip;
	struct fdmap_view v;
	struct route_result r;
	uint8_t a[16];
	uint16_t port;
	int slot, type;

	/* a TCP socket's destination is not read at all (a sendto on a
	 * connected one ignores it; Fast Open goes through connect_fastopen) */
	if (socktype_get(fd) == SOCK_STREAM || !umem_sockaddr(sa, len, a, &port)) {
		(void)state_peek(); /* makes real.* usable */
		return UDP_PASS;
	}
	if (!(st = state_get()))
		return UDP_PASS;
	s = ldmesh_table_acquire(&st->table, &slot);
	if (!s)
		return UDP_PASS;
	if (!ldmesh_snap_find_vip(s, a, port, LDMESH_PROTO_UDP, &vip) ||
	    !((type = socktype_get(fd)) || udp__type(fd, &type)) || type != SOCK_DGRAM) {
		ldmesh_table_release(&st->table, slot);
		return UDP_PASS;
	}
	/* the socket's choice for this VIP, while it stays a candidate */
	if (fdmap_get(fd, &v) && (v.tag & FDMAP_TAG_UNCONNECTED) && v.family == sa->sa_family &&
	    v.vip_port == port && !memcmp(v.vip, a, 16) &&
	    ((v.tag ^ FDMAP_TAG_GEN(s->generation)) >> 8 == 0 ||
	     udp__candidate(s, &vip, v.backend, v.backend_port))) {
		if ((v.tag ^ FDMAP_TAG_GEN(s->generation)) >> 8)
			fdmap_set_tag(fd, FDMAP_TAG_UNCONNECTED | FDMAP_TAG_GEN(s->generation));
		ldmesh_table_release(&st->table, slot);
		*to_len = addr_to_sockaddr(sa->sa_family, v.backend, v.backend_port, to);
		return *to_len ? UDP_SEND : UDP_PASS;
	}
	/* once per socket, so a plain random pick: the socket is the unit of
	 * stickiness here, ClientIP affinity or not */
	route_pick_other(s, &vip, sa->sa_family, rng_next(), NULL, NULL, &r);
	if (trace_on())
		udp__trace(fd, "sendto fd=", s, a, port, &r);
	*to_len = r.verdict == ROUTE_REDIRECT
			  ? addr_to_sockaddr(sa->sa_family, r.backend, r.backend_port, to) : 0;
	if (*to_len)
		fdmap_set_datagram(fd, sa->sa_family, a, port, r.backend, r.backend_port,
				   FDMAP_TAG_UNCONNECTED | FDMAP_TAG_GEN(s->generation));
	ldmesh_table_release(&st->table, slot);
	return *to_len ? UDP_SEND : UDP_REFUSE;
}

/* A UDP socket connected to a VIP whose backend left the table: connect it
 * to a live one before it sends (a connect on UDP only re-points it). */
static void udp__repoint(struct preload_state *st, int fd)
{
	const struct ldmesh_snap *s;
	struct ldmesh_vip_slot vip;
	struct sockaddr_storage to;
	struct route_result r;
	struct fdmap_view v;
	socklen_t to_len;
	int slot;

	if (socktype_get(fd) != SOCK_DGRAM || !fdmap_get(fd, &v) ||
	    (v.tag & FDMAP_TAG_UNCONNECTED) || !(s = ldmesh_table_acquire(&st->table, &slot)))
		return;
	if (!((v.tag ^ FDMAP_TAG_GEN(s->generation)) >> 8) ||
	    !ldmesh_snap_find_vip(s, v.vip, v.vip_port, LDMESH_PROTO_UDP, &vip) ||
	    udp__candidate(s, &vip, v.backend, v.backend_port)) {
		fdmap_set_tag(fd, FDMAP_TAG_GEN(s->generation));
		ldmesh_table_release(&st->table, slot);
		return;
	}
	route_pick_other(s, &vip, v.family, rng_next(), NULL, NULL, &r);
	if (trace_on())
		udp__trace(fd, "send re-points fd=", s, v.vip, v.vip_port, &r);
	ldmesh_table_release(&st->table, slot);
	if (r.verdict != ROUTE_REDIRECT ||
	    !(to_len = addr_to_sockaddr(v.family, r.backend, r.backend_port, &to)))
		return; /* nothing live: the send goes where it went, and fails there */
	if (real.connect(fd, (struct sockaddr *)&to, to_len) == 0)
		fdmap_set_datagram(fd, v.family, v.vip, v.vip_port, r.backend, r.backend_port,
				   FDMAP_TAG_GEN(s->generation));
}

/*
 * The source of a datagram from the socket's backend reads as the VIP. The
 * kernel has written min(avail, *len) bytes of the real source at `src` and
 * set *len to its full length (so both are the program's writable memory);
 * the VIP replaces them within the same bounds. A name buffer shorter than
 * the address holds only its start (avail 4: family and port), so only
 * that start can be compared with the backend's.
 */
static void udp__reverse(const struct fdmap_view *v, void *src, socklen_t avail,
			 const socklen_t *len)
{
	struct sockaddr_storage vip, backend;
	socklen_t vlen, blen, n;
	uint8_t a[16];
	uint16_t port;

	vlen = addr_to_sockaddr(v->family, v->vip, v->vip_port, &vip);
	blen = addr_to_sockaddr(v->family, v->backend, v->backend_port, &backend);
	n = avail < *len ? avail : *len;
	/* same family, so the VIP's address is as long as the backend's */
	if (!vlen || *len != blen || vlen != blen)
		return;
	if (n == blen ? !addr_from_sockaddr(src, n, a, &port) || port != v->backend_port ||
			        memcmp(a, v->backend, 16)
		      : memcmp(src, &backend, n) != 0)
		return;
	memcpy(src, &vip, n);
}

/* The fd map's entry for a datagram socket whose receives may need the
 * VIP written in: one load for every other socket. */
static bool udp__tracked(int fd, struct fdmap_view *v)
{
	return state_peek() && fdmap_get(fd, v); /* real.* is usable either way */
}

LDMESH_EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags,
			     const struct sockaddr *sa, socklen_t len)
{
	struct sockaddr_storage to;
	socklen_t to_len;

	if (!sa) {
		/* send() on a connected socket, spelt as sendto */
		struct preload_state *st = state_peek(); /* real.* is usable either way */

		if (st)
			udp__repoint(st, fd);
		return real.sendto(fd, buf, n, flags, sa, len);
	}
	if (__builtin_expect(flags & MSG_FASTOPEN, 0) && socktype_get(fd) != SOCK_DGRAM) {
		switch (connect_fastopen(fd, sa, len, &to, &to_len)) {
		case CONNECT_REDIRECT:
			return connect_fastopen_sent(fd, real.sendto(fd, buf, n, flags,
								     (struct sockaddr *)&to, to_len));
		case CONNECT_REFUSE:
			errno = ECONNREFUSED;
			return -1;
		case CONNECT_PASS:
			return real.sendto(fd, buf, n, flags, sa, len);
		}
	}
	switch (udp__route(fd, sa, len, &to, &to_len)) {
	case UDP_SEND:
		return real.sendto(fd, buf, n, flags, (struct sockaddr *)&to, to_len);
	case UDP_REFUSE:
		errno = ECONNREFUSED;
		return -1;
	default:
		return real.sendto(fd, buf, n, flags, sa, len);
	}
}

LDMESH_EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags)
{
	struct preload_state *st = state_peek();

	if (st)
		udp__repoint(st, fd);
	return real.send(fd, buf, n, flags);
}

LDMESH_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	struct sockaddr_storage to;
	struct msghdr m;
	socklen_t to_len;

	/* a TCP socket's message is not read (Fast Open aside); a bad one
	 * is the kernel's to refuse */
	if ((socktype_get(fd) == SOCK_STREAM && !(flags & MSG_FASTOPEN)) ||
	    !umem_readable(msg, sizeof(*msg))) {
		(void)state_peek(); /* makes real.* usable */
		return real.sendmsg(fd, msg, flags);
	}
	if (!msg->msg_name) {
		struct preload_state *st = state_peek(); /* real.* is usable either way */

		if (st)
			udp__repoint(st, fd);
		return real.sendmsg(fd, msg, flags);
	}
	if (__builtin_expect(flags & MSG_FASTOPEN, 0) && socktype_get(fd) != SOCK_DGRAM) {
		switch (connect_fastopen(fd, msg->msg_name, msg->msg_namelen, &to, &to_len)) {
		case CONNECT_REDIRECT:
			m = *msg;
			m.msg_name = &to;
			m.msg_namelen = to_len;
			return connect_fastopen_sent(fd, real.sendmsg(fd, &m, flags));
		case CONNECT_REFUSE:
			errno = ECONNREFUSED;
			return -1;
		case CONNECT_PASS:
			return real.sendmsg(fd, msg, flags);
		}
	}
	switch (udp__route(fd, msg->msg_name, msg->msg_namelen, &to, &to_len)) {
	case UDP_SEND:
		m = *msg;
		m.msg_name = &to;
		m.msg_namelen = to_len;
		return real.sendmsg(fd, &m, flags);
	case UDP_REFUSE:
		errno = ECONNREFUSED;
		return -1;
	default:
		return real.sendmsg(fd, msg, flags);
	}
}

LDMESH_EXPORT int sendmmsg(int fd, struct mmsghdr *vec, unsigned int vlen,
			   real_mmsg_flags_t flags)
{
	struct mmsghdr chunk[UDP_MMSG_CHUNK];
	struct sockaddr_storage to[UDP_MMSG_CHUNK];
	unsigned done = 0, named = 0;
	struct preload_state *st = state_peek();
	bool readable;

	/* the kernel sends at most UIO_MAXIOV (1,024) messages a call */
	if (vlen > UDP_MMSG_MAX)
		vlen = UDP_MMSG_MAX;
	/* a vector the kernel cannot read is its to refuse, untouched */
	readable = st && socktype_get(fd) != SOCK_STREAM &&
		   umem_readable(vec, (size_t)vlen * sizeof(*vec));
	for (unsigned i = 0; readable && i < vlen && !named; i++)
		named = vec[i].msg_hdr.msg_name != NULL;
	if (!named || !st) {
		if (st)
			udp__repoint(st, fd);
		return real.sendmmsg(fd, vec, vlen, flags);
	}
	/* rewrite the names a chunk at a time; the kernel's count and each
	 * msg_len come back to the caller's vector */
	while (done < vlen) {
		unsigned k = vlen - done < UDP_MMSG_CHUNK ? vlen - done : UDP_MMSG_CHUNK;
		int sent;

		for (unsigned i = 0; i < k; i++) {
			socklen_t to_len;
			chunk[i] = vec[done + i];
			switch (udp__route(fd, chunk[i].msg_hdr.msg_name, chunk[i].msg_hdr.msg_namelen,
					   &to[i], &to_len)) {
			case UDP_SEND:
				chunk[i].msg_hdr.msg_name = &to[i];
				chunk[i].msg_hdr.msg_namelen = to_len;
				break;
			case UDP_REFUSE:
				/* a message the kernel cannot send either: stop
				 * before it, as the kernel stops at a failure */
				k = i;
				break;
			default:
				break;
			}
		}
		if (!k) {
			if (done)
				return (int)done;
			errno = ECONNREFUSED;
			return -1;
		}
		sent = real.sendmmsg(fd, chunk, k, flags);
		if (sent < 0)
			return done ? (int)done : -1;
		for (int i = 0; i < sent; i++)
			vec[done + (unsigned)i].msg_len = chunk[i].msg_len;
		done += (unsigned)sent;
		if ((unsigned)sent < k)
			break;
	}
	return (int)done;
}

/*
 * The receives let the kernel check the program's pointers first: the
 * rewrite happens only after the kernel wrote the source, within what it
 * wrote. The one value read before the call is the name buffer's room (the
 * kernel overwrites it), and only once it is known to be readable.
 */
LDMESH_EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *src,
			       socklen_t *len)
{
	struct fdmap_view v;
	socklen_t avail;
	ssize_t rc;

	if (!src || !udp__tracked(fd, &v) || !umem_readable(len, sizeof(*len)))
		return real.recvfrom(fd, buf, n, flags, src, len);
	avail = *len;
	rc = real.recvfrom(fd, buf, n, flags, src, len);
	if (rc >= 0)
		udp__reverse(&v, src, avail, len);
	return rc;
}

LDMESH_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	struct fdmap_view v;
	socklen_t avail;
	void *name;
	ssize_t rc;

	if (!udp__tracked(fd, &v) || !umem_readable(msg, sizeof(*msg)) || !msg->msg_name)
		return real.recvmsg(fd, msg, flags);
	name = msg->msg_name;
	avail = msg->msg_namelen;
	rc = real.recvmsg(fd, msg, flags);
	if (rc >= 0)
		udp__reverse(&v, name, avail, &msg->msg_namelen);
	return rc;
}

LDMESH_EXPORT int recvmmsg(int fd, struct mmsghdr *vec, unsigned int vlen,
			   real_mmsg_flags_t flags, struct timespec *timeout)
{
	socklen_t avail[UDP_MMSG_CHUNK];
	void *name[UDP_MMSG_CHUNK];
	unsigned k = vlen < UDP_MMSG_CHUNK ? vlen : UDP_MMSG_CHUNK;
	struct fdmap_view v;
	int rc;

	if (!udp__tracked(fd, &v) || !umem_readable(vec, k * sizeof(*vec)))
		return real.recvmmsg(fd, vec, vlen, flags, timeout);
	/* the names' room, for the first messages (a longer vector keeps the
	 * backend's address past them) */
	for (unsigned i = 0; i < k; i++) {
		name[i] = vec[i].msg_hdr.msg_name;
		avail[i] = vec[i].msg_hdr.msg_namelen;
	}
	rc = real.recvmmsg(fd, vec, vlen, flags, timeout);
	for (int i = 0; i < rc && i < (int)k; i++)
		if (name[i])
			udp__reverse(&v, name[i], avail[i], &vec[i].msg_hdr.msg_namelen);
	return rc;
}
