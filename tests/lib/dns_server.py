#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""A DNS server for tests, as slow as asked: every answer leaves DELAY
seconds after its question (each on its own timer, so questions do not queue
behind each other). A and AAAA for the names given, NXDOMAIN for the others.
Each question is logged ("query NAME TYPE") to LOG, then "ready" once it
listens.

  dns_server.py LOG ADDRESS:PORT DELAY_S NAME=IPV4 [NAME=IPV4 ...]
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


def answer(msg, records):
    qid, flags, name, qtype, q = question(msg)
    addr = records.get(name)
    rcode = 0 if addr else 3                     # NXDOMAIN
    rrs = b""
    if addr and qtype == A:
        # The name by pointer to the question (offset 12), IN, TTL, 4 bytes.
        rrs = struct.pack("!HHHIH", 0xC00C, A, 1, TTL, 4) + socket.inet_aton(addr)
    header = struct.pack("!HHHHHH", qid, 0x8180 | (flags & 0x0100) | rcode, 1,
                         1 if rrs else 0, 0, 0)
    return header + q + rrs


def main():
    log_path, listen, delay = sys.argv[1], sys.argv[2], float(sys.argv[3])
    records = dict(arg.lower().split("=", 1) for arg in sys.argv[4:])
    host, port = listen.rsplit(":", 1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, int(port)))
    log = open(log_path, "a", buffering=1)
    log.write("ready\n")
    while True:
        msg, peer = sock.recvfrom(4096)
        try:
            _, _, name, qtype, _ = question(msg)
            reply = answer(msg, records)
        except (IndexError, struct.error, UnicodeDecodeError):
            continue
        log.write(f"query {name} {TYPES.get(qtype, qtype)}\n")
        threading.Timer(delay, sock.sendto, (reply, peer)).start()


if __name__ == "__main__":
    main()
