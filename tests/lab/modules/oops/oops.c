// Oopses on load (a NULL dereference in its init): the lab must end the run
// at once and show the trace, not wait for --timeout.
#include <linux/module.h>

static int *kx_nowhere;

static int __init kx_oops_init(void)
{
	return READ_ONCE(*kx_nowhere);
}

module_init(kx_oops_init);
MODULE_LICENSE("GPL");
