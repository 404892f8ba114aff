/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "supervise.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "addr.h"
#include "counts.h"
#include "failover.h"
#include "outlier.h"
#include "remote.h"
#include "rng.h"
#include "route.h"
#include "trace.h"

#define SUPERVISE_DATAGRAM_MAX 65536 /* a UDP payload is at most 65,507 */

/* Linux 6.6's uapi, absent from older headers. */
#define SUPERVISE_IOCTL_SET_FLAGS SECCOMP_IOW(4, uint64_t)
#define SUPERVISE_SYNC_WAKE_UP 1ULL

/* One call the filter sent us. */
struct call {
	struct supervisor *s;
	uint64_t id;
	pid_t tid;
	int fd;        /* the program's descriptor */
	int local;     /* our copy of it, or -1 */
};

/* A connect to a VIP, from the pick to the answer; a blocking one waits
 * in the waiter (s->dials) while its connect is under way. */
struct sup_dial {
	struct call c;            /* c.local: ours, closed at the end */
	struct sup_dial *next, *prev;
	bool blocking;            /* a stream socket without O_NONBLOCK */
	bool tcp;                 /* failover applies */
	bool again;               /* a repeated connect to the backend chosen before */
	bool failing;             /* f begun */
	int wait_err;             /* the answer if SO_SNDTIMEO runs out */
	uint64_t deadline;        /* CLOCK_MONOTONIC ns; 0: none */
	struct supervise_socket e; /* the record, its backend the one tried */
	struct route_result r;    /* the pick being tried */
	struct failover_run f;
	struct sockaddr_storage to;
	socklen_t to_len;
};

static void sup__unlink(struct supervisor *s, struct sup_dial *d);

static void sup__reply(const struct call *c, int64_t val, int err)
{
	struct seccomp_notif_resp r = { .id = c->id, .val = val, .error = err ? -err : 0 };

	/* ENOENT: the thread was killed meanwhile; nothing waits for this */
	(void)ioctl(c->s->listener, SECCOMP_IOCTL_NOTIF_SEND, &r);
}

/* Let the call run in the kernel as the program made it. */
static void sup__continue(const struct call *c)
{
	struct seccomp_notif_resp r = { .id = c->id, .flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE };

	(void)ioctl(c->s->listener, SECCOMP_IOCTL_NOTIF_SEND, &r);
}

/* Whether the call is still waiting: checked after reading the program's
 * memory, so what was read belongs to that call (its thread, not a new
 * process that took its pid). */
