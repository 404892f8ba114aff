/* cmocka tests for the agent's metrics (agent/metrics/): counters
 * datagrams built here as a process builds them (ldmesh/report.h) end up
 * as exactly their sums in the exposition, per source, Service and
 * backend; a VIP no Service has is labelled by its address; malformed
 * datagrams and series past the cap are dropped and counted; idle series
 * expire; and the /metrics server answers GET /metrics, refuses what is
 * malformed, too large, too slow or too many, and answers again after. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "metrics_http.h"
#include "ldmesh/report.h"
#include "ldmesh/snapshot.h"
#include "metrics.h"
#include "testutil.h"

static void v4(uint8_t out[16], const char *ip)
{
	memset(out, 0, 16);
	out[10] = out[11] = 0xff;
	assert_int_equal(inet_pton(AF_INET, ip, out + 12), 1);
}

/* The table's part, faked: 10.96.0.10:80/tcp is default/backend "http". */
static bool fake_resolve(void *ctx, const uint8_t vip[16], uint16_t port, uint8_t protocol,
			 struct metrics_service *out)
{
	uint8_t known[16];

	(void)ctx;
	v4(known, "10.96.0.10");
	if (memcmp(vip, known, 16) || port != 80 || protocol != LDMESH_PROTO_TCP)
		return false;
	snprintf(out->ns, sizeof(out->ns), "default");
	snprintf(out->name, sizeof(out->name), "backend");
	snprintf(out->port, sizeof(out->port), "http");
	snprintf(out->fqdn, sizeof(out->fqdn), "backend.default.svc.cluster.local");
	return true;
}

/* A datagram under construction. */
struct dgram {
	unsigned char b[LDMESH_REPORT_MAX];
	size_t len;
	uint32_t n;
};

static void dgram_start(struct dgram *d, const char *ns, const char *pod)
{
	struct ldmesh_report_hdr h = { .magic = LDMESH_REPORT_MAGIC,
				       .version = LDMESH_REPORT_VERSION,
				       .type = LDMESH_REPORT_COUNTS,
				       .entry_size = sizeof(struct ldmesh_report_count) };
	struct ldmesh_report_source src;

	memset(d, 0, sizeof(*d));
	memset(&src, 0, sizeof(src));
	memcpy(src.ns, ns, strnlen(ns, sizeof(src.ns))); /* NUL-padded, maybe full */
	memcpy(src.pod, pod, strnlen(pod, sizeof(src.pod)));
	memcpy(d->b, &h, sizeof(h));
	memcpy(d->b + sizeof(h), &src, sizeof(src));
	d->len = sizeof(h) + sizeof(src);
}

static void dgram_add(struct dgram *d, const struct ldmesh_report_count *c)
{
	struct ldmesh_report_hdr h;

	memcpy(d->b + d->len, c, sizeof(*c));
	d->len += sizeof(*c);
	memcpy(&h, d->b, sizeof(h));
	h.count = ++d->n;
	memcpy(d->b, &h, sizeof(h));
}

static struct ldmesh_report_count entry(const char *vip, uint16_t vport, const char *be,
					uint16_t bport)
{
	struct ldmesh_report_count c;

	memset(&c, 0, sizeof(c));
	v4(c.vip, vip);
	v4(c.backend, be);
	c.vip_port = vport;
	c.backend_port = bport;
	c.protocol = LDMESH_PROTO_TCP;
	return c;
}

/* One datagram with one entry from ns/pod at now_s: what ingest says. */
static int ingest_one(struct metrics *m, const struct ldmesh_report_count *c, const char *pod,
		      uint64_t now_s)
{
	static struct dgram d;

	dgram_start(&d, "shop", pod);
	dgram_add(&d, c);
	return metrics_ingest(m, d.b, d.len, now_s, fake_resolve, NULL);
}

