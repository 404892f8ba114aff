/* SPDX-License-Identifier: MIT */
/* res_query and res_search against the table (resq.h). */
#include "resq.h"

#include <errno.h>
#include <netdb.h>
#include <string.h>

#include "answer.h"
#include "wire.h"

#define RESQ__HFIXEDSZ 12
/* glibc's EDNS payload size bound (RESOLV_EDNS_BUFFER_SIZE) */
#define RESQ__EDNS_MAX 1200
/* a query: header, a name of 255 bytes, type and class, OPT */

static void resq__put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

size_t resq_query(const char *name, uint16_t cls, uint16_t type,
		  const struct resq_opts *o, int anslen, uint64_t rnd,
		  uint8_t q[RESQ_QUERY_MAX])
{
	struct dns_wire_rec nm = { .len = 0 };
	size_t len = RESQ__HFIXEDSZ;
	uint16_t udp = anslen < 512 ? 512 : anslen > RESQ__EDNS_MAX ? RESQ__EDNS_MAX
		       : (uint16_t)anslen;

	if (strchr(name, '\\') || !name[0] || !strcmp(name, "."))
		return 0;
	dns_wire_rec_name(&nm, NULL, name, false);
	if (nm.bad || nm.len > 255)
		return 0;
	memset(q, 0, RESQ__HFIXEDSZ);
	resq__put16(q, (uint16_t)rnd);
	q[2] = o->rd ? 0x01 : 0;
	q[3] = o->ad ? 0x20 : 0;
	resq__put16(q + 4, 1);
	memcpy(q + len, nm.b, nm.len);
	len += nm.len;
	resq__put16(q + len, type);
	resq__put16(q + len + 2, cls);
	len += 4;
	if (o->edns) {
		resq__put16(q + 10, 1);
		q[len] = 0; /* the root owns OPT */
		resq__put16(q + len + 1, DNS_T_OPT);
		resq__put16(q + len + 3, udp);
		q[len + 5] = q[len + 6] = 0; /* extended rcode, version */
		resq__put16(q + len + 7, o->dnssec ? 0x8000 : 0);
		resq__put16(q + len + 9, 0);
		len += 11;
	}
	return len;
}

/* One exchange with ldmesh-dns's answering code, the reply into m (cap
 * bytes): true when it answers from the table with NOERROR or NXDOMAIN
 * and needs nothing upstream. */
static bool resq__ask(const struct ldmesh_snap *s, const uint8_t *q, size_t qlen, bool tcp,
		      uint64_t rnd, uint8_t *m, size_t cap, size_t *len, size_t *question_end)
{
	struct dns_query_info info;
	struct dns_wire wire;
	unsigned rcode;

	if (dns_handle_wire(s, NULL, &wire, q, qlen, tcp, rnd, m, cap, len, &info) != DNS_REPLY ||
	    *len < RESQ__HFIXEDSZ || info.chase)
		return false;
	rcode = m[3] & 15;
	*question_end = RESQ__HFIXEDSZ + info.question_len;
	return rcode == DNS_RC_NOERROR || rcode == DNS_RC_NXDOMAIN;
}

static bool resq__ask_reply(const struct ldmesh_snap *s, const uint8_t *q, size_t qlen,
			    bool tcp, uint64_t rnd, struct resq_reply *r)
{
	return resq__ask(s, q, qlen, tcp, rnd, r->m, sizeof(r->m), &r->len, &r->question_end);
}

bool resq_owns(const struct ldmesh_snap *s, const char *name, int cls, int type)
{
	const struct resq_opts o = { .rd = true };
	/* a plain UDP reply: whether it is the table's does not depend on
	 * its size (a larger one is a truncated reply, still the table's) */
	uint8_t q[RESQ_QUERY_MAX], m[DNS_UDP_PLAIN];
	size_t qlen, len, qend;

	if (!s || !name || cls < 0 || cls > 0xffff || type < 0 || type > 0xffff)
		return false;
	qlen = resq_query(name, (uint16_t)cls, (uint16_t)type, &o, DNS_UDP_PLAIN, 0, q);
	return qlen && resq__ask(s, q, qlen, false, 0, m, sizeof(m), &len, &qend);
}

bool resq_answer(const struct ldmesh_snap *s, const char *name, int cls, int type,
		 const struct resq_opts *o, int anslen, uint64_t rnd, struct resq_reply *r)
{
	uint8_t q[RESQ_QUERY_MAX];
	size_t qlen;

	if (!s || !name || cls < 0 || cls > 0xffff || type < 0 || type > 0xffff)
		return false;
	qlen = resq_query(name, (uint16_t)cls, (uint16_t)type, o, anslen, rnd, q);
	if (!qlen || !resq__ask_reply(s, q, qlen, o->vc, rnd, r))
		return false;
	r->via_tcp = o->vc;
	if (o->vc && (r->m[2] & 0x02))
		return false; /* larger than RESQ_REPLY_MAX */
	r->generation = s->generation;
	if (o->vc || !(r->m[2] & 0x02) || o->igntc || !o->tcp)
		return true;
	/* truncated: the resolver asks again over TCP (res_send.c send_vc) */
	if (!resq__ask_reply(s, q, qlen, true, rnd, r) || (r->m[2] & 0x02))
		return false; /* larger than RESQ_REPLY_MAX */
	r->via_tcp = true;
	return true;
}

