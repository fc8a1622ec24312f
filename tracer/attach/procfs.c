#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tracer/attach/procfs.h"
#include "tracer/attach/target_mem.h"

int procfs_parse_stat(const char *text, struct proc_stat *out)
{
	const char *open = strchr(text, '(');
	const char *close = strrchr(text, ')');
	int dummy_i;
	size_t len;

	memset(out, 0, sizeof(*out));
	if (!open || !close || close < open || sscanf(text, "%d", &out->pid) != 1)
		goto bad;
	/* comm may hold spaces and ')': it runs to the last ')' */
	len = close - open - 1;
	if (len >= sizeof(out->comm))
		len = sizeof(out->comm) - 1;
	memcpy(out->comm, open + 1, len);
	out->comm[len] = '\0';
	/* fields 3..9: state ppid pgrp session tty_nr tpgid flags */
	if (sscanf(close + 1, " %c %d %d %d %d %d %lu", &out->state, &out->ppid,
		   &dummy_i, &dummy_i, &dummy_i, &dummy_i, &out->flags) != 7)
		goto bad;
	/* fields 14, 15: utime, stime; 22: starttime; 39: processor */
	const char *p = close + 1;	/* the space before field 3 */
	bool have_start = false;

	for (int field = 3; p && field <= 39; field++) {
		if (field == 14)
			sscanf(p, " %llu %llu", &out->utime, &out->stime);
		else if (field == 22)
			have_start = sscanf(p, " %llu", &out->starttime) == 1;
		else if (field == 39)
			sscanf(p, " %d", &out->processor);
		p = strchr(p + 1, ' ');
	}
	if (!have_start)
		goto bad;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

int procfs_parse_status(const char *text, struct proc_status *out)
{
	const char *line = text;
	int got = 0;

	memset(out, 0, sizeof(*out));
	while (line && *line) {
		const char *nl = strchr(line, '\n');
		unsigned int uid_r, uid_e;

		if (!strncmp(line, "Name:\t", 6)) {
			size_t len = nl ? (size_t)(nl - line - 6) : strlen(line + 6);

			if (len >= sizeof(out->name))
				len = sizeof(out->name) - 1;
			memcpy(out->name, line + 6, len);
			out->name[len] = '\0';
			got |= 1;
		} else if (sscanf(line, "State: %c", &out->state) == 1) {
			got |= 2;
		} else if (sscanf(line, "Tgid: %d", &out->tgid) == 1) {
			got |= 4;
		} else if (sscanf(line, "TracerPid: %d", &out->tracer_pid) == 1) {
			got |= 8;
		} else if (sscanf(line, "Uid: %u %u", &uid_r, &uid_e) == 2) {
			out->uid_real = uid_r;
			out->uid_effective = uid_e;
			got |= 16;
		} else if (sscanf(line, "CapEff: %" SCNx64, &out->cap_effective) == 1) {
			got |= 32;
		} else if (sscanf(line, "SigCgt: %" SCNx64, &out->sig_caught) == 1) {
			;	/* optional: older kernels, unit tests */
		}
		line = nl ? nl + 1 : NULL;
	}
	if ((got & 31) != 31) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

static int map_parse_line(const char *line, struct map_entry *e)
{
	unsigned long long start, end, offset, inode;
	unsigned int major, minor;
	int path_at = 0;

	memset(e, 0, sizeof(*e));
	if (sscanf(line, "%llx-%llx %4s %llx %x:%x %llu%n", &start, &end,
		   e->perms, &offset, &major, &minor, &inode, &path_at) < 7 ||
	    start > end)
		return -1;
	e->dev = (unsigned long)major << 20 | minor;
	/* not " %n": that would skip the newline of a pathless mapping */
	while (line[path_at] == ' ' || line[path_at] == '\t')
		path_at++;
	e->start = start;
	e->end = end;
	e->offset = offset;
	e->inode = inode;
	if (path_at > 0 && line[path_at] && line[path_at] != '\n') {
		const char *s = line + path_at;
		size_t len = strcspn(s, "\n");

		e->path = strndup(s, len);
		if (!e->path)
			return -1;
	}
	return 0;
}

int procfs_parse_maps(const char *text, struct maps *out)
{
	int cap = 64;

	out->n = 0;
	out->v = malloc(cap * sizeof(*out->v));
	if (!out->v)
		return -1;
	for (const char *line = text; line && *line;) {
		const char *nl = strchr(line, '\n');

		if (*line != '\n') {
			if (out->n == cap) {
				struct map_entry *v;

				cap *= 2;
				v = realloc(out->v, cap * sizeof(*v));
				if (!v)
					goto bad;
				out->v = v;
			}
			if (map_parse_line(line, &out->v[out->n]) < 0)
				goto bad;
			out->n++;
		}
		line = nl ? nl + 1 : NULL;
	}
	return out->n;
bad:
	maps_free(out);
	errno = EINVAL;
	return -1;
}

void maps_free(struct maps *m)
{
	for (int i = 0; i < m->n; i++)
		free(m->v[i].path);
	free(m->v);
	m->v = NULL;
	m->n = 0;
}

const struct map_entry *maps_find(const struct maps *m, uint64_t addr)
{
	int lo = 0, hi = m->n - 1;

	/* /proc/PID/maps is sorted by address */
	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2;

		if (addr < m->v[mid].start)
			hi = mid - 1;
		else if (addr >= m->v[mid].end)
			lo = mid + 1;
		else
			return &m->v[mid];
	}
	return NULL;
}

char *procfs_read(const char *fmt, ...)
{
	char path[128];
	size_t cap = 4096, len = 0;
	char *buf;
	va_list ap;
	int fd;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	buf = malloc(cap);
	while (buf) {
		ssize_t r = read(fd, buf + len, cap - len - 1);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			free(buf);
			buf = NULL;
			break;
		}
		if (r == 0)
			break;
		len += r;
		if (len + 1 == cap) {
			char *nb = realloc(buf, cap *= 2);

			if (!nb)
				free(buf);
			buf = nb;
		}
	}
	if (buf)
		buf[len] = '\0';
	int saved = errno;
	close(fd);
	errno = saved;
	return buf;
}

