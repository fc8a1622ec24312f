#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/registry.h"

#define FACT_DELETED (~(uint64_t)0)

/*
 * Nothing here allocates or locks: the shim calls it from inside the
 * intercepted calls, where malloc or a lock could re-enter us.
 */

struct registry *registry_create(pid_t pid, int *fd_out)
{
	char name[64];
	struct registry *r;
	int fd, high;

	/*
	 * A memfd: nameless, freed with the process (no leak after _exit or
	 * SIGKILL, nothing stale for a reused PID), not bound by the size of
	 * the /dev/shm mount (a full one would SIGBUS the target); attach
	 * finds it through /proc/PID/fd by its name.
	 */
	snprintf(name, sizeof(name), REGISTRY_MEMFD_FMT, (int)pid);
	fd = memfd_create(name, MFD_CLOEXEC);
	if (fd < 0)
		return NULL;
	/* out of the way of programs that expect their low descriptors */
	high = fcntl(fd, F_DUPFD_CLOEXEC, REGISTRY_FD_MIN);
	if (high >= 0) {
		close(fd);
		fd = high;
	}
	if (ftruncate(fd, sizeof(struct registry)) < 0) {
		close(fd);
		return NULL;
	}
	r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (r == MAP_FAILED) {
		close(fd);
		return NULL;
	}
	*fd_out = fd;
	/* the pages are zero: only the header needs writing */
	r->version = REGISTRY_VERSION;
	r->max_threads = REGISTRY_MAX_THREADS;
	r->pid = pid;
	atomic_thread_fence(memory_order_release);
	r->magic = REGISTRY_MAGIC;
	return r;
}

/* The descriptor of pid's (nameless) registry, opened here, or -1. */
static int registry_fd(pid_t pid, bool writable)
{
	char dir[64], link[64 + 256], want[64], target[128];
	struct dirent *de;
	DIR *d;
	int fd = -1;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	snprintf(want, sizeof(want), "/memfd:" REGISTRY_MEMFD_FMT " (deleted)",
		 (int)pid);
	d = opendir(dir);
	if (!d)
		return -1;
	while (fd < 0 && (de = readdir(d))) {
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/%s", dir, de->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (!strcmp(target, want))
			fd = open(link, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	}
	closedir(d);
	return fd;
}

static struct registry *registry_map(pid_t pid, bool writable)
{
	struct registry *r;
	struct stat st;
	int fd;

	fd = registry_fd(pid, writable);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || (size_t)st.st_size < sizeof(*r)) {
		close(fd);
		return NULL;
	}
	r = mmap(NULL, sizeof(*r), PROT_READ | (writable ? PROT_WRITE : 0),
		 MAP_SHARED, fd, 0);
	close(fd);
	if (r == MAP_FAILED)
		return NULL;
	if (r->magic != REGISTRY_MAGIC || r->version != REGISTRY_VERSION ||
	    r->pid != pid) {
		munmap(r, sizeof(*r));
		return NULL;
	}
	return r;
}

const struct registry *registry_open(pid_t pid)
{
	return registry_map(pid, false);
}

struct registry *registry_open_rw(pid_t pid)
{
	return registry_map(pid, true);
}

struct registry *registry_copy(const struct registry *r)
{
	/* calloc: the pages past the slots in use are never touched */
	struct registry *c = calloc(1, sizeof(*c));
	uint32_t n = atomic_load(&r->high_water);

	if (!c)
		return NULL;
	memcpy(c, r, offsetof(struct registry, slots));
	memcpy(c->slots, r->slots, (n < REGISTRY_MAX_THREADS ? n : REGISTRY_MAX_THREADS) *
	       sizeof(r->slots[0]));
	return c;
}

void registry_copy_free(struct registry *copy)
{
	free(copy);
}

void registry_close(const struct registry *r)
{
	if (r)
		munmap((void *)r, sizeof(*r));
}

struct registry_slot *registry_slot_take(struct registry *r, pid_t tid,
					 uint64_t self)
{
	for (uint32_t i = 0; i < REGISTRY_MAX_THREADS; i++) {
		struct registry_slot *s = &r->slots[i];
		int32_t free_tid = 0;

		if (!atomic_compare_exchange_strong(&s->tid, &free_tid, tid))
			continue;
		atomic_store(&s->n_held, 0);
		atomic_store(&s->wait_addr, 0);
		atomic_store(&s->wait_tid, 0);
		atomic_store(&s->break_pending, 0);
		s->breaks_in_a_row = 0;
		s->self = self;
		s->held_truncated = 0;
		atomic_fetch_add(&s->gen, 1);
		uint32_t hw = atomic_load(&r->high_water);
		while (hw < i + 1 &&
		       !atomic_compare_exchange_weak(&r->high_water, &hw, i + 1))
			;
		return s;
	}
	return NULL;
}

void registry_slot_release(struct registry_slot *s)
{
	atomic_store(&s->n_held, 0);
	atomic_store(&s->wait_addr, 0);
	atomic_fetch_add(&s->gen, 1);
	atomic_store(&s->tid, 0);
}

struct registry_slot *registry_slot_of(const struct registry *r, pid_t tid)
{
	uint32_t n = atomic_load(&r->high_water);

	for (uint32_t i = 0; tid && i < n; i++)
		if (atomic_load(&r->slots[i].tid) == tid)
			return (struct registry_slot *)&r->slots[i];
	return NULL;
}