static bool sup__valid(const struct call *c)
{
	uint64_t id = c->id;

	return ioctl(c->s->listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

static void sup__done(struct call *c)
{
	if (c->local >= 0)
		close(c->local);
	c->local = -1;
}

/* ---- the socket map ------------------------------------------------------ */

static uint64_t sup__ino(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 ? (uint64_t)st.st_ino : 0;
}

static struct supervise_socket *sup__slot(struct supervisor *s, uint64_t ino)
{
	return &s->sockets[(ino * 0x9e3779b97f4a7c15ULL) >> (64 - SUPERVISE_SOCKETS_LOG2)];
}

static bool sup__find(struct supervisor *s, uint64_t ino, struct supervise_socket *out)
{
	bool found;

	pthread_mutex_lock(&s->lock);
	*out = *sup__slot(s, ino);
	found = ino && out->ino == ino;
	pthread_mutex_unlock(&s->lock);
	return found;
}

/* A socket whose slot another one takes is forgotten: its getpeername then
 * answers the backend's address. */
static void sup__remember(struct supervisor *s, const struct supervise_socket *e)
{
	pthread_mutex_lock(&s->lock);
	*sup__slot(s, e->ino) = *e;
	__atomic_store_n(&s->any_sockets, true, __ATOMIC_RELAXED); /* read without the lock */
	pthread_mutex_unlock(&s->lock);
}

static void sup__forget(struct supervisor *s, uint64_t ino)
{
	struct supervise_socket *e;

	pthread_mutex_lock(&s->lock);
	e = sup__slot(s, ino);
	if (ino && e->ino == ino)
		e->ino = 0;
	pthread_mutex_unlock(&s->lock);
}

/* ---- tracing -------------------------------------------------------------- */

static void sup__trace(const struct call *c, const char *what, const struct ldmesh_snap *snap,
		       const uint8_t a[16], uint16_t port, const struct route_result *r)
{
	struct trace_line l;

	if (!trace_on())
		return;
	trace_begin(&l, "exec pid=");
	trace_i64(&l, c->tid);
	trace_str(&l, " ");
	trace_str(&l, what);
	trace_str(&l, " fd=");
	trace_i64(&l, c->fd);
	trace_str(&l, " ");
	trace_ipport(&l, a, port);
	if (r)
		trace_route(&l, snap, r, true);
	else
		trace_str(&l, " pass");
	trace_emit(&l);
}

/* Read the destination a call names (`len` bytes at `addr`): all of it,
 * as the kernel copies it, so an address whose tail cannot be read is left
 * to the kernel (EFAULT). A length the kernel refuses (over
 * sizeof(struct sockaddr_storage), or negative as its int) is never read:
 * the call continues and the kernel answers EINVAL. */
static bool sup__read_addr(const struct call *c, uint64_t addr, socklen_t len,
			   struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	return addr && len >= sizeof(sa_family_t) && len <= sizeof(*ss) &&
	       remote_read(c->tid, addr, ss, len) == 0;
}

/* ---- receivers ----------------------------------------------------------- */

static void *sup__receiver(void *supervisor);

static int sup__spawn_receiver(struct supervisor *s)
{
	pthread_attr_t attr;
	pthread_t t;
	int rc;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 128 * 1024);
	rc = pthread_create(&t, &attr, sup__receiver, s);
	pthread_attr_destroy(&attr);
	if (rc == 0)
		atomic_fetch_add(&s->receivers, 1);
	return -rc;
}

/* This receiver is about to make a call that may wait (a datagram on a
 * blocking socket whose buffer is full): another must be free for the
 * program's other calls. */
static void sup__may_block(struct supervisor *s)
{
	if (atomic_load(&s->waiting) == 0 && atomic_load(&s->receivers) < SUPERVISE_RECEIVERS_MAX)
		(void)sup__spawn_receiver(s);
}

/* ---- connect ---------------------------------------------------------------- */

static uint64_t sup__now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static bool sup__dial_expired(const struct sup_dial *d)
{
	return d->deadline && sup__now_ns() >= d->deadline;
}

/* One attempt, never waiting: a blocking socket's connect is started with
 * O_NONBLOCK set for the length of the call (the flag belongs to the open
 * file, shared with the program; it is put back at once) and finished by
 * the waiter, so no number of slow backends holds a thread. */
static int sup__dial_attempt(struct sup_dial *d)
{
	/* the flags as they are now: the program may have changed them
	 * since its call began, and gets back what it set */
	int fl = d->blocking ? fcntl(d->c.local, F_GETFL) : -1, rc, err;
	bool toggle = fl >= 0 && !(fl & O_NONBLOCK);

	if (toggle)
		(void)fcntl(d->c.local, F_SETFL, fl | O_NONBLOCK);
	rc = connect(d->c.local, (const struct sockaddr *)&d->to, d->to_len);
	err = rc < 0 ? errno : 0;
	if (toggle)
		(void)fcntl(d->c.local, F_SETFL, fl);
	return err;
}

/* How the connect under way ended, once it is no longer under way: what
 * a blocking connect returns after its wait. Asked as the kernel's own
 * connect-again answers it (0, or the error, read and cleared), which also
 * leaves the socket as a blocking connect would: reading SO_ERROR instead
 * would leave it half-way, the next connect on it (failover's) failing
 * ECONNABORTED. */
static int sup__dial_finish(struct sup_dial *d)
{
	int err = sup__dial_attempt(d);

	return err == EISCONN ? 0 : err;
}

/* Whether the connect is still under way. From the TCP state, not poll:
 * a socket whose earlier connect failed (failover's retry on it) polls
 * HUP while its next one is still in SYN_SENT. */
static bool sup__dial_connecting(const struct sup_dial *d)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	struct pollfd p = { .fd = d->c.local, .events = POLLOUT };

	if (getsockopt(d->c.local, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 && len >= 1)
		return ti.tcpi_state == TCP_SYN_SENT || ti.tcpi_state == TCP_SYN_RECV;
	return poll(&p, 1, 0) != 1; /* not TCP: as poll says */
}

static void sup__dial_end(struct sup_dial *d, int err)
{
	sup__reply(&d->c, 0, err);
	sup__done(&d->c);
	free(d);
}

/*
 * The latest attempt ended with `err`: decide, as the preload's connect
 * does (failover.h: the same code), whether another backend is tried.
 * True with d->to the next one; false when `*err` is the call's answer.
 */
static bool sup__dial_next(struct sup_dial *d, int *err)
{
	struct supervisor *s = d->c.s;
	struct failover_caller who = { .tid = d->c.tid, .fd = d->c.fd };

	if (d->again) {
		/* the connect-again idiom: how the first attempt ended */
		if (*err && failover_backend_failed(*err)) {
			failover_learnt(&who, d->e.vip, d->e.vip_port, d->e.backend, d->e.backend_port,
					*err);
			sup__forget(s, d->e.ino);
		}
		return false;
	}
	if (!d->tcp)
		return false;
	if (!d->failing) {
		if (!*err) {
			if (atomic_load_explicit(&outlier_tracked, memory_order_relaxed))
				outlier_success(d->r.backend, d->r.backend_port);
			return false;
		}
		if (!failover_backend_failed(*err))
			return false;
		failover_begin(&d->f, &who, d->e.family, d->e.vip, d->e.vip_port,
			       s->cfg.connect_attempts, &d->r, *err);
		d->failing = true;
	} else if (failover_outcome(&d->f, &d->r, *err)) {
		return false;
	}
	/* SO_SNDTIMEO bounds the whole call; a caller gone stops it */
	if (sup__dial_expired(d) || !sup__valid(&d->c) ||
	    !failover_next(&d->f, &s->table, &d->r, &d->to, &d->to_len)) {
		*err = d->f.err;
		return false;
	}
	memcpy(d->e.backend, d->r.backend, 16);
	d->e.backend_port = d->r.backend_port;
	if (d->e.ino)
		sup__remember(s, &d->e);
	return true;
}

static void sup__park(struct sup_dial *d, int err);

/* Drive a connect from its latest attempt's result until it waits in the
 * waiter (parked) or ends (answered, freed). */
static void sup__dial_run(struct sup_dial *d, int err)
{
	for (;;) {
		if (d->blocking && (err == EINPROGRESS || err == EALREADY)) {
			if (sup__dial_connecting(d)) {
				if (!sup__dial_expired(d)) {
					sup__park(d, err);
					return;
				}
				/* SO_SNDTIMEO ran out: a timed-out blocking
				 * connect answers this, the connect going on */
				break;
			}
			err = sup__dial_finish(d);
			if (err == EINPROGRESS || err == EALREADY)
				break; /* the kernel says under way after all */
		}
		if (!sup__dial_next(d, &err))
			break;
		err = sup__dial_attempt(d);
	}
	sup__dial_end(d, err);
}

/* SO_SNDTIMEO of the socket as a deadline, 0 when unset. */
static uint64_t sup__deadline(int fd)
{
	struct timeval tv;
	socklen_t len = sizeof(tv);

	if (getsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, &len) < 0 || (!tv.tv_sec && !tv.tv_usec))
		return 0;
	return sup__now_ns() + (uint64_t)tv.tv_sec * 1000000000ULL + (uint64_t)tv.tv_usec * 1000ULL;
}

