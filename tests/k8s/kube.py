# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""kube-proxy's rules for a simulated node, written as kube-proxy writes them.

Services and their endpoints in, the text kube-proxy hands to
`iptables-restore --noflush` (iptables mode, one per family) or to `nft -f`
(nftables mode, `table ip kube-proxy` / `table ip6 kube-proxy`) out. Chain
names are kube-proxy's own hashes (pkg/proxy/iptables and pkg/proxy/nftables:
base32 of a SHA-256 of the service port name), so the rules read as they do
on a real node; the rule shapes follow the expected output of kube-proxy's
own tests (proxier_test.go in both packages).

Only what a node needs for ClusterIP, LoadBalancer and NodePort Services
with externalTrafficPolicy Cluster is written: no session affinity, no
loadBalancerSourceRanges, no topology, no Local policy.
"""
import base64
import hashlib

MASQ_MARK = "0x4000"


def kp_hash(text, n):
    """kube-proxy's chain-name hash: base32 of SHA-256, first n characters."""
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()[:n]


def host_port(ip, port):
    """ip:port, IPv6 in brackets (Go's net.JoinHostPort)."""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


class Service:
    """One port of a Kubernetes Service, and the pods behind it.

    cluster_ips: {4: IPv4, 6: IPv6} (either may be missing); lb_ips: the
    LoadBalancer ingress IPs; node_port: its NodePort or None; endpoints:
    {family: [pod IP, ...]}, kept by the world as pods come and go."""

    def __init__(self, namespace, name, port_name, protocol, port, target_port,
                 cluster_ips, lb_ips=(), node_port=None):
        self.namespace, self.name, self.port_name = namespace, name, port_name
        self.protocol, self.port, self.target_port = protocol, port, target_port
        self.cluster_ips, self.lb_ips, self.node_port = dict(cluster_ips), list(lb_ips), node_port
        self.backends = []          # pod names, in the order they were added
        self.endpoints = {4: [], 6: []}

    @property
    def dns_name(self):
        return f"{self.name}.{self.namespace}.svc.cluster.local"

    @property
    def port_name_str(self):
        """proxy.ServicePortName.String(): namespace/name:port."""
        return f"{self.namespace}/{self.name}:{self.port_name}"

    def lb_ips_of(self, family):
        return [ip for ip in self.lb_ips if (":" in ip) == (family == 6)]

    def external(self):
        """Whether kube-proxy writes a KUBE-EXT / external- chain for it."""
        return bool(self.lb_ips) or self.node_port is not None


class Family:
    """What differs between the IPv4 and IPv6 rules of one node."""

    def __init__(self, family, cluster_cidr, service_cidr, node_ips):
        self.family, self.cluster_cidr, self.service_cidr = family, cluster_cidr, service_cidr
        self.node_ips = node_ips
        self.ip = "ip" if family == 4 else "ip6"              # nft's address family


# -- iptables mode ------------------------------------------------------------

# The jumps from the built-in chains, as kube-proxy ensures them (-I: first).
IPTABLES_JUMPS = [
    ("filter", "INPUT", "-m conntrack --ctstate NEW -m comment --comment "
     '"kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL'),
    ("filter", "INPUT", '-m comment --comment "kubernetes health check service ports" '
     "-j KUBE-NODEPORTS"),
    ("filter", "INPUT", "-m conntrack --ctstate NEW -m comment --comment "
     '"kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES'),
    ("filter", "FORWARD", "-m conntrack --ctstate NEW -m comment --comment "
     '"kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL'),
    ("filter", "FORWARD", '-m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD'),
    ("filter", "FORWARD", "-m conntrack --ctstate NEW -m comment --comment "
     '"kubernetes service portals" -j KUBE-SERVICES'),
    ("filter", "FORWARD", "-m conntrack --ctstate NEW -m comment --comment "
     '"kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES'),
    ("filter", "OUTPUT", "-m conntrack --ctstate NEW -m comment --comment "
     '"kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL'),
    ("filter", "OUTPUT", "-m conntrack --ctstate NEW -m comment --comment "
     '"kubernetes service portals" -j KUBE-SERVICES'),
    ("nat", "PREROUTING", '-m comment --comment "kubernetes service portals" -j KUBE-SERVICES'),
    ("nat", "OUTPUT", '-m comment --comment "kubernetes service portals" -j KUBE-SERVICES'),
    ("nat", "POSTROUTING", '-m comment --comment "kubernetes postrouting rules" '
     "-j KUBE-POSTROUTING"),
]
FILTER_CHAINS = ["KUBE-NODEPORTS", "KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES",
                 "KUBE-FORWARD", "KUBE-PROXY-FIREWALL"]