static char *render(const struct metrics *m)
{
	struct metrics_agent_info ai = { .generation = 7, .publishes = 3, .start_time_s = 1e9 };
	struct metrics_buf b = { 0 };

	metrics_render(m, &ai, &b);
	assert_false(b.oom);
	return b.p;
}

/* The value of the one sample line that starts with `prefix` (its name and
 * labels up to the value); fails when there is none or more than one. */
static double sample(const char *text, const char *prefix)
{
	const char *p = text, *hit = NULL;
	size_t len = strlen(prefix);

	while ((p = strstr(p, prefix))) {
		if (p == text || p[-1] == '\n') {
			if (hit)
				fail_msg("two samples start with %s", prefix);
			hit = p;
		}
		p += len;
	}
	if (!hit)
		fail_msg("no sample starts with %s in:\n%s", prefix, text);
	return strtod(hit + len, NULL);
}

#define BE_LABELS                                                                          \
	"source_workload_namespace=\"shop\",source_pod=\"frontend-1\","                    \
	"destination_service=\"backend.default.svc.cluster.local\","                      \
	"destination_service_namespace=\"default\",destination_service_name=\"backend\"," \
	"destination_port=\"http\",destination_address=\"10.244.1.5:8080\""

static void test_known_counts_are_the_sums(void **state)
{
	struct metrics m;
	struct dgram d;
	char *text;

	(void)state;
	assert_int_equal(metrics_init(&m, 100), 0);
	/* two datagrams from one pod, each with increments for backend .1.5
	 * and .2.5 of the same Service */
	for (int round = 0; round < 2; round++) {
		struct ldmesh_report_count a = entry("10.96.0.10", 80, "10.244.1.5", 8080);
		struct ldmesh_report_count b = entry("10.96.0.10", 80, "10.244.2.5", 8080);

		a.opened = 5 + round;  /* 5 + 6 = 11 */
		a.closed = 4;          /* 8 */
		a.failed[LDMESH_FAIL_REFUSED] = 2;  /* 4 */
		a.failed[LDMESH_FAIL_TIMEOUT] = 1;  /* 2 */
		a.failed[0] = round;                /* 1: "other" */
		a.failovers = 3;                    /* 6 */
		a.ejections = 1;                    /* 2 */
		a.latency[0] = 2;                   /* <= 50 us: 4 */
		a.latency[4] = 3;                   /* <= 1 ms: 6 */
		a.latency[15] = 1 - round;          /* +Inf: 1 */
		a.latency_us_sum = 500000;          /* 1.0 s in all */
		a.bytes_sent = 1000000;             /* 2,000,000 */
		a.bytes_received = 123;             /* 246 */
		a.rtt_us_sum = 250;                 /* 500 us */
		a.rtt_count = 4;                    /* 8 */
		b.opened = 1;
		dgram_start(&d, "shop", "frontend-1");
		dgram_add(&d, &a);
		dgram_add(&d, &b);
		assert_int_equal(metrics_ingest(&m, d.b, d.len, 100, fake_resolve, NULL), 2);
	}
	assert_int_equal(m.n_series, 2);
	text = render(&m);
	assert_int_equal(sample(text, "ldmesh_tcp_connections_opened_total{" BE_LABELS "} "), 11);
	assert_int_equal(sample(text, "ldmesh_tcp_connections_closed_total{" BE_LABELS "} "), 8);
	assert_int_equal(sample(text, "ldmesh_tcp_connections_failed_total{" BE_LABELS
				",reason=\"refused\"} "), 4);
	assert_int_equal(sample(text, "ldmesh_tcp_connections_failed_total{" BE_LABELS
				",reason=\"timeout\"} "), 2);
	assert_int_equal(sample(text, "ldmesh_tcp_connections_failed_total{" BE_LABELS
				",reason=\"other\"} "), 1);
	assert_null(strstr(text, "reason=\"reset\"")); /* none seen: no line */
	assert_int_equal(sample(text, "ldmesh_tcp_sent_bytes_total{" BE_LABELS "} "), 2000000);
	assert_int_equal(sample(text, "ldmesh_tcp_received_bytes_total{" BE_LABELS "} "), 246);
	assert_int_equal(sample(text, "ldmesh_tcp_failovers_total{" BE_LABELS "} "), 6);
	assert_int_equal(sample(text, "ldmesh_tcp_ejections_total{" BE_LABELS "} "), 2);
	/* cumulative buckets, in seconds */
	assert_int_equal(sample(text, "ldmesh_tcp_connect_latency_seconds_bucket{" BE_LABELS
				",le=\"5e-05\"} "), 4);
	assert_int_equal(sample(text, "ldmesh_tcp_connect_latency_seconds_bucket{" BE_LABELS
				",le=\"0.0005\"} "), 4);
	assert_int_equal(sample(text, "ldmesh_tcp_connect_latency_seconds_bucket{" BE_LABELS
				",le=\"0.001\"} "), 10);
	assert_int_equal(sample(text, "ldmesh_tcp_connect_latency_seconds_bucket{" BE_LABELS
				",le=\"2.5\"} "), 10);
	assert_int_equal(sample(text, "ldmesh_tcp_connect_latency_seconds_bucket{" BE_LABELS
				",le=\"+Inf\"} "), 11);
	assert_int_equal(sample(text, "ldmesh_tcp_connect_latency_seconds_count{" BE_LABELS "} "),
			 11);
	assert_true(sample(text, "ldmesh_tcp_connect_latency_seconds_sum{" BE_LABELS "} ") == 1.0);
	assert_true(sample(text, "ldmesh_tcp_rtt_seconds_sum{" BE_LABELS "} ") == 0.0005);
	assert_int_equal(sample(text, "ldmesh_tcp_rtt_seconds_count{" BE_LABELS "} "), 8);
	/* the other backend is its own series */
	assert_int_equal(sample(text, "ldmesh_tcp_connections_opened_total{"
				"source_workload_namespace=\"shop\",source_pod=\"frontend-1\","
				"destination_service=\"backend.default.svc.cluster.local\","
				"destination_service_namespace=\"default\","
				"destination_service_name=\"backend\",destination_port=\"http\","
				"destination_address=\"10.244.2.5:8080\"} "), 2);
	/* self */
	assert_int_equal(sample(text, "ldmesh_metrics_reports_received_total "), 2);
	assert_int_equal(sample(text, "ldmesh_metrics_series "), 2);
	assert_int_equal(sample(text, "ldmesh_agent_generation "), 7);
	assert_int_equal(sample(text, "ldmesh_agent_publishes_total "), 3);
	/* one HELP and TYPE per family */
	assert_non_null(strstr(text, "# TYPE ldmesh_tcp_connect_latency_seconds histogram\n"));
	free(text);
	metrics_fini(&m);
}

