/* SPDX-License-Identifier: MIT */
#include "wire.h"

#include <string.h>

static uint16_t wire__get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void wire__put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

size_t dns_wire_skip_name(const uint8_t *m, size_t len, size_t i)
{
	for (unsigned labels = 0; i < len && labels < 128; labels++) {
		uint8_t l = m[i];

		if (!l)
			return i + 1;
		if ((l & 0xc0) == 0xc0)
			return i + 2 <= len ? i + 2 : 0;
		if (l > 63)
			return 0;
		i += 1u + l;
	}
	return 0;
}

/* An OPT record's data: options, each code, length, that many bytes. */
static bool wire__opt_ok(const uint8_t *d, size_t n)
{
	size_t i = 0;

	while (i < n) {
		if (i + 4 > n || i + 4 + wire__get16(d + i + 2) > n)
			return false;
		i += 4u + wire__get16(d + i + 2);
	}
	return true;
}

int dns_wire_parse(const uint8_t *m, size_t len, size_t qend, struct dns_wire_query *out)
{
	unsigned an = wire__get16(m + 6), ns = wire__get16(m + 8), ar = wire__get16(m + 10);
	size_t i = qend;

	memset(out, 0, sizeof(*out));
	for (unsigned k = 0; k < an + ns + ar; k++) {
		size_t start = i;
		uint16_t type, rdlen;

		/* every record takes 11 bytes at least: huge counts end here */
		i = dns_wire_skip_name(m, len, i);
		if (!i || i + 10 > len)
			return -1;
		type = wire__get16(m + i);
		rdlen = wire__get16(m + i + 8);
		if (i + 10 + rdlen > len)
			return -1;
		if (type == DNS_T_OPT) {
			/* RFC 6891 6.1.1: one, in the additional section, owned by
			 * the root */
			if (out->edns || k < an + ns || m[start] != 0 ||
			    !wire__opt_ok(m + i + 10, rdlen))
				return -1;
			out->edns = true;
			out->udp_size = wire__get16(m + i + 2);
			out->edns_version = m[i + 5];
			out->do_bit = m[i + 6] & 0x80;
		}
		i += 10u + rdlen;
	}
	return 0;
}

/* ---- writing ----------------------------------------------------------------- */

static void wire__room(struct dns_wire_rec *r, size_t n)
{
	if (r->len + n > sizeof(r->b))
		r->bad = true;
}

void dns_wire_rec_u16(struct dns_wire_rec *r, uint16_t v)
{
	wire__room(r, 2);
	if (r->bad)
		return;
	wire__put16(r->b + r->len, v);
	r->len += 2;
}

void dns_wire_rec_u32(struct dns_wire_rec *r, uint32_t v)
{
	dns_wire_rec_u16(r, (uint16_t)(v >> 16));
	dns_wire_rec_u16(r, (uint16_t)v);
}

void dns_wire_rec_bytes(struct dns_wire_rec *r, const void *p, size_t n)
{
	wire__room(r, n);
	if (r->bad)
		return;
	memcpy(r->b + r->len, p, n);
	r->len += n;
}

static bool wire__ieq(const char *a, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char x = a[i], y = (char)b[i];

		if (x >= 'A' && x <= 'Z')
			x = (char)(x + 32);
		if (y >= 'A' && y <= 'Z')
			y = (char)(y + 32);
		if (x != y)
			return false;
	}
	return true;
}

/* Whether the text labels `t` (n bytes, dotted) spell the wire name at
 * message offset `at` (uncompressed: the question's). */
static bool wire__same(const struct dns_wire *w, size_t at, const char *t, size_t n)
{
	size_t i = at, k = 0;

	while (i < w->qname_end && w->m[i]) {
		uint8_t l = w->m[i];

		if (k && (k >= n || t[k++] != '.'))
			return false;
		if (k + l > n || !wire__ieq(t + k, w->m + i + 1, l))
			return false;
		k += l;
		i += 1u + l;
	}
	return k == n;
}

