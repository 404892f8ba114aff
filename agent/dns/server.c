/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "answer.h"
#include "cache.h"
#include "rindex.h"
#include "wire.h"
#include "ldmesh/reader.h"

/* epoll data: what (top byte) and which (the rest) */
enum { EV_UDP = 1, EV_LISTEN_TCP, EV_CONN, EV_UPSTREAM };
#define EV(kind, i) ((uint64_t)(kind) << 56 | (uint64_t)(i))

/* A client TCP connection: one query at a time (RFC 7766 allows a server
 * to answer in order), read into `in`, the reply written from `out`. */
struct dns_conn {
	int fd;
	uint32_t serial;       /* a pending forward checks it is still this one */
	bool waiting;          /* a forward of its query is in flight */
	uint64_t last_ms;
	uint8_t *in;           /* 2 + DNS_MSG_MAX, on first use */
	size_t in_len;
	uint8_t *out;
	size_t out_len, out_off;
};

/* A forwarded query in flight. */
struct dns_pending {
	bool used;
	int fd;                /* the upstream socket: its own, so its own random port */
	bool tcp;              /* retrying over TCP after a truncated answer */
	bool connected;        /* (TCP) the connect finished and the query went */
	unsigned upstream, tries;
	uint16_t our_id;
	uint64_t deadline_ms;
	/* the client */
	int udp_fd;            /* listener it came on, or -1 for TCP */
	struct dns_addr peer;
	int conn;
	uint32_t conn_serial;
	struct dns_query_info info;
	uint8_t question[DNS_CHASE_MAX]; /* info.question points here: a name and 4 bytes */
	uint8_t *tcp_in;       /* (TCP) the answer being read */
	size_t tcp_len;
	uint8_t *prefix;       /* a CNAME chase: our reply the answer goes behind */
	size_t prefix_len;
};

struct dns_server {
	const struct dns_server_opts *o;
	int ep;
	int udp[DNS_MAX_ADDRS], tcp[DNS_MAX_ADDRS];
	struct ldmesh_table table;
	struct dns_rindex *rindex; /* PTR: the table by address (rindex.h) */
	struct dns_cache *cache;
	struct dns_conn conns[DNS_MAX_TCP];
	uint32_t conn_serial;
	struct dns_pending pending[DNS_MAX_PENDING];
	unsigned n_pending;
	unsigned next_upstream;
	uint8_t buf[DNS_MSG_MAX + 2];
	uint8_t reply[DNS_MSG_MAX + 2];
	uint8_t spliced[DNS_MSG_MAX + 2]; /* a CNAME and its target's answer */
	uint64_t rnd_state;
};

static volatile sig_atomic_t dns__stop;

static void dns__on_signal(int sig)
{
	(void)sig;
	dns__stop = 1;
}

static uint64_t dns__now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* xorshift for answer order only; query IDs come from getrandom */
static uint64_t dns__rnd(struct dns_server *s)
{
	uint64_t x = s->rnd_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return s->rnd_state = x;
}

static uint16_t dns__random_id(void)
{
	/* a pool of IDs from the kernel's CSPRNG, one getrandom per 256 */
	static uint16_t pool[256];
	static unsigned left;

	if (!left) {
		if (getrandom(pool, sizeof(pool), 0) != (ssize_t)sizeof(pool))
			for (unsigned i = 0; i < 256; i++)
				pool[i] = (uint16_t)(rand() ^ (int)i);
		left = 256;
	}
	return pool[--left];
}

/* ---- addresses ------------------------------------------------------------ */

