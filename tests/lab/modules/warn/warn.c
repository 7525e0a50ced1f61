// Warns on load: the lab must notice a kernel WARN and fail the run.
#include <linux/module.h>
#include <linux/bug.h>

static int __init kx_warn_init(void)
{
	WARN(1, "kx_warn: deliberate warning for the lab test\n");
	return 0;
}

static void __exit kx_warn_exit(void) {}

module_init(kx_warn_init);
module_exit(kx_warn_exit);
MODULE_LICENSE("GPL");