/* Start the connect of the call's socket (c->local, taken over) to d->to. */
static void sup__dial(struct call *c, struct sup_dial *d, int type)
{
	int fl = fcntl(c->local, F_GETFL);

	d->c = *c;
	c->local = -1;
	d->blocking = type == SOCK_STREAM && fl >= 0 && !(fl & O_NONBLOCK);
	d->deadline = d->blocking ? sup__deadline(d->c.local) : 0;
	sup__dial_run(d, sup__dial_attempt(d));
}

/* ---- the waiter: blocking connects under way ---------------------------------- */

static void sup__waiter_wake(struct supervisor *s)
{
	uint64_t one = 1;

	(void)!write(s->wake, &one, sizeof(one));
}

/* The waiter refused it (no room in its epoll set): wait here, another
 * receiver free first. Short polls: a socket whose earlier connect failed
 * polls HUP all along (sup__dial_connecting). */
static void sup__wait_here(struct sup_dial *d, int err)
{
	struct pollfd p = { .fd = d->c.local, .events = POLLOUT };

	sup__may_block(d->c.s);
	while (sup__dial_connecting(d) && !sup__dial_expired(d))
		(void)poll(&p, 1, 10);
	sup__dial_run(d, err);
}

/* Hand d to the waiter. Listed and added under the lock, so the waiter
 * (which takes, answers and frees it) cannot see it half-parked; not
 * touched after. */
static void sup__park(struct sup_dial *d, int err)
{
	struct supervisor *s = d->c.s;
	/* edge-triggered: a HUP that is no news (sup__dial_connecting) is
	 * reported once, not again and again */
	struct epoll_event ev = { .events = EPOLLOUT | EPOLLET, .data.ptr = d };
	bool wake = d->deadline != 0;
	int rc;

	d->wait_err = err;
	pthread_mutex_lock(&s->dials_lock);
	rc = epoll_ctl(s->epoll, EPOLL_CTL_ADD, d->c.local, &ev);
	if (rc == 0) {
		/* the first: the waiter may sleep with no sweep to make */
		wake = wake || !s->dials;
		d->next = s->dials;
		d->prev = NULL;
		if (s->dials)
			s->dials->prev = d;
		s->dials = d;
	}
	pthread_mutex_unlock(&s->dials_lock);
	if (rc < 0)
		sup__wait_here(d, err);
	else if (wake)
		sup__waiter_wake(s); /* it may be sleeping past this one's end */
}

static void sup__unlink(struct supervisor *s, struct sup_dial *d)
{
	if (d->prev)
		d->prev->next = d->next;
	else
		s->dials = d->next;
	if (d->next)
		d->next->prev = d->prev;
}

/* How often the waiter looks for connects whose caller has gone (its
 * thread killed): their socket copies are closed then, not when TCP gives
 * up on a backend that never answers. */
#define SUPERVISE_SWEEP_NS 1000000000ULL

