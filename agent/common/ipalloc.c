/* SPDX-License-Identifier: MIT */
#include "ipalloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ldmesh/hash.h"

static const uint8_t ipalloc__v4_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

static bool ipalloc__is_v4(const uint8_t a[16])
{
	return !memcmp(a, ipalloc__v4_prefix, 12);
}

/* The API server refuses service ranges wider than 2^20 addresses (a v4
 * /12, a v6 /108); 32 host bits is generous and keeps the arithmetic in
 * uint32. Fewer than 2 host bits leaves nothing to allocate. */
#define IPALLOC_MAX_HOST_BITS 32
#define IPALLOC_MIN_HOST_BITS 2

int ipalloc_parse_cidr(const char *text, struct ipalloc_cidr *out)
{
	char addr[INET6_ADDRSTRLEN];
	const char *slash = strchr(text, '/');
	struct ipalloc_cidr c = { .prefix = 0 };
	char *end;
	long prefix;
	unsigned host_bits;

	if (!slash || (size_t)(slash - text) >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, text, (size_t)(slash - text));
	addr[slash - text] = 0;
	/* Digits only: strtol alone would take "+12", " 12" and "012". */
	if (slash[1] < '1' || slash[1] > '9' || strspn(slash + 1, "0123456789") != strlen(slash + 1))
		return -EINVAL;
	errno = 0;
	prefix = strtol(slash + 1, &end, 10);
	if (errno || *end || prefix < 0)
		return -EINVAL;
	if (inet_pton(AF_INET, addr, c.base + 12) == 1) {
		memcpy(c.base, ipalloc__v4_prefix, 12);
		if (prefix > 32)
			return -EINVAL;
		prefix += 96;
	} else if (inet_pton(AF_INET6, addr, c.base) != 1 || prefix > 128) {
		return -EINVAL;
	}
	host_bits = 128 - (unsigned)prefix;
	if (host_bits > IPALLOC_MAX_HOST_BITS || host_bits < IPALLOC_MIN_HOST_BITS)
		return -EINVAL;
	c.prefix = (uint8_t)prefix;
	if (!ipalloc_contains(&c, c.base))
		return -EINVAL;
	/* Host bits must be zero: "10.96.0.5/12" is a typo, not a range. */
	for (unsigned bit = (unsigned)prefix; bit < 128; bit++)
		if (c.base[bit / 8] & (0x80 >> (bit % 8)))
			return -EINVAL;
	*out = c;
	return 0;
}

int ipalloc_parse_net(const char *text, struct ipalloc_cidr *out)
{
	char addr[INET6_ADDRSTRLEN];
	const char *slash = strchr(text, '/');
	size_t alen = slash ? (size_t)(slash - text) : strlen(text);
	struct ipalloc_cidr c = { .prefix = 0 };
	long prefix = -1;

	if (alen >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, text, alen);
	addr[alen] = 0;
	if (slash) {
		/* Digits only, no leading zero: "/012" and "/+8" are typos. */
		const char *d = slash + 1;
		if (!*d || strspn(d, "0123456789") != strlen(d) || strlen(d) > 3 ||
		    (d[0] == '0' && d[1]))
			return -EINVAL;
		prefix = strtol(d, NULL, 10);
	}
	if (inet_pton(AF_INET, addr, c.base + 12) == 1) {
		memcpy(c.base, ipalloc__v4_prefix, 12);
		if (prefix > 32)
			return -EINVAL;
		prefix = (prefix < 0 ? 32 : prefix) + 96;
	} else if (inet_pton(AF_INET6, addr, c.base) == 1) {
		if (prefix > 128)
			return -EINVAL;
		prefix = prefix < 0 ? 128 : prefix;
	} else {
		return -EINVAL;
	}
	c.prefix = (uint8_t)prefix;
	for (unsigned bit = (unsigned)prefix; bit < 128; bit++)
		if (c.base[bit / 8] & (0x80 >> (bit % 8)))
			return -EINVAL;
	*out = c;
	return 0;
}

