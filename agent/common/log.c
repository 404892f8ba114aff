/* SPDX-License-Identifier: MIT */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *log__program = "ldmesh";
static bool log__verbose;
static enum log_format log__format = LOG_FORMAT_TEXT;

static const char *const log__levels[] = {
	[LOG_DEBUG] = "debug", [LOG_INFO] = "info", [LOG_WARN] = "warn", [LOG_ERROR] = "error",
};

void log_init(const char *program, bool verbose)
{
	log__program = program;
	log__verbose = verbose;
}

int log_set_format(const char *name)
{
	if (!strcmp(name, "text"))
		log__format = LOG_FORMAT_TEXT;
	else if (!strcmp(name, "json"))
		log__format = LOG_FORMAT_JSON;
	else
		return -EINVAL;
	return 0;
}

size_t log_format_time(char *buf, size_t cap, const struct timespec *t)
{
	struct tm tm;
	time_t sec = t->tv_sec;
	int n;

	if (!gmtime_r(&sec, &tm))
		memset(&tm, 0, sizeof(tm));
	n = snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
		     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		     (long)(t->tv_nsec / 1000000));
	return n < 0 ? 0 : (size_t)n >= cap ? cap - 1 : (size_t)n;
}

/* Length of the well-formed UTF-8 character at s (RFC 3629: no overlong
 * forms, no surrogates, nothing past U+10FFFF), or 0. */
static size_t log__utf8_len(const unsigned char *s, size_t len)
{
	uint32_t cp, min;
	size_t n;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2, cp = s[0] & 0x1f, min = 0x80;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3, cp = s[0] & 0x0f, min = 0x800;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4, cp = s[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static bool log__put(char *out, size_t *n, size_t cap, const char *s, size_t len)
{
	if (*n + len >= cap)
		return false;
	memcpy(out + *n, s, len);
	*n += len;
	out[*n] = 0;
	return true;
}

/* How one byte (or character) reads inside a JSON string. */
static size_t log__json_char(const unsigned char *s, size_t len, char esc[8], size_t *used)
{
	static const char hex[] = "0123456789abcdef";
	size_t u;

	*used = 1;
	switch (s[0]) {
	case '"': return (size_t)snprintf(esc, 8, "\\\"");
	case '\\': return (size_t)snprintf(esc, 8, "\\\\");
	case '\n': return (size_t)snprintf(esc, 8, "\\n");
	case '\r': return (size_t)snprintf(esc, 8, "\\r");
	case '\t': return (size_t)snprintf(esc, 8, "\\t");
	}
	if (s[0] < 0x20 || s[0] == 0x7f)
		return (size_t)snprintf(esc, 8, "\\u00%c%c", hex[s[0] >> 4], hex[s[0] & 15]);
	u = log__utf8_len(s, len);
	if (!u)
		return (size_t)snprintf(esc, 8, "\\ufffd"); /* a byte that is not text */
	*used = u;
	memcpy(esc, s, u);
	return u;
}

bool log_json_escape(char *out, size_t *n, size_t cap, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i < len;) {
		char esc[8];
		size_t used, k = log__json_char(p + i, len - i, esc, &used);

		if (!log__put(out, n, cap, esc, k))
			return false;
		i += used;
	}
	return true;
}

/* Text keeps one event to one line: a control character in a message (an
 * API server's error body) is shown escaped, never as a line break. */
static bool log__text_escape(char *out, size_t *n, size_t cap, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char esc[4] = { '\\', 'x', hex[*p >> 4], hex[*p & 15] };
		bool ok = *p < 0x20 && *p != '\t' ? log__put(out, n, cap, esc, sizeof(esc))
						   : log__put(out, n, cap, (const char *)p, 1);
		if (!ok)
			return false;
	}
	return true;
}

/* "path:line[:col]: rest": the path's length, the numbers and where the
 * rest starts; false when `msg` does not start so. The first ':' followed
 * by digits and then ": " ends the path. */
static bool log__position(const char *msg, size_t *path_len, unsigned long *line,
			  unsigned long *col, const char **rest)
{
	for (const char *c = strchr(msg, ':'); c; c = strchr(c + 1, ':')) {
		unsigned long num[2] = { 0, 0 };
		const char *p = c;
		int k = 0;

		while (k < 2 && *p == ':' && p[1] >= '0' && p[1] <= '9') {
			for (p++; *p >= '0' && *p <= '9'; p++)
				num[k] = num[k] * 10 + (unsigned long)(*p - '0');
			k++;
		}
		if (c == msg || !k || p[0] != ':' || p[1] != ' ')
			continue;
		*path_len = (size_t)(c - msg);
		*line = num[0];
		*col = k == 2 ? num[1] : 0;
		*rest = p + 2;
		return true;
	}
	return false;
}

/* Room kept at the end for what closes a cut line: "...\"}\n". */
#define LOG__TAIL 8

