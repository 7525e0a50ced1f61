// The smallest out-of-tree module: proves modules built against the
// profile's headers (with BTF added by kx) load and unload in the lab.
#include <linux/module.h>
#include <linux/kprobes.h>

static int kx_hello_value = 42;
module_param(kx_hello_value, int, 0444);

static int __init kx_hello_init(void)
{
	pr_info("kx_hello: loaded, value %d\n", kx_hello_value);
	return 0;
}

static void __exit kx_hello_exit(void)
{
	pr_info("kx_hello: unloaded\n");
}

module_init(kx_hello_init);
module_exit(kx_hello_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kernelx lab test module");
