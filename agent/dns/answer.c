/* SPDX-License-Identifier: MIT */
/*
 * Cluster answers (answer.h). The records, per the Kubernetes DNS
 * specification 1.1.0, with <zone> the table's cluster domain:
 *   dns-version.<zone>                 TXT "1.1.0"
 *   <svc>.<ns>.svc.<zone>              A/AAAA: the ClusterIPs; headless:
 *                                      each ready endpoint; ExternalName:
 *                                      CNAME to the external name
 *   <host>.<svc>.<ns>.svc.<zone>       A/AAAA of a headless endpoint, <host>
 *                                      its hostname, else its address with
 *                                      dashes (10-244-1-5), as CoreDNS
 *   _<port>._<proto>.<svc>.<ns>.svc.<zone>  SRV per named port: target the
 *                                      Service (ClusterIP) or each ready
 *                                      endpoint's <host> name (headless)
 *   <reversed address>.in-addr.arpa / ip6.arpa  PTR of ClusterIPs and
 *                                      endpoint addresses
 *   <a-b-c-d>.<ns>.pod.<zone>          A (CoreDNS "pods insecure", the
 *                                      kubeadm default)
 * Any other name in the zone does not exist (NXDOMAIN with the zone's SOA)
 * when the table is complete; an incomplete table (LDMESH_SNAP_F_INCOMPLETE)
 * forwards it, as the preload passes it to the resolver. "Ready" is as the
 * preload's headless lookup says: the endpoint's ready condition, or every
 * endpoint with publishNotReadyAddresses.
 */
#include "answer.h"

#include <arpa/inet.h>
#include <ldns/ldns.h>
#include <stdio.h>
#include <string.h>

#define DNS__NAME_MAX 255

/* A query name as text: lower-case, no trailing dot, with where each label
 * starts. `clean` is false when a label holds a byte no table name can
 * (a dot, a control character): such a name is in no table. */
struct dns_name {
	char text[DNS__NAME_MAX + 1];
	size_t len;
	unsigned n;
	uint8_t off[128], llen[128];
	bool clean;
};

struct dns_ctx {
	const struct ldmesh_snap *s;
	const ldns_rdf *qname; /* the owner, as the client spelled it */
	uint16_t qtype;
	ldns_pkt *r;
	char domain[LDMESH_STR_MAX + 1];
	size_t dlen;
	uint64_t rnd;
	unsigned n; /* records added */
};

static bool dns__name_of(const ldns_rdf *d, struct dns_name *nm)
{
	const uint8_t *w = ldns_rdf_data(d);
	size_t size = ldns_rdf_size(d), i = 0;

	nm->len = 0;
	nm->n = 0;
	nm->clean = true;
	while (i < size && w[i]) {
		uint8_t l = w[i++];

		if (l > 63 || i + l > size || nm->n >= 128 || nm->len + l + 1 > DNS__NAME_MAX)
			return false;
		if (nm->len)
			nm->text[nm->len++] = '.';
		nm->off[nm->n] = (uint8_t)nm->len;
		nm->llen[nm->n++] = l;
		for (uint8_t k = 0; k < l; k++) {
			char c = (char)w[i + k];

			if (c == '.' || (unsigned char)c <= ' ' || (unsigned char)c >= 0x7f)
				nm->clean = false;
			nm->text[nm->len++] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
		}
		i += l;
	}
	nm->text[nm->len] = 0;
	return true;
}

/* Whether `nm` is `suffix` or ends in "." suffix; sets *rel to the length
 * of what comes before (without the dot). */
static bool dns__under(const struct dns_name *nm, const char *suffix, size_t slen,
		       size_t *rel)
{
	if (nm->len == slen && !memcmp(nm->text, suffix, slen)) {
		*rel = 0;
		return true;
	}
	if (nm->len > slen + 1 && nm->text[nm->len - slen - 1] == '.' &&
	    !memcmp(nm->text + nm->len - slen, suffix, slen)) {
		*rel = nm->len - slen - 1;
		return true;
	}
	return false;
}

static bool dns__is_v4(const uint8_t a[16])
{
	static const uint8_t prefix[12] = { [10] = 0xff, [11] = 0xff };

	return !memcmp(a, prefix, 12);
}

/* ---- records ------------------------------------------------------------ */

static ldns_rr *dns__rr(struct dns_ctx *c, ldns_rr_type t, const ldns_rdf *owner)
{
	ldns_rr *rr = ldns_rr_new();

	if (!rr)
		return NULL;
	ldns_rr_set_owner(rr, ldns_rdf_clone(owner));
	ldns_rr_set_type(rr, t);
	ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
	ldns_rr_set_ttl(rr, DNS_TTL);
	(void)c;
	return rr;
}

