/* SPDX-License-Identifier: MIT */
/*
 * getaddrinfo results for table answers, with glibc's contract: the same
 * hints checks and EAI_* codes, the same (socktype, protocol) expansion, and
 * a list the application frees with freeaddrinfo. Ours is one allocation
 * (as musl does it); glibc's is one per node. freeaddrinfo tells them apart
 * with gai_is_ours and never hands one kind to the other's free.
 */
#ifndef LDMESH_PRELOAD_GAI_H
#define LDMESH_PRELOAD_GAI_H

#include <netdb.h>
#include <stdbool.h>
#include <stdint.h>

#include "export.h"
#include "lookup.h"

/* glibc's protocol table has 7 rows; a result has at most one per row. */
#define GAI_MAX_TUPLES 8

struct gai_tuple {
	int socktype;
	int protocol;
	uint16_t port; /* host order */
};

#ifdef __GLIBC__
/* glibc's DEPRECATED_AI_IDN: the two retired IDN flags (0x100, 0x200), still
 * accepted and ignored; spelt as a number because the names now warn. */
#define GAI_DEPRECATED_IDN 0x0300
/* Every flag glibc accepts; anything else is EAI_BADFLAGS. */
#define GAI_KNOWN_FLAGS                                                     \
	(AI_PASSIVE | AI_CANONNAME | AI_NUMERICHOST | AI_ADDRCONFIG |       \
	 AI_V4MAPPED | AI_NUMERICSERV | AI_ALL | AI_IDN | AI_CANONIDN |     \
	 GAI_DEPRECATED_IDN)
#else
/* musl accepts the POSIX flags alone (no IDN): anything else is
 * EAI_BADFLAGS from its getaddrinfo, so such a call is left to it. */
#define GAI_KNOWN_FLAGS                                                     \
	(AI_PASSIVE | AI_CANONNAME | AI_NUMERICHOST | AI_ADDRCONFIG |       \
	 AI_V4MAPPED | AI_NUMERICSERV | AI_ALL)
#endif

/* glibc's hints when the caller passes NULL (AI_DEFAULT). */
#define GAI_DEFAULT_FLAGS (AI_V4MAPPED | AI_ADDRCONFIG)

/*
 * The (socktype, protocol, port) rows glibc's gaih_inet makes of `service`
 * and the hints, with its errors: EAI_NONAME (AI_NUMERICSERV and a named
 * service), EAI_SOCKTYPE, EAI_SERVICE. Named services through
 * getservbyname_r. Returns 0 and fills out[0..*n).
 */
int gai_service(const char *service, const struct addrinfo *hints,
		struct gai_tuple out[GAI_MAX_TUPLES], unsigned *n) LDMESH_HIDDEN;

/*
 * AI_ADDRCONFIG as glibc's __check_pf sees it: whether some interface has
 * an IPv4 address other than 127.0.0.1, or an IPv6 one other than ::1.
 */
void gai_addrconfig(bool *v4, bool *v6) LDMESH_HIDDEN;

/*
 * Build the result for a found lookup. `family` is the hints' family after
 * AI_ADDRCONFIG narrowing; `flags` the hints' flags. Returns 0, EAI_NODATA
 * (the name exists, but has no address of that family) or EAI_MEMORY.
 */
int gai_build(const struct lookup_result *r, int family, int flags,
	      const struct gai_tuple *t, unsigned nt,
	      struct addrinfo **res) LDMESH_HIDDEN;

/* One address of a result: its family, and the address (IPv4-mapped for
 * an AF_INET one, or an AF_INET6 one that is mapped). */
struct gai_pick {
	int family;
	const uint8_t *addr;
};

/*
 * The list itself, in one allocation: per address, every row of `t`;
 * ai_flags on every node; `canon_name` (canon_len bytes; NULL: none) on
 * the first node, or on every node with `canon_every` (musl's way).
 * np and nt are not 0. Returns 0 or EAI_MEMORY.
 */
int gai_emit(const struct gai_pick *p, unsigned np, const struct gai_tuple *t, unsigned nt,
	     const char *canon_name, size_t canon_len, int ai_flags, bool canon_every,
	     struct addrinfo **res) LDMESH_HIDDEN;

/* A list gai_build or gai_emit made (only its head is ever passed to free). */
bool gai_is_ours(const struct addrinfo *ai) LDMESH_HIDDEN;
void gai_free(struct addrinfo *ai) LDMESH_HIDDEN;

#endif
