/* SPDX-License-Identifier: MIT */
/*
 * musl's getaddrinfo for a pod whose /etc/resolv.conf names a Service VIP
 * as its nameserver (issue 24, item 3). musl sends its DNS queries with
 * internal calls no preload sees (__res_msend_rc), so without kube-proxy
 * every outside name would fail with ENETUNREACH, and musl keeps no
 * resolver state to steer as glibc's _res is. For that case alone the
 * lookup (getaddrinfo, gethostbyname*, res_query) is done here, as musl
 * 1.2.3 does it (src/network/getaddrinfo.c,
 * lookup_name.c, lookup_serv.c, res_msend.c, resolvconf.c): resolv.conf
 * read as __get_resolv_conf reads it, the search list and ndots, A and
 * AAAA sent in parallel to every nameserver with musl's timeout and
 * attempts, the VIPs replaced by a live backend of their Service, the
 * replies parsed and the addresses sorted and returned as musl would.
 * Like musl 1.2.3, no TCP fallback: a truncated reply is used as it is.
 */
#ifndef LDMESH_PRELOAD_MRESOLV_H
#define LDMESH_PRELOAD_MRESOLV_H

#include <netdb.h>
#include <stdbool.h>

#include "export.h"

struct preload_state;

/*
 * getaddrinfo(name, service, h) when DNS would be asked and a nameserver
 * of /etc/resolv.conf is a UDP Service VIP of the table: true with *rc
 * musl's return (0 and *res, freed by freeaddrinfo, or an EAI_* code).
 * False when the call is musl's own (no table, no VIP nameserver, an
 * address literal, a name /etc/hosts holds): the caller passes it on.
 * glibc build: always false (resolver.c steers glibc's own resolver).
 */
bool mresolv_getaddrinfo(struct preload_state *st, const char *name, const char *service,
			 const struct addrinfo *h, struct addrinfo **res, int *rc) LDMESH_HIDDEN;

/*
 * musl's res_query (and res_search, the same there) of a name the table
 * does not answer, when a nameserver is a UDP Service VIP: true with the
 * reply in r->m (r->len bytes; 0: no reply came in time), for
 * resq_deliver_musl. False when it is musl's own to ask.
 */
struct resq_reply;
bool mresolv_res_query(struct preload_state *st, const char *name, int cls, int type,
		       struct resq_reply *r) LDMESH_HIDDEN;

/*
 * musl's gethostbyname2_r (gethostbyname_r is it with AF_INET) for a name
 * DNS answers, when a nameserver is a UDP Service VIP: true with *ret its
 * return (0, ENOENT, EAGAIN, ERANGE...), *res and *err set as musl sets
 * them. False when the call is musl's own (as mresolv_getaddrinfo). The
 * most `buf` needs: MRESOLV_HOSTENT_MAX.
 */
#define MRESOLV_HOSTENT_MAX (4 * sizeof(char *) + 49 * (sizeof(char *) + 16) + 2 * 256 + 8)
bool mresolv_gethostbyname2_r(struct preload_state *st, const char *name, int af,
			      struct hostent *h, char *buf, size_t buflen, struct hostent **res,
			      int *err, int *ret) LDMESH_HIDDEN;

/* Whether musl answers `name` without DNS: an address literal (inet_aton's
 * forms, or IPv6), or a name /etc/hosts holds. (glibc build: true.) */
bool mresolv_no_dns(const char *name) LDMESH_HIDDEN;

#endif
