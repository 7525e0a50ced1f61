// SPDX-License-Identifier: GPL-2.0
/*
 * Workload of the paper's NR_MAX_BATCHED_MIGRATION case study (Fig. 11
 * right): one thread on CPU 0 keeps touching random pages of a hot region
 * and records each access's latency, while a thread on CPU 1 keeps moving
 * the region's pages between NUMA nodes with move_pages(2), so the hot
 * region shifts under the toucher. Prints one line:
 *   accesses p50_ns p99_ns p999_ns max_ns pages_migrated migrate_calls
 *
 *   numa_hot HOT_MIB SECONDS
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MPOL_MF_MOVE (1 << 1)
#define PAGE 4096UL
/* Log-linear latency histogram: 16 sub-buckets per power of two (~6 %). */
#define SUB 16
#define BUCKETS (64 * SUB)

static char *region;
static size_t pages;
static atomic_int stop;
static uint64_t hist[BUCKETS];
static uint64_t accesses, max_ns, migrated, calls;

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000ULL + t.tv_nsec;
}

static int bucket(uint64_t ns)
{
	if (ns < SUB)
		return ns;
	int top = 63 - __builtin_clzll(ns);
	return top * SUB + ((ns >> (top - 4)) & (SUB - 1));
}

static uint64_t bucket_floor(int b)
{
	if (b < SUB)
		return b;
	int top = b / SUB;
	return (1ULL << top) | ((uint64_t)(b % SUB) << (top - 4));
}

static uint64_t percentile(double p)
{
	uint64_t want = accesses * p, seen = 0;

	for (int b = 0; b < BUCKETS; b++) {
		seen += hist[b];
		if (seen > want)
			return bucket_floor(b);
	}
	return max_ns;
}

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		perror("sched_setaffinity");
		exit(1);
	}
}

static void *toucher(void *arg)
{
	uint64_t x = 88172645463325252ULL;	/* xorshift: cheap, no libc lock */

	pin(0);
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		volatile uint64_t *p = (uint64_t *)(region + (x % pages) * PAGE);
		uint64_t t0 = now_ns();
		*p += 1;
		uint64_t d = now_ns() - t0;
		hist[bucket(d)]++;
		accesses++;
		if (d > max_ns)
			max_ns = d;
	}
	return arg;
}

static void *migrator(void *arg)
{
	void **addr = calloc(pages, sizeof(*addr));
	int *node = calloc(pages, sizeof(*node)), *status = calloc(pages, sizeof(*status));
	int target = 1;

	pin(1);
	for (size_t i = 0; i < pages; i++)
		addr[i] = region + i * PAGE;
	while (!atomic_load(&stop)) {
		for (size_t i = 0; i < pages; i++)
			node[i] = target;
		if (syscall(SYS_move_pages, 0, pages, addr, node, status, MPOL_MF_MOVE) < 0) {
			perror("move_pages");
			exit(1);
		}
		for (size_t i = 0; i < pages; i++)
			migrated += status[i] == target;
		calls++;
		target ^= 1;
	}
	return arg;
}

int main(int argc, char **argv)
{
	pthread_t t, m;

	if (argc != 3) {
		fprintf(stderr, "usage: %s HOT_MIB SECONDS\n", argv[0]);
		return 2;
	}
	pages = strtoul(argv[1], NULL, 0) * 1024 * 1024 / PAGE;
	region = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (region == MAP_FAILED || madvise(region, pages * PAGE, MADV_NOHUGEPAGE)) {
		perror("mmap");
		return 1;
	}
	/* First touch from CPU 0: the region starts on node 0, so the first
	 * move to node 1 migrates every page instead of finding some there. */
	pin(0);
	memset(region, 1, pages * PAGE);
	pthread_create(&t, NULL, toucher, NULL);
	pthread_create(&m, NULL, migrator, NULL);
	sleep(strtoul(argv[2], NULL, 0));
	atomic_store(&stop, 1);
	pthread_join(t, NULL);
	pthread_join(m, NULL);
	printf("%lu %lu %lu %lu %lu %lu %lu\n", accesses, percentile(0.5), percentile(0.99),
	       percentile(0.999), max_ns, migrated, calls);
	return 0;
}