int dns_parse_addr(const char *s, unsigned def_port, struct dns_addr *out)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *port = NULL, *colon = strrchr(s, ':');
	struct sockaddr_in *v4 = (struct sockaddr_in *)&out->sa;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&out->sa;
	unsigned long p = def_port;
	size_t hl;

	memset(out, 0, sizeof(*out));
	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (!end || (end[1] && end[1] != ':'))
			return -EINVAL;
		hl = (size_t)(end - s - 1);
		if (hl >= sizeof(host))
			return -EINVAL;
		memcpy(host, s + 1, hl);
		host[hl] = 0;
		port = end[1] ? end + 2 : NULL;
	} else if (colon && strchr(s, ':') == colon) { /* one colon: v4:port */
		hl = (size_t)(colon - s);
		if (hl >= sizeof(host))
			return -EINVAL;
		memcpy(host, s, hl);
		host[hl] = 0;
		port = colon + 1;
	} else {
		if (strlen(s) >= sizeof(host))
			return -EINVAL;
		strcpy(host, s);
	}
	if (port) {
		char *end;

		errno = 0;
		p = strtoul(port, &end, 10);
		if (!*port || *end || errno || p == 0 || p > 65535)
			return -EINVAL;
	}
	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)p);
		out->len = sizeof(*v4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)p);
		out->len = sizeof(*v6);
		return 0;
	}
	return -EINVAL;
}

int dns_parse_addrs(const char *s, unsigned def_port, struct dns_addr *list, unsigned *n,
		    char *bad, size_t bad_len)
{
	char item[128];

	while (*s) {
		size_t l = strcspn(s, ",");

		snprintf(bad, bad_len, "%.*s", (int)l, s);
		if (l >= sizeof(item))
			return -EINVAL;
		memcpy(item, s, l);
		item[l] = 0;
		if (*n >= DNS_MAX_ADDRS)
			return -E2BIG;
		if (dns_parse_addr(item, def_port, &list[*n]))
			return -EINVAL;
		++*n;
		s += l;
		if (*s == ',')
			s++;
	}
	return 0;
}

int dns_resolv_conf(const char *path, struct dns_addr *list, unsigned *n)
{
	FILE *f = fopen(path, "r");
	char line[512], addr[128];

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f) && *n < DNS_MAX_ADDRS) {
		if (sscanf(line, " nameserver %127s", addr) != 1)
			continue;
		/* a scoped v6 (fe80::1%eth0) is skipped: not worth the parsing */
		if (!dns_parse_addr(addr, 53, &list[*n]))
			++*n;
	}
	fclose(f);
	return 0;
}

const char *dns_addr_str(const struct dns_addr *a, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (a->sa.ss_family == AF_INET6) {
		const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&a->sa;

		inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(v6->sin6_port));
	} else {
		const struct sockaddr_in *v4 = (const struct sockaddr_in *)&a->sa;

		inet_ntop(AF_INET, &v4->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(v4->sin_port));
	}
	return buf;
}

/* ---- sending to clients ----------------------------------------------------- */

static void dns__conn_close(struct dns_server *s, int i)
{
	struct dns_conn *c = &s->conns[i];

	if (c->fd < 0)
		return;
	close(c->fd); /* also leaves the epoll set */
	c->fd = -1;
	free(c->in);
	free(c->out);
	c->in = c->out = NULL;
	c->in_len = c->out_len = c->out_off = 0;
	c->waiting = false;
}