int procfs_stat(pid_t pid, pid_t tid, struct proc_stat *out)
{
	char *text = tid ? procfs_read("/proc/%d/task/%d/stat", pid, tid)
			 : procfs_read("/proc/%d/stat", pid);
	int rc;

	if (!text)
		return -1;
	rc = procfs_parse_stat(text, out);
	free(text);
	return rc;
}

int procfs_status(pid_t pid, pid_t tid, struct proc_status *out)
{
	char *text = tid ? procfs_read("/proc/%d/task/%d/status", pid, tid)
			 : procfs_read("/proc/%d/status", pid);
	int rc;

	if (!text)
		return -1;
	rc = procfs_parse_status(text, out);
	free(text);
	return rc;
}

int procfs_maps(pid_t pid, struct maps *out)
{
	const struct target_source *src = target_source_of(pid);
	char *text;
	int rc;

	if (src)	/* a core file's mappings */
		return src->maps(src->ctx, out);
	text = procfs_read("/proc/%d/maps", pid);
	if (!text)
		return -1;
	rc = procfs_parse_maps(text, out);
	free(text);
	return rc;
}

void procfs_comm(pid_t pid, pid_t tid, char *buf, size_t size)
{
	char *text = procfs_read("/proc/%d/task/%d/comm", pid, tid);

	buf[0] = '\0';
	if (!text)
		return;
	text[strcspn(text, "\n")] = '\0';
	snprintf(buf, size, "%s", text);
	free(text);
}

int procfs_tasks(pid_t pid, pid_t **tids)
{
	char path[64];
	DIR *d;
	struct dirent *de;
	int n = 0, cap = 16;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return -1;
	*tids = malloc(cap * sizeof(pid_t));
	while (*tids && (de = readdir(d))) {
		char *end;
		long tid = strtol(de->d_name, &end, 10);

		if (*end || tid <= 0)
			continue;
		if (n == cap) {
			pid_t *v = realloc(*tids, (cap *= 2) * sizeof(pid_t));

			if (!v) {
				free(*tids);
				*tids = NULL;
				break;
			}
			*tids = v;
		}
		(*tids)[n++] = (pid_t)tid;
	}
	closedir(d);
	if (!*tids) {
		errno = ENOMEM;
		return -1;
	}
	return n;
}

int procfs_descendants(pid_t pid, pid_t **out)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	struct { pid_t pid, ppid; } *all = NULL;
	pid_t *v;
	int n_all = 0, cap = 0, n = 0;

	*out = NULL;
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		struct proc_stat st;
		char *end;
		long p = strtol(de->d_name, &end, 10);

		if (*end || p <= 0 || procfs_stat((pid_t)p, 0, &st) < 0 ||
		    st.state == 'Z' || st.state == 'X')
			continue;
		if (n_all == cap) {
			void *grown;

			cap = cap ? 2 * cap : 256;
			grown = realloc(all, cap * sizeof(*all));
			if (!grown) {
				free(all);
				closedir(d);
				return -1;
			}
			all = grown;
		}
		all[n_all].pid = (pid_t)p;
		all[n_all++].ppid = st.ppid;
	}
	closedir(d);
	v = malloc((n_all + 1) * sizeof(*v));
	if (!v) {
		free(all);
		return -1;
	}
	/* breadth first: v holds the tree found so far, scanned in order */
	v[n++] = pid;
	for (int i = 0; i < n; i++)
		for (int k = 0; k < n_all; k++)
			if (all[k].ppid == v[i] && all[k].pid != pid)
				v[n++] = all[k].pid;
	free(all);
	*out = v;
	return n;
}

int procfs_fd_target(pid_t pid, int fd, char *buf, size_t size)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/%d/fd/%d", (int)pid, fd);
	n = readlink(link, buf, size - 1);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

int procfs_fd_flags(pid_t pid, int fd)
{
	char *text = procfs_read("/proc/%d/fdinfo/%d", (int)pid, fd);
	const char *line;
	unsigned int flags;
	int rc = -1;

	if (!text)
		return -1;
	line = strstr(text, "flags:");
	if (line && sscanf(line, "flags: %o", &flags) == 1)
		rc = (int)flags;
	free(text);
	return rc;
}