static void dns__push(struct dns_ctx *c, ldns_pkt_section sec, ldns_rr *rr)
{
	if (!rr)
		return;
	if (c->n >= DNS_MAX_RECORDS || !ldns_pkt_push_rr(c->r, sec, rr)) {
		ldns_rr_free(rr);
		return;
	}
	c->n++;
}

/* An A or AAAA record of `a` under `owner` if the family is the one asked
 * (`qtype`; ANY takes both). Returns whether `a` is of an asked family. */
static bool dns__addr(struct dns_ctx *c, ldns_pkt_section sec, const ldns_rdf *owner,
		      uint16_t qtype, const uint8_t a[16])
{
	bool v4 = dns__is_v4(a);
	ldns_rr *rr;

	if (qtype != LDNS_RR_TYPE_ANY && qtype != (v4 ? LDNS_RR_TYPE_A : LDNS_RR_TYPE_AAAA))
		return false;
	rr = dns__rr(c, v4 ? LDNS_RR_TYPE_A : LDNS_RR_TYPE_AAAA, owner);
	if (rr)
		ldns_rr_push_rdf(rr, v4 ? ldns_rdf_new_frm_data(LDNS_RDF_TYPE_A, 4, a + 12)
					: ldns_rdf_new_frm_data(LDNS_RDF_TYPE_AAAA, 16, a));
	dns__push(c, sec, rr);
	return true;
}

static ldns_rdf *dns__dname(const char *text)
{
	ldns_rdf *d = NULL;

	if (!text[0])
		return NULL;
	return ldns_str2rdf_dname(&d, text) == LDNS_STATUS_OK ? d : NULL;
}

static void dns__soa(struct dns_ctx *c, ldns_pkt_section sec)
{
	char buf[LDMESH_STR_MAX + 32];
	ldns_rdf *owner = dns__dname(c->domain);
	ldns_rr *rr;

	if (!owner)
		return;
	rr = dns__rr(c, LDNS_RR_TYPE_SOA, owner);
	ldns_rdf_deep_free(owner);
	if (!rr)
		return;
	snprintf(buf, sizeof(buf), "ns.dns.%s", c->domain);
	ldns_rr_push_rdf(rr, dns__dname(buf));
	snprintf(buf, sizeof(buf), "hostmaster.%s", c->domain);
	ldns_rr_push_rdf(rr, dns__dname(buf));
	/* the serial moves with the table */
	ldns_rr_push_rdf(rr, ldns_native2rdf_int32(LDNS_RDF_TYPE_INT32,
						   (uint32_t)c->s->generation));
	ldns_rr_push_rdf(rr, ldns_native2rdf_int32(LDNS_RDF_TYPE_PERIOD, 7200));
	ldns_rr_push_rdf(rr, ldns_native2rdf_int32(LDNS_RDF_TYPE_PERIOD, 1800));
	ldns_rr_push_rdf(rr, ldns_native2rdf_int32(LDNS_RDF_TYPE_PERIOD, 86400));
	ldns_rr_push_rdf(rr, ldns_native2rdf_int32(LDNS_RDF_TYPE_PERIOD, DNS_TTL));
	dns__push(c, sec, rr);
}

/* The name exists, without the type asked: NOERROR, the SOA in authority. */
static int dns__nodata(struct dns_ctx *c)
{
	ldns_pkt_set_rcode(c->r, LDNS_RCODE_NOERROR);
	dns__soa(c, LDNS_SECTION_AUTHORITY);
	return 1;
}

/* A name in the zone the table does not have: NXDOMAIN from a complete
 * table, else forwarded (0). */
static int dns__nxdomain(struct dns_ctx *c)
{
	if (c->s->flags & LDMESH_SNAP_F_INCOMPLETE)
		return 0;
	ldns_pkt_set_rcode(c->r, LDNS_RCODE_NXDOMAIN);
	dns__soa(c, LDNS_SECTION_AUTHORITY);
	return 1;
}

/* "<svc>.<ns>.svc.<zone>" */
static void dns__svc_fqdn(const struct dns_ctx *c, const struct ldmesh_service *svc,
			  char *buf, size_t cap)
{
	struct ldmesh_strv ns = ldmesh_snap_string(c->s, svc->ns);
	struct ldmesh_strv name = ldmesh_snap_string(c->s, svc->name);

	/* too long for a DNS name: empty, which no record is made from */
	if (snprintf(buf, cap, "%.*s.%.*s.svc.%s", name.len, name.p, ns.len, ns.p, c->domain) >=
	    (int)cap)
		buf[0] = 0;
}