static void test_unknown_vip_by_address(void **state)
{
	struct ldmesh_report_count c = entry("10.96.9.9", 443, "10.244.3.3", 8443);
	struct metrics m;
	char *text;

	(void)state;
	c.opened = 1;
	assert_int_equal(metrics_init(&m, 10), 0);
	assert_int_equal(ingest_one(&m, &c, "frontend-1", 1), 1);
	text = render(&m);
	assert_int_equal(sample(text, "ldmesh_tcp_connections_opened_total{"
				"source_workload_namespace=\"shop\",source_pod=\"frontend-1\","
				"destination_service=\"10.96.9.9:443\","
				"destination_service_namespace=\"\",destination_service_name=\"\","
				"destination_port=\"443\",destination_address=\"10.244.3.3:8443\"} "),
			 1);
	free(text);
	metrics_fini(&m);
}

/* A sender's labels cannot break the format: quotes escaped, control
 * bytes and non-ASCII replaced, an unterminated field cut. */
static void test_hostile_labels(void **state)
{
	struct ldmesh_report_count c = entry("10.96.0.10", 80, "10.244.1.5", 8080);
	struct metrics m;
	struct dgram d;
	char pod[64], *text;

	(void)state;
	memset(pod, 'p', sizeof(pod)); /* no NUL at all */
	memcpy(pod, "a\"b\\c\nd\xff", 8);
	c.opened = 1;
	assert_int_equal(metrics_init(&m, 10), 0);
	dgram_start(&d, "shop", "");
	memcpy(d.b + sizeof(struct ldmesh_report_hdr) + 64, pod, 64);
	dgram_add(&d, &c);
	assert_int_equal(metrics_ingest(&m, d.b, d.len, 1, fake_resolve, NULL), 1);
	text = render(&m);
	assert_non_null(strstr(text, "source_pod=\"a\\\"b\\\\c_d_ppppppppppppppppppppppppppppppppppppppppppppppppppppppp\","));
	free(text);
	metrics_fini(&m);
}

