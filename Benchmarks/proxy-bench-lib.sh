# Shared by proxy-vs-haproxy.sh and proxy-callgrind.sh (sourced): the page the backends serve, their
# nginx configuration, and the haproxy.cfg both proxies run.

# bench_www WORK: the small static page, at / and /login (the article's check URI).
bench_www() {
    mkdir -p "$1/www" "$1/tmp"
    printf '<html><body><h1>hadeck benchmark</h1><p>a small static page</p></body></html>\n' > "$1/www/index.html"
    cp "$1/www/index.html" "$1/www/login"
}

# bench_nginx_conf WORK HOST_A HOST_B: one nginx worker serving the page on HOST_A:8081 and HOST_B:8888.
bench_nginx_conf() {
    local work=$1
    cat > "$work/nginx.conf" <<NGINX
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_requests 1000000;
    default_type text/html;
    client_body_temp_path $work/tmp; proxy_temp_path $work/tmp; fastcgi_temp_path $work/tmp;
    uwsgi_temp_path $work/tmp; scgi_temp_path $work/tmp;
    server { listen $2:8081; root $work/www; location = /login { } }
    server { listen $3:8888; root $work/www; location = /login { } }
}
NGINX
}

# bench_proxy_cfg FILE cookie|plain|rules BIND HOST_A HOST_B: the configuration both proxies run
# (rules: plain with two ACLs, a deny that never matches and a set-header on every request).
bench_proxy_cfg() {
    local cookie_line="" a="" b=""
    if [ "$2" = cookie ]; then cookie_line="    cookie SRV insert indirect nocache"; a=" cookie A"; b=" cookie B"; fi
    if [ "$2" = rules ]; then
        cookie_line="    acl is_api path_beg /api
    acl host_admin hdr(host) -i admin.example.com
    http-request deny if is_api host_admin
    http-request set-header X-Routed yes"
    fi
    cat > "$1" <<CFG
global
    nbthread 1
    maxconn 4096

defaults
    mode http
    retries 3
    option redispatch
    timeout connect 5s
    timeout client 30s
    timeout server 30s

listen web
    bind $3
    balance roundrobin
$cookie_line
    option httpchk GET /login
    server webA $4:8081$a check inter 2000 rise 2 fall 3
    server webB $5:8888$b check inter 2000 rise 2 fall 3
CFG
}
