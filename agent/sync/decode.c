/* SPDX-License-Identifier: MIT */
#include "decode.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

int sync_decoder_init(struct sync_decoder *d, size_t max_bytes)
{
	memset(d, 0, sizeof(*d));
	d->tok = json_tokener_new_ex(SYNC_JSON_DEPTH);
	if (!d->tok)
		return -ENOMEM;
	/* Strict: RFC 8259 only; json-c otherwise accepts single quotes,
	 * comments and other forms a real server never sends.
	 * Trailing bytes are the next event, not an error: allow them. */
	json_tokener_set_flags(d->tok, JSON_TOKENER_STRICT |
				       JSON_TOKENER_ALLOW_TRAILING_CHARS);
	d->max_bytes = max_bytes;
	return 0;
}

void sync_decoder_reset(struct sync_decoder *d)
{
	if (d->tok)
		json_tokener_reset(d->tok);
	d->cur_bytes = 0;
	d->offset = 0;
	d->err[0] = '\0';
}

void sync_decoder_free(struct sync_decoder *d)
{
	if (d->tok)
		json_tokener_free(d->tok);
	d->tok = NULL;
}

bool sync_decoder_partial(const struct sync_decoder *d)
{
	return d->cur_bytes > 0;
}

/* The bytes at p, printable, for a message: garbage is logged as it was. */
static void decode__quote(char *out, size_t n, const char *p, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len && o + 5 < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (isprint(c) && c != '\\')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, n - o, "\\x%02x", c);
	}
	out[o] = '\0';
}

static int decode__bad(struct sync_decoder *d, const char *p, size_t len,
		       enum json_tokener_error jerr)
{
	char q[48];

	decode__quote(q, sizeof(q), p, len < 16 ? len : 16);
	snprintf(d->err, sizeof(d->err), "not JSON at byte %llu (%s): \"%s\"",
		 (unsigned long long)d->offset, json_tokener_error_desc(jerr), q);
	return -EBADMSG;
}

/* Feed one run that lies within the current value's byte budget. */
static int decode__step(struct sync_decoder *d, const char *p, size_t len,
			size_t *used, struct json_object **out)
{
	struct json_object *v;
	enum json_tokener_error jerr;

	v = json_tokener_parse_ex(d->tok, p, (int)len);
	jerr = json_tokener_get_error(d->tok);
	if (v) {
		*used = json_tokener_get_parse_end(d->tok);
		*out = v;
		return 0;
	}
	if (jerr != json_tokener_continue)
		return decode__bad(d, p, len, jerr);
	*used = len;
	*out = NULL;
	return 0;
}

int sync_decoder_feed(struct sync_decoder *d, const char *buf, size_t len,
		      sync_value_fn fn, void *ctx)
{
	size_t i = 0;

	while (i < len) {
		struct json_object *v = NULL;
		size_t room, run, used = 0;
		int ret;

		if (d->cur_bytes == 0) {
			/* Between values: the tokener would count this
			 * whitespace as the next value's, and an idle
			 * keep-alive newline is not the start of an event. */
			if (isspace((unsigned char)buf[i])) {
				i++;
				d->offset++;
				continue;
			}
		}
		room = d->max_bytes - d->cur_bytes;
		if (room == 0) {
			snprintf(d->err, sizeof(d->err),
				 "a value larger than %zu bytes at byte %llu",
				 d->max_bytes,
				 (unsigned long long)(d->offset - d->cur_bytes));
			return -EMSGSIZE;
		}
		run = len - i;
		if (run > room)
			run = room;
		/* json_tokener_parse_ex takes an int length. */
		if (run > (1u << 30))
			run = 1u << 30;
		ret = decode__step(d, buf + i, run, &used, &v);
		if (ret)
			return ret;
		i += used;
		d->offset += used;
		d->cur_bytes += used;
		if (!v)
			continue;
		d->cur_bytes = 0;
		json_tokener_reset(d->tok);
		ret = fn(ctx, v);
		json_object_put(v);
		if (ret)
			return ret;
	}
	return 0;
}

int sync_decoder_finish(struct sync_decoder *d)
{
	int ret = 0;

	if (d->cur_bytes) {
		snprintf(d->err, sizeof(d->err),
			 "stream ended inside a value, after %zu of its bytes",
			 d->cur_bytes);
		ret = -EPIPE;
	}
	json_tokener_reset(d->tok);
	d->cur_bytes = 0;
	return ret;
}
