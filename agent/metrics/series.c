/* SPDX-License-Identifier: MIT */
/* The series store: counters datagrams in, one series per key, bounded. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ldmesh/hash.h"
#include "series_priv.h"

int metrics_init(struct metrics *m, size_t max_series)
{
	size_t n = 64;

	memset(m, 0, sizeof(*m));
	if (!max_series || max_series > METRICS_MAX_SERIES_LIMIT)
		return -EINVAL;
	/* chains of one or two at the cap */
	while (n < max_series)
		n <<= 1;
	m->buckets = calloc(n, sizeof(*m->buckets));
	if (!m->buckets)
		return -ENOMEM;
	m->n_buckets = n;
	m->max_series = max_series;
	return 0;
}

static void metrics__unlink(struct metrics *m, struct metrics_series *s)
{
	struct metrics_series **pp = &m->buckets[s->hash & (m->n_buckets - 1)];

	while (*pp != s)
		pp = &(*pp)->next;
	*pp = s->next;
	if (s->prev_all)
		s->prev_all->next_all = s->next_all;
	else
		m->all = s->next_all;
	if (s->next_all)
		s->next_all->prev_all = s->prev_all;
	m->n_series--;
	free(s->labels);
	free(s);
}

void metrics_fini(struct metrics *m)
{
	while (m->all)
		metrics__unlink(m, m->all);
	free(m->buckets);
	m->buckets = NULL;
}

size_t metrics_expire(struct metrics *m, uint64_t now_s, uint64_t idle_s)
{
	struct metrics_series *s = m->all, *next;
	size_t n = 0;

	for (; s; s = next) {
		next = s->next_all;
		if (s->touched_s + idle_s <= now_s) {
			metrics__unlink(m, s);
			n++;
		}
	}
	m->expired += n;
	return n;
}

/* A NUL-padded field of the datagram, copied NUL-terminated; bytes other
 * than printable ASCII become '_' so a label is always valid UTF-8 and
 * one line (the sender is not trusted). */
static void metrics__copy_label(char *dst, const char *src, size_t n)
{
	size_t i;

	for (i = 0; i < n - 1 && src[i]; i++)
		dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : '_';
	dst[i] = 0;
}

static struct metrics_series *metrics__find(struct metrics *m, const struct metrics_key *k,
					    uint64_t h)
{
	struct metrics_series *s = m->buckets[h & (m->n_buckets - 1)];

	for (; s; s = s->next)
		if (s->hash == h && !memcmp(&s->key, k, sizeof(*k)))
			return s;
	return NULL;
}

/* The series for `k`, made when new; NULL past the cap or out of memory
 * (counted). */
static struct metrics_series *metrics__series(struct metrics *m, const struct metrics_key *k)
{
	uint64_t h = ldmesh_hash64(k, sizeof(*k), 0x6d6574726963ULL);
	struct metrics_series *s = metrics__find(m, k, h), **b;

	if (s)
		return s;
	if (m->n_series >= m->max_series) {
		m->dropped[METRICS_DROP_SERIES_CAP]++;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s || !(s->labels = metrics_labels(k))) {
		free(s);
		m->dropped[METRICS_DROP_NOMEM]++;
		return NULL;
	}
	s->key = *k;
	s->hash = h;
	b = &m->buckets[h & (m->n_buckets - 1)];
	s->next = *b;
	*b = s;
	s->next_all = m->all;
	if (m->all)
		m->all->prev_all = s;
	m->all = s;
	m->n_series++;
	return s;
}

static void metrics__add(struct metrics_series *s, const struct ldmesh_report_count *c)
{
	s->opened += c->opened;
	s->closed += c->closed;
	s->failovers += c->failovers;
	s->ejections += c->ejections;
	for (int i = 0; i < LDMESH_FAIL_REASONS; i++)
		s->failed[i] += c->failed[i];
	for (int i = 0; i < LDMESH_LATENCY_BUCKETS; i++)
		s->latency[i] += c->latency[i];
	s->latency_us_sum += c->latency_us_sum;
	s->bytes_sent += c->bytes_sent;
	s->bytes_received += c->bytes_received;
	s->rtt_us_sum += c->rtt_us_sum;
	s->rtt_count += c->rtt_count;
}

/* The header says a COUNTS datagram of exactly `len` bytes. */
static bool metrics__well_formed(const struct ldmesh_report_hdr *h, size_t len)
{
	size_t room = len - sizeof(*h) - sizeof(struct ldmesh_report_source);

	if (h->magic != LDMESH_REPORT_MAGIC || h->version != LDMESH_REPORT_VERSION ||
	    h->type != LDMESH_REPORT_COUNTS)
		return false;
	/* a newer sender may append fields: read the prefix we know */
	if (h->entry_size < sizeof(struct ldmesh_report_count) || h->entry_size > LDMESH_REPORT_MAX)
		return false;
	return (uint64_t)h->count * h->entry_size == room;
}

void metrics_ingest_entries(struct metrics *m, const struct ldmesh_report_source *src,
			    const unsigned char *entries, uint32_t count, uint32_t entry_size,
			    uint64_t now_s, metrics_resolve_fn resolve, void *ctx)
{
	struct metrics_key k;

	m->datagrams++;
	for (uint32_t i = 0; i < count; i++) {
		struct ldmesh_report_count c;
		struct metrics_series *s;

		memcpy(&c, entries + (size_t)i * entry_size, sizeof(c));
		memset(&k, 0, sizeof(k));
		metrics__copy_label(k.src_ns, src->ns, sizeof(src->ns));
		metrics__copy_label(k.src_pod, src->pod, sizeof(src->pod));
		if (!resolve || !resolve(ctx, c.vip, c.vip_port, c.protocol, &k.svc)) {
			memset(&k.svc, 0, sizeof(k.svc));
			memcpy(k.vip, c.vip, 16);
			k.vip_port = c.vip_port;
		}
		memcpy(k.backend, c.backend, 16);
		k.backend_port = c.backend_port;
		k.protocol = c.protocol;
		s = metrics__series(m, &k);
		if (!s)
			continue;
		metrics__add(s, &c);
		s->touched_s = now_s;
		m->entries++;
	}
}

int metrics_ingest(struct metrics *m, const void *buf, size_t len, uint64_t now_s,
		   metrics_resolve_fn resolve, void *ctx)
{
	const unsigned char *p = buf;
	struct ldmesh_report_hdr h;
	struct ldmesh_report_source src;
	uint64_t before = m->entries;

	if (len < sizeof(h) + sizeof(src) || len > LDMESH_REPORT_MAX)
		goto bad;
	memcpy(&h, p, sizeof(h));
	if (!metrics__well_formed(&h, len))
		goto bad;
	memcpy(&src, p + sizeof(h), sizeof(src));
	metrics_ingest_entries(m, &src, p + sizeof(h) + sizeof(src), h.count, h.entry_size, now_s,
			       resolve, ctx);
	return (int)(m->entries - before);
bad:
	m->dropped[METRICS_DROP_MALFORMED]++;
	return -EINVAL;
}
