/* SPDX-License-Identifier: MIT */
/*
 * musl's getaddrinfo for a pod whose /etc/resolv.conf names a Service VIP
 * as its nameserver (issue 24, item 3). musl sends its DNS queries with
 * internal calls no preload sees (__res_msend_rc), so without kube-proxy
 * every outside name would fail with ENETUNREACH, and musl keeps no
 * resolver state to steer as glibc's _res is. For that case alone the
 * lookup is done here, as musl 1.2.3 does it (src/network/getaddrinfo.c,
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

#endif
