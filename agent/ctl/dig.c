/* SPDX-License-Identifier: MIT */
/* `ldmeshctl dig NAME [TYPE]`: what ldmesh-dns answers for a name, built by
 * its own code (preload/dnsanswer/answer.c) against the table, printed as dig
 * would. A name the table does not answer is one ldmesh-dns forwards. */
#include "ctl.h"

#include <ldns/ldns.h>
#include <stdlib.h>
#include <string.h>

#include "answer.h"

int ctl_dig(const struct ctl *c, const char *name, const char *type)
{
	static uint8_t reply[DNS_MSG_MAX];
	ldns_rr_type t = type ? ldns_get_rr_type_by_name(type) : LDNS_RR_TYPE_A;
	ldns_rdf *qname = NULL;
	ldns_pkt *q = NULL, *r = NULL;
	struct dns_query_info info;
	uint8_t *wire = NULL;
	size_t wlen = 0, rlen = 0;
	enum dns_verdict v;
	int rc = 2;

	if (!t) {
		fprintf(stderr, "ldmeshctl: dig: unknown record type %s\n", type);
		return 2;
	}
	if (ldns_str2rdf_dname(&qname, name) != LDNS_STATUS_OK) {
		fprintf(stderr, "ldmeshctl: dig: not a domain name: %s\n", name);
		return 2;
	}
	q = ldns_pkt_query_new(qname, t, LDNS_RR_CLASS_IN, LDNS_RD);
	if (!q || ldns_pkt2wire(&wire, q, &wlen) != LDNS_STATUS_OK)
		goto out;
	/* as over TCP: the whole answer, never truncated */
	v = dns_handle(c->snap, wire, wlen, true, 0, reply, sizeof(reply), &rlen, &info);
	if (v == DNS_FORWARD) {
		fprintf(c->out, "%s: not answered from the table (%s); ldmesh-dns forwards it "
				"to its upstreams\n", name,
			c->snap->flags & LDMESH_SNAP_F_INCOMPLETE
				? "outside the cluster domain, or the table is incomplete"
				: "outside the cluster domain");
		rc = 1;
		goto out;
	}
	if (v != DNS_REPLY || ldns_wire2pkt(&r, reply, rlen) != LDNS_STATUS_OK)
		goto out;
	ldns_pkt_print(c->out, r);
	rc = ldns_pkt_get_rcode(r) == LDNS_RCODE_NOERROR ? 0 : 1;
out:
	free(wire);
	ldns_pkt_free(q);
	ldns_pkt_free(r);
	return rc;
}
