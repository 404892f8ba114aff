/* SPDX-License-Identifier: MIT */
/*
 * res_query, res_search, res_nquery and res_nsearch for the cluster's
 * names: answered in process with the reply ldmesh-dns would send (the
 * same code, dnsanswer/answer.c, through resq.h), where without the
 * preload the resolver would ask DNS (and, with a ClusterIP nameserver and
 * no kube-proxy, time out). A name the table does not answer goes to the
 * real function untouched: outside the cluster domain, a name a table
 * marked incomplete lacks (LDMESH_SNAP_F_INCOMPLETE), an ExternalName.
 *
 * glibc 2.34 moved these into libc.so.6, where programs built since bind
 * res_query@GLIBC_2.34 and older ones __res_query@GLIBC_2.2.5 (resolv.h
 * once said "#define res_query __res_query"): both names are hooked, an
 * unversioned definition standing in for either version. musl has
 * res_query and res_search only (its res_search is res_query: no search
 * list) and no res_n* functions.
 *
 * res_n* are answered only for a state its program initialised (RES_INIT):
 * glibc itself reads an uninitialised one in ways that depend on the
 * release, so that is passed through. For the implicit state (_res) the
 * resolver initialises it on first use, and so does this hook, before it
 * reads search list, ndots and options from it.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <resolv.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mresolv.h"
#include "real.h"
#include "resolver.h"
#include "resq.h"
#include "rng.h"
#include "state.h"
#include "trace.h"

typedef int (*hook_resq__query_fn)(const char *, int, int, unsigned char *, int);
#ifdef __GLIBC__
typedef int (*hook_resq__nquery_fn)(res_state, const char *, int, int, unsigned char *, int);
#endif

static struct {
	hook_resq__query_fn query, search;
#ifdef __GLIBC__
	hook_resq__nquery_fn nquery, nsearch;
#endif
} hook_resq__real;
static pthread_once_t hook_resq__once = PTHREAD_ONCE_INIT;

/* Kept out of real.c: only these hooks call them, and a program that
 * never uses the resolver pays no dlsym for them. */
static void *hook_resq__sym(const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);

	if (!p || real_is_self(p)) {
		static const char msg[] = "ldmesh: fatal: dlsym(RTLD_NEXT) has no libc ";

		(void)!write(2, msg, sizeof(msg) - 1);
		(void)!write(2, name, strlen(name));
		(void)!write(2, "\n", 1);
		abort();
	}
	return p;
}

static void hook_resq__load(void)
{
	hook_resq__real.query = (hook_resq__query_fn)hook_resq__sym("res_query");
	hook_resq__real.search = (hook_resq__query_fn)hook_resq__sym("res_search");
#ifdef __GLIBC__
	hook_resq__real.nquery = (hook_resq__nquery_fn)hook_resq__sym("res_nquery");
	hook_resq__real.nsearch = (hook_resq__nquery_fn)hook_resq__sym("res_nsearch");
#endif
}

static void hook_resq__init(void)
{
	int saved = errno;

	real_init();
	pthread_once(&hook_resq__once, hook_resq__load);
	errno = saved;
}

static void hook_resq__trace(const char *fn, const char *name, int type,
			     const struct resq_reply *r, int ret)
{
	struct trace_line l;

	if (!trace_on())
		return;
	trace_begin(&l, fn);
	trace_str(&l, " ");
	trace_str(&l, name);
	trace_str(&l, " type=");
	trace_i64(&l, type);
	if (!r) {
		trace_str(&l, " pass");
	} else {
		trace_str(&l, " -> rcode=");
		trace_u64(&l, r->m[3] & 15);
		trace_str(&l, " an=");
		trace_u64(&l, (uint64_t)(r->m[6] << 8 | r->m[7]));
		trace_str(&l, " len=");
		trace_u64(&l, r->len);
		trace_str(&l, r->via_tcp ? " tcp" : " udp");
		trace_str(&l, " ret=");
		trace_i64(&l, ret);
		trace_str(&l, " gen=");
		trace_u64(&l, r->generation);
	}
	trace_emit(&l);
}

