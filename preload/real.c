/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "real.h"

#include <dlfcn.h>
#include <pthread.h>
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

static void *real__load(const char *name, int required)
{
	Dl_info self, got;
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
	 * itself. Compare load bases rather than against the hooks' addresses
	 * so the check works in the unit tests too, where there are no hooks.
	 */
	if (dladdr((void *)real__load, &self) && dladdr(p, &got) &&
	    self.dli_fbase == got.dli_fbase)
		real__die(name, "returned libldmesh's own wrapper");
	return p;
}

static void real__init_once(void)
{
	real.connect = (real_connect_fn)real__load("connect", 1);
	real.getaddrinfo = (real_getaddrinfo_fn)real__load("getaddrinfo", 1);
	real.freeaddrinfo = (real_freeaddrinfo_fn)real__load("freeaddrinfo", 1);
	real.gethostbyname = (real_gethostbyname_fn)real__load("gethostbyname", 1);
	real.gethostbyname2 = (real_gethostbyname2_fn)real__load("gethostbyname2", 1);
	real.gethostbyname_r =
		(real_gethostbyname_r_fn)real__load("gethostbyname_r", 1);
	real.gethostbyname2_r =
		(real_gethostbyname2_r_fn)real__load("gethostbyname2_r", 1);
	real.getpeername = (real_getpeername_fn)real__load("getpeername", 1);
	real.close = (real_close_fn)real__load("close", 1);
	real.dup = (real_dup_fn)real__load("dup", 1);
	real.dup2 = (real_dup2_fn)real__load("dup2", 1);
	real.dup3 = (real_dup3_fn)real__load("dup3", 1);
	real.socket = (real_socket_fn)real__load("socket", 1);
	real.fcntl = (real_fcntl_fn)real__load("fcntl", 1);
	real.fcntl64 = (real_fcntl_fn)real__load("fcntl64", 0);
	if (!real.fcntl64)
		real.fcntl64 = real.fcntl;
}

void real_init(void)
{
	pthread_once(&real__once, real__init_once);
}