const char *ipalloc_reserved(const struct ipalloc_cidr *c, const uint8_t addr[16])
{
	uint8_t last[16];

	if (!ipalloc_contains(c, addr))
		return NULL;
	if (!memcmp(addr, c->base, 16))
		return "network";
	if (!ipalloc__is_v4(c->base))
		return NULL;
	memcpy(last, c->base, 16);
	for (unsigned bit = c->prefix; bit < 128; bit++)
		last[bit / 8] |= (uint8_t)(0x80 >> (bit % 8));
	return memcmp(addr, last, 16) ? NULL : "broadcast";
}

bool ipalloc_contains(const struct ipalloc_cidr *c, const uint8_t addr[16])
{
	unsigned full = c->prefix / 8, rest = c->prefix % 8;

	if (memcmp(addr, c->base, full))
		return false;
	if (!rest)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (addr[full] & mask) == (c->base[full] & mask);
}

static uint32_t ipalloc__size(const struct ipalloc_cidr *c)
{
	unsigned host_bits = 128u - c->prefix;
	return host_bits >= 32 ? UINT32_MAX : (1u << host_bits);
}

static void ipalloc__at(const struct ipalloc_cidr *c, uint32_t offset, uint8_t out[16])
{
	memcpy(out, c->base, 16);
	for (int i = 15; i >= 12; i--, offset >>= 8)
		out[i] |= (uint8_t)(offset & 0xff);
}

int ipalloc_init(struct ipalloc *a, const struct ipalloc_cidr *cidr)
{
	memset(a, 0, sizeof(*a));
	a->cidr = *cidr;
	a->n_slots = 1024;
	a->taken = calloc(a->n_slots, 16);
	return a->taken ? 0 : -ENOMEM;
}

static const uint8_t ipalloc__empty[16];

/* The set never holds ::, which no Service can have. */
static size_t ipalloc__slot(const struct ipalloc *a, const uint8_t addr[16])
{
	size_t mask = a->n_slots - 1;
	size_t i = (size_t)ldmesh_hash64(addr, 16, 0) & mask;

	while (memcmp(a->taken[i], ipalloc__empty, 16) && memcmp(a->taken[i], addr, 16))
		i = (i + 1) & mask;
	return i;
}

static int ipalloc__grow(struct ipalloc *a)
{
	struct ipalloc bigger = { .cidr = a->cidr, .n_slots = a->n_slots * 2 };

	bigger.taken = calloc(bigger.n_slots, 16);
	if (!bigger.taken)
		return -ENOMEM;
	for (size_t i = 0; i < a->n_slots; i++)
		if (memcmp(a->taken[i], ipalloc__empty, 16))
			memcpy(bigger.taken[ipalloc__slot(&bigger, a->taken[i])], a->taken[i], 16);
	bigger.used = a->used;
	free(a->taken);
	*a = bigger;
	return 0;
}

int ipalloc_reserve(struct ipalloc *a, const uint8_t addr[16])
{
	size_t i = ipalloc__slot(a, addr);

	if (!memcmp(a->taken[i], addr, 16))
		return -EEXIST;
	memcpy(a->taken[i], addr, 16);
	if (++a->used * 2 > a->n_slots)
		return ipalloc__grow(a);
	return 0;
}

int ipalloc_pick(const struct ipalloc_cidr *c, const char *ns, const char *name,
		 bool (*taken)(const uint8_t addr[16], void *ctx), void *ctx,
		 uint8_t out[16])
{
	char key[512];
	uint32_t size = ipalloc__size(c);
	/* Usable offsets: not the network address, and for IPv4 not the
	 * broadcast address either (the API server's allocator skips both). */
	uint32_t first = 1, count = size - (ipalloc__is_v4(c->base) ? 2 : 1);
	int len = snprintf(key, sizeof(key), "%s/%s", ns, name);
	uint32_t start = (uint32_t)(ldmesh_hash64(key, (size_t)(len < 0 ? 0 : len), 0) % count);

	for (uint32_t k = 0; k < count; k++) {
		uint8_t cand[16];
		ipalloc__at(c, first + (start + k) % count, cand);
		if (!taken(cand, ctx)) {
			memcpy(out, cand, 16);
			return 0;
		}
	}
	return -ENOSPC;
}

