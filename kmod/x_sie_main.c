// SPDX-License-Identifier: GPL-2.0
/*
 * x-sie.ko, the X-runtime (paper §4): applies the proven indirections of
 * perf-consts to the running kernel through kprobes at their critical spans.
 * Controlled through /dev/x-sie (x_sie_uapi.h).
 *
 * A transaction writes kernel registers and memory where its updates say,
 * so the device asks for what loading a module and a BPF program ask for:
 * CAP_SYS_MODULE, and CAP_SYS_ADMIN or CAP_BPF with CAP_PERFMON. A kernel
 * locked down for integrity accepts no new transaction (unloading one,
 * which restores the compiled code, stays possible); one locked down for
 * confidentiality does not show where probes sit either.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/security.h>
#include <linux/uaccess.h>

#include "x_sie.h"

/*
 * Tests only: the fail_nth-th fallible step (an allocation, a kprobe
 * registration) of what the module does next fails, once. 0: never.
 */
static unsigned int fail_nth;
module_param(fail_nth, uint, 0600);
MODULE_PARM_DESC(fail_nth, "tests: make the Nth fallible step from now fail once (0: off)");

bool xsie_should_fail(void)
{
	unsigned int n = READ_ONCE(fail_nth);

	while (n && cmpxchg(&fail_nth, n, n - 1) != n)
		n = READ_ONCE(fail_nth);
	return n == 1;
}

static bool xsie_permitted(void)
{
	return capable(CAP_SYS_MODULE) &&
	       (capable(CAP_SYS_ADMIN) || (capable(CAP_BPF) && capable(CAP_PERFMON)));
}

static long xsie_ioctl_load(void __user *uarg)
{
	struct x_sie_load *req = kzalloc(sizeof(*req), GFP_KERNEL);
	long ret;

	if (!req)
		return -ENOMEM;
	if (copy_from_user(req, uarg, sizeof(*req))) {
		ret = -EFAULT;
		goto out;
	}
	if (security_locked_down(LOCKDOWN_DEV_MEM)) {
		memset(req->error, 0, sizeof(req->error));
		snprintf(req->error, sizeof(req->error),
			 "the kernel is locked down: x-sie.ko does not write kernel state under lockdown");
		ret = -EPERM;
	} else {
		ret = xsie_load(req);
	}
	/* Back even on failure: the error text names what was refused. */
	if (copy_to_user(uarg, req, sizeof(*req)) && !ret)
		ret = -EFAULT;
out:
	kfree(req);
	return ret;
}

static long xsie_ioctl_unload(void __user *uarg)
{
	struct x_sie_unload req;
	long ret;

	if (copy_from_user(&req, uarg, sizeof(req)))
		return -EFAULT;
	ret = xsie_unload(&req);
	if (copy_to_user(uarg, &req, sizeof(req)) && !ret)
		ret = -EFAULT;
	return ret;
}

static long xsie_ioctl_status(void __user *uarg)
{
	struct x_sie_status req;
	long ret;

	if (security_locked_down(LOCKDOWN_KPROBES))
		return -EPERM;
	if (copy_from_user(&req, uarg, sizeof(req)))
		return -EFAULT;
	ret = xsie_status(&req);
	if (!ret && copy_to_user(uarg, &req, sizeof(req)))
		ret = -EFAULT;
	return ret;
}

static long xsie_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	if (!xsie_permitted())
		return -EPERM;
	switch (cmd) {
	case X_SIE_IOC_LOAD:
		return xsie_ioctl_load(uarg);
	case X_SIE_IOC_UNLOAD:
		return xsie_ioctl_unload(uarg);
	case X_SIE_IOC_STATUS:
		return xsie_ioctl_status(uarg);
	default:
		return -ENOTTY;
	}
}

static int xsie_open(struct inode *inode, struct file *file)
{
	return xsie_permitted() ? 0 : -EPERM;
}

static const struct file_operations xsie_fops = {
	.owner = THIS_MODULE,
	.open = xsie_open,
	.unlocked_ioctl = xsie_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice xsie_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = X_SIE_DEVICE,
	.fops = &xsie_fops,
	.mode = 0600,
};

static int __init xsie_init(void)
{
	int ret;

	/* Safe spans are found on stacks by the ORC unwinder; the frame-pointer one guesses. */
	if (!IS_ENABLED(CONFIG_UNWINDER_ORC)) {
		pr_err("this kernel has no ORC unwinder (CONFIG_UNWINDER_ORC): stacks cannot be checked\n");
		return -EOPNOTSUPP;
	}
	ret = xsie_syms_init();
	if (ret)
		return ret;
	ret = xsie_handlers_init();
	if (ret)
		return ret;
	ret = misc_register(&xsie_dev);
	if (ret)
		goto err_handlers;
	pr_info("loaded, ABI %u, /dev/%s\n", X_SIE_ABI_VERSION, X_SIE_DEVICE);
	return 0;
err_handlers:
	xsie_handlers_exit();
	return ret;
}

static void __exit xsie_exit(void)
{
	misc_deregister(&xsie_dev);
	xsie_unload_all();	/* none unless removal was forced */
	xsie_handlers_exit();
	pr_info("unloaded\n");
}

module_init(xsie_init);
module_exit(xsie_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kernelx X-runtime: scoped indirect execution of perf-const updates");
