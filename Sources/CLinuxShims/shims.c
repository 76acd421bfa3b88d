#include "CLinuxShims.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <malloc.h>
#include <sched.h>
#include <spawn.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

int hadeck_setns_network(int fd) { return setns(fd, CLONE_NEWNET); }

int hadeck_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int hadeck_spawn_file_actions_closefrom(void *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np((posix_spawn_file_actions_t *)actions, from);
}

// AF_PACKET (gratuitous ARPs): struct sockaddr_ll lives in <linux/if_packet.h>, which Swift's Glibc
// module does not bring in.

int hadeck_packet_socket(int ifindex, unsigned short protocol) {
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(protocol));
    if (fd < 0) return -1;
    struct sockaddr_ll address;
    memset(&address, 0, sizeof address);
    address.sll_family = AF_PACKET;
    address.sll_protocol = htons(protocol);
    address.sll_ifindex = ifindex;
    if (bind(fd, (struct sockaddr *)&address, sizeof address) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

long hadeck_packet_send(int fd, int ifindex, const unsigned char *mac, const void *frame, unsigned long length) {
    struct sockaddr_ll address;
    memset(&address, 0, sizeof address);
    address.sll_family = AF_PACKET;
    address.sll_ifindex = ifindex;
    address.sll_halen = 6;
    memcpy(address.sll_addr, mac, 6);
    return sendto(fd, frame, length, 0, (struct sockaddr *)&address, sizeof address);
}

// malloc's tuning (<malloc.h>), which Swift's Glibc module does not bring in.

int hadeck_malloc_arena_max(int arenas) { return mallopt(M_ARENA_MAX, arenas); }

// The executable's own image, from the linker (GNU ld and lld both define these).
extern char __executable_start;
extern char etext;

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

int hadeck_page_out_executable_code(void) {
    unsigned long page = (unsigned long)sysconf(_SC_PAGESIZE);
    unsigned long start = (unsigned long)&__executable_start & ~(page - 1);
    unsigned long stop = ((unsigned long)&etext + page - 1) & ~(page - 1);
    return madvise((void *)start, stop - start, MADV_PAGEOUT);
}