/* An endpoint's address with dashes: its name when it has no hostname. */
static void dns__dashed(const uint8_t a[16], char *buf, size_t cap)
{
	if (dns__is_v4(a)) {
		snprintf(buf, cap, "%u-%u-%u-%u", a[12], a[13], a[14], a[15]);
		return;
	}
	if (!inet_ntop(AF_INET6, a, buf, (socklen_t)cap)) {
		buf[0] = 0;
		return;
	}
	for (char *p = buf; *p; p++)
		if (*p == ':')
			*p = '-';
}

static bool dns__undash(const char *label, size_t len, uint8_t a[16])
{
	char buf[64];
	struct in_addr v4;

	if (!len || len >= sizeof(buf))
		return false;
	memcpy(buf, label, len);
	buf[len] = 0;
	for (char *p = buf; *p; p++)
		if (*p == '-')
			*p = '.';
	if (inet_pton(AF_INET, buf, &v4) == 1) {
		memset(a, 0, 10);
		a[10] = a[11] = 0xff;
		memcpy(a + 12, &v4, 4);
		return true;
	}
	for (char *p = buf; *p; p++)
		if (*p == '.')
			*p = ':';
	return inet_pton(AF_INET6, buf, a) == 1;
}

/* "<host>.<svc>.<ns>.svc.<zone>" of an endpoint */
static void dns__ep_fqdn(const struct dns_ctx *c, const struct ldmesh_service *svc,
			 const struct ldmesh_endpoint *ep, char *buf, size_t cap)
{
	struct ldmesh_strv h = ldmesh_snap_string(c->s, ep->hostname);
	char host[64], fqdn[DNS__NAME_MAX + 1];

	if (h.len)
		snprintf(host, sizeof(host), "%.*s", h.len, h.p);
	else
		dns__dashed(ep->addr, host, sizeof(host));
	dns__svc_fqdn(c, svc, fqdn, sizeof(fqdn));
	if (!fqdn[0] || snprintf(buf, cap, "%s.%s", host, fqdn) >= (int)cap)
		buf[0] = 0;
}

static bool dns__eligible(const struct ldmesh_service *svc, const struct ldmesh_endpoint *ep)
{
	return (svc->flags & LDMESH_SVC_F_PUBLISH_NOT_READY) || (ep->flags & LDMESH_EP_F_READY);
}

/* ---- forward names ------------------------------------------------------ */

/* Addresses under the query name, of the asked family; how many addresses
 * the name has of any family into *any. */
static void dns__svc_addrs(struct dns_ctx *c, const struct ldmesh_service *svc,
			   unsigned *any, unsigned *asked)
{
	if (svc->flags & LDMESH_SVC_F_HEADLESS) {
		uint32_t n = svc->endpoint_count;
		/* a random start: clients that take the first address spread */
		uint32_t start = n ? (uint32_t)(c->rnd % n) : 0;

		for (uint32_t i = 0; i < n; i++) {
			struct ldmesh_endpoint ep;

			if (!ldmesh_snap_endpoint(c->s, svc->first_endpoint + (start + i) % n, &ep) ||
			    !dns__eligible(svc, &ep))
				continue;
			++*any;
			*asked += dns__addr(c, LDNS_SECTION_ANSWER, c->qname, c->qtype, ep.addr);
		}
		return;
	}
	for (unsigned i = 0; i < svc->ip_count && i < LDMESH_MAX_CLUSTER_IPS; i++) {
		++*any;
		*asked += dns__addr(c, LDNS_SECTION_ANSWER, c->qname, c->qtype,
				    svc->cluster_ips[i]);
	}
}

static int dns__external(struct dns_ctx *c, const struct ldmesh_service *svc)
{
	char target[LDMESH_STR_MAX + 1];
	ldns_rdf *d;
	ldns_rr *rr;

	ldmesh_snap_strcpy(c->s, svc->external_name, target, sizeof(target));
	d = target[0] ? dns__dname(target) : NULL;
	if (!d)
		return dns__nxdomain(c);
	rr = dns__rr(c, LDNS_RR_TYPE_CNAME, c->qname);
	if (!rr) {
		ldns_rdf_deep_free(d);
		return 0;
	}
	ldns_rr_push_rdf(rr, d);
	dns__push(c, LDNS_SECTION_ANSWER, rr);
	return 1;
}

static bool dns__is_addr_type(uint16_t t)
{
	return t == LDNS_RR_TYPE_A || t == LDNS_RR_TYPE_AAAA || t == LDNS_RR_TYPE_ANY;
}

