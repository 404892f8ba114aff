/* SPDX-License-Identifier: MIT */
/*
 * ldmesh-dns's own DNS codec: the query parser and the reply writer.
 * libldns did this first and was measured too slow for issue 24's targets
 * (its reply building allocates per record and compresses names through a
 * red-black tree of names: about a third of the server's cycles,
 * tests/bench/results/dns.md), so the hot path is this; libldns stays the
 * reference it is checked against (tests/fuzz/fuzz_dns.c compares both on
 * every input, tests/unit/test_dns_wire.c on known queries).
 */
#ifndef LDMESH_DNS_WIRE_H
#define LDMESH_DNS_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	DNS_T_A = 1, DNS_T_NS = 2, DNS_T_CNAME = 5, DNS_T_SOA = 6, DNS_T_PTR = 12,
	DNS_T_TXT = 16, DNS_T_AAAA = 28, DNS_T_SRV = 33, DNS_T_OPT = 41,
	DNS_T_IXFR = 251, DNS_T_AXFR = 252, DNS_T_ANY = 255,
};
enum {
	DNS_RC_NOERROR = 0, DNS_RC_FORMERR = 1, DNS_RC_SERVFAIL = 2, DNS_RC_NXDOMAIN = 3,
	DNS_RC_NOTIMP = 4, DNS_RC_REFUSED = 5, DNS_RC_BADVERS = 16,
};
#define DNS_CLASS_IN 1

/* Past the name at offset `i` of a message (not followed: no pointer can
 * make it loop): its end, or 0 when it runs off the message. */
size_t dns_wire_skip_name(const uint8_t *m, size_t len, size_t i);

/* What the query says beyond its question (dns_wire_parse). */
struct dns_wire_query {
	bool edns;
	uint8_t edns_version;
	bool do_bit;
	uint16_t udp_size;
};

/*
 * Walk a query past its question (`qend`, the question's end, checked by
 * the caller): every record in the answer, authority and additional
 * sections inside the message, at most one OPT, in the additional section,
 * owned by the root, its options inside its data. 0, or -1 (FORMERR).
 * Names are skipped, never followed: no pointer can make this loop.
 */
int dns_wire_parse(const uint8_t *m, size_t len, size_t qend, struct dns_wire_query *out);

/*
 * The answer to a CNAME's target spliced behind the CNAME: `prefix` (a
 * reply of ours: question, its answers, then authority and additional,
 * OPT included) with the address and CNAME records of the upstream's
 * answer `up` inserted after its own answers, their names written out
 * (pointers into `up` mean nothing in the new message), and the
 * upstream's rcode. Into `out`: its length, or 0 when either message is
 * malformed or the result does not fit `cap`.
 */
size_t dns_wire_splice(uint8_t *out, size_t cap, const uint8_t *prefix, size_t plen,
		       const uint8_t *up, size_t ulen);

/* Records being written: the answer and authority sections in place after
 * the question, the additional section aside (it goes last, and is left
 * out rather than truncating the reply when it does not fit). */
#define DNS_WIRE_ADD_MAX 4096
struct dns_wire {
	uint8_t *m;
	size_t cap, len;      /* cap: what the reply may use, OPT reserved */
	uint16_t an, ns, ar;
	bool full;            /* an answer or authority record did not fit */
	size_t qname_end;     /* the question's name: bytes [12, qname_end) */
	uint8_t add[DNS_WIRE_ADD_MAX];
	size_t add_len;
	bool add_full;
};

enum dns_wire_section { DNS_AN, DNS_NS, DNS_AR };

/* One record, built aside and then put in its section. */
#define DNS_WIRE_REC_MAX 600
struct dns_wire_rec {
	uint8_t b[DNS_WIRE_REC_MAX];
	size_t len, rdlen_at;
	bool bad;             /* too long, or a name that is not one */
	size_t name_at;       /* where the last name written starts (a pointer
	                         target once the record is placed) */
};

/* Start a record owned by the name at message offset `owner` (a pointer:
 * the question's name is at 12), or by `text` when owner is 0. */
void dns_wire_rec_start(struct dns_wire_rec *r, const struct dns_wire *w, uint16_t owner,
			const char *text, uint16_t type, uint32_t ttl);
void dns_wire_rec_u16(struct dns_wire_rec *r, uint16_t v);
void dns_wire_rec_u32(struct dns_wire_rec *r, uint32_t v);
void dns_wire_rec_bytes(struct dns_wire_rec *r, const void *p, size_t n);
/* A name from text (dots between labels, no trailing dot needed),
 * compressed against the question's name when `compress`. */
void dns_wire_rec_name(struct dns_wire_rec *r, const struct dns_wire *w, const char *text,
		       bool compress);
/* Put the record in `sec`; the message offset where its last name
 * written starts (0 when it was not placed, or in the additional
 * section). */
size_t dns_wire_put(struct dns_wire *w, struct dns_wire_rec *r, enum dns_wire_section sec);

/* The reply: header (id, flags word, counts, OPT if `edns`), the question
 * already at 12, the additional records if they fit, then OPT. Its length. */
size_t dns_wire_finish(struct dns_wire *w, uint16_t id, uint16_t flags, bool edns,
		       uint16_t edns_size, unsigned rcode);

#endif
