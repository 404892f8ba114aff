/* SPDX-License-Identifier: MIT */
/*
 * ldmeshctl top: per Service, what processes on the node saw, refreshed.
 * The numbers come from the agent's /metrics (--metrics), the same text
 * Prometheus scrapes: one format, one set of names, nothing more for the
 * agent to write, and it works against any node's agent one can reach.
 * Ejected backends come from the table, as every process sees them.
 *
 * A frame is the difference between two scrapes; the first (and --once)
 * is everything since the agent started (process_start_time_seconds), so
 * a script sees totals, not a race with the clock.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "ldmesh/report.h"
#include "metrics_http.h"

#define TOP_BODY_MAX (256u << 20) /* past the agent's series cap at ~9 KB each */
#define TOP_TIMEOUT_S 5
#define TOP_SERVICES_MAX 4096     /* rows kept; the rest are counted */

struct top_svc {
	char key[400];    /* destination_service: the FQDN, or an address */
	char ns[64], name[64];
	double opened, failed, bytes;
	double bucket[LDMESH_LATENCY_BUCKETS]; /* cumulative, as exposed */
};

struct top_sample {
	struct top_svc *v;
	size_t n;
	size_t over;     /* services past TOP_SERVICES_MAX */
	double start_s;  /* the agent's start (Unix seconds), 0 if unknown */
	double at_s;     /* when scraped */
};

/* ---- fetching ------------------------------------------------------- */

/* "http://ADDR:PORT/PATH" into an address and a path. 0 or -EINVAL. */
static int top__url(const char *url, struct sockaddr_storage *ss, socklen_t *len,
		    char *path, size_t path_len)
{
	char hostport[128];
	const char *p, *slash;

	if (strncmp(url, "http://", 7))
		return -EINVAL;
	p = url + 7;
	slash = strchr(p, '/');
	if (!slash)
		slash = p + strlen(p);
	if ((size_t)(slash - p) >= sizeof(hostport))
		return -EINVAL;
	memcpy(hostport, p, (size_t)(slash - p));
	hostport[slash - p] = 0;
	snprintf(path, path_len, "%s", *slash ? slash : "/metrics");
	return metrics_http_parse_addr(hostport, ss, len);
}

/* A chunked body (RFC 9112 7.1, no extensions or trailers: what the agent
 * writes) decoded in place; its length, or -1 when it does not add up. */
static long top__unchunk(char *p, size_t len)
{
	char *in = p, *end = p + len, *out = p;

	while (in < end) {
		char *after;
		unsigned long n = strtoul(in, &after, 16);

		if (after == in || end - after < 2 || strncmp(after, "\r\n", 2))
			return -1;
		after += 2;
		if (!n)
			return out - p;
		if ((size_t)(end - after) < n + 2)
			return -1;
		memmove(out, after, n);
		out += n;
		in = after + n + 2;
	}
	return -1; /* no last chunk: cut short */
}

/* The body of GET url (200 only), NUL-terminated, caller-owned; NULL with
 * `why` set. Bounded in time and size. */
static char *top__fetch(const char *url, char *why, size_t why_len)
{
	struct timeval tv = { .tv_sec = TOP_TIMEOUT_S };
	struct sockaddr_storage ss;
	socklen_t len;
	char path[256], req[400];
	size_t got = 0, cap = 1 << 16;
	char *buf = NULL, *body;
	int fd = -1;

	if (top__url(url, &ss, &len, path, sizeof(path)) < 0) {
		snprintf(why, why_len, "%s: not http://ADDR:PORT[/PATH] (numeric address)", url);
		return NULL;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    connect(fd, (struct sockaddr *)&ss, len) < 0) {
		snprintf(why, why_len, "%s: %s (is the agent running with --metrics?)", url,
			 strerror(errno));
		goto fail;
	}
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: ldmesh\r\n"
			 "Connection: close\r\n\r\n", path);
	if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
		snprintf(why, why_len, "%s: sending: %s", url, strerror(errno));
		goto fail;
	}
	for (;;) {
		if (cap - got < 2) {
			char *more = cap < TOP_BODY_MAX ? realloc(buf, cap * 2) : NULL;

			if (!more) {
				snprintf(why, why_len, "%s: answer larger than %u bytes", url,
					 TOP_BODY_MAX);
				goto fail;
			}
			buf = more;
			cap *= 2;
		}
		if (!buf && !(buf = malloc(cap)))
			goto fail;
		ssize_t r = recv(fd, buf + got, cap - 1 - got, 0);
		if (r == 0)
			break;
		if (r < 0) {
			snprintf(why, why_len, "%s: reading: %s", url, strerror(errno));
			goto fail;
		}
		got += (size_t)r;
	}
	close(fd);
	buf[got] = 0;
	body = strstr(buf, "\r\n\r\n");
	if (strncmp(buf, "HTTP/1.1 200 ", 13) || !body) {
		snprintf(why, why_len, "%s: answered %.40s", url, strtok(buf, "\r\n"));
		free(buf);
		return NULL;
	}
	size_t head = (size_t)(body + 4 - buf);
	bool chunked = memmem(buf, head, "Transfer-Encoding: chunked\r\n", 28) != NULL;
	long blen = (long)(got - head);

	memmove(buf, body + 4, got - head + 1);
	if (chunked && (blen = top__unchunk(buf, got - head)) < 0) {
		snprintf(why, why_len, "%s: the answer is cut short", url);
		free(buf);
		return NULL;
	}
	buf[blen] = 0;
	return buf;