static bool ipalloc__taken(const uint8_t addr[16], void *ctx)
{
	const struct ipalloc *a = ctx;

	return !memcmp(a->taken[ipalloc__slot(a, addr)], addr, 16);
}

int ipalloc_assign(struct ipalloc *a, const char *ns, const char *name,
		   uint8_t out[16])
{
	int err = ipalloc_pick(&a->cidr, ns, name, ipalloc__taken, a, out);

	return err ? err : ipalloc_reserve(a, out);
}

void ipalloc_free(struct ipalloc *a)
{
	free(a->taken);
	memset(a, 0, sizeof(*a));
}

const char *ipalloc_format(const uint8_t addr[16], char *buf, size_t len)
{
	if (ipalloc__is_v4(addr))
		return inet_ntop(AF_INET, addr + 12, buf, (socklen_t)len);
	return inet_ntop(AF_INET6, addr, buf, (socklen_t)len);
}

int ipalloc_parse_cidrs(const char *text, struct ipalloc_cidrs *out)
{
	char one[2 * INET6_ADDRSTRLEN];
	const char *comma = strchr(text, ',');
	struct ipalloc_cidrs c = { .n = 0 };
	size_t len = comma ? (size_t)(comma - text) : strlen(text);

	if (len >= sizeof(one))
		return -EINVAL;
	memcpy(one, text, len);
	one[len] = 0;
	if (ipalloc_parse_cidr(one, &c.v[c.n++]) < 0)
		return -EINVAL;
	if (comma) {
		if (strchr(comma + 1, ',') || ipalloc_parse_cidr(comma + 1, &c.v[c.n++]) < 0 ||
		    ipalloc__is_v4(c.v[0].base) == ipalloc__is_v4(c.v[1].base))
			return -EINVAL;
	}
	*out = c;
	return 0;
}

bool ipalloc_cidrs_contain(const struct ipalloc_cidrs *c, const uint8_t addr[16])
{
	for (unsigned i = 0; i < c->n; i++)
		if (ipalloc_contains(&c->v[i], addr))
			return true;
	return false;
}

const char *ipalloc_cidrs_reserved(const struct ipalloc_cidrs *c, const uint8_t addr[16],
				   const struct ipalloc_cidr **which)
{
	for (unsigned i = 0; i < c->n; i++) {
		const char *r = ipalloc_reserved(&c->v[i], addr);
		if (r) {
			if (which)
				*which = &c->v[i];
			return r;
		}
	}
	return NULL;
}

const char *ipalloc_format_cidr(const struct ipalloc_cidr *c, char *buf, size_t len)
{
	char a[64];
	unsigned prefix = c->prefix;

	if (ipalloc__is_v4(c->base))
		prefix -= 96;
	snprintf(buf, len, "%s/%u", ipalloc_format(c->base, a, sizeof(a)), prefix);
	return buf;
}

const char *ipalloc_format_cidrs(const struct ipalloc_cidrs *c, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = 0;
	for (unsigned i = 0; i < c->n && used < len; i++) {
		char a[64];
		unsigned prefix = c->v[i].prefix;

		if (ipalloc__is_v4(c->v[i].base))
			prefix -= 96;
		used += (size_t)snprintf(buf + used, len - used, "%s%s/%u", i ? "," : "",
					 ipalloc_format(c->v[i].base, a, sizeof(a)), prefix);
	}
	return buf;
}