NAT_CHAINS = ["KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ"]


def svc_hash(svc):
    """The suffix of a service port's KUBE-SVC- and KUBE-EXT- chains."""
    return kp_hash(svc.port_name_str + svc.protocol, 16)


def sep_chain(svc, ip):
    """The KUBE-SEP- chain of the service port's endpoint at pod IP ip."""
    ep = host_port(ip, svc.target_port)
    return f"KUBE-SEP-{kp_hash(svc.port_name_str + svc.protocol + ep, 16)}"


def iptables_chains(services, fam):
    """The per-service nat chains, in the order kube-proxy declares them."""
    chains = []
    for svc in services:
        if fam.family not in svc.cluster_ips:
            continue
        chains.append(f"KUBE-SVC-{svc_hash(svc)}")
        if svc.external():
            chains.append(f"KUBE-EXT-{svc_hash(svc)}")
        chains += [sep_chain(svc, ip) for ip in svc.endpoints[fam.family]]
    return chains


def iptables_rules(services, fam, stale=(), first=False):
    """iptables-restore --noflush input for one family: filter and nat.
    stale: service chains of an earlier sync that are gone now (-X);
    first: also the jumps from the built-in chains."""
    out = ["*filter"]
    out += [f":{c} - [0:0]" for c in FILTER_CHAINS]
    if first:
        out += [f"-I {chain} {rule}" for table, chain, rule in IPTABLES_JUMPS
                if table == "filter"]
    out += ["-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP",
            '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" '
            f"-m mark --mark {MASQ_MARK}/{MASQ_MARK} -j ACCEPT",
            '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" '
            "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
            "COMMIT", "*nat"]
    # Stale chains are declared (flushed) too, and deleted after the rules
    # that jumped to them are rewritten, as kube-proxy does.
    out += [f":{c} - [0:0]" for c in NAT_CHAINS + iptables_chains(services, fam) + list(stale)]
    if first:
        out += [f"-I {chain} {rule}" for table, chain, rule in IPTABLES_JUMPS
                if table == "nat"]
    out += [f"-A KUBE-POSTROUTING -m mark ! --mark {MASQ_MARK}/{MASQ_MARK} -j RETURN",
            f"-A KUBE-POSTROUTING -j MARK --xor-mark {MASQ_MARK}",
            '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring '
            'SNAT" -j MASQUERADE --random-fully',
            f"-A KUBE-MARK-MASQ -j MARK --or-mark {MASQ_MARK}"]
    for svc in services:
        if fam.family in svc.cluster_ips:
            out += iptables_service(svc, fam)
    out.append('-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: '
               'this must be the last rule in this chain" -m addrtype --dst-type LOCAL '
               '-j KUBE-NODEPORTS')
    out += [f"-X {c}" for c in stale] + ["COMMIT"]
    return "\n".join(out) + "\n"


