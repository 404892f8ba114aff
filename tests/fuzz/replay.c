/* SPDX-License-Identifier: MIT */
/*
 * Replays files through a fuzz target without libFuzzer, so every compiler
 * and sanitizer build runs the targets' checks over the seed corpora and
 * over every crash ever found (kept beside the seeds as regression inputs:
 * tests/fuzz/corpus/<target>/crash-*). Arguments: files or folders.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long len;
	int ret = 1;

	if (!f || fseek(f, 0, SEEK_END) || (len = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET))
		goto out;
	buf = malloc(len ? (size_t)len : 1);
	if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len)
		goto out;
	LLVMFuzzerTestOneInput(buf, (size_t)len);
	ret = 0;
out:
	if (ret)
		fprintf(stderr, "%s: cannot read\n", path);
	free(buf);
	if (f)
		fclose(f);
	return ret;
}

int main(int argc, char **argv)
{
	unsigned files = 0;
	int err = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;
		struct dirent **names;
		int n;

		if (stat(argv[i], &st) || !S_ISDIR(st.st_mode)) {
			err |= replay_file(argv[i]);
			files++;
			continue;
		}
		n = scandir(argv[i], &names, NULL, alphasort);
		for (int k = 0; k < n; k++) {
			char path[4096];

			if (names[k]->d_name[0] != '.') {
				snprintf(path, sizeof(path), "%s/%s", argv[i],
					 names[k]->d_name);
				err |= replay_file(path);
				files++;
			}
			free(names[k]);
		}
		free(n >= 0 ? names : NULL);
	}
	printf("replayed %u inputs\n", files);
	return err || !files;
}
