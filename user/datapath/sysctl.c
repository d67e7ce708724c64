// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "datapath/sysctl.h"

/* "net.ipv4.x" -> "/proc/sys/net/ipv4/x"; -EINVAL for a name with '/'. */
static int sysctl_path(const char *name, char *path, size_t len,
		       struct sw_error *e)
{
	int n = snprintf(path, len, "/proc/sys/%s", name);

	if (n < 0 || (size_t)n >= len || strchr(name, '/') || !name[0])
		return sw_fail(e, -EINVAL, "sysctl '%s': not a sysctl name "
			       "(use dots, as in net.ipv4.tcp_early_demux)",
			       name);
	for (char *p = path + strlen("/proc/sys/"); *p; p++)
		if (*p == '.')
			*p = '/';
	return 0;
}

static int fail_open(struct sw_error *e, const char *path, const char *what)
{
	int err = -errno;

	return sw_fail(e, err, "%s %s: %s%s", what, path, strerror(-err),
		       err == -EROFS || err == -EACCES || err == -EPERM ?
		       " (the agent needs this setting in its network "
		       "namespace: run it as root there; in Kubernetes, the "
		       "privileged init container of deploy/node/daemonset.yaml "
		       "(or, for a gateway pod, deploy/gateway/deployment.yaml) "
		       "sets it before the agent starts)" : "");
}

int sw_sysctl_get(const char *name, long *val, struct sw_error *e)
{
	char path[PATH_MAX], buf[64], *end;
	ssize_t n;
	int fd, err;

	if ((err = sysctl_path(name, path, sizeof(path), e)))
		return err;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail_open(e, path, "cannot read");
	n = read(fd, buf, sizeof(buf) - 1);
	err = n < 0 ? -errno : 0;
	close(fd);
	if (err)
		return sw_fail(e, err, "cannot read %s: %s", path,
			       strerror(-err));
	buf[n] = '\0';
	errno = 0;
	*val = strtol(buf, &end, 10);
	if (errno || end == buf || (*end && *end != '\n'))
		return sw_fail(e, -EINVAL, "%s: '%.*s' is not an integer",
			       path, (int)strcspn(buf, "\n"), buf);
	return 0;
}

int sw_sysctl_set(const char *name, long val, struct sw_error *e)
{
	char path[PATH_MAX], buf[32];
	int fd, err, len;
	ssize_t n;

	if ((err = sysctl_path(name, path, sizeof(path), e)))
		return err;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return fail_open(e, path, "cannot write");
	len = snprintf(buf, sizeof(buf), "%ld\n", val);
	n = write(fd, buf, len);
	err = n < 0 ? -errno : n != len ? -EIO : 0;
	close(fd);
	if (err)
		return sw_fail(e, err, "cannot write %ld to %s: %s", val, path,
			       strerror(-err));
	return 0;
}

int sw_sysctl_ensure(const char *name, long want, long *old, bool *changed,
		     struct sw_error *e)
{
	long cur;
	int err;

	if (changed)
		*changed = false;
	if ((err = sw_sysctl_get(name, &cur, e)))
		return err;
	if (old)
		*old = cur;
	if (cur == want)
		return 0;
	if ((err = sw_sysctl_set(name, want, e)))
		return err;
	if (changed)
		*changed = true;
	return 0;
}