/* The table's reply to one name, or false (pass). */
static bool hook_resq__answer(struct preload_state *st, const char *name, int cls, int type,
			      const struct resq_opts *o, int anslen, struct resq_reply *r)
{
	const struct ldmesh_snap *s;
	bool ours;
	int slot;

	s = ldmesh_table_acquire(&st->table, &slot);
	if (!s)
		return false;
	ours = resq_answer(s, name, cls, type, o, anslen, rng_next(), r);
	ldmesh_table_release(&st->table, slot);
	return ours;
}

#ifdef __GLIBC__

/* Before the real resolver asks with the implicit state: its nameservers
 * that are Service VIPs pointed at live backends (resolver.h). */
static void hook_resq__steer(struct preload_state *st)
{
	const struct ldmesh_snap *s;
	int slot;

	s = ldmesh_table_acquire(&st->table, &slot);
	if (!s)
		return;
	resolver_steer(st, s);
	ldmesh_table_release(&st->table, slot);
}

/* RES_SET_H_ERRNO: the state's copy and the thread's. */
static void hook_resq__herr(res_state statp, int herr)
{
	statp->res_h_errno = herr;
	h_errno = herr;
}

static struct resq_opts hook_resq__opts(const struct __res_state *statp)
{
	return (struct resq_opts){
		.rd = statp->options & RES_RECURSE,
		.ad = statp->options & RES_TRUSTAD,
		.edns = statp->options & (RES_USE_EDNS0 | RES_USE_DNSSEC),
		.dnssec = statp->options & RES_USE_DNSSEC,
		.igntc = statp->options & RES_IGNTC,
		.tcp = true,
		.vc = statp->options & RES_USEVC,
	};
}

/* One name, glibc's __res_context_query: answered (*ours) or not. */
static int hook_resq__query(struct preload_state *st, res_state statp, const char *fn,
			    const char *name, int cls, int type, unsigned char *answer,
			    int anslen, bool *ours)
{
	struct resq_opts o = hook_resq__opts(statp);
	struct resq_reply r;
	struct resq_result res;

	*ours = hook_resq__answer(st, name, cls, type, &o, anslen, &r);
	if (!*ours)
		return 0;
	res = resq_deliver_glibc(&r, answer, anslen);
	if (res.err)
		errno = res.err;
	if (res.herr >= 0)
		hook_resq__herr(statp, res.herr);
	hook_resq__trace(fn, name, type, &r, res.ret);
	return res.ret;
}

/* The state the implicit functions use, initialised as the resolver
 * would on first use; NULL when that fails (pass: the real function
 * reports it). */
static res_state hook_resq__implicit(void)
{
	if (!(_res.options & RES_INIT) && res_init() < 0)
		return NULL;
	return &_res;
}

/* The real res_query, res_search, res_nquery or res_nsearch: by which
 * state the caller used, and whether it searches. `st` NULL: no table,
 * nothing to steer. */
static int hook_resq__real_call(struct preload_state *st, res_state statp, bool implicit,
				bool search, const char *name, int cls, int type,
				unsigned char *answer, int anslen)
{
	if (!implicit)
		return (search ? hook_resq__real.nsearch : hook_resq__real.nquery)(
			statp, name, cls, type, answer, anslen);
	if (st)
		hook_resq__steer(st);
	return (search ? hook_resq__real.search : hook_resq__real.query)(name, cls, type, answer,
									  anslen);
}

static int hook_resq__do_query(res_state statp, bool implicit, const char *fn, const char *name,
			       int cls, int type, unsigned char *answer, int anslen)
{
	struct preload_state *st;
	bool ours = false;
	int ret;

	hook_resq__init();
	st = state_get();
	if (st && name && statp && (statp->options & RES_INIT)) {
		ret = hook_resq__query(st, statp, fn, name, cls, type, answer, anslen, &ours);
		if (ours)
			return ret;
	}
	if (st && name)
		hook_resq__trace(fn, name, type, NULL, 0);
	return hook_resq__real_call(st, statp, implicit, false, name, cls, type, answer, anslen);
}