static size_t log__json(char *out, size_t cap, const char *time, enum log_level level,
			const char *program, const char *msg, bool position)
{
	const char *rest = msg;
	unsigned long line, col;
	size_t n = 0, path_len;
	char num[64];

	cap -= LOG__TAIL;
	log__put(out, &n, cap, "{\"time\":\"", 9);
	log__put(out, &n, cap, time, strlen(time));
	log__put(out, &n, cap, "\",\"level\":\"", 11);
	log__put(out, &n, cap, log__levels[level], strlen(log__levels[level]));
	log__put(out, &n, cap, "\",\"program\":\"", 13);
	log_json_escape(out, &n, cap, program, strlen(program));
	log__put(out, &n, cap, "\"", 1);
	if (position && log__position(msg, &path_len, &line, &col, &rest)) {
		size_t k = col ? (size_t)snprintf(num, sizeof(num), "\",\"line\":%lu,\"col\":%lu",
						  line, col)
			       : (size_t)snprintf(num, sizeof(num), "\",\"line\":%lu", line);
		log__put(out, &n, cap, ",\"file\":\"", 9);
		if (!log_json_escape(out, &n, cap - k, msg, path_len))
			rest = msg; /* a path too long for a line: all of it in msg */
		log__put(out, &n, cap, num, k);
	}
	log__put(out, &n, cap, ",\"msg\":\"", 8);
	cap += LOG__TAIL;
	if (!log_json_escape(out, &n, cap - LOG__TAIL, rest, strlen(rest)))
		log__put(out, &n, cap, "...", 3);
	log__put(out, &n, cap, "\"}\n", 3);
	return n;
}

size_t log_format_line(char *out, size_t cap, enum log_format f, const struct timespec *t,
		       enum log_level level, const char *program, const char *msg,
		       bool position)
{
	char time[40];
	size_t n = 0;

	if (cap < 128)
		return 0;
	log_format_time(time, sizeof(time), t);
	if (f == LOG_FORMAT_JSON)
		return log__json(out, cap, time, level, program, msg, position);
	log__put(out, &n, cap, time, strlen(time));
	log__put(out, &n, cap, " ", 1);
	log__put(out, &n, cap, log__levels[level], strlen(log__levels[level]));
	log__put(out, &n, cap, " ", 1);
	log__text_escape(out, &n, cap - LOG__TAIL, program);
	log__put(out, &n, cap, ": ", 2);
	if (!log__text_escape(out, &n, cap - LOG__TAIL, msg))
		log__put(out, &n, cap, "...", 3);
	log__put(out, &n, cap, "\n", 1);
	return n;
}

static void log__emit(enum log_level level, const char *msg, bool position)
{
	char out[LOG_LINE_MAX];
	struct timespec t;
	size_t n, done = 0;

	if (level == LOG_DEBUG && !log__verbose)
		return;
	clock_gettime(CLOCK_REALTIME, &t);
	n = log_format_line(out, sizeof(out), log__format, &t, level, log__program, msg,
			    position);
	/* One write of a whole line: lines stay whole in a shared log. */
	while (done < n) {
		ssize_t r = write(STDERR_FILENO, out + done, n - done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return;
		done += (size_t)r;
	}
}

static void log__vline(enum log_level level, const char *fmt, va_list ap)
{
	char msg[LOG_LINE_MAX];

	if (level == LOG_DEBUG && !log__verbose)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	log__emit(level, msg, false);
}

#define LOG_FN(fn, level)                       \
	void fn(const char *fmt, ...)           \
	{                                       \
		va_list ap;                     \
		va_start(ap, fmt);              \
		log__vline(level, fmt, ap);     \
		va_end(ap);                     \
	}
LOG_FN(log_info, LOG_INFO)
LOG_FN(log_warn, LOG_WARN)
LOG_FN(log_error, LOG_ERROR)
LOG_FN(log_debug, LOG_DEBUG)

/* Whether a diag line is a warning: the model reports its warnings
 * through `report` too, as "path:line:col: warning: ...". */
static bool log__is_warning(const char *line)
{
	const char *rest = line;
	unsigned long l, c;
	size_t n;

	log__position(line, &n, &l, &c, &rest);
	return !strncmp(rest, "warning: ", 9);
}

static void log__diag_error(void *ctx, const char *line)
{
	log__emit(log__is_warning(line) ? LOG_WARN : LOG_ERROR, line, true);
}

static void log__diag_warn(void *ctx, const char *line)
{
	log__emit(LOG_WARN, line, true);
}

static void log__diag_note(void *ctx, const char *line)
{
	log__emit(LOG_DEBUG, line, true);
}

void log_diag_init(struct diag *d)
{
	memset(d, 0, sizeof(*d));
	d->report = log__diag_error;
	d->note = log__diag_note;
	d->warn = log__diag_warn;
}
