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

#define READ_BATCH 1024	/* IOV_MAX: pieces per process_vm_readv */
#define FIRST_MAPPED 4096	/* the first page is never mapped */

/*
 * The transfer stops at the first piece that faults, so the batch
 * restarts after it.  A source (a core) is read piece by piece.
 */
size_t target_read_many(pid_t pid, const uint64_t *addr, size_t len,
			uint8_t *bufs, bool *ok, size_t n)
{
	struct iovec local[READ_BATCH], remote[READ_BATCH];
	size_t index[READ_BATCH], i = 0, reads = 0;

	memset(ok, 0, n * sizeof(*ok));
	if (source.pid && source.pid == pid) {
		for (; i < n; i++)
			if (addr[i] >= FIRST_MAPPED) {
				ok[i] = source.read(source.ctx, addr[i],
						    bufs + i * len, len) == 0;
				reads++;
			}
		return reads;
	}
	while (i < n) {
		size_t k = 0, done;
		ssize_t r;

		for (; i < n && k < READ_BATCH; i++) {
			if (addr[i] < FIRST_MAPPED)
				continue;
			local[k].iov_base = bufs + i * len;
			local[k].iov_len = len;
			remote[k].iov_base = (void *)(uintptr_t)addr[i];
			remote[k].iov_len = len;
			index[k++] = i;
		}
		if (!k)
			break;
		r = process_vm_readv(pid, local, k, remote, k, 0);
		reads++;
		done = r > 0 ? (size_t)r / len : 0;
		for (size_t j = 0; j < done && j < k; j++)
			ok[index[j]] = true;
		if (done < k)
			i = index[done] + 1;
	}
	return reads;
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
