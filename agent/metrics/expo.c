/* SPDX-License-Identifier: MIT */
/*
 * The Prometheus text exposition format 0.0.4: one "# HELP" and "# TYPE"
 * per family, then its samples, every sample of a family together.
 * https://prometheus.io/docs/instrumenting/exposition_formats/
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "series_priv.h"

void metrics_buf_printf(struct metrics_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->oom)
		return;
	for (int pass = 0; pass < 2; pass++) {
		size_t room = b->cap - b->len;

		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? room : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = true;
			return;
		}
		if (b->p && (size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap ? b->cap : 4096;
		while (cap - b->len <= (size_t)n)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
}

void metrics_buf_free(struct metrics_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* A label value: backslash, double quote and line feed escaped, as the
 * format asks (the store already made every byte printable ASCII). */
static void expo__value(struct metrics_buf *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			metrics_buf_printf(b, "\\%c", *v);
		else if (*v == '\n')
			metrics_buf_printf(b, "\\n");
		else
			metrics_buf_printf(b, "%c", *v);
	}
}

static const char *expo__addr(const uint8_t a[16], uint16_t port, char *buf, size_t len)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	char ip[INET6_ADDRSTRLEN];

	if (!memcmp(a, mapped, 12)) {
		inet_ntop(AF_INET, a + 12, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, port);
	} else {
		inet_ntop(AF_INET6, a, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%u", ip, port);
	}
	return buf;
}

static void expo__pair(struct metrics_buf *b, const char *name, const char *v, bool first)
{
	metrics_buf_printf(b, "%s%s=\"", first ? "" : ",", name);
	expo__value(b, v);
	metrics_buf_printf(b, "\"");
}

char *metrics_labels(const struct metrics_key *k)
{
	struct metrics_buf b = { 0 };
	char vip[64], backend[64];

	expo__pair(&b, "source_workload_namespace", k->src_ns, true);
	expo__pair(&b, "source_pod", k->src_pod, false);
	if (k->svc.name[0]) {
		expo__pair(&b, "destination_service", k->svc.fqdn, false);
		expo__pair(&b, "destination_service_namespace", k->svc.ns, false);
		expo__pair(&b, "destination_service_name", k->svc.name, false);
		expo__pair(&b, "destination_port", k->svc.port, false);
	} else {
		/* not a Service the table knows (gone, or never one): the
		 * address dialled, so the counts still show */
		expo__pair(&b, "destination_service", expo__addr(k->vip, k->vip_port, vip, sizeof(vip)),
			   false);
		expo__pair(&b, "destination_service_namespace", "", false);
		expo__pair(&b, "destination_service_name", "", false);
		snprintf(vip, sizeof(vip), "%u", k->vip_port);
		expo__pair(&b, "destination_port", vip, false);
	}
	expo__pair(&b, "destination_address",
		   expo__addr(k->backend, k->backend_port, backend, sizeof(backend)), false);
	if (b.oom) {
		metrics_buf_free(&b);
		return NULL;
	}
	return b.p;
}

