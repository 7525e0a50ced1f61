// SPDX-License-Identifier: GPL-2.0
/*
 * A test shrinker for the SHRINK_BATCH lab test: it always has objects, so
 * do_shrink_slab scans it in batches of SHRINK_BATCH (its ->batch is 0), and
 * it records each scan's nr_to_scan. With sleep_ms set, one scan sleeps
 * there: the task then sits inside SHRINK_BATCH's safe span, whose
 * transition must wait for it.
 */
#include <linux/delay.h>
#include <linux/module.h>
#include <linux/shrinker.h>

static unsigned long last_nr_to_scan, max_nr_to_scan, scans;
static unsigned int sleep_ms, sleeping;
module_param(sleeping, uint, 0444);	/* a scan is asleep inside the span now */
module_param(last_nr_to_scan, ulong, 0444);
module_param(max_nr_to_scan, ulong, 0644);
module_param(scans, ulong, 0444);
module_param(sleep_ms, uint, 0644);

static unsigned long count(struct shrinker *s, struct shrink_control *sc)
{
	return 1UL << 20;
}

static unsigned long scan(struct shrinker *s, struct shrink_control *sc)
{
	unsigned int ms = xchg(&sleep_ms, 0);

	WRITE_ONCE(last_nr_to_scan, sc->nr_to_scan);
	if (sc->nr_to_scan > READ_ONCE(max_nr_to_scan))
		WRITE_ONCE(max_nr_to_scan, sc->nr_to_scan);
	WRITE_ONCE(scans, scans + 1);
	if (ms) {
		WRITE_ONCE(sleeping, 1);
		msleep(ms);
		WRITE_ONCE(sleeping, 0);
	}
	return SHRINK_STOP;	/* one batch per pass */
}

static struct shrinker slow = {
	.count_objects = count,
	.scan_objects = scan,
	.seeks = 7,	/* what examples/policies/per_shrinker.bpf.c picks it by */
};

static int __init slow_init(void)
{
	return register_shrinker(&slow, "kx-slow");
}

static void __exit slow_exit(void)
{
	unregister_shrinker(&slow);
}

module_init(slow_init);
module_exit(slow_exit);
MODULE_LICENSE("GPL");
