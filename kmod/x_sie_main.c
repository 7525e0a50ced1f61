// SPDX-License-Identifier: GPL-2.0
/*
 * x-sie.ko, the X-runtime (paper §4): applies the proven indirections of
 * perf-consts to the running kernel through kprobes at their critical spans.
 * Controlled by root through /dev/x-sie (x_sie_uapi.h).
 */
#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/uaccess.h>

#include "x_sie.h"

static long xsie_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;
	long ret;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	switch (cmd) {
	case X_SIE_IOC_LOAD: {
		struct x_sie_load *req = kzalloc(sizeof(*req), GFP_KERNEL);

		if (!req)
			return -ENOMEM;
		if (copy_from_user(req, uarg, sizeof(*req))) {
			kfree(req);
			return -EFAULT;
		}
		ret = xsie_load(req);
		/* Back even on failure: the error text names what was refused. */
		if (copy_to_user(uarg, req, sizeof(*req)))
			ret = ret ? ret : -EFAULT;
		kfree(req);
		return ret;
	}
	case X_SIE_IOC_UNLOAD: {
		struct x_sie_unload req;

		if (copy_from_user(&req, uarg, sizeof(req)))
			return -EFAULT;
		ret = xsie_unload(&req);
		if (copy_to_user(uarg, &req, sizeof(req)))
			ret = ret ? ret : -EFAULT;
		return ret;
	}
	case X_SIE_IOC_STATUS: {
		struct x_sie_status req;

		if (copy_from_user(&req, uarg, sizeof(req)))
			return -EFAULT;
		ret = xsie_status(&req);
		if (!ret && copy_to_user(uarg, &req, sizeof(req)))
			ret = -EFAULT;
		return ret;
	}
	default:
		return -ENOTTY;
	}
}

static int xsie_open(struct inode *inode, struct file *file)
{
	return capable(CAP_SYS_ADMIN) ? 0 : -EPERM;
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
	int ret = xsie_handlers_init();

	if (ret)
		return ret;
	ret = misc_register(&xsie_dev);
	if (ret) {
		xsie_handlers_exit();
		return ret;
	}
	pr_info("x_sie: loaded, ABI %u, /dev/%s\n", X_SIE_ABI_VERSION, X_SIE_DEVICE);
	return 0;
}

static void __exit xsie_exit(void)
{
	misc_deregister(&xsie_dev);
	xsie_unload_all();	/* none unless removal was forced */
	xsie_handlers_exit();
	pr_info("x_sie: unloaded\n");
}

module_init(xsie_init);
module_exit(xsie_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kernelx X-runtime: scoped indirect execution of perf-const updates");