/* A name the index holds: a Service, or one endpoint of a headless one. */
static int dns__slot(struct dns_ctx *c, const struct ldmesh_name_slot *slot)
{
	struct ldmesh_service svc;
	unsigned any = 0, asked = 0;

	if (!ldmesh_snap_service(c->s, slot->service, &svc))
		return dns__nxdomain(c); /* a damaged record */
	if (slot->endpoint != LDMESH_NONE) {
		struct ldmesh_endpoint ep;

		if (slot->endpoint < svc.first_endpoint ||
		    slot->endpoint - svc.first_endpoint >= svc.endpoint_count ||
		    !ldmesh_snap_endpoint(c->s, slot->endpoint, &ep) || !dns__eligible(&svc, &ep))
			return dns__nxdomain(c);
		if (dns__is_addr_type(c->qtype) &&
		    dns__addr(c, LDNS_SECTION_ANSWER, c->qname, c->qtype, ep.addr))
			return 1;
		return dns__nodata(c);
	}
	if (svc.type == LDMESH_SVC_EXTERNAL_NAME)
		return dns__external(c, &svc);
	if (!dns__is_addr_type(c->qtype)) {
		/* the name exists whatever it holds: count its addresses */
		uint16_t t = c->qtype;

		c->qtype = 0;
		dns__svc_addrs(c, &svc, &any, &asked);
		c->qtype = t;
	} else {
		dns__svc_addrs(c, &svc, &any, &asked);
	}
	/* as the preload (lookup.c): a Service with no address at all, a
	 * headless one without ready endpoints, is answered "no such name",
	 * as CoreDNS does */
	if (!any)
		return dns__nxdomain(c);
	return asked ? 1 : dns__nodata(c);
}

static const char *dns__proto(uint8_t p)
{
	return p == LDMESH_PROTO_TCP ? "tcp" : p == LDMESH_PROTO_UDP ? "udp"
		: p == LDMESH_PROTO_SCTP ? "sctp" : "";
}

static void dns__srv(struct dns_ctx *c, uint16_t port, const char *target_text,
		     const uint8_t (*addrs)[16], unsigned n_addrs)
{
	ldns_rdf *target = dns__dname(target_text);
	ldns_rr *rr;

	if (!target)
		return;
	rr = dns__rr(c, LDNS_RR_TYPE_SRV, c->qname);
	if (rr) {
		ldns_rr_push_rdf(rr, ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16, 0));   /* priority */
		ldns_rr_push_rdf(rr, ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16, 100)); /* weight */
		ldns_rr_push_rdf(rr, ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16, port));
		ldns_rr_push_rdf(rr, ldns_rdf_clone(target));
		dns__push(c, LDNS_SECTION_ANSWER, rr);
	}
	/* the targets' addresses, so a client needs no second query */
	for (unsigned i = 0; i < n_addrs; i++)
		dns__addr(c, LDNS_SECTION_ADDITIONAL, target, LDNS_RR_TYPE_ANY, addrs[i]);
	ldns_rdf_deep_free(target);
}

/* The SRV records of port `pi` of `svc`. */
static void dns__srv_port(struct dns_ctx *c, const struct ldmesh_service *svc, uint32_t pi,
			  const struct ldmesh_port *port)
{
	char fqdn[DNS__NAME_MAX + 1];

	if (!(svc->flags & LDMESH_SVC_F_HEADLESS)) {
		dns__svc_fqdn(c, svc, fqdn, sizeof(fqdn));
		dns__srv(c, port->port, fqdn, (const uint8_t(*)[16])svc->cluster_ips,
			 svc->ip_count <= LDMESH_MAX_CLUSTER_IPS ? svc->ip_count : 0);
		return;
	}
	for (uint32_t k = 0; k < svc->endpoint_count; k++) {
		struct ldmesh_endpoint ep;
		uint32_t e = svc->first_endpoint + k;
		uint16_t p;

		if (!ldmesh_snap_endpoint(c->s, e, &ep) || !dns__eligible(svc, &ep))
			continue;
		p = ldmesh_snap_endpoint_port(c->s, svc, e, pi);
		if (!p)
			continue;
		dns__ep_fqdn(c, svc, &ep, fqdn, sizeof(fqdn));
		dns__srv(c, p, fqdn, (const uint8_t(*)[16])ep.addr, 1);
	}
}

/* "_<port>._<proto>.<svc>.<ns>.svc.<zone>": 1 answered, 0 forward, -1 not
 * of this form. */
