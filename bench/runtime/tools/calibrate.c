// The same fixed work on the host and in the TCG guest, to turn guest times
// into rough native ones: a pointer chase through a random cycle in 256 KiB
// (cache-resident, branchy, load-bound, like an unwinder walking frames and
// ORC tables). Prints the nanoseconds per step.
//   calibrate [STEPS]
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define N (256 * 1024 / sizeof(uint32_t))

int main(int argc, char **argv)
{
	long steps = argc > 1 ? atol(argv[1]) : 20000000;
	static uint32_t next[N], order[N];
	struct timespec a, b;
	uint32_t i, p = 0;

	for (i = 0; i < N; i++)
		order[i] = i;
	srand(1);
	for (i = N - 1; i > 0; i--) {	/* Fisher-Yates: one random cycle */
		uint32_t j = rand() % (i + 1), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	for (i = 0; i < N; i++)
		next[order[i]] = order[(i + 1) % N];
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long s = 0; s < steps; s++)
		p = next[p] ^ (p & 1);
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.3f %u\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / steps, p);
	return 0;
}
