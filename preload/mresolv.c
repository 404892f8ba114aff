/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "mresolv.h"

#include "resq.h"

#ifdef __GLIBC__
bool mresolv_getaddrinfo(struct preload_state *st, const char *name, const char *service,
			 const struct addrinfo *h, struct addrinfo **res, int *rc)
{
	(void)st, (void)name, (void)service, (void)h, (void)res, (void)rc;
	return false;
}

bool mresolv_res_query(struct preload_state *st, const char *name, int cls, int type,
		       struct resq_reply *r)
{
	(void)st, (void)name, (void)cls, (void)type, (void)r;
	return false;
}

bool mresolv_gethostbyname2_r(struct preload_state *st, const char *name, int af,
			      struct hostent *h, char *buf, size_t buflen, struct hostent **res,
			      int *err, int *ret)
{
	(void)st, (void)name, (void)af, (void)h, (void)buf, (void)buflen, (void)res, (void)err,
		(void)ret;
	return false;
}

bool mresolv_no_dns(const char *name)
{
	(void)name;
	return true;
}
#else
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <resolv.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "config.h"
#include "gai.h"
#include "real.h"
#include "resolver.h"
#include "rng.h"
#include "state.h"
#include "wire.h"

/* musl's bounds: MAXNS nameservers, MAXADDRS addresses, MAXSERVS rows,
 * 256-byte resolv.conf lines and search list, 512-byte replies (1.2.3
 * offers no EDNS and reads no more). */
#define MRESOLV_MAXNS 3
#define MRESOLV_MAXADDRS 48
#define MRESOLV_MAXSERVS 2
#define MRESOLV_LINE 256
#define MRESOLV_ABUF 512
/* resolv.conf read whole; kubelet's is a few lines */
#define MRESOLV_CONF_MAX 4096

struct mresolv_conf {
	struct sockaddr_in6 ns[MRESOLV_MAXNS]; /* each as musl will send to it */
	unsigned nns, nvip;                   /* nvip: steered to a backend */
	unsigned ndots, timeout, attempts;
	char search[MRESOLV_LINE];
};

struct mresolv_addr {
	int family;
	uint8_t addr[16]; /* IPv4-mapped for AF_INET */
	int sortkey;
};

struct mresolv_found {
	struct mresolv_addr a[MRESOLV_MAXADDRS];
	unsigned n;
	char canon[256];
};

/* ---- resolv.conf, as musl's __get_resolv_conf reads it ---- */

static unsigned mresolv__opt(const char *line, const char *key, unsigned dflt, unsigned max)
{
	const char *p = strstr(line, key);
	char *z;
	unsigned long x;

	if (!p)
		return dflt;
	p += strlen(key);
	if (!isdigit((unsigned char)*p) && !(*p == '.' && !strcmp(key, "timeout:")))
		return dflt;
	x = strtoul(p, &z, 10);
	if (z == p)
		return dflt;
	return x > max ? max : (unsigned)x;
}

static void mresolv__ns(struct mresolv_conf *c, char *p)
{
	struct sockaddr_in6 *ns = &c->ns[c->nns];
	struct in_addr v4;
	char *z;

	if (c->nns >= MRESOLV_MAXNS)
		return;
	while (isspace((unsigned char)*p))
		p++;
	for (z = p; *z && !isspace((unsigned char)*z); z++)
		;
	*z = 0;
	memset(ns, 0, sizeof(*ns));
	ns->sin6_family = AF_INET6;
	ns->sin6_port = htons(53);
	if (inet_pton(AF_INET, p, &v4) == 1)
		addr_from_v4(ns->sin6_addr.s6_addr, &v4);
	else if (inet_pton(AF_INET6, p, &ns->sin6_addr) != 1)
		return; /* (musl also takes a %scope: such a server is musl's) */
	c->nns++;
}

static void mresolv__line(struct mresolv_conf *c, char *line)
{
	if (!strncmp(line, "options", 7) && isspace((unsigned char)line[7])) {
		c->ndots = mresolv__opt(line, "ndots:", c->ndots, 15);
		c->attempts = mresolv__opt(line, "attempts:", c->attempts, 10);
		c->timeout = mresolv__opt(line, "timeout:", c->timeout, 60);
		return;
	}
	if (!strncmp(line, "nameserver", 10) && isspace((unsigned char)line[10])) {
		mresolv__ns(c, line + 11);
		return;
	}
	if ((strncmp(line, "domain", 6) && strncmp(line, "search", 6)) ||
	    !isspace((unsigned char)line[6]))
		return;
	line += 7;
	while (isspace((unsigned char)*line))
		line++;
	memcpy(c->search, line, strlen(line) + 1); /* the last such line wins */
}

