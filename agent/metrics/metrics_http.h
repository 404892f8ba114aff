/* SPDX-License-Identifier: MIT */
/*
 * GET /metrics over HTTP/1.1, inside the agent's event loop: no thread,
 * every socket non-blocking, and every resource bounded, so a slow or
 * hostile scraper costs a connection slot and a body, never the loop's
 * time (publishing goes on between any two of its bytes):
 *   - at most METRICS_HTTP_CONNS connections; one more is accepted and
 *     closed at once (the kernel's backlog does not fill);
 *   - a request head of at most METRICS_HTTP_REQ_MAX bytes (431 past it);
 *   - METRICS_HTTP_TIMEOUT_MS from accept to the last byte sent, then the
 *     connection is closed, done or not;
 *   - the body is a view of the store at the request's instant
 *     (metrics_view_take), written METRICS_HTTP_RENDER_STEP series at a
 *     time, one step per turn of the loop, and sent as it grows
 *     (chunked): a scrape of 10,000 series costs the loop many short
 *     steps, never one long render;
 *   - concurrent scrapes share one body (when one is still being sent and
 *     at most a second old; bounded by the series cap), freed once no
 *     connection sends it.
 * One request per connection ("Connection: close"): Prometheus opens a
 * connection per scrape when the server closes it. After the answer the
 * server shuts its side and reads until the client closes (at most
 * METRICS_HTTP_DRAIN_MAX bytes, within the deadline), as nginx's
 * lingering close: a close with unread input would send a reset, which
 * can destroy the answer before the client reads it (a 431 to a client
 * still sending, say).
 */
#ifndef LDMESH_AGENT_METRICS_HTTP_H
#define LDMESH_AGENT_METRICS_HTTP_H

#include <poll.h>
#include <sys/socket.h>
#include <stdint.h>

#include "metrics.h"

#define METRICS_HTTP_CONNS 4
#define METRICS_HTTP_REQ_MAX 4096      /* Prometheus sends about 300 bytes */
#define METRICS_HTTP_TIMEOUT_MS 10000  /* Prometheus' default scrape_timeout */
#define METRICS_HTTP_BODY_REUSE_MS 1000
#define METRICS_HTTP_DRAIN_MAX (64u << 10)
#define METRICS_HTTP_RENDER_STEP 64    /* series of a family: ~1 ms at most */
#define METRICS_HTTP_FDS (1 + METRICS_HTTP_CONNS)

/* The store as it is now, for a body (metrics_view_take); NULL when out
 * of memory. */
typedef struct metrics_view *(*metrics_http_view_fn)(void *ctx);

struct metrics_http_body;

struct metrics_http_conn {
	int fd;                  /* -1: free */
	uint64_t deadline_ns;    /* CLOCK_MONOTONIC */
	char req[METRICS_HTTP_REQ_MAX];
	size_t req_len;
	char head[256];          /* the status line and headers */
	size_t head_len, sent;   /* sent: of head then body */
	struct metrics_http_body *body; /* shared, or NULL (an error answer) */
	enum metrics_http_state {
		METRICS_HTTP_READING,  /* the request head */
		METRICS_HTTP_SENDING,  /* the answer */
		METRICS_HTTP_DRAINING, /* sent and shut for writing: what the
		                          client still sends is read and thrown
		                          away until it closes, so closing does
		                          not reset the connection under an
		                          answer it has not read yet */
	} state;
	size_t drained;
};

struct metrics_http {
	int fd; /* listening, or -1 */
	struct metrics_http_conn conns[METRICS_HTTP_CONNS];
	struct metrics_http_body *latest; /* the last body, for reuse */
	metrics_http_view_fn view;
	void *ctx;
	uint64_t scrapes;
	uint64_t refused;
	uint64_t calls; /* metrics_http_handle calls, to step a body once each */
};

/* Parse "ADDR:PORT" or "[ADDR6]:PORT" (numeric) into `ss`. 0 or -EINVAL. */
int metrics_http_parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len);

/* Listen on `addr` (as above; port 0 picks one: metrics_http_port).
 * 0, or -errno (said in `why`, which names the address and the call). */
int metrics_http_open(struct metrics_http *h, const char *addr, metrics_http_view_fn view,
		      void *ctx, char *why, size_t why_len);
int metrics_http_port(const struct metrics_http *h);

/* The descriptors to poll, into fds[0, METRICS_HTTP_FDS); returns how many
 * (0 when closed). */
unsigned metrics_http_pollfds(const struct metrics_http *h, struct pollfd *fds);
/* Act on what poll said of them (the same fds, the same count) at `now_ns`
 * (CLOCK_MONOTONIC): accept, read, answer, and close what is done or late. */
void metrics_http_handle(struct metrics_http *h, const struct pollfd *fds, unsigned n,
			 uint64_t now_ns);
/* Milliseconds until the next connection deadline, 0 while a body is
 * still being written (the loop comes back at once for its next step),
 * or -1 for none. */
int metrics_http_timeout_ms(const struct metrics_http *h, uint64_t now_ns);
void metrics_http_close(struct metrics_http *h);

#endif
