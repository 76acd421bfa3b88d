// The keywords HAProxy 2.6 knows, from its sources (src/cfgparse-global.c, src/cfgparse-listen.c,
// src/proxy.c, src/server.c, the `cfg_kws`, `srv_kws` and `bind_kws` tables of every module built into
// Debian's 2.6.12 package). A known keyword that hadeck does not model is a warning; a word outside
// these tables is an error, as it is for HAProxy.

/// Sections HAProxy 2.6 opens with a keyword on a line of its own.
let proxySectionKeywords: Set<String> = ["defaults", "frontend", "backend", "listen"]

/// Sections hadeck does not model: their content is skipped with one warning.
let otherSectionKeywords: Set<String> = [
    "peers", "resolvers", "userlist", "mailers", "program", "http-errors", "ring", "cache", "fcgi-app",
    "log-forward", "namespace_list",
]

/// Keywords of the `global` section.
let globalKeywords: Set<String> = [
    "busy-polling", "ca-base", "chroot", "close-spread-time", "cluster-secret", "cpu-map", "crt-base", "daemon",
    "default-path", "description", "expose-experimental-directives", "external-check", "fd-hard-limit", "gid",
    "grace", "group", "h1-accept-payload-with-any-method", "h1-case-adjust", "h1-case-adjust-file",
    "h2-workaround-bogus-websocket-clients", "hard-stop-after", "httpclient.resolvers.id",
    "httpclient.resolvers.prefer", "httpclient.ssl.ca-file", "httpclient.ssl.verify", "insecure-fork-wanted",
    "insecure-setuid-wanted", "issuers-chain-path", "localpeer", "log", "log-send-hostname", "log-tag",
    "lua-load", "lua-load-per-thread", "lua-prepend-path", "master-worker", "max-spread-checks",
    "maxcompcpuusage", "maxcomprate", "maxconn", "maxconnrate", "maxpipes", "maxsessrate", "maxsslconn",
    "maxsslrate", "maxzlibmem", "mworker-max-reloads", "nbthread", "no-memory-trimming", "node", "noepoll",
    "noevports", "nogetaddrinfo", "nokqueue", "nopoll", "noreuseport", "nosplice", "numa-cpu-mapping", "pidfile",
    "pp2-never-send-local", "presetenv", "profiling.memory", "profiling.tasks", "quiet", "resetenv",
    "server-state-base", "server-state-file", "set-dumpable", "set-var", "set-var-fmt", "setenv",
    "spread-checks", "ssl-default-bind-ciphers", "ssl-default-bind-ciphersuites", "ssl-default-bind-curves",
    "ssl-default-bind-options", "ssl-default-server-ciphers", "ssl-default-server-ciphersuites",
    "ssl-default-server-options", "ssl-dh-param-file", "ssl-engine", "ssl-load-extra-del-ext",
    "ssl-load-extra-files", "ssl-mode-async", "ssl-propquery", "ssl-provider", "ssl-provider-path",
    "ssl-server-verify", "ssl-skip-self-issued-ca", "stats", "strict-limits", "thread-group", "thread-groups",
    "tune.buffers.limit", "tune.buffers.reserve", "tune.bufsize", "tune.comp.maxlevel", "tune.fail-alloc",
    "tune.fd.edge-triggered", "tune.h2.header-table-size", "tune.h2.initial-window-size",
    "tune.h2.max-concurrent-streams", "tune.h2.max-frame-size", "tune.http.cookielen", "tune.http.logurilen",
    "tune.http.maxhdr", "tune.idle-pool.shared", "tune.idletimer", "tune.listener.multi-queue",
    "tune.lua.forced-yield", "tune.lua.maxmem", "tune.lua.service-timeout", "tune.lua.session-timeout",
    "tune.lua.task-timeout", "tune.maxaccept", "tune.maxpollevents", "tune.maxrewrite",
    "tune.pattern.cache-size", "tune.pipesize", "tune.pool-high-fd-ratio", "tune.pool-low-fd-ratio",
    "tune.rcvbuf.client", "tune.rcvbuf.server", "tune.recv_enough", "tune.runqueue-depth",
    "tune.sched.low-latency", "tune.sndbuf.client", "tune.sndbuf.server", "tune.ssl.cachesize",
    "tune.ssl.capture-buffer-size", "tune.ssl.capture-cipherlist-size", "tune.ssl.default-dh-param",
    "tune.ssl.force-private-cache", "tune.ssl.hard-maxrecord", "tune.ssl.keylog", "tune.ssl.lifetime",
    "tune.ssl.maxrecord", "tune.ssl.ssl-ctx-cache-size", "tune.vars.global-max-size", "tune.vars.proc-max-size",
    "tune.vars.reqres-max-size", "tune.vars.sess-max-size", "tune.vars.txn-max-size", "tune.zlib.memlevel",
    "tune.zlib.windowsize", "uid", "ulimit-n", "unix-bind", "unsetenv", "user", "zero-warning",
]

