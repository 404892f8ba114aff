/* SPDX-License-Identifier: MIT */
/*
 * The synced marker: the contract between whatever feeds the manifest
 * folder from the API server (ldmesh-sync) and the agent. The feeder
 * writes DIR/.ldmesh-synced once its first complete list of every resource
 * is in the folder, rewrites it well within LDMESH_MARKER_FRESH_S while it
 * keeps up, and removes it once it has lost the server. An agent run with
 * --require-sync publishes its table as complete only while the marker is
 * there and was written less than LDMESH_MARKER_FRESH_S ago (its mtime):
 * a feeder that died without removing it stops counting within that time.
 * A hidden name, so the agent's scanner never reads it as a manifest.
 */
#ifndef LDMESH_MARKER_H
#define LDMESH_MARKER_H

#define LDMESH_MARKER_NAME ".ldmesh-synced"
#define LDMESH_MARKER_FRESH_S 30

#endif