void registry_forget(struct registry *r, uint64_t addr)
{
	uint32_t n = atomic_load(&r->high_water);

	for (uint32_t i = 0; i < n; i++) {
		struct registry_slot *s = &r->slots[i];
		uint32_t held;

		if (!atomic_load(&s->tid))
			continue;
		held = atomic_load(&s->n_held);
		if (held > REGISTRY_MAX_HELD)
			held = REGISTRY_MAX_HELD;
		for (uint32_t k = 0; k < held; k++) {
			uint64_t a = addr;

			if (atomic_compare_exchange_strong(&s->held[k].addr, &a, 0))
				atomic_fetch_add(&s->gen, 1);
		}
	}
}

pid_t registry_owner(const struct registry *r, uint64_t addr,
		     const struct registry_slot **slot)
{
	uint32_t n = atomic_load(&r->high_water);

	for (uint32_t i = 0; i < n; i++) {
		const struct registry_slot *s = &r->slots[i];
		pid_t tid = atomic_load(&s->tid);
		uint32_t held;

		if (!tid)
			continue;
		held = atomic_load_explicit(&s->n_held, memory_order_acquire);
		if (held > REGISTRY_MAX_HELD)
			held = REGISTRY_MAX_HELD;
		for (uint32_t k = 0; k < held; k++)
			if (atomic_load(&s->held[k].addr) == addr) {
				if (slot)
					*slot = s;
				return tid;
			}
	}
	return 0;
}

static uint32_t fact_hash(uint64_t addr)
{
	return (uint32_t)((addr * 0x9e3779b97f4a7c15ull) >> 40) &
	       (REGISTRY_FACTS - 1);
}

uint32_t registry_fact(const struct registry *r, uint64_t addr)
{
	for (uint32_t i = 0, h = fact_hash(addr); i < REGISTRY_FACT_PROBES; i++) {
		const struct registry_fact *f = &r->facts[(h + i) & (REGISTRY_FACTS - 1)];
		uint64_t a = atomic_load(&f->addr);

		if (a == addr)
			return atomic_load(&f->flags);
		if (!a)
			return 0;
	}
	return 0;
}

int registry_fact_set(struct registry *r, uint64_t addr, uint32_t flags)
{
	for (uint32_t i = 0, h = fact_hash(addr); i < REGISTRY_FACT_PROBES; i++) {
		struct registry_fact *f = &r->facts[(h + i) & (REGISTRY_FACTS - 1)];
		uint64_t a = atomic_load(&f->addr);

		if (a == addr) {
			atomic_fetch_or(&f->flags, flags);
			return 0;
		}
		if ((!a || a == FACT_DELETED) &&
		    atomic_compare_exchange_strong(&f->addr, &a, addr)) {
			atomic_store(&f->flags, flags);
			return 0;
		}
	}
	return -1;	/* the object keeps default semantics */
}

void registry_fact_clear(struct registry *r, uint64_t addr)
{
	for (uint32_t i = 0, h = fact_hash(addr); i < REGISTRY_FACT_PROBES; i++) {
		struct registry_fact *f = &r->facts[(h + i) & (REGISTRY_FACTS - 1)];
		uint64_t a = atomic_load(&f->addr);

		if (a == addr) {
			atomic_store(&f->flags, 0);
			atomic_store(&f->addr, FACT_DELETED);
			return;
		}
		if (!a)
			return;
	}
}

/* One walk of the owner edges from me; 0 when no cycle through me. */
static int walk(const struct registry *r, const struct registry_slot *me,
		pid_t *tids, uint64_t *gens, const struct registry_slot **path,
		int max)
{
	const struct registry_slot *cur = me;
	int n = 0;

	for (;;) {
		uint64_t addr = atomic_load(&cur->wait_addr);
		uint32_t kind = atomic_load(&cur->wait_kind);
		const struct registry_slot *next = NULL;
		pid_t owner;

		if (n == max || n == REGISTRY_MAX_CYCLE || !addr ||
		    (atomic_load(&cur->wait_flags) & REG_WAIT_TIMED))
			return 0;
		tids[n] = atomic_load(&cur->tid);
		gens[n] = atomic_load(&cur->gen);
		path[n++] = cur;
		if (kind == REG_JOIN) {
			next = registry_slot_of(r, atomic_load(&cur->wait_tid));
		} else if (kind == REG_MUTEX || kind == REG_SEMLOCK ||
			   kind == REG_RWLOCK || kind == REG_CUSTOM) {
			if (registry_fact(r, addr) & (FACT_SIGNAL | FACT_COUNTING))
				return 0;
			owner = registry_owner(r, addr, &next);
			/* a semaphore-lock awaited by its own holder is a
			 * signal (Condition.wait's waiter lock), not a deadlock */
			if (owner && next == cur && kind == REG_SEMLOCK)
				return 0;
		} else {
			return 0;	/* no owner: conditions, counting semaphores */
		}
		if (!next)
			return 0;
		if (next == me)
			return n;
		for (int k = 0; k < n; k++)
			if (path[k] == next)
				return 0;	/* a cycle not through me: its own thread reports it */
		cur = next;
	}
}

int registry_find_cycle(const struct registry *r,
			const struct registry_slot *me, pid_t *tids, int max)
{
	pid_t tids2[REGISTRY_MAX_CYCLE];
	uint64_t gens[REGISTRY_MAX_CYCLE], gens2[REGISTRY_MAX_CYCLE];
	const struct registry_slot *path[REGISTRY_MAX_CYCLE];
	int n, n2;

	if (max > REGISTRY_MAX_CYCLE)
		max = REGISTRY_MAX_CYCLE;
	n = walk(r, me, tids, gens, path, max);
	if (!n)
		return 0;
	/* confirm: the same cycle, and no slot on it changed meanwhile */
	n2 = walk(r, me, tids2, gens2, path, max);
	if (n2 != n || memcmp(tids, tids2, n * sizeof(pid_t)) ||
	    memcmp(gens, gens2, n * sizeof(uint64_t)))
		return 0;
	return n;
}