/* Whether the table answers any name the search would try. */
static bool hook_resq__search_ours(struct preload_state *st, const struct resq_search *p,
				   int cls, int type)
{
	const struct ldmesh_snap *s;
	char full[RESQ_NAME_MAX];
	bool ours = false;
	int slot;

	s = ldmesh_table_acquire(&st->table, &slot);
	if (!s)
		return false;
	for (unsigned i = 0; i < p->n && !ours; i++)
		ours = resq_search_name(p, i, full) && resq_owns(s, full, cls, type);
	ldmesh_table_release(&st->table, slot);
	return ours;
}

/*
 * glibc's __res_context_search (resolv/res_query.c) over the plan, each
 * try answered from the table or by the real res_query: the same names in
 * the same order, stopping where it stops, and the same h_errno at the end.
 */
static int hook_resq__run_search(struct preload_state *st, res_state statp, bool implicit,
				 const char *fn, const struct resq_search *p, int cls, int type,
				 unsigned char *answer, int anslen)
{
	int saved_herrno = -1, got_nodata = 0, got_servfail = 0, ret;
	char full[RESQ_NAME_MAX];
	bool done = false, ours;

	errno = 0;
	hook_resq__herr(statp, HOST_NOT_FOUND); /* true if we never query */
	for (unsigned i = 0; i < p->n; i++) {
		if (p->c[i].search && done)
			continue;
		if (!resq_search_name(p, i, full)) {
			hook_resq__herr(statp, NO_RECOVERY);
			ret = -1;
		} else {
			ret = hook_resq__query(st, statp, fn, full, cls, type, answer,
					       anslen, &ours);
			if (!ours)
				ret = hook_resq__real_call(st, statp, implicit, false, full, cls,
							   type, answer, anslen);
		}
		if (ret > 0 || (p->c[i].as_is_first && p->trailing_dot))
			return ret;
		if (p->c[i].as_is_first) {
			saved_herrno = h_errno;
			continue;
		}
		if (!p->c[i].search)
			break;
		if (errno == ECONNREFUSED) {
			hook_resq__herr(statp, TRY_AGAIN);
			return -1;
		}
		switch (statp->res_h_errno) {
		case NO_DATA:
			got_nodata++;
			break;
		case HOST_NOT_FOUND:
			break;
		case TRY_AGAIN:
			if (anslen >= 4 && (answer[3] & 15) == 2 /* SERVFAIL */) {
				got_servfail++;
				break;
			}
			done = true;
			break;
		default:
			done = true;
		}
	}
	if (saved_herrno != -1)
		hook_resq__herr(statp, saved_herrno);
	else if (got_nodata)
		hook_resq__herr(statp, NO_DATA);
	else if (got_servfail)
		hook_resq__herr(statp, TRY_AGAIN);
	return -1;
}

static int hook_resq__do_search(res_state statp, bool implicit, const char *fn,
				const char *name, int cls, int type, unsigned char *answer,
				int anslen)
{
	struct preload_state *st;
	struct resq_search p;

	hook_resq__init();
	st = state_get();
	if (!st || !name || !statp || !(statp->options & RES_INIT))
		goto pass;
	resq_search_plan(name, statp->ndots, statp->options & RES_DEFNAMES,
			 statp->options & RES_DNSRCH, statp->options & RES_NOTLDQUERY,
			 statp->dnsrch, MAXDNSRCH, &p);
	/* a HOSTALIASES alias replaces a name without dots: the real one reads it */
	if (!strchr(name, '.') && !(statp->options & RES_NOALIASES) && getenv("HOSTALIASES"))
		goto pass;
	if (!hook_resq__search_ours(st, &p, cls, type))
		goto pass;
	return hook_resq__run_search(st, statp, implicit, fn, &p, cls, type, answer, anslen);
pass:
	if (st && name)
		hook_resq__trace(fn, name, type, NULL, 0);
	return hook_resq__real_call(st, statp, implicit, true, name, cls, type, answer, anslen);
}

