/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * The control ABI of x-sie.ko (/dev/x-sie), shared by the module and kx.
 *
 * User space loads a *transaction*: several perf-consts, each with a new
 * value (or an eBPF policy that picks it) and the critical spans (paper §3.4)
 * where its indirection runs. Per span the module registers, by address, a
 * kprobe with a pre-handler only at the instruction after the span (the
 * update) and, for dual-location spans, one at the span's start that captures
 * the inputs the update reads. The safe spans (paper §3.5) of the consts get
 * monitor kprobes at their entry and exits while the transaction switches
 * between the compiled and the new behaviour (paper §3.6).
 *
 * Every structure is fixed-size, has no implicit padding, and is validated
 * field by field by the module; padding must be zero. The update is a
 * bounded, loop-free program over the operations of the update language
 * (src/synth/update_expr.h): node i may only read nodes before it, so one
 * forward pass evaluates it. A program may read the memory its span reads
 * (LOAD): when that read faults, the update does not run.
 */
#ifndef X_SIE_UAPI_H
#define X_SIE_UAPI_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define X_SIE_DEVICE "x-sie"
#define X_SIE_ABI_VERSION 5

/* Bounds of everything the module copies in. */
#define X_SIE_MAX_CONSTS 16
#define X_SIE_MAX_SPANS 32	/* per transaction */
#define X_SIE_MAX_NODES 192	/* per update program (indices are __u8) */
#define X_SIE_MAX_ASSIGNS 16	/* per update program */
#define X_SIE_MAX_INSN 15	/* expected bytes per probed address */
#define X_SIE_NAME_LEN 64
#define X_SIE_LABEL_LEN 96
#define X_SIE_ERROR_LEN 256
#define X_SIE_NR_REGS 16
#define X_SIE_MAX_SS 32		/* safe spans per transaction */
#define X_SIE_MAX_SS_EXITS 15	/* exit sites per safe span */
#define X_SIE_MAX_SS_RANGES 64	/* code ranges per safe span (stack inspection) */
#define X_SIE_MAX_TXS 64	/* active transactions */
#define X_SIE_MAX_TIMEOUT_MS 600000	/* longest unload wait: 10 minutes */
#define X_SIE_BUILD_ID_LEN 20	/* a GNU build-id (SHA-1) */
#define X_SIE_WAIT_PIDS 8	/* tasks a status names as holding a transition back */

/* Registers in x86 encoding order, as the update language names them. */
enum x_sie_reg {
	X_SIE_RAX, X_SIE_RCX, X_SIE_RDX, X_SIE_RBX, X_SIE_RSP, X_SIE_RBP, X_SIE_RSI, X_SIE_RDI,
	X_SIE_R8, X_SIE_R9, X_SIE_R10, X_SIE_R11, X_SIE_R12, X_SIE_R13, X_SIE_R14, X_SIE_R15,
};

/* Flags are named by their EFLAGS bit. */
#define X_SIE_FLAG_CF 0
#define X_SIE_FLAG_PF 2
#define X_SIE_FLAG_AF 4
#define X_SIE_FLAG_ZF 6
#define X_SIE_FLAG_SF 7
#define X_SIE_FLAG_OF 11
/* The flag bits an update may read or write. */
#define X_SIE_FLAGS_MASK ((1u << X_SIE_FLAG_CF) | (1u << X_SIE_FLAG_PF) | (1u << X_SIE_FLAG_AF) | \
			  (1u << X_SIE_FLAG_ZF) | (1u << X_SIE_FLAG_SF) | (1u << X_SIE_FLAG_OF))

/* capture_mask: bit r captures register r; this bit captures the flags. */
#define X_SIE_CAPTURE_FLAGS (1u << X_SIE_NR_REGS)
/*
 * This bit captures the task's context-switch count: the update is skipped
 * (the compiled value's store stands) when the task was switched out since,
 * so it may run on another CPU than the span's %gs: store did.
 */
#define X_SIE_CAPTURE_SWITCHES (1u << (X_SIE_NR_REGS + 1))