static void test_malformed_dropped(void **state)
{
	struct ldmesh_report_count c = entry("10.96.0.10", 80, "10.244.1.5", 8080);
	struct ldmesh_report_hdr h;
	struct metrics m;
	struct dgram d;
	char *text;

	(void)state;
	c.opened = 1;
	assert_int_equal(metrics_init(&m, 10), 0);
	dgram_start(&d, "shop", "p");
	dgram_add(&d, &c);
	/* cut short, one byte long, wrong magic, wrong type, a count that
	 * overflows, an entry smaller than we know */
	assert_int_equal(metrics_ingest(&m, d.b, d.len - 1, 1, fake_resolve, NULL), -EINVAL);
	assert_int_equal(metrics_ingest(&m, d.b, 1, 1, fake_resolve, NULL), -EINVAL);
	memcpy(&h, d.b, sizeof(h));
	h.magic ^= 1;
	memcpy(d.b, &h, sizeof(h));
	assert_int_equal(metrics_ingest(&m, d.b, d.len, 1, fake_resolve, NULL), -EINVAL);
	h.magic ^= 1;
	h.type = LDMESH_REPORT_FAILURES;
	memcpy(d.b, &h, sizeof(h));
	assert_int_equal(metrics_ingest(&m, d.b, d.len, 1, fake_resolve, NULL), -EINVAL);
	h.type = LDMESH_REPORT_COUNTS;
	h.count = 0x80000001U; /* * 184 wraps in 32 bits */
	memcpy(d.b, &h, sizeof(h));
	assert_int_equal(metrics_ingest(&m, d.b, d.len, 1, fake_resolve, NULL), -EINVAL);
	h.count = 1;
	h.entry_size = 100;
	memcpy(d.b, &h, sizeof(h));
	assert_int_equal(metrics_ingest(&m, d.b, d.len, 1, fake_resolve, NULL), -EINVAL);
	assert_int_equal(m.n_series, 0);
	text = render(&m);
	assert_int_equal(sample(text, "ldmesh_metrics_reports_dropped_total "),
			 6);
	assert_int_equal(sample(text, "ldmesh_metrics_reports_received_total "), 0);
	free(text);
	/* a newer sender's longer entry: the prefix we know counts */
	{
		unsigned char big[sizeof(d.b)];
		size_t off = sizeof(struct ldmesh_report_hdr) + sizeof(struct ldmesh_report_source);

		memset(big, 0xee, sizeof(big));
		memcpy(big, d.b, off);
		memcpy(big + off, &c, sizeof(c));
		h.entry_size = sizeof(c) + 16;
		memcpy(big, &h, sizeof(h));
		assert_int_equal(metrics_ingest(&m, big, off + sizeof(c) + 16, 1, fake_resolve, NULL),
				 1);
		assert_int_equal(m.n_series, 1);
	}
	metrics_fini(&m);
}

