/* SPDX-License-Identifier: MIT */
/*
 * gethostbyname, gethostbyname2, gethostbyaddr and their _r forms with
 * glibc's contract:
 * the _r forms return 0 with *result NULL and *h_errnop HOST_NOT_FOUND or
 * NO_DATA when there is no answer, ERANGE (h_errno NETDB_INTERNAL) when the
 * buffer is short; the others set h_errno and return NULL. glibc shares one
 * static buffer between threads; ours is per thread, which is safer and
 * otherwise the same contract (valid until this thread's next call).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"
#include "hostent.h"
#include "lookup.h"
#include "mresolv.h"
#include "real.h"
#include "state.h"
#include "trace.h"

static __thread struct {
	struct hostent he;
	char buf[HOSTENT_BUF_MAX];
} hook_ghbn__tls;

static void hook_ghbn__trace(const char *fn, const char *name,
			     const struct lookup_result *r)
{
	struct trace_line l;

	if (!trace_on())
		return;
	trace_begin(&l, fn);
	trace_str(&l, " ");
	trace_str(&l, name);
	if (r)
		lookup_trace(&l, r);
	else
		trace_str(&l, " pass");
	trace_emit(&l);
}

_Static_assert(HOSTENT_BUF_MAX >= MRESOLV_HOSTENT_MAX, "musl's largest answer fits");

/* musl: a name DNS answers through a nameserver that is a Service VIP,
 * looked up in process as musl would (mresolv.h); false: musl's own. */
static bool hook_ghbn__dns(const char *name, int af, struct hostent *ret, char *buf,
			   size_t buflen, struct hostent **result, int *h_errnop, int *rc)
{
	struct preload_state *st = state_peek();

	return st && mresolv_gethostbyname2_r(st, name, af, ret, buf, buflen, result, h_errnop, rc);
}

/* The same into this thread's buffer, for the forms that return it. */
static bool hook_ghbn__dns_tls(const char *name, int af, struct hostent **res)
{
	int rc;

	if (!hook_ghbn__dns(name, af, &hook_ghbn__tls.he, hook_ghbn__tls.buf,
			    sizeof(hook_ghbn__tls.buf), res, &h_errno, &rc))
		return false;
	if (rc)
		*res = NULL;
	return true;
}

/* LOOKUP_PASS when there is no table or the name is not ours. */
static void hook_ghbn__lookup(const char *name, struct lookup_result *r)
{
	struct preload_state *st = state_get();

	r->status = LOOKUP_PASS;
	r->skip_search = r->incomplete = false;
	if (st && name)
		state_lookup_name(st, name, r);
}

/* The _r contract for a name the lookup answered (FOUND or NOTFOUND). */
static int hook_ghbn__answer_r(const struct lookup_result *r, int af,
			       struct hostent *ret, char *buf, size_t buflen,
			       struct hostent **result, int *h_errnop)
{
	int rc;

	*result = NULL;
	if (r->status == LOOKUP_NOTFOUND) {
		*h_errnop = HOST_NOT_FOUND;
		errno = 0;
		return 0;
	}
	rc = hostent_fill(r, af, ret, buf, buflen);
	if (rc == ERANGE) {
		*h_errnop = NETDB_INTERNAL;
		errno = ERANGE;
		return ERANGE;
	}
	if (rc) {
		*h_errnop = NO_DATA;
		errno = 0;
		return 0;
	}
	*result = ret;
	*h_errnop = NETDB_SUCCESS;
	errno = 0;
	return 0;
}

static struct hostent *hook_ghbn__answer(const struct lookup_result *r, int af)
{
	struct hostent *res = NULL;
	int herr = 0, saved = errno;

	hook_ghbn__answer_r(r, af, &hook_ghbn__tls.he, hook_ghbn__tls.buf,
			    sizeof(hook_ghbn__tls.buf), &res, &herr);
	/* the buffer holds any answer, so never ERANGE here */
	h_errno = herr;
	errno = saved;
	return res;
}

LDMESH_EXPORT struct hostent *gethostbyname2(const char *name, int af)
{
	struct lookup_result r;

	hook_ghbn__lookup(name, &r);
	if (r.status == LOOKUP_PASS || (af != AF_INET && af != AF_INET6)) {
		struct hostent *res;
		if (r.status == LOOKUP_PASS)
			hook_ghbn__trace("gethostbyname2", name ? name : "", &r);
		if (r.status == LOOKUP_PASS && hook_ghbn__dns_tls(name, af, &res))
			return res;
		return real.gethostbyname2(name, af);
	}
	hook_ghbn__trace("gethostbyname2", name, &r);
	trace_stack(1);
	if (r.status == LOOKUP_EXTERNAL) {
		struct hostent *res;
		if (hook_ghbn__dns_tls(r.canon, af, &res))
			return res;
		return real.gethostbyname2(r.canon, af);
	}
	return hook_ghbn__answer(&r, af);
}

