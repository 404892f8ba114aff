/* SPDX-License-Identifier: MIT */
#include "backoff.h"

double sync_backoff(unsigned failures, double r)
{
	double d = SYNC_BACKOFF_FIRST;

	for (unsigned i = 1; i < failures && d < SYNC_BACKOFF_MAX; i++)
		d *= 2;
	if (d > SYNC_BACKOFF_MAX)
		d = SYNC_BACKOFF_MAX;
	if (r < 0 || r >= 1)
		r = 0;
	return d / 2 + r * d / 2;
}