enum x_sie_op {
	X_SIE_OP_CONST = 1,	/* imm, of `width` bits */
	X_SIE_OP_V,		/* the new value (64) */
	X_SIE_OP_REG,		/* register `arg` at the probe (64) */
	X_SIE_OP_FLAG,		/* flag bit `arg` at the probe (1) */
	X_SIE_OP_CAP,		/* register `arg` captured at the span's start (64) */
	X_SIE_OP_CAPFLAG,	/* flag bit `arg` captured (1) */
	X_SIE_OP_EXTRACT,	/* bits [arg, arg + width) of a */
	X_SIE_OP_ZEXT,		/* a zero-extended to width */
	X_SIE_OP_SEXT,		/* a sign-extended to width */
	X_SIE_OP_CONCAT,	/* a:b (a high), width = width(a) + width(b) */
	X_SIE_OP_NOT,
	X_SIE_OP_NEG,
	X_SIE_OP_ADD,
	X_SIE_OP_SUB,
	X_SIE_OP_MUL,
	X_SIE_OP_AND,
	X_SIE_OP_OR,
	X_SIE_OP_XOR,
	X_SIE_OP_SHL,
	X_SIE_OP_LSHR,
	X_SIE_OP_ASHR,
	X_SIE_OP_ITE,		/* a ? b : c, a boolean */
	X_SIE_OP_EQ,		/* booleans (width 1) from here to BXOR */
	X_SIE_OP_ULT,
	X_SIE_OP_ULE,
	X_SIE_OP_SLT,
	X_SIE_OP_SLE,
	X_SIE_OP_BNOT,
	X_SIE_OP_BAND,
	X_SIE_OP_BOR,
	X_SIE_OP_BXOR,
	X_SIE_OP_LOAD,		/* width (8, 16, 32, 64) bits at the kernel address a, one read */
	X_SIE_OP_GSBASE,	/* the per-CPU base of the CPU at the probe, what %gs: adds (64) */
	X_SIE_OP_UDIV,		/* division and remainder, SMT-LIB semantics: */
	X_SIE_OP_UREM,		/* x / 0 is all ones (signed: -1, or 1 when x < 0), */
	X_SIE_OP_SDIV,		/* x % 0 is x, MIN / -1 is MIN: they never trap */
	X_SIE_OP_SREM,
	X_SIE_OP_END
};

struct x_sie_node {
	__u8 op;	/* enum x_sie_op */
	__u8 width;	/* of the result, 1..64 bits */
	__u8 arg;	/* REG/CAP: register; FLAG/CAPFLAG: EFLAGS bit; EXTRACT: lowest bit */
	__u8 a, b, c;	/* operands: indices of earlier nodes (0 when unused) */
	__u8 pad[2];
	__u64 imm;	/* CONST: the value, fitting in width */
};

enum x_sie_dest {
	X_SIE_DEST_REG = 1,	/* the whole 64-bit register `index` (never rsp) */
	X_SIE_DEST_FLAG,	/* EFLAGS bit `index` */
	X_SIE_DEST_MEM8,	/* one byte at the kernel address node `addr` gives */
};

struct x_sie_assign {
	__u8 dest;	/* enum x_sie_dest */
	__u8 index;	/* REG: register; FLAG: EFLAGS bit; MEM8: 0 */
	__u8 value;	/* node of the value: 64 bits (REG), 1 (FLAG), 8 (MEM8) */
	__u8 addr;	/* MEM8: node of the address (64 bits); else 0 */
};

/*
 * All assignments are evaluated on the state at the probe before any is
 * written (the update language's semantics).
 */
struct x_sie_prog {
	__u16 n_nodes;
	__u16 n_assigns;
	__u32 capture_mask;	/* what the capture probe stores (dual spans only) */
	struct x_sie_node nodes[X_SIE_MAX_NODES];
	struct x_sie_assign assigns[X_SIE_MAX_ASSIGNS];
};

/*
 * A probed address and the instruction bytes the debug vmlinux has there,
 * or the ones the kernel patches in at boot where it rewrites such sites
 * (a `jmp __x86_return_thunk` becomes `ret; int3...` without the retbleed
 * mitigations): alt_len 0 when there is no such rewrite.
 */
struct x_sie_site {
	__u64 addr;	/* runtime address (link address + KASLR slide); 0: none */
	__u8 len;	/* 1..X_SIE_MAX_INSN; 0 when addr is 0 */
	__u8 alt_len;	/* 0..len */
	__u8 pad[6];
	__u8 bytes[16];	/* unused tail zero */
	__u8 alt[16];	/* unused tail zero */
};

enum x_sie_kind { X_SIE_INSERTION = 1, X_SIE_INVERSE, X_SIE_DUAL, X_SIE_KIND_END };

/*
 * The static path (x_sie_static.c): an INSERTION span of a plain value that
 * is one instruction, ending at the probe, whose seed is its immediate. Once
 * every task runs the new value, the immediate bytes [imm_off, imm_off +
 * imm_len) change from old to new (the same instruction the compiler emits
 * for V': user space checked the encoding) and the update probe goes. len 0:
 * none; every byte outside the immediate is the same in old and new.
 */