LDMESH_EXPORT struct hostent *gethostbyname(const char *name)
{
	struct lookup_result r;

	hook_ghbn__lookup(name, &r);
	if (r.status == LOOKUP_PASS || r.status == LOOKUP_EXTERNAL) {
		const char *asked = r.status == LOOKUP_PASS ? name : r.canon;
		struct hostent *res;
		hook_ghbn__trace("gethostbyname", name ? name : "", &r);
		if (r.status == LOOKUP_EXTERNAL)
			trace_stack(1);
		if (hook_ghbn__dns_tls(asked, AF_INET, &res))
			return res;
		return real.gethostbyname(asked);
	}
	return hook_ghbn__answer(&r, AF_INET);
}

LDMESH_EXPORT int gethostbyname2_r(const char *name, int af,
				   struct hostent *ret, char *buf,
				   size_t buflen, struct hostent **result,
				   int *h_errnop)
{
	struct lookup_result r;

	hook_ghbn__lookup(name, &r);
	if (r.status == LOOKUP_PASS || (af != AF_INET && af != AF_INET6)) {
		int rc;
		if (r.status == LOOKUP_PASS)
			hook_ghbn__trace("gethostbyname2_r", name ? name : "", &r);
		if (r.status == LOOKUP_PASS &&
		    hook_ghbn__dns(name, af, ret, buf, buflen, result, h_errnop, &rc))
			return rc;
		return real.gethostbyname2_r(name, af, ret, buf, buflen,
					     result, h_errnop);
	}
	hook_ghbn__trace("gethostbyname2_r", name, &r);
	trace_stack(1);
	if (r.status == LOOKUP_EXTERNAL) {
		int rc;
		if (hook_ghbn__dns(r.canon, af, ret, buf, buflen, result, h_errnop, &rc))
			return rc;
		return real.gethostbyname2_r(r.canon, af, ret, buf, buflen,
					     result, h_errnop);
	}
	return hook_ghbn__answer_r(&r, af, ret, buf, buflen, result, h_errnop);
}

LDMESH_EXPORT int gethostbyname_r(const char *name, struct hostent *ret,
				  char *buf, size_t buflen,
				  struct hostent **result, int *h_errnop)
{
	struct lookup_result r;

	hook_ghbn__lookup(name, &r);
	if (r.status == LOOKUP_PASS || r.status == LOOKUP_EXTERNAL) {
		const char *asked = r.status == LOOKUP_PASS ? name : r.canon;
		int rc;
		hook_ghbn__trace("gethostbyname_r", name ? name : "", &r);
		if (r.status == LOOKUP_EXTERNAL)
			trace_stack(1);
		if (hook_ghbn__dns(asked, AF_INET, ret, buf, buflen, result, h_errnop, &rc))
			return rc;
		return real.gethostbyname_r(asked, ret, buf, buflen, result, h_errnop);
	}
	return hook_ghbn__answer_r(&r, AF_INET, ret, buf, buflen, result,
				   h_errnop);
}

/* The address gethostbyaddr was given, if it is one the table may name:
 * AF_INET with 4 bytes or AF_INET6 with 16 (not IPv4-mapped: glibc
 * answers those with an IPv4 lookup of its own). */
static bool hook_ghba__addr(const void *addr, socklen_t len, int type, uint8_t out[16])
{
	if (!addr)
		return false;
	if (type == AF_INET && len == 4) {
		addr_from_v4(out, addr);
		return true;
	}
	if (type == AF_INET6 && len == 16) {
		memcpy(out, addr, 16);
		return !addr_is_v4(out);
	}
	return false;
}

/* LOOKUP_PASS unless the table names the address. */
static void hook_ghba__lookup(const char *fn, const void *addr, socklen_t len, int type,
			      struct lookup_result *r)
{
	struct preload_state *st = state_get();
	struct trace_line l;
	uint8_t a[16];

	r->status = LOOKUP_PASS;
	if (!st || !hook_ghba__addr(addr, len, type, a))
		return;
	state_lookup_addr(st, a, r);
	if (!trace_on())
		return;
	trace_begin(&l, fn);
	trace_str(&l, " ");
	trace_ip(&l, a);
	lookup_trace_addr(&l, r);
	trace_emit(&l);
}

LDMESH_EXPORT struct hostent *gethostbyaddr(const void *addr, socklen_t len, int type)
{
	struct lookup_result r;

	hook_ghba__lookup("gethostbyaddr", addr, len, type, &r);
	if (r.status != LOOKUP_FOUND)
		return real.gethostbyaddr(addr, len, type);
	return hook_ghbn__answer(&r, type);
}

LDMESH_EXPORT int gethostbyaddr_r(const void *addr, socklen_t len, int type,
				  struct hostent *ret, char *buf, size_t buflen,
				  struct hostent **result, int *h_errnop)
{
	struct lookup_result r;

	hook_ghba__lookup("gethostbyaddr_r", addr, len, type, &r);
	if (r.status != LOOKUP_FOUND)
		return real.gethostbyaddr_r(addr, len, type, ret, buf, buflen, result,
					    h_errnop);
	return hook_ghbn__answer_r(&r, type, ret, buf, buflen, result, h_errnop);
}
