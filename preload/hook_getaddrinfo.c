/* SPDX-License-Identifier: MIT */
/*
 * getaddrinfo/freeaddrinfo: service names answer from the table, a cluster
 * name the table lacks answers EAI_NONAME at once, everything else (and
 * every call whose hints glibc would reject) goes to the real resolver,
 * which then also produces glibc's own error codes.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <resolv.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gai.h"
#include "lookup.h"
#include "mresolv.h"
#include "real.h"
#include "state.h"
#include "trace.h"

/* Hints that glibc rejects (or numeric-only requests) are never ours. */
static bool hook_gai__ours(const char *name, const struct addrinfo *h)
{
	if (!name)
		return false;
	if (h->ai_flags & ~GAI_KNOWN_FLAGS)
		return false;
	if (h->ai_flags & AI_NUMERICHOST)
		return false;
	return h->ai_family == AF_UNSPEC || h->ai_family == AF_INET ||
	       h->ai_family == AF_INET6;
}

static void hook_gai__trace(const char *name, const struct lookup_result *r,
			    int rc)
{
	struct trace_line l;

	trace_begin(&l, "getaddrinfo ");
	trace_str(&l, name);
	lookup_trace(&l, r);
	if (rc) {
		trace_str(&l, " error=");
		trace_str(&l, gai_strerror(rc));
	}
	trace_emit(&l);
}

#ifdef __GLIBC__
/* glibc's resolver is steered in its own state (resolver.c): its own. */
static int hook_gai__real(struct preload_state *st, const char *name, const char *service,
			  const struct addrinfo *hints, struct addrinfo **res)
{
	(void)st;
	return real.getaddrinfo(name, service, hints, res);
}

/*
 * The real getaddrinfo without the resolv.conf search list, for a name the
 * table already knows is in none of the (cluster) search domains. glibc's
 * resolver state is per thread (__res_state), so clearing RES_DNSRCH and
 * RES_DEFNAMES around the call changes this call alone; /etc/hosts and the
 * other NSS sources see the name unchanged.
 */
static int hook_gai__real_no_search(struct preload_state *st, const char *name,
				    const char *service, const struct addrinfo *hints,
				    struct addrinfo **res)
{
	unsigned long saved;

	(void)st;
	int rc;

	if (!(_res.options & RES_INIT) && res_init() < 0)
		return real.getaddrinfo(name, service, hints, res);
	saved = _res.options;
	_res.options &= ~(unsigned long)(RES_DNSRCH | RES_DEFNAMES);
	rc = real.getaddrinfo(name, service, hints, res);
	_res.options = saved;
	return rc;
}
#else
/* musl's getaddrinfo; when DNS would be asked through a nameserver that
 * is a Service VIP, the lookup done as musl does it (mresolv.c): musl's
 * own internal sends cannot reach a VIP without kube-proxy. */
static int hook_gai__real(struct preload_state *st, const char *name, const char *service,
			  const struct addrinfo *hints, struct addrinfo **res)
{
	static const struct addrinfo none; /* musl's NULL hints */
	int rc;

	if (!mresolv_no_dns(name) &&
	    mresolv_getaddrinfo(st, name, service, hints ? hints : &none, res, &rc))
		return rc;
	return real.getaddrinfo(name, service, hints, res);
}

/*
 * The same for musl, whose getaddrinfo reads resolv.conf itself and has no
 * _res to steer. Its order is an address literal, then /etc/hosts, then
 * DNS; a name ending in a dot is its request for global scope (no search
 * list), but its hosts lookup compares the name as written. So literals and
 * names in /etc/hosts go as they are (DNS is never asked for them), and
 * anything else as an absolute name.
 */
static int hook_gai__real_no_search(struct preload_state *st, const char *name,
				    const char *service, const struct addrinfo *hints,
				    struct addrinfo **res)
{
	char absolute[256];
	size_t len = strlen(name);

	if (!len || name[len - 1] == '.' || len + 2 > sizeof(absolute) || mresolv_no_dns(name))
		return hook_gai__real(st, name, service, hints, res);
	memcpy(absolute, name, len);
	absolute[len] = '.';
	absolute[len + 1] = 0;
	return hook_gai__real(st, absolute, service, hints, res);
}
#endif

LDMESH_EXPORT int getaddrinfo(const char *name, const char *service,
			      const struct addrinfo *hints,
			      struct addrinfo **res)
{
	static const struct addrinfo defaults = { .ai_flags = GAI_DEFAULT_FLAGS };
	struct preload_state *st;
	const struct addrinfo *h = hints ? hints : &defaults;
	struct gai_tuple tuples[GAI_MAX_TUPLES];
	struct lookup_result r;
	unsigned nt = 0;
	int family = h->ai_family, rc, saved = errno;

	/* numeric hosts and hints glibc rejects need no state to pass */
	if (!hook_gai__ours(name, h)) {
		real_init();
		return real.getaddrinfo(name, service, hints, res);
	}
	st = state_get();
	if (!st)
		return real.getaddrinfo(name, service, hints, res);
	if (!state_lookup_name(st, name, &r) || r.status == LOOKUP_PASS) {
		bool skip = r.status == LOOKUP_PASS && r.skip_search;
		if (trace_on()) {
			struct trace_line l;
			trace_begin(&l, "getaddrinfo ");
			trace_str(&l, name);
			lookup_trace(&l, &r);
			trace_emit(&l);
		}
		return skip ? hook_gai__real_no_search(st, name, service, hints, res)
			    : hook_gai__real(st, name, service, hints, res);
	}
	if (r.status == LOOKUP_EXTERNAL) {
		if (trace_on()) {
			hook_gai__trace(name, &r, 0);
			trace_stack(1);
		}
		/* a CNAME: the target's own answer, canonical name and all */
		return hook_gai__real(st, r.canon, service, hints, res);
	}

	/* glibc's order of checks: AI_ADDRCONFIG, the service (whose
	 * AI_NUMERICSERV failure is the same EAI_NONAME), then the name */
	if (h->ai_flags & AI_ADDRCONFIG) {
		bool v4, v6;
		gai_addrconfig(&v4, &v6);
		if (family == AF_UNSPEC && (v4 || v6)) {
			if (v4 != v6)
				family = v4 ? AF_INET : AF_INET6;
		} else if ((family == AF_INET && !v4) ||
			   (family == AF_INET6 && !v6)) {
			rc = EAI_NONAME;
			goto out;
		}
	}
	rc = gai_service(service, h, tuples, &nt);
	if (rc)
		goto out;
	if (r.status == LOOKUP_NOTFOUND) {
		rc = EAI_NONAME;
		goto out;
	}
	rc = gai_build(&r, family, h->ai_flags, tuples, nt, res);
out:
	if (trace_on()) {
		hook_gai__trace(name, &r, rc);
		trace_stack(1);
	}
	errno = saved;
	return rc;
}

LDMESH_EXPORT void freeaddrinfo(struct addrinfo *ai)
{
	/* our results may outlive a disabled state: check them first */
	real_init();
	if (gai_is_ours(ai)) {
		gai_free(ai);
		return;
	}
	real.freeaddrinfo(ai);
}