static void expo__family(struct metrics_buf *b, const char *name, const char *type,
			 const char *help)
{
	metrics_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One family of the per-series metrics: its head, then `one` for each
 * series in turn (the view renders them a bounded number at a time). */
struct expo_family {
	const char *name, *type, *help;
	void (*one)(struct metrics_buf *b, const struct expo_family *f,
		    const struct metrics_series *s);
	size_t off; /* counters: the field */
};

static void expo__counter(struct metrics_buf *b, const struct expo_family *f,
			  const struct metrics_series *s)
{
	metrics_buf_printf(b, "%s{%s} %llu\n", f->name, s->labels,
			   (unsigned long long)*(const uint64_t *)((const char *)s + f->off));
}

static const char *const expo__reasons[LDMESH_FAIL_REASONS] = {
	[0] = "other",
	[LDMESH_FAIL_REFUSED] = "refused",
	[LDMESH_FAIL_TIMEOUT] = "timeout",
	[LDMESH_FAIL_UNREACHABLE] = "unreachable",
	[LDMESH_FAIL_RESET] = "reset",
};

/* Failures by reason: only reasons seen, so a healthy series costs no
 * line per reason. */
static void expo__failures(struct metrics_buf *b, const struct expo_family *f,
			   const struct metrics_series *s)
{
	for (int r = 0; r < LDMESH_FAIL_REASONS; r++)
		if (s->failed[r])
			metrics_buf_printf(b, "%s{%s,reason=\"%s\"} %llu\n", f->name, s->labels,
					   expo__reasons[r], (unsigned long long)s->failed[r]);
}

/* Connect latency: report.h's bounds in seconds, cumulative buckets. */
static void expo__latency(struct metrics_buf *b, const struct expo_family *f,
			  const struct metrics_series *s)
{
	static const uint32_t bounds[LDMESH_LATENCY_BUCKETS - 1] = LDMESH_LATENCY_BOUNDS_US;
	uint64_t cum = 0;

	for (int i = 0; i < LDMESH_LATENCY_BUCKETS; i++) {
		cum += s->latency[i];
		if (i < LDMESH_LATENCY_BUCKETS - 1)
			metrics_buf_printf(b, "%s_bucket{%s,le=\"%g\"} %llu\n", f->name, s->labels,
					   bounds[i] / 1e6, (unsigned long long)cum);
		else
			metrics_buf_printf(b, "%s_bucket{%s,le=\"+Inf\"} %llu\n", f->name, s->labels,
					   (unsigned long long)cum);
	}
	metrics_buf_printf(b, "%s_sum{%s} %.6f\n%s_count{%s} %llu\n", f->name, s->labels,
			   s->latency_us_sum / 1e6, f->name, s->labels, (unsigned long long)cum);
}

/* Smoothed RTT at close: a summary without quantiles (sum and count), so
 * rate(sum) / rate(count) is the mean. */
static void expo__rtt(struct metrics_buf *b, const struct expo_family *f,
		      const struct metrics_series *s)
{
	metrics_buf_printf(b, "%s_sum{%s} %.6f\n%s_count{%s} %llu\n", f->name, s->labels,
			   s->rtt_us_sum / 1e6, f->name, s->labels, (unsigned long long)s->rtt_count);
}

#define SERIES_OFF(f) offsetof(struct metrics_series, f)

static const struct expo_family expo__families[] = {
	{ "ldmesh_tcp_connections_opened_total", "counter",
	  "Connects to the backend that succeeded.", expo__counter, SERIES_OFF(opened) },
	{ "ldmesh_tcp_connections_closed_total", "counter",
	  "Connections to the backend closed.", expo__counter, SERIES_OFF(closed) },
	{ "ldmesh_tcp_connections_failed_total", "counter",
	  "Connects to the backend that failed, by reason.", expo__failures, 0 },
	{ "ldmesh_tcp_sent_bytes_total", "counter",
	  "Bytes sent and acknowledged (TCP_INFO at close).", expo__counter,
	  SERIES_OFF(bytes_sent) },
	{ "ldmesh_tcp_received_bytes_total", "counter",
	  "Bytes received (TCP_INFO at close).", expo__counter, SERIES_OFF(bytes_received) },
	{ "ldmesh_tcp_connect_latency_seconds", "histogram",
	  "Time a successful connect took, in seconds.", expo__latency, 0 },
	{ "ldmesh_tcp_rtt_seconds", "summary",
	  "Smoothed RTT (TCP_INFO) of connections at close.", expo__rtt, 0 },
	{ "ldmesh_tcp_failovers_total", "counter",
	  "Connect attempts moved off the backend to another.", expo__counter,
	  SERIES_OFF(failovers) },
	{ "ldmesh_tcp_ejections_total", "counter",
	  "Times a process passed the backend over as ejected.", expo__counter,
	  SERIES_OFF(ejections) },
};
#define EXPO_FAMILIES (sizeof(expo__families) / sizeof(expo__families[0]))

_Static_assert(METRICS_IDLE_S == 600, "the HELP text of series_expired says 600 s");

static void expo__one(struct metrics_buf *b, const char *name, const char *type,
		      const char *help, unsigned long long v)
{
	expo__family(b, name, type, help);
	metrics_buf_printf(b, "%s %llu\n", name, v);
}

static void expo__self(struct metrics_buf *b, const struct metrics *m,
		       const struct metrics_agent_info *ai)
{
	const char *d = "ldmesh_agent_reports_dropped_total";

	expo__one(b, "ldmesh_agent_reports_received_total", "counter",
		  "Datagrams read from the report socket (failures and counters).",
		  ai->inbox_received);
	expo__family(b, d, "counter", "Datagrams the report socket dropped, by reason.");
	metrics_buf_printf(b, "%s{reason=\"invalid\"} %llu\n%s{reason=\"rate_limited\"} %llu\n"
			   "%s{reason=\"unhandled\"} %llu\n", d,
			   (unsigned long long)ai->inbox_invalid, d,
			   (unsigned long long)ai->inbox_rate_limited, d,
			   (unsigned long long)ai->inbox_unhandled);
	expo__one(b, "ldmesh_metrics_reports_received_total", "counter",
		  "Counters datagrams added up.", m->datagrams);
	expo__one(b, "ldmesh_metrics_reports_dropped_total", "counter",
		  "Counters datagrams not added up: malformed.", m->dropped[METRICS_DROP_MALFORMED]);
	expo__one(b, "ldmesh_metrics_series", "gauge", "Series held now.", m->n_series);
	expo__one(b, "ldmesh_metrics_series_max", "gauge", "The series cap (--metrics-max-series).",
		  m->max_series);
	expo__one(b, "ldmesh_metrics_series_dropped_total", "counter",
		  "Entries not counted: their series would pass the cap, or no memory.",
		  m->dropped[METRICS_DROP_SERIES_CAP] + m->dropped[METRICS_DROP_NOMEM]);
	expo__one(b, "ldmesh_metrics_series_expired_total", "counter",
		  "Series removed after " "600" " s without a datagram.", m->expired);
	expo__one(b, "ldmesh_metrics_scrapes_total", "counter", "Requests for /metrics answered.",
		  ai->scrapes);
	expo__one(b, "ldmesh_metrics_http_refused_total", "counter",
		  "HTTP requests refused: malformed, too large, too slow, too many at once.",
		  ai->http_refused);
	expo__one(b, "ldmesh_agent_publishes_total", "counter", "Tables published.", ai->publishes);
	expo__one(b, "ldmesh_agent_generation", "gauge", "The table generation in force.",
		  ai->generation);
	expo__family(b, "process_start_time_seconds", "gauge",
		     "Start time of the agent since the Unix epoch, in seconds.");
	metrics_buf_printf(b, "process_start_time_seconds %.3f\n", ai->start_time_s);
}

/* A copy of the store at one instant: the counters of every series (with
 * its labels) and the self-metrics, rendered a bounded number of series
 * at a time while the store goes on counting and expiring. */
struct metrics_view {
	struct metrics self;          /* the store's counts; its pointers unused */
	struct metrics_agent_info ai;
	struct metrics_series *v;     /* copies; each labels owned */
	size_t n;
	size_t family, next;          /* where rendering stands */
	bool headed;                  /* the family's HELP and TYPE written */
};

struct metrics_view *metrics_view_take(const struct metrics *m,
				       const struct metrics_agent_info *ai)
{
	struct metrics_view *w = calloc(1, sizeof(*w));
	size_t i = 0;

	if (!w || !(w->v = calloc(m->n_series ? m->n_series : 1, sizeof(*w->v)))) {
		free(w);
		return NULL;
	}
	w->self = *m;
	w->ai = *ai;
	for (const struct metrics_series *s = m->all; s; s = s->next_all, i++) {
		w->v[i] = *s;
		w->v[i].labels = strdup(s->labels);
		if (!w->v[i].labels) {
			w->n = i;
			metrics_view_free(w);
			return NULL;
		}
	}
	w->n = i;
	return w;
}

void metrics_view_free(struct metrics_view *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->n; i++)
		free(w->v[i].labels);
	free(w->v);
	free(w);
}

bool metrics_view_render(struct metrics_view *w, struct metrics_buf *b, size_t budget)
{
	while (w->family < EXPO_FAMILIES) {
		const struct expo_family *f = &expo__families[w->family];

		if (!w->headed)
			expo__family(b, f->name, f->type, f->help);
		w->headed = true;
		for (; w->next < w->n; w->next++) {
			if (!budget--)
				return false;
			f->one(b, f, &w->v[w->next]);
		}
		w->family++;
		w->next = 0;
		w->headed = false;
	}
	if (w->family == EXPO_FAMILIES) {
		expo__self(b, &w->self, &w->ai);
		w->family++;
	}
	return true;
}

void metrics_render(const struct metrics *m, const struct metrics_agent_info *ai,
		    struct metrics_buf *b)
{
	struct metrics_view *w = metrics_view_take(m, ai);

	if (!w) {
		b->oom = true;
		return;
	}
	(void)metrics_view_render(w, b, SIZE_MAX);
	metrics_view_free(w);
}