static int dns__srv_name(struct dns_ctx *c, const struct dns_name *nm)
{
	struct ldmesh_name_slot slot;
	struct ldmesh_service svc;
	const char *pname, *proto;
	size_t plen, prlen, rest;
	unsigned before = c->n;

	if (nm->n < 3 || nm->text[nm->off[0]] != '_' || nm->text[nm->off[1]] != '_' ||
	    nm->llen[0] < 2)
		return -1;
	pname = nm->text + nm->off[0] + 1;
	proto = nm->text + nm->off[1] + 1;
	plen = nm->llen[0] - 1u;
	prlen = nm->llen[1] - 1u;
	rest = nm->off[2];
	if (!ldmesh_snap_find_name(c->s, nm->text + rest, nm->len - rest, &slot) ||
	    slot.endpoint != LDMESH_NONE || !ldmesh_snap_service(c->s, slot.service, &svc) ||
	    svc.type == LDMESH_SVC_EXTERNAL_NAME)
		return -1;
	for (uint32_t i = 0; i < svc.port_count; i++) {
		struct ldmesh_port port;
		struct ldmesh_strv n;
		const char *pr;

		if (!ldmesh_snap_port(c->s, svc.first_port + i, &port))
			continue;
		n = ldmesh_snap_string(c->s, port.name);
		pr = dns__proto(port.protocol);
		if (n.len != plen || memcmp(n.p, pname, plen) || strlen(pr) != prlen ||
		    memcmp(pr, proto, prlen))
			continue;
		if (c->qtype != LDNS_RR_TYPE_SRV && c->qtype != LDNS_RR_TYPE_ANY)
			return dns__nodata(c);
		dns__srv_port(c, &svc, i, &port);
	}
	if (c->n == before)
		return -1;
	return 1;
}

/* "<host>.<svc>.<ns>.svc.<zone>" with <host> an endpoint's dashed address
 * (the SRV target of an endpoint without hostname). -1: not this form. */
static int dns__dashed_name(struct dns_ctx *c, const struct dns_name *nm)
{
	struct ldmesh_name_slot slot;
	struct ldmesh_service svc;
	uint8_t a[16];

	if (nm->n < 2 || !dns__undash(nm->text, nm->llen[0], a) ||
	    !ldmesh_snap_find_name(c->s, nm->text + nm->off[1], nm->len - nm->off[1], &slot) ||
	    slot.endpoint != LDMESH_NONE || !ldmesh_snap_service(c->s, slot.service, &svc) ||
	    !(svc.flags & LDMESH_SVC_F_HEADLESS))
		return -1;
	for (uint32_t k = 0; k < svc.endpoint_count; k++) {
		struct ldmesh_endpoint ep;

		if (!ldmesh_snap_endpoint(c->s, svc.first_endpoint + k, &ep) ||
		    memcmp(ep.addr, a, 16) || !dns__eligible(&svc, &ep))
			continue;
		if (dns__is_addr_type(c->qtype) &&
		    dns__addr(c, LDNS_SECTION_ANSWER, c->qname, c->qtype, ep.addr))
			return 1;
		return dns__nodata(c);
	}
	return -1;
}

/* "<a-b-c-d>.<ns>.pod.<zone>": -1 when not of the form. */
static int dns__pod_name(struct dns_ctx *c, const struct dns_name *nm, size_t rel)
{
	uint8_t a[16];

	if (nm->n < 3 || rel < 4 || memcmp(nm->text + rel - 4, ".pod", 4) ||
	    nm->off[2] != rel - 3 || !dns__undash(nm->text, nm->llen[0], a))
		return -1;
	if (dns__is_addr_type(c->qtype) &&
	    dns__addr(c, LDNS_SECTION_ANSWER, c->qname, c->qtype, a))
		return 1;
	return dns__nodata(c);
}

static int dns__txt_version(struct dns_ctx *c)
{
	uint8_t txt[1 + sizeof(DNS_SCHEMA_VERSION)];
	ldns_rr *rr;

	if (c->qtype != LDNS_RR_TYPE_TXT && c->qtype != LDNS_RR_TYPE_ANY)
		return dns__nodata(c);
	txt[0] = sizeof(DNS_SCHEMA_VERSION) - 1;
	memcpy(txt + 1, DNS_SCHEMA_VERSION, sizeof(DNS_SCHEMA_VERSION) - 1);
	rr = dns__rr(c, LDNS_RR_TYPE_TXT, c->qname);
	if (rr)
		ldns_rr_push_rdf(rr, ldns_rdf_new_frm_data(LDNS_RDF_TYPE_STR,
							   sizeof(DNS_SCHEMA_VERSION), txt));
	dns__push(c, LDNS_SECTION_ANSWER, rr);
	return 1;
}

