/* SPDX-License-Identifier: MIT */
/*
 * ldmesh-dns's cache of forwarded answers: bounded in entries and bytes
 * (least recently used out first), each kept for the smallest TTL of its
 * records, or for a negative answer the SOA's (RFC 2308), capped. Keyed by
 * the question case-folded and by what changes the answer (EDNS present,
 * DO, CD); served with the asker's ID and question spelling and the TTLs
 * counted down.
 */
#ifndef LDMESH_DNS_CACHE_H
#define LDMESH_DNS_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "answer.h"

#define DNS_CACHE_MAX_TTL 86400
#define DNS_CACHE_MAX_NEG_TTL 3600 /* unbound's cache-max-negative-ttl */

struct dns_cache;

/* 0 or -ENOMEM; *out caller-owned (dns_cache_free). */
int dns_cache_new(struct dns_cache **out, size_t max_entries, size_t max_bytes);
void dns_cache_free(struct dns_cache *c); /* accepts NULL */

/* The cached answer to `info`'s question, ready to send, into `out`: its
 * length, or 0 on a miss (or an expired entry, dropped). `now_s` is a
 * monotonic clock in seconds. */
size_t dns_cache_get(struct dns_cache *c, const struct dns_query_info *info,
		     uint64_t now_s, uint8_t *out, size_t cap);

/* Keep `resp`, the upstream's answer to `info`'s question, if it can be
 * cached (NOERROR or NXDOMAIN, not truncated, a TTL above 0). */
void dns_cache_put(struct dns_cache *c, const struct dns_query_info *info,
		   const uint8_t *resp, size_t len, uint64_t now_s);

size_t dns_cache_entries(const struct dns_cache *c);

/* The TTL a response may be kept for (min of its records', or the SOA's
 * for a negative one), and the offsets of its TTL fields; -1 when it is
 * not to be cached (malformed, another rcode). At most `max_offs` offsets
 * are stored; *n_offs says how many there are. */
int dns_cache_ttl(const uint8_t *resp, size_t len, uint16_t *offs, size_t max_offs,
		  size_t *n_offs);

#endif
