#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "tracer/attach/target_mem.h"

static struct target_source source;	/* pid 0: none */

void target_source_set(const struct target_source *src)
{
	if (src)
		source = *src;
	else
		memset(&source, 0, sizeof(source));
}

const struct target_source *target_source_of(pid_t pid)
{
	return source.pid && source.pid == pid ? &source : NULL;
}

int target_read(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = { buf, len };
	struct iovec remote = { (void *)(uintptr_t)addr, len };
	ssize_t r;

	if (!len)
		return 0;
	if (source.pid && source.pid == pid)
		return source.read(source.ctx, addr, buf, len);
	r = process_vm_readv(pid, &local, 1, &remote, 1, 0);
	if (r == (ssize_t)len)
		return 0;
	if (r >= 0)
		errno = EFAULT;
	return -1;
}

int target_write(pid_t pid, uint64_t addr, const void *buf, size_t len)
{
	struct iovec local = { (void *)buf, len };
	struct iovec remote = { (void *)(uintptr_t)addr, len };
	ssize_t r;

	if (!len)
		return 0;
	if (source.pid && source.pid == pid) {
		errno = EROFS;	/* a dump is read, never written */
		return -1;
	}
	r = process_vm_writev(pid, &local, 1, &remote, 1, 0);
	if (r == (ssize_t)len)
		return 0;
	if (r >= 0)
		errno = EFAULT;
	return -1;
}

int memcache_init(struct memcache *mc, pid_t pid)
{
	memset(mc, 0, sizeof(*mc));
	mc->pid = pid;
	mc->pages = calloc(MEMCACHE_PAGES, sizeof(*mc->pages));
	return mc->pages ? 0 : -1;
}

void memcache_fini(struct memcache *mc)
{
	free(mc->pages);
	mc->pages = NULL;
}

/* Direct-mapped: slot by page number; a miss replaces the slot. */
static const uint8_t *memcache_page(struct memcache *mc, uint64_t page)
{
	struct memcache_page *p = &mc->pages[(page >> 12) % MEMCACHE_PAGES];

	if (p->addr == page && page) {
		mc->hits++;
		return p->data;
	}
	mc->misses++;
	if (target_read(mc->pid, page, p->data, sizeof(p->data)) < 0) {
		p->addr = 0;
		return NULL;
	}
	p->addr = page;
	return p->data;
}

int memcache_read(struct memcache *mc, uint64_t addr, void *buf, size_t len)
{
	uint8_t *out = buf;

	while (len) {
		uint64_t page = addr & ~(uint64_t)4095;
		size_t off = addr - page, n = 4096 - off;
		const uint8_t *data;

		if (n > len)
			n = len;
		data = mc->pages && page ? memcache_page(mc, page) : NULL;
		if (!data)	/* last page of a mapping, or a guard page */
			return target_read(mc->pid, addr, out, len);
		memcpy(out, data + off, n);
		out += n;
		addr += n;
		len -= n;
	}
	return 0;
}
