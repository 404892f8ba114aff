/* SPDX-License-Identifier: MIT */
/*
 * Where a stage reports what is wrong with its input ("path:line:col:
 * message"): the manifest parser, the folder scan, the model. Below them
 * all, so each can report without knowing the others; log.h prints one.
 */
#ifndef LDMESH_AGENT_DIAG_H
#define LDMESH_AGENT_DIAG_H

struct diag {
	/* Called once per problem with a full "path:line:col: message" line. */
	void (*report)(void *ctx, const char *line);
	/* Optional: the same for what is passed over, not an error (a
	 * document of another kind); `-v` logs these. */
	void (*note)(void *ctx, const char *line);
	/* Optional: a problem that does not refuse the file (what it names
	 * is left out, the rest is applied), "path:line:col: warning: ...";
	 * NULL sends it to `report` (without counting an error). */
	void (*warn)(void *ctx, const char *line);
	void *ctx;
	unsigned errors; /* incremented for every report */
};

#endif
