// Generated from Themes/*.theme; DashboardTests checks that they match the files.

let builtinThemeFiles: [String: String] = [
    "dark": #"""
    # dark: the default theme, for dark terminal backgrounds.
    # Format: see README.md in this directory.
    normal     = default
    header     = bright-white on 24, bold
    title      = 75
    focus      = bright-cyan, bold
    up         = bright-green
    down       = bright-red, bold
    transition = bright-yellow
    drain      = 208
    maint      = 141
    master     = bright-green, bold
    backup     = bright-cyan
    fault      = bright-red, bold
    alarm      = bright-white on red, bold
    highlight  = black on bright-yellow, bold
    dim        = 244
    selection  = bright-white on 238
    keybar     = 250 on 236
    key        = bright-yellow on 236, bold
    caption    = black on 229, bold
    status     = 250
    error      = bright-red, bold
    bar        = 75
    jvm1       = 214
    jvm2       = 51
    jvm3       = 207
    jvm4       = 118
    jvm5       = 39
    jvm6       = 220
    """#,
    "light": #"""
    # light: for light terminal backgrounds.
    normal     = default
    header     = white on 25, bold
    title      = 25, bold
    focus      = 21, bold underline
    up         = 28, bold
    down       = 160, bold
    transition = 130, bold
    drain      = 166
    maint      = 90
    master     = 28, bold
    backup     = 25
    fault      = 160, bold
    alarm      = bright-white on 160, bold
    highlight  = black on 220, bold
    dim        = 245
    selection  = black on 153
    keybar     = 236 on 252
    key        = 21 on 252, bold
    caption    = black on 222, bold
    status     = 238
    error      = 160, bold
    bar        = 25
    jvm1       = 130
    jvm2       = 30
    jvm3       = 127
    jvm4       = 28
    jvm5       = 26
    jvm6       = 94
    """#,
    "presenter": #"""
    # presenter: high contrast for projectors and screen recordings.
    # Strong saturated colours, bold everywhere, states as coloured blocks you can read from the back row.
    normal     = bright-white on black
    header     = black on bright-white, bold
    title      = bright-yellow on black, bold
    focus      = black on bright-yellow, bold
    up         = black on bright-green, bold
    down       = bright-white on red, bold
    transition = black on bright-yellow, bold
    drain      = black on 208, bold
    maint      = bright-white on magenta, bold
    master     = black on bright-green, bold
    backup     = black on bright-cyan, bold
    fault      = bright-white on red, bold
    alarm      = bright-yellow on red, bold reverse
    highlight  = black on bright-yellow, bold
    dim        = 250 on black
    selection  = black on bright-white, bold
    keybar     = bright-white on blue, bold
    key        = bright-yellow on blue, bold
    caption    = black on bright-yellow, bold
    status     = bright-white on black, bold
    error      = bright-white on red, bold
    bar        = bright-cyan on black
    jvm1       = bright-yellow on black, bold
    jvm2       = bright-cyan on black, bold
    jvm3       = bright-magenta on black, bold
    jvm4       = bright-green on black, bold
    jvm5       = bright-blue on black, bold
    jvm6       = bright-red on black, bold
    """#,
    "mono": #"""
    # mono: no colour at all, only bold, underline and reverse.
    # Used whenever NO_COLOR is set.
    normal     = default
    header     = reverse, bold
    title      = bold
    focus      = bold underline
    up         = bold
    down       = reverse, bold
    transition = underline
    drain      = underline
    maint      = reverse
    master     = bold
    backup     = default
    fault      = reverse, bold
    alarm      = reverse, bold underline
    highlight  = reverse
    dim        = default
    selection  = reverse
    keybar     = reverse
    key        = reverse, bold
    caption    = reverse, bold
    status     = default
    error      = bold
    bar        = default
    jvm1       = bold
    jvm2       = underline
    jvm3       = bold underline
    jvm4       = reverse
    jvm5       = bold
    jvm6       = underline
    """#,
]
