/* SPDX-License-Identifier: MIT */
#include "complete.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ldmesh/marker.h"

bool complete_judge(const struct complete_facts *f, char *why, size_t n)
{
	int64_t age_s = (f->now_ns - f->marker_mtime_ns) / 1000000000LL;

	why[0] = 0;
	if (f->truncated)
		snprintf(why, n, "%.400s holds more than %zu manifest files (--max-files): the "
			 "files past them are not read", f->folder, f->max_files);
	else if (!f->require_sync)
		return true;
	else if (f->marker_err == -ENOENT)
		snprintf(why, n, "%.400s/" LDMESH_MARKER_NAME ": no such file (not synced yet, or "
			 "the API server lost)", f->folder);
	else if (f->marker_err)
		snprintf(why, n, "%.400s/" LDMESH_MARKER_NAME ": %s", f->folder,
			 strerror(-f->marker_err));
	else if (!f->marker_regular)
		snprintf(why, n, "%.400s/" LDMESH_MARKER_NAME ": not a regular file", f->folder);
	else if (age_s > LDMESH_MARKER_FRESH_S)
		snprintf(why, n, "%.400s/" LDMESH_MARKER_NAME ": last written %lld s ago (fresh: "
			 "within %d s)", f->folder, (long long)age_s, LDMESH_MARKER_FRESH_S);
	else if (!f->was_complete && f->seen_ns < f->marker_mtime_ns + COMPLETE_CLOCK_SLACK_NS)
		snprintf(why, n, "%.400s/" LDMESH_MARKER_NAME ": written after the agent last read "
			 "the folder (what it covers is still being read)", f->folder);
	return !why[0];
}
