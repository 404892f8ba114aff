/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "real.h"

#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct real_fns real;

static pthread_once_t real__once = PTHREAD_ONCE_INIT;

/* No stdio: this runs before anything else, maybe inside another library's
 * constructor, and must not allocate. */
static void real__die(const char *name, const char *what)
{
	static const char pfx[] = "ldmesh: fatal: dlsym(RTLD_NEXT, \"";
	(void)!write(2, pfx, sizeof(pfx) - 1);
	(void)!write(2, name, strlen(name));
	(void)!write(2, "\") ", 3);
	(void)!write(2, what, strlen(what));
	(void)!write(2, "\n", 1);
	abort();
}

/*
 * This object's extent, [lo, hi), from its PT_LOAD segments: found once by
 * real__find_self, so the self-check per symbol is two compares. dladdr
 * would scan symbol tables instead, about 48,000 instructions a call, in
 * every process on the node. 0, 0 (never found) disables the check, as a
 * failing dladdr did.
 */
static uintptr_t real__self_lo, real__self_hi;

static int real__find_self(struct dl_phdr_info *info, size_t size, void *data)
{
	uintptr_t here = (uintptr_t)data, lo = UINTPTR_MAX, hi = 0;

	(void)size;
	for (size_t i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t a = (uintptr_t)info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type != PT_LOAD)
			continue;
		if (a < lo)
			lo = a;
		if (a + ph->p_memsz > hi)
			hi = a + ph->p_memsz;
	}
	/* ld.so reserves an object's whole span before mapping its segments,
	 * so nothing else lives in the gaps between them */
	if (here < lo || here >= hi)
		return 0;
	real__self_lo = lo;
	real__self_hi = hi;
	return 1;
}

bool real_is_self(const void *p)
{
	uintptr_t a = (uintptr_t)p;

	return a >= real__self_lo && a < real__self_hi;
}

static void *real__load(const char *name, int required)
{
	void *p;

	dlerror();
	p = dlsym(RTLD_NEXT, name);
	if (!p) {
		if (required)
			real__die(name, "found nothing");
		return NULL;
	}
	/*
	 * RTLD_NEXT searches after the calling object; if it still lands in
	 * this library (loaded twice, or linked oddly), every hook would call
	 * itself. Bounds rather than the hooks' addresses, so the check works
	 * in the unit tests too, where the core has no hooks.
	 */
	if (real_is_self(p))
		real__die(name, "returned libldmesh's own wrapper");
	return p;
}

static void real__init_once(void)
{
	dl_iterate_phdr(real__find_self, (void *)real__find_self);
	real.connect = (real_connect_fn)real__load("connect", 1);
	real.getaddrinfo = (real_getaddrinfo_fn)real__load("getaddrinfo", 1);
	real.freeaddrinfo = (real_freeaddrinfo_fn)real__load("freeaddrinfo", 1);
	real.gethostbyname = (real_gethostbyname_fn)real__load("gethostbyname", 1);
	real.gethostbyname2 = (real_gethostbyname2_fn)real__load("gethostbyname2", 1);
	real.gethostbyname_r =
		(real_gethostbyname_r_fn)real__load("gethostbyname_r", 1);
	real.gethostbyname2_r =
		(real_gethostbyname2_r_fn)real__load("gethostbyname2_r", 1);
	real.gethostbyaddr = (real_gethostbyaddr_fn)real__load("gethostbyaddr", 1);
	real.gethostbyaddr_r = (real_gethostbyaddr_r_fn)real__load("gethostbyaddr_r", 1);
	real.getnameinfo = (real_getnameinfo_fn)real__load("getnameinfo", 1);
	real.getpeername = (real_getpeername_fn)real__load("getpeername", 1);
	real.getsockopt = (real_getsockopt_fn)real__load("getsockopt", 1);
	real.setsockopt = (real_setsockopt_fn)real__load("setsockopt", 1);
	real.send = (real_send_fn)real__load("send", 1);
	real.sendto = (real_sendto_fn)real__load("sendto", 1);
	real.sendmsg = (real_sendmsg_fn)real__load("sendmsg", 1);
	real.sendmmsg = (real_sendmmsg_fn)real__load("sendmmsg", 1);
	real.recvfrom = (real_recvfrom_fn)real__load("recvfrom", 1);
	real.recvmsg = (real_recvmsg_fn)real__load("recvmsg", 1);
	real.recvmmsg = (real_recvmmsg_fn)real__load("recvmmsg", 1);
	real.close = (real_close_fn)real__load("close", 1);
	real.dup = (real_dup_fn)real__load("dup", 1);
	real.dup2 = (real_dup2_fn)real__load("dup2", 1);
	real.dup3 = (real_dup3_fn)real__load("dup3", 1);
	real.socket = (real_socket_fn)real__load("socket", 1);
	real.fcntl = (real_fcntl_fn)real__load("fcntl", 1);
	real.fcntl64 = (real_fcntl_fn)real__load("fcntl64", 0);
	if (!real.fcntl64)
		real.fcntl64 = real.fcntl;
	real.close_range = (real_close_range_fn)real__load("close_range", 0);
	real.closefrom = (real_closefrom_fn)real__load("closefrom", 0);
}

void real_init(void)
{
	pthread_once(&real__once, real__init_once);
}

static void real__init_unhooked_once(void)
{
	real.close = close;
	real.socket = socket;   /* report_send.c */
	real.sendto = sendto;
}

void real_init_unhooked(void)
{
	pthread_once(&real__once, real__init_unhooked_once);
}
