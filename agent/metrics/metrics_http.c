/* SPDX-License-Identifier: MIT */
/* The /metrics server (metrics_http.h says its bounds). */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "metrics_http.h"

struct metrics_http_body {
	unsigned refs;
	uint64_t made_ns;
	struct metrics_buf b;      /* the chunks written so far */
	struct metrics_view *view; /* what is left to write, NULL when done */
	uint64_t stepped;          /* the handle call that last stepped it */
};

static void http__unref(struct metrics_http_body *body)
{
	if (body && !--body->refs) {
		metrics_view_free(body->view);
		metrics_buf_free(&body->b);
		free(body);
	}
}

/* Write the next step of the body's text as one chunk; the last chunk
 * after the last step. */
static void http__step(struct metrics_http_body *body)
{
	struct metrics_buf piece = { 0 };
	bool done = metrics_view_render(body->view, &piece, METRICS_HTTP_RENDER_STEP);

	if (piece.len)
		metrics_buf_printf(&body->b, "%zx\r\n%.*s\r\n", piece.len, (int)piece.len, piece.p);
	if (done || piece.oom || body->b.oom) {
		if (done)
			metrics_buf_printf(&body->b, "0\r\n\r\n");
		metrics_view_free(body->view);
		body->view = NULL;
	}
	if (piece.oom)
		body->b.oom = true;
	metrics_buf_free(&piece);
}

int metrics_http_parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(s, ':');
	char *end;
	unsigned long port;
	bool bracketed = false;
	size_t hl;

	if (!colon || colon == s)
		return -EINVAL;
	hl = (size_t)(colon - s);
	if (s[0] == '[') {
		if (hl < 3 || s[hl - 1] != ']')
			return -EINVAL;
		s++;
		hl -= 2;
		bracketed = true;
	}
	/* an IPv6 address only in brackets: "::1:80" says no port clearly */
	if (hl >= sizeof(host) || (!bracketed && memchr(s, ':', hl)))
		return -EINVAL;
	memcpy(host, s, hl);
	host[hl] = 0;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || end == colon + 1 || *end || port > 65535 || colon[1] == '-')
		return -EINVAL;
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		*len = sizeof(*v4);
	} else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*v6);
	} else {
		return -EINVAL;
	}
	return 0;
}

int metrics_http_open(struct metrics_http *h, const char *addr, metrics_http_view_fn view,
		      void *ctx, char *why, size_t why_len)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1, err;

	memset(h, 0, sizeof(*h));
	h->fd = -1;
	for (int i = 0; i < METRICS_HTTP_CONNS; i++)
		h->conns[i].fd = -1;
	h->view = view;
	h->ctx = ctx;
	if (metrics_http_parse_addr(addr, &ss, &len) < 0) {
		snprintf(why, why_len, "%s: not ADDR:PORT or [ADDR6]:PORT (numeric)", addr);
		return -EINVAL;
	}
	h->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (h->fd < 0) {
		err = -errno;
		snprintf(why, why_len, "socket for %s: %s", addr, strerror(errno));
		return err;
	}
	(void)setsockopt(h->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(h->fd, (struct sockaddr *)&ss, len) < 0 || listen(h->fd, 16) < 0) {
		err = -errno;
		snprintf(why, why_len, "bind/listen %s: %s", addr, strerror(errno));
		close(h->fd);
		h->fd = -1;
		return err;
	}
	return 0;
}

int metrics_http_port(const struct metrics_http *h)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (h->fd < 0 || getsockname(h->fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					      : ((struct sockaddr_in *)&ss)->sin_port);
}

unsigned metrics_http_pollfds(const struct metrics_http *h, struct pollfd *fds)
{
	if (h->fd < 0)
		return 0;
	fds[0] = (struct pollfd){ .fd = h->fd, .events = POLLIN };
	for (int i = 0; i < METRICS_HTTP_CONNS; i++) {
		const struct metrics_http_conn *c = &h->conns[i];

		/* while sending: writable matters only with bytes to write */
		size_t have = c->head_len + (c->body ? c->body->b.len : 0);
		short ev = c->state != METRICS_HTTP_SENDING ? POLLIN : c->sent < have ? POLLOUT : 0;

		fds[1 + i] = (struct pollfd){ .fd = c->fd, .events = ev };
	}
	return METRICS_HTTP_FDS;
}

