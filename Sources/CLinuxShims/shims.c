#include "CLinuxShims.h"

#include <fcntl.h>
#include <sched.h>
#include <spawn.h>
#include <unistd.h>

int hadeck_setns_network(int fd) { return setns(fd, CLONE_NEWNET); }

int hadeck_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int hadeck_spawn_file_actions_closefrom(void *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np((posix_spawn_file_actions_t *)actions, from);
}
