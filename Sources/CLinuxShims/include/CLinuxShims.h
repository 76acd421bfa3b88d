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

#endif
