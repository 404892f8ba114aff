/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "gai.h"

#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"

#ifndef SOCK_DCCP
#define SOCK_DCCP 6
#endif

/*
 * glibc's gaih_inet_typeproto, row for row: which socket types a result
 * expands to. `dflt` rows are the ones a request without socktype and
 * protocol gets; `noservice` rows cannot carry a port; `protoany` rows take
 * the caller's protocol.
 */
struct gai_proto {
	int socktype;
	int protocol;
	bool dflt, noservice, protoany;
	const char name[8];
};

static const struct gai_proto gai__protos[] = {
	{ SOCK_STREAM, IPPROTO_TCP, true, false, false, "tcp" },
	{ SOCK_DGRAM, IPPROTO_UDP, true, false, false, "udp" },
	{ SOCK_DCCP, IPPROTO_DCCP, false, false, false, "dccp" },
	{ SOCK_DGRAM, IPPROTO_UDPLITE, false, false, false, "udplite" },
	{ SOCK_STREAM, IPPROTO_SCTP, false, false, false, "sctp" },
	{ SOCK_SEQPACKET, IPPROTO_SCTP, false, false, false, "sctp" },
	{ SOCK_RAW, 0, true, true, true, "raw" },
};
#define GAI_NPROTOS (sizeof(gai__protos) / sizeof(gai__protos[0]))
_Static_assert(GAI_NPROTOS <= GAI_MAX_TUPLES, "tuple bound");

/* A /etc/services line fits easily; glibc starts at 1024 and doubles. */
#define GAI_SERV_BUF 1024
#define GAI_SERV_BUF_MAX (64 * 1024)

/* 0 and the port, or EAI_SERVICE when `proto` has no such service. */
static int gai__servbyname(const char *service, const char *proto,
			   uint16_t *port)
{
	char stack[GAI_SERV_BUF];
	char *buf = stack, *heap = NULL;
	size_t len = sizeof(stack);
	struct servent se, *res = NULL;
	int r, saved = errno;

	for (;;) {
		r = getservbyname_r(service, proto, &se, buf, len, &res);
		if (r != ERANGE || len >= GAI_SERV_BUF_MAX)
			break;
		len *= 2;
		free(heap);
		buf = heap = malloc(len);
		if (!buf) {
			errno = saved;
			return EAI_MEMORY;
		}
	}
	if (r == 0 && res)
		*port = ntohs((uint16_t)res->s_port);
	free(heap);
	errno = saved;
	return (r == 0 && res) ? 0 : EAI_SERVICE;
}

static void gai__row(const struct gai_proto *p, const struct addrinfo *h,
		     uint16_t port, struct gai_tuple *t)
{
	t->socktype = p->socktype;
	t->protocol = p->protoany ? h->ai_protocol : p->protocol;
	t->port = port;
}

int gai_service(const char *service, const struct addrinfo *h,
		struct gai_tuple out[GAI_MAX_TUPLES], unsigned *n)
{
	const struct gai_proto *match = NULL;
	bool have_service = service && service[0];
	int num = -1;
	uint16_t port = 0;

	*n = 0;
	if (have_service) {
		char *end;
		/* glibc: strtoul into an int; "named" means not all digits */
		num = (int)strtoul(service, &end, 10);
		if (*end) {
			if (h->ai_flags & AI_NUMERICSERV)
				return EAI_NONAME;
			num = -1;
		}
	}
	if (h->ai_socktype || h->ai_protocol) {
		for (size_t i = 0; i < GAI_NPROTOS && !match; i++) {
			const struct gai_proto *p = &gai__protos[i];
			if ((!h->ai_socktype || h->ai_socktype == p->socktype) &&
			    (!h->ai_protocol || p->protoany ||
			     h->ai_protocol == p->protocol))
				match = p;
		}
		if (!match)
			return h->ai_socktype ? EAI_SOCKTYPE : EAI_SERVICE;
	}
	if (have_service && match && match->noservice)
		return EAI_SERVICE;

	if (have_service && num < 0) {
		if (match) {
			int r = gai__servbyname(service, match->name, &port);
			if (r)
				return r;
			gai__row(match, h, port, &out[(*n)++]);
			return 0;
		}
		for (size_t i = 0; i < GAI_NPROTOS; i++) {
			const struct gai_proto *p = &gai__protos[i];
			int r;

			if (p->noservice)
				continue;
			r = gai__servbyname(service, p->name, &port);
			if (r == EAI_MEMORY)
				return r;
			if (!r)
				gai__row(p, h, port, &out[(*n)++]);
		}
		return *n ? 0 : EAI_SERVICE;
	}

	if (num > 0)
		port = (uint16_t)num; /* glibc truncates with htons too */
	if (match) {
		gai__row(match, h, port, &out[(*n)++]);
		return 0;
	}
	for (size_t i = 0; i < GAI_NPROTOS; i++)
		if (gai__protos[i].dflt)
			gai__row(&gai__protos[i], h, port, &out[(*n)++]);
	return 0;
}

