#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common/error.h"
#include "tracer/attach/procfs.h"
#include "tracer/attach/registry_remote.h"
#include "tracer/attach/target_mem.h"

uint64_t registry_find(pid_t pid)
{
	char want[64];
	struct maps maps;
	uint64_t addr = 0;

	snprintf(want, sizeof(want), "/memfd:" REGISTRY_NAME_FMT " (deleted)",
		 (int)pid);
	if (procfs_maps(pid, &maps) < 0)
		return 0;
	for (int i = 0; i < maps.n && !addr; i++)
		if (maps.v[i].path && maps.v[i].offset == 0 &&
		    !strcmp(maps.v[i].path, want))
			addr = maps.v[i].start;
	maps_free(&maps);
	return addr;
}

int registry_fetch(pid_t pid, uint64_t addr, struct registry *copy)
{
	size_t head = offsetof(struct registry, slots);
	uint32_t n;

	if (!addr || target_read(pid, addr, copy, head) < 0)
		return -1;
	if (copy->magic != REGISTRY_MAGIC || copy->version != REGISTRY_VERSION ||
	    copy->pid != pid)
		return -1;
	n = atomic_load(&copy->high_water);
	if (n > REGISTRY_MAX_THREADS)
		n = REGISTRY_MAX_THREADS;
	return target_read(pid, addr + head, copy->slots,
			   n * sizeof(copy->slots[0]));
}

struct registry *registry_read(pid_t pid, uint64_t *addr_out)
{
	uint64_t addr = registry_find(pid);
	struct registry *copy;

	if (!addr)
		return NULL;
	/* mmap: only the pages written are ever touched */
	copy = mmap(NULL, sizeof(*copy), PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (copy == MAP_FAILED)
		return NULL;
	if (registry_fetch(pid, addr, copy) < 0) {
		registry_copy_free(copy);
		return NULL;
	}
	if (addr_out)
		*addr_out = addr;
	return copy;
}

void registry_copy_free(struct registry *copy)
{
	if (copy)
		munmap(copy, sizeof(*copy));
}

int registry_poke(pid_t pid, uint64_t addr, size_t offset, const void *val,
		  size_t len)
{
	return addr ? target_write(pid, addr + offset, val, len) : -1;
}

int registry_break_thread(pid_t pid, uint64_t addr, uint32_t slot_index,
			  const char *why)
{
	size_t slot = offsetof(struct registry, slots) +
		      (size_t)slot_index * sizeof(struct registry_slot);
	char msg[sizeof(((struct registry_slot *)0)->break_why)] = { 0 };
	uint32_t one = 1;

	if (slot_index >= REGISTRY_MAX_THREADS)
		return -1;
	snprintf(msg, sizeof(msg), "%s", why);
	/* the message first: the thread reads it once it sees the flag */
	if (registry_poke(pid, addr, slot + offsetof(struct registry_slot, break_why),
			  msg, sizeof(msg)) < 0)
		return -1;
	return registry_poke(pid, addr,
			     slot + offsetof(struct registry_slot, break_pending),
			     &one, sizeof(one));
}