static uint16_t resq__get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* res_query.c __res_context_query, after the reply came: the rcode and
 * the answer count say whether it is an answer. */
static struct resq_result resq__verdict(const uint8_t *hdr, int n)
{
	struct resq_result res = { .ret = n, .herr = -1, .err = 0 };
	unsigned rcode = hdr[3] & 15;

	if (rcode == DNS_RC_NOERROR && resq__get16(hdr + 6))
		return res;
	res.ret = -1;
	res.herr = rcode == DNS_RC_NXDOMAIN ? HOST_NOT_FOUND
		   : rcode == DNS_RC_NOERROR ? NO_DATA : NO_RECOVERY;
	return res;
}

struct resq_result resq_deliver_glibc(const struct resq_reply *r, unsigned char *answer,
				      int anslen)
{
	struct resq_result res = { .ret = -1, .herr = TRY_AGAIN, .err = EINVAL };
	size_t cap, n;
	int err = 0;

	/* res_send.c: "anssiz < HFIXEDSZ": EINVAL, then TRY_AGAIN */
	if (!answer || anslen < RESQ__HFIXEDSZ)
		return res;
	cap = (size_t)anslen;
	memcpy(answer, r->m, r->len < cap ? r->len : cap);
	if (r->via_tcp) {
		/* send_vc: what fits is read, TC marks the cut, and the
		 * length the server announced is returned */
		if (r->len > cap)
			answer[2] |= 0x02;
		n = r->len;
	} else {
		/* send_dg: recvfrom into anslen bytes. The reply is matched
		 * to the query by __libc_res_queriesmatch, whose failure to
		 * read a question name cut short counts as a match (-1 is
		 * true) and leaves dn_expand's EMSGSIZE in errno. */
		if (r->question_end - 4 > cap)
			err = EMSGSIZE;
		n = r->len < cap ? r->len : cap;
	}
	res = resq__verdict(answer, (int)n);
	res.err = err;
	return res;
}

struct resq_result resq_deliver_musl(const struct resq_reply *r, unsigned char *answer,
				     int anslen)
{
	struct resq_result res = { .ret = -1, .herr = TRY_AGAIN, .err = 0 };
	size_t n;

	/* __res_msend receives into the caller's buffer: what fits, its
	 * length returned; less than a header is no answer */
	if (!answer || anslen < RESQ__HFIXEDSZ)
		return res;
	n = r->len < (size_t)anslen ? r->len : (size_t)anslen;
	memcpy(answer, r->m, n);
	res = resq__verdict(answer, (int)n);
	/* any other rcode is an answer there */
	if (res.herr == NO_RECOVERY)
		res.herr = -1, res.ret = (int)n;
	return res;
}

void resq_search_plan(const char *name, unsigned ndots, bool defnames, bool dnsrch,
		      bool notldquery, char *const *dnsrch_list, unsigned max_domains,
		      struct resq_search *p)
{
	unsigned dots = 0, tried_as_is = 0, root_on_list = 0, searched = 0;
	size_t len = strlen(name);

	memset(p, 0, sizeof(*p));
	for (size_t i = 0; i < len; i++)
		dots += name[i] == '.';
	p->trailing_dot = len && name[len - 1] == '.';
	p->defnames = defnames;
	p->dnsrch = dnsrch;
	if (dots >= ndots || p->trailing_dot) {
		p->c[p->n].name = name;
		p->c[p->n++].as_is_first = true;
		tried_as_is = 1;
		if (p->trailing_dot)
			return; /* glibc returns whatever that try says */
	}
	if ((!dots && defnames) || (dots && !p->trailing_dot && dnsrch)) {
		for (unsigned i = 0; i < max_domains && dnsrch_list[i]; i++) {
			const char *d = dnsrch_list[i];

			if (d[0] == '.')
				d++;
			if (!d[0])
				root_on_list = 1;
			searched = 1;
			p->c[p->n].name = name;
			p->c[p->n].domain = d;
			p->c[p->n++].search = true;
			/* without RES_DNSRCH, one domain only */
			if (!dnsrch)
				break;
		}
	}
	if ((dots || !searched || !notldquery) && !(tried_as_is || root_on_list))
		p->c[p->n++].name = name;
}

bool resq_search_name(const struct resq_search *p, unsigned i, char out[RESQ_NAME_MAX])
{
	const char *name = p->c[i].name, *d = p->c[i].domain;
	size_t n = strlen(name);

	if (!d) {
		/* n-- first: an empty name wraps and is refused, as glibc */
		n--;
		if (n >= RESQ_NAME_MAX - 1)
			return false;
		memcpy(out, name, n + 1);
		out[name[n] == '.' ? n : n + 1] = 0;
		return true;
	}
	if (n + strlen(d) + 1 >= RESQ_NAME_MAX)
		return false;
	memcpy(out, name, n);
	out[n] = '.';
	strcpy(out + n + 1, d);
	return true;
}