static void dns__conn_events(struct dns_server *s, int i)
{
	struct dns_conn *c = &s->conns[i];
	struct epoll_event ev = { .data.u64 = EV(EV_CONN, i) };

	/* reading waits while a query is in flight or a reply is unsent:
	 * one query at a time bounds what a connection holds */
	if (c->out_len > c->out_off)
		ev.events = EPOLLOUT;
	else if (!c->waiting)
		ev.events = EPOLLIN;
	epoll_ctl(s->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void dns__conn_flush(struct dns_server *s, int i)
{
	struct dns_conn *c = &s->conns[i];

	while (c->out_off < c->out_len) {
		ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			dns__conn_close(s, i);
			return;
		}
		c->out_off += (size_t)n;
	}
	if (c->out_off == c->out_len) {
		free(c->out);
		c->out = NULL;
		c->out_len = c->out_off = 0;
	}
	dns__conn_events(s, i);
}

static void dns__conn_send(struct dns_server *s, int i, const uint8_t *msg, size_t len)
{
	struct dns_conn *c = &s->conns[i];

	c->out = malloc(len + 2);
	if (!c->out) {
		dns__conn_close(s, i);
		return;
	}
	c->out[0] = (uint8_t)(len >> 8);
	c->out[1] = (uint8_t)len;
	memcpy(c->out + 2, msg, len);
	c->out_len = len + 2;
	c->out_off = 0;
	c->last_ms = dns__now_ms();
	dns__conn_flush(s, i);
}

/* A reply to a UDP client, cut to its size limit (TC) when larger. */
static size_t dns__udp_fit(const struct dns_query_info *info, uint8_t *msg, size_t len,
			   size_t cap)
{
	size_t limit = info->edns ? (info->udp_size < DNS_EDNS_SIZE ? info->udp_size
								     : DNS_EDNS_SIZE)
				  : DNS_UDP_PLAIN;

	return len > limit ? dns_reply_empty(info, msg[3] & 15, true, msg, cap) : len;
}

static void dns__udp_send(struct dns_server *s, int fd, const struct dns_addr *peer,
			  const struct dns_query_info *info, uint8_t *msg, size_t len)
{
	len = dns__udp_fit(info, msg, len, DNS_MSG_MAX);
	(void)s;
	if (len)
		sendto(fd, msg, len, MSG_DONTWAIT, (const struct sockaddr *)&peer->sa, peer->len);
}

/* ---- forwarding ------------------------------------------------------------- */

static void dns__pending_free(struct dns_server *s, struct dns_pending *p)
{
	if (p->fd >= 0)
		close(p->fd);
	free(p->tcp_in);
	free(p->prefix);
	memset(p, 0, sizeof(*p));
	p->fd = -1;
	s->n_pending--;
}

/* The query we send: the client's question as spelt (its 0x20 case kept),
 * RD, its CD, our own random ID, EDNS if the client used it (with its DO). */
static size_t dns__upstream_query(const struct dns_pending *p, uint8_t *q)
{
	size_t len = 12 + p->info.question_len;

	memset(q, 0, 12);
	q[0] = (uint8_t)(p->our_id >> 8);
	q[1] = (uint8_t)p->our_id;
	q[2] = 0x01; /* RD */
	q[3] = (uint8_t)(p->info.flags & 0x0010); /* CD */
	q[5] = 1;
	memcpy(q + 12, p->info.question, p->info.question_len);
	if (p->info.edns) {
		uint8_t *o = q + len;

		q[11] = 1;
		o[0] = 0;
		o[1] = 0;
		o[2] = 41;
		o[3] = DNS_EDNS_SIZE >> 8;
		o[4] = DNS_EDNS_SIZE & 0xff;
		o[5] = o[6] = 0;
		o[7] = p->info.do_bit ? 0x80 : 0;
		o[8] = o[9] = o[10] = 0;
		len += 11;
	}
	return len;
}

static int dns__upstream_open(struct dns_server *s, struct dns_pending *p)
{
	const struct dns_addr *up = &s->o->upstream[p->upstream];
	struct epoll_event ev = { .data.u64 = EV(EV_UPSTREAM, p - s->pending) };
	uint8_t q[12 + 300 + 11];
	size_t qlen;
	int fd;

	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	p->connected = false;
	free(p->tcp_in);
	p->tcp_in = NULL;
	p->tcp_len = 0;
	p->our_id = dns__random_id();
	fd = socket(up->sa.ss_family,
		    (p->tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	p->fd = fd;
	/* connect: the kernel picks a random source port (and for UDP then
	 * delivers only what comes from the upstream's address and port) */
	if (connect(fd, (const struct sockaddr *)&up->sa, up->len) < 0 && errno != EINPROGRESS)
		return -errno;
	qlen = dns__upstream_query(p, q);
	if (!p->tcp) {
		if (send(fd, q, qlen, 0) < 0)
			return -errno;
		p->connected = true;
		ev.events = EPOLLIN;
	} else {
		ev.events = EPOLLOUT;
	}
	if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	p->deadline_ms = dns__now_ms() + DNS_UPSTREAM_TRY_MS;
	return 0;
}

static void dns__answer_client(struct dns_server *s, struct dns_pending *p, uint8_t *msg,
			       size_t len)
{
	if (p->udp_fd >= 0) {
		dns__udp_send(s, p->udp_fd, &p->peer, &p->info, msg, len);
		return;
	}
	if (p->conn >= 0 && s->conns[p->conn].fd >= 0 &&
	    s->conns[p->conn].serial == p->conn_serial) {
		s->conns[p->conn].waiting = false;
		dns__conn_send(s, p->conn, msg, len);
	}
}

static void dns__fail(struct dns_server *s, struct dns_pending *p)
{
	size_t n = dns_reply_empty(&p->info, 2 /* SERVFAIL */, false, s->reply, sizeof(s->reply));

	/* a chase that failed still has its CNAME to give */
	if (p->prefix) {
		memcpy(s->reply, p->prefix, p->prefix_len);
		n = p->prefix_len;
	}
	dns__answer_client(s, p, s->reply, n);
	dns__pending_free(s, p);
}

/* The next try: another upstream, until the tries run out. */
static void dns__retry(struct dns_server *s, struct dns_pending *p)
{
	while (++p->tries < DNS_UPSTREAM_TRIES) {
		p->upstream = (p->upstream + 1) % s->o->n_upstream;
		p->tcp = false;
		if (!dns__upstream_open(s, p))
			return;
	}
	dns__fail(s, p);
}

static void dns__forward(struct dns_server *s, const struct dns_query_info *info, int udp_fd,
			 const struct dns_addr *peer, int conn, const uint8_t *prefix,
			 size_t prefix_len)
{
	struct dns_pending *p = NULL;

	if (s->o->n_upstream && s->n_pending < DNS_MAX_PENDING &&
	    info->question_len <= sizeof(p->question))
		for (unsigned i = 0; i < DNS_MAX_PENDING; i++)
			if (!s->pending[i].used) {
				p = &s->pending[i];
				break;
			}
	if (!p) {
		/* no upstream, or too many in flight: say so rather than
		 * queue without bound */
		size_t n = dns_reply_empty(info, 2, false, s->reply, sizeof(s->reply));

		if (prefix) { /* a chase: the CNAME alone */
			memmove(s->reply, prefix, prefix_len);
			n = prefix_len;
		}

		if (udp_fd >= 0)
			dns__udp_send(s, udp_fd, peer, info, s->reply, n);
		else
			dns__conn_send(s, conn, s->reply, n);
		return;
	}
	s->n_pending++;
	p->used = true;
	p->fd = -1;
	p->udp_fd = udp_fd;
	if (peer)
		p->peer = *peer;
	p->conn = conn;
	p->conn_serial = conn >= 0 ? s->conns[conn].serial : 0;
	p->info = *info;
	memcpy(p->question, info->question, info->question_len);
	p->info.question = p->question;
	if (prefix) {
		p->prefix = malloc(prefix_len);
		if (p->prefix) {
			memcpy(p->prefix, prefix, prefix_len);
			p->prefix_len = prefix_len;
		}
	}
	p->tries = 0;
	p->tcp = false;
	p->upstream = s->next_upstream++ % s->o->n_upstream;
	if (conn >= 0) {
		s->conns[conn].waiting = true;
		dns__conn_events(s, conn);
	}
	if (dns__upstream_open(s, p))
		dns__retry(s, p);
}

/* Whether `m` answers what `p` asked: our ID, a response, the question
 * byte for byte as sent (case included: a forged answer must guess it). */
static bool dns__matches(const struct dns_pending *p, const uint8_t *m, size_t len)
{
	return len >= 12 + p->info.question_len && m[0] == (uint8_t)(p->our_id >> 8) &&
	       m[1] == (uint8_t)p->our_id && (m[2] & 0x80) && m[4] == 0 && m[5] == 1 &&
	       !memcmp(m + 12, p->info.question, p->info.question_len);
}

static void dns__upstream_answer(struct dns_server *s, struct dns_pending *p, uint8_t *m,
				 size_t len)
{
	unsigned rcode = m[3] & 15;

	if ((m[2] & 0x02) && !p->tcp) { /* truncated: ask again over TCP */
		p->tcp = true;
		if (dns__upstream_open(s, p))
			dns__retry(s, p);
		return;
	}
	if (rcode == 2 /* SERVFAIL */ || rcode == 5 /* REFUSED */) {
		if (p->tries + 1 < DNS_UPSTREAM_TRIES && s->o->n_upstream > 1) {
			dns__retry(s, p);
			return;
		}
	}
	dns_cache_put(s->cache, &p->info, m, len, dns__now_ms() / 1000);
	if (p->prefix) {
		len = dns_wire_splice(s->spliced, sizeof(s->spliced), p->prefix, p->prefix_len, m,
				      len);
		if (!len) { /* the CNAME alone, then */
			memcpy(s->spliced, p->prefix, p->prefix_len);
			len = p->prefix_len;
		}
		m = s->spliced;
	}
	/* the client's ID and RD; the question is its own already */
	m[0] = (uint8_t)(p->info.id >> 8);
	m[1] = (uint8_t)p->info.id;
	m[2] = (uint8_t)((m[2] & ~0x01) | ((p->info.flags >> 8) & 0x01));
	dns__answer_client(s, p, m, len);
	dns__pending_free(s, p);
}

static void dns__upstream_event(struct dns_server *s, unsigned i, uint32_t events)
{
	struct dns_pending *p = &s->pending[i];

	if (!p->used || p->fd < 0)
		return;
	if (!p->tcp) {
		for (int k = 0; k < 4; k++) {
			ssize_t n = recv(p->fd, s->buf, sizeof(s->buf), 0);

			if (n < 0) {
				if (errno == ECONNREFUSED)
					dns__retry(s, p);
				return;
			}
			if (dns__matches(p, s->buf, (size_t)n)) {
				dns__upstream_answer(s, p, s->buf, (size_t)n);
				return;
			}
			/* anything else is ignored: a late or forged answer */
		}
		return;
	}
	if (!p->connected) {
		uint8_t q[2 + 12 + 300 + 11];
		size_t qlen;
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = EV(EV_UPSTREAM, i) };

		if (events & (EPOLLERR | EPOLLHUP)) {
			dns__retry(s, p);
			return;
		}
		qlen = dns__upstream_query(p, q + 2);
		q[0] = (uint8_t)(qlen >> 8);
		q[1] = (uint8_t)qlen;
		/* a few hundred bytes into a fresh socket's buffer: one write */
		if (write(p->fd, q, qlen + 2) != (ssize_t)(qlen + 2)) {
			dns__retry(s, p);
			return;
		}
		p->connected = true;
		epoll_ctl(s->ep, EPOLL_CTL_MOD, p->fd, &ev);
		return;
	}
	if (!p->tcp_in && !(p->tcp_in = malloc(DNS_MSG_MAX + 2))) {
		dns__fail(s, p);
		return;
	}
	for (;;) {
		size_t want = p->tcp_len < 2 ? 2 : 2 + (size_t)(p->tcp_in[0] << 8 | p->tcp_in[1]);
		ssize_t n = read(p->fd, p->tcp_in + p->tcp_len, want - p->tcp_len);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			dns__retry(s, p);
			return;
		}
		p->tcp_len += (size_t)n;
		if (p->tcp_len >= 2 && p->tcp_len == want && want > 2) {
			if (!dns__matches(p, p->tcp_in + 2, want - 2)) {
				dns__retry(s, p);
				return;
			}
			memcpy(s->buf, p->tcp_in + 2, want - 2);
			dns__upstream_answer(s, p, s->buf, want - 2);
			return;
		}
	}
}

/* ---- queries ------------------------------------------------------------------ */

/* An ExternalName's CNAME (`out`, n bytes) with the target's records:
 * from the cache, spliced at once (the new length), or forwarded with the
 * CNAME kept to splice the answer behind (0). */
static size_t dns__chase(struct dns_server *s, const struct dns_query_info *info, int udp_fd,
			 const struct dns_addr *peer, int conn, uint8_t *out, size_t n, size_t cap)
{
	struct dns_query_info t = *info;
	size_t m, k;

	t.question = info->chase_q;
	t.question_len = info->chase_len;
	t.chase = false;
	m = dns_cache_get(s->cache, &t, dns__now_ms() / 1000, s->buf, sizeof(s->buf));
	if (!m) {
		dns__forward(s, &t, udp_fd, peer, conn, out, n);
		return 0;
	}
	k = dns_wire_splice(s->spliced, sizeof(s->spliced), out, n, s->buf, m);
	if (!k || k > cap)
		return n;
	memcpy(out, s->spliced, k);
	return k;
}

/* One query from a client: answered, from the cache, or forwarded. The
 * reply, if there is one now, into `out`: its length, for a UDP client to
 * be sent by the caller (cut to the client's limit); a TCP client's is
 * sent here. */
static size_t dns__query(struct dns_server *s, const uint8_t *q, size_t len, int udp_fd,
			 const struct dns_addr *peer, int conn, uint8_t *out, size_t cap)
{
	struct dns_query_info info;
	const struct ldmesh_snap *snap;
	enum dns_verdict v;
	size_t n = 0;
	int slot;

	snap = ldmesh_table_acquire(&s->table, &slot);
	v = dns_handle_indexed(snap, &s->rindex, q, len, udp_fd < 0, dns__rnd(s), out, cap, &n,
			       &info);
	if (snap)
		ldmesh_table_release(&s->table, slot);
	if (v == DNS_DROP)
		return 0;
	if (v == DNS_FORWARD) {
		n = dns_cache_get(s->cache, &info, dns__now_ms() / 1000, out, cap);
		if (!n) {
			dns__forward(s, &info, udp_fd, peer, conn, NULL, 0);
			return 0;
		}
	} else if (info.chase && s->o->n_upstream && n) {
		n = dns__chase(s, &info, udp_fd, peer, conn, out, n, cap);
		if (!n)
			return 0;
	}
	if (udp_fd >= 0)
		return dns__udp_fit(&info, out, n, cap);
	if (n)
		dns__conn_send(s, conn, out, n);
	return 0;
}

/* A batch of datagrams in (recvmmsg) and their replies out (sendmmsg):
 * two system calls for up to DNS_BATCH queries under load. A query larger
 * than a slot is cut (MSG_TRUNC) and dropped: no DNS query needs 4 KiB. */
#define DNS_BATCH 32
#define DNS_SLOT 4096
struct dns_batch {
	struct mmsghdr in[DNS_BATCH], out[DNS_BATCH];
	struct iovec iov_in[DNS_BATCH], iov_out[DNS_BATCH];
	struct dns_addr peer[DNS_BATCH];
	uint8_t q[DNS_BATCH][DNS_SLOT], r[DNS_BATCH][DNS_SLOT];
};

static void dns__udp_event(struct dns_server *s, int fd)
{
	static struct dns_batch b;

	/* a bounded number of batches per wake-up, so TCP and upstream
	 * answers get their turn under a flood */
	for (int round = 0; round < 8; round++) {
		int n, m = 0;

		for (int i = 0; i < DNS_BATCH; i++) {
			b.iov_in[i] = (struct iovec){ b.q[i], DNS_SLOT };
			b.in[i].msg_hdr = (struct msghdr){ .msg_name = &b.peer[i].sa,
							   .msg_namelen = sizeof(b.peer[i].sa),
							   .msg_iov = &b.iov_in[i], .msg_iovlen = 1 };
		}
		n = recvmmsg(fd, b.in, DNS_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		for (int i = 0; i < n; i++) {
			size_t len;

			if (b.in[i].msg_hdr.msg_flags & MSG_TRUNC)
				continue;
			b.peer[i].len = b.in[i].msg_hdr.msg_namelen;
			len = dns__query(s, b.q[i], b.in[i].msg_len, fd, &b.peer[i], -1, b.r[i],
					 DNS_SLOT);
			if (!len)
				continue;
			b.iov_out[m] = (struct iovec){ b.r[i], len };
			b.out[m].msg_hdr = (struct msghdr){ .msg_name = &b.peer[i].sa,
							    .msg_namelen = b.peer[i].len,
							    .msg_iov = &b.iov_out[m],
							    .msg_iovlen = 1 };
			m++;
		}
		if (m)
			sendmmsg(fd, b.out, (unsigned)m, MSG_DONTWAIT);
		if (n < DNS_BATCH)
			return;
	}
}

static void dns__accept(struct dns_server *s, int lfd)
{
	for (;;) {
		struct epoll_event ev = { .events = EPOLLIN };
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), i;

		if (fd < 0)
			return;
		for (i = 0; i < DNS_MAX_TCP && s->conns[i].fd >= 0; i++)
			;
		if (i == DNS_MAX_TCP) {
			/* full: the newcomer is turned away, the others keep
			 * their idle timeout */
			close(fd);
			continue;
		}
		s->conns[i].fd = fd;
		s->conns[i].serial = ++s->conn_serial;
		s->conns[i].last_ms = dns__now_ms();
		ev.data.u64 = EV(EV_CONN, i);
		if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev) < 0)
			dns__conn_close(s, i);
	}
}