/* The connection is done with its body. */
static void http__release(struct metrics_http *h, struct metrics_http_conn *c)
{
	http__unref(c->body);
	c->body = NULL;
	/* nobody sends the last body any more: free it now, so a scrape
	 * after this one renders afresh and memory is held only while sent */
	if (h->latest && h->latest->refs == 1) {
		http__unref(h->latest);
		h->latest = NULL;
	}
}

static void http__drop(struct metrics_http *h, struct metrics_http_conn *c)
{
	close(c->fd);
	http__release(h, c);
	c->fd = -1;
	c->body = NULL;
	c->state = METRICS_HTTP_READING;
	c->req_len = c->head_len = c->sent = c->drained = 0;
}

static void http__accept(struct metrics_http *h, uint64_t now_ns)
{
	/* bounded: at most one turn's worth of new connections */
	for (int n = 0; n < 2 * METRICS_HTTP_CONNS; n++) {
		int fd = accept4(h->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		int i;

		if (fd < 0)
			return;
		for (i = 0; i < METRICS_HTTP_CONNS && h->conns[i].fd >= 0; i++)
			;
		if (i == METRICS_HTTP_CONNS) {
			h->refused++; /* busy: closed at once */
			close(fd);
			continue;
		}
		h->conns[i].fd = fd;
		h->conns[i].deadline_ns = now_ns + METRICS_HTTP_TIMEOUT_MS * 1000000ULL;
	}
}

/* The body to send: the last one when another connection is still sending
 * it and it is fresh (concurrent scrapes share one body), else a new one.
 * NULL when out of memory. */
static struct metrics_http_body *http__body(struct metrics_http *h, uint64_t now_ns)
{
	struct metrics_http_body *b = h->latest;

	if (b && b->refs > 1 && now_ns - b->made_ns < METRICS_HTTP_BODY_REUSE_MS * 1000000ULL) {
		b->refs++;
		return b;
	}
	http__unref(h->latest);
	h->latest = NULL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->made_ns = now_ns;
	b->view = h->view(h->ctx);
	if (!b->view) {
		free(b);
		return NULL;
	}
	b->refs = 2; /* latest, and the connection */
	h->latest = b;
	return b;
}

/* The head of an answer: an error's, empty, or the metrics' (chunked:
 * the body is written as it is sent). */
static void http__answer(struct metrics_http_conn *c, int status, const char *reason,
			 const char *type)
{
	int n = snprintf(c->head, sizeof(c->head),
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n%s"
			 "Connection: close\r\n\r\n",
			 status, reason, type,
			 status == 200 ? "Transfer-Encoding: chunked\r\n" : "Content-Length: 0\r\n");

	c->head_len = (size_t)n < sizeof(c->head) ? (size_t)n : sizeof(c->head) - 1;
	c->state = METRICS_HTTP_SENDING;
	c->sent = 0;
}

static void http__error(struct metrics_http *h, struct metrics_http_conn *c, int status,
			const char *reason)
{
	h->refused++;
	http__answer(c, status, reason, "text/plain");
}

/* A whole request head in c->req: answer it. Only "GET /metrics". */
static void http__request(struct metrics_http *h, struct metrics_http_conn *c, uint64_t now_ns)
{
	const char *r = c->req, *target = strchr(r, ' ');
	const char *sp = target ? strchr(target + 1, ' ') : NULL;
	size_t tlen;

	if (!sp || strncmp(sp + 1, "HTTP/1.", 7) != 0) {
		http__error(h, c, 400, "Bad Request");
		return;
	}
	if (target - r != 3 || strncmp(r, "GET", 3) != 0) {
		http__error(h, c, 405, "Method Not Allowed");
		return;
	}
	target++;
	tlen = (size_t)(sp - target);
	if (tlen < 8 || strncmp(target, "/metrics", 8) != 0 || (tlen > 8 && target[8] != '?')) {
		http__error(h, c, 404, "Not Found");
		return;
	}
	c->body = http__body(h, now_ns);
	if (!c->body) {
		http__error(h, c, 500, "Internal Server Error");
		return;
	}
	h->scrapes++;
	http__answer(c, 200, "OK", "text/plain; version=0.0.4; charset=utf-8");
}

static void http__read(struct metrics_http *h, struct metrics_http_conn *c, uint64_t now_ns)
{
	size_t room = sizeof(c->req) - 1 - c->req_len;
	ssize_t n = room ? recv(c->fd, c->req + c->req_len, room, 0) : 0;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0 && room) { /* closed or failed before a whole request */
		http__drop(h, c);
		return;
	}
	c->req_len += (size_t)n;
	c->req[c->req_len] = 0;
	if (memchr(c->req, 0, c->req_len)) {
		http__error(h, c, 400, "Bad Request");
	} else if (strstr(c->req, "\r\n\r\n") || strstr(c->req, "\n\n")) {
		http__request(h, c, now_ns);
	} else if (c->req_len == sizeof(c->req) - 1) {
		http__error(h, c, 431, "Request Header Fields Too Large");
	}
}

