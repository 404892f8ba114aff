/* SPDX-License-Identifier: MIT */
/*
 * ldmesh-dns's event loop: UDP and TCP listeners, cluster names answered
 * from the table (answer.h), everything else forwarded to the upstreams
 * through a bounded cache (cache.h). One thread, epoll, non-blocking; every
 * resource a client can make it hold is bounded (queries in flight, TCP
 * connections, cache entries and bytes), so a flood costs answers, not
 * memory.
 */
#ifndef LDMESH_DNS_SERVER_H
#define LDMESH_DNS_SERVER_H

#include <stddef.h>
#include <sys/socket.h>

#define DNS_MAX_ADDRS 8
#define DNS_MAX_PENDING 1024   /* forwarded queries in flight */
#define DNS_MAX_TCP 256        /* client TCP connections */
#define DNS_TCP_IDLE_MS 10000  /* RFC 7766 6.2.3 suggests seconds */
#define DNS_UPSTREAM_TRY_MS 2000
#define DNS_UPSTREAM_TRIES 3

struct dns_addr {
	struct sockaddr_storage sa;
	socklen_t len;
};

struct dns_server_opts {
	const char *table;
	struct dns_addr listen[DNS_MAX_ADDRS];
	unsigned n_listen;
	struct dns_addr upstream[DNS_MAX_ADDRS];
	unsigned n_upstream;
	size_t cache_entries;
	size_t cache_bytes;
	int verbose;
};

/* "ADDR", "ADDR:PORT", "[V6ADDR]:PORT" into *out, port `def_port` when
 * none is given. 0 or -EINVAL. */
int dns_parse_addr(const char *s, unsigned def_port, struct dns_addr *out);
/* "ADDR[:PORT][,ADDR...]" appended to `list`; 0, -EINVAL (the bad item in
 * *bad) or -E2BIG. */
int dns_parse_addrs(const char *s, unsigned def_port, struct dns_addr *list, unsigned *n,
		    char *bad, size_t bad_len);
/* The nameservers of a resolv.conf; 0 or -errno. */
int dns_resolv_conf(const char *path, struct dns_addr *list, unsigned *n);
const char *dns_addr_str(const struct dns_addr *a, char *buf, size_t len);

/* Bind the listeners and serve until SIGTERM or SIGINT. 0 on a clean stop,
 * else -errno with a message on stderr. */
int dns_server_run(const struct dns_server_opts *o);

#endif
