/* SPDX-License-Identifier: MIT */
#include "marker.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "folder.h"

int sync_marker_write(const char *dir, time_t now)
{
	char text[40];
	struct tm tm;
	size_t n;

	if (!gmtime_r(&now, &tm))
		return -EINVAL;
	n = strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ\n", &tm);
	if (!n)
		return -EINVAL;
	/* The same atomic write as an object: a reader sees an old time or
	 * a new one, never an empty file. */
	return sync_folder_put(dir, ".", SYNC_MARKER_NAME, text, n);
}

int sync_marker_remove(const char *dir)
{
	return sync_folder_remove(dir, ".", SYNC_MARKER_NAME);
}