static void dns__conn_event(struct dns_server *s, int i, uint32_t events)
{
	struct dns_conn *c = &s->conns[i];

	if (c->fd < 0)
		return;
	if (events & EPOLLOUT) {
		dns__conn_flush(s, i);
		return;
	}
	if (!c->in && !(c->in = malloc(DNS_MSG_MAX + 2))) {
		dns__conn_close(s, i);
		return;
	}
	for (;;) {
		size_t want = c->in_len < 2 ? 2 : 2 + (size_t)(c->in[0] << 8 | c->in[1]);
		ssize_t n;

		if (c->in_len == want && want > 2) {
			c->in_len = 0;
			c->last_ms = dns__now_ms();
			dns__query(s, c->in + 2, want - 2, -1, NULL, i, s->reply,
				   sizeof(s->reply));
			/* one at a time: the next once this one is answered */
			return;
		}
		n = read(c->fd, c->in + c->in_len, want - c->in_len);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			dns__conn_close(s, i);
			return;
		}
		c->in_len += (size_t)n;
		if (c->in_len == 2 && want == 2 && !(c->in[0] | c->in[1])) {
			dns__conn_close(s, i); /* a zero-length message */
			return;
		}
	}
}

static void dns__sweep(struct dns_server *s, uint64_t now)
{
	for (unsigned i = 0; i < DNS_MAX_PENDING; i++)
		if (s->pending[i].used && now >= s->pending[i].deadline_ms)
			dns__retry(s, &s->pending[i]);
	for (int i = 0; i < DNS_MAX_TCP; i++)
		if (s->conns[i].fd >= 0 && !s->conns[i].waiting &&
		    now - s->conns[i].last_ms >= DNS_TCP_IDLE_MS)
			dns__conn_close(s, i);
}