fail:
	if (fd >= 0)
		close(fd);
	free(buf);
	return NULL;
}

/* ---- reading the exposition ------------------------------------------ */

/* The value of label `name` in the label set at `p` (after '{'), into
 * out (unescaped, cut to cap - 1); false when absent. */
static bool top__label(const char *p, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name), i = 0;

	while (*p && *p != '}') {
		bool match = !strncmp(p, name, nl) && p[nl] == '=' && p[nl + 1] == '"';
		const char *v = strchr(p, '"');

		if (!v)
			return false;
		for (v++; *v && *v != '"'; v++) {
			char ch = *v;

			if (ch == '\\' && v[1])
				ch = *++v == 'n' ? '\n' : *v;
			if (match && i + 1 < cap)
				out[i++] = ch;
		}
		if (match) {
			out[i] = 0;
			return true;
		}
		p = *v ? v + 1 : v;
		if (*p == ',')
			p++;
	}
	return false;
}

static struct top_svc *top__svc(struct top_sample *s, const char *labels)
{
	char key[sizeof(s->v[0].key)];

	if (!top__label(labels, "destination_service", key, sizeof(key)))
		return NULL;
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i].key, key))
			return &s->v[i];
	if (s->n == TOP_SERVICES_MAX) {
		s->over++;
		return NULL;
	}
	struct top_svc *t = &s->v[s->n++];
	memset(t, 0, sizeof(*t));
	snprintf(t->key, sizeof(t->key), "%s", key);
	top__label(labels, "destination_service_namespace", t->ns, sizeof(t->ns));
	top__label(labels, "destination_service_name", t->name, sizeof(t->name));
	return t;
}

/* The bucket index of `le` (report.h's bounds, in seconds), or -1. */
static int top__bucket(const char *le)
{
	static const uint32_t bounds[LDMESH_LATENCY_BUCKETS - 1] = LDMESH_LATENCY_BOUNDS_US;
	double v;

	if (!strcmp(le, "+Inf"))
		return LDMESH_LATENCY_BUCKETS - 1;
	v = strtod(le, NULL);
	for (int i = 0; i < LDMESH_LATENCY_BUCKETS - 1; i++)
		if (fabs(v - bounds[i] / 1e6) <= bounds[i] / 1e12)
			return i;
	return -1;
}

/* One sample line: `name{labels} value`. */
static void top__line(struct top_sample *s, char *line)
{
	static const char *const fams[] = {
		"ldmesh_tcp_connections_opened_total", "ldmesh_tcp_connections_failed_total",
		"ldmesh_tcp_sent_bytes_total", "ldmesh_tcp_received_bytes_total",
		"ldmesh_tcp_connect_latency_seconds_bucket",
	};
	char *brace = strchr(line, '{'), *end, le[32];
	struct top_svc *t;
	double v;
	int f;

	if (!strncmp(line, "process_start_time_seconds ", 27)) {
		s->start_s = strtod(line + 27, NULL);
		return;
	}
	if (!brace || !(end = strstr(brace, "} ")))
		return;
	for (f = 0; f < 5; f++)
		if ((size_t)(brace - line) == strlen(fams[f]) && !strncmp(line, fams[f], strlen(fams[f])))
			break;
	if (f == 5 || !(t = top__svc(s, brace + 1)))
		return;
	v = strtod(end + 2, NULL);
	if (f == 0)
		t->opened += v;
	else if (f == 1)
		t->failed += v;
	else if (f < 4)
		t->bytes += v;
	else if (top__label(brace + 1, "le", le, sizeof(le)) && top__bucket(le) >= 0)
		t->bucket[top__bucket(le)] += v;
}

