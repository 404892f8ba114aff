/* SPDX-License-Identifier: MIT */
/*
 * Symbol visibility. libldmesh.so is built with -fvisibility=hidden, so only
 * what carries LDMESH_EXPORT lands in the dynamic symbol table: the hooks,
 * nothing else. Internal globals are marked LDMESH_HIDDEN at their extern
 * declaration too, so other files reach them without a GOT load.
 */
#ifndef LDMESH_PRELOAD_EXPORT_H
#define LDMESH_PRELOAD_EXPORT_H

#define LDMESH_EXPORT __attribute__((visibility("default")))
#define LDMESH_HIDDEN __attribute__((visibility("hidden")))

/* Thread-locals touched on the connect path: initial-exec so an access is
 * one %fs-relative load, never a __tls_get_addr call (which may allocate). */
#define LDMESH_TLS_IE __attribute__((tls_model("initial-exec")))

#endif
