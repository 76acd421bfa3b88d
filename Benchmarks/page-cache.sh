# Sourced by the memory benchmarks (attach-vs-hatop.sh, dashboard-idle.sh).
#
# evict_page_cache FILE: drops FILE's cached pages, so a program started from it begins as one read
# from disk does. A binary just built or copied sits whole in the page cache, and the kernel's
# fault-around then maps more of it than of one read from disk (measured 2026-12-03: one binary
# 21.5 MB resident just after `cp`, 20.4 MB once its cached pages were dropped).
evict_page_cache() {
    sync
    python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)' "$1"
}
