#include <elfutils/libdwfl.h>
#include <libunwind-ptrace.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "tracer/attach/target_mem.h"
#include "tracer/attach/unwind.h"

struct unwinder {
	struct process_snapshot *ps;
	Dwfl *dwfl;		/* a core's threads: unwound by libdwfl */
	unw_addr_space_t as;
	void *upt;		/* libunwind-ptrace's per-process state */
	struct memcache mem;
	const struct thread_snapshot *thread;	/* being unwound */
};

/*
 * libunwind-ptrace passes its own argument to the memory accessor from
 * inside _UPT_find_proc_info, so the unwinder being served cannot travel
 * in that argument: it is this one pointer, set for each walk (the CLI
 * unwinds one thread at a time).
 */
static struct unwinder *current;

static int acc_find_proc_info(unw_addr_space_t as, unw_word_t ip,
			      unw_proc_info_t *pi, int need, void *arg)
{
	return _UPT_find_proc_info(as, ip, pi, need, arg);
}

static void acc_put_unwind_info(unw_addr_space_t as, unw_proc_info_t *pi,
				void *arg)
{
	_UPT_put_unwind_info(as, pi, arg);
}

static int acc_get_dyn_info_list_addr(unw_addr_space_t as, unw_word_t *addr,
				      void *arg)
{
	return -UNW_ENOINFO;	/* no JIT-registered unwind info is read */
}

static int acc_access_mem(unw_addr_space_t as, unw_word_t addr,
			  unw_word_t *val, int write, void *arg)
{
	const struct thread_snapshot *t = current->thread;

	if (write)
		return -UNW_EREADONLYREG;
	if (t && t->stack && addr >= t->stack_addr &&
	    addr + sizeof(*val) <= t->stack_addr + t->stack_len) {
		memcpy(val, t->stack + (addr - t->stack_addr), sizeof(*val));
		return 0;
	}
	if (memcache_read(&current->mem, addr, val, sizeof(*val)) < 0)
		return -UNW_EINVAL;
	return 0;
}

/* libunwind's x86_64 register numbers, in order, as user_regs_struct offsets */
static uint64_t reg_value(const struct user_regs_struct *r, unw_regnum_t reg,
			  int *ok)
{
	*ok = 1;
	switch (reg) {
	case UNW_X86_64_RAX: return r->rax;
	case UNW_X86_64_RDX: return r->rdx;
	case UNW_X86_64_RCX: return r->rcx;
	case UNW_X86_64_RBX: return r->rbx;
	case UNW_X86_64_RSI: return r->rsi;
	case UNW_X86_64_RDI: return r->rdi;
	case UNW_X86_64_RBP: return r->rbp;
	case UNW_X86_64_RSP: return r->rsp;
	case UNW_X86_64_R8: return r->r8;
	case UNW_X86_64_R9: return r->r9;
	case UNW_X86_64_R10: return r->r10;
	case UNW_X86_64_R11: return r->r11;
	case UNW_X86_64_R12: return r->r12;
	case UNW_X86_64_R13: return r->r13;
	case UNW_X86_64_R14: return r->r14;
	case UNW_X86_64_R15: return r->r15;
	case UNW_X86_64_RIP: return r->rip;
	default:
		*ok = 0;
		return 0;
	}
}

static int acc_access_reg(unw_addr_space_t as, unw_regnum_t reg,
			  unw_word_t *val, int write, void *arg)
{
	int ok;

	if (write)
		return -UNW_EREADONLYREG;
	*val = reg_value(&current->thread->regs, reg, &ok);
	return ok ? 0 : -UNW_EBADREG;
}

static int acc_access_fpreg(unw_addr_space_t as, unw_regnum_t reg,
			    unw_fpreg_t *val, int write, void *arg)
{
	return -UNW_EBADREG;
}

static int acc_resume(unw_addr_space_t as, unw_cursor_t *c, void *arg)
{
	return -UNW_EINVAL;
}

static int acc_get_proc_name(unw_addr_space_t as, unw_word_t addr, char *buf,
			     size_t len, unw_word_t *off, void *arg)
{
	return -UNW_ENOINFO;	/* symbols come from libdw */
}