static int top__sample(const char *url, struct top_sample *s, char *why, size_t why_len)
{
	struct timespec now;
	char *body = top__fetch(url, why, why_len), *save = NULL;

	if (!body)
		return -1;
	clock_gettime(CLOCK_REALTIME, &now);
	s->at_s = (double)now.tv_sec + now.tv_nsec / 1e9;
	s->n = s->over = 0;
	s->start_s = 0;
	for (char *line = strtok_r(body, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (line[0] != '#')
			top__line(s, line);
	free(body);
	return 0;
}

/* ---- one frame ------------------------------------------------------- */

/* The q-quantile of bucket counts `c` (per bucket, not cumulative), as
 * Prometheus' histogram_quantile: linear within the bucket; the highest
 * finite bound when it falls in +Inf. In seconds; NAN when empty. */
static double top__quantile(const double *c, double q)
{
	static const uint32_t bounds[LDMESH_LATENCY_BUCKETS - 1] = LDMESH_LATENCY_BOUNDS_US;
	double total = 0, cum = 0, rank;

	for (int i = 0; i < LDMESH_LATENCY_BUCKETS; i++)
		total += c[i];
	if (total <= 0)
		return NAN;
	rank = q * total;
	for (int i = 0; i < LDMESH_LATENCY_BUCKETS - 1; i++) {
		double lo = i ? bounds[i - 1] / 1e6 : 0, hi = bounds[i] / 1e6;

		if (cum + c[i] >= rank && c[i] > 0)
			return lo + (hi - lo) * (rank - cum) / c[i];
		cum += c[i];
	}
	return bounds[LDMESH_LATENCY_BUCKETS - 2] / 1e6;
}

static const char *top__dur(double s, char *buf, size_t len)
{
	if (isnan(s))
		snprintf(buf, len, "-");
	else if (s < 1e-3)
		snprintf(buf, len, "%.0fus", s * 1e6);
	else if (s < 1)
		snprintf(buf, len, "%.1fms", s * 1e3);
	else
		snprintf(buf, len, "%.2fs", s);
	return buf;
}

static const char *top__bytes(double b, char *buf, size_t len)
{
	if (b < 1024)
		snprintf(buf, len, "%.0f", b);
	else if (b < 1024 * 1024)
		snprintf(buf, len, "%.1fKi", b / 1024);
	else
		snprintf(buf, len, "%.1fMi", b / (1024 * 1024));
	return buf;
}

/* "ejected/endpoints" of the Service named by FQDN `key` in the table,
 * or "-" when the table does not have it. */
static const char *top__ejected(const struct ldmesh_snap *snap, const char *key, char *buf,
				size_t len)
{
	struct ldmesh_name_slot slot;
	struct ldmesh_service svc;
	uint32_t ejected = 0;

	snprintf(buf, len, "-");
	if (!snap || !ldmesh_snap_find_name(snap, key, strlen(key), &slot))
		return buf;
	ctl_service(snap, slot.service, &svc);
	for (uint32_t i = 0; i < svc.endpoint_count; i++) {
		struct ldmesh_endpoint ep;

		ctl_endpoint(snap, svc.first_endpoint + i, &ep);
#ifdef LDMESH_EP_F_EJECTED /* the health branch's flag (snapshot.h, 3.5) */
		ejected += !!(ep.flags & LDMESH_EP_F_EJECTED);
#endif
	}
	snprintf(buf, len, "%u/%u", ejected, svc.endpoint_count);
	return buf;
}

static int top__cmp(const void *a, const void *b)
{
	return strcmp(((const struct top_svc *)a)->key, ((const struct top_svc *)b)->key);
}

/* The row of `t` over the window since `prev` (NULL: since the start). */
static void top__row(struct ctl_grid *g, const struct top_svc *t, const struct top_svc *prev,
		     double window_s, const struct ldmesh_snap *snap)
{
	double opened = t->opened - (prev ? prev->opened : 0);
	double failed = t->failed - (prev ? prev->failed : 0);
	double bytes = t->bytes - (prev ? prev->bytes : 0), c[LDMESH_LATENCY_BUCKETS];
	char rate[32], ratio[32], p50[32], p99[32], bps[32], ej[32], name[sizeof(t->key) + 8];

	for (int i = 0; i < LDMESH_LATENCY_BUCKETS; i++) {
		double cum = t->bucket[i] - (prev ? prev->bucket[i] : 0);
		double below = i ? t->bucket[i - 1] - (prev ? prev->bucket[i - 1] : 0) : 0;

		c[i] = cum - below;
	}
	if (t->name[0])
		snprintf(name, sizeof(name), "%s/%s", t->ns, t->name);
	else
		snprintf(name, sizeof(name), "%s", t->key);
	snprintf(rate, sizeof(rate), "%.2f", window_s > 0 ? opened / window_s : 0);
	if (opened + failed > 0)
		snprintf(ratio, sizeof(ratio), "%.2f%%", 100 * failed / (opened + failed));
	else
		snprintf(ratio, sizeof(ratio), "-");
	top__bytes(window_s > 0 ? bytes / window_s : 0, bps, sizeof(bps));
	const char *row[] = { name, rate, ratio, top__dur(top__quantile(c, 0.5), p50, sizeof(p50)),
			      top__dur(top__quantile(c, 0.99), p99, sizeof(p99)), bps,
			      t->name[0] ? top__ejected(snap, t->key, ej, sizeof(ej)) : "-" };
	ctl_grid_add(g, row);
}

static void top__frame(FILE *out, const struct top_sample *cur, const struct top_sample *prev,
		       const struct ldmesh_snap *snap)
{
	static const char *const head[] = { "SERVICE", "CONN/S", "FAIL", "P50", "P99", "BYTES/S",
					    "EJECTED" };
	struct ctl_grid g = { .cols = 7 };
	double window = prev ? cur->at_s - prev->at_s
			     : (cur->start_s > 0 ? cur->at_s - cur->start_s : 0);

	ctl_grid_add(&g, head);
	for (size_t i = 0; i < cur->n; i++) {
		const struct top_svc *p = NULL;

		for (size_t j = 0; prev && j < prev->n && !p; j++)
			if (!strcmp(prev->v[j].key, cur->v[i].key))
				p = &prev->v[j];
		/* a counter lower than before: the agent restarted (or the
		 * series expired); count from zero, as Prometheus does */
		if (p && cur->v[i].opened < p->opened)
			p = NULL;
		top__row(&g, &cur->v[i], p, window, snap);
	}
	fprintf(out, "%s over the last %.1f s; from %s\n",
		 prev ? "rates and ratios" : "since the agent started:", window,
		 "the agent's /metrics");
	ctl_grid_print(&g, out);
	if (cur->over)
		fprintf(out, "(%zu more services not shown)\n", cur->over);
	ctl_grid_free(&g);
}

int ctl_top(const struct ctl_top_opts *o, FILE *out)
{
	static struct ldmesh_table table;
	struct top_sample s[2] = { { 0 } };
	bool table_ok = ldmesh_table_init(&table, o->table, &ldmesh_reader_libc, NULL, NULL) == 0;
	char why[512];
	int cur = 0, rc = 0;

	s[0].v = calloc(TOP_SERVICES_MAX, sizeof(struct top_svc));
	s[1].v = calloc(TOP_SERVICES_MAX, sizeof(struct top_svc));
	if (!s[0].v || !s[1].v) {
		fprintf(stderr, "ldmeshctl: top: out of memory\n");
		rc = 1;
		goto out;
	}
	for (unsigned frame = 0;; frame++, cur ^= 1) {
		int slot = -1;
		const struct ldmesh_snap *snap;

		if (top__sample(o->url, &s[cur], why, sizeof(why)) < 0) {
			fprintf(stderr, "ldmeshctl: top: %s\n", why);
			rc = 1;
			break;
		}
		qsort(s[cur].v, s[cur].n, sizeof(s[cur].v[0]), top__cmp);
		snap = table_ok ? ldmesh_table_acquire(&table, &slot) : NULL;
		if (!o->once && isatty(fileno(out)))
			fputs("\033[H\033[2J", out);
		top__frame(out, &s[cur], frame ? &s[cur ^ 1] : NULL, snap);
		fflush(out);
		if (snap)
			ldmesh_table_release(&table, slot);
		if (o->once)
			break;
		struct timespec ts = { .tv_sec = (time_t)o->interval_s,
				       .tv_nsec = (long)((o->interval_s - (time_t)o->interval_s) * 1e9) };
		nanosleep(&ts, NULL);
	}
out:
	if (table_ok)
		ldmesh_table_close(&table);
	free(s[0].v);
	free(s[1].v);
	return rc;
}