void gai_addrconfig(bool *v4, bool *v6)
{
	struct ifaddrs *ifa, *i;
	int saved = errno;

	*v4 = *v6 = false;
	if (getifaddrs(&ifa) < 0) {
		/* glibc treats an unreadable interface list as "both" */
		*v4 = *v6 = true;
		errno = saved;
		return;
	}
	for (i = ifa; i; i = i->ifa_next) {
		if (!i->ifa_addr)
			continue;
		if (i->ifa_addr->sa_family == AF_INET) {
			const struct sockaddr_in *in = (void *)i->ifa_addr;
			if (in->sin_addr.s_addr != htonl(INADDR_LOOPBACK))
				*v4 = true;
		} else if (i->ifa_addr->sa_family == AF_INET6) {
			const struct sockaddr_in6 *in6 = (void *)i->ifa_addr;
			if (!IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
				*v6 = true;
		}
	}
	freeifaddrs(ifa);
	errno = saved;
}

/*
 * One node of our single-allocation result. The tag between the addrinfo
 * and its sockaddr is what freeaddrinfo recognises: glibc always puts the
 * sockaddr right behind its addrinfo (ai_addr == ai + 1), so for a glibc
 * node the tag is never even read.
 */
#define GAI_TAG_MAGIC 0x6c646d6573686169ULL /* "ldmeshai" */
#define GAI_TAG_KEY 0xa5c3e1f00f1e3c5aULL

struct gai_node {
	struct addrinfo ai;
	uint64_t tag[2]; /* GAI_TAG_MAGIC, address of the block ^ GAI_TAG_KEY */
	union {
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} sa;
};

/* The addresses a family asks for, as the family's own sockaddrs: v4 as
 * AF_INET; v6 as AF_INET6; with AF_INET6 + AI_V4MAPPED, v4 as mapped when
 * there is no v6 at all, or always with AI_ALL (glibc's rule). */
static unsigned gai__select(const struct lookup_result *r, int family,
			    int flags, struct gai_pick *out)
{
	unsigned n = 0, v6 = 0;

	for (unsigned i = 0; i < r->n_addrs; i++)
		v6 += !addr_is_v4(r->addrs[i]);
	for (unsigned i = 0; i < r->n_addrs; i++) {
		bool is4 = addr_is_v4(r->addrs[i]);
		if (family == AF_UNSPEC)
			out[n++] = (struct gai_pick){ is4 ? AF_INET : AF_INET6,
						      r->addrs[i] };
		else if (family == AF_INET && is4)
			out[n++] = (struct gai_pick){ AF_INET, r->addrs[i] };
		else if (family == AF_INET6 && !is4)
			out[n++] = (struct gai_pick){ AF_INET6, r->addrs[i] };
	}
	if (family == AF_INET6 && (flags & AI_V4MAPPED) &&
	    (!v6 || (flags & AI_ALL)))
		for (unsigned i = 0; i < r->n_addrs; i++)
			if (addr_is_v4(r->addrs[i]))
				out[n++] = (struct gai_pick){ AF_INET6,
							      r->addrs[i] };
	return n;
}

int gai_build(const struct lookup_result *r, int family, int flags,
	      const struct gai_tuple *t, unsigned nt, struct addrinfo **res)
{
	struct gai_pick picks[LOOKUP_MAX_ADDRS];
	unsigned np = gai__select(r, family, flags, picks);

	if (!np || !nt)
		return EAI_NODATA;
	if (flags & AI_CANONNAME)
		return gai_emit(picks, np, t, nt, r->canon, r->canon_len, flags, false, res);
	return gai_emit(picks, np, t, nt, NULL, 0, flags, false, res);
}

int gai_emit(const struct gai_pick *picks, unsigned np, const struct gai_tuple *t, unsigned nt,
	     const char *canon_name, size_t canon_len, int ai_flags, bool canon_every,
	     struct addrinfo **res)
{
	size_t nodes = (size_t)np * nt, canon = canon_name ? canon_len + 1 : 0;
	struct gai_node *block;
	char *name = NULL;

	block = calloc(1, nodes * sizeof(*block) + canon);
	if (!block)
		return EAI_MEMORY;
	if (canon) {
		name = (char *)(block + nodes);
		memcpy(name, canon_name, canon_len);
		name[canon_len] = 0;
	}
	/* glibc's order, and musl's: per address, every socket type */
	for (size_t k = 0; k < nodes; k++) {
		struct gai_node *nd = &block[k];
		const struct gai_pick *p = &picks[k / nt];
		const struct gai_tuple *tp = &t[k % nt];
		struct sockaddr_storage ss;

		nd->tag[0] = GAI_TAG_MAGIC;
		nd->tag[1] = (uint64_t)(uintptr_t)block ^ GAI_TAG_KEY;
		nd->ai.ai_flags = ai_flags;
		nd->ai.ai_family = p->family;
		nd->ai.ai_socktype = tp->socktype;
		nd->ai.ai_protocol = tp->protocol;
		nd->ai.ai_addrlen = addr_to_sockaddr(p->family, p->addr,
						     tp->port, &ss);
		memcpy(&nd->sa, &ss, nd->ai.ai_addrlen);
		nd->ai.ai_addr = (struct sockaddr *)&nd->sa;
		nd->ai.ai_canonname = k == 0 || canon_every ? name : NULL;
		nd->ai.ai_next = k + 1 < nodes ? &block[k + 1].ai : NULL;
	}
	*res = &block[0].ai;
	return 0;
}

bool gai_is_ours(const struct addrinfo *ai)
{
	const struct gai_node *nd = (const struct gai_node *)ai;

	if (!ai || ai->ai_addr == (const struct sockaddr *)(ai + 1))
		return false;
	return nd->tag[0] == GAI_TAG_MAGIC &&
	       nd->tag[1] == ((uint64_t)(uintptr_t)nd ^ GAI_TAG_KEY);
}

void gai_free(struct addrinfo *ai)
{
	free(ai);
}
