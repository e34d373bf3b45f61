// The C side of the netlink layer: libmnl and libnftnl, plus static inline
// wrappers for what Swift can't import (macros, variadic and aliased calls).
// Order matters: <netinet/in.h> and <net/if.h> before any <linux/*.h>, or
// Swift sees two definitions of in_addr.
#ifndef SGCTL_CNETLINK_SHIM_H
#define SGCTL_CNETLINK_SHIM_H

// No _GNU_SOURCE here: defining it changes libc's own struct definitions
// (fd_set's member names) and Swift then refuses to merge this module's
// view of them with SwiftGlibc's. setns(2) is declared by hand instead.
#include <sys/syscall.h>
#include <sys/ioctl.h>

#include <netinet/in.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/if_link.h>
#include <linux/if_bridge.h>
#include <linux/neighbour.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netfilter/nfnetlink_log.h>

#include <libmnl/libmnl.h>
#include <libnftnl/batch.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/gen.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

static inline size_t sg_mnl_socket_buffer_size(void) { return MNL_SOCKET_BUFFER_SIZE; }
static inline int sg_mnl_align(int len) { return MNL_ALIGN(len); }

static inline struct nlmsghdr *sg_nftnl_nlmsg_build_hdr(char *buf, uint16_t type, uint16_t family,
                                                        uint16_t flags, uint32_t seq) {
    return nftnl_nlmsg_build_hdr(buf, type, family, flags, seq);
}

/// Userdata TLV types nft itself writes and reads (nftables' include/udata.h
/// is not installed): a rule's comment, a set's key byte order and comment.
enum {
    SG_UDATA_RULE_COMMENT = 0,
    SG_UDATA_SET_KEYBYTEORDER = 0,
    SG_UDATA_SET_DATABYTEORDER = 1,
    SG_UDATA_SET_MERGE_ELEMENTS = 2,
    SG_UDATA_SET_KEY_TYPEOF = 3,
    SG_UDATA_SET_DATA_TYPEOF = 4,
    SG_UDATA_SET_EXPR = 5,
    SG_UDATA_SET_DATA_INTERVAL = 6,
    SG_UDATA_SET_COMMENT = 7,
    SG_UDATA_CHAIN_COMMENT = 0,
};

/// Iterates a message's attributes (mnl_attr_for_each is a macro).
typedef int (*sg_attr_cb)(const struct nlattr *attr, void *data);
static inline int sg_attr_parse(const struct nlmsghdr *nlh, unsigned int offset, sg_attr_cb cb, void *data) {
    return mnl_attr_parse(nlh, offset, cb, data);
}
static inline int sg_attr_parse_nested(const struct nlattr *attr, sg_attr_cb cb, void *data) {
    return mnl_attr_parse_nested(attr, cb, data);
}

/// Moves the calling thread into the network namespace of `fd`
/// (CLONE_NEWNET from <linux/sched.h>, which would clash with <sched.h>).
static inline int sg_setns_net(int fd) { return (int)syscall(SYS_setns, fd, 0x40000000); }
static inline int sg_gettid(void) { return (int)syscall(SYS_gettid); }
/// Moves the calling thread into a new, empty network namespace.
static inline int sg_unshare_net(void) { return (int)syscall(SYS_unshare, 0x40000000); }

/// The name of interface `index` in the network namespace of socket `fd`
/// (if_indextoname asks through a socket of the calling thread's namespace,
/// so a reader that left the namespace keeps one opened there). ioctl is
/// variadic, which Swift can't call. Returns -1 with errno (ENODEV: gone).
static inline int sg_interface_name(int fd, int index, char name[IF_NAMESIZE]) {
    struct ifreq request;
    memset(&request, 0, sizeof request);
    request.ifr_ifindex = index;
    if (ioctl(fd, SIOCGIFNAME, &request) < 0) return -1;
    memcpy(name, request.ifr_name, IF_NAMESIZE);
    name[IF_NAMESIZE - 1] = 0;
    return 0;
}

#endif
