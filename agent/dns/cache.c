/* SPDX-License-Identifier: MIT */
#include "cache.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ldmesh/hash.h"
#include "wire.h"

#define DNS_CACHE_KEY_MAX (DNS__QMAX + 1)
#define DNS__QMAX 260
#define DNS__TTL_OFFS 64 /* TTL fields patched per answer; past that, not cached */

struct dns_centry {
	struct dns_centry *next;             /* hash chain */
	struct dns_centry *older, *newer;    /* LRU list */
	uint64_t hash;
	uint64_t stored_s, expires_s;
	uint16_t key_len, len, n_offs;
	uint16_t offs[DNS__TTL_OFFS];
	uint8_t key[DNS_CACHE_KEY_MAX];
	uint8_t data[];                      /* the response */
};

struct dns_cache {
	struct dns_centry **buckets;
	size_t mask;
	size_t n, max_entries;
	size_t bytes, max_bytes;
	struct dns_centry *newest, *oldest;
};

int dns_cache_new(struct dns_cache **out, size_t max_entries, size_t max_bytes)
{
	struct dns_cache *c = calloc(1, sizeof(*c));
	size_t nb = 16;

	if (!c)
		return -ENOMEM;
	while (nb < max_entries * 2 && nb < ((size_t)1 << 24))
		nb <<= 1;
	c->buckets = calloc(nb, sizeof(*c->buckets));
	if (!c->buckets) {
		free(c);
		return -ENOMEM;
	}
	c->mask = nb - 1;
	c->max_entries = max_entries ? max_entries : 1;
	c->max_bytes = max_bytes;
	*out = c;
	return 0;
}

void dns_cache_free(struct dns_cache *c)
{
	struct dns_centry *e, *next;

	if (!c)
		return;
	for (e = c->newest; e; e = next) {
		next = e->older;
		free(e);
	}
	free(c->buckets);
	free(c);
}

size_t dns_cache_entries(const struct dns_cache *c)
{
	return c->n;
}

/* The key: the question with its name case-folded (0x20 clients spell it
 * at random), then the bits that change the answer. */
static size_t dns__key(const struct dns_query_info *info, uint8_t key[DNS_CACHE_KEY_MAX])
{
	size_t n = info->question_len;

	if (n > DNS__QMAX || n < 5)
		return 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t b = info->question[i];
		/* length bytes are at most 63: below 'A', never folded */
		key[i] = (b >= 'A' && b <= 'Z') ? (uint8_t)(b + 32) : b;
	}
	key[n] = (uint8_t)((info->edns ? 1 : 0) | (info->do_bit ? 2 : 0) |
			   ((info->flags & 0x0010) ? 4 : 0) /* CD */);
	return n + 1;
}

static void dns__unlink(struct dns_cache *c, struct dns_centry *e)
{
	struct dns_centry **pp = &c->buckets[e->hash & c->mask];

	while (*pp && *pp != e)
		pp = &(*pp)->next;
	if (*pp)
		*pp = e->next;
	if (e->older)
		e->older->newer = e->newer;
	else
		c->oldest = e->newer;
	if (e->newer)
		e->newer->older = e->older;
	else
		c->newest = e->older;
	c->n--;
	c->bytes -= sizeof(*e) + e->len;
	free(e);
}

/* In at the front of the LRU list (e not in it). */
static void dns__link_front(struct dns_cache *c, struct dns_centry *e)
{
	e->newer = NULL;
	e->older = c->newest;
	if (c->newest)
		c->newest->newer = e;
	c->newest = e;
	if (!c->oldest)
		c->oldest = e;
}

static void dns__to_front(struct dns_cache *c, struct dns_centry *e)
{
	if (c->newest == e)
		return;
	if (e->older)
		e->older->newer = e->newer;
	else
		c->oldest = e->newer;
	e->newer->older = e->older; /* e is not the newest: it has a newer */
	dns__link_front(c, e);
}

static struct dns_centry *dns__find(struct dns_cache *c, const uint8_t *key, size_t klen,
				    uint64_t h)
{
	for (struct dns_centry *e = c->buckets[h & c->mask]; e; e = e->next)
		if (e->hash == h && e->key_len == klen && !memcmp(e->key, key, klen))
			return e;
	return NULL;
}

static void dns__put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t dns__get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

