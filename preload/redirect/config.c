/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ldmesh/hash.h"
#include "real.h"

_Static_assert(LDMESH_PATH_MAX == 256, "config__path's message names the bound");
#define CONFIG__STR2(x) #x
#define CONFIG__STR(x) CONFIG__STR2(x)

static char config__lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static void config__copy(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src, n);
	dst[n] = 0;
}

static unsigned config__syncnt(uint64_t ms);

void config_defaults(struct preload_config *c)
{
	memset(c, 0, sizeof(*c));
	config__copy(c->table_dir, sizeof(c->table_dir), LDMESH_TABLE_DEFAULT);
	config__copy(c->ns, sizeof(c->ns), "default");
	c->ndots = 1; /* glibc's default */
	c->connect_attempts = 3;
	c->connect_syncnt = config__syncnt(CONFIG_CONNECT_TIMEOUT_DEFAULT * 1000);
	c->outlier = (struct outlier_config)OUTLIER_DEFAULTS;
}

/* `s` into dst, cut to fit (with "..." when cut), anything unprintable
 * as '?': a trace line stays one line. */
static void config__printable(char *dst, size_t cap, const char *s)
{
	size_t n = 0;

	for (; *s && n + 1 < cap; s++)
		dst[n++] = *s >= 0x20 && *s < 0x7f ? *s : '?';
	if (*s && cap > 4) {
		n = cap - 4;
		memcpy(dst + n, "...", 3);
		n += 3;
	}
	dst[n] = 0;
}

static void config__decimal(char *dst, size_t cap, uint64_t v)
{
	char tmp[21];
	size_t i = sizeof(tmp);

	tmp[--i] = 0;
	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	config__copy(dst, cap, tmp + i);
}

/* Keep `name`'s refused value for the trace; `instead` is what is used. */
static void config__bad(struct preload_config *c, const char *name, const char *value,
			const char *why, const char *instead)
{
	struct config_bad *b;

	if (c->n_bad == CONFIG_BAD_MAX)
		return;
	b = &c->bad[c->n_bad++];
	b->name = name;
	b->why = why;
	config__printable(b->value, sizeof(b->value), value);
	config__copy(b->instead, sizeof(b->instead), instead);
}

/* A whole number in [lo, hi] from the environment, else `def` (and the
 * value kept in c->bad, `why` saying what was expected). */
static uint64_t config__number(struct preload_config *c, const char *name, uint64_t lo,
			       uint64_t hi, uint64_t def, const char *why)
{
	const char *v = secure_getenv(name), *p;
	uint64_t n = 0;
	char instead[24];

	if (!v || !*v)
		return def;
	for (p = v; *p; p++) {
		if (*p < '0' || *p > '9' || n > hi)
			break;
		n = n * 10 + (uint64_t)(*p - '0');
	}
	if (!*p && n >= lo && n <= hi)
		return n;
	config__decimal(instead, sizeof(instead), def);
	config__bad(c, name, v, why, instead);
	return def;
}

/*
 * LDMESH_CONNECT_TIMEOUT, seconds (a fraction allowed) from 0 (off) to
 * CONFIG_CONNECT_TIMEOUT_MAX, as the TCP_SYNCNT that comes nearest without
 * going over: the kernel gives up a SYN after its initial RTO (1 s) doubled
 * per retry, at 3, 7, 15, 31, 63 or 127 s for 1 to 6 retries; below 3 s it
 * is 1 retry (3 s), the least the kernel allows.
 */
static unsigned config__syncnt(uint64_t ms)
{
	unsigned n = 1;

	if (!ms)
		return 0;
	while (n < 6 && ((2ULL << (n + 1)) - 1) * 1000 <= ms)
		n++;
	return n;
}

static void config__connect_timeout(struct preload_config *c)
{
	const char *v = secure_getenv("LDMESH_CONNECT_TIMEOUT"), *p;
	uint64_t ms = 0, scale = 1000;
	bool dot = false, digit = false;

	if (!v || !*v)
		return;
	for (p = v; *p; p++) {
		if (*p == '.' && !dot) {
			dot = true;
		} else if (*p >= '0' && *p <= '9' && ms <= CONFIG_CONNECT_TIMEOUT_MAX * 1000) {
			digit = true;
			if (!dot)
				ms = ms * 10 + (uint64_t)(*p - '0') * 1000;
			else if (scale /= 10)
				ms += (uint64_t)(*p - '0') * scale;
		} else {
			break;
		}
	}
	if (!*p && digit && ms <= CONFIG_CONNECT_TIMEOUT_MAX * 1000) {
		c->connect_syncnt = config__syncnt(ms);
		return;
	}
	config__bad(c, "LDMESH_CONNECT_TIMEOUT", v,
		    "not a number of seconds from 0 to " CONFIG__STR(CONFIG_CONNECT_TIMEOUT_MAX),
		    CONFIG__STR(CONFIG_CONNECT_TIMEOUT_DEFAULT));
}