static int dns__zone(struct dns_ctx *c, const struct dns_name *nm, size_t rel)
{
	struct ldmesh_name_slot slot;
	int rc;

	if (!rel) { /* the apex */
		if (c->qtype == LDNS_RR_TYPE_SOA || c->qtype == LDNS_RR_TYPE_ANY) {
			dns__soa(c, LDNS_SECTION_ANSWER);
			return 1;
		}
		return dns__nodata(c);
	}
	if (!nm->clean)
		return dns__nxdomain(c);
	if (rel == 11 && !memcmp(nm->text, "dns-version", 11))
		return dns__txt_version(c);
	if (rel == 3 && !memcmp(nm->text, "svc", 3))
		return dns__nodata(c);
	if (ldmesh_snap_find_name(c->s, nm->text, nm->len, &slot))
		return dns__slot(c, &slot);
	if ((rc = dns__srv_name(c, nm)) >= 0 || (rc = dns__dashed_name(c, nm)) >= 0 ||
	    (rc = dns__pod_name(c, nm, rel)) >= 0)
		return rc;
	return dns__nxdomain(c);
}

/* ---- reverse names ------------------------------------------------------ */

/* The address a reverse name names; false when it names none. */
static bool dns__reverse_addr(const struct dns_name *nm, size_t rel, bool v6, uint8_t a[16])
{
	if (!v6) {
		unsigned v[4];
		char tail;

		if (nm->n != 6 ||
		    sscanf(nm->text, "%3u.%3u.%3u.%3u.%c", &v[3], &v[2], &v[1], &v[0], &tail) != 5)
			return false;
		memset(a, 0, 10);
		a[10] = a[11] = 0xff;
		for (int i = 0; i < 4; i++) {
			if (v[i] > 255 || nm->llen[3 - i] > 3)
				return false;
			a[12 + i] = (uint8_t)v[i];
		}
		return true;
	}
	if (nm->n != 34 || rel != 63)
		return false;
	for (int i = 0; i < 32; i++) {
		char ch = nm->text[nm->off[i]];
		unsigned d = ch >= '0' && ch <= '9' ? (unsigned)(ch - '0')
			     : ch >= 'a' && ch <= 'f' ? (unsigned)(ch - 'a' + 10) : 16;

		if (nm->llen[i] != 1 || d > 15)
			return false;
		/* the first label is the last nibble */
		if (i & 1)
			a[15 - i / 2] |= (uint8_t)(d << 4);
		else
			a[15 - i / 2] = (uint8_t)d;
	}
	return true;
}

static void dns__ptr(struct dns_ctx *c, const char *target_text)
{
	ldns_rdf *d = dns__dname(target_text);
	ldns_rr *rr;

	if (!d)
		return;
	rr = dns__rr(c, LDNS_RR_TYPE_PTR, c->qname);
	if (!rr) {
		ldns_rdf_deep_free(d);
		return;
	}
	ldns_rr_push_rdf(rr, d);
	dns__push(c, LDNS_SECTION_ANSWER, rr);
}

/*
 * The names an address has: the Services whose ClusterIP it is, else the
 * endpoints it is. The table has no index by address alone (its VIP index
 * is keyed by address, port and protocol), so this scans it: bounded by
 * the table's size, measured in tests/bench/results/dns.md.
 */
static unsigned dns__ptr_scan(struct dns_ctx *c, const uint8_t a[16], bool emit)
{
	uint32_t n = ldmesh_snap_service_count(c->s);
	char fqdn[DNS__NAME_MAX + 1];
	unsigned found = 0;

	for (uint32_t i = 0; i < n && found < DNS_MAX_PTR; i++) {
		struct ldmesh_service svc;

		if (!ldmesh_snap_service(c->s, i, &svc) || !ldmesh_snap_service_listed(c->s, i))
			continue;
		for (unsigned k = 0; k < svc.ip_count && k < LDMESH_MAX_CLUSTER_IPS; k++) {
			if (memcmp(svc.cluster_ips[k], a, 16))
				continue;
			if (emit) {
				dns__svc_fqdn(c, &svc, fqdn, sizeof(fqdn));
				dns__ptr(c, fqdn);
			}
			found++;
		}
		for (uint32_t k = 0; k < svc.endpoint_count && found < DNS_MAX_PTR; k++) {
			struct ldmesh_endpoint ep;

			if (!ldmesh_snap_endpoint(c->s, svc.first_endpoint + k, &ep) ||
			    memcmp(ep.addr, a, 16) || !dns__eligible(&svc, &ep))
				continue;
			if (emit) {
				dns__ep_fqdn(c, &svc, &ep, fqdn, sizeof(fqdn));
				dns__ptr(c, fqdn);
			}
			found++;
		}
	}
	return found;
}