def iptables_service(svc, fam):
    h = svc_hash(svc)
    name, proto = svc.port_name_str, svc.protocol
    match = f"-m {proto} -p {proto}"
    cip = svc.cluster_ips[fam.family]
    rules = [f'-A KUBE-SERVICES -m comment --comment "{name} cluster IP" {match} -d {cip} '
             f"--dport {svc.port} -j KUBE-SVC-{h}"]
    if svc.external():
        rules += [f'-A KUBE-SERVICES -m comment --comment "{name} loadbalancer IP" {match} '
                  f"-d {ip} --dport {svc.port} -j KUBE-EXT-{h}"
                  for ip in svc.lb_ips_of(fam.family)]
        if svc.node_port is not None:
            rules.append(f"-A KUBE-NODEPORTS -m comment --comment {name} {match} "
                         f"--dport {svc.node_port} -j KUBE-EXT-{h}")
        rules += [f'-A KUBE-EXT-{h} -m comment --comment "masquerade traffic for {name} '
                  'external destinations" -j KUBE-MARK-MASQ',
                  f"-A KUBE-EXT-{h} -j KUBE-SVC-{h}"]
    rules.append(f'-A KUBE-SVC-{h} -m comment --comment "{name} cluster IP" {match} -d {cip} '
                 f"--dport {svc.port} ! -s {fam.cluster_cidr} -j KUBE-MARK-MASQ")
    eps = svc.endpoints[fam.family]
    for i, ip in enumerate(eps):
        # Endpoint i of n is taken with probability 1/(n-i): uniform overall.
        stat = (f" -m statistic --mode random --probability {1.0 / (len(eps) - i):0.10f}"
                if i < len(eps) - 1 else "")
        rules.append(f'-A KUBE-SVC-{h} -m comment --comment "{name} -> '
                     f'{host_port(ip, svc.target_port)}"{stat} -j {sep_chain(svc, ip)}')
    for ip in eps:
        sep = sep_chain(svc, ip)
        rules += [f"-A {sep} -m comment --comment {name} -s {ip} -j KUBE-MARK-MASQ",
                  f"-A {sep} -m comment --comment {name} {match} -j DNAT --to-destination "
                  f"{host_port(ip, svc.target_port)}"]
    return rules


# -- nftables mode --------------------------------------------------------------

def nft_chain_base(svc, endpoint=None):
    """kube-proxy nftables' chain name base: HASH8-ns/name/proto/port[__ip/port]."""
    name = f"{svc.namespace}/{svc.name}/{svc.protocol}/{svc.port_name}"
    if endpoint is not None:
        name += f"__{endpoint.replace(':', '.')}/{svc.target_port}"
    return f"{kp_hash(name, 8)}-{name}"