static void test_series_cap(void **state)
{
	struct metrics m;
	struct dgram d;
	char *text, be[32];

	(void)state;
	assert_int_equal(metrics_init(&m, 3), 0);
	dgram_start(&d, "shop", "frontend-1");
	for (int i = 0; i < 5; i++) {
		struct ldmesh_report_count c;

		snprintf(be, sizeof(be), "10.244.0.%d", i + 1);
		c = entry("10.96.0.10", 80, be, 8080);
		c.opened = 1;
		dgram_add(&d, &c);
	}
	assert_int_equal(metrics_ingest(&m, d.b, d.len, 1, fake_resolve, NULL), 3);
	/* the same again: the three held still count, the two others drop */
	assert_int_equal(metrics_ingest(&m, d.b, d.len, 1, fake_resolve, NULL), 3);
	assert_int_equal(m.n_series, 3);
	text = render(&m);
	assert_int_equal(sample(text, "ldmesh_metrics_series "), 3);
	assert_int_equal(sample(text, "ldmesh_metrics_series_max "), 3);
	assert_int_equal(sample(text, "ldmesh_metrics_series_dropped_total "), 4);
	free(text);
	assert_int_equal(metrics_init(&(struct metrics){ 0 }, 0), -EINVAL);
	metrics_fini(&m);
}

static void test_idle_series_expire(void **state)
{
	struct ldmesh_report_count a = entry("10.96.0.10", 80, "10.244.1.5", 8080);
	struct ldmesh_report_count b = entry("10.96.0.10", 80, "10.244.2.5", 8080);
	struct metrics m;
	char *text;

	(void)state;
	a.opened = b.opened = 1;
	assert_int_equal(metrics_init(&m, 10), 0);
	assert_int_equal(ingest_one(&m, &a, "p", 100), 1);
	assert_int_equal(ingest_one(&m, &b, "p", 500), 1);
	assert_int_equal(metrics_expire(&m, 699, METRICS_IDLE_S), 0);
	assert_int_equal(metrics_expire(&m, 700, METRICS_IDLE_S), 1);
	assert_int_equal(m.n_series, 1);
	text = render(&m);
	assert_null(strstr(text, "10.244.1.5"));
	assert_non_null(strstr(text, "10.244.2.5"));
	assert_int_equal(sample(text, "ldmesh_metrics_series_expired_total "), 1);
	free(text);
	metrics_fini(&m);
}

/* ---- the server ---------------------------------------------------- */

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* A store of `n` series (one pod, n backends of web) for the server. */
static void fill(struct metrics *m, int n)
{
	struct dgram d;
	char be[32];

	assert_int_equal(metrics_init(m, 1000), 0);
	for (int i = 0; i < n; i++) {
		struct ldmesh_report_count c;

		if (i % 100 == 0) /* 100 entries a datagram, within its 64 KiB */
			dgram_start(&d, "shop", "frontend-1");
		snprintf(be, sizeof(be), "10.244.%d.%d", i / 200, i % 200 + 1);
		c = entry("10.96.0.10", 80, be, 8080);
		c.opened = (uint32_t)i + 1;
		dgram_add(&d, &c);
		if (i % 100 == 99 || i == n - 1)
			assert_int_equal(metrics_ingest(m, d.b, d.len, 1, fake_resolve, NULL),
					 (int)d.n);
	}
	assert_int_equal(m->n_series, n);
}

static struct metrics_view *view_fn(void *ctx)
{
	struct metrics_agent_info ai = { .generation = 7 };

	return metrics_view_take(ctx, &ai);
}

/* The body of a chunked answer `in`, decoded into `out`; false when the
 * chunks do not add up or the last one is missing. */
static bool unchunk(const char *in, char *out, size_t cap)
{
	const char *p = strstr(in, "\r\n\r\n");
	size_t len = 0;

	if (!p)
		return false;
	for (p += 4;;) {
		char *end;
		unsigned long n = strtoul(p, &end, 16);

		if (end == p || strncmp(end, "\r\n", 2) || len + n >= cap)
			return false;
		if (!n)
			break;
		memcpy(out + len, end + 2, n);
		len += n;
		p = end + 2 + n;
		if (strncmp(p, "\r\n", 2))
			return false;
		p += 2;
	}
	out[len] = 0;
	return true;
}

