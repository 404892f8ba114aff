/* SPDX-License-Identifier: MIT */
/* The control loop's rules (settle.h): pure, the time passed in. */
#include "settle.h"

#define SETTLE_NS_PER_MS 1000000ULL

/* Milliseconds from `now` until `when` (> now), rounded up so that a
 * poll() that waits them finds the time come. */
static int settle__ms_until(uint64_t now, uint64_t when)
{
	if (when <= now)
		return 0;
	return (int)((when - now) / SETTLE_NS_PER_MS) + 1;
}

static void settle__min(int *timeout, int ms)
{
	if (*timeout < 0 || ms < *timeout)
		*timeout = ms;
}

void settle_init(struct settle *s)
{
	*s = (struct settle){ .rescan = true, .dirty = true, .poll_ms = SETTLE_POLL_MIN_MS,
			      .wait_ms = -1 };
}

/* Whether the burst is over: quiet long enough, or open too long. */
static bool settle__quiet(const struct settle *s, uint64_t now)
{
	return !s->last_ns || now - s->last_ns >= SETTLE_QUIET_MS * SETTLE_NS_PER_MS ||
	       now - s->first_ns >= SETTLE_MAX_DELAY_MS * SETTLE_NS_PER_MS;
}

enum settle_step settle_step(struct settle *s, uint64_t now, bool pending)
{
	s->wait_ms = -1;
	/* the part of the folder no watch covers: a rescan, now and then */
	if (s->polling && now >= s->poll_ns)
		s->rescan = true;
	if (!pending && !s->rescan && !s->dirty)
		return SETTLE_IDLE;
	if (settle__quiet(s, now) && now >= s->retry_ns)
		return SETTLE_LOOK;
	s->wait_ms = now < s->retry_ns ? settle__ms_until(now, s->retry_ns) : SETTLE_QUIET_MS;
	return SETTLE_GATHER;
}

bool settle_needs_known_gone(const struct settle *s, const struct settle_look *l)
{
	return !l->wrote && !l->lost && !l->removed && !s->hold_ns && s->rescan && s->structural;
}

enum settle_verdict settle_judge(struct settle *s, uint64_t now, const struct settle_look *l)
{
	s->wait_ms = -1;
	s->hold_began = false;
	if (l->wrote || l->lost)
		return s->hold_ns ? SETTLE_APPLY_WRITTEN : SETTLE_APPLY;
	if (!s->hold_ns && !l->removed && !(s->rescan && s->structural && l->known_gone))
		return SETTLE_APPLY;
	/* the folder went: the apply keeps every last good object */
	if (l->root_gone)
		return SETTLE_APPLY;
	if (!s->hold_ns) {
		s->hold_ns = now;
		s->hold_began = true;
	}
	if (now - s->last_ns < SETTLE_HOLD_MS * SETTLE_NS_PER_MS) {
		s->wait_ms = settle__ms_until(now, s->last_ns + SETTLE_HOLD_MS * SETTLE_NS_PER_MS);
		return SETTLE_HOLD;
	}
	/* quiet only if the queue is: the loop's next poll() reads it */
	if (l->queued) {
		s->wait_ms = 0;
		return SETTLE_READ_QUEUE;
	}
	return SETTLE_APPLY_QUIET;
}

void settle_applied(struct settle *s, uint64_t after, const struct settle_applied *r)
{
	s->structural = false;
	s->hold_ns = 0;
	s->missing = r->missing;
	/* a missing folder is rescanned until it is back */
	s->rescan = r->missing || r->rescan_failed;
	if (r->changed)
		s->dirty = true;
	if (r->rescanned) {
		s->polling = r->polling;
		s->poll_ms = r->poll_ms;
		s->poll_ns = after + r->poll_ms * SETTLE_NS_PER_MS;
	}
}

void settle_published(struct settle *s, uint64_t now, bool ok)
{
	s->dirty = !ok;
	if (!ok)
		s->retry_ns = now + SETTLE_RETRY_MS * SETTLE_NS_PER_MS;
}

void settle_closed(struct settle *s, uint64_t now)
{
	s->first_ns = s->last_ns = 0;
	/* tried again on the timer, not at once: the loop must come back to
	 * poll() and its signals */
	s->retry_ns = s->missing || s->dirty || s->rescan ? now + SETTLE_RETRY_MS * SETTLE_NS_PER_MS
							  : 0;
}

void settle_watch(struct settle *s, uint64_t now, bool lost, bool pending)
{
	/* After an error events may be lost: only a rescan (and the watch's
	 * re-walk) makes that good. */
	if (lost)
		s->rescan = s->structural = true;
	/* anything in the folder, even a file that is not a manifest, keeps
	 * a held removal waiting */
	if (pending || s->rescan) {
		if (!s->first_ns)
			s->first_ns = now;
		s->last_ns = now;
	}
}

void settle_rescan(struct settle *s)
{
	s->rescan = true;
}

bool settle_changed(struct settle *s)
{
	bool was = s->dirty;

	s->dirty = true;
	return !was;
}

bool settle_check_due(struct settle *s, uint64_t now)
{
	if (now < s->check_ns)
		return false;
	s->check_ns = now + SETTLE_CHECK_MS * SETTLE_NS_PER_MS;
	return true;
}

unsigned settle_poll_ms(uint64_t rescan_ms)
{
	uint64_t ms = rescan_ms * SETTLE_POLL_FACTOR;

	return ms > SETTLE_POLL_MIN_MS ? (unsigned)ms : SETTLE_POLL_MIN_MS;
}

int settle_timeout_ms(const struct settle *s, uint64_t now)
{
	int timeout = s->wait_ms;

	settle__min(&timeout, settle__ms_until(now, s->check_ns));
	/* (once due, the rescan is pending: settle_step's wait has it, a
	 * retry wait included) */
	if (s->polling && now < s->poll_ns)
		settle__min(&timeout, settle__ms_until(now, s->poll_ns));
	return timeout;
}
