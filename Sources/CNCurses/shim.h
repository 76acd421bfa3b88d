#ifndef HADECK_CNCURSES_SHIM_H
#define HADECK_CNCURSES_SHIM_H

/* SwiftPM drops pkg-config's -D_XOPEN_SOURCE=600: ask for the wide-character API explicitly. */
#define NCURSES_WIDECHAR 1
#include <locale.h>
#include <stdio.h>
#include <wchar.h>
#include <ncursesw/curses.h>

/* Macros and globals Swift cannot import (or rejects under strict concurrency). */
static inline WINDOW *hadeck_stdscr(void) { return stdscr; }
static inline FILE *hadeck_stdout(void) { return stdout; }
static inline FILE *hadeck_stdin(void) { return stdin; }
static inline int hadeck_lines(void) { return LINES; }
static inline int hadeck_cols(void) { return COLS; }
static inline int hadeck_colors(void) { return COLORS; }
static inline int hadeck_color_pairs(void) { return COLOR_PAIRS; }
static inline attr_t hadeck_a_normal(void) { return A_NORMAL; }
static inline attr_t hadeck_a_bold(void) { return A_BOLD; }
static inline attr_t hadeck_a_underline(void) { return A_UNDERLINE; }
static inline attr_t hadeck_a_reverse(void) { return A_REVERSE; }
static inline int hadeck_key_f(int n) { return KEY_F(n); }

/* Writes n wide characters at (y, x) with the given attributes and colour pair. */
static inline int hadeck_put(WINDOW *w, int y, int x, const wchar_t *s, int n, attr_t a, int pair) {
    wattr_set(w, a, (NCURSES_PAIRS_T)pair, NULL);
    if (wmove(w, y, x) == ERR) return ERR;
    return waddnwstr(w, s, n);
}

/* Reads back the character at (y, x) as a wide string (for tests). Returns its length. */
static inline int hadeck_char_at(WINDOW *w, int y, int x, wchar_t *out, int max) {
    cchar_t c;
    attr_t a;
    NCURSES_PAIRS_T p;
    if (mvwin_wch(w, y, x, &c) == ERR) return 0;
    wchar_t buf[CCHARW_MAX + 1];
    if (getcchar(&c, buf, &a, &p, NULL) == ERR) return 0;
    int n = 0;
    while (n < max && n < CCHARW_MAX && buf[n] != 0) { out[n] = buf[n]; n++; }
    return n;
}
#endif