/* The waiter's sleep: until the nearest deadline or sweep (ms), or -1
 * with nothing to wait for. */
static int sup__waiter_timeout(struct supervisor *s, uint64_t now, uint64_t sweep)
{
	uint64_t first = 0;

	pthread_mutex_lock(&s->dials_lock);
	if (s->dials)
		first = sweep;
	for (struct sup_dial *d = s->dials; d; d = d->next)
		if (d->deadline && d->deadline < first)
			first = d->deadline;
	pthread_mutex_unlock(&s->dials_lock);
	if (!first)
		return -1;
	return first <= now ? 0 : (int)((first - now + 999999) / 1000000);
}

/* Take d out of the waiter (its thread only). */
static void sup__waiter_take(struct supervisor *s, struct sup_dial *d)
{
	pthread_mutex_lock(&s->dials_lock);
	sup__unlink(s, d);
	pthread_mutex_unlock(&s->dials_lock);
	(void)epoll_ctl(s->epoll, EPOLL_CTL_DEL, d->c.local, NULL);
}

/* A listed connect that is over without an event: past its SO_SNDTIMEO, or
 * (sweeping) its caller gone. Unlinked; NULL when none. */
static struct sup_dial *sup__waiter_late(struct supervisor *s, uint64_t now, bool sweep)
{
	struct sup_dial *late = NULL;

	pthread_mutex_lock(&s->dials_lock);
	for (struct sup_dial *d = s->dials; d && !late; d = d->next)
		if ((d->deadline && d->deadline <= now) || (sweep && !sup__valid(&d->c)))
			late = d;
	if (late)
		sup__unlink(s, late);
	pthread_mutex_unlock(&s->dials_lock);
	if (late)
		(void)epoll_ctl(s->epoll, EPOLL_CTL_DEL, late->c.local, NULL);
	return late;
}

static void *sup__waiter(void *arg)
{
	struct supervisor *s = arg;
	struct epoll_event ev[64];
	uint64_t sweep = sup__now_ns() + SUPERVISE_SWEEP_NS;

	for (;;) {
		int n = epoll_wait(s->epoll, ev, 64, sup__waiter_timeout(s, sup__now_ns(), sweep));
		struct sup_dial *late;
		uint64_t now;
		bool sweeping;

		for (int i = 0; i < n; i++) {
			struct sup_dial *d = ev[i].data.ptr;
			uint64_t drain;

			if (!d) {
				(void)!read(s->wake, &drain, sizeof(drain));
				continue;
			}
			if (sup__dial_connecting(d))
				continue;
			sup__waiter_take(s, d);
			sup__dial_run(d, d->wait_err);
		}
		now = sup__now_ns();
		sweeping = now >= sweep;
		if (sweeping)
			sweep = now + SUPERVISE_SWEEP_NS;
		/* timed out: what a blocking connect past SO_SNDTIMEO says (to
		 * a caller gone, nobody) */
		while ((late = sup__waiter_late(s, now, sweeping)))
			sup__dial_end(late, late->wait_err);
	}
	return NULL;
}

/* The dial of a connect of the socket the call names to a VIP (`a`:`port`,
 * found for `proto`): its type read from the socket (a datagram socket
 * takes the UDP port of that VIP, into *vip), or NULL when the socket is
 * not one the VIP's protocol serves, is no socket, or memory ran out. */
static struct sup_dial *sup__dial_new(struct call *c, const struct ldmesh_snap *snap,
				      const uint8_t a[16], uint16_t port, uint8_t proto,
				      int family, struct ldmesh_vip_slot *vip, int *type)
{
	socklen_t tl = sizeof(*type);
	struct sup_dial *d;

	c->local = remote_getfd(c->tid, c->fd);
	if (c->local < 0 || getsockopt(c->local, SOL_SOCKET, SO_TYPE, type, &tl) < 0 ||
	    (*type == SOCK_STREAM && proto != LDMESH_PROTO_TCP) ||
	    (*type == SOCK_DGRAM && proto != LDMESH_PROTO_UDP &&
	     !ldmesh_snap_find_vip(snap, a, port, LDMESH_PROTO_UDP, vip)) ||
	    (*type != SOCK_STREAM && *type != SOCK_DGRAM) || !(d = calloc(1, sizeof(*d))))
		return NULL;
	d->e = (struct supervise_socket){ .ino = sup__ino(c->local), .family = (uint16_t)family,
					  .vip_port = port };
	memcpy(d->e.vip, a, 16);
	d->tcp = *type == SOCK_STREAM;
	return d;
}

