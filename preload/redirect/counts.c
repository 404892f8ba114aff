/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "counts.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "ldmesh/hash.h"
#include "ldmesh/report.h"
#include "report_send.h"

_Static_assert(sizeof(struct ldmesh_report_hdr) + sizeof(struct ldmesh_report_source) +
		       COUNTS_MAX * sizeof(struct ldmesh_report_count) <=
	       LDMESH_REPORT_MAX,
	       "one counters datagram holds every key");

enum { COUNTS__EMPTY = 0, COUNTS__WRITING = 1, COUNTS__READY = 2 };

struct counts__slot {
	atomic_uint state;       /* COUNTS__*: the key is read once READY */
	struct counts_key key;
	atomic_uint opened, closed, failovers, ejections, rtt_count;
	atomic_uint failed[LDMESH_FAIL_REASONS];
	atomic_uint latency[LDMESH_LATENCY_BUCKETS];
	_Atomic uint64_t latency_us_sum, bytes_sent, bytes_received, rtt_us_sum;
};

static struct counts__slot counts__tab[COUNTS_MAX];
static const struct preload_config *counts__cfg;
static struct ldmesh_table *counts__table;
static void (*counts__collect)(void);
static _Atomic uint64_t counts__last_flush_ns;
/* The tick before which no flush is due (0: ask the clock): a close asks
 * "is a second up?" every time, and the tick counter answers in one
 * instruction where clock_gettime takes tens. */
static _Atomic uint64_t counts__next_tick;
static atomic_flag counts__flushing = ATOMIC_FLAG_INIT;

/* Failure reports: the last time a backend (by its hash, COUNTS__RL slots;
 * two backends sharing one only report a little less) was reported. */
#define COUNTS__RL 64
static _Atomic uint64_t counts__reported_ns[COUNTS__RL];

static const uint32_t counts__bounds_us[LDMESH_LATENCY_BUCKETS - 1] = LDMESH_LATENCY_BOUNDS_US;

/* Built under counts__flushing only: too big for a thread's stack. */
static unsigned char counts__msg[LDMESH_REPORT_MAX];

void counts_setup(const struct preload_config *cfg, struct ldmesh_table *table,
		  void (*collect)(void))
{
	counts__cfg = cfg;
	counts__table = table;
	counts__collect = collect;
}

static uint64_t counts__now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

unsigned counts_reason(int err)
{
	switch (err) {
	case ECONNREFUSED:
		return LDMESH_FAIL_REFUSED;
	case ETIMEDOUT:
		return LDMESH_FAIL_TIMEOUT;
	case EHOSTUNREACH:
	case ENETUNREACH:
	case EHOSTDOWN:
	case EINVAL:
		return LDMESH_FAIL_UNREACHABLE;
	case ECONNRESET:
		return LDMESH_FAIL_RESET;
	default:
		return 0;
	}
}

static uint64_t counts__hash(const struct counts_key *k)
{
	uint64_t h = ldmesh_hash64(k->vip, 16, 0);

	h = ldmesh_hash64(k->backend, 16, h);
	return h ^ ((uint64_t)k->vip_port << 24 | (uint64_t)k->backend_port << 8 | k->protocol);
}

static bool counts__same(const struct counts_key *a, const struct counts_key *b)
{
	return a->vip_port == b->vip_port && a->backend_port == b->backend_port &&
	       a->protocol == b->protocol && !memcmp(a->vip, b->vip, 16) &&
	       !memcmp(a->backend, b->backend, 16);
}

/* The slot counting `k`, made if need be; NULL when the table is full. */
static struct counts__slot *counts__slot(const struct counts_key *k)
{
	uint32_t i = (uint32_t)counts__hash(k);

	for (unsigned n = 0; n < COUNTS_MAX; n++, i++) {
		struct counts__slot *s = &counts__tab[i % COUNTS_MAX];
		unsigned st = atomic_load_explicit(&s->state, memory_order_acquire), empty = 0;

		if (st == COUNTS__READY && counts__same(&s->key, k))
			return s;
		/* a slot being written is passed over: at worst a second
		 * slot for one key (see counts.h) */
		if (st == COUNTS__EMPTY &&
		    atomic_compare_exchange_strong(&s->state, &empty, COUNTS__WRITING)) {
			s->key = *k;
			atomic_store_explicit(&s->state, COUNTS__READY, memory_order_release);
			return s;
		}
	}
	return NULL;
}

#define COUNTS__ADD(field, v) atomic_fetch_add_explicit(&(field), (v), memory_order_relaxed)

static void counts__opened(struct counts__slot *s, uint64_t latency_ns)
{
	uint64_t us = latency_ns / 1000;
	unsigned b = 0;

	COUNTS__ADD(s->opened, 1);
	if (latency_ns == UINT64_MAX)
		return;
	while (b < LDMESH_LATENCY_BUCKETS - 1 && us > counts__bounds_us[b])
		b++;
	COUNTS__ADD(s->latency[b], 1);
	COUNTS__ADD(s->latency_us_sum, us);
}

