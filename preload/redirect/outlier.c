/* SPDX-License-Identifier: MIT */
#include "outlier.h"

#include <string.h>

#include "ldmesh/hash.h"

atomic_uint outlier_ejections;
atomic_uint outlier_tracked;

static struct outlier_config outlier__cfg = OUTLIER_DEFAULTS;

struct outlier_slot {
	atomic_uint_least64_t key;    /* hash of (addr, port) | 1; 0 = free */
	uint8_t addr[16];             /* written once, before key is set */
	uint16_t port;
	atomic_uint failures;         /* in a row */
	atomic_uint ejections;        /* so far */
	atomic_uint_least64_t until;  /* ejected until this time; 0 = not */
};

static struct outlier_slot outlier__slots[OUTLIER_SLOTS];

void outlier_configure(const struct outlier_config *c)
{
	outlier__cfg = *c;
	if (!outlier__cfg.consecutive)
		outlier__cfg.consecutive = 1;
}

static uint64_t outlier__key(const uint8_t addr[16], uint16_t port)
{
	return ldmesh_hash64(addr, 16, port) | 1;
}

/* The slot of a backend; with `claim`, a free one is taken for it. */
static struct outlier_slot *outlier__find(const uint8_t addr[16], uint16_t port, bool claim)
{
	uint64_t key = outlier__key(addr, port);

	for (unsigned i = 0, k = (unsigned)key; i < OUTLIER_SLOTS; i++, k++) {
		struct outlier_slot *s = &outlier__slots[k % OUTLIER_SLOTS];
		uint64_t cur = atomic_load(&s->key);

		if (cur == key && s->port == port && !memcmp(s->addr, addr, 16))
			return s;
		if (cur)
			continue;
		if (!claim)
			return NULL;
		/* Claim with a placeholder, fill, then publish the key. */
		uint64_t expect = 0;
		if (!atomic_compare_exchange_strong(&s->key, &expect, UINT64_MAX - 1))
			continue;
		memcpy(s->addr, addr, 16);
		s->port = port;
		atomic_store(&s->failures, 0);
		atomic_store(&s->ejections, 0);
		atomic_store(&s->until, 0);
		atomic_store(&s->key, key);
		atomic_fetch_add(&outlier_tracked, 1);
		return s;
	}
	return NULL;
}

bool outlier_is_ejected(const uint8_t addr[16], uint16_t port, uint64_t now_ns)
{
	struct outlier_slot *s = outlier__find(addr, port, false);
	uint64_t until;

	if (!s || !(until = atomic_load(&s->until)))
		return false;
	if (now_ns < until)
		return true;
	/* over: the one who clears it counts it off */
	if (atomic_compare_exchange_strong(&s->until, &until, 0))
		atomic_fetch_sub(&outlier_ejections, 1);
	return false;
}

uint64_t outlier_failure(const uint8_t addr[16], uint16_t port, uint64_t now_ns)
{
	struct outlier_slot *s = outlier__find(addr, port, true);
	uint64_t until = 0, span;
	unsigned n;

	if (!s || atomic_fetch_add(&s->failures, 1) + 1 < outlier__cfg.consecutive)
		return 0;
	/* already ejected (a failure of a connect begun before): no more */
	if (atomic_load(&s->until) > now_ns)
		return 0;
	n = atomic_fetch_add(&s->ejections, 1) + 1;
	span = outlier__cfg.base_ns * n;
	if (span > outlier__cfg.max_ns || span / n != outlier__cfg.base_ns)
		span = outlier__cfg.max_ns;
	until = atomic_exchange(&s->until, now_ns + span);
	if (!until)
		atomic_fetch_add(&outlier_ejections, 1);
	atomic_store(&s->failures, 0);
	return span;
}

void outlier_success(const uint8_t addr[16], uint16_t port)
{
	struct outlier_slot *s = outlier__find(addr, port, false);

	if (s)
		atomic_store(&s->failures, 0);
}

void outlier_reset(void)
{
	memset(outlier__slots, 0, sizeof(outlier__slots));
	atomic_store(&outlier_ejections, 0);
	atomic_store(&outlier_tracked, 0);
}