static void sup__connect(struct call *c, const struct seccomp_notif *n)
{
	struct supervisor *s = c->s;
	struct sockaddr_storage ss;
	socklen_t len = (socklen_t)n->data.args[2];
	struct ldmesh_vip_slot vip;
	struct supervise_socket prev;
	const struct ldmesh_snap *snap;
	struct sup_dial *d;
	uint8_t proto;
	uint8_t a[16];
	uint16_t port;
	int slot, type = 0;

	/* Not yet checked that the call is still waiting (its thread may be
	 * gone and its pid another's): only before acting on what was read.
	 * Letting a call continue needs no such check. */
	if (!sup__read_addr(c, n->data.args[1], len, &ss) ||
	    !addr_from_sockaddr((struct sockaddr *)&ss, len, a, &port)) {
		sup__continue(c);
		return;
	}
	snap = ldmesh_table_acquire(&s->table, &slot);
	/* (noted for warming, as the preload's connect notes it) */
	proto = snap ? ldmesh_table_find_connect_vip(&s->table, snap, a, port, &vip) : 0;
	if (!proto) {
		sup__trace(c, "connect", snap, a, port, NULL);
		if (snap)
			ldmesh_table_release(&s->table, slot);
		sup__continue(c);
		return;
	}
	if (!sup__valid(c)) {
		ldmesh_table_release(&s->table, slot);
		return;
	}
	if (!(d = sup__dial_new(c, snap, a, port, proto, ss.ss_family, &vip, &type))) {
		/* not ours after all (or not a socket: the kernel says so) */
		ldmesh_table_release(&s->table, slot);
		sup__continue(c);
		return;
	}
	/* The non-blocking idiom connects again until EISCONN: the same
	 * backend, so the kernel answers about the connection under way. */
	if (type == SOCK_STREAM && d->e.ino && sup__find(s, d->e.ino, &prev) &&
	    prev.vip_port == port && !memcmp(prev.vip, a, 16)) {
		ldmesh_table_release(&s->table, slot);
		d->e = prev;
		d->again = true;
		d->to_len = addr_to_sockaddr(ss.ss_family, prev.backend, prev.backend_port, &d->to);
		sup__dial(c, d, type);
		return;
	}
	snap = ldmesh_snap_holder(snap, &vip);
	route_pick(snap, &vip, ss.ss_family, rng_next(), s->cfg.client_hash, &d->r);
	/* one load while no backend is ejected (failover.h, as the preload) */
	if (outlier_active() && d->r.verdict == ROUTE_REDIRECT)
		failover_avoid_ejected(snap, &vip, ss.ss_family, &d->r);
	if (d->r.verdict == ROUTE_REDIRECT)
		d->to_len = addr_to_sockaddr(ss.ss_family, d->r.backend, d->r.backend_port, &d->to);
	sup__trace(c, "connect", snap, a, port, &d->r);
	ldmesh_table_release(&s->table, slot);
	if (d->r.verdict != ROUTE_REDIRECT || !d->to_len) {
		free(d);
		sup__reply(c, 0, ECONNREFUSED);
		return;
	}
	memcpy(d->e.backend, d->r.backend, 16);
	d->e.backend_port = d->r.backend_port;
	if (d->e.ino)
		sup__remember(s, &d->e);
	sup__dial(c, d, type);
}

/* ---- getpeername --------------------------------------------------------------- */

static void sup__getpeername(struct call *c, const struct seccomp_notif *n)
{
	struct supervisor *s = c->s;
	struct supervise_socket e;
	struct sockaddr_storage peer, vip;
	socklen_t peer_len = sizeof(peer), vip_len, want;
	uint8_t a[16];
	uint16_t port;

	if (!__atomic_load_n(&s->any_sockets, __ATOMIC_RELAXED)) {
		sup__continue(c);
		return;
	}
	c->local = remote_getfd(c->tid, c->fd);
	/* Only a socket still connected to the backend we chose answers the
	 * VIP; anything else is the kernel's to answer, errors included. */
	if (c->local < 0 || !sup__find(s, sup__ino(c->local), &e) ||
	    getpeername(c->local, (struct sockaddr *)&peer, &peer_len) < 0 ||
	    !addr_from_sockaddr((struct sockaddr *)&peer, peer_len, a, &port) ||
	    port != e.backend_port || memcmp(a, e.backend, 16) ||
	    !(vip_len = addr_to_sockaddr(e.family, e.vip, e.vip_port, &vip)) ||
	    remote_read(c->tid, n->data.args[2], &want, sizeof(want)) < 0 || (int)want < 0 ||
	    !sup__valid(c)) {
		sup__continue(c);
		return;
	}
	/* getpeername's contract: the address cut to the caller's length,
	 * the length set to the address's full size */
	if ((want && remote_write(c->tid, n->data.args[1], &vip, want < vip_len ? want : vip_len) < 0) ||
	    remote_write(c->tid, n->data.args[2], &vip_len, sizeof(vip_len)) < 0) {
		sup__reply(c, 0, EFAULT);
		return;
	}
	sup__reply(c, 0, 0);
}

/* ---- getsockopt(SO_ERROR) ----------------------------------------------------- */

