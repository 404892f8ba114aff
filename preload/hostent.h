/* SPDX-License-Identifier: MIT */
/*
 * struct hostent for table answers, laid out in the caller's buffer as the
 * gethostbyname*_r contract asks (and in a per-thread buffer for the non-_r
 * forms).
 */
#ifndef LDMESH_PRELOAD_HOSTENT_H
#define LDMESH_PRELOAD_HOSTENT_H

#include <netdb.h>
#include <stddef.h>

#include "export.h"
#include "lookup.h"

/* glibc's h_errno values for "see errno" and "no error"; musl's netdb.h
 * has neither, and its callers test the return value (ERANGE) alone. */
#ifndef NETDB_INTERNAL
#define NETDB_INTERNAL (-1)
#endif
#ifndef NETDB_SUCCESS
#define NETDB_SUCCESS 0
#endif

/* Enough for any answer: pointers, addresses and the name, plus alignment. */
#define HOSTENT_BUF_MAX                                                     \
	(sizeof(char *) * (LOOKUP_MAX_ADDRS + 3) + LOOKUP_MAX_ADDRS * 16 + \
	 NAMES_BUF + sizeof(char *))

/*
 * Fill `he` from a found lookup for `af` (AF_INET or AF_INET6; no mapping,
 * as glibc without RES_USE_INET6). Returns 0, ERANGE when `buflen` is too
 * small, or ENOENT when the name has no address of that family (NO_DATA).
 */
int hostent_fill(const struct lookup_result *r, int af, struct hostent *he,
		 char *buf, size_t buflen) LDMESH_HIDDEN;

#endif
