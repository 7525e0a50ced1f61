// SPDX-License-Identifier: GPL-2.0
/*
 * Fig. 20 microbenchmark: a shrinker whose scan descends `depth` levels of
 * real calls and spends `level_us` at each, so a task driving drop_caches
 * spends depth*level_us inside SHRINK_BATCH's safe span (the span of
 * do_shrink_slab holds the ->scan_objects call). More levels make the span
 * longer in time; more threads make "nobody inside" rarer. With `sleep`
 * each level sleeps (usleep_range) instead of spinning: on this
 * non-preemptible kernel a spinning task is never caught inside by the
 * stop_machine scan, a sleeping one is.
 */
#include <linux/delay.h>
#include <linux/module.h>
#include <linux/shrinker.h>

static unsigned int depth = 1, level_us = 50;
static bool sleep;
static unsigned long scans;
module_param(depth, uint, 0644);
module_param(sleep, bool, 0644);
module_param(level_us, uint, 0644);
module_param(scans, ulong, 0444);

/* The add after the call keeps each level a frame (no tail call). */
static noinline unsigned long descend(unsigned int d)
{
	unsigned long below;
	unsigned int us = READ_ONCE(level_us);

	if (READ_ONCE(sleep))
		usleep_range(us, us + us / 4 + 1);
	else
		udelay(us);
	if (d <= 1)
		return 1;
	below = descend(d - 1);
	barrier();
	return below + 1;
}

static unsigned long count(struct shrinker *s, struct shrink_control *sc)
{
	return 1UL << 20;
}

static unsigned long scan(struct shrinker *s, struct shrink_control *sc)
{
	descend(READ_ONCE(depth));
	WRITE_ONCE(scans, scans + 1);
	return SHRINK_STOP;	/* one batch per shrink_slab pass */
}

static struct shrinker ss_depth = {
	.count_objects = count,
	.scan_objects = scan,
	.seeks = DEFAULT_SEEKS,
};

static int __init ss_depth_init(void)
{
	return register_shrinker(&ss_depth, "kx-ss-depth");
}

static void __exit ss_depth_exit(void)
{
	unregister_shrinker(&ss_depth);
}

module_init(ss_depth_init);
module_exit(ss_depth_exit);
MODULE_LICENSE("GPL");
