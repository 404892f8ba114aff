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
	d->run = d->n_carry = 0;
}

void sync_decoder_free(struct sync_decoder *d)
{
	if (d->tok)
		json_tokener_free(d->tok);
	d->tok = NULL;
}

bool sync_decoder_partial(const struct sync_decoder *d)
{
	return d->cur_bytes > 0 || d->n_carry > 0;
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

static int decode__feed(struct sync_decoder *d, const char *buf, size_t len,
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

static bool decode__numchar(char c)
{
	return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

/* Count the runs of number characters in buf; false past the bound. */
static bool decode__runs(struct sync_decoder *d, const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		d->run = decode__numchar(buf[i]) ? d->run + 1 : 0;
		if (d->run > SYNC_DECODE_RUN_MAX) {
			snprintf(d->err, sizeof(d->err),
				 "more than %d number characters in a row at byte %llu",
				 SYNC_DECODE_RUN_MAX, (unsigned long long)(d->offset + d->n_carry + i));
			return false;
		}
	}
	return true;
}

/*
 * json-c 0.16 reads a number that a chunk boundary cuts, and garbage after
 * it, as if the garbage were not there: "91" then "-00}" is 91, while
 * "91-00}" in one piece is an error (fuzz_watch found it). So json-c never
 * sees a chunk end inside a run of number characters: such a run is held
 * back and fed together with the byte that ends it, and every number
 * reaches json-c whole, however the stream was cut.
 */
int sync_decoder_feed(struct sync_decoder *d, const char *buf, size_t len,
		      sync_value_fn fn, void *ctx)
{
	size_t tail = 0, head, k = 0;
	int ret;

	if (!decode__runs(d, buf, len))
		return -EMSGSIZE;
	while (tail < len && decode__numchar(buf[len - 1 - tail]))
		tail++;
	if (tail == len) { /* all of it continues the run held back */
		memcpy(d->carry + d->n_carry, buf, len); /* d->run bounds it */
		d->n_carry += len;
		return 0;
	}
	head = len - tail;
	if (d->n_carry) {
		while (decode__numchar(buf[k]))
			k++; /* < head: buf[head - 1] ends the run */
		memcpy(d->stitch, d->carry, d->n_carry);
		memcpy(d->stitch + d->n_carry, buf, k + 1);
		ret = decode__feed(d, d->stitch, d->n_carry + k + 1, fn, ctx);
		d->n_carry = 0;
		if (ret)
			return ret;
		buf += k + 1;
		head -= k + 1;
	}
	if (head && (ret = decode__feed(d, buf, head, fn, ctx)))
		return ret;
	memcpy(d->carry, buf + head, tail);
	d->n_carry = tail;
	return 0;
}

int sync_decoder_finish(struct sync_decoder *d)
{
	int ret = 0;

	if (d->cur_bytes || d->n_carry) {
		snprintf(d->err, sizeof(d->err),
			 "stream ended inside a value, after %zu of its bytes",
			 d->cur_bytes + d->n_carry);
		ret = -EPIPE;
	}
	json_tokener_reset(d->tok);
	d->cur_bytes = d->n_carry = d->run = 0;
	return ret;
}