/* ---- set-up ------------------------------------------------------------------- */

static int dns__listen(struct dns_server *s, const struct dns_addr *a, int type)
{
	char name[80];
	int one = 1, fd = socket(a->sa.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct epoll_event ev = { .events = EPOLLIN };

	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (a->sa.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&a->sa, a->len) < 0)
		goto fail;
	if (type == SOCK_STREAM && listen(fd, 128) < 0)
		goto fail;
	ev.data.u64 = type == SOCK_STREAM ? EV(EV_LISTEN_TCP, fd) : EV(EV_UDP, fd);
	if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		goto fail;
	return fd;
fail:;
	int err = errno;

	fprintf(stderr, "ldmesh-dns: listen on %s/%s: %s%s\n", dns_addr_str(a, name, sizeof(name)),
		type == SOCK_STREAM ? "tcp" : "udp", strerror(err),
		err == EADDRNOTAVAIL ? " (no interface has that address: add it, e.g. to a "
				       "dummy interface, or pass --listen)"
		: err == EACCES ? " (port below 1024: needs CAP_NET_BIND_SERVICE)" : "");
	if (fd >= 0)
		close(fd);
	return -err;
}

static void dns__table_event(void *ctx, enum ldmesh_table_event ev, uint64_t gen,
			     const char *why)
{
	const struct dns_server *s = ctx;

	if (ev == LDMESH_TABLE_REFUSED)
		fprintf(stderr, "ldmesh-dns: table generation %llu refused: %s\n",
			(unsigned long long)gen, why);
	else if (ev == LDMESH_TABLE_SWITCHED && s->o->verbose)
		fprintf(stderr, "ldmesh-dns: table generation %llu\n", (unsigned long long)gen);
}

