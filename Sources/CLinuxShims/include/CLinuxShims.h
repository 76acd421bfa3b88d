// Linux calls that glibc declares only under _GNU_SOURCE, which Swift's Glibc module is built
// without. Plain C types only, so this header needs no system header of its own.
#ifndef HADECK_CLINUXSHIMS_H
#define HADECK_CLINUXSHIMS_H

/// setns(fd, CLONE_NEWNET): the calling thread joins the network namespace open at `fd`.
int hadeck_setns_network(int fd);

/// pipe2(fds, O_CLOEXEC).
int hadeck_pipe_cloexec(int fds[2]);

/// posix_spawn_file_actions_addclosefrom_np(actions, from): the child closes every descriptor >= from.
/// `actions` is a posix_spawn_file_actions_t *.
int hadeck_spawn_file_actions_closefrom(void *actions, int from);

/// socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(protocol)) bound to interface `ifindex` (frames
/// of that Ethernet type on it, or every frame with ETH_P_ALL 0x0003). -1 with errno on failure.
int hadeck_packet_socket(int ifindex, unsigned short protocol);

/// sendto(fd, frame, length) out of interface `ifindex` to link-layer address `mac` (6 bytes): the
/// frame is sent as given, Ethernet header included. Returns sendto's result.
long hadeck_packet_send(int fd, int ifindex, const unsigned char *mac, const void *frame, unsigned long length);

/// mallopt(M_ARENA_MAX, arenas): malloc creates at most `arenas` arenas from now on (glibc's default
/// is eight per core, one per thread that meets a locked arena). Returns mallopt's result (1 = done).
int hadeck_malloc_arena_max(int arenas);

/// madvise(MADV_PAGEOUT) over the executable's code and read-only data (__executable_start to
/// etext): its pages leave this process's resident set, and the ones it still runs fault back in.
/// Returns madvise's result (-1 with errno when the kernel lacks MADV_PAGEOUT, Linux < 5.4).
int hadeck_page_out_executable_code(void);

#endif
