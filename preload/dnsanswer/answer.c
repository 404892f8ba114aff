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
 * endpoint with publishNotReadyAddresses. Replies are written by wire.c.
 */
#include "answer.h"

#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "rindex.h"
#include "wire.h"

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

/* The question's name, as the client spelt it, is at offset 12 of the
 * reply: records owned by it point there. */
#define DNS__QNAME 12

struct dns_ctx {
	const struct ldmesh_snap *s;
	struct dns_rindex **ri; /* the caller's index by address, or NULL */
	uint16_t qtype;
	struct dns_wire *w;
	struct dns_query_info *info;
	unsigned rcode;
	char domain[LDMESH_STR_MAX + 1];
	size_t dlen;
	uint64_t rnd;
	unsigned n; /* records added */
};

static bool dns__name_of(const uint8_t *w, size_t size, struct dns_name *nm)
{
	size_t i = 0;

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

/* Place a record, within DNS_MAX_RECORDS; see dns_wire_put. */
static size_t dns__put(struct dns_ctx *c, struct dns_wire_rec *r, enum dns_wire_section sec)
{
	if (c->n >= DNS_MAX_RECORDS)
		return 0;
	c->n++;
	return dns_wire_put(c->w, r, sec);
}

/* An A or AAAA record of `a` owned by the name at `owner` if the family is
 * the one asked (`qtype`; ANY takes both). Returns whether `a` is of an
 * asked family. */
static bool dns__addr(struct dns_ctx *c, enum dns_wire_section sec, uint16_t owner,
		      uint16_t qtype, const uint8_t a[16])
{
	bool v4 = dns__is_v4(a);
	struct dns_wire_rec r;

	if (qtype != DNS_T_ANY && qtype != (v4 ? DNS_T_A : DNS_T_AAAA))
		return false;
	dns_wire_rec_start(&r, c->w, owner, NULL, v4 ? DNS_T_A : DNS_T_AAAA, DNS_TTL);
	dns_wire_rec_bytes(&r, v4 ? a + 12 : a, v4 ? 4 : 16);
	dns__put(c, &r, sec);
	return true;
}

static void dns__soa(struct dns_ctx *c, enum dns_wire_section sec)
{
	char buf[LDMESH_STR_MAX + 32];
	struct dns_wire_rec r;

	dns_wire_rec_start(&r, c->w, 0, c->domain, DNS_T_SOA, DNS_TTL);
	snprintf(buf, sizeof(buf), "ns.dns.%s", c->domain);
	dns_wire_rec_name(&r, c->w, buf, true);
	snprintf(buf, sizeof(buf), "hostmaster.%s", c->domain);
	dns_wire_rec_name(&r, c->w, buf, true);
	/* the serial moves with the table */
	dns_wire_rec_u32(&r, (uint32_t)c->s->generation);
	dns_wire_rec_u32(&r, 7200);  /* refresh */
	dns_wire_rec_u32(&r, 1800);  /* retry */
	dns_wire_rec_u32(&r, 86400); /* expire */
	dns_wire_rec_u32(&r, DNS_TTL); /* minimum: the negative TTL */
	dns__put(c, &r, sec);
}

/* The name exists, without the type asked: NOERROR, the SOA in authority. */
static int dns__nodata(struct dns_ctx *c)
{
	c->rcode = DNS_RC_NOERROR;
	dns__soa(c, DNS_NS);
	return 1;
}

/* A name in the zone the table does not have: NXDOMAIN from a complete
 * table, else forwarded (0). */
static int dns__nxdomain(struct dns_ctx *c)
{
	if (c->s->flags & LDMESH_SNAP_F_INCOMPLETE)
		return 0;
	c->rcode = DNS_RC_NXDOMAIN;
	dns__soa(c, DNS_NS);
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
			    !ldmesh_endpoint_listed(svc, &ep))
				continue;
			++*any;
			*asked += dns__addr(c, DNS_AN, DNS__QNAME, c->qtype, ep.addr);
		}
		return;
	}
	for (unsigned i = 0; i < svc->ip_count && i < LDMESH_MAX_CLUSTER_IPS; i++) {
		++*any;
		*asked += dns__addr(c, DNS_AN, DNS__QNAME, c->qtype,
				    svc->cluster_ips[i]);
	}
}