/// Keywords of `defaults`, `frontend`, `backend` and `listen`.
let proxyKeywords: Set<String> = [
    "acl", "backlog", "balance", "bind", "bind-process", "capture", "clitcpka-cnt", "clitcpka-idle",
    "clitcpka-intvl", "compression", "cookie", "declare", "default-server", "default_backend", "description",
    "disabled", "dispatch", "dynamic-cookie-key", "email-alert", "enabled", "error-log-format", "errorfile",
    "errorfiles", "errorloc", "errorloc302", "errorloc303", "external-check", "filter", "force-persist",
    "fullconn", "grace", "hash-balance-factor", "hash-type", "http-after-response", "http-check", "http-error",
    "http-request", "http-response", "http-reuse", "http-send-name-header", "id", "ignore-persist",
    "load-server-state-from-file", "log", "log-format", "log-format-sd", "log-tag", "max-keep-alive-queue",
    "max-session-srv-conns", "maxconn", "mode", "monitor", "monitor-uri", "option", "persist", "rate-limit",
    "redirect", "retries", "retry-on", "server", "server-state-file-name", "server-template", "source",
    "srvtcpka-cnt", "srvtcpka-idle", "srvtcpka-intvl", "stats", "stick", "stick-table", "tcp-check",
    "tcp-request", "tcp-response", "timeout", "transparent", "unique-id-format", "unique-id-header",
    "use-fcgi-app", "use-server", "use_backend",
]

/// Proxy keywords HAProxy 2.6 removed, with its own message (without the `parsing [file:line] :` part).
let removedProxyKeywords: [String: String] = {
    var table: [String: String] = [
        "appsession": "'appsession' is not supported anymore since HAProxy 1.6.",
        "block":
            "The 'block' directive is not supported anymore since HAProxy 2.1. Use 'http-request deny' which uses the exact same syntax.",
        "redispatch":
            "keyword 'redispatch' directive is not supported anymore since HAProxy 2.1. Use 'option redispatch'.",
        "redisp": "keyword 'redisp' directive is not supported anymore since HAProxy 2.1. Use 'option redispatch'.",
        "contimeout": "the 'contimeout' directive is not supported anymore since HAProxy 2.1. Use 'timeout connect'.",
        "clitimeout": "the 'clitimeout' directive is not supported anymore since HAProxy 2.1. Use 'timeout client'.",
        "srvtimeout": "the 'srvtimeout' directive is not supported anymore since HAProxy 2.1. Use 'timeout server'.",
        "monitor-net":
            "'monitor-net' doesn't exist anymore. Please use 'http-request return status 200 if { src ... }' instead.",
        "usesrc": "'usesrc' only allowed after a 'source' statement.",
        "reqpass": "The 'reqpass' not supported anymore since HAProxy 2.1.",
        "reqipass": "The 'reqipass' directive is not supported anymore since HAProxy 2.1.",
        "reqdeny": "The 'reqdeny' not supported anymore since HAProxy 2.1. Use 'http-request deny' instead.",
    ]
    let replacements: [(String, String)] = [
        (
            "cliexp",
            "Use 'http-request replace-path', 'http-request replace-uri' or 'http-request replace-header' instead."
        ),
        (
            "reqrep",
            "Use 'http-request replace-path', 'http-request replace-uri' or 'http-request replace-header' instead."
        ),
        ("reqdel", "Use 'http-request del-header' instead."),
        ("reqallow", "Use 'http-request allow' instead."),
        ("reqtarpit", "Use 'http-request tarpit' instead."),
        ("reqirep", "Use 'http-request replace-header' instead."),
        ("reqidel", "Use 'http-request del-header' instead."),
        ("reqideny", "Use 'http-request deny' instead."),
        ("reqiallow", "Use 'http-request allow' instead."),
        ("reqitarpit", "Use 'http-request tarpit' instead."),
        ("reqadd", "Use 'http-request add-header' instead."),
        ("srvexp", "Use 'http-response replace-header' instead."),
        ("rsprep", "Use 'http-response replace-header' instead."),
        ("rspdel", "Use 'http-response del-header' ."),
        ("rspdeny", "Use 'http-response deny' instead."),
        ("rspirep", "Use 'http-response replace-header' instead."),
        ("rspidel", "Use 'http-response del-header' instead."),
        ("rspideny", "Use 'http-response deny' instead."),
        ("rspadd", "Use 'http-response add-header' instead."),
    ]
    for (word, advice) in replacements {
        table[word] = "The '\(word)' directive is not supported anymore since HAProxy 2.1. \(advice)"
    }
    return table
}()