static unw_accessors_t snapshot_accessors = {
	.find_proc_info = acc_find_proc_info,
	.put_unwind_info = acc_put_unwind_info,
	.get_dyn_info_list_addr = acc_get_dyn_info_list_addr,
	.access_mem = acc_access_mem,
	.access_reg = acc_access_reg,
	.access_fpreg = acc_access_fpreg,
	.resume = acc_resume,
	.get_proc_name = acc_get_proc_name,
};

struct unwinder *unwinder_new(struct process_snapshot *ps)
{
	struct unwinder *u = xcalloc(1, sizeof(*u));

	u->ps = ps;
	u->as = unw_create_addr_space(&snapshot_accessors, 0);
	u->upt = _UPT_create(ps->pid);
	if (!u->as || !u->upt || memcache_init(&u->mem, ps->pid) < 0) {
		unwinder_free(u);
		return NULL;
	}
	unw_set_caching_policy(u->as, UNW_CACHE_GLOBAL);
	return u;
}

struct unwinder *unwinder_new_core(struct process_snapshot *ps, void *dwfl)
{
	struct unwinder *u;

	if (!dwfl)
		return NULL;
	u = xcalloc(1, sizeof(*u));
	u->ps = ps;
	u->dwfl = dwfl;
	return u;
}

struct frame_walk {
	uint64_t *pcs;
	int n, max;
	const char *why;
};

static int frame_found(Dwfl_Frame *state, void *arg)
{
	struct frame_walk *w = arg;
	Dwarf_Addr pc;
	bool activation;

	if (!dwfl_frame_pc(state, &pc, &activation) || !pc)
		return DWARF_CB_ABORT;
	if (w->n == w->max) {
		w->why = "stack deeper than pydeadlock reads";
		return DWARF_CB_ABORT;
	}
	w->pcs[w->n++] = pc;
	return DWARF_CB_OK;
}

static int unwind_core(struct unwinder *u, const struct thread_snapshot *t,
		       uint64_t *pcs, int max, const char **why)
{
	struct frame_walk w = { pcs, 0, max, NULL };

	if (dwfl_getthread_frames(u->dwfl, t->tid, frame_found, &w) < 0 &&
	    !w.why && w.n < 2)
		w.why = "unwinding stopped: no unwind information for a frame";
	*why = w.why;
	return w.n;
}

void unwinder_free(struct unwinder *u)
{
	if (!u)
		return;
	if (u->dwfl) {	/* the symbolizer's, not ours */
		free(u);
		return;
	}
	if (u->as)
		unw_destroy_addr_space(u->as);
	if (u->upt)
		_UPT_destroy(u->upt);
	debug_msg("unwind memory cache: %llu hits, %llu misses",
		  (unsigned long long)u->mem.hits,
		  (unsigned long long)u->mem.misses);
	memcache_fini(&u->mem);
	free(u);
}

int unwinder_unwind(struct unwinder *u, const struct thread_snapshot *t,
		    uint64_t *pcs, int max, const char **why)
{
	unw_cursor_t cursor;
	unw_word_t ip, sp, last_sp = 0;
	int n = 0, step;

	*why = NULL;
	if (u->dwfl)
		return unwind_core(u, t, pcs, max, why);
	current = u;
	u->thread = t;
	if (unw_init_remote(&cursor, u->as, u->upt) < 0) {
		*why = "cannot start unwinding";
		return 0;
	}
	do {
		if (unw_get_reg(&cursor, UNW_REG_IP, &ip) < 0 ||
		    unw_get_reg(&cursor, UNW_REG_SP, &sp) < 0)
			break;
		if (ip == 0)
			break;
		if (n > 0 && sp < last_sp) {
			*why = "unwinding stopped: the stack pointer went backwards";
			break;
		}
		if (n == max) {
			*why = "stack deeper than pydeadlock reads";
			break;
		}
		pcs[n++] = ip;
		last_sp = sp;
		step = unw_step(&cursor);
		if (step < 0 && n > 0)
			*why = "unwinding stopped: no unwind information for a frame";
	} while (step > 0);
	u->thread = NULL;
	return n;
}