/*
 * How a non-blocking connect ended, read by the program (an event loop, Go's
 * netpoller): on a redirected socket the error is read here, as the kernel
 * would hand it over, and counts toward its backend's ejection as the
 * preload's getsockopt hook counts it (failover_learnt). Anything else, a
 * length the kernel refuses included, is the kernel's.
 */
static void sup__getsockopt(struct call *c, const struct seccomp_notif *n)
{
	struct supervisor *s = c->s;
	struct failover_caller who = { .tid = c->tid, .fd = c->fd };
	struct supervise_socket e;
	socklen_t want, vl = sizeof(int), tl = sizeof(int);
	int v = 0, type;

	if (!__atomic_load_n(&s->any_sockets, __ATOMIC_RELAXED)) {
		sup__continue(c);
		return;
	}
	c->local = remote_getfd(c->tid, c->fd);
	if (c->local < 0 || getsockopt(c->local, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 ||
	    type != SOCK_STREAM || !sup__find(s, sup__ino(c->local), &e) ||
	    remote_read(c->tid, n->data.args[4], &want, sizeof(want)) < 0 || (int)want < 0 ||
	    !sup__valid(c)) {
		sup__continue(c);
		return;
	}
	/* read (and cleared) here: the kernel's own order, so a bad optval
	 * loses the error as it would there */
	if (getsockopt(c->local, SOL_SOCKET, SO_ERROR, &v, &vl) < 0) {
		sup__reply(c, 0, errno);
		return;
	}
	if (want > sizeof(v))
		want = sizeof(v);
	if ((want && remote_write(c->tid, n->data.args[3], &v, want) < 0) ||
	    remote_write(c->tid, n->data.args[4], &want, sizeof(want)) < 0)
		sup__reply(c, 0, EFAULT);
	else
		sup__reply(c, 0, 0);
	if (v && !failover_backend_failed(v))
		return;
	/* a failure is read once: a later 0 must not count as a success */
	if (v)
		sup__forget(s, e.ino);
	failover_learnt(&who, e.vip, e.vip_port, e.backend, e.backend_port, v);
}

/* ---- datagrams to a UDP VIP ---------------------------------------------------- */

/*
 * Whether a send to the address `ss` (of `len` bytes as the program gave
 * it) is redirected: a datagram to a UDP VIP (a backend per datagram), or
 * a TCP Fast Open send (MSG_FASTOPEN in `flags`: a connect and a send in
 * one call) to a TCP VIP, decided as a connect and remembered for
 * getpeername. 1 with the backend in *to (and our copy of the socket in
 * c->local), 0 when it is not ours (let it continue), or -errno to answer
 * with. `what` names the call in the trace.
 */
static int sup__send_route(struct call *c, const struct sockaddr_storage *ss, socklen_t len,
			   int flags, const char *what, struct sockaddr_storage *to,
			   socklen_t *to_len)
{
	struct supervisor *s = c->s;
	struct ldmesh_vip_slot vip;
	const struct ldmesh_snap *snap;
	struct route_result r;
	bool fastopen = flags & MSG_FASTOPEN;
	uint8_t a[16], proto;
	uint16_t port;
	int slot, type = 0;
	socklen_t tl = sizeof(type);

	if (!addr_from_sockaddr((const struct sockaddr *)ss, len, a, &port))
		return 0;
	snap = ldmesh_table_acquire(&s->table, &slot);
	if (!snap)
		return 0;
	/* the socket is asked its type only once the address is a VIP */
	if ((!ldmesh_snap_find_vip(snap, a, port, LDMESH_PROTO_UDP, &vip) &&
	     !(fastopen && ldmesh_snap_find_vip(snap, a, port, LDMESH_PROTO_TCP, &vip))) ||
	    !sup__valid(c) || (c->local = remote_getfd(c->tid, c->fd)) < 0 ||
	    getsockopt(c->local, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 ||
	    !(proto = type == SOCK_DGRAM ? LDMESH_PROTO_UDP :
		      type == SOCK_STREAM && fastopen ? LDMESH_PROTO_TCP : 0) ||
	    !ldmesh_snap_find_vip(snap, a, port, proto, &vip)) {
		/* TCP ignores the address but for Fast Open; anything else
		 * is the kernel's */
		ldmesh_table_release(&s->table, slot);
		return 0;
	}
	snap = ldmesh_snap_holder(snap, &vip);
	route_pick(snap, &vip, ss->ss_family, rng_next(), s->cfg.client_hash, &r);
	if (proto == LDMESH_PROTO_TCP && outlier_active() && r.verdict == ROUTE_REDIRECT)
		failover_avoid_ejected(snap, &vip, ss->ss_family, &r);
	*to_len = r.verdict == ROUTE_REDIRECT ? addr_to_sockaddr(ss->ss_family, r.backend,
								 r.backend_port, to) : 0;
	sup__trace(c, proto == LDMESH_PROTO_TCP ? what : "send", snap, a, port, &r);
	ldmesh_table_release(&s->table, slot);
	if (*to_len && proto == LDMESH_PROTO_TCP) {
		struct supervise_socket e = { .ino = sup__ino(c->local), .family = ss->ss_family,
					      .vip_port = port, .backend_port = r.backend_port };
		memcpy(e.vip, a, 16);
		memcpy(e.backend, r.backend, 16);
		if (e.ino)
			sup__remember(s, &e);
		/* a blocking socket's Fast Open waits for the handshake */
		sup__may_block(s);
	}
	return *to_len ? 1 : -ECONNREFUSED;
}

static void sup__send_result(struct call *c, ssize_t sent)
{
	sup__reply(c, sent < 0 ? 0 : sent, sent < 0 ? errno : 0);
}

static void sup__sendto(struct call *c, const struct seccomp_notif *n)
{
	struct sockaddr_storage ss, to;
	socklen_t len = (socklen_t)n->data.args[5], to_len;
	size_t size = (size_t)n->data.args[2];
	int flags = (int)n->data.args[3];
	void *data;
	int rc;

	/* a stream takes part of a long send (the count says how much) */
	if ((flags & MSG_FASTOPEN) && size > SUPERVISE_DATAGRAM_MAX)
		size = SUPERVISE_DATAGRAM_MAX;
	if (!sup__read_addr(c, n->data.args[4], len, &ss) || size > SUPERVISE_DATAGRAM_MAX ||
	    (rc = sup__send_route(c, &ss, len, flags, "sendto MSG_FASTOPEN", &to, &to_len)) == 0) {
		sup__continue(c); /* the kernel judges an oversized datagram */
		return;
	}
	if (rc < 0) {
		sup__reply(c, 0, -rc);
		return;
	}
	data = malloc(size ? size : 1);
	if (!data || (size && (remote_read(c->tid, n->data.args[1], data, size) < 0 || !sup__valid(c)))) {
		free(data);
		sup__reply(c, 0, data ? EFAULT : ENOMEM);
		return;
	}
	/* MSG_NOSIGNAL: a SIGPIPE raised here would be forwarded to the program */
	sup__send_result(c, sendto(c->local, data, size, (int)n->data.args[3] | MSG_NOSIGNAL,
				   (struct sockaddr *)&to, to_len));
	free(data);
}

#define SUPERVISE_IOV_MAX 1024       /* UIO_MAXIOV */
#define SUPERVISE_CONTROL_MAX 4096   /* ancillary data carried along */

/* The program's ancillary data, unless it passes descriptors (numbers in
 * its table, meaningless in ours): then the datagram is not redirected. */
static bool sup__control_ok(const void *control, size_t len)
{
	struct msghdr m = { .msg_control = (void *)control, .msg_controllen = len };

	for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h))
		if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS)
			return false;
	return true;
}

