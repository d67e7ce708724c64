#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""A DNS server for tests, as slow as asked: every answer leaves DELAY
seconds after its question (each on its own timer, so questions do not queue
behind each other). A and AAAA for the names given (each with its IPv4 and
IPv6 addresses), NXDOMAIN for the others. Each question is logged ("query
NAME TYPE") to LOG, then "ready" once it listens.

  dns_server.py LOG ADDRESS:PORT DELAY_S NAME=ADDR[,ADDR...] ...
  dns_server.py LOG ADDRESS:PORT DELAY_S @FILE

With @FILE the records are read from FILE (lines NAME=ADDR[,ADDR...]) at
each question, so a test changes them as a re-created Service would.
"""
import socket
import struct
import sys
import threading

TTL = 30
A, AAAA = 1, 28
TYPES = {A: "A", AAAA: "AAAA"}


def question(msg):
    """(id, flags, name, qtype, the question's bytes) of a query."""
    qid, flags = struct.unpack("!HH", msg[:4])
    labels, i = [], 12
    while msg[i]:
        labels.append(msg[i + 1:i + 1 + msg[i]].decode())
        i += 1 + msg[i]
    qtype = struct.unpack("!H", msg[i + 1:i + 3])[0]
    return qid, flags, ".".join(labels).lower(), qtype, msg[12:i + 5]


def parse_records(args):
    """{name: [address, ...]} from NAME=ADDR[,ADDR...] strings."""
    records = {}
    for arg in args:
        name, addrs = arg.strip().lower().split("=", 1)
        records[name] = [a for a in addrs.split(",") if a]
    return records


def answer(msg, records):
    qid, flags, name, qtype, q = question(msg)
    addrs = records.get(name)
    rcode = 0 if addrs else 3                    # NXDOMAIN
    rrs = []
    for addr in addrs or []:
        family = socket.AF_INET6 if ":" in addr else socket.AF_INET
        if (qtype, family) in ((A, socket.AF_INET), (AAAA, socket.AF_INET6)):
            raw = socket.inet_pton(family, addr)
            # The name by pointer to the question (offset 12), IN, TTL.
            rrs.append(struct.pack("!HHHIH", 0xC00C, qtype, 1, TTL, len(raw)) + raw)
    header = struct.pack("!HHHHHH", qid, 0x8180 | (flags & 0x0100) | rcode, 1,
                         len(rrs), 0, 0)
    return header + q + b"".join(rrs)


def main():
    log_path, listen, delay = sys.argv[1], sys.argv[2], float(sys.argv[3])
    source = sys.argv[4:]
    host, port = listen.rsplit(":", 1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, int(port)))
    log = open(log_path, "a", buffering=1)
    log.write("ready\n")
    while True:
        msg, peer = sock.recvfrom(4096)
        try:
            _, _, name, qtype, _ = question(msg)
            lines = (open(source[0][1:]).read().split() if source and
                     source[0].startswith("@") else source)
            reply = answer(msg, parse_records(lines))
        except (IndexError, struct.error, UnicodeDecodeError):
            continue
        log.write(f"query {name} {TYPES.get(qtype, qtype)}\n")
        threading.Timer(delay, sock.sendto, (reply, peer)).start()


if __name__ == "__main__":
    main()