void dns_wire_rec_name(struct dns_wire_rec *r, const struct dns_wire *w, const char *text,
		       bool compress)
{
	size_t n = strlen(text), k = 0, total = 0;

	if (n && text[n - 1] == '.')
		n--;
	r->name_at = r->len;
	while (k < n) {
		size_t l = 0;

		/* the rest of the name as a suffix of the question's */
		if (compress)
			for (size_t i = 12; i < w->qname_end && w->m[i]; i += 1u + w->m[i])
				if (wire__same(w, i, text + k, n - k)) {
					dns_wire_rec_u16(r, (uint16_t)(0xc000 | i));
					return;
				}
		while (k + l < n && text[k + l] != '.')
			l++;
		total += l + 1;
		if (!l || l > 63 || total + 1 > 255) {
			r->bad = true;
			return;
		}
		wire__room(r, l + 1);
		if (r->bad)
			return;
		r->b[r->len] = (uint8_t)l;
		memcpy(r->b + r->len + 1, text + k, l);
		r->len += l + 1;
		k += l + (k + l < n ? 1 : 0);
	}
	wire__room(r, 1);
	if (!r->bad)
		r->b[r->len++] = 0;
}

void dns_wire_rec_start(struct dns_wire_rec *r, const struct dns_wire *w, uint16_t owner,
			const char *text, uint16_t type, uint32_t ttl)
{
	r->len = 0;
	r->bad = false;
	if (owner)
		dns_wire_rec_u16(r, (uint16_t)(0xc000 | owner));
	else
		dns_wire_rec_name(r, w, text, true);
	dns_wire_rec_u16(r, type);
	dns_wire_rec_u16(r, DNS_CLASS_IN);
	dns_wire_rec_u32(r, ttl);
	r->rdlen_at = r->len;
	dns_wire_rec_u16(r, 0);
	r->name_at = 0;
}

size_t dns_wire_put(struct dns_wire *w, struct dns_wire_rec *r, enum dns_wire_section sec)
{
	size_t at;

	if (r->bad || r->len < r->rdlen_at + 2)
		return 0;
	wire__put16(r->b + r->rdlen_at, (uint16_t)(r->len - r->rdlen_at - 2));
	if (sec == DNS_AR) {
		if (w->add_full || w->add_len + r->len > sizeof(w->add) || w->ar == UINT16_MAX) {
			w->add_full = true;
			return 0;
		}
		memcpy(w->add + w->add_len, r->b, r->len);
		w->add_len += r->len;
		w->ar++;
		return 0;
	}
	/* a record after the authority's would land in the wrong section:
	 * the callers put answers first */
	if (w->full || w->len + r->len > w->cap || (sec == DNS_AN && w->ns)) {
		w->full = true;
		return 0;
	}
	at = w->len;
	memcpy(w->m + w->len, r->b, r->len);
	w->len += r->len;
	if (sec == DNS_AN)
		w->an++;
	else
		w->ns++;
	return r->name_at ? at + r->name_at : 0;
}

size_t dns_wire_finish(struct dns_wire *w, uint16_t id, uint16_t flags, bool edns,
		       uint16_t edns_size, unsigned rcode)
{
	bool add = !w->add_full && w->len + w->add_len <= w->cap;

	wire__put16(w->m, id);
	wire__put16(w->m + 2, (uint16_t)((flags & ~0x000f) | (rcode & 15)));
	wire__put16(w->m + 4, 1);
	wire__put16(w->m + 6, w->an);
	wire__put16(w->m + 8, w->ns);
	/* the additional section is a courtesy: left out whole when it does
	 * not fit (RFC 2181 9: no TC for that) */
	if (add) {
		memcpy(w->m + w->len, w->add, w->add_len);
		w->len += w->add_len;
	}
	wire__put16(w->m + 10, (uint16_t)((add ? w->ar : 0) + (edns ? 1 : 0)));
	if (edns) {
		uint8_t *o = w->m + w->len;

		o[0] = 0;
		wire__put16(o + 1, DNS_T_OPT);
		wire__put16(o + 3, edns_size);
		o[5] = (uint8_t)(rcode >> 4);
		o[6] = o[7] = o[8] = 0;
		wire__put16(o + 9, 0);
		w->len += 11;
	}
	return w->len;
}