static void sup__sendmsg(struct call *c, const struct seccomp_notif *n)
{
	struct sockaddr_storage ss, to;
	struct msghdr m, out;
	struct iovec iov[64], one;
	char control[SUPERVISE_CONTROL_MAX];
	size_t size = 0, done = 0;
	socklen_t to_len;
	char *data = NULL;
	int rc;

	/* Most sendmsg calls are on connected sockets (no name): let them go
	 * after one read. */
	if (remote_read(c->tid, n->data.args[1], &m, sizeof(m)) < 0 || !m.msg_name ||
	    m.msg_namelen < sizeof(struct sockaddr_in) || m.msg_iovlen > SUPERVISE_IOV_MAX ||
	    m.msg_controllen > sizeof(control) ||
	    (int)m.msg_namelen < 0 ||
	    /* the kernel takes at most a sockaddr_storage of a longer name */
	    !sup__read_addr(c, (uint64_t)(uintptr_t)m.msg_name,
			    m.msg_namelen < sizeof(ss) ? m.msg_namelen : sizeof(ss), &ss) ||
	    (m.msg_controllen && (remote_read(c->tid, (uint64_t)(uintptr_t)m.msg_control, control,
					      m.msg_controllen) < 0 ||
				  !sup__control_ok(control, m.msg_controllen))) ||
	    (rc = sup__send_route(c, &ss, m.msg_namelen < sizeof(ss) ? m.msg_namelen : sizeof(ss),
				  (int)n->data.args[2], "sendmsg MSG_FASTOPEN", &to, &to_len)) == 0) {
		sup__continue(c);
		return;
	}
	if (rc < 0) {
		sup__reply(c, 0, -rc);
		return;
	}
	/* gather the payload, 64 iovecs at a time, into one buffer */
	for (size_t i = 0; i < m.msg_iovlen; i += 64) {
		size_t k = m.msg_iovlen - i < 64 ? m.msg_iovlen - i : 64;
		if (remote_read(c->tid, (uint64_t)(uintptr_t)(m.msg_iov + i), iov, k * sizeof(iov[0])) < 0)
			goto fault;
		for (size_t j = 0; j < k; j++)
			size += iov[j].iov_len;
	}
	if (size > SUPERVISE_DATAGRAM_MAX) {
		sup__reply(c, 0, EMSGSIZE);
		return;
	}
	data = malloc(size ? size : 1);
	if (!data) {
		sup__reply(c, 0, ENOMEM);
		return;
	}
	for (size_t i = 0; i < m.msg_iovlen; i += 64) {
		size_t k = m.msg_iovlen - i < 64 ? m.msg_iovlen - i : 64;
		if (remote_read(c->tid, (uint64_t)(uintptr_t)(m.msg_iov + i), iov, k * sizeof(iov[0])) < 0)
			goto fault;
		for (size_t j = 0; j < k; j++) {
			/* the lengths may have changed since they were added up */
			if (iov[j].iov_len > size - done ||
			    (iov[j].iov_len && remote_read(c->tid, (uint64_t)(uintptr_t)iov[j].iov_base,
							   data + done, iov[j].iov_len) < 0))
				goto fault;
			done += iov[j].iov_len;
		}
	}
	if (!sup__valid(c))
		goto out;
	one = (struct iovec){ data, done };
	out = (struct msghdr){ .msg_name = &to, .msg_namelen = to_len, .msg_iov = &one,
			       .msg_iovlen = 1, .msg_control = m.msg_controllen ? control : NULL,
			       .msg_controllen = m.msg_controllen };
	sup__send_result(c, sendmsg(c->local, &out, (int)n->data.args[2] | MSG_NOSIGNAL));
	goto out;
fault:
	sup__reply(c, 0, EFAULT);
out:
	free(data);
}