/// Global keywords HAProxy 2.6 removed, with its message.
let removedGlobalKeywords: [String: String] = [
    "nbproc":
        "nbproc is not supported any more since HAProxy 2.5. Threads will automatically be used on multi-processor machines if available.",
    "tune.chksize": "option 'tune.chksize' is not supported any more (tune.bufsize is used instead).",
]

/// `option` names (besides those hadeck models), from `cfg_opts`, `cfg_opts2` and cfgparse-listen.c.
let knownOptions: Set<String> = [
    "abortonclose", "accept-invalid-http-request", "accept-invalid-http-response", "allbackups", "checkcache",
    "clitcpka", "contstats", "disable-h2-upgrade", "dontlog-normal", "dontlognull", "external-check",
    "forwardfor", "h1-case-adjust-bogus-client", "h1-case-adjust-bogus-server", "http-buffer-request",
    "http-ignore-probes", "http-keep-alive", "http-no-delay", "http-pretend-keepalive",
    "http-restrict-req-hdr-names", "http-server-close", "http-use-proxy-header", "httpchk", "httpclose",
    "httplog", "httpslog", "idle-close-on-response", "independent-streams", "ldap-check", "log-health-checks",
    "log-separate-errors", "logasap", "mysql-check", "nolinger", "originalto", "persist", "pgsql-check",
    "prefer-last-server", "redis-check", "redispatch", "smtpchk", "socket-stats", "splice-auto",
    "splice-request", "splice-response", "spop-check", "srvtcpka", "ssl-hello-chk", "tcp-check",
    "tcp-smart-accept", "tcp-smart-connect", "tcpka", "tcplog", "transparent",
]

/// Options HAProxy 2.6 removed, with its message.
let removedOptions: [String: String] = [
    "forceclose":
        "option 'forceclose' is not supported any more since HAProxy 2.0, please just remove it, or use 'option httpclose' if absolutely needed.",
    "http-tunnel":
        "option 'http-tunnel' is not supported any more since HAProxy 2.1, please just remove it, it shouldn't be needed.",
    "http_proxy":
        "option 'http_proxy' is not supported any more since HAProxy 2.5. This option stopped working in HAProxy 1.9 and usually had nasty side effects. It can be more reliably implemented with combinations of 'http-request set-dst' and 'http-request set-uri', and even 'http-request do-resolve' if DNS resolution is desired.",
    "http-use-htx":
        "option 'http-use-htx' is not supported any more since HAProxy 2.1, please just remove it, it shouldn't be needed.",
]