void counts_opened(const struct counts_key *k, uint64_t latency_ns)
{
	struct counts__slot *s = counts__slot(k);

	if (s)
		counts__opened(s, latency_ns);
}

void counts_closed(const struct counts_key *k, bool opened, uint64_t latency_ns, uint64_t sent,
		   uint64_t received, uint32_t rtt_us)
{
	struct counts__slot *s = counts__slot(k);

	if (!s)
		return;
	if (opened)
		counts__opened(s, latency_ns);
	COUNTS__ADD(s->closed, 1);
	COUNTS__ADD(s->bytes_sent, sent);
	COUNTS__ADD(s->bytes_received, received);
	if (rtt_us != UINT32_MAX) {
		COUNTS__ADD(s->rtt_us_sum, rtt_us);
		COUNTS__ADD(s->rtt_count, 1);
	}
}

void counts_failover(const struct counts_key *k)
{
	struct counts__slot *s = counts__slot(k);

	if (s)
		COUNTS__ADD(s->failovers, 1);
}

void counts_ejected(const struct counts_key *k)
{
	struct counts__slot *s = counts__slot(k);

	if (s)
		COUNTS__ADD(s->ejections, 1);
}

uint64_t counts_ticks_ns(uint64_t ticks)
{
	if (!counts__table)
		return UINT64_MAX;
	/* the table converts "since a tick": ask about a tick `ticks` ago */
	return ldmesh_table_elapsed_ns(counts__table, ldmesh_tick() - ticks);
}

/* Whether k->backend was reported lately; if not, it is now. */
static bool counts__report_due(const struct counts_key *k, uint64_t now)
{
	uint64_t h = ldmesh_hash64(k->backend, 16, k->backend_port);
	_Atomic uint64_t *last = &counts__reported_ns[h % COUNTS__RL];
	uint64_t was = atomic_load_explicit(last, memory_order_relaxed);

	if (was && now - was < COUNTS_REPORT_EVERY_NS)
		return false;
	/* one thread of many failing at once sends */
	return atomic_compare_exchange_strong(last, &was, now);
}

static void counts__report(const struct counts_key *k, unsigned reason)
{
	struct {
		struct ldmesh_report_hdr h;
		struct ldmesh_report_failure f;
	} m;

	memset(&m, 0, sizeof(m));
	m.h = (struct ldmesh_report_hdr){ .magic = LDMESH_REPORT_MAGIC,
					  .version = LDMESH_REPORT_VERSION,
					  .type = LDMESH_REPORT_FAILURES,
					  .count = 1,
					  .entry_size = sizeof(m.f) };
	memcpy(m.f.addr, k->backend, 16);
	memcpy(m.f.vip, k->vip, 16);
	m.f.port = k->backend_port;
	m.f.vip_port = k->vip_port;
	m.f.protocol = k->protocol;
	m.f.reason = (uint8_t)reason;
	(void)report_send(counts__cfg->table_dir, &m, sizeof(m));
}

void counts_failure(const struct counts_key *k, int err)
{
	struct counts__slot *s = counts__slot(k);
	unsigned reason = counts_reason(err);
	int saved = errno;

	if (s)
		COUNTS__ADD(s->failed[reason], 1);
	if (reason && counts__cfg && counts__report_due(k, counts__now_ns()))
		counts__report(k, reason);
	counts_flush(false);
	errno = saved;
}

#define COUNTS__TAKE(field) atomic_exchange_explicit(&(field), 0, memory_order_relaxed)

/* Move slot `s`'s counts into entry `e`; false when there were none. */
static bool counts__take(struct counts__slot *s, struct ldmesh_report_count *e)
{
	uint64_t any;

	memset(e, 0, sizeof(*e));
	memcpy(e->vip, s->key.vip, 16);
	memcpy(e->backend, s->key.backend, 16);
	e->vip_port = s->key.vip_port;
	e->backend_port = s->key.backend_port;
	e->protocol = s->key.protocol;
	any = e->opened = COUNTS__TAKE(s->opened);
	any |= e->closed = COUNTS__TAKE(s->closed);
	any |= e->failovers = COUNTS__TAKE(s->failovers);
	any |= e->ejections = COUNTS__TAKE(s->ejections);
	for (unsigned i = 0; i < LDMESH_FAIL_REASONS; i++)
		any |= e->failed[i] = COUNTS__TAKE(s->failed[i]);
	for (unsigned i = 0; i < LDMESH_LATENCY_BUCKETS; i++)
		any |= e->latency[i] = COUNTS__TAKE(s->latency[i]);
	any |= e->latency_us_sum = COUNTS__TAKE(s->latency_us_sum);
	any |= e->bytes_sent = COUNTS__TAKE(s->bytes_sent);
	any |= e->bytes_received = COUNTS__TAKE(s->bytes_received);
	any |= e->rtt_us_sum = COUNTS__TAKE(s->rtt_us_sum);
	any |= e->rtt_count = COUNTS__TAKE(s->rtt_count);
	return any != 0;
}

