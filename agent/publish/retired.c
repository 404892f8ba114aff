/* SPDX-License-Identifier: MIT */
#include "retired.h"

#include <string.h>
#include <unistd.h>

static void retired__drop_oldest(struct retired *r)
{
	close(r->files[0].fd);
	r->bytes -= r->files[0].bytes;
	r->n--;
	memmove(&r->files[0], &r->files[1], r->n * sizeof(r->files[0]));
}

void retired_hold(struct retired *r, int fd, uint64_t bytes, uint64_t budget,
		  uint64_t now_ns)
{
	if (bytes > budget) {
		close(fd);
		return;
	}
	while (r->n && (r->n == RETIRED_MAX || r->bytes + bytes > budget))
		retired__drop_oldest(r);
	r->files[r->n++] = (struct retired_file){
		.fd = fd, .bytes = bytes, .until_ns = now_ns + RETIRED_HOLD_NS
	};
	r->bytes += bytes;
}

int retired_release(struct retired *r, uint64_t now_ns)
{
	/* held in order of retirement, so the due ones are a prefix */
	while (r->n && r->files[0].until_ns <= now_ns)
		retired__drop_oldest(r);
	if (!r->n)
		return -1;
	return (int)((r->files[0].until_ns - now_ns + 999999) / 1000000);
}

void retired_close_all(struct retired *r)
{
	while (r->n)
		retired__drop_oldest(r);
}
