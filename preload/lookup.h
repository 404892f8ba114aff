/* SPDX-License-Identifier: MIT */
/*
 * A host name against one pinned snapshot: the answer (ClusterIPs, pod IPs
 * of a headless service, one pod's IP, or an ExternalName target) copied
 * out, so the caller can release the snapshot before building its result.
 * Pure: no I/O, no allocation.
 */
#ifndef LDMESH_PRELOAD_LOOKUP_H
#define LDMESH_PRELOAD_LOOKUP_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "export.h"
#include "ldmesh/reader.h"
#include "names.h"

/*
 * Addresses one answer carries. A DNS answer for a big headless service is
 * cut by message size too (CoreDNS fits what a 64 KiB TCP reply holds);
 * past this bound a rotating window is returned, so every pod still gets
 * picked, and a getaddrinfo result stays one small allocation.
 */
#define LOOKUP_MAX_ADDRS 64
/* ExternalName aliases followed inside the table, as a resolver bounds a
 * CNAME chain; a loop ends here as "not found". */
#define LOOKUP_CHAIN_MAX 8

enum lookup_status {
	LOOKUP_PASS,     /* not ours: ask the real resolver */
	LOOKUP_NOTFOUND, /* inside the cluster domain, not in the table */
	LOOKUP_FOUND,    /* addrs[] answer it */
	LOOKUP_EXTERNAL, /* an ExternalName: ask the real resolver for canon */
};

struct lookup_result {
	enum lookup_status status;
	uint64_t generation;
	uint64_t name_hash;         /* of the name the table holds (its slot's
	                               hash), 0 when none: noted for warming
	                               (ldmesh_table_note_name) */
	size_t canon_len;
	char canon[NAMES_BUF + 1];  /* FOUND: the FQDN that answered;
	                               EXTERNAL: the name to resolve instead,
	                               absolute (a trailing dot): a CNAME's
	                               target is not searched */
	char svc[2 * 256];          /* "ns/name" of the answering service:
	                               each read by its length byte (up to
	                               255 in a damaged table), '/', NUL */
	unsigned n_addrs;
	uint8_t addrs[LOOKUP_MAX_ADDRS][16]; /* IPv4-mapped for v4 */
	bool incomplete;            /* PASS: a cluster name this table lacks,
	                               but the table is not known to be
	                               complete (LDMESH_SNAP_F_INCOMPLETE):
	                               the resolver is asked instead */
	bool skip_search;           /* PASS: every search domain lies in the
	                               cluster domain, where the table already
	                               said no: the real resolver need not
	                               try them (one DNS query, not four) */
};

/* `rnd` rotates the window over a headless service larger than the bound. */
void lookup_name(const struct ldmesh_snap *s, const struct preload_config *c,
		 const char *name, uint64_t rnd,
		 struct lookup_result *r) LDMESH_HIDDEN;

/*
 * An address against the table's reverse names (ldmesh/arpa.h): FOUND with
 * canon the service's FQDN (a ClusterIP) or the endpoint's DNS name
 * ("<hostname or a-b-c-d>.<svc>.<ns>.svc.<domain>": an address of a
 * headless service) and addrs[0] the address; PASS for any other address,
 * which DNS may still know (CoreDNS falls through for reverse zones too).
 */
void lookup_addr(const struct ldmesh_snap *s, const uint8_t addr[16],
		 struct lookup_result *r) LDMESH_HIDDEN;

/* Trace helper: " -> a,b,c svc=ns/name gen=N" etc. for a finished lookup. */
struct trace_line;
void lookup_trace(struct trace_line *l, const struct lookup_result *r) LDMESH_HIDDEN;
/* The same for lookup_addr: " -> NAME svc=ns/name gen=N", or " pass". */
void lookup_trace_addr(struct trace_line *l, const struct lookup_result *r) LDMESH_HIDDEN;

#endif
