/* SPDX-License-Identifier: MIT */
/*
 * The agent's golden metrics: the counters datagrams processes send
 * (ldmesh/report.h, LDMESH_REPORT_COUNTS) added up per series, one series
 * per (source namespace and pod, Service and port, backend), and written
 * out in the Prometheus text format 0.0.4 (expo.c). The names and labels,
 * and what they are in Istio and Linkerd, are in ldmesh-agent(8).
 *
 * Memory is bounded: at most `max_series` series (a datagram's entry for a
 * new series past the cap is dropped and counted), each series a fixed
 * size; a series no datagram touched for METRICS_IDLE_S is removed
 * (metrics_expire), so the series of Services and pods that are gone do
 * not stay forever. Not thread-safe: the agent's loop owns it.
 */
#ifndef LDMESH_AGENT_METRICS_H
#define LDMESH_AGENT_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ldmesh/report.h"

#define METRICS_MAX_SERIES_DEFAULT 10000
#define METRICS_MAX_SERIES_LIMIT 1000000
/* A series untouched this long is removed: a process sends at most once a
 * second while it has news, so ten minutes of silence is a pod or a
 * Service gone, or one idle long enough that Prometheus' counter reset
 * handling covers its return. */
#define METRICS_IDLE_S 600

/* What a Service VIP:port is, as the resolver (the table) says. */
struct metrics_service {
	char ns[64];
	char name[64];
	char port[64];   /* the port's name, or its number when unnamed */
	char fqdn[400];  /* name.ns.svc.<cluster domain> (Istio's
	                    destination_service) */
};

/* Fill *out for (vip, port, protocol); false when the address is no
 * Service's (the series is then labelled by the address). */
typedef bool (*metrics_resolve_fn)(void *ctx, const uint8_t vip[16], uint16_t port,
				   uint8_t protocol, struct metrics_service *out);

/* Why a datagram or an entry was not counted (self-metrics). */
enum metrics_drop {
	METRICS_DROP_MALFORMED,  /* header, sizes or type wrong */
	METRICS_DROP_SERIES_CAP, /* an entry for a new series past the cap */
	METRICS_DROP_NOMEM,
	METRICS_DROPS,
};

struct metrics_series;

struct metrics {
	size_t max_series;
	size_t n_series;
	struct metrics_series **buckets; /* chained; n_buckets a power of two */
	size_t n_buckets;
	struct metrics_series *all;      /* every series, newest first */
	uint64_t datagrams;              /* counted */
	uint64_t entries;
	uint64_t dropped[METRICS_DROPS]; /* datagrams (malformed), entries
	                                    (the others) */
	uint64_t expired;                /* series removed as idle */
};

/* 0, or -EINVAL (max_series 0 or past METRICS_MAX_SERIES_LIMIT) or -ENOMEM. */
int metrics_init(struct metrics *m, size_t max_series);
void metrics_fini(struct metrics *m);

/*
 * Add one counters datagram of `len` bytes (header, source, entries) at
 * `now_s` (a monotonic second, for expiry). Returns the entries counted,
 * or -EINVAL for a datagram that is not a well-formed COUNTS datagram
 * (counted as dropped, nothing added). Entries for a series past the cap
 * are dropped one by one and counted.
 */
int metrics_ingest(struct metrics *m, const void *buf, size_t len, uint64_t now_s,
		   metrics_resolve_fn resolve, void *ctx);

/* The same for a datagram already checked (the agent's inbox checks
 * header and sizes): `count` entries of `entry_size` bytes (at least
 * sizeof(struct ldmesh_report_count)) at `entries`. */
void metrics_ingest_entries(struct metrics *m, const struct ldmesh_report_source *src,
			    const unsigned char *entries, uint32_t count, uint32_t entry_size,
			    uint64_t now_s, metrics_resolve_fn resolve, void *ctx);

/* Remove the series no datagram touched since now_s - idle_s; returns how
 * many. */
size_t metrics_expire(struct metrics *m, uint64_t now_s, uint64_t idle_s);

/* A growing text buffer; `oom` once an append failed (the text is then
 * cut, and the caller answers 500). */
struct metrics_buf {
	char *p;
	size_t len, cap;
	bool oom;
};
void metrics_buf_printf(struct metrics_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void metrics_buf_free(struct metrics_buf *b);

/* What the agent says of itself beside the series. */
struct metrics_agent_info {
	uint64_t generation;       /* the table's, as published */
	uint64_t publishes;        /* successful publishes since start */
	double start_time_s;       /* process_start_time_seconds (Unix) */
	uint64_t scrapes;          /* /metrics answered */
	uint64_t http_refused;     /* requests refused (bad, too big, busy,
	                              too slow) */
	/* the report socket's own counts (every type; inbox.h) */
	uint64_t inbox_received, inbox_invalid, inbox_rate_limited, inbox_unhandled;
};

/* The whole exposition, appended to `b` (b->oom when out of memory). Its
 * size is bounded by the series cap (about 10 kB a series with its 16
 * histogram buckets). */
void metrics_render(const struct metrics *m, const struct metrics_agent_info *ai,
		    struct metrics_buf *b);

/*
 * The same in steps, so a large store does not hold the agent's loop: a
 * view copies the store at one instant (every series' counters and
 * labels, about 1.3 kB each: a memcpy, not the text), and each
 * metrics_view_render appends the text of at most `budget` series of one
 * family after another; true once the whole text is written. The store
 * may count, add and expire series meanwhile: the text is the instant's.
 * NULL when out of memory; metrics_view_free accepts NULL.
 */
struct metrics_view;
struct metrics_view *metrics_view_take(const struct metrics *m,
				       const struct metrics_agent_info *ai);
bool metrics_view_render(struct metrics_view *w, struct metrics_buf *b, size_t budget);
void metrics_view_free(struct metrics_view *w);

#endif
