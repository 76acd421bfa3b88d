// The article's cluster, compiled in so `hadeck` runs from any directory.
// These texts are the files in Examples/article/ (a test keeps them identical).

/// The files of the built-in article cluster, by name as the cluster file names them.
public enum ArticleClusterFiles {
    public static let files: [String: String] = [
        "cluster.yaml": #"""
        # The article's cluster on loopback: two balancer hosts (haproxy + keepalived each)
        # in front of two Tomcat-like backends. `hadeck` runs exactly this by default.
        name: article
        vip: 127.0.0.99:8080
        balancers:
          lb1:
            address: 127.0.1.1
            mac: "52:54:00:00:01:01"
            haproxy: haproxy-lb1.cfg
            keepalived: keepalived-lb1.conf
          lb2:
            address: 127.0.1.2
            mac: "52:54:00:00:01:02"
            haproxy: haproxy-lb2.cfg
            keepalived: keepalived-lb2.conf
        backends:
          webA:
            address: 127.0.2.1:8081
            jvmRoute: jvm3
          webB:
            address: 127.0.2.2:8888
            jvmRoute: jvm2
        traffic:
          rate: 4
          clients: 4
          on: true

        """#,
        "haproxy-lb1.cfg": haproxyConfig(node: "lb1"),
        "haproxy-lb2.cfg": haproxyConfig(node: "lb2"),
        "keepalived-lb1.conf": keepalivedConfig(
            node: "lb1", state: "MASTER", priority: 150, address: "127.0.1.1", peer: "127.0.1.2"),
        "keepalived-lb2.conf": keepalivedConfig(
            node: "lb2", state: "BACKUP", priority: 100, address: "127.0.1.2", peer: "127.0.1.1"),
    ]

    /// The two balancers' haproxy.cfg differ only in the node's name (and so its stats socket).
    private static func haproxyConfig(node: String) -> String {
        #"""
        # haproxy.cfg for balancer \#(node), after the article's configuration.
        # Everything lives on loopback: the web servers are 127.0.2.1 and 127.0.2.2.

        global
            nbthread 1
            maxconn 4096
            node \#(node)
            stats socket /tmp/hadeck-\#(node).sock mode 600 level admin

        defaults
            mode http
            retries 3
            option redispatch
            timeout connect 5s
            timeout client 30s
            timeout server 30s

        listen web
            bind :8080
            balance roundrobin
            cookie SRV insert indirect nocache
            option httpchk GET /login
            stats enable
            stats uri /haproxy-stats
            stats refresh 5s
            server webA 127.0.2.1:8081 cookie A check inter 2000 rise 2 fall 3
            server webB 127.0.2.2:8888 cookie B check inter 2000 rise 2 fall 3

        """#
    }

    /// The two balancers' keepalived.conf differ only in the node: its name, VRRP state and
    /// priority, its own address and its peer's.
    private static func keepalivedConfig(
        node: String, state: String, priority: Int, address: String, peer: String
    ) -> String {
        #"""
        ! keepalived.conf for balancer \#(node) (\#(state)), after the article's configuration.

        global_defs {
            router_id \#(node)
        }

        vrrp_script chk_haproxy {
            script "killall -0 haproxy"   # is haproxy alive?
            interval 2
            weight -60
            fall 2
            rise 1
        }

        vrrp_instance VI_1 {
            state \#(state)
            interface lo
            virtual_router_id 51
            priority \#(priority)
            advert_int 1
            unicast_src_ip \#(address)
            unicast_peer {
                \#(peer)
            }
            authentication {
                auth_type PASS
                auth_pass hadeck
            }
            virtual_ipaddress {
                127.0.0.99
            }
            track_script {
                chk_haproxy
            }
        }

        """#
    }
}
