/* SPDX-License-Identifier: MIT */
/*
 * Which FQDNs a name the application asked for may mean, in the order a
 * resolver tries them. Kubernetes forms (svc, svc.ns, svc.ns.svc,
 * svc.ns.svc.<domain>) come first for every relative name, whatever
 * resolv.conf says; then the resolv.conf search list, ordered by ndots as
 * glibc's res_search orders it. All in bounded stack buffers.
 */
#ifndef LDMESH_PRELOAD_NAMES_H
#define LDMESH_PRELOAD_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "export.h"

#define NAMES_MAX 253 /* RFC 1035 text form, without the root dot */
#define NAMES_BUF (NAMES_MAX + 1)

struct names_query {
	char name[NAMES_BUF]; /* lower-case, no trailing dot */
	size_t len;
	bool absolute;        /* the input ended in '.' */
	unsigned dots;        /* dots inside name */
};

/* False when `in` cannot be a name a table answers: empty, longer than 253
 * bytes, an empty label, or a character that is never in a DNS name. */
bool names_normalise(const char *in, struct names_query *q) LDMESH_HIDDEN;

/* `fqdn` equals `domain` or ends in "." + domain. */
bool names_in_domain(const char *fqdn, size_t len, const char *domain,
		     size_t dlen) LDMESH_HIDDEN;

/*
 * The idx-th candidate (from 0). Returns its length with `out` filled;
 * 0 when that candidate would be longer than 253 bytes (skip it); -1 past
 * the last one.
 */
int names_candidate(const struct names_query *q, const struct preload_config *c,
		    const char *domain, size_t dlen, unsigned idx,
		    char out[NAMES_BUF]) LDMESH_HIDDEN;

#endif