/* ---- the loop ------------------------------------------------------------------ */

int supervise_init(struct supervisor *s, int listener, const struct preload_config *cfg)
{
	uint64_t sync = SUPERVISE_SYNC_WAKE_UP;

	memset(s, 0, sizeof(*s));
	s->listener = listener;
	s->cfg = *cfg;
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->dials_lock, NULL);
	s->epoll = epoll_create1(EPOLL_CLOEXEC);
	s->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->epoll < 0 || s->wake < 0 ||
	    epoll_ctl(s->epoll, EPOLL_CTL_ADD, s->wake,
		      &(struct epoll_event){ .events = EPOLLIN, .data.ptr = NULL }) < 0)
		return -errno;
	/* Linux 6.6: the program's thread and the receiver hand over on one
	 * CPU instead of a wake-up through the scheduler, about halving the
	 * round trip; older kernels refuse it and keep the ordinary path. */
	(void)ioctl(listener, SUPERVISE_IOCTL_SET_FLAGS, sync);
	/* failure reports and counters go beside the table, as the preload's */
	counts_setup(&s->cfg, &s->table, NULL);
	return ldmesh_table_init(&s->table, s->cfg.table_dir, &ldmesh_reader_libc,
				 trace_table_event, NULL);
}

static void *sup__receiver(void *arg)
{
	struct supervisor *s = arg;

	for (;;) {
		struct seccomp_notif n;
		int rc;

		memset(&n, 0, sizeof(n));
		atomic_fetch_add(&s->waiting, 1);
		rc = ioctl(s->listener, SECCOMP_IOCTL_NOTIF_RECV, &n);
		atomic_fetch_sub(&s->waiting, 1);
		if (rc < 0) {
			struct pollfd p = { .fd = s->listener, .events = POLLIN };
			/* EINTR, or ENOENT: the caller died first. With no
			 * process left under the filter (POLLHUP) there is
			 * nothing more to take: the process is about to exit. */
			if (errno == EINTR ||
			    (errno == ENOENT && poll(&p, 1, 0) >= 0 && !(p.revents & POLLHUP)))
				continue;
			break;
		}
		struct call c = { .s = s, .id = n.id, .tid = (pid_t)n.pid,
				  .fd = (int)n.data.args[0], .local = -1 };
		switch (n.data.nr) {
		case __NR_connect: sup__connect(&c, &n); break;
		case __NR_getpeername: sup__getpeername(&c, &n); break;
		case __NR_getsockopt: sup__getsockopt(&c, &n); break;
		case __NR_sendto: sup__sendto(&c, &n); break;
		case __NR_sendmsg: sup__sendmsg(&c, &n); break;
		default: sup__continue(&c);
		}
		sup__done(&c);
	}
	atomic_fetch_sub(&s->receivers, 1);
	return NULL;
}

int supervise_start(struct supervisor *s)
{
	pthread_attr_t attr;
	pthread_t t;
	int err = 0;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 128 * 1024);
	err = -pthread_create(&t, &attr, sup__waiter, s);
	pthread_attr_destroy(&attr);
	if (err)
		return err;

	/* two from the start: a call finds one free while the other is on
	 * a call of its own */
	for (int i = 0; i < 2 && !err; i++)
		err = sup__spawn_receiver(s);
	return atomic_load(&s->receivers) ? 0 : err;
}