int dns_server_run(const struct dns_server_opts *o)
{
	struct dns_server *s = calloc(1, sizeof(*s));
	struct sigaction sa = { .sa_handler = dns__on_signal };
	uint64_t next_sweep = 0;
	int rc = 0;

	if (!s)
		return -ENOMEM;
	s->o = o;
	s->rnd_state = (uint64_t)dns__random_id() << 32 | dns__random_id() | 1;
	for (int i = 0; i < DNS_MAX_TCP; i++)
		s->conns[i].fd = -1;
	for (int i = 0; i < DNS_MAX_PENDING; i++)
		s->pending[i].fd = -1;
	if (dns_cache_new(&s->cache, o->cache_entries, o->cache_bytes)) {
		free(s);
		return -ENOMEM;
	}
	if (ldmesh_table_init(&s->table, o->table, &ldmesh_reader_libc, dns__table_event, s)) {
		fprintf(stderr, "ldmesh-dns: table path too long: %s\n", o->table);
		rc = -ENAMETOOLONG;
		goto out;
	}
	s->ep = epoll_create1(EPOLL_CLOEXEC);
	if (s->ep < 0) {
		rc = -errno;
		goto out;
	}
	for (unsigned i = 0; i < o->n_listen; i++) {
		if ((s->udp[i] = dns__listen(s, &o->listen[i], SOCK_DGRAM)) < 0 ||
		    (s->tcp[i] = dns__listen(s, &o->listen[i], SOCK_STREAM)) < 0) {
			rc = s->udp[i] < 0 ? s->udp[i] : s->tcp[i];
			goto out;
		}
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	fprintf(stderr, "ldmesh-dns: serving\n");
	while (!dns__stop) {
		struct epoll_event evs[64];
		int n = epoll_wait(s->ep, evs, 64, 100);
		uint64_t now;

		for (int k = 0; k < n; k++) {
			uint64_t d = evs[k].data.u64;
			unsigned kind = (unsigned)(d >> 56);
			uint64_t idx = d & ((1ULL << 56) - 1);

			switch (kind) {
			case EV_UDP: dns__udp_event(s, (int)idx); break;
			case EV_LISTEN_TCP: dns__accept(s, (int)idx); break;
			case EV_CONN: dns__conn_event(s, (int)idx, evs[k].events); break;
			case EV_UPSTREAM: dns__upstream_event(s, (unsigned)idx, evs[k].events); break;
			}
		}
		now = dns__now_ms();
		if (now >= next_sweep) {
			dns__sweep(s, now);
			next_sweep = now + 100;
		}
	}
out:
	for (int i = 0; i < DNS_MAX_TCP; i++)
		dns__conn_close(s, i);
	for (int i = 0; i < DNS_MAX_PENDING; i++)
		if (s->pending[i].used)
			dns__pending_free(s, &s->pending[i]);
	dns_rindex_free(s->rindex);
	ldmesh_table_close(&s->table);
	dns_cache_free(s->cache);
	free(s);
	return rc;
}