static int dial(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_true(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 || errno == EINPROGRESS);
	return fd;
}

/* Run the server until client `fd` has read the whole answer (the server
 * closes it) into `out`; bounded by the tests' wait. */
static void exchange(struct metrics_http *h, int fd, const char *req, size_t req_len,
		     char *out, size_t cap)
{
	uint64_t end = mono_ns() + (uint64_t)tu_wait_ms() * 1000000ULL;
	size_t sent = 0, got = 0;

	while (mono_ns() < end) {
		struct pollfd fds[METRICS_HTTP_FDS];
		unsigned n = metrics_http_pollfds(h, fds);
		ssize_t r;

		if (sent < req_len) {
			r = send(fd, req + sent, req_len - sent, MSG_NOSIGNAL);
			if (r > 0)
				sent += (size_t)r;
		}
		(void)poll(fds, n, 20);
		metrics_http_handle(h, fds, n, mono_ns());
		r = recv(fd, out + got, cap - 1 - got, MSG_DONTWAIT);
		if (r > 0)
			got += (size_t)r;
		else if (r == 0 || (r < 0 && errno != EAGAIN))
			break;
	}
	out[got] = 0;
	close(fd);
}

static void test_http_get_and_refusals(void **state)
{
	struct metrics_http h;
	static char out[4 << 20], body[4 << 20];
	char why[256], big[METRICS_HTTP_REQ_MAX + 100];
	struct metrics m;
	int port;
	const char *get = "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: text/plain\r\n\r\n";

	(void)state;
	/* many more series than a step: the body comes in many chunks */
	fill(&m, 3 * METRICS_HTTP_RENDER_STEP + 3);
	assert_int_equal(metrics_http_open(&h, "127.0.0.1:0", view_fn, &m, why, sizeof(why)), 0);
	port = metrics_http_port(&h);
	assert_true(port > 0);

	exchange(&h, dial(port), get, strlen(get), out, sizeof(out));
	assert_non_null(strstr(out, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(out, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
	assert_non_null(strstr(out, "Transfer-Encoding: chunked\r\n"));
	assert_true(unchunk(out, body, sizeof(body)));
	{
		struct metrics_buf whole = { 0 };
		struct metrics_agent_info ai = { .generation = 7 };

		/* what the steps wrote is the text written at once */
		metrics_render(&m, &ai, &whole);
		assert_string_equal(body, whole.p);
		metrics_buf_free(&whole);
	}

	/* too large: 431, and the server answers the next one */
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET /metrics HTTP/1.1\r\nX: ", 26);
	exchange(&h, dial(port), big, sizeof(big), out, sizeof(out));
	assert_non_null(strstr(out, "HTTP/1.1 431 "));
	exchange(&h, dial(port), "\x16\x03\x01garbage\r\n\r\n", 14, out, sizeof(out));
	assert_non_null(strstr(out, "HTTP/1.1 400 "));
	exchange(&h, dial(port), "POST /metrics HTTP/1.1\r\n\r\n", 26, out, sizeof(out));
	assert_non_null(strstr(out, "HTTP/1.1 405 "));
	exchange(&h, dial(port), "GET /metricsX HTTP/1.1\r\n\r\n", 26, out, sizeof(out));
	assert_non_null(strstr(out, "HTTP/1.1 404 "));
	exchange(&h, dial(port), "GET /metrics?x=1 HTTP/1.0\r\n\r\n", 29, out, sizeof(out));
	assert_non_null(strstr(out, "HTTP/1.1 200 OK\r\n"));
	assert_int_equal(h.refused, 4);
	assert_int_equal(h.scrapes, 2);
	metrics_http_close(&h);
	metrics_fini(&m);
}

/* Connections that say nothing fill the slots; one more is closed at
 * once; past the deadline the silent ones are closed and the slots serve
 * again. Time is handed to the server, so no test waits ten seconds. */
static void test_http_busy_and_slow(void **state)
{
	struct metrics_http h;
	char why[256], out[4096];
	struct metrics m;
	int port, idle[METRICS_HTTP_CONNS], extra;
	const char *get = "GET /metrics HTTP/1.1\r\n\r\n";
	uint64_t end = mono_ns() + (uint64_t)tu_wait_ms() * 1000000ULL;
	unsigned held = 0;

	(void)state;
	fill(&m, 1);
	assert_int_equal(metrics_http_open(&h, "127.0.0.1:0", view_fn, &m, why, sizeof(why)), 0);
	port = metrics_http_port(&h);
	for (int i = 0; i < METRICS_HTTP_CONNS; i++)
		idle[i] = dial(port);
	while (held < METRICS_HTTP_CONNS && mono_ns() < end) {
		struct pollfd fds[METRICS_HTTP_FDS];
		unsigned n = metrics_http_pollfds(&h, fds);

		(void)poll(fds, n, 20);
		metrics_http_handle(&h, fds, n, mono_ns());
		held = 0;
		for (int i = 0; i < METRICS_HTTP_CONNS; i++)
			held += h.conns[i].fd >= 0;
	}
	assert_int_equal(held, METRICS_HTTP_CONNS);
	extra = dial(port);
	exchange(&h, extra, get, strlen(get), out, sizeof(out));
	assert_string_equal(out, ""); /* closed without an answer */
	assert_int_equal(h.refused, 1);

	/* past the deadline: every silent one closed, counted */
	{
		struct pollfd fds[METRICS_HTTP_FDS];
		unsigned n = metrics_http_pollfds(&h, fds);

		assert_true(metrics_http_timeout_ms(&h, mono_ns()) <= METRICS_HTTP_TIMEOUT_MS);
		for (unsigned i = 0; i < n; i++)
			fds[i].revents = 0;
		metrics_http_handle(&h, fds, n,
				    mono_ns() + (METRICS_HTTP_TIMEOUT_MS + 1) * 1000000ULL);
	}
	for (int i = 0; i < METRICS_HTTP_CONNS; i++) {
		assert_int_equal(h.conns[i].fd, -1);
		close(idle[i]);
	}
	assert_int_equal(h.refused, 1 + METRICS_HTTP_CONNS);
	assert_int_equal(metrics_http_timeout_ms(&h, mono_ns()), -1);
	exchange(&h, dial(port), get, strlen(get), out, sizeof(out));
	assert_non_null(strstr(out, "HTTP/1.1 200 OK\r\n"));
	metrics_http_close(&h);
	metrics_fini(&m);
}

static void test_http_addr(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len;

	(void)state;
	assert_int_equal(metrics_http_parse_addr("127.0.0.1:9153", &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(metrics_http_parse_addr("[::1]:9153", &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(metrics_http_parse_addr("localhost:9153", &ss, &len), -EINVAL);
	assert_int_equal(metrics_http_parse_addr("127.0.0.1", &ss, &len), -EINVAL);
	assert_int_equal(metrics_http_parse_addr("127.0.0.1:65536", &ss, &len), -EINVAL);
	assert_int_equal(metrics_http_parse_addr("127.0.0.1:-1", &ss, &len), -EINVAL);
	assert_int_equal(metrics_http_parse_addr("::1:80", &ss, &len), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_counts_are_the_sums),
		cmocka_unit_test(test_unknown_vip_by_address),
		cmocka_unit_test(test_hostile_labels),
		cmocka_unit_test(test_malformed_dropped),
		cmocka_unit_test(test_series_cap),
		cmocka_unit_test(test_idle_series_expire),
		cmocka_unit_test(test_http_get_and_refusals),
		cmocka_unit_test(test_http_busy_and_slow),
		cmocka_unit_test(test_http_addr),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
