// SPDX-License-Identifier: GPL-2.0
/*
 * Workload of the paper's SHRINK_BATCH case study (Fig. 11 middle): writes
 * blocks sequentially into a large anonymous mapping and, every REUSE_EVERY
 * blocks, overwrites one written a little earlier (data analytics with a
 * memory budget: run it in a memory cgroup smaller than the mapping, so
 * reclaim keeps swapping). Prints one line: seconds p99_block_us
 *
 *   reuse MAP_MIB PASSES
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define BLOCK (64 * 1024UL)
#define REUSE_EVERY 4
#define REUSE_BACK 64	/* blocks: 4 MiB behind the write front */

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s MAP_MIB PASSES\n", argv[0]);
		return 2;
	}
	size_t blocks = strtoul(argv[1], NULL, 0) * 1024 * 1024 / BLOCK;
	int passes = atoi(argv[2]);
	char *map = mmap(NULL, blocks * BLOCK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	double *lat = malloc(sizeof(double) * blocks * passes);
	size_t n = 0;

	if (map == MAP_FAILED || !lat) {
		perror("mmap");
		return 1;
	}
	double t0 = now();
	for (int p = 0; p < passes; p++)
		for (size_t b = 0; b < blocks; b++) {
			double s = now();
			/* Each block's bytes differ, so compressed swap cannot fold them away. */
			memset(map + b * BLOCK, (int)(b * 31 + p), BLOCK);
			for (size_t i = 0; i < BLOCK; i += 4096)
				*(uint64_t *)(map + b * BLOCK + i) = b * 0x9e3779b97f4a7c15ULL + i;
			if (b % REUSE_EVERY == 0 && b >= REUSE_BACK)
				memset(map + (b - REUSE_BACK) * BLOCK, p, BLOCK / 2);
			lat[n++] = now() - s;
		}
	double total = now() - t0;
	qsort(lat, n, sizeof(*lat), cmp);
	printf("%.3f %.0f\n", total, lat[n * 99 / 100] * 1e6);
	return 0;
}
