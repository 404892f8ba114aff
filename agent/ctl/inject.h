/* SPDX-License-Identifier: MIT */
/*
 * ldmeshctl inject / uninject: what `linkerd inject` does for a sidecar,
 * for the preload. Kubernetes YAML in (Pods, the workloads that carry a pod
 * template, `kind: List`, several documents), the same YAML out with every
 * pod template set up for ldmesh, or with that set-up taken out again.
 * Anything that is not a pod carrier passes through unchanged.
 *
 * What a pod template gets (the layout of examples/deploy/ldmesh.yaml, where
 * the agent's DaemonSet installs the libraries on the node):
 *   - volumes `ldmesh-table` (hostPath /run/ldmesh, the table's parent)
 *     and `ldmesh-lib` (hostPath /opt/ldmesh), both mounted read-only in
 *     every container and init container;
 *   - env LD_PRELOAD=/opt/ldmesh/libldmesh.so (libldmesh-musl.so with
 *     `musl`), put in front of a LD_PRELOAD the container already has, and
 *     LDMESH_NAMESPACE from the downward API (metadata.namespace);
 *   - with `exec`, each container's command behind `/opt/ldmesh/ldmesh-exec
 *     --` (a container with no command is named on stderr: its image's
 *     entrypoint is not known here).
 * Injecting twice is injecting once; uninject removes exactly these.
 */
#ifndef LDMESH_CTL_INJECT_H
#define LDMESH_CTL_INJECT_H

#include <stdbool.h>
#include <stdio.h>

struct inject_opts {
	bool undo;  /* uninject */
	bool exec;  /* wrap commands in ldmesh-exec */
	bool musl;  /* the musl library */
};

/*
 * Read every document of `in` (named `name` in messages), write the result
 * to `out`; notes about containers left alone go to `err`. 0 on success;
 * 1 when the input is not YAML (`name:line:col: problem` on `err`, nothing
 * more written).
 */
int ctl_inject(FILE *in, const char *name, FILE *out, FILE *err,
	       const struct inject_opts *o);

#endif