/* ---- splicing ----------------------------------------------------------------- */

/* The name at `i` of `m`, pointers followed (each strictly backwards, so
 * they cannot loop), written uncompressed at out[*o]; the offset past the
 * name where it is written in `m` (not where a pointer led), or 0. */
static size_t wire__expand(const uint8_t *m, size_t len, size_t i, uint8_t *out, size_t cap,
			   size_t *o)
{
	size_t end = 0, total = 0;

	while (i < len) {
		uint8_t l = m[i];

		if ((l & 0xc0) == 0xc0) {
			size_t to;

			if (i + 2 > len)
				return 0;
			to = (size_t)(l & 0x3f) << 8 | m[i + 1];
			if (!end)
				end = i + 2;
			if (to >= i)
				return 0;
			i = to;
			continue;
		}
		if (l > 63 || i + 1 + l > len || (total += 1u + l) > 255 || *o + 1 + l > cap)
			return 0;
		memcpy(out + *o, m + i, 1u + l);
		*o += 1u + l;
		i += 1u + l;
		if (!l)
			return end ? end : i;
	}
	return 0;
}

/* Past the answer section of a message of one question: its offset, or 0. */
static size_t wire__answers_end(const uint8_t *m, size_t len)
{
	size_t i = dns_wire_skip_name(m, len, 12);

	if (!i || (i += 4) > len)
		return 0;
	for (unsigned k = 0, an = wire__get16(m + 6); k < an; k++) {
		i = dns_wire_skip_name(m, len, i);
		if (!i || i + 10 > len || i + 10 + wire__get16(m + i + 8) > len)
			return 0;
		i += 10u + wire__get16(m + i + 8);
	}
	return i;
}

size_t dns_wire_splice(uint8_t *out, size_t cap, const uint8_t *prefix, size_t plen,
		       const uint8_t *up, size_t ulen)
{
	size_t pend, o, i, added = 0;
	unsigned an;

	if (plen < 12 || ulen < 12 || wire__get16(up + 4) != 1 ||
	    !(pend = wire__answers_end(prefix, plen)) || pend > cap)
		return 0;
	memcpy(out, prefix, pend);
	o = pend;
	i = dns_wire_skip_name(up, ulen, 12);
	if (!i || (i += 4) > ulen)
		return 0;
	an = wire__get16(up + 6);
	for (unsigned k = 0; k < an; k++) {
		size_t rec = o, at;
		uint16_t type, rdlen;

		if (!(i = wire__expand(up, ulen, i, out, cap, &o)) || i + 10 > ulen)
			return 0;
		type = wire__get16(up + i);
		rdlen = wire__get16(up + i + 8);
		if (i + 10 + rdlen > ulen || o + 10 > cap)
			return 0;
		memcpy(out + o, up + i, 10);
		at = o + 8;
		o += 10;
		if (type == DNS_T_A || type == DNS_T_AAAA) {
			if (rdlen != (type == DNS_T_A ? 4 : 16) || o + rdlen > cap)
				return 0;
			memcpy(out + o, up + i + 10, rdlen);
			o += rdlen;
		} else if (type == DNS_T_CNAME) {
			size_t start = o;

			/* the name fills the data exactly, or the answer is bad */
			if (wire__expand(up, ulen, i + 10, out, cap, &o) != i + 10 + rdlen)
				return 0;
			wire__put16(out + at, (uint16_t)(o - start));
		} else {
			o = rec; /* what a stub asking A or AAAA has no use for */
			i += 10u + rdlen;
			continue;
		}
		i += 10u + rdlen;
		added++;
	}
	if (o + (plen - pend) > cap)
		return 0;
	memcpy(out + o, prefix + pend, plen - pend);
	o += plen - pend;
	wire__put16(out + 6, (uint16_t)(wire__get16(prefix + 6) + added));
	out[3] = (uint8_t)((out[3] & 0xf0) | (up[3] & 0x0f));
	return o;
}
