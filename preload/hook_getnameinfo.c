/* SPDX-License-Identifier: MIT */
/*
 * getnameinfo on a ClusterIP or an address of a headless service's
 * endpoint: the host name from the table's reverse names (lookup_addr), in
 * process, where without the preload the resolver would ask DNS (and,
 * with a ClusterIP nameserver and no kube-proxy, time out). Everything
 * else, and the service part always, is the real getnameinfo's.
 *
 * glibc's contract for what we answer: the host name, or EAI_OVERFLOW when
 * `hostlen` cannot hold it with its NUL; NI_NUMERICHOST is never ours;
 * NI_NOFQDN keeps the first label (glibc strips the host's own domain; a
 * pod's names are all in the cluster's, so the first label is what such a
 * caller wants); NI_NAMEREQD is met.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"
#include "lookup.h"
#include "real.h"
#include "state.h"
#include "trace.h"

static void hook_gni__trace(const uint8_t addr[16], const struct lookup_result *r)
{
	struct trace_line l;

	if (!trace_on())
		return;
	trace_begin(&l, "getnameinfo");
	trace_str(&l, " ");
	trace_ip(&l, addr);
	lookup_trace_addr(&l, r);
	trace_emit(&l);
}

LDMESH_EXPORT int getnameinfo(const struct sockaddr *sa, socklen_t salen, char *host,
			      socklen_t hostlen, char *serv, socklen_t servlen, int flags)
{
	struct preload_state *st = state_get();
	struct lookup_result r;
	uint8_t addr[16];
	uint16_t port;
	size_t len;
	int saved = errno;

	if (!st || !host || !hostlen || (flags & NI_NUMERICHOST) ||
	    !addr_from_sockaddr(sa, salen, addr, &port))
		return real.getnameinfo(sa, salen, host, hostlen, serv, servlen, flags);
	state_lookup_addr(st, addr, &r);
	hook_gni__trace(addr, &r);
	if (r.status != LOOKUP_FOUND)
		return real.getnameinfo(sa, salen, host, hostlen, serv, servlen, flags);
	len = r.canon_len;
	if (flags & NI_NOFQDN) {
		const char *dot = memchr(r.canon, '.', len);
		if (dot)
			len = (size_t)(dot - r.canon);
	}
	if (len + 1 > hostlen)
		return EAI_OVERFLOW;
	if (serv && servlen) {
		int rc = real.getnameinfo(sa, salen, NULL, 0, serv, servlen, flags & ~NI_NAMEREQD);
		if (rc)
			return rc;
	}
	memcpy(host, r.canon, len);
	host[len] = 0;
	errno = saved;
	return 0;
}
