/* SPDX-License-Identifier: MIT */
/*
 * Deterministic ClusterIP allocation. Every node's agent must give a
 * Service without spec.clusterIP the same address, with no allocator to
 * ask, so the address is a pure function of the manifests: the hash of
 * "namespace/name" picks an offset in the service CIDR; a taken address
 * moves to the next free one. Callers allocate in (namespace, name) order so
 * collisions resolve the same way everywhere.
 */
#ifndef LDMESH_AGENT_IPALLOC_H
#define LDMESH_AGENT_IPALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ipalloc_cidr {
	uint8_t base[16];  /* network address, IPv4-mapped for v4 */
	uint8_t prefix;    /* in IPv6 terms: 96 + n for IPv4 /n */
};

/* "10.96.0.0/12" or "fd00:10:96::/108". 0 or -EINVAL (host bits set, bad
 * prefix, or fewer than 4 addresses to hand out). */
int ipalloc_parse_cidr(const char *text, struct ipalloc_cidr *out);

bool ipalloc_contains(const struct ipalloc_cidr *c, const uint8_t addr[16]);

/* Any network, for matching rather than allocating: "203.0.113.0/24",
 * "2001:db8::/32", or a bare address (a /32 or /128). Host bits must be
 * zero. 0 or -EINVAL. */
int ipalloc_parse_net(const char *text, struct ipalloc_cidr *out);

/* The addresses of a service CIDR its allocator never hands out, and the
 * API server refuses as a clusterIP: the network address, and for IPv4 the
 * broadcast address (kube-apiserver's ipallocator). "network",
 * "broadcast", or NULL for any other address. */
const char *ipalloc_reserved(const struct ipalloc_cidr *c, const uint8_t addr[16]);

/*
 * The service CIDRs: one, or two of different families
 * ("10.96.0.0/12,fd00:10:96::/108", as kube-apiserver's
 * --service-cluster-ip-range). Allocation uses the first.
 */
struct ipalloc_cidrs {
	struct ipalloc_cidr v[2];
	unsigned n;
};

/* 0 or -EINVAL (a bad CIDR, more than two, or two of one family). */
int ipalloc_parse_cidrs(const char *text, struct ipalloc_cidrs *out);
bool ipalloc_cidrs_contain(const struct ipalloc_cidrs *c, const uint8_t addr[16]);
/* ipalloc_reserved over each CIDR; *which (may be NULL) is the CIDR that
 * reserves it. */
const char *ipalloc_cidrs_reserved(const struct ipalloc_cidrs *c, const uint8_t addr[16],
				   const struct ipalloc_cidr **which);
/* One CIDR's text form ("10.96.0.0/12") into buf. */
const char *ipalloc_format_cidr(const struct ipalloc_cidr *c, char *buf, size_t len);
/* "10.96.0.0/12" or "10.96.0.0/12,fd00:10:96::/108" into buf. */
const char *ipalloc_format_cidrs(const struct ipalloc_cidrs *c, char *buf, size_t len);

struct ipalloc {
	struct ipalloc_cidr cidr;
	uint8_t (*taken)[16]; /* open-addressing set of used addresses */
	size_t n_slots, used;
};

int ipalloc_init(struct ipalloc *a, const struct ipalloc_cidr *cidr);
/* Mark an address (a spec.clusterIP) as used. 0, or -EEXIST if it already
 * was, or -ENOMEM. */
int ipalloc_reserve(struct ipalloc *a, const uint8_t addr[16]);
/* Allocate the address for namespace/name into out. 0, -ENOSPC when the
 * CIDR is full, or -ENOMEM. */
int ipalloc_assign(struct ipalloc *a, const char *ns, const char *name,
		   uint8_t out[16]);
/* The probe ipalloc_assign makes, over a caller's idea of what is taken
 * (an edit applied in place asks its model): the address for
 * namespace/name into out. 0, or -ENOSPC when every one is taken. */
int ipalloc_pick(const struct ipalloc_cidr *c, const char *ns, const char *name,
		 bool (*taken)(const uint8_t addr[16], void *ctx), void *ctx,
		 uint8_t out[16]);
void ipalloc_free(struct ipalloc *a);

/* A ClusterIP the agent allocated, by "namespace\0name" at `key` in a
 * buffer of keys beside the array: the model's record of what it handed
 * out (the result's own copy: the next resolve reads it after the sources
 * it came from changed), and what the state directory keeps of it
 * (laststate.h), so a restart hands out the same. */
struct model_alloc {
	uint32_t key, key_len; /* in the keys */
	uint8_t ip[16];
};

/* Text form of a 16-byte address (v4 for mapped ones); buf >= 46 bytes. */
const char *ipalloc_format(const uint8_t addr[16], char *buf, size_t len);

#endif