/* NUL-padded, cut to fit (a hostname may use all 64 bytes) */
static void counts__label(char *dst, size_t cap, const char *src)
{
	size_t n = strnlen(src, cap - 1);

	memcpy(dst, src, n);
}

static size_t counts__build(void)
{
	struct ldmesh_report_hdr *h = (struct ldmesh_report_hdr *)counts__msg;
	struct ldmesh_report_source *src = (struct ldmesh_report_source *)(h + 1);
	struct ldmesh_report_count *e = (struct ldmesh_report_count *)(src + 1);
	uint32_t n = 0;

	memset(h, 0, sizeof(*h) + sizeof(*src));
	counts__label(src->ns, sizeof(src->ns), counts__cfg->ns);
	counts__label(src->pod, sizeof(src->pod), counts__cfg->hostname);
	for (unsigned i = 0; i < COUNTS_MAX; i++)
		if (atomic_load_explicit(&counts__tab[i].state, memory_order_acquire) ==
			    COUNTS__READY &&
		    counts__take(&counts__tab[i], &e[n]))
			n++;
	*h = (struct ldmesh_report_hdr){ .magic = LDMESH_REPORT_MAGIC,
					 .version = LDMESH_REPORT_VERSION,
					 .type = LDMESH_REPORT_COUNTS,
					 .count = n,
					 .entry_size = sizeof(*e) };
	return n ? sizeof(*h) + sizeof(*src) + n * sizeof(*e) : 0;
}

/* The next flush's tick, by the rate the table measured (none yet: the
 * clock decides). */
static void counts__arm(void)
{
	uint64_t rate = counts__table ? atomic_load_explicit(&counts__table->ticks_per_s,
							     memory_order_relaxed)
				      : 0;

	atomic_store_explicit(&counts__next_tick,
			      rate ? ldmesh_tick() + rate * COUNTS_FLUSH_EVERY_NS / 1000000000ULL : 0,
			      memory_order_relaxed);
}

bool counts_wanted(void)
{
	const struct ldmesh_control *c = counts__table ? ldmesh_table_control(counts__table) : NULL;

	return c && (__atomic_load_n(&c->flags, __ATOMIC_RELAXED) & LDMESH_CONTROL_F_METRICS);
}

void counts_flush(bool force)
{
	uint64_t now, last;
	int saved = errno;
	size_t len;

	if (!counts__cfg)
		return;
	if (!force && LDMESH_TICKS) {
		uint64_t due = atomic_load_explicit(&counts__next_tick, memory_order_relaxed);

		if (due && ldmesh_tick() < due)
			return;
	}
	now = counts__now_ns();
	last = atomic_load_explicit(&counts__last_flush_ns, memory_order_relaxed);
	if (!force && last && now - last < COUNTS_FLUSH_EVERY_NS)
		return;
	/* asked at most once a second, even while nobody listens */
	atomic_store_explicit(&counts__last_flush_ns, now, memory_order_relaxed);
	counts__arm();
	/* no agent (yet), one that serves no metrics, or a socket not to be
	 * trusted: the counts wait */
	if (!counts_wanted() || report_reachable(counts__cfg->table_dir))
		goto out;
	if (atomic_flag_test_and_set_explicit(&counts__flushing, memory_order_acquire))
		goto out;
	if (counts__collect)
		counts__collect();
	len = counts__build();
	if (len)
		(void)report_send(counts__cfg->table_dir, counts__msg, len);
	atomic_flag_clear_explicit(&counts__flushing, memory_order_release);
out:
	errno = saved;
}

void counts_after_fork(void)
{
	/* only the slots in use: a memset would fault all of them (about
	 * 50 KiB) into every forked child */
	for (unsigned i = 0; i < COUNTS_MAX; i++)
		if (atomic_load_explicit(&counts__tab[i].state, memory_order_relaxed) != COUNTS__EMPTY)
			memset(&counts__tab[i], 0, sizeof(counts__tab[i]));
	atomic_store(&counts__last_flush_ns, 0);
	atomic_store(&counts__next_tick, 0);
	atomic_flag_clear(&counts__flushing);
}

/* At exit (the preload's process, ldmesh-exec's supervisor): what is left
 * leaves, with what the caller kept aside (collect). */
__attribute__((destructor)) static void counts__exit(void)
{
	counts_flush(true);
}