size_t dns_cache_get(struct dns_cache *c, const struct dns_query_info *info,
		     uint64_t now_s, uint8_t *out, size_t cap)
{
	uint8_t key[DNS_CACHE_KEY_MAX];
	size_t klen = dns__key(info, key);
	uint64_t h, age;
	struct dns_centry *e;

	if (!klen)
		return 0;
	h = ldmesh_hash64(key, klen, 0);
	e = dns__find(c, key, klen, h);
	if (!e)
		return 0;
	if (now_s >= e->expires_s) {
		dns__unlink(c, e);
		return 0;
	}
	if (e->len > cap)
		return 0;
	dns__to_front(c, e);
	memcpy(out, e->data, e->len);
	/* the asker's ID, RD as asked, and its spelling of the question (the
	 * same length: equal keys, equal names but for case) */
	out[0] = (uint8_t)(info->id >> 8);
	out[1] = (uint8_t)info->id;
	out[2] = (uint8_t)((out[2] & ~0x01) | ((info->flags >> 8) & 0x01));
	memcpy(out + 12, info->question, info->question_len);
	age = now_s - e->stored_s;
	for (unsigned i = 0; i < e->n_offs; i++) {
		uint32_t t = dns__get32(out + e->offs[i]);

		dns__put32(out + e->offs[i], t > age ? (uint32_t)(t - age) : 0);
	}
	return e->len;
}

/* ---- walking a response ---------------------------------------------------- */

static uint16_t dns__get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

int dns_cache_ttl(const uint8_t *m, size_t len, uint16_t *offs, size_t max_offs,
		  size_t *n_offs)
{
	unsigned rcode, qd, an, ns, ar;
	uint32_t min = UINT32_MAX, neg = UINT32_MAX;
	size_t i = 12;

	*n_offs = 0;
	if (len < 12 || len > UINT16_MAX)
		return -1;
	rcode = m[3] & 15;
	if ((rcode != 0 && rcode != 3) || (m[2] & 0x02) /* TC */)
		return -1;
	qd = dns__get16(m + 4);
	an = dns__get16(m + 6);
	ns = dns__get16(m + 8);
	ar = dns__get16(m + 10);
	for (unsigned k = 0; k < qd; k++) {
		i = dns_wire_skip_name(m, len, i);
		if (!i || (i += 4) > len)
			return -1;
	}
	for (unsigned k = 0; k < an + ns + ar; k++) {
		uint16_t type, rdlen;
		uint32_t ttl;

		i = dns_wire_skip_name(m, len, i);
		if (!i || i + 10 > len)
			return -1;
		type = dns__get16(m + i);
		ttl = dns__get32(m + i + 4);
		rdlen = dns__get16(m + i + 8);
		if (i + 10 + rdlen > len)
			return -1;
		if (type != 41 /* OPT: its TTL field is flags */) {
			if (*n_offs >= max_offs)
				return -1;
			offs[(*n_offs)++] = (uint16_t)(i + 4);
			if (ttl & 0x80000000U) /* RFC 2181 8: treat as 0 */
				ttl = 0;
			if (ttl < min)
				min = ttl;
			if (k >= an && k < an + ns && type == 6 /* SOA */ && rdlen >= 20) {
				uint32_t soa_min = dns__get32(m + i + 10 + rdlen - 4);

				neg = ttl < soa_min ? ttl : soa_min;
			}
		}
		i += 10u + rdlen;
	}
	if (rcode == 3 || an == 0) {
		/* negative: the SOA says for how long (RFC 2308 5); without one
		 * it is not cached */
		if (neg == UINT32_MAX)
			return -1;
		return (int)(neg < DNS_CACHE_MAX_NEG_TTL ? neg : DNS_CACHE_MAX_NEG_TTL);
	}
	if (min == UINT32_MAX)
		return -1;
	return (int)(min < DNS_CACHE_MAX_TTL ? min : DNS_CACHE_MAX_TTL);
}

void dns_cache_put(struct dns_cache *c, const struct dns_query_info *info,
		   const uint8_t *resp, size_t len, uint64_t now_s)
{
	uint8_t key[DNS_CACHE_KEY_MAX];
	size_t klen = dns__key(info, key), n_offs;
	uint16_t offs[DNS__TTL_OFFS];
	int ttl = dns_cache_ttl(resp, len, offs, DNS__TTL_OFFS, &n_offs);
	struct dns_centry *e, *old;
	uint64_t h;

	if (!klen || ttl <= 0 || len < 12 + info->question_len ||
	    sizeof(*e) + len > c->max_bytes)
		return;
	h = ldmesh_hash64(key, klen, 0);
	if ((old = dns__find(c, key, klen, h)))
		dns__unlink(c, old);
	e = malloc(sizeof(*e) + len);
	if (!e)
		return;
	e->hash = h;
	e->stored_s = now_s;
	e->expires_s = now_s + (uint64_t)ttl;
	e->key_len = (uint16_t)klen;
	e->len = (uint16_t)len;
	e->n_offs = (uint16_t)n_offs;
	memcpy(e->offs, offs, n_offs * sizeof(offs[0]));
	memcpy(e->key, key, klen);
	memcpy(e->data, resp, len);
	e->next = c->buckets[h & c->mask];
	c->buckets[h & c->mask] = e;
	dns__link_front(c, e);
	c->n++;
	c->bytes += sizeof(*e) + len;
	while ((c->n > c->max_entries || c->bytes > c->max_bytes) && c->oldest != e)
		dns__unlink(c, c->oldest);
}