struct x_sie_patch {
	__u64 addr;		/* runtime address of the instruction; addr + len == probe.addr */
	__u8 len;		/* 1..X_SIE_MAX_INSN */
	__u8 imm_off, imm_len;	/* imm_len 1, 2, 4 or 8 */
	__u8 pad[5];
	__u8 old_bytes[16];	/* unused tail zero */
	__u8 new_bytes[16];
};

struct x_sie_span {
	__u32 const_index;		/* into the transaction's consts */
	__u32 kind;			/* enum x_sie_kind; DUAL iff capture.addr != 0 */
	struct x_sie_site probe;	/* the update runs before this instruction */
	struct x_sie_site capture;	/* DUAL: inputs are captured before this one */
	char label[X_SIE_LABEL_LEN];	/* "function+0xoff", NUL-terminated */
	struct x_sie_prog prog;
	struct x_sie_patch patch;	/* optional static path */
};

struct x_sie_const {
	char name[X_SIE_NAME_LEN];	/* the const's id, NUL-terminated, unique */
	__u64 value;			/* what the update reads as v (no policy) */
	__s64 min, max;			/* the values every update of the const is proven for */
	__u64 dflt;			/* the compiled value, for policies */
	__s32 policy_fd;		/* -1: `value`; else a BPF_PROG_TYPE_KPROBE program */
	__s32 slot_fd;			/* with a policy: its x_sie_slot per-CPU array map */
};

/*
 * What a policy and the module exchange, one per CPU (key 0 of a per-CPU
 * array map): handlers never nest on a CPU, so one slot per CPU suffices.
 * The module writes dflt/done and clears set before running the policy;
 * x_set() writes value and set.
 */
struct x_sie_slot {
	__u64 value;
	__u64 dflt;
	__u32 set;
	__u32 done;	/* the transition to the policy is complete */
};

/*
 * A safe span: a single entry, its exits, and the code ranges a task is
 * inside of while a frame of it is on the task's stack. Sites are checked
 * like probe sites; ranges are [start, end) runtime addresses.
 */
struct x_sie_ss {
	__u32 const_index;
	__u16 n_exits;				/* 1..X_SIE_MAX_SS_EXITS */
	__u16 n_ranges;				/* 1..X_SIE_MAX_SS_RANGES */
	struct x_sie_site entry;
	struct x_sie_site exits[X_SIE_MAX_SS_EXITS];
	__u64 ranges[X_SIE_MAX_SS_RANGES][2];
};

/* How a transaction switches between the compiled and the new behaviour. */
enum x_sie_transition {
	X_SIE_TRANS_IMMEDIATE = 1,	/* at once (no safe spans) */
	X_SIE_TRANS_GLOBAL,		/* when no task is inside any safe span */
	X_SIE_TRANS_PER_THREAD,		/* each task at its next outermost safe-span entry; all once none is inside */
};

/* X_SIE_IOC_LOAD: all spans attached, or none. */
struct x_sie_load {
	__u32 abi_version;		/* X_SIE_ABI_VERSION */
	__u32 n_consts;			/* 1..X_SIE_MAX_CONSTS */
	__u32 n_spans;			/* 1..X_SIE_MAX_SPANS, each const has one */
	__u32 tx_id;			/* out: the transaction's id */
	__u64 consts;			/* user pointer to struct x_sie_const[n_consts] */
	__u64 spans;			/* user pointer to struct x_sie_span[n_spans] */
	__u32 n_ss;			/* 0 (IMMEDIATE only) .. X_SIE_MAX_SS */
	__u32 transition;		/* enum x_sie_transition */
	__u64 ss;			/* user pointer to struct x_sie_ss[n_ss] */
	__u8 build_id[X_SIE_BUILD_ID_LEN];	/* of the kernel the sites were analysed in */
	__u32 pad;
	char error[X_SIE_ERROR_LEN];	/* out: why the load was refused */
};

/*
 * X_SIE_IOC_UNLOAD switches back to the compiled behaviour the way the
 * load switched (monitors again), then detaches. If tasks stay inside safe
 * spans for timeout_ms, nothing is detached and the call fails with EBUSY
 * (the switch back goes on; a retry picks it up), unless force is set: then
 * it detaches anyway. The wait is killable (EINTR) and holds no lock.
 */
struct x_sie_unload {
	__u32 abi_version;
	__u32 tx_id;
	__u32 timeout_ms;		/* 0..X_SIE_MAX_TIMEOUT_MS */
	__u32 force;
	char error[X_SIE_ERROR_LEN];	/* out */
};