LDMESH_EXPORT int res_query(const char *name, int cls, int type, unsigned char *answer,
			    int anslen)
{
	hook_resq__init();
	return hook_resq__do_query(state_get() ? hook_resq__implicit() : &_res, true,
				   "res_query", name, cls, type, answer, anslen);
}

LDMESH_EXPORT int res_search(const char *name, int cls, int type, unsigned char *answer,
			     int anslen)
{
	hook_resq__init();
	return hook_resq__do_search(state_get() ? hook_resq__implicit() : &_res, true,
				    "res_search", name, cls, type, answer, anslen);
}

LDMESH_EXPORT int res_nquery(res_state statp, const char *name, int cls, int type,
			     unsigned char *answer, int anslen)
{
	return hook_resq__do_query(statp, false, "res_nquery", name, cls, type, answer, anslen);
}

LDMESH_EXPORT int res_nsearch(res_state statp, const char *name, int cls, int type,
			      unsigned char *answer, int anslen)
{
	return hook_resq__do_search(statp, false, "res_nsearch", name, cls, type, answer,
				    anslen);
}

/* The names programs built before glibc 2.34 bind (libresolv's then). */
LDMESH_EXPORT int __res_query(const char *name, int cls, int type, unsigned char *answer,
			      int anslen)
{
	return res_query(name, cls, type, answer, anslen);
}

LDMESH_EXPORT int __res_search(const char *name, int cls, int type, unsigned char *answer,
			       int anslen)
{
	return res_search(name, cls, type, answer, anslen);
}

LDMESH_EXPORT int __res_nquery(res_state statp, const char *name, int cls, int type,
			       unsigned char *answer, int anslen)
{
	return res_nquery(statp, name, cls, type, answer, anslen);
}

LDMESH_EXPORT int __res_nsearch(res_state statp, const char *name, int cls, int type,
				unsigned char *answer, int anslen)
{
	return res_nsearch(statp, name, cls, type, answer, anslen);
}

#else /* musl */

/* musl's res_query: no EDNS, no search, UDP (1.2.3, Debian 12's: no TCP
 * after a truncated reply), h_errno set, errno not. */
static int hook_resq__musl(const char *fn, hook_resq__query_fn realfn, const char *name,
			   int cls, int type, unsigned char *answer, int anslen)
{
	const struct resq_opts o = { .rd = true };
	struct preload_state *st;
	struct resq_reply r;
	struct resq_result res;
	bool table;

	hook_resq__init();
	st = state_get();
	if (!st || !name)
		return realfn(name, cls, type, answer, anslen);
	table = hook_resq__answer(st, name, cls, type, &o, 512, &r);
	if (!table) {
		hook_resq__trace(fn, name, type, NULL, 0);
		/* musl's own sends cannot reach a VIP nameserver: mresolv.h */
		if (!mresolv_res_query(st, name, cls, type, &r))
			return realfn(name, cls, type, answer, anslen);
		if (!r.len) {
			h_errno = TRY_AGAIN;
			return -1;
		}
	}
	res = resq_deliver_musl(&r, answer, anslen);
	if (res.herr >= 0)
		h_errno = res.herr;
	if (table)
		hook_resq__trace(fn, name, type, &r, res.ret);
	return res.ret;
}

LDMESH_EXPORT int res_query(const char *name, int cls, int type, unsigned char *answer,
			    int anslen)
{
	hook_resq__init();
	return hook_resq__musl("res_query", hook_resq__real.query, name, cls, type, answer,
			       anslen);
}

LDMESH_EXPORT int res_search(const char *name, int cls, int type, unsigned char *answer,
			     int anslen)
{
	hook_resq__init();
	return hook_resq__musl("res_search", hook_resq__real.search, name, cls, type, answer,
			       anslen);
}

#endif
