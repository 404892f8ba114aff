/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: ldmesh-sync's watch-stream decoder and event reader
 * (agent/sync/decode.c, event.c, object.c, folder.c's name check) on
 * arbitrary bytes. The first byte sets the chunk size (1-256) the stream is
 * cut into, as a server's transfer chunks fall anywhere. Checks, beyond "no
 * crash, leak or overread":
 *  - chunking never changes the outcome: the same values and the same
 *    error as when the whole stream is fed at once;
 *  - no value is ever held past the decoder's bound;
 *  - a name that passes the check makes a file name that stays in its
 *    folder and is not hidden;
 *  - a rendered object has no managedFields left in its metadata.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <json-c/json.h>

#include "decode.h"
#include "event.h"
#include "folder.h"
#include "object.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Small, so inputs of a few KiB reach the bound. */
#define FZ_MAX 4096

struct fz {
	unsigned values;
	size_t digest; /* sum of rendered lengths: equal for equal values */
};

static void fz__check_name(const struct sync_event *ev)
{
	char file[300];

	if (sync_folder_file_name(ev->ns, ev->name, file, sizeof(file)))
		return;
	if (file[0] == '.' || strchr(file, '/'))
		__builtin_trap();
}

static int fz__value(void *ctx, struct json_object *v)
{
	struct fz *f = ctx;
	struct sync_event ev;
	struct json_object *meta, *mf;
	char err[160];
	size_t len = 0;

	f->values++;
	if (sync_event_read(v, &ev, err, sizeof(err))) {
		if (!err[0])
			__builtin_trap(); /* every refusal says why */
		return 0;
	}
	if (!ev.name)
		return 0;
	fz__check_name(&ev);
	if (!sync_object_render(ev.object, "v1", "Service", &len))
		return -ENOMEM;
	if (json_object_object_get_ex(ev.object, "metadata", &meta) &&
	    json_object_object_get_ex(meta, "managedFields", &mf))
		__builtin_trap();
	f->digest += len;
	return 0;
}

static int fz__run(const uint8_t *p, size_t n, size_t chunk, struct fz *f)
{
	struct sync_decoder d;
	int ret;

	if (sync_decoder_init(&d, FZ_MAX))
		return -ENOMEM;
	ret = 0;
	for (size_t i = 0; i < n && !ret; i += chunk) {
		ret = sync_decoder_feed(&d, (const char *)p + i,
					n - i < chunk ? n - i : chunk, fz__value, f);
		if (d.cur_bytes > FZ_MAX)
			__builtin_trap();
	}
	if (!ret)
		ret = sync_decoder_finish(&d);
	if (ret && ret != -ENOMEM && !d.err[0])
		__builtin_trap(); /* every error says why */
	sync_decoder_free(&d);
	return ret;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz whole = { 0 }, cut = { 0 };
	int r1, r2;

	if (size < 1)
		return 0;
	r1 = fz__run(data + 1, size - 1, size, &whole);
	r2 = fz__run(data + 1, size - 1, (size_t)data[0] + 1, &cut);
	if (r1 == -ENOMEM || r2 == -ENOMEM)
		return 0;
	if (r1 != r2 || whole.values != cut.values || whole.digest != cut.digest)
		__builtin_trap();
	return 0;
}
