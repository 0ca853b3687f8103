/*
 * privdrop.c — see privdrop.h.
 */
#include "app/privdrop.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* --user: everything that needs root is open (capture sockets, the
 * listening socket, output files); become NAME, with no supplementary
 * groups and, as a non-root uid, no capabilities left but those in `keep`
 * (a bit per CAP_*, below 32: the AF_XDP back end keeps CAP_NET_ADMIN to
 * detach its XDP program at exit). */
int privdrop(const char *name, uint32_t keep, int quiet)
{
    struct passwd *pw = getpwnam(name);
    if (!pw) {
        fprintf(stderr, "spanwatch: --user %s: no such user\n", name);
        return -1;
    }
    if (keep && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0)
        keep = 0;
    if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
        fprintf(stderr, "spanwatch: --user %s: %s (start as root to switch user)\n", name,
                strerror(errno));
        return -1;
    }
    if (pw->pw_uid != 0 && setuid(0) == 0) { /* must be impossible now */
        fprintf(stderr, "spanwatch: --user %s: could regain root; refusing to run\n", name);
        return -1;
    }
    if (pw->pw_uid != 0) {
        /* KEEPCAPS kept the permitted set across setuid: cut it to `keep`
         * (and clear the rest, inheritable included); never more than that */
        struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
        struct __user_cap_data_struct d[2];
        memset(d, 0, sizeof d);
        d[0].permitted = d[0].effective = keep;
        if (syscall(SYS_capset, &h, d) != 0) {
            fprintf(stderr, "spanwatch: --user %s: cannot set capabilities: %s\n", name,
                    strerror(errno));
            return -1;
        }
        prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
    }
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); /* nothing executed could gain any back */
    if (!quiet)
        fprintf(stderr, "spanwatch: running as %s (uid %u, gid %u), %s\n", name,
                (unsigned)pw->pw_uid, (unsigned)pw->pw_gid,
                pw->pw_uid == 0 ? "as started"
                : keep == (1u << CAP_NET_ADMIN) ? "keeping only CAP_NET_ADMIN (to detach XDP at exit)"
                                                : "no capabilities");
    return 0;
}

const char *privdrop_default_user(int quiet)
{
    if (getpwnam("nobody"))
        return "nobody";
    if (!quiet)
        fprintf(stderr, "spanwatch: warning: no user 'nobody': staying root (use --user)\n");
    return NULL;
}