static void http__write(struct metrics_http *h, struct metrics_http_conn *c)
{
	for (int turns = 0; turns < 64; turns++) {
		const char *p;
		size_t left;

		if (c->sent < c->head_len) {
			p = c->head + c->sent;
			left = c->head_len - c->sent;
		} else {
			size_t off = c->sent - c->head_len, len = c->body ? c->body->b.len : 0;

			if (c->body && c->body->b.oom) { /* cut: the client must see it */
				http__drop(h, c);
				return;
			}
			if (off >= len && c->body && c->body->view)
				return; /* the next step is not written yet */
			if (off >= len) {
				http__release(h, c);
				(void)shutdown(c->fd, SHUT_WR);
				c->state = METRICS_HTTP_DRAINING;
				return;
			}
			p = c->body->b.p + off;
			left = len - off;
		}
		ssize_t n = send(c->fd, p, left, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			http__drop(h, c);
			return;
		}
		c->sent += (size_t)n;
	}
}

/* Read and throw away until the client closes, or it sent too much. */
static void http__drain(struct metrics_http *h, struct metrics_http_conn *c)
{
	char scratch[4096];
	ssize_t n = recv(c->fd, scratch, sizeof(scratch), MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0 || (c->drained += (size_t)n) > METRICS_HTTP_DRAIN_MAX)
		http__drop(h, c);
}

void metrics_http_handle(struct metrics_http *h, const struct pollfd *fds, unsigned n,
			 uint64_t now_ns)
{
	if (n < METRICS_HTTP_FDS || h->fd < 0)
		return;
	/* one step of each body still being written, however many send it */
	h->calls++;
	for (int i = 0; i < METRICS_HTTP_CONNS; i++) {
		struct metrics_http_body *b = h->conns[i].body;

		if (h->conns[i].fd >= 0 && b && b->view && b->stepped != h->calls) {
			b->stepped = h->calls;
			http__step(b);
		}
	}
	for (int i = 0; i < METRICS_HTTP_CONNS; i++) {
		struct metrics_http_conn *c = &h->conns[i];
		short ev = fds[1 + i].revents;

		if (c->fd < 0 || fds[1 + i].fd != c->fd)
			continue;
		if (c->state == METRICS_HTTP_READING && (ev & (POLLIN | POLLHUP | POLLERR)))
			http__read(h, c, now_ns);
		else if (c->state == METRICS_HTTP_DRAINING && (ev & (POLLIN | POLLHUP | POLLERR)))
			http__drain(h, c);
		if (c->fd >= 0 && c->state == METRICS_HTTP_SENDING &&
		    (ev & (POLLOUT | POLLHUP | POLLERR)))
			http__write(h, c);
	}
	for (int i = 0; i < METRICS_HTTP_CONNS; i++) {
		struct metrics_http_conn *c = &h->conns[i];

		if (c->fd >= 0 && now_ns >= c->deadline_ns) {
			if (c->state == METRICS_HTTP_READING)
				h->refused++; /* too slow to ask */
			http__drop(h, c);
		}
	}
	if (fds[0].revents & POLLIN)
		http__accept(h, now_ns);
}

int metrics_http_timeout_ms(const struct metrics_http *h, uint64_t now_ns)
{
	int best = -1;

	for (int i = 0; i < METRICS_HTTP_CONNS; i++) {
		const struct metrics_http_conn *c = &h->conns[i];
		int ms;

		if (c->fd < 0)
			continue;
		if (c->body && c->body->view)
			return 0;
		ms = c->deadline_ns <= now_ns ? 0 : (int)((c->deadline_ns - now_ns + 999999) / 1000000);
		if (best < 0 || ms < best)
			best = ms;
	}
	return best;
}

void metrics_http_close(struct metrics_http *h)
{
	for (int i = 0; i < METRICS_HTTP_CONNS; i++)
		if (h->conns[i].fd >= 0)
			http__drop(h, &h->conns[i]);
	http__unref(h->latest);
	h->latest = NULL;
	if (h->fd >= 0)
		close(h->fd);
	h->fd = -1;
}