static bool dns__in_service_cidr(const struct ldmesh_snap *s, const uint8_t a[16])
{
	unsigned p = s->service_cidr_prefix, full = p / 8;

	if (!p || p > 128)
		return false;
	if (memcmp(a, s->service_cidr, full))
		return false;
	return p % 8 == 0 ||
	       !((a[full] ^ s->service_cidr[full]) & (uint8_t)(0xff << (8 - p % 8)));
}

static int dns__reverse(struct dns_ctx *c, const struct dns_name *nm, size_t rel, bool v6)
{
	uint8_t a[16];

	if (!dns__reverse_addr(nm, rel, v6, a))
		return 0;
	if (!dns__ptr_scan(c, a, c->qtype == LDNS_RR_TYPE_PTR || c->qtype == LDNS_RR_TYPE_ANY)) {
		/* the service range is the cluster's: an address there the
		 * complete table lacks has no name; others are DNS's */
		if (!dns__in_service_cidr(c->s, a) || (c->s->flags & LDMESH_SNAP_F_INCOMPLETE))
			return 0;
		ldns_pkt_set_rcode(c->r, LDNS_RCODE_NXDOMAIN);
		return 1;
	}
	if (c->n)
		return 1;
	ldns_pkt_set_rcode(c->r, LDNS_RCODE_NOERROR);
	return 1;
}

/* 1: `r` holds the answer; 0: forward. */
static int dns__answer(const struct ldmesh_snap *s, const ldns_rr *q, uint64_t rnd, ldns_pkt *r)
{
	struct dns_ctx c = { .s = s, .qname = ldns_rr_owner(q), .qtype = ldns_rr_get_type(q),
			     .r = r, .rnd = rnd };
	struct dns_name nm;
	size_t rel;

	if (ldns_rr_get_class(q) != LDNS_RR_CLASS_IN || !dns__name_of(c.qname, &nm))
		return 0;
	ldmesh_snap_strcpy(s, s->cluster_domain, c.domain, sizeof(c.domain));
	c.dlen = strlen(c.domain);
	if (dns__under(&nm, "in-addr.arpa", 12, &rel))
		return dns__reverse(&c, &nm, rel, false);
	if (dns__under(&nm, "ip6.arpa", 8, &rel))
		return dns__reverse(&c, &nm, rel, true);
	if (!c.dlen || !dns__under(&nm, c.domain, c.dlen, &rel))
		return 0;
	return dns__zone(&c, &nm, rel);
}

/* ---- the message -------------------------------------------------------- */

static uint16_t dns__get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void dns__put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

size_t dns_reply_empty(const struct dns_query_info *info, unsigned rcode, bool tc,
		       uint8_t *out, size_t cap)
{
	size_t len = 12 + info->question_len + (info->edns ? 11 : 0);
	/* QR, the opcode and RD as asked, RA: the server recurses */
	uint16_t flags = (uint16_t)(0x8000 | (info->flags & 0x7900) | 0x0080 | (rcode & 15));

	if (len > cap)
		return 0;
	if (tc)
		flags |= 0x0200;
	memset(out, 0, 12);
	dns__put16(out, info->id);
	dns__put16(out + 2, flags);
	dns__put16(out + 4, info->question_len ? 1 : 0);
	if (info->question_len)
		memcpy(out + 12, info->question, info->question_len);
	if (info->edns) {
		uint8_t *o = out + 12 + info->question_len;

		dns__put16(out + 10, 1);
		o[0] = 0;
		dns__put16(o + 1, LDNS_RR_TYPE_OPT);
		dns__put16(o + 3, DNS_EDNS_SIZE);
		o[5] = (uint8_t)(rcode >> 4); /* extended rcode (BADVERS) */
		o[6] = o[7] = o[8] = 0;
		dns__put16(o + 9, 0);
	}
	return len;
}

/* The header and the raw question; false when the question is not one
 * uncompressed name and its type and class. */
static bool dns__question(const uint8_t *q, size_t len, struct dns_query_info *info)
{
	size_t i = 12;

	info->id = dns__get16(q);
	info->flags = dns__get16(q + 2);
	info->question = q + 12;
	info->question_len = 0;
	info->edns = false;
	info->do_bit = false;
	info->udp_size = DNS_UDP_PLAIN;
	if (dns__get16(q + 4) != 1)
		return false;
	while (i < len && q[i]) {
		if (q[i] > 63)
			return false; /* a pointer, or a reserved label type */
		i += 1u + q[i];
	}
	if (i + 5 > len || i - 12 + 1 > DNS__NAME_MAX)
		return false;
	info->question_len = i + 5 - 12;
	info->qtype = dns__get16(q + i + 1);
	info->qclass = dns__get16(q + i + 3);
	return true;
}

