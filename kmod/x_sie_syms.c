// SPDX-License-Identifier: GPL-2.0
/*
 * Kernel symbols a module is not given, found once at load through
 * kallsyms_lookup_name (itself found by registering a kprobe on it, the way
 * out-of-tree tracers do since 5.7):
 *  - bpf_prog_active: the per-CPU count trace_call_bpf() guards BPF
 *    programs with; policies run under the same guard (x_sie_policy.c);
 *  - idle_task(): the idle tasks are not on the task list, yet they run
 *    interrupts and may sit in a safe span (x_sie_transition.c);
 *  - vmlinux_build_id: a transaction analysed for another build is refused;
 *  - _stext/_etext: live bytes are read from kernel text only;
 *  - text_poke, text_poke_sync, text_mutex, kprobe_mutex, get_kprobe: the
 *    static path rewrites an immediate the way text_poke_bp() does
 *    (x_sie_static.c).
 * Each is required: without one the module does not load.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kallsyms.h>
#include <linux/kprobes.h>
#include <linux/percpu.h>
#include <linux/string.h>

#include "x_sie.h"

int __percpu *xsie_bpf_prog_active;
static struct task_struct *(*xsie_idle_task_fn)(int cpu);
static const u8 *xsie_vmlinux_build_id;
static unsigned long xsie_stext, xsie_etext;
struct mutex *xsie_text_mutex, *xsie_kprobe_mutex;
void *(*xsie_text_poke)(void *addr, const void *opcode, size_t len);
void (*xsie_text_poke_sync)(void);
struct kprobe *(*xsie_get_kprobe)(void *addr);

static unsigned long (*xsie_lookup_fn)(const char *name);

static int xsie_find_lookup(void)
{
	struct kprobe kp = { .symbol_name = "kallsyms_lookup_name" };
	int ret = register_kprobe(&kp);

	if (ret) {
		pr_err("cannot find kallsyms_lookup_name (register_kprobe: %d)\n", ret);
		return ret;
	}
	xsie_lookup_fn = (unsigned long (*)(const char *))kp.addr;
	unregister_kprobe(&kp);
	return 0;
}

static unsigned long xsie_lookup(const char *name, int *err)
{
	unsigned long a = xsie_lookup_fn(name);

	if (!a) {
		pr_err("the running kernel has no symbol %s\n", name);
		*err = -ENOENT;
	}
	return a;
}

int xsie_syms_init(void)
{
	int err = xsie_find_lookup();

	if (err)
		return err;
	/* A per-CPU symbol's value is its offset in the per-CPU area (absolute kallsyms). */
	xsie_bpf_prog_active = (int __percpu *)xsie_lookup("bpf_prog_active", &err);
	xsie_idle_task_fn = (void *)xsie_lookup("idle_task", &err);
	xsie_vmlinux_build_id = (const u8 *)xsie_lookup("vmlinux_build_id", &err);
	xsie_stext = xsie_lookup("_stext", &err);
	xsie_etext = xsie_lookup("_etext", &err);
	xsie_text_mutex = (struct mutex *)xsie_lookup("text_mutex", &err);
	xsie_kprobe_mutex = (struct mutex *)xsie_lookup("kprobe_mutex", &err);
	xsie_text_poke = (void *)xsie_lookup("text_poke", &err);
	xsie_text_poke_sync = (void *)xsie_lookup("text_poke_sync", &err);
	xsie_get_kprobe = (void *)xsie_lookup("get_kprobe", &err);
	return err;
}

struct task_struct *xsie_idle_task(int cpu)
{
	return xsie_idle_task_fn(cpu);
}

/* [addr, addr + len) lies in the core kernel's text (never init text, data or MMIO). */
bool xsie_core_text(unsigned long addr, size_t len)
{
	return len && addr >= xsie_stext && addr < xsie_etext && len <= xsie_etext - addr;
}

bool xsie_build_id_matches(const u8 *id)
{
	return !memcmp(xsie_vmlinux_build_id, id, X_SIE_BUILD_ID_LEN);
}
