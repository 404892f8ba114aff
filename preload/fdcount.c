/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "fdcount.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>

#include "counts.h"
#include "failover.h"
#include "ldmesh/snapshot.h"
#include "real.h"

_Atomic uint64_t fdcount_tab[FDMAP_MAX];

/* The prefix of the kernel's struct tcp_info (include/uapi/linux/tcp.h,
 * a stable ABI) that is read: libc's copy may predate the byte counts
 * (Linux 4.1 and 4.2). The kernel fills what the caller's length asks. */
struct fdcount__tcp_info {
	uint8_t state;           /* tcpi_state */
	uint8_t pad0[67];
	uint32_t rtt;            /* tcpi_rtt: smoothed, us */
	uint8_t pad1[48];
	uint64_t bytes_acked;    /* tcpi_bytes_acked: sent and acknowledged,
	                            the SYN included */
	uint64_t bytes_received; /* tcpi_bytes_received */
};
_Static_assert(offsetof(struct fdcount__tcp_info, rtt) == 68, "tcpi_rtt");
_Static_assert(offsetof(struct fdcount__tcp_info, bytes_acked) == 120, "tcpi_bytes_acked");
_Static_assert(sizeof(struct fdcount__tcp_info) == 136, "up to tcpi_bytes_received");

/* tcpi_state (include/net/tcp_states.h) */
#define FDCOUNT__SYN_SENT 2
#define FDCOUNT__CLOSE 7

static bool fdcount__key(int fd, struct counts_key *k)
{
	struct fdmap_view v;

	if (!fdmap_get(fd, &v) || (v.tag & FDMAP_TAG_UNCONNECTED))
		return false;
	memcpy(k->vip, v.vip, 16);
	memcpy(k->backend, v.backend, 16);
	k->vip_port = v.vip_port;
	k->backend_port = v.backend_port;
	k->protocol = LDMESH_PROTO_TCP;
	return true;
}

/* Count an OPENED word as opened, by its latency in ticks. */
static void fdcount__opened(const struct counts_key *k, uint64_t w)
{
	counts_opened(k, counts_ticks_ns(w >> 2));
}

void fdcount_connected(int fd)
{
	uint64_t w;

	if ((unsigned)fd >= FDMAP_MAX)
		return;
	w = atomic_load_explicit(&fdcount_tab[fd], memory_order_relaxed);
	if ((w & 3) == FDCOUNT_CONNECTING)
		fdcount_set(fd, ldmesh_tick() - (w >> 2), FDCOUNT_OPENED);
}

void fdcount_forget(int fd)
{
	if ((unsigned)fd < FDMAP_MAX &&
	    atomic_load_explicit(&fdcount_tab[fd], memory_order_relaxed))
		atomic_store_explicit(&fdcount_tab[fd], 0, memory_order_relaxed);
}

void fdcount_closing(int fd)
{
	struct fdcount__tcp_info ti;
	socklen_t len = sizeof(ti);
	struct counts_key k;
	uint64_t w;
	int saved = errno;

	/* close() of an fd never redirected costs one load */
	if ((unsigned)fd >= FDMAP_MAX || !atomic_load_explicit(&fdcount_tab[fd], memory_order_relaxed))
		return;
	w = atomic_exchange_explicit(&fdcount_tab[fd], 0, memory_order_relaxed);
	/* a connection known open has nothing to tell but bytes, which only
	 * an agent serving metrics wants; one never known open may have been
	 * given up while connecting (a timeout to report) */
	if (!w || ((w & 3) != FDCOUNT_CONNECTING && !counts_wanted()) || !fdcount__key(fd, &k))
		goto out;
	memset(&ti, 0, sizeof(ti));
	if (real.getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
		goto out;
	if (ti.state == FDCOUNT__SYN_SENT) {
		/* given up while connecting: the backend did not answer, a
		 * timeout like any other (counted toward its ejection,
		 * counted, reported) */
		struct failover_caller who = { .tid = 0, .fd = fd };

		if ((w & 3) == FDCOUNT_CONNECTING)
			failover_learnt(&who, k.vip, k.vip_port, k.backend, k.backend_port, ETIMEDOUT);
		goto out;
	}
	if ((w & 3) == FDCOUNT_CONNECTING && ti.state == FDCOUNT__CLOSE)
		goto out; /* its outcome never read, and it failed or reset */
	/* an active open's acked sequence begins with its SYN (one); an
	 * OPENED connect is counted now, one not read (CONNECTING) without
	 * its latency */
	counts_closed(&k, (w & 3) != FDCOUNT_COUNTED,
		      (w & 3) == FDCOUNT_OPENED ? counts_ticks_ns(w >> 2) : UINT64_MAX,
		      ti.bytes_acked ? ti.bytes_acked - 1 : 0, ti.bytes_received,
		      len >= 72 ? ti.rtt : UINT32_MAX);
	counts_flush(false);
out:
	errno = saved;
}

void fdcount_collect(void)
{
	for (int fd = 0; fd < FDMAP_MAX; fd++) {
		uint64_t w = atomic_load_explicit(&fdcount_tab[fd], memory_order_relaxed);
		struct counts_key k;

		/* the close may be counting it at this moment: one of us
		 * swaps the word */
		if ((w & 3) != FDCOUNT_OPENED ||
		    !atomic_compare_exchange_strong(&fdcount_tab[fd], &w,
						    (w & ~(uint64_t)3) | FDCOUNT_COUNTED))
			continue;
		if (fdcount__key(fd, &k))
			fdcount__opened(&k, w);
	}
}

void fdcount_after_fork(void)
{
	/* the sockets are the parent's to count; only the words in use are
	 * written: a store to each would fault in the whole table (32 KiB)
	 * in every child, where a read of an untouched page costs nothing */
	for (int fd = 0; fd < FDMAP_MAX; fd++)
		fdcount_forget(fd);
	counts_after_fork();
}