/* The question for the target of a CNAME, when it is outside the cluster
 * (inside, the table would answer it, and the client asks again). */
static void dns__chase(struct dns_ctx *c, const char *target)
{
	struct dns_query_info *info = c->info;
	struct dns_wire_rec t = { .len = 0 };
	size_t n = strlen(target), rel;
	struct dns_name nm;

	if (n && target[n - 1] == '.')
		n--;
	nm.len = n < sizeof(nm.text) ? n : 0;
	memcpy(nm.text, target, nm.len);
	nm.text[nm.len] = 0;
	for (size_t i = 0; i < nm.len; i++)
		if (nm.text[i] >= 'A' && nm.text[i] <= 'Z')
			nm.text[i] = (char)(nm.text[i] + 32);
	if (!nm.len || dns__under(&nm, c->domain, c->dlen, &rel))
		return;
	dns_wire_rec_name(&t, c->w, target, false);
	if (t.bad || t.len + 4 > sizeof(info->chase_q))
		return;
	memcpy(info->chase_q, t.b, t.len);
	info->chase_q[t.len] = (uint8_t)(c->qtype >> 8);
	info->chase_q[t.len + 1] = (uint8_t)c->qtype;
	info->chase_q[t.len + 2] = 0;
	info->chase_q[t.len + 3] = DNS_CLASS_IN;
	info->chase_len = t.len + 4;
	info->chase = true;
}

static int dns__external(struct dns_ctx *c, const struct ldmesh_service *svc)
{
	char target[LDMESH_STR_MAX + 1];
	struct dns_wire_rec r;

	ldmesh_snap_strcpy(c->s, svc->external_name, target, sizeof(target));
	dns_wire_rec_start(&r, c->w, DNS__QNAME, NULL, DNS_T_CNAME, DNS_TTL);
	dns_wire_rec_name(&r, c->w, target, true);
	if (!target[0] || r.bad)
		return dns__nxdomain(c);
	dns__put(c, &r, DNS_AN);
	if (c->qtype != DNS_T_CNAME && c->qtype != DNS_T_ANY)
		dns__chase(c, target);
	return 1;
}

static bool dns__is_addr_type(uint16_t t)
{
	return t == DNS_T_A || t == DNS_T_AAAA || t == DNS_T_ANY;
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
		    !ldmesh_snap_endpoint(c->s, slot->endpoint, &ep) ||
		    !ldmesh_endpoint_in_dns(&svc, &ep))
			return dns__nxdomain(c);
		if (dns__is_addr_type(c->qtype) &&
		    dns__addr(c, DNS_AN, DNS__QNAME, c->qtype, ep.addr))
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
	struct dns_wire_rec r;
	size_t at;

	if (!target_text[0])
		return;
	dns_wire_rec_start(&r, c->w, DNS__QNAME, NULL, DNS_T_SRV, DNS_TTL);
	dns_wire_rec_u16(&r, 0);   /* priority */
	dns_wire_rec_u16(&r, 100); /* weight */
	dns_wire_rec_u16(&r, port);
	/* RFC 2782: the target is not compressed */
	dns_wire_rec_name(&r, c->w, target_text, false);
	at = dns__put(c, &r, DNS_AN);
	/* the targets' addresses, so a client needs no second query; owned
	 * by the target just written */
	for (unsigned i = 0; at && at < 0x4000 && i < n_addrs; i++)
		dns__addr(c, DNS_AR, (uint16_t)at, DNS_T_ANY, addrs[i]);
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

		if (!ldmesh_snap_endpoint(c->s, e, &ep) || !ldmesh_endpoint_listed(svc, &ep))
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
		if (c->qtype != DNS_T_SRV && c->qtype != DNS_T_ANY)
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
		    memcmp(ep.addr, a, 16) || !ldmesh_endpoint_in_dns(&svc, &ep))
			continue;
		if (dns__is_addr_type(c->qtype) &&
		    dns__addr(c, DNS_AN, DNS__QNAME, c->qtype, ep.addr))
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
	    dns__addr(c, DNS_AN, DNS__QNAME, c->qtype, a))
		return 1;
	return dns__nodata(c);
}