/* How a registered kprobe runs. */
enum x_sie_probe_state {
	X_SIE_PROBE_NONE = 0,		/* no probe (no capture site) */
	X_SIE_PROBE_INT3,		/* breakpoint + single-step */
	X_SIE_PROBE_BOOSTED,		/* breakpoint, no single-step */
	X_SIE_PROBE_PENDING,		/* optimizable, the optimizer has not run yet */
	X_SIE_PROBE_OPTIMIZED,		/* a jump (paper §4) */
	X_SIE_PROBE_STATIC,		/* none: the immediate is rewritten in place (x_sie_static.c) */
	X_SIE_PROBE_STATIC_DIFFERS,	/* as STATIC, but the live bytes are no longer the patched ones */
};

struct x_sie_span_status {
	__u32 tx_id;
	__u32 span_index;
	char const_name[X_SIE_NAME_LEN];
	__u64 value;
	char label[X_SIE_LABEL_LEN];
	__u64 probe_addr;
	__u64 capture_addr;
	__u64 hits;		/* updates applied */
	__u64 skipped;		/* dual: probe hits without a capture of the same frame,
				 * or after the task was switched out (CAPTURE_SWITCHES)
				 */
	__u64 captures;		/* capture probe hits */
	__u64 faults;		/* MEM8 writes that faulted (nothing written), and
				 * updates a LOAD that faulted kept from running
				 */
	__u64 missed;		/* the kprobes' nmissed (hit inside another kprobe handler) */
	__u64 policy_runs;	/* policy executions */
	__u64 policy_unset;	/* runs that called no x_set: compiled behaviour kept */
	__u64 policy_rejected;	/* x_set values outside [min, max]: compiled behaviour kept */
	__u64 policy_busy;	/* not run: another BPF program was running on the CPU */
	__u8 probe_state;	/* enum x_sie_probe_state */
	__u8 capture_state;
	__u8 kind;
	__u8 policy;		/* 1: an X-tune policy picks the value */
	__u8 pad[4];
};

enum x_sie_phase {
	X_SIE_PHASE_SWITCHING = 1,	/* compiled -> new: monitors attached */
	X_SIE_PHASE_ACTIVE,		/* every task runs the new behaviour */
	X_SIE_PHASE_REVERTING,		/* new -> compiled (unload) */
};

struct x_sie_tx_status {
	__u32 tx_id;
	__u32 phase;		/* enum x_sie_phase */
	__u32 transition;	/* enum x_sie_transition */
	__u32 n_ss;
	__u32 monitors;		/* monitor kprobes registered now */
	__u32 inside;		/* tasks inside a safe span (the global refcount) */
	__u32 seeded;		/* tasks the stop_machine scan found inside */
	__u32 scanned;		/* tasks it scanned */
	__u32 unverified;	/* stacks it could not unwind: counted inside */
	__u32 overflow;		/* per-task table full: completion held back */
	__u32 rescans;		/* stop_machine scans after the first (misses, stale marks) */
	__u32 n_waiting;	/* entries of waiting[] in use */
	__s32 waiting[X_SIE_WAIT_PIDS];	/* pids of tasks inside now (some) */
	__u64 lost;		/* monitor hits lost since the last scan: completion waits for a rescan */
	__u64 switched;		/* per-thread switches at safe-span entries */
	__u64 entries, exits;	/* monitor hits */
	__u64 attach_ns;	/* registering the critical-span kprobes */
	__u64 monitor_ns;	/* registering the safe-span monitors (last transition) */
	__u64 scan_ns;		/* the stop_machine scan */
	__u64 transition_ns;	/* load (or unload) to completion; 0 while switching */
	__u64 policy_runs;
};

/* X_SIE_IOC_STATUS: one record per span and per transaction. */
struct x_sie_status {
	__u32 abi_version;
	__u32 capacity;		/* span records the user buffer holds */
	__u32 n_spans;		/* out: records available (may exceed capacity) */
	__u32 n_transactions;	/* out (may exceed tx_capacity) */
	__u64 spans;		/* user pointer to struct x_sie_span_status[capacity] */
	__u32 tx_capacity;
	__u32 pad;
	__u64 txs;		/* user pointer to struct x_sie_tx_status[tx_capacity] */
};

#define X_SIE_IOC_MAGIC 0xb5
#define X_SIE_IOC_LOAD _IOWR(X_SIE_IOC_MAGIC, 1, struct x_sie_load)
#define X_SIE_IOC_UNLOAD _IOWR(X_SIE_IOC_MAGIC, 2, struct x_sie_unload)
#define X_SIE_IOC_STATUS _IOWR(X_SIE_IOC_MAGIC, 3, struct x_sie_status)

#endif /* X_SIE_UAPI_H */
