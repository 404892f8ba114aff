/* SPDX-License-Identifier: MIT */
/*
 * At load, resolve the real libc functions and nothing else. close, dup2,
 * fcntl and connect are async-signal-safe, and a child between fork and
 * exec or a signal handler may be the first to call one; their hooks must
 * not be where dlsym (which takes ld.so's lock and may allocate) first
 * runs. One dlsym per symbol, about 15,000 instructions in all.
 *
 * Everything else waits for the first hook with business: the state
 * (state.h) is made by the first connect to an IP, IP socket, getaddrinfo
 * of a name or gethostbyname, so a program that never connects or
 * resolves never reads resolv.conf, the namespace file or the table. Its
 * trace init line still comes before its first decision. Here rather than
 * in real.c: ldmeshctl links the preload's core and has no hooks.
 */
#include "real.h"

__attribute__((constructor)) static void hook_init__ctor(void)
{
	real_init();
}