static int dns__txt_version(struct dns_ctx *c)
{
	uint8_t txt[1 + sizeof(DNS_SCHEMA_VERSION)];
	struct dns_wire_rec r;

	if (c->qtype != DNS_T_TXT && c->qtype != DNS_T_ANY)
		return dns__nodata(c);
	txt[0] = sizeof(DNS_SCHEMA_VERSION) - 1;
	memcpy(txt + 1, DNS_SCHEMA_VERSION, sizeof(DNS_SCHEMA_VERSION) - 1);
	dns_wire_rec_start(&r, c->w, DNS__QNAME, NULL, DNS_T_TXT, DNS_TTL);
	dns_wire_rec_bytes(&r, txt, sizeof(DNS_SCHEMA_VERSION));
	dns__put(c, &r, DNS_AN);
	return 1;
}

static int dns__zone(struct dns_ctx *c, const struct dns_name *nm, size_t rel)
{
	struct ldmesh_name_slot slot;
	int rc;

	if (!rel) { /* the apex */
		if (c->qtype == DNS_T_SOA || c->qtype == DNS_T_ANY) {
			dns__soa(c, DNS_AN);
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
	struct dns_wire_rec r;

	if (!target_text[0])
		return;
	dns_wire_rec_start(&r, c->w, DNS__QNAME, NULL, DNS_T_PTR, DNS_TTL);
	dns_wire_rec_name(&r, c->w, target_text, true);
	dns__put(c, &r, DNS_AN);
}

/* The PTR of candidate (service i, endpoint e or LDMESH_NONE) if it has
 * address `a`: 1 if so, else 0. */
static unsigned dns__ptr_of(struct dns_ctx *c, uint32_t i, uint32_t e, const uint8_t a[16],
			    bool emit)
{
	char fqdn[DNS__NAME_MAX + 1];
	struct ldmesh_service svc;
	struct ldmesh_endpoint ep;
	unsigned found = 0;

	if (!ldmesh_snap_service(c->s, i, &svc) || !ldmesh_snap_service_listed(c->s, i))
		return 0;
	if (e == LDMESH_NONE) {
		for (unsigned k = 0; k < svc.ip_count && k < LDMESH_MAX_CLUSTER_IPS; k++) {
			if (memcmp(svc.cluster_ips[k], a, 16))
				continue;
			if (emit) {
				dns__svc_fqdn(c, &svc, fqdn, sizeof(fqdn));
				dns__ptr(c, fqdn);
			}
			found++;
		}
		return found;
	}
	if (e < svc.first_endpoint || e - svc.first_endpoint >= svc.endpoint_count ||
	    !ldmesh_snap_endpoint(c->s, e, &ep) || memcmp(ep.addr, a, 16) ||
	    !ldmesh_endpoint_in_dns(&svc, &ep))
		return 0;
	if (emit) {
		dns__ep_fqdn(c, &svc, &ep, fqdn, sizeof(fqdn));
		dns__ptr(c, fqdn);
	}
	return 1;
}

/* The caller's index, rebuilt when the table moved on; NULL when there is
 * none (ldmeshctl dig, the tests) or it cannot be built. */
static const struct dns_rindex *dns__rindex(struct dns_ctx *c)
{
	if (!c->ri)
		return NULL;
	if (!dns_rindex_of(*c->ri, c->s)) {
		dns_rindex_free(*c->ri);
		*c->ri = NULL;
		if (dns_rindex_build(c->s, c->ri))
			return NULL;
	}
	return *c->ri;
}

/*
 * The names an address has: the Services whose ClusterIP it is, and the
 * endpoints it is. Through the index by address when the caller keeps one
 * (rindex.h), else by a scan of the table, bounded by its size.
 */
static unsigned dns__ptr_scan(struct dns_ctx *c, const uint8_t a[16], bool emit)
{
	const struct dns_rindex *ri = dns__rindex(c);
	uint32_t n = ldmesh_snap_service_count(c->s);
	unsigned found = 0;

	if (ri) {
		uint32_t svc[DNS_MAX_PTR * 4], ep[DNS_MAX_PTR * 4];
		unsigned k = dns_rindex_find(ri, a, svc, ep, DNS_MAX_PTR * 4);

		for (unsigned j = 0; j < k && found < DNS_MAX_PTR; j++)
			found += dns__ptr_of(c, svc[j], ep[j], a, emit);
		return found;
	}
	for (uint32_t i = 0; i < n && found < DNS_MAX_PTR; i++) {
		struct ldmesh_service svc;

		found += dns__ptr_of(c, i, LDMESH_NONE, a, emit);
		if (!ldmesh_snap_service(c->s, i, &svc))
			continue;
		for (uint32_t k = 0; k < svc.endpoint_count && found < DNS_MAX_PTR; k++)
			found += dns__ptr_of(c, i, svc.first_endpoint + k, a, emit);
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
	if (!dns__ptr_scan(c, a, c->qtype == DNS_T_PTR || c->qtype == DNS_T_ANY)) {
		/* the service range is the cluster's: an address there the
		 * complete table lacks has no name; others are DNS's */
		if (!dns__in_service_cidr(c->s, a) || (c->s->flags & LDMESH_SNAP_F_INCOMPLETE))
			return 0;
		c->rcode = DNS_RC_NXDOMAIN;
		return 1;
	}
	return 1; /* the name exists: its PTRs, or no data of the type asked */
}

/* 1: the records are in c->w and the rcode in c->rcode; 0: forward. */
static int dns__answer(struct dns_ctx *c, const struct dns_query_info *info)
{
	struct dns_name nm;
	size_t rel;

	if (info->qclass != DNS_CLASS_IN ||
	    !dns__name_of(info->question, info->question_len - 4, &nm))
		return 0;
	ldmesh_snap_strcpy(c->s, c->s->cluster_domain, c->domain, sizeof(c->domain));
	c->dlen = strlen(c->domain);
	if (dns__under(&nm, "in-addr.arpa", 12, &rel))
		return dns__reverse(c, &nm, rel, false);
	if (dns__under(&nm, "ip6.arpa", 8, &rel))
		return dns__reverse(c, &nm, rel, true);
	if (!c->dlen || !dns__under(&nm, c->domain, c->dlen, &rel))
		return 0;
	return dns__zone(c, &nm, rel);
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

/* The reply's flags: QR, RD and CD as asked, RA (the server recurses). */
static uint16_t dns__reply_flags(const struct dns_query_info *info)
{
	return (uint16_t)(0x8000 | (info->flags & 0x7900) | 0x0080 | (info->flags & 0x0010));
}

size_t dns_reply_empty(const struct dns_query_info *info, unsigned rcode, bool tc,
		       uint8_t *out, size_t cap)
{
	size_t len = 12 + info->question_len + (info->edns ? 11 : 0);
	uint16_t flags = (uint16_t)(dns__reply_flags(info) | (rcode & 15));

	if (len > cap)
		return 0;
	if (tc)
		flags |= 0x0200;
	memset(out, 0, 12);
	dns__put16(out, info->id);
	dns__put16(out + 2, flags);
	dns__put16(out + 4, info->question_len ? 1 : 0);
	if (info->question_len)
		memmove(out + 12, info->question, info->question_len);
	if (info->edns) {
		uint8_t *o = out + 12 + info->question_len;

		dns__put16(out + 10, 1);
		o[0] = 0;
		dns__put16(o + 1, DNS_T_OPT);
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
	info->chase = false;
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

/* What a query is, before anything is looked up: 0 to go on, else the
 * rcode of the reply it gets (FORMERR, NOTIMP, BADVERS, REFUSED). */
static int dns__check(const uint8_t *q, size_t len, struct dns_query_info *info)
{
	struct dns_wire_query wq;

	if (!dns__question(q, len, info)) {
		info->question_len = 0;
		return DNS_RC_FORMERR;
	}
	if (dns_wire_parse(q, len, 12 + info->question_len, &wq)) {
		info->question_len = 0;
		return DNS_RC_FORMERR;
	}
	info->edns = wq.edns;
	if (wq.edns) {
		info->do_bit = wq.do_bit;
		info->udp_size = wq.udp_size < DNS_UDP_PLAIN ? DNS_UDP_PLAIN : wq.udp_size;
		if (wq.edns_version)
			return DNS_RC_BADVERS;
	}
	if ((info->flags >> 11 & 15) != 0 /* QUERY */)
		return DNS_RC_NOTIMP;
	/* zone transfers are not served */
	if (info->qtype == DNS_T_AXFR || info->qtype == DNS_T_IXFR)
		return DNS_RC_REFUSED;
	return 0;
}

enum dns_verdict dns_handle(const struct ldmesh_snap *s, const uint8_t *q, size_t len,
			    bool tcp, uint64_t rnd, uint8_t *out, size_t cap,
			    size_t *out_len, struct dns_query_info *info)
{
	return dns_handle_indexed(s, NULL, q, len, tcp, rnd, out, cap, out_len, info);
}

enum dns_verdict dns_handle_indexed(const struct ldmesh_snap *s, struct dns_rindex **ri,
				    const uint8_t *q, size_t len, bool tcp, uint64_t rnd,
				    uint8_t *out, size_t cap, size_t *out_len,
				    struct dns_query_info *info)
{
	static __thread struct dns_wire w;

	return dns_handle_wire(s, ri, &w, q, len, tcp, rnd, out, cap, out_len, info);
}

enum dns_verdict dns_handle_wire(const struct ldmesh_snap *s, struct dns_rindex **ri,
				 struct dns_wire *wire, const uint8_t *q, size_t len, bool tcp,
				 uint64_t rnd, uint8_t *out, size_t cap, size_t *out_len,
				 struct dns_query_info *info)
{
	struct dns_ctx c = { .s = s, .ri = ri, .w = wire, .info = info, .rnd = rnd };
	size_t limit;
	int rc;

	*out_len = 0;
	/* too short to say who asked, or a response: nothing to answer (a
	 * reply to a reply is how two servers loop) */
	if (len < 12 || (q[2] & 0x80))
		return DNS_DROP;
	if ((rc = dns__check(q, len, info))) {
		*out_len = dns_reply_empty(info, (unsigned)rc, false, out, cap);
		return DNS_REPLY;
	}
	if (!s)
		return DNS_FORWARD;
	c.qtype = info->qtype;
	limit = tcp ? DNS_MSG_MAX : info->udp_size < DNS_EDNS_SIZE ? info->udp_size : DNS_EDNS_SIZE;
	if (limit > cap)
		limit = cap;
	if (12 + info->question_len + 11 > limit)
		return DNS_DROP;
	memset(wire, 0, offsetof(struct dns_wire, add));
	wire->m = out;
	wire->cap = limit - (info->edns ? 11 : 0);
	memmove(out + 12, info->question, info->question_len);
	wire->len = 12 + info->question_len;
	wire->qname_end = wire->len - 4;
	wire->add_len = 0;
	wire->add_full = false;
	if (!dns__answer(&c, info))
		return DNS_FORWARD;
	if (wire->full) /* too large for the client's UDP limit: TC */
		*out_len = dns_reply_empty(info, c.rcode, true, out, cap);
	else
		*out_len = dns_wire_finish(wire, info->id, dns__reply_flags(info), info->edns,
					   DNS_EDNS_SIZE, c.rcode);
	if (*out_len >= 4) /* AA: the table is the authority for what it answers */
		out[2] |= 0x04;
	return DNS_REPLY;
}
