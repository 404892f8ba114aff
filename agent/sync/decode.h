/* SPDX-License-Identifier: MIT */
/*
 * The watch-stream decoder: bytes in, JSON values out, nothing else (no I/O,
 * no curl), so it is unit-tested and fuzzed alone.
 *
 * The API server writes a watch as a stream of JSON objects, one event each
 * ({"type": ..., "object": ...}), in the transfer's chunks, which need not
 * line up with the events (client-go reads it with a streaming
 * json.Decoder; the server happens to end each event with "\n", we do not
 * rely on it). A list response is one JSON value: the same decoder reads it.
 *
 * Bounds: one value may hold at most `max_bytes` (SYNC_EVENT_MAX for a
 * watch event): etcd refuses objects above 1.5 MiB, so a larger event is not
 * an object the agent needs but a broken or hostile server, and the caller
 * drops the connection rather than buffer it.
 */
#ifndef LDMESH_SYNC_DECODE_H
#define LDMESH_SYNC_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;
struct json_tokener;

/* Largest watch event accepted: 16 MiB, ten times etcd's object limit. */
#define SYNC_EVENT_MAX (16u << 20)
/* Largest list page accepted: sync asks for SYNC_LIST_LIMIT items a page. */
#define SYNC_PAGE_MAX (64u << 20)
/* Deepest nesting: real objects are under 12 deep (json-c's default 32
 * would do; 64 leaves room, and bounds the tokener's stack). */
#define SYNC_JSON_DEPTH 64

/*
 * Called once per complete top-level value. `v` is borrowed: valid during
 * the call only (json_object_get it to keep it). A non-zero return stops
 * the feed and is returned by sync_decoder_feed.
 */
typedef int (*sync_value_fn)(void *ctx, struct json_object *v);

/* The longest run of characters a number may hold ([0-9+-.eE], also
 * counted inside strings): the bound of what the decoder holds back at a
 * chunk's end (decode.c, sync_decoder_feed). */
#define SYNC_DECODE_RUN_MAX 4096

struct sync_decoder {
	struct json_tokener *tok;
	size_t max_bytes;
	size_t cur_bytes;  /* bytes of the value being read; 0 between values */
	uint64_t offset;   /* bytes fed so far, for messages */
	char err[160];     /* why the last feed or finish failed */
	size_t run;        /* number characters in a row, up to here */
	size_t n_carry;    /* a run held back from the end of the last feed */
	char carry[SYNC_DECODE_RUN_MAX];
	char stitch[SYNC_DECODE_RUN_MAX + 1]; /* the carry and what ends it */
};

/* 0, or -ENOMEM. `max_bytes` bounds one value. */
int sync_decoder_init(struct sync_decoder *d, size_t max_bytes);
/* Forget any partial value: the next feed starts a new stream. */
void sync_decoder_reset(struct sync_decoder *d);
/* Frees; accepts a zeroed decoder. */
void sync_decoder_free(struct sync_decoder *d);

/*
 * Feed the next `len` bytes. Whitespace between values is skipped. Returns
 * 0; or -EBADMSG (not JSON, d->err says where and quotes it), -EMSGSIZE (a
 * value passed max_bytes, or a run of number characters passed
 * SYNC_DECODE_RUN_MAX), -ENOMEM, or the callback's non-zero return. How the
 * stream is cut into feeds never changes what comes out. After
 * an error the decoder must be reset before it is fed again.
 */
int sync_decoder_feed(struct sync_decoder *d, const char *buf, size_t len,
		      sync_value_fn fn, void *ctx);

/* True while a value has started and not ended. */
bool sync_decoder_partial(const struct sync_decoder *d);

/*
 * The stream ended. 0 if it ended between values; -EPIPE if it ended inside
 * one (a connection closed mid-event; d->err says after how many bytes), a
 * bare number at the very end included.
 * The partial value is discarded either way.
 */
int sync_decoder_finish(struct sync_decoder *d);

#endif