def nftables_rules(services, fam):
    """`nft -f` input replacing table FAMILY kube-proxy whole."""
    t = f"{fam.ip} kube-proxy"
    addr = "ipv4_addr" if fam.family == 4 else "ipv6_addr"
    out = [f'add table {t} {{ comment "rules for kube-proxy" ; }}',
           f"delete table {t}",
           f'add table {t} {{ comment "rules for kube-proxy" ; }}',
           f'add set {t} cluster-ips {{ type {addr} ; comment "Active ClusterIPs" ; }}',
           f'add set {t} nodeport-ips {{ type {addr} ; comment "IPs that accept NodePort '
           'traffic" ; }',
           f"add map {t} no-endpoint-services {{ type {addr} . inet_proto . inet_service : "
           'verdict ; comment "vmap to drop or reject packets to services with no endpoints" ; }',
           f"add map {t} service-ips {{ type {addr} . inet_proto . inet_service : verdict ; "
           'comment "ClusterIP, ExternalIP and LoadBalancer IP traffic" ; }',
           f"add map {t} service-nodeports {{ type inet_proto . inet_service : verdict ; "
           'comment "NodePort traffic" ; }']
    for chain, hook in [("cluster-ips-check", None),
                        ("filter-forward", "filter hook forward priority 0"),
                        ("filter-input", "filter hook input priority 0"),
                        ("filter-output", "filter hook output priority 0"),
                        ("mark-for-masquerade", None), ("masquerading", None),
                        ("nat-output", "nat hook output priority -100"),
                        ("nat-postrouting", "nat hook postrouting priority 100"),
                        ("nat-prerouting", "nat hook prerouting priority -100"),
                        ("reject-chain", None), ("services", None),
                        ("service-endpoints-check", None)]:
        out.append(f"add chain {t} {chain}" + (f" {{ type {hook} ; }}" if hook else ""))
    ip = fam.ip
    out += [f'add rule {t} cluster-ips-check {ip} daddr @cluster-ips reject comment "Reject '
            'traffic to invalid ports of ClusterIPs"',
            f"add rule {t} cluster-ips-check {ip} daddr {{ {fam.service_cidr} }} drop comment "
            '"Drop traffic to unallocated ClusterIPs"',
            f"add rule {t} filter-forward ct state new jump service-endpoints-check",
            f"add rule {t} filter-forward ct state new jump cluster-ips-check",
            f"add rule {t} filter-input ct state new jump service-endpoints-check",
            f"add rule {t} filter-output ct state new jump service-endpoints-check",
            f"add rule {t} filter-output ct state new jump cluster-ips-check",
            f"add rule {t} mark-for-masquerade mark set mark or {MASQ_MARK}",
            f"add rule {t} masquerading mark and {MASQ_MARK} == 0 return",
            f"add rule {t} masquerading mark set mark xor {MASQ_MARK}",
            f"add rule {t} masquerading masquerade fully-random",
            f"add rule {t} nat-output jump services",
            f"add rule {t} nat-postrouting jump masquerading",
            f"add rule {t} nat-prerouting jump services",
            f"add rule {t} reject-chain reject",
            f"add rule {t} services {ip} daddr . meta l4proto . th dport vmap @service-ips",
            f"add rule {t} services {ip} daddr @nodeport-ips meta l4proto . th dport "
            "vmap @service-nodeports",
            f"add rule {t} service-endpoints-check {ip} daddr . meta l4proto . th dport "
            "vmap @no-endpoint-services"]
    out += [f"add element {t} nodeport-ips {{ {a} }}" for a in fam.node_ips]
    for svc in services:
        if fam.family in svc.cluster_ips:
            out += nftables_service(svc, fam, t)
    return "\n".join(out) + "\n"


def nftables_service(svc, fam, t):
    ip, proto, port = fam.ip, svc.protocol, svc.port
    cip = svc.cluster_ips[fam.family]
    service = f"service-{nft_chain_base(svc)}"
    eps = svc.endpoints[fam.family]
    external = f"external-{nft_chain_base(svc)}"
    endpoints = [f"endpoint-{nft_chain_base(svc, a)}" for a in eps]
    vmap = " , ".join(f"{i} : goto {ep}" for i, ep in enumerate(endpoints))
    # Chains first: a rule may only jump to a chain that exists.
    out = [f"add chain {t} {c}"
           for c in [service] + [external] * svc.external() + endpoints]
    out += [f"add rule {t} {service} {ip} daddr {cip} {ip} saddr != {fam.cluster_cidr} "
            "jump mark-for-masquerade",
            f"add rule {t} {service} numgen random mod {len(eps)} vmap {{ {vmap} }}"]
    if svc.external():
        out += [f"add rule {t} {external} jump mark-for-masquerade",
                f"add rule {t} {external} goto {service}"]
    for a, ep in zip(eps, endpoints):
        out += [f"add rule {t} {ep} {ip} saddr {a} jump mark-for-masquerade",
                f"add rule {t} {ep} meta l4proto {proto} dnat to "
                f"{host_port(a, svc.target_port)}"]
    out += [f"add element {t} cluster-ips {{ {cip} }}",
            f"add element {t} service-ips {{ {cip} . {proto} . {port} : goto {service} }}"]
    if svc.external():
        out += [f"add element {t} service-ips {{ {a} . {proto} . {port} : goto {external} }}"
                for a in svc.lb_ips_of(fam.family)]
        if svc.node_port is not None:
            out.append(f"add element {t} service-nodeports {{ {proto} . {svc.node_port} : "
                       f"goto {external} }}")
    return out
