/* SPDX-License-Identifier: MIT */
/*
 * The cluster's DNS answers from the table, per the Kubernetes DNS
 * specification (kubernetes/dns docs/specification.md, schema 1.1.0), and
 * the checks every query goes through first. One library linked by
 * ldmesh-dns, `ldmeshctl dig` and the preload's res_query hooks
 * (preload/resq.h), so all answer with the same code.
 * Wire format by wire.h (libldns is its reference).
 */
#ifndef LDMESH_DNS_ANSWER_H
#define LDMESH_DNS_ANSWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ldmesh/reader.h"

/* Every cluster record's TTL, and the negative TTL (the SOA's minimum):
 * CoreDNS's kubernetes plugin default, short enough that a moved endpoint
 * is seen within seconds by clients that cache. */
#define DNS_TTL 5
#define DNS_SCHEMA_VERSION "1.1.0"
/* What ldmesh-dns offers as its EDNS UDP payload size (DNS flag day 2020:
 * no fragmentation on common paths) and the classic limit without EDNS. */
#define DNS_EDNS_SIZE 1232
#define DNS_UDP_PLAIN 512
#define DNS_MSG_MAX 65535
/* Records in one cluster answer: a headless Service of thousands of pods
 * still gets an answer a TCP message can carry. */
#define DNS_MAX_RECORDS 1000
/* Names in a PTR answer at most. */
#define DNS_MAX_PTR 8

enum dns_verdict {
	DNS_DROP,    /* nothing to send (not a query, or too short to answer) */
	DNS_REPLY,   /* `out` holds the reply */
	DNS_FORWARD, /* not the table's to answer: ask the upstreams */
};

#define DNS_CHASE_MAX (255 + 4)

/* What the server needs of a query to forward it and to answer it later. */
struct dns_query_info {
	uint16_t id;
	uint16_t flags;         /* header flags word as received */
	uint16_t qtype, qclass;
	bool edns;              /* the query carried an OPT record */
	bool do_bit;
	uint16_t udp_size;      /* the client's payload size, at least 512 */
	const uint8_t *question; /* into the query: the question section */
	size_t question_len;     /* qname (uncompressed) + type + class */
	/* An ExternalName answered with its CNAME to a name outside the
	 * cluster: the question to ask upstream for the target's records
	 * (as a recursive server does, as CoreDNS's kubernetes plugin
	 * does), spliced behind the CNAME (dns_wire_splice). */
	bool chase;
	size_t chase_len;
	uint8_t chase_q[DNS_CHASE_MAX];
};

/*
 * Handle one query of `len` bytes from a client. `s` is the pinned
 * snapshot, or NULL when there is none (everything is forwarded). `tcp`
 * lifts the UDP size limit; over UDP a reply larger than the client's
 * limit is sent truncated (TC), header and question only. `rnd` orders
 * multiple addresses. The reply goes into `out` (at most `cap` bytes),
 * its length into *out_len. `info` is filled whenever the verdict is not
 * DNS_DROP.
 */
enum dns_verdict dns_handle(const struct ldmesh_snap *s, const uint8_t *q, size_t len,
			    bool tcp, uint64_t rnd, uint8_t *out, size_t cap,
			    size_t *out_len, struct dns_query_info *info);

/* The same, with the caller's index by address for PTR queries
 * (rindex.h): *ri is built, or rebuilt for a new generation, on the first
 * PTR query that needs it, and stays the caller's (dns_rindex_free). */
struct dns_rindex;
enum dns_verdict dns_handle_indexed(const struct ldmesh_snap *s, struct dns_rindex **ri,
				    const uint8_t *q, size_t len, bool tcp, uint64_t rnd,
				    uint8_t *out, size_t cap, size_t *out_len,
				    struct dns_query_info *info);

/* The same, the reply's records assembled in the caller's `wire` (the
 * functions above use a buffer of their thread's): the preload answers
 * on the caller's stack, so that no thread of every process on the node
 * carries it in its TLS. */
struct dns_wire;
enum dns_verdict dns_handle_wire(const struct ldmesh_snap *s, struct dns_rindex **ri,
				 struct dns_wire *wire, const uint8_t *q, size_t len, bool tcp,
				 uint64_t rnd, uint8_t *out, size_t cap, size_t *out_len,
				 struct dns_query_info *info);

/* A reply of header and question only with `rcode` (SERVFAIL after the
 * upstreams failed; TC set by `tc`). Returns its length, or 0. */
size_t dns_reply_empty(const struct dns_query_info *info, unsigned rcode, bool tc,
		       uint8_t *out, size_t cap);

#endif
