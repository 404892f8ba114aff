/* SPDX-License-Identifier: MIT */
/*
 * res_query and res_search against the table: the query the resolver
 * would send, answered by ldmesh-dns's own code (dnsanswer/answer.h), and
 * the reply handed over as the resolver would hand over what a server
 * sent. Pure: no I/O, no allocation, bounded stack buffers; the hooks
 * (hook_res_query.c) own the resolver state, h_errno and the real
 * functions.
 */
#ifndef LDMESH_PRELOAD_RESQ_H
#define LDMESH_PRELOAD_RESQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "export.h"
#include "ldmesh/reader.h"

/* The largest reply answered in-process (the resolver's TCP fallback
 * included): about 500 A records, a headless Service of that many ready
 * pods. Kept on the caller's stack, where a thread of musl's default
 * 128 KiB stack has room for it; a larger answer is left to the real
 * resolver (and the cluster's DNS). */
#define RESQ_REPLY_MAX 8192

/* What the caller's resolver state asks of a query (res_state options). */
struct resq_opts {
	bool rd;     /* RES_RECURSE: the RD bit */
	bool ad;     /* RES_TRUSTAD: the AD bit in the query */
	bool edns;   /* RES_USE_EDNS0 or RES_USE_DNSSEC: an OPT record */
	bool dnssec; /* RES_USE_DNSSEC: its DO bit */
	bool igntc;  /* RES_IGNTC: no TCP fallback after a truncated reply */
	bool tcp;    /* fall back to TCP after TC at all (glibc; not musl 1.2.3) */
	bool vc;     /* RES_USEVC: TCP from the start */
};

/* A query: header, a name of 255 bytes, type and class, OPT. */
#define RESQ_QUERY_MAX (12 + 255 + 4 + 11)

/* The query glibc's res_nmkquery (and res_nopt) would write (musl's
 * __res_mkquery is the same without EDNS, RD set, AD clear), its ID the
 * low 16 bits of `rnd`; 0 when the name cannot be written as we write
 * names (an escape, an empty or long label): the real resolver then says
 * what it makes of it. */
size_t resq_query(const char *name, uint16_t cls, uint16_t type, const struct resq_opts *o,
		  int anslen, uint64_t rnd, uint8_t q[RESQ_QUERY_MAX]) LDMESH_HIDDEN;

struct resq_reply {
	uint8_t m[RESQ_REPLY_MAX];
	size_t len;
	size_t question_end; /* header and question: what must reach the
	                        caller for the resolver to take the reply */
	bool via_tcp;        /* the reply a TCP retry got */
	uint64_t generation;
};

/*
 * The reply to (name, class, type) from snapshot `s`, as the resolver
 * would receive it from ldmesh-dns: over UDP with the payload size its
 * query offers (`anslen` bounds it with EDNS, as glibc's res_nopt), then
 * over TCP when truncated (unless o->igntc or !o->tcp), or over TCP
 * alone (o->vc). True with *r
 * filled when the table answers it (NOERROR or NXDOMAIN, from the
 * cluster's zone or a reverse name the table holds); false when the name
 * is not the table's to answer (ldmesh-dns would forward it), cannot be
 * put in a query as written (escapes, bad labels: the resolver says
 * what is wrong with it), is an ExternalName whose target lies outside,
 * or has a reply larger than RESQ_REPLY_MAX.
 */
bool resq_answer(const struct ldmesh_snap *s, const char *name, int cls, int type,
		 const struct resq_opts *o, int anslen, uint64_t rnd,
		 struct resq_reply *r) LDMESH_HIDDEN;

/* Whether resq_answer would answer (name, class, type) from `s`, on a
 * small stack: res_search asks it of every name it would try before it
 * decides to take the call at all. */
bool resq_owns(const struct ldmesh_snap *s, const char *name, int cls,
	       int type) LDMESH_HIDDEN;

/* What the caller gets: the return value, and the h_errno and errno to
 * set (0: leave errno as it is; herr -1: leave h_errno). */
struct resq_result {
	int ret;
	int herr;
	int err;
};

/*
 * glibc's res_query contract (resolv/res_query.c, res_send.c, 2.36) on a
 * reply copied into `answer` (`anslen` bytes): anslen below a header is
 * EINVAL; a TCP reply larger than anslen is cut, its TC bit set, and its
 * full length returned; a UDP one is cut and anslen returned, or, when
 * even its question is cut, never taken (the resolver waits it out:
 * ETIMEDOUT); then NXDOMAIN is -1 with HOST_NOT_FOUND and NOERROR without
 * answers -1 with NO_DATA.
 */
struct resq_result resq_deliver_glibc(const struct resq_reply *r, unsigned char *answer,
				      int anslen) LDMESH_HIDDEN;

/* musl's (src/network/res_query.c, res_send.c, res_msend.c of 1.2.3,
 * Debian 12's): the reply cut to anslen and that returned, less than a
 * header TRY_AGAIN, NXDOMAIN HOST_NOT_FOUND, no answers NO_DATA, errno
 * untouched. (musl 1.2.4 reads a short buffer's reply whole into one of
 * 512 bytes and returns its full length, and retries over TCP after TC;
 * this follows 1.2.3.) */
struct resq_result resq_deliver_musl(const struct resq_reply *r, unsigned char *answer,
				     int anslen) LDMESH_HIDDEN;

/* The names glibc's res_search tries for `name`, in its order
 * (resolv/res_query.c __res_context_search): as is first when it has
 * ndots dots or more, or ends in a dot; then under each search domain
 * (RES_DEFNAMES without dots, RES_DNSRCH with); as is last unless tried,
 * or the root was on the list, or RES_NOTLDQUERY and no dots. */
#define RESQ_SEARCH_MAX 8 /* MAXDNSRCH (6) + as is, with room */
#define RESQ_NAME_MAX 1025 /* NS_MAXDNAME */
struct resq_search {
	unsigned n;
	struct {
		const char *name;   /* the caller's */
		const char *domain; /* a search domain, or NULL: as is */
		bool as_is_first;   /* the first try as is: its h_errno is
		                       what a failed search reports */
		bool search;        /* a try under a search domain */
	} c[RESQ_SEARCH_MAX];
	bool defnames, dnsrch;      /* RES_DEFNAMES, RES_DNSRCH */
	bool trailing_dot;
};

/* `dnsrch` the search list (NULL-terminated, at most MAXDNSRCH used). */
void resq_search_plan(const char *name, unsigned ndots, bool defnames, bool dnsrch,
		      bool notldquery, char *const *dnsrch_list, unsigned max_domains,
		      struct resq_search *p) LDMESH_HIDDEN;

/* Candidate i's full name as glibc's __res_context_querydomain builds it
 * (a trailing dot of a name tried as is dropped); false when it is too
 * long (NO_RECOVERY there). */
bool resq_search_name(const struct resq_search *p, unsigned i,
		      char out[RESQ_NAME_MAX]) LDMESH_HIDDEN;

#endif