/* A path from the environment into dst, if it fits; else it is kept in
 * c->bad, and `instead` is used. */
static void config__path(struct preload_config *c, const char *name, char *dst, size_t cap,
			 const char *instead)
{
	const char *v = secure_getenv(name);

	if (!v || !*v)
		return;
	if (strlen(v) < cap)
		config__copy(dst, cap, v);
	else
		config__bad(c, name, v, "too long (at most 255 bytes)", instead);
}

/*
 * Append one domain, lower-cased and without its trailing dot, as glibc
 * stores search domains. Past the bounds the rest are dropped, as kubelet
 * would have refused to write them into a pod's resolv.conf at all.
 */
static void config__add_search(struct preload_config *c, const char *d, size_t n)
{
	size_t used = 0;

	while (n && d[n - 1] == '.')
		n--;
	if (!n || n > LDMESH_STR_MAX || c->n_search >= CONFIG_SEARCH_MAX)
		return;
	if (c->n_search) {
		const char *last = config_search(c, c->n_search - 1);
		used = (size_t)(last - c->search_buf) + strlen(last) + 1;
	}
	if (used + n + 1 > sizeof(c->search_buf))
		return;
	for (size_t i = 0; i < n; i++)
		c->search_buf[used + i] = config__lower(d[i]);
	c->search_buf[used + n] = 0;
	c->search_off[c->n_search++] = (uint16_t)used;
}

void config_set_search(struct preload_config *c, const char *list, size_t len)
{
	size_t i = 0;

	c->n_search = 0;
	while (i < len) {
		size_t start;
		while (i < len && config_is_blank(list[i]))
			i++;
		start = i;
		while (i < len && !config_is_blank(list[i]))
			i++;
		if (i > start)
			config__add_search(c, list + start, i - start);
	}
}

void config_parse_options(struct preload_config *c, const char *opts, size_t len)
{
	static const char key[] = "ndots:";
	size_t i = 0;

	while (i < len) {
		size_t start;
		while (i < len && config_is_blank(opts[i]))
			i++;
		start = i;
		while (i < len && !config_is_blank(opts[i]))
			i++;
		if (i - start > sizeof(key) - 1 &&
		    !memcmp(opts + start, key, sizeof(key) - 1)) {
			unsigned v = 0;
			size_t j = start + sizeof(key) - 1;
			/* glibc: atoi, clamped to RES_MAXNDOTS */
			for (; j < i && opts[j] >= '0' && opts[j] <= '9'; j++) {
				v = v * 10 + (unsigned)(opts[j] - '0');
				if (v > CONFIG_NDOTS_MAX)
					v = CONFIG_NDOTS_MAX;
			}
			c->ndots = v;
		}
	}
}

static bool config__keyword(const char *line, size_t len, const char *kw,
			    size_t *arg)
{
	size_t n = strlen(kw);
	if (len <= n || memcmp(line, kw, n) || !config_is_blank(line[n]))
		return false;
	*arg = n;
	return true;
}

void config_parse_resolv(struct preload_config *c, const char *text, size_t len)
{
	size_t i = 0;

	while (i < len) {
		const char *line = text + i;
		size_t n = 0, arg;

		while (i + n < len && text[i + n] != '\n')
			n++;
		i += n + 1;
		if (!n || line[0] == '#' || line[0] == ';')
			continue;
		/* glibc takes a line's arguments up to a comment character */
		for (size_t k = 0; k < n; k++)
			if (line[k] == '#' || line[k] == ';') {
				n = k;
				break;
			}
		if (config__keyword(line, n, "search", &arg))
			config_set_search(c, line + arg, n - arg);
		else if (config__keyword(line, n, "domain", &arg)) {
			/* `domain` is a one-entry search list */
			config_set_search(c, line + arg, n - arg);
			if (c->n_search > 1)
				c->n_search = 1;
		}
		else if (config__keyword(line, n, "options", &arg))
			config_parse_options(c, line + arg, n - arg);
	}
}