/// `server` / `default-server` keywords hadeck does not model, with how many arguments each takes.
let otherServerKeywords: [String: Int] = [
    "agent-addr": 1, "agent-check": 0, "agent-inter": 1, "agent-port": 1, "agent-send": 1, "allow-0rtt": 0,
    "alpn": 1, "ca-file": 1, "check-alpn": 1, "check-proto": 1, "check-send-proxy": 0, "check-sni": 1,
    "check-ssl": 0, "check-via-socks4": 0, "ciphers": 1, "ciphersuites": 1, "crl-file": 1, "crt": 1,
    "enabled": 0, "error-limit": 1, "force-sslv3": 0, "force-tlsv10": 0, "force-tlsv11": 0, "force-tlsv12": 0,
    "force-tlsv13": 0, "id": 1, "init-addr": 1, "log-proto": 1, "max-reuse": 1, "maxqueue": 1, "minconn": 1,
    "namespace": 1, "no-agent-check": 0, "no-backup": 0, "no-check-send-proxy": 0, "no-check-ssl": 0,
    "no-send-proxy": 0, "no-send-proxy-v2": 0, "no-send-proxy-v2-ssl": 0, "no-send-proxy-v2-ssl-cn": 0,
    "no-ssl": 0, "no-ssl-reuse": 0, "no-sslv3": 0, "no-tfo": 0, "no-tls-tickets": 0, "no-tlsv10": 0,
    "no-tlsv11": 0, "no-tlsv12": 0, "no-tlsv13": 0, "non-stick": 0, "npn": 1, "observe": 1, "on-error": 1,
    "on-marked-down": 1, "on-marked-up": 1, "pool-low-conn": 1, "pool-max-conn": 1, "pool-purge-delay": 1,
    "proto": 1, "proxy-v2-options": 1, "redir": 1, "resolve-net": 1, "resolve-opts": 1, "resolve-prefer": 1,
    "resolvers": 1, "send-proxy": 0, "send-proxy-v2": 0, "send-proxy-v2-ssl": 0, "send-proxy-v2-ssl-cn": 0,
    "sni": 1, "socks4": 1, "source": 1, "ssl": 0, "ssl-max-ver": 1, "ssl-min-ver": 1, "ssl-reuse": 0,
    "stick": 0, "tcp-ut": 1, "tfo": 0, "tls-tickets": 0, "track": 1, "usesrc": 1, "verify": 1, "verifyhost": 1,
    "ws": 1, "interface": 1,
]

/// `bind` keywords, with how many arguments each takes.
let bindKeywords: [String: Int] = [
    "accept-netscaler-cip": 1, "accept-proxy": 0, "allow-0rtt": 0, "alpn": 1, "backlog": 1, "ca-file": 1,
    "ca-ignore-err": 1, "ca-sign-file": 1, "ca-sign-pass": 1, "ca-verify-file": 1, "ciphers": 1, "ciphersuites": 1,
    "crl-file": 1, "crt": 1, "crt-ignore-err": 1, "crt-list": 1, "curves": 1, "defer-accept": 0, "ecdhe": 1,
    "expose-fd": 1, "force-sslv3": 0, "force-tlsv10": 0, "force-tlsv11": 0, "force-tlsv12": 0, "force-tlsv13": 0,
    "generate-certificates": 0, "gid": 1, "group": 1, "id": 1, "interface": 1, "level": 1, "maxconn": 1,
    "mode": 1, "mss": 1, "name": 1, "namespace": 1, "nice": 1, "no-ca-names": 0, "no-sslv3": 0,
    "no-tls-tickets": 0, "no-tlsv10": 0, "no-tlsv11": 0, "no-tlsv12": 0, "no-tlsv13": 0, "npn": 1,
    "prefer-client-ciphers": 0, "process": 1, "proto": 1, "quic-force-retry": 0, "severity-output": 1,
    "shards": 1, "ssl": 0, "ssl-max-ver": 1, "ssl-min-ver": 1, "strict-sni": 0, "tcp-ut": 1, "tfo": 0,
    "thread": 1, "tls-ticket-keys": 1, "transparent": 0, "uid": 1, "user": 1, "v4v6": 0, "v6only": 0,
    "verify": 1,
]

/// `timeout` kinds HAProxy 2.6 accepts.
let timeoutKinds: Set<String> = [
    "client", "client-fin", "connect", "check", "http-keep-alive", "http-request", "queue", "server", "server-fin",
    "tarpit", "tunnel",
]
