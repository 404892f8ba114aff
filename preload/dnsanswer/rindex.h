/* SPDX-License-Identifier: MIT */
/*
 * An index of the table by address alone, for PTR queries: the table's own
 * VIP index is keyed by address, port and protocol, so without this each
 * PTR query scans every Service (about 3 ms at 100,000 Services,
 * tests/bench/results/dns.md). Built by ldmesh-dns on the first PTR query
 * of a generation, in one pass over the table; each entry is a candidate
 * the caller checks against the table (the index holds a hash of the
 * address, not the address), so a stale or damaged table gives no wrong
 * answer, only a miss.
 */
#ifndef LDMESH_DNS_RINDEX_H
#define LDMESH_DNS_RINDEX_H

#include <stdint.h>

#include "ldmesh/reader.h"

/* Entries at most: past this (a table of millions of endpoints) PTR
 * queries scan instead. */
#define DNS_RINDEX_MAX (1U << 22)

struct dns_rindex;

/* 0 with *out caller-owned (dns_rindex_free), -ENOMEM, or -E2BIG. */
int dns_rindex_build(const struct ldmesh_snap *s, struct dns_rindex **out);
void dns_rindex_free(struct dns_rindex *ri); /* accepts NULL */

/* Whether `ri` was built from the snapshot `s` is (generation and
 * creation time: a replaced directory starts its numbers over). */
bool dns_rindex_of(const struct dns_rindex *ri, const struct ldmesh_snap *s);

/* Candidates for address `a`: up to `max` (service, endpoint) pairs, the
 * endpoint LDMESH_NONE for a ClusterIP. Returns how many. */
unsigned dns_rindex_find(const struct dns_rindex *ri, const uint8_t a[16], uint32_t *svc,
			 uint32_t *ep, unsigned max);

#endif
