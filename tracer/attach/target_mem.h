/*
 * Reading another process's memory with process_vm_readv(2): one system
 * call per read, no ptrace stop needed, and a page cache for the read-only
 * data (unwind tables, symbols) that is read many times in small pieces.
 */
#ifndef PD_TARGET_MEM_H
#define PD_TARGET_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct maps;

/*
 * Where a process's memory and mappings come from when it is not a live
 * process: a core file (tracer/attach/core.c).  While a source is set
 * for pid, target_read(pid, ...) and procfs_maps(pid, ...) answer from
 * it, and target_write refuses: the unwinder's cache, the Python reader
 * and the snapshot's copies read a dump as they read a process.
 */
struct target_source {
	pid_t pid;
	int (*read)(void *ctx, uint64_t addr, void *buf, size_t len);
	int (*maps)(void *ctx, struct maps *out);
	void *ctx;
};

/* Use src (copied) until target_source_set(NULL). */
void target_source_set(const struct target_source *src);
/* The source set for pid, or NULL: it is a live process. */
const struct target_source *target_source_of(pid_t pid);

/* Reads len bytes at addr; returns 0 when all were read, -1 otherwise. */
int target_read(pid_t pid, uint64_t addr, void *buf, size_t len);
/*
 * Reads n pieces of len bytes, addr[i] into bufs + i * len, ok[i] telling
 * which were read (an address in the first page never is), with as few
 * system calls as the kernel allows.  Returns the number of reads made.
 */
size_t target_read_many(pid_t pid, const uint64_t *addr, size_t len,
			uint8_t *bufs, bool *ok, size_t n);
/* Writes len bytes at addr (process_vm_writev); 0 when all were written. */
int target_write(pid_t pid, uint64_t addr, const void *buf, size_t len);

#define MEMCACHE_PAGES 512	/* 2 MiB: the unwind tables of a Python process */

struct memcache {
	pid_t pid;
	struct memcache_page {
		uint64_t addr;	/* page address, 0 = empty */
		uint8_t data[4096];
	} *pages;
	uint64_t hits, misses;
};

int memcache_init(struct memcache *mc, pid_t pid);
void memcache_fini(struct memcache *mc);
/* As target_read, through the cache (for memory that does not change). */
int memcache_read(struct memcache *mc, uint64_t addr, void *buf, size_t len);

#endif