/* 0, or -1 when musl would fail the lookup (an unreadable file) or the
 * file is larger than we read (then it is musl's to read). */
static int mresolv__conf(struct mresolv_conf *c)
{
	char buf[MRESOLV_CONF_MAX + 1];
	size_t have = 0, at = 0;
	int fd;

	*c = (struct mresolv_conf){ .ndots = 1, .timeout = 5, .attempts = 2 };
	fd = open("/etc/resolv.conf", O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -1; /* musl's default 127.0.0.1 is no VIP */
	for (;;) {
		ssize_t r = read(fd, buf + have, sizeof(buf) - 1 - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		have += (size_t)r;
		if (have == sizeof(buf) - 1)
			break;
	}
	real.close(fd);
	if (have == sizeof(buf) - 1)
		return -1;
	buf[have] = 0;
	/* fgets into 256 bytes: a longer line is skipped whole, as musl does */
	while (at < have) {
		char *line = buf + at, *nl = memchr(line, '\n', have - at);
		size_t n = nl ? (size_t)(nl - line) + 1 : have - at;
		at += n;
		if (n > MRESOLV_LINE - 1)
			continue;
		line[nl ? n - 1 : n] = 0;
		mresolv__line(c, line);
	}
	return 0;
}

/* Each nameserver that is a Service VIP: a live backend in its place (a
 * VIP without one stays, and its queries fail as musl's would). */
static void mresolv__steer(struct preload_state *st, struct mresolv_conf *c)
{
	const struct ldmesh_snap *s;
	int slot;

	s = ldmesh_table_acquire(&st->table, &slot);
	if (!s)
		return;
	for (unsigned i = 0; i < c->nns; i++) {
		uint8_t b[16];
		uint16_t port;
		/* musl's socket is IPv6 (any address then mapped) or IPv4 */
		if (resolver_backend(st, s, c->ns[i].sin6_addr.s6_addr, 53, AF_INET6, b, &port)) {
			memcpy(c->ns[i].sin6_addr.s6_addr, b, 16);
			c->ns[i].sin6_port = htons(port);
			c->nvip++;
		}
	}
	ldmesh_table_release(&st->table, slot);
}

/* Whether one /etc/hosts line names `name` (case-insensitively, as musl
 * compares): the address, then the names, up to a comment. */
static bool mresolv__hosts_line(const char *line, size_t n, const char *name, size_t len)
{
	size_t i = 0, word = 0;

	for (size_t k = 0; k < n; k++)
		if (line[k] == '#') {
			n = k;
			break;
		}
	while (i < n) {
		size_t start;
		while (i < n && config_is_blank(line[i]))
			i++;
		start = i;
		while (i < n && !config_is_blank(line[i]))
			i++;
		if (i > start && word++ && i - start == len && !strncasecmp(line + start, name, len))
			return true;
	}
	return false;
}

/* Whether /etc/hosts names `name`. Read in pieces without stdio (no
 * allocation); a line longer than the buffer is cut, as musl cuts at 512. */
static bool mresolv__in_hosts(const char *name)
{
	char buf[4096];
	size_t have = 0, len = strlen(name);
	bool found = false, eof = false;
	int fd = open("/etc/hosts", O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return false;
	while (!found && (!eof || have)) {
		char *nl;
		if (!eof && have < sizeof(buf)) {
			ssize_t r = read(fd, buf + have, sizeof(buf) - have);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				eof = true;
			else
				have += (size_t)r;
		}
		nl = memchr(buf, '\n', have);
		if (!nl && !eof && have < sizeof(buf))
			continue;
		size_t n = nl ? (size_t)(nl - buf) : have;
		found = mresolv__hosts_line(buf, n, name, len);
		n = nl ? n + 1 : have;
		memmove(buf, buf + n, have - n);
		have -= n;
	}
	real.close(fd);
	return found;
}

bool mresolv_no_dns(const char *name)
{
	struct in_addr v4;

	return strchr(name, ':') || inet_aton(name, &v4) || mresolv__in_hosts(name);
}

/* ---- the exchange, as musl's __res_msend_rc ---- */

static long mresolv__ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* One socket; every query to every nameserver, again each timeout /
 * attempts ms until each has an answer (NOERROR or NXDOMAIN; SERVFAIL
 * retried at once, twice per query and round) or timeout s passed. The
 * socket is IPv4 when every nameserver is (musl binds the family it
 * needs), else IPv6 with the IPv4 ones mapped. */
struct mresolv_io {
	const struct mresolv_conf *c;
	int fd, family;
	struct sockaddr_storage to[MRESOLV_MAXNS];
	socklen_t tolen;
};

static int mresolv__open(struct mresolv_io *io)
{
	const struct mresolv_conf *c = io->c;

	io->family = AF_INET;
	for (unsigned i = 0; i < c->nns; i++)
		if (!addr_is_v4(c->ns[i].sin6_addr.s6_addr))
			io->family = AF_INET6;
	io->fd = real.socket(io->family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (io->fd < 0 && io->family == AF_INET6 && errno == EAFNOSUPPORT) {
		io->family = AF_INET;
		io->fd = real.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	}
	if (io->fd < 0)
		return -1;
	if (io->family == AF_INET6)
		real.setsockopt(io->fd, IPPROTO_IPV6, IPV6_V6ONLY, &(int){ 0 }, sizeof(int));
	/* (an IPv6 nameserver on an IPv4 socket stays zero: never sent to) */
	memset(io->to, 0, sizeof(io->to));
	io->tolen = io->family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	for (unsigned i = 0; i < c->nns; i++)
		addr_to_sockaddr(io->family, c->ns[i].sin6_addr.s6_addr, ntohs(c->ns[i].sin6_port),
				 &io->to[i]);
	return 0;
}

static void mresolv__send(struct mresolv_io *io, const uint8_t *q, size_t qlen, unsigned j)
{
	/* an IPv6 nameserver on an IPv4-only socket: musl's would fail too */
	if (io->family == AF_INET && !addr_is_v4(io->c->ns[j].sin6_addr.s6_addr))
		return;
	(void)real.sendto(io->fd, q, qlen, MSG_NOSIGNAL, (const struct sockaddr *)&io->to[j],
			  io->tolen);
}

struct mresolv_q {
	uint8_t q[RESQ_QUERY_MAX];
	size_t qlen;
	uint8_t a[MRESOLV_ABUF];
	int alen;
};

/* The query a reply answers, from whom it came: NULL to ignore it. */
static struct mresolv_q *mresolv__match(struct mresolv_io *io, struct mresolv_q *qs,
					unsigned nq, const uint8_t *m, ssize_t len,
					const struct sockaddr_storage *from, unsigned *ns)
{
	unsigned j, i;

	if (len < 4)
		return NULL;
	for (j = 0; j < io->c->nns && memcmp(&io->to[j], from, io->tolen); j++)
		;
	if (j == io->c->nns)
		return NULL;
	for (i = 0; i < nq && (qs[i].q[0] != m[0] || qs[i].q[1] != m[1]); i++)
		;
	if (i == nq || qs[i].alen)
		return NULL;
	*ns = j;
	return &qs[i];
}

static void mresolv__receive(struct mresolv_io *io, struct mresolv_q *qs, unsigned nq,
			     unsigned *servfail)
{
	uint8_t m[MRESOLV_ABUF];
	struct sockaddr_storage from;
	socklen_t fl = sizeof(from);
	ssize_t len;
	unsigned budget = 64; /* datagrams a wake-up reads: a flood cannot hold
	                         the caller past its timeout */

	while (budget-- &&
	       (len = real.recvfrom(io->fd, m, sizeof(m), 0, (struct sockaddr *)&from, &fl)) >= 0) {
		unsigned j;
		struct mresolv_q *q = mresolv__match(io, qs, nq, m, len, &from, &j);

		fl = sizeof(from);
		if (!q)
			continue;
		switch (m[3] & 15) {
		case DNS_RC_NOERROR:
		case DNS_RC_NXDOMAIN:
			break;
		case DNS_RC_SERVFAIL:
			if (*servfail && (*servfail)--)
				mresolv__send(io, q->q, q->qlen, j);
			continue;
		default:
			continue; /* refusals and the rest: another server may answer */
		}
		memcpy(q->a, m, (size_t)len);
		q->alen = (int)len;
	}
}

static bool mresolv__done(const struct mresolv_q *qs, unsigned nq)
{
	for (unsigned i = 0; i < nq; i++)
		if (!qs[i].alen)
			return false;
	return true;
}

static int mresolv__msend(const struct mresolv_conf *c, struct mresolv_q *qs, unsigned nq)
{
	struct mresolv_io io = { .c = c };
	long timeout = 1000L * c->timeout, retry = timeout / (c->attempts ? c->attempts : 1);
	long t0, t1, t2;
	unsigned servfail = 0;
	int saved = errno;

	if (mresolv__open(&io) < 0)
		return -1;
	t0 = t2 = mresolv__ms();
	t1 = t2 - retry;
	for (; t2 - t0 < timeout && !mresolv__done(qs, nq); t2 = mresolv__ms()) {
		struct pollfd pfd = { .fd = io.fd, .events = POLLIN };
		if (t2 - t1 >= retry) {
			for (unsigned i = 0; i < nq; i++)
				for (unsigned j = 0; j < c->nns && !qs[i].alen; j++)
					mresolv__send(&io, qs[i].q, qs[i].qlen, j);
			t1 = t2;
			servfail = 2 * nq;
		}
		if (poll(&pfd, 1, (int)(t1 + retry - t2)) > 0)
			mresolv__receive(&io, qs, nq, &servfail);
	}
	real.close(io.fd);
	errno = saved; /* past the socket, no error is the caller's (EAGAIN) */
	return 0;
}

/* ---- the replies, as musl's __dns_parse and dns_parse_callback ---- */

/* musl's is_valid_hostname: printable host characters, at most 254 */
static bool mresolv__hostname(const char *s)
{
	if (strnlen(s, 255) - 1 >= 254)
		return false;
	for (; *s; s++)
		if (!((unsigned char)*s >= 0x80 || *s == '.' || *s == '-' ||
		      isalnum((unsigned char)*s)))
			return false;
	return true;
}

/* musl 1.2.3's dns_parse_callback: every A and AAAA of either reply (it
 * does not look at which query a record answers), a CNAME's target as the
 * canonical name; -1 stops the reply's walk. */
static int mresolv__record(struct mresolv_found *f, int type, const uint8_t *data, unsigned len,
			   const uint8_t *m)
{
	char tmp[256];

	if (f->n >= MRESOLV_MAXADDRS)
		return -1;
	switch (type) {
	case DNS_T_A:
	case DNS_T_AAAA:
		if (len != (type == DNS_T_A ? 4u : 16u))
			return -1;
		f->a[f->n].family = type == DNS_T_A ? AF_INET : AF_INET6;
		if (type == DNS_T_A)
			addr_from_v4(f->a[f->n].addr, data);
		else
			memcpy(f->a[f->n].addr, data, 16);
		f->n++;
		break;
	case DNS_T_CNAME:
		/* (musl bounds the name by its 512-byte buffer, not the reply) */
		if (dn_expand(m, m + MRESOLV_ABUF, data, tmp, sizeof(tmp)) > 0 &&
		    mresolv__hostname(tmp))
			strcpy(f->canon, tmp);
		break;
	}
	return 0;
}

/* The answer section, names skipped by the shared codec. */
static void mresolv__parse(struct mresolv_found *f, const struct mresolv_q *q)
{
	const uint8_t *m = q->a;
	size_t len = (size_t)q->alen, i = 12;
	unsigned qd, an;

	if (len < 12 || (m[3] & 15))
		return;
	qd = (unsigned)m[4] << 8 | m[5];
	an = (unsigned)m[6] << 8 | m[7];
	while (qd--) {
		i = dns_wire_skip_name(m, len, i);
		if (!i || i + 4 > len)
			return;
		i += 4;
	}
	while (an--) {
		unsigned rdlen;
		int type;
		i = dns_wire_skip_name(m, len, i);
		if (!i || i + 10 > len)
			return;
		type = m[i] << 8 | m[i + 1];
		rdlen = (unsigned)m[i + 8] << 8 | m[i + 9];
		if (i + 10 + rdlen > len)
			return;
		if (mresolv__record(f, type, m + i + 10, rdlen, m) < 0)
			return;
		i += 10 + rdlen;
	}
}

/* ---- lookup_name.c: name_from_dns, name_from_dns_search, the sort ---- */

/* musl 1.2.3's name_from_dns: the count found, 0 (NXDOMAIN: try the next
 * name), or an EAI_* code that ends the search (a name with no address,
 * NODATA, is EAI_NONAME there: 1.2.4 made it EAI_NODATA). */
static int mresolv__dns(const struct mresolv_conf *c, struct mresolv_found *f, const char *name,
			int family)
{
	static const struct resq_opts musl = { .rd = true };
	static const struct {
		int af, rr;
	} afrr[2] = { { AF_INET6, DNS_T_A }, { AF_INET, DNS_T_AAAA } };
	struct mresolv_q qs[2];
	unsigned nq = 0;

	for (int i = 0; i < 2; i++) {
		if (family == afrr[i].af)
			continue;
		qs[nq].qlen = resq_query(name, DNS_CLASS_IN, (uint16_t)afrr[i].rr, &musl, 512,
					 rng_next(), qs[nq].q);
		if (!qs[nq].qlen)
			return EAI_NONAME; /* as a name __res_mkquery refuses */
		qs[nq].alen = 0;
		/* IDs distinct (random here, from a clock in musl) */
		if (nq && qs[nq].q[0] == qs[0].q[0] && qs[nq].q[1] == qs[0].q[1])
			qs[nq].q[0]++;
		nq++;
	}
	if (mresolv__msend(c, qs, nq) < 0)
		return EAI_SYSTEM;
	for (unsigned i = 0; i < nq; i++) {
		int rc = qs[i].alen < 4 ? DNS_RC_SERVFAIL : qs[i].a[3] & 15;
		if (rc == DNS_RC_SERVFAIL)
			return EAI_AGAIN;
		if (rc == DNS_RC_NXDOMAIN)
			return 0;
		if (rc != DNS_RC_NOERROR)
			return EAI_FAIL;
	}
	f->n = 0;
	for (unsigned i = 0; i < nq; i++)
		mresolv__parse(f, &qs[i]);
	return f->n ? (int)f->n : EAI_NONAME;
}

/* musl's name_from_dns_search: each search domain first when the name
 * has fewer than ndots dots and no final dot, then the name itself; the
 * first answer that is not NXDOMAIN ends it. f->canon: the name asked
 * (or the CNAME's target). */
static int mresolv__search(struct mresolv_conf *c, struct mresolv_found *f, const char *name,
			   int family)
{
	size_t l, dots = 0;
	char *p, *z;
	int cnt;

	for (l = 0; name[l]; l++)
		dots += name[l] == '.';
	if (dots >= c->ndots || name[l - 1] == '.')
		c->search[0] = 0;
	if (name[l - 1] == '.')
		l--;
	if (!l || name[l - 1] == '.' || l >= 256)
		return EAI_NONAME;
	memcpy(f->canon, name, l);
	f->canon[l] = '.';
	for (p = c->search; *p; p = z) {
		while (isspace((unsigned char)*p))
			p++;
		for (z = p; *z && !isspace((unsigned char)*z); z++)
			;
		if (z == p)
			break;
		if ((size_t)(z - p) < 256 - l - 1) {
			memcpy(f->canon + l + 1, p, (size_t)(z - p));
			f->canon[z - p + 1 + (ptrdiff_t)l] = 0;
			/* (f->canon both the name asked and where a CNAME
			 * goes: the queries are written before any reply) */
			cnt = mresolv__dns(c, f, f->canon, family);
			if (cnt)
				return cnt;
		}
	}
	f->canon[l] = 0;
	return mresolv__dns(c, f, name, family);
}

/* RFC 3484/6724 destination selection, musl's subset (rules 3, 4 and 7
 * left out): one sort key per address from its policy, scope and the
 * source address a UDP connect would use. */
struct mresolv_policy {
	uint8_t addr[16];
	uint8_t len, mask, prec, label;
};

static const struct mresolv_policy mresolv__policies[] = {
	{ "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 15, 0xff, 50, 0 },
	{ "\0\0\0\0\0\0\0\0\0\0\xff\xff", 11, 0xff, 35, 4 },
	{ "\x20\2", 1, 0xff, 30, 2 },
	{ "\x20\1", 3, 0xff, 5, 5 },
	{ "\xfc", 0, 0xfe, 3, 13 },
	{ "", 0, 0, 40, 1 }, /* matches all: ends the walk */
};

static const struct mresolv_policy *mresolv__policy(const uint8_t a[16])
{
	for (unsigned i = 0;; i++) {
		const struct mresolv_policy *p = &mresolv__policies[i];
		if (!memcmp(a, p->addr, p->len) && (a[p->len] & p->mask) == p->addr[p->len])
			return p;
	}
}

static int mresolv__scope(const uint8_t a[16])
{
	const struct in6_addr *in = (const struct in6_addr *)a;

	if (IN6_IS_ADDR_MULTICAST(in))
		return a[1] & 15;
	if (IN6_IS_ADDR_LINKLOCAL(in) || IN6_IS_ADDR_LOOPBACK(in))
		return 2;
	if (IN6_IS_ADDR_SITELOCAL(in))
		return 5;
	return 14;
}

static int mresolv__prefix(const uint8_t *s, const uint8_t *d)
{
	int i;

	for (i = 0; i < 128 && !((s[i / 8] ^ d[i / 8]) & (128 >> (i % 8))); i++)
		;
	return i;
}

/* musl's DAS_* bits */
#define MRESOLV_USABLE 0x40000000
#define MRESOLV_SAMESCOPE 0x20000000
#define MRESOLV_SAMELABEL 0x10000000

static int mresolv__key(const struct mresolv_addr *a, unsigned i)
{
	const struct mresolv_policy *dp = mresolv__policy(a->addr);
	int dscope = mresolv__scope(a->addr), key = 0, prefix = 0;
	struct sockaddr_storage da, sa;
	socklen_t dl = addr_to_sockaddr(a->family, a->addr, 65535, &da), sl = sizeof(sa);
	int fd = real.socket(a->family, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);

	if (fd >= 0) {
		if (!real.connect(fd, (struct sockaddr *)&da, dl)) {
			key |= MRESOLV_USABLE;
			if (!getsockname(fd, (struct sockaddr *)&sa, &sl)) {
				uint8_t src[16] = { 0 };
				uint16_t port;
				addr_from_sockaddr((struct sockaddr *)&sa, sl, src, &port);
				if (dscope == mresolv__scope(src))
					key |= MRESOLV_SAMESCOPE;
				if (dp->label == mresolv__policy(src)->label)
					key |= MRESOLV_SAMELABEL;
				prefix = mresolv__prefix(src, a->addr);
			}
		}
		real.close(fd);
	}
	key |= dp->prec << 20;
	key |= (15 - dscope) << 16;
	key |= prefix << 8;
	key |= (int)(MRESOLV_MAXADDRS - i);
	return key;
}

static int mresolv__cmp(const void *a, const void *b)
{
	return ((const struct mresolv_addr *)b)->sortkey -
	       ((const struct mresolv_addr *)a)->sortkey;
}

/* musl's __lookup_name past its DNS step: AI_V4MAPPED's filter, then the
 * sort when IPv6 addresses are among two or more. */
static void mresolv__finish(struct mresolv_found *f, int family, int flags)
{
	unsigned i, j;

	if (flags & AI_V4MAPPED) {
		if (!(flags & AI_ALL)) {
			for (i = 0; i < f->n && f->a[i].family != AF_INET6; i++)
				;
			if (i < f->n) {
				for (j = 0; i < f->n; i++)
					if (f->a[i].family == AF_INET6)
						f->a[j++] = f->a[i];
				f->n = j;
			}
		}
		for (i = 0; i < f->n; i++)
			f->a[i].family = AF_INET6; /* kept IPv4-mapped */
	}
	if (f->n < 2 || family == AF_INET)
		return;
	for (i = 0; i < f->n && f->a[i].family == AF_INET; i++)
		;
	if (i == f->n)
		return;
	for (i = 0; i < f->n; i++)
		f->a[i].sortkey = mresolv__key(&f->a[i], i);
	qsort(f->a, f->n, sizeof(f->a[0]), mresolv__cmp);
}

/* ---- getaddrinfo.c and lookup_serv.c ---- */

/* musl's AI_ADDRCONFIG: a family counts when a UDP socket of it can
 * connect to its loopback address. 0, or EAI_SYSTEM; *family narrowed,
 * *none when the family asked for has no address. */
static int mresolv__addrconfig(int *family, bool *none)
{
	static const int tf[2] = { AF_INET, AF_INET6 };
	static const uint8_t lo4[16] = { [10] = 0xff, [11] = 0xff, [12] = 127, [15] = 1 };
	static const uint8_t lo6[16] = { [15] = 1 };

	for (int i = 0; i < 2; i++) {
		struct sockaddr_storage ss;
		socklen_t sl;
		int s, r = -1, err;

		if (*family == tf[1 - i])
			continue;
		sl = addr_to_sockaddr(tf[i], i ? lo6 : lo4, 65535, &ss);
		s = real.socket(tf[i], SOCK_CLOEXEC | SOCK_DGRAM, IPPROTO_UDP);
		if (s >= 0) {
			r = real.connect(s, (struct sockaddr *)&ss, sl);
			err = errno;
			real.close(s);
			if (!r)
				continue;
			errno = err;
		}
		switch (errno) {
		case EADDRNOTAVAIL:
		case EAFNOSUPPORT:
		case EHOSTUNREACH:
		case ENETDOWN:
		case ENETUNREACH:
			break;
		default:
			return EAI_SYSTEM;
		}
		if (*family == tf[i])
			*none = true;
		*family = tf[1 - i];
	}
	return 0;
}

static void mresolv__row(struct gai_tuple *t, unsigned *n, int socktype, int proto, int port)
{
	t[*n] = (struct gai_tuple){ .socktype = socktype, .protocol = proto,
				    .port = (uint16_t)port };
	(*n)++;
}

/* musl's __lookup_serv: the rows, or an EAI_* code. Named services
 * through getservbyname_r, which is musl's own __lookup_serv. */
static int mresolv__serv(struct gai_tuple t[GAI_MAX_TUPLES], const char *name, int proto,
			 int socktype, int flags)
{
	unsigned n = 0;
	unsigned long port = 0;
	char *z = "";

	switch (socktype) {
	case SOCK_STREAM:
		if (proto && proto != IPPROTO_TCP)
			return EAI_SERVICE;
		proto = IPPROTO_TCP;
		break;
	case SOCK_DGRAM:
		if (proto && proto != IPPROTO_UDP)
			return EAI_SERVICE;
		proto = IPPROTO_UDP;
		break;
	case 0:
		break;
	default:
		if (name)
			return EAI_SERVICE;
		mresolv__row(t, &n, socktype, proto, 0);
		return 1;
	}
	if (name) {
		if (!*name)
			return EAI_SERVICE;
		port = strtoul(name, &z, 10);
	}
	if (!*z) {
		if (port > 65535)
			return EAI_SERVICE;
		if (proto != IPPROTO_UDP)
			mresolv__row(t, &n, SOCK_STREAM, IPPROTO_TCP, (int)port);
		if (proto != IPPROTO_TCP)
			mresolv__row(t, &n, SOCK_DGRAM, IPPROTO_UDP, (int)port);
		return (int)n;
	}
	if (flags & AI_NUMERICSERV)
		return EAI_NONAME;
	for (int i = 0; i < 2; i++) {
		int p = i ? IPPROTO_UDP : IPPROTO_TCP;
		struct servent se, *r = NULL;
		char buf[256];
		if ((proto && proto != p) ||
		    getservbyname_r(name, i ? "udp" : "tcp", &se, buf, sizeof(buf), &r) || !r)
			continue;
		mresolv__row(t, &n, i ? SOCK_DGRAM : SOCK_STREAM, p, ntohs((uint16_t)se.s_port));
	}
	return n ? (int)n : EAI_SERVICE;
}

static int mresolv__build(const struct mresolv_found *f, const struct gai_tuple *t,
			  unsigned nt, struct addrinfo **res)
{
	struct gai_pick picks[MRESOLV_MAXADDRS];

	for (unsigned i = 0; i < f->n; i++)
		picks[i] = (struct gai_pick){ f->a[i].family, f->a[i].addr };
	/* musl: ai_flags 0, the canonical name on every node */
	return gai_emit(picks, f->n, t, nt, f->canon, strlen(f->canon), 0, true, res);
}

/* musl's getaddrinfo past its hints checks (the hook's), for a name DNS
 * answers. */
static int mresolv__gai(struct mresolv_conf *c, struct mresolv_found *f, const char *name,
			const char *service, const struct addrinfo *h, struct addrinfo **res)
{
	struct gai_tuple t[GAI_MAX_TUPLES];
	int family = h->ai_family, flags = h->ai_flags, ns, rc;
	bool none = false;

	if (flags & AI_ADDRCONFIG) {
		rc = mresolv__addrconfig(&family, &none);
		if (rc)
			return rc;
	}
	ns = mresolv__serv(t, service, h->ai_protocol, h->ai_socktype, flags);
	if (ns < 0)
		return ns;
	if ((flags & AI_V4MAPPED) && family == AF_INET6)
		family = AF_UNSPEC;
	else
		flags &= ~AI_V4MAPPED;
	rc = mresolv__search(c, f, name, family);
	if (rc <= 0)
		return rc ? rc : EAI_NONAME;
	mresolv__finish(f, family, flags);
	return none ? EAI_NODATA : mresolv__build(f, t, (unsigned)ns, res);
}

bool mresolv_getaddrinfo(struct preload_state *st, const char *name, const char *service,
			 const struct addrinfo *h, struct addrinfo **res, int *rc)
{
	struct mresolv_conf c;
	struct mresolv_found f;
	size_t l = strnlen(name, 255);
	int saved = errno;

	if (mresolv__conf(&c) < 0 || l - 1 >= 254)
		return false;
	mresolv__steer(st, &c);
	if (!c.nvip)
		return false;
	*rc = mresolv__gai(&c, &f, name, service, h, res);
	if (*rc != EAI_SYSTEM)
		errno = saved;
	return true;
}

/* musl 1.2.3's res_query past its checks: the query __res_mkquery
 * writes, sent by __res_msend as above; the reply into r (r->len 0: none
 * came). */
bool mresolv_res_query(struct preload_state *st, const char *name, int cls, int type,
		       struct resq_reply *r)
{
	static const struct resq_opts musl = { .rd = true };
	struct mresolv_conf c;
	struct mresolv_q q = { .alen = 0 };

	/* what __res_mkquery refuses fails there at once, with no query */
	if (cls < 0 || cls > 255 || type < 0 || type > 255 || mresolv__conf(&c) < 0)
		return false;
	q.qlen = resq_query(name, (uint16_t)cls, (uint16_t)type, &musl, 512, rng_next(), q.q);
	if (!q.qlen)
		return false;
	mresolv__steer(st, &c);
	if (!c.nvip)
		return false;
	r->len = 0;
	if (mresolv__msend(&c, &q, 1) == 0 && q.alen > 0) {
		memcpy(r->m, q.a, (size_t)q.alen);
		r->len = (size_t)q.alen;
	}
	return true;
}

/* musl 1.2.3's gethostbyname2_r past __lookup_name: its errors, and the
 * hostent laid out in `buf` as musl lays it out (aliases: the canonical
 * name, then the name asked when it differs). */
static int mresolv__hostent(const struct mresolv_found *f, const char *name, int af, int cnt,
			    struct hostent *h, char *buf, size_t buflen, struct hostent **res,
			    int *err)
{
	size_t align, need, len = af == AF_INET6 ? 16 : 4;
	int i;

	switch (cnt) {
	case EAI_NONAME:
		*err = HOST_NOT_FOUND;
		return ENOENT;
	case EAI_AGAIN:
		*err = TRY_AGAIN;
		return EAGAIN;
	case EAI_MEMORY:
	case EAI_SYSTEM:
		*err = NO_RECOVERY;
		return errno;
	default:
		if (cnt < 0) {
			*err = NO_RECOVERY;
			return EBADMSG;
		}
	}
	h->h_addrtype = af;
	h->h_length = (int)len;
	align = -(uintptr_t)buf & (sizeof(char *) - 1);
	need = 4 * sizeof(char *) + (size_t)(cnt + 1) * (sizeof(char *) + len) + strlen(name) + 1 +
	       strlen(f->canon) + 1 + align;
	if (need > buflen)
		return ERANGE;
	buf += align;
	h->h_aliases = (void *)buf;
	buf += 3 * sizeof(char *);
	h->h_addr_list = (void *)buf;
	buf += (size_t)(cnt + 1) * sizeof(char *);
	for (i = 0; i < cnt; i++) {
		h->h_addr_list[i] = buf;
		memcpy(buf, af == AF_INET6 ? f->a[i].addr : f->a[i].addr + 12, len);
		buf += len;
	}
	h->h_addr_list[i] = NULL;
	h->h_name = h->h_aliases[0] = buf;
	strcpy(h->h_name, f->canon);
	buf += strlen(h->h_name) + 1;
	h->h_aliases[1] = NULL;
	if (strcmp(h->h_name, name)) {
		h->h_aliases[1] = buf;
		strcpy(buf, name);
	}
	h->h_aliases[2] = NULL;
	*res = h;
	return 0;
}

bool mresolv_gethostbyname2_r(struct preload_state *st, const char *name, int af,
			      struct hostent *h, char *buf, size_t buflen, struct hostent **res,
			      int *err, int *ret)
{
	struct mresolv_conf c;
	struct mresolv_found f;
	int cnt, saved = errno;

	if (!name || (af != AF_INET && af != AF_INET6) || strnlen(name, 255) - 1 >= 254 ||
	    mresolv_no_dns(name) || mresolv__conf(&c) < 0)
		return false;
	mresolv__steer(st, &c);
	if (!c.nvip)
		return false;
	*res = NULL;
	cnt = mresolv__search(&c, &f, name, af);
	if (cnt > 0)
		mresolv__finish(&f, af, AI_CANONNAME);
	*ret = mresolv__hostent(&f, name, af, cnt ? cnt : EAI_NONAME, h, buf, buflen, res, err);
	if (cnt != EAI_SYSTEM)
		errno = saved;
	return true;
}
#endif