static size_t dns__to_wire(ldns_pkt *r, uint8_t *out, size_t cap)
{
	uint8_t *w = NULL;
	size_t n = 0;

	if (ldns_pkt2wire(&w, r, &n) != LDNS_STATUS_OK || n > cap) {
		free(w);
		return 0;
	}
	memcpy(out, w, n);
	free(w);
	return n;
}

static ldns_pkt *dns__reply_of(const ldns_pkt *p, const struct dns_query_info *info)
{
	ldns_pkt *r = ldns_pkt_new();

	if (!r)
		return NULL;
	ldns_pkt_set_id(r, info->id);
	ldns_pkt_set_qr(r, true);
	ldns_pkt_set_aa(r, true);
	ldns_pkt_set_rd(r, ldns_pkt_rd(p));
	ldns_pkt_set_cd(r, ldns_pkt_cd(p));
	ldns_pkt_set_ra(r, true);
	ldns_pkt_set_opcode(r, LDNS_PACKET_QUERY);
	if (!ldns_pkt_push_rr(r, LDNS_SECTION_QUESTION,
			      ldns_rr_clone(ldns_rr_list_rr(ldns_pkt_question(p), 0)))) {
		ldns_pkt_free(r);
		return NULL;
	}
	if (info->edns)
		ldns_pkt_set_edns_udp_size(r, DNS_EDNS_SIZE);
	return r;
}

enum dns_verdict dns_handle(const struct ldmesh_snap *s, const uint8_t *q, size_t len,
			    bool tcp, uint64_t rnd, uint8_t *out, size_t cap,
			    size_t *out_len, struct dns_query_info *info)
{
	ldns_pkt *p = NULL, *r = NULL;
	enum dns_verdict v = DNS_REPLY;
	size_t limit;
	int answered;

	*out_len = 0;
	/* too short to say who asked, or a response: nothing to answer (a
	 * reply to a reply is how two servers loop) */
	if (len < 12 || (q[2] & 0x80))
		return DNS_DROP;
	if (!dns__question(q, len, info)) {
		info->question_len = 0;
		*out_len = dns_reply_empty(info, LDNS_RCODE_FORMERR, false, out, cap);
		return DNS_REPLY;
	}
	if ((info->flags >> 11 & 15) != LDNS_PACKET_QUERY) {
		*out_len = dns_reply_empty(info, LDNS_RCODE_NOTIMPL, false, out, cap);
		return DNS_REPLY;
	}
	if (ldns_wire2pkt(&p, q, len) != LDNS_STATUS_OK ||
	    ldns_rr_list_rr_count(ldns_pkt_question(p)) != 1) {
		info->question_len = 0;
		*out_len = dns_reply_empty(info, LDNS_RCODE_FORMERR, false, out, cap);
		ldns_pkt_free(p);
		return DNS_REPLY;
	}
	info->edns = ldns_pkt_edns(p);
	if (info->edns) {
		info->do_bit = ldns_pkt_edns_do(p);
		info->udp_size = ldns_pkt_edns_udp_size(p);
		if (info->udp_size < DNS_UDP_PLAIN)
			info->udp_size = DNS_UDP_PLAIN;
		if (ldns_pkt_edns_version(p)) {
			*out_len = dns_reply_empty(info, 16 /* BADVERS */, false, out, cap);
			ldns_pkt_free(p);
			return DNS_REPLY;
		}
	}
	/* zone transfers and updates are not served */
	if (info->qtype == LDNS_RR_TYPE_AXFR || info->qtype == LDNS_RR_TYPE_IXFR) {
		*out_len = dns_reply_empty(info, LDNS_RCODE_REFUSED, false, out, cap);
		ldns_pkt_free(p);
		return DNS_REPLY;
	}
	r = s ? dns__reply_of(p, info) : NULL;
	answered = r ? dns__answer(s, ldns_rr_list_rr(ldns_pkt_question(p), 0), rnd, r) : 0;
	if (!answered) {
		v = DNS_FORWARD;
		goto out;
	}
	limit = tcp ? cap : info->udp_size < DNS_EDNS_SIZE ? info->udp_size : DNS_EDNS_SIZE;
	if (limit > cap)
		limit = cap;
	*out_len = dns__to_wire(r, out, limit);
	if (!*out_len) /* too large for the client's UDP limit: TC */
		*out_len = dns_reply_empty(info, ldns_pkt_get_rcode(r), true, out, cap);
	if (*out_len >= 4) /* AA: the table is the authority for what it answers */
		out[2] |= 0x04;
out:
	ldns_pkt_free(r);
	ldns_pkt_free(p);
	return v;
}