/* Whole small files only; no stdio so init never allocates. */
static ssize_t config__read_file(const char *path, char *buf, size_t cap)
{
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return -1;
	while (got < cap) {
		ssize_t r = read(fd, buf + got, cap - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	real.close(fd);
	return (ssize_t)got;
}

static void config__namespace(struct preload_config *c)
{
	const char *env = secure_getenv("LDMESH_NAMESPACE");
	char buf[CONFIG_NS_MAX + 2];
	size_t n = 0;
	ssize_t got;

	if (env && *env && strlen(env) <= CONFIG_NS_MAX) {
		config__copy(c->ns, sizeof(c->ns), env);
		return;
	}
	got = config__read_file(CONFIG_NS_FILE, buf, sizeof(buf));
	if (got <= 0)
		return;
	while (n < (size_t)got && !config_is_blank(buf[n]))
		n++;
	/* a longer first word is not a namespace: keep "default" */
	if (n && n <= CONFIG_NS_MAX) {
		memcpy(c->ns, buf, n);
		c->ns[n] = 0;
	}
}

static void config__resolver(struct preload_config *c)
{
	static char text[CONFIG_RESOLV_MAX]; /* init runs once, under once */
	const char *path = secure_getenv("LDMESH_RESOLV_CONF");
	const char *env;
	ssize_t got;
	bool have_search;

	got = config__read_file(path && *path ? path : CONFIG_RESOLV_DEFAULT,
				text, sizeof(text));
	if (got > 0)
		config_parse_resolv(c, text, (size_t)got);
	have_search = c->n_search > 0;
	/* glibc: without search/domain, the hostname's domain part */
	if (!have_search) {
		const char *dot = strchr(c->hostname, '.');
		if (dot && dot[1])
			config_set_search(c, dot + 1, strlen(dot + 1));
	}
	env = secure_getenv("LOCALDOMAIN");
	if (env)
		config_set_search(c, env, strlen(env));
	env = secure_getenv("RES_OPTIONS");
	if (env)
		config_parse_options(c, env, strlen(env));
}

void config_load(struct preload_config *c)
{
	const char *v;
	char key[CONFIG_NS_MAX + CONFIG_HOST_MAX + 2];
	size_t nl, hl;

	real_init();
	config_defaults(c);

	v = secure_getenv("LDMESH_DISABLE");
	c->disabled = v && *v && strcmp(v, "0") != 0;
	v = secure_getenv("LDMESH_TRACE");
	if (v && !strcmp(v, "stack"))
		c->trace = CONFIG_TRACE_STACK;
	else if (v && *v && strcmp(v, "0") != 0)
		c->trace = CONFIG_TRACE_ON;
	config__path(c, "LDMESH_TRACE_FILE", c->trace_file, sizeof(c->trace_file), "stderr");
	config__path(c, "LDMESH_TABLE", c->table_dir, sizeof(c->table_dir), c->table_dir);

	c->connect_attempts = (unsigned)config__number(
		c, "LDMESH_CONNECT_ATTEMPTS", 1, CONFIG_ATTEMPTS_MAX, c->connect_attempts,
		"not a whole number from 1 to " CONFIG__STR(CONFIG_ATTEMPTS_MAX));
	config__connect_timeout(c);
	c->outlier.consecutive = (unsigned)config__number(
		c, "LDMESH_OUTLIER_FAILURES", 1, 1000, c->outlier.consecutive,
		"not a whole number from 1 to 1000");
	c->outlier.base_ns = config__number(c, "LDMESH_OUTLIER_BASE_MS", 0, 86400000,
					    c->outlier.base_ns / 1000000,
					    "not a whole number of ms from 0 to 86400000") * 1000000;
	c->outlier.max_ns = config__number(c, "LDMESH_OUTLIER_MAX_MS", 0, 86400000,
					   c->outlier.max_ns / 1000000,
					   "not a whole number of ms from 0 to 86400000") * 1000000;

	if (gethostname(c->hostname, sizeof(c->hostname)) < 0)
		c->hostname[0] = 0;
	c->hostname[sizeof(c->hostname) - 1] = 0;

	config__namespace(c);
	config__resolver(c);

	/*
	 * sessionAffinity: ClientIP keys on the client pod. Every process of
	 * one pod shares its name (the hostname) and namespace, so they all
	 * stick to the same backend, as kube-proxy would stick the pod's IP.
	 */
	nl = strlen(c->ns);
	hl = strlen(c->hostname);
	memcpy(key, c->ns, nl);
	key[nl] = '/';
	memcpy(key + nl + 1, c->hostname, hl);
	c->client_hash = ldmesh_hash64(key, nl + 1 + hl, 0x6c646d65736863ULL);
}
