#!/usr/bin/env python3
"""Writes the seed corpora of tests/fuzz/corpus/ (committed; run again after
changing an input format):  python3 tests/fuzz/gen_corpus.py

Input formats are described at the top of each fuzz_*.c. Checksums in frames
are left zero: the records set fuzz_frame's "fix checksums" bit."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ISN = 0x01000000  # fuzz_frame's ISN for every connection

OUR_MAC = bytes.fromhex("020000000901")
PEER_MAC = bytes.fromhex("020000000902")
OUR4, PEER4 = bytes([198, 18, 9, 1]), bytes([198, 18, 9, 2])
OUR6 = bytes.fromhex("fd750009000000000000000000000001")
PEER6 = bytes.fromhex("fd750009000000000000000000000002")
LL6 = bytes.fromhex("fe800000000000000000000000000001")

CFG_HOST_LOCAL, CFG_CONNECT4, CFG_CONNECT6 = 1, 2, 4
CFG_REFUSE, CFG_CRED_OFF, CFG_CLOSE = 8, 16, 32
FIX = 0x80


def eth(ethertype, payload, dst=OUR_MAC, src=PEER_MAC):
    return dst + src + struct.pack("!H", ethertype) + payload


def ip4(proto, payload, src=PEER4, dst=OUR4, ident=1, frag=0, ttl=64):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, frag, ttl, proto, 0, src, dst)
    return eth(0x0800, hdr + payload)


def ip6(nh, payload, src=PEER6, dst=OUR6, hlim=64, dst_mac=OUR_MAC):
    hdr = struct.pack("!IHBB16s16s", 6 << 28, len(payload), nh, hlim, src, dst)
    return eth(0x86DD, hdr + payload, dst=dst_mac)


def tcp(sport, dport, seq, ack, flags, opts=b"", data=b"", wnd=65535):
    assert len(opts) % 4 == 0 and len(opts) <= 40
    off = (5 + len(opts) // 4) << 4
    return struct.pack("!HHIIBBHHH", sport, dport, seq, ack, off, flags, wnd, 0, 0) + opts + data


def udp(sport, dport, data):
    return struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data


FIN, SYN, RST, PSH, ACK = 1, 2, 4, 8, 16
MSS = bytes([2, 4, 0x05, 0xB4])
SACK_PERM_TS = bytes([4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0])  # SACK-permitted, timestamps
NOP_WS = bytes([1, 3, 3, 7])
LINUX_SYN = MSS + SACK_PERM_TS + NOP_WS  # 20 bytes


def ts(val, ecr):
    return bytes([1, 1, 8, 10]) + struct.pack("!II", val, ecr)


def cred_opt(pid=1234, slot=1, gen=5, version=1, exid=0x7563):
    payload = bytes([version, 0]) + struct.pack("!HII", slot, pid, gen)
    return bytes([253, 4 + len(payload)]) + struct.pack("!H", exid) + payload


def record(frame, ctl=FIX, cut=None):
    out = bytes([ctl | (0x40 if cut is not None else 0)])
    if cut is not None:
        out += bytes([cut])
    return out + struct.pack("!H", len(frame)) + frame


def frame_input(cfg, *records):
    return bytes([cfg]) + b"".join(records)


def handshake4(sport, syn_opts, ack_opts=b"", cfg_data=b""):
    """SYN, then the ACK of our SYN-ACK: the connection is established."""
    recs = [record(ip4(6, tcp(sport, 80, 1000, 0, SYN, syn_opts)))]
    recs.append(record(ip4(6, tcp(sport, 80, 1001, ISN + 1, ACK, ack_opts))))
    return recs


def icmp4_port_unreach(quoted_src, quoted_dst, sport, dport):
    inner = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28, 7, 0, 64, 17, 0, quoted_src, quoted_dst)
    inner += struct.pack("!HHHH", sport, dport, 8, 0)
    return ip4(1, bytes([3, 3, 0, 0, 0, 0, 0, 0]) + inner)


def icmp6_port_unreach(sport, dport):
    inner = struct.pack("!IHBB16s16s", 6 << 28, 8, 17, 64, OUR6, PEER6) + struct.pack("!HHHH", sport, dport, 8, 0)
    return ip6(58, bytes([1, 4, 0, 0, 0, 0, 0, 0]) + inner)


def neighbour_solicitation():
    target = OUR6
    body = bytes([135, 0, 0, 0, 0, 0, 0, 0]) + target + bytes([1, 1]) + PEER_MAC
    snm = bytes.fromhex("ff0200000000000000000001ff000001")
    return ip6(58, body, dst=snm, hlim=255, dst_mac=bytes.fromhex("3333ff000001"))


def neighbour_advertisement():
    body = bytes([136, 0, 0, 0, 0x60, 0, 0, 0]) + PEER6 + bytes([2, 1]) + PEER_MAC
    return ip6(58, body, hlim=255)


def router_advertisement():
    # hop limit 64, router lifetime 1800, MTU option 1400, prefix fd75:9::/64
    body = bytes([134, 0, 0, 0, 64, 0]) + struct.pack("!HII", 1800, 0, 0)
    body += bytes([5, 1, 0, 0]) + struct.pack("!I", 1400)
    body += bytes([3, 4, 64, 0xC0]) + struct.pack("!III", 86400, 14400, 0) + OUR6[:8] + bytes(8)
    body += bytes([1, 1]) + PEER_MAC
    allnodes = bytes.fromhex("ff020000000000000000000000000001")
    return ip6(58, body, src=bytes.fromhex("fe800000000000000000000000000002"), dst=allnodes, hlim=255,
               dst_mac=bytes.fromhex("333300000001"))


def mld_query():
    body = bytes([130, 0, 0, 0, 0x03, 0xE8, 0, 0]) + bytes(16)
    hbh = bytes([58, 0, 5, 2, 0, 0, 1, 0])  # hop-by-hop: router alert, PadN
    allnodes = bytes.fromhex("ff020000000000000000000000000001")
    return ip6(0, hbh + body, src=bytes.fromhex("fe800000000000000000000000000002"), dst=allnodes, hlim=1,
               dst_mac=bytes.fromhex("333300000001"))


def arp_request():
    body = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, PEER_MAC, PEER4, bytes(6), OUR4)
    return eth(0x0806, body, dst=b"\xff" * 6)


def echo4():
    return ip4(1, bytes([8, 0, 0, 0, 0, 1, 0, 1]) + b"ping")


def echo6():
    return ip6(58, bytes([128, 0, 0, 0, 0, 1, 0, 1]) + b"ping")


def frag4():
    data = udp(1111, 7, b"A" * 24)  # 32 bytes: fragments of 16 and 16
    return [record(ip4(17, data[:16], ident=77, frag=0x2000)), record(ip4(17, data[16:], ident=77, frag=2))]


def frag6():
    data = udp(1111, 7, b"B" * 24)
    ident = struct.pack("!I", 99)
    f1 = bytes([17, 0]) + struct.pack("!H", (0 << 3) | 1) + ident + data[:16]
    f2 = bytes([17, 0]) + struct.pack("!H", (2 << 3) | 0) + ident + data[16:]
    return [record(ip6(44, f1)), record(ip6(44, f2))]


def frame_seeds():
    s = {}
    s["arp_request"] = frame_input(0, record(arp_request()))
    s["icmp_echo4"] = frame_input(0, record(echo4()))
    s["icmp_echo6"] = frame_input(0, record(neighbour_solicitation()), record(echo6()))
    s["neighbour_solicitation"] = frame_input(0, record(neighbour_solicitation()))
    s["router_advertisement"] = frame_input(0, record(router_advertisement()), record(mld_query()))
    s["tcp_syn4"] = frame_input(0, record(ip4(6, tcp(5000, 80, 1000, 0, SYN, LINUX_SYN))))
    s["tcp_syn6"] = frame_input(0, record(neighbour_advertisement()),
                                record(ip6(6, tcp(5000, 80, 1000, 0, SYN, LINUX_SYN))))
    # A whole connection: handshake, data (echoed), FIN from the peer, ACKs.
    recs = handshake4(5001, LINUX_SYN)
    recs.append(record(ip4(6, tcp(5001, 80, 1001, ISN + 1, ACK | PSH, data=b"GET / HTTP/1.0\r\n\r\n"))))
    recs.append(record(ip4(6, tcp(5001, 80, 1019, ISN + 19, ACK | FIN)), ctl=FIX | 4))
    recs.append(record(ip4(6, tcp(5001, 80, 1020, ISN + 20, ACK)), ctl=FIX | 40))
    s["tcp_session4"] = frame_input(0, *recs)
    # The same over IPv6, the stack closing after the first data (TIME-WAIT side).
    recs = [record(neighbour_advertisement()),
            record(ip6(6, tcp(5002, 80, 1000, 0, SYN, LINUX_SYN))),
            record(ip6(6, tcp(5002, 80, 1001, ISN + 1, ACK))),
            record(ip6(6, tcp(5002, 80, 1001, ISN + 1, ACK | PSH, data=b"hello"))),
            record(ip6(6, tcp(5002, 80, 1006, ISN + 7, ACK | FIN)), ctl=FIX | 8)]
    s["tcp_session6_close"] = frame_input(CFG_CLOSE, *recs)
    # The credential option on a SYN over a host-local link, then the ACK.
    syn = MSS + bytes([1, 3, 3, 7]) + bytes([4, 2, 1, 1]) + cred_opt()
    s["tcp_syn_cred"] = frame_input(CFG_HOST_LOCAL, *handshake4(5003, syn))
    s["tcp_syn_cred_foreign"] = frame_input(0, record(ip4(6, tcp(5004, 80, 1000, 0, SYN, MSS + cred_opt()))))
    # Malformed option blocks: zero length, truncated, length past the end,
    # an experimental option too short for its ExID, the same ExID twice.
    bad = {
        "zero_len": MSS + bytes([8, 0, 0, 0]),
        "truncated": MSS + bytes([1, 1, 1, 253]),
        "past_end": MSS + bytes([253, 12, 0x75, 0x63]),
        "short_exp": MSS + bytes([253, 3, 0x75, 1]),
        "dup_exid": cred_opt() + cred_opt(),
        "cred_bad_version": MSS + cred_opt(version=2),
        "cred_stale": MSS + cred_opt(gen=0),
    }
    for name, opts in bad.items():
        s["tcp_opts_" + name] = frame_input(CFG_HOST_LOCAL, *handshake4(5005, opts))
    # Out-of-order data with SACK and timestamps: the stack's ACK carries a SACK
    # block after timestamps (the tcp_options.c overrun, docs/fuzzing.md).
    recs = handshake4(5006, LINUX_SYN + b"", ts(2, ISN))
    recs.append(record(ip4(6, tcp(5006, 80, 1101, ISN + 1, ACK | PSH, ts(3, ISN), b"later data"))))
    recs.append(record(ip4(6, tcp(5006, 80, 1001, ISN + 1, ACK | PSH, ts(4, ISN), b"x" * 100))))
    s["tcp_ooseq_sack"] = frame_input(CFG_HOST_LOCAL, *recs)
    # One FIN exactly 2^31 past what the stack expects (lwIP issue 6).
    recs = handshake4(5009, LINUX_SYN)
    recs.append(record(ip4(6, tcp(5009, 80, (1001 + 0x80000000) & 0xFFFFFFFF, ISN + 1, ACK | FIN))))
    s["tcp_seq_2_31"] = frame_input(0, *recs)
    # Refused data, then an RST.
    recs = handshake4(5007, LINUX_SYN)
    recs.append(record(ip4(6, tcp(5007, 80, 1001, ISN + 1, ACK | PSH, data=b"unread"))))
    recs.append(record(ip4(6, tcp(5007, 80, 1007, 0, RST))))
    s["tcp_refused_rst"] = frame_input(CFG_REFUSE, *recs)
    # Options split between two pbufs (cut inside the TCP options).
    s["tcp_syn_split"] = frame_input(CFG_HOST_LOCAL,
                                     record(ip4(6, tcp(5008, 80, 1000, 0, SYN, MSS + cred_opt())), cut=14 + 20 + 26))
    # Active opens: the peer's SYN-ACK, with the credential option, then data.
    synack = tcp(8080, 40000, 7000, ISN + 1, SYN | ACK, MSS + bytes([1, 1, 4, 2]) + cred_opt(pid=99))
    s["connect4_cred"] = frame_input(CFG_CONNECT4 | CFG_HOST_LOCAL, record(ip4(6, synack)),
                                     record(ip4(6, tcp(8080, 40000, 7001, ISN + 6, ACK | PSH, data=b"hi"))),
                                     record(ip4(6, tcp(8080, 40000, 7003, ISN + 6, ACK | FIN))))
    synack6 = tcp(8080, 40001, 7000, ISN + 1, SYN | ACK, MSS + cred_opt(pid=98))
    s["connect6_cred"] = frame_input(CFG_CONNECT6 | CFG_HOST_LOCAL, record(neighbour_advertisement()),
                                     record(ip6(6, synack6)))
    s["udp4_echo"] = frame_input(0, record(ip4(17, udp(1111, 7, b"echo me"))))
    s["udp6_echo"] = frame_input(0, record(neighbour_advertisement()), record(ip6(17, udp(1111, 7, b"echo me"))))
    s["udp4_closed_port"] = frame_input(0, record(ip4(17, udp(1111, 9999, b"nobody"))))
    s["icmp_port_unreach4"] = frame_input(0, record(icmp4_port_unreach(OUR4, PEER4, 5353, 53)))
    s["icmp6_port_unreach"] = frame_input(0, record(icmp6_port_unreach(5354, 53)))
    s["ip4_fragments"] = frame_input(0, *frag4())
    s["ip6_fragments"] = frame_input(0, record(neighbour_advertisement()), *frag6())
    return s


def tcpopt_seeds():
    def inp(block, max_=4, split=255, shape=0x01, answers=(12, 0, 0, 0)):
        return bytes([max_, split, shape]) + bytes(answers) + block
    linux = LINUX_SYN
    s = {
        "linux_syn": inp(linux),
        "cred": inp(MSS + cred_opt(), split=6),
        "two_exp": inp(cred_opt() + bytes([253, 6, 0x12, 0x34, 9, 9]), max_=1),
        "dup_exid": inp(cred_opt() + cred_opt()),
        "zero_len": inp(bytes([2, 0, 1, 1])),
        "truncated": inp(bytes([1, 1, 253])),
        "past_end": inp(bytes([253, 20, 0x75, 0x63, 0])),
        "eol": inp(bytes([1, 0, 253, 0])),
        "long_block": inp(bytes([1]) * 30 + cred_opt() + bytes([253, 4, 0xAB, 0xCD]) * 4),
        # The empty ACK with timestamps and one SACK block (not a SYN): a
        # handler that wants 10 bytes must get nothing there.
        "ack_sack_ts": inp(b"", shape=0x7E, answers=(0, 0, 10, 0)),
        "synack_full": inp(b"", shape=0x41 | (8 << 1), answers=(12, 4, 200, 0)),
    }
    return s


def credtable_seeds():
    # seq, gen, then a struct ucs_cred_claim: pid, six ids, ngroups, 1024 groups, a 256-byte label.
    def entry(gen, groups=(5, 9), label=b"fuzz", uids=(1000, 1001, 1002), gids=(2000, 2001, 2002), seq=0,
              claimed=None):
        e = struct.pack("<IIIIIIIIII", seq, gen, 0, *uids, *gids, len(groups) if claimed is None else claimed)
        e += struct.pack("<%dI" % len(groups), *groups).ljust(4096, b"\0")
        e += label.ljust(256, b"\0")
        return e

    def inp(slot, gen, mode, hdr=bytes(32), body=b""):
        return struct.pack("!HIB", slot, gen, mode) + hdr + body
    good, user, dead = 1 | 4 | 8, 16, 64
    return {
        "ok_root": inp(3, 42, good, body=entry(42, uids=(0, 0, 0))),
        "ok_user": inp(3, 42, good | user, body=entry(42)),
        "user_claims_root": inp(3, 42, good | user, body=entry(42, uids=(0, 0, 0))),
        "user_claims_gid0": inp(3, 42, good | user, body=entry(42, gids=(2000, 0, 2002))),
        "user_claims_groups": inp(3, 42, good | user, body=entry(42, groups=(0, 27, 4242))),
        "user_claims_label": inp(3, 42, good | user, body=entry(42, label=b"system_u:system_r:kernel_t:s0")),
        "root_claims_label": inp(3, 42, good, body=entry(42, label=b"system_u:system_r:kernel_t:s0")),
        "dead_maker": inp(3, 42, good | dead, body=entry(42)),
        "odd_seq": inp(3, 42, good, body=entry(42, seq=1)),
        "too_many_groups": inp(3, 42, good, body=entry(42, claimed=2000)),
        "unterminated_label": inp(3, 42, good, body=entry(42, label=b"L" * 256)),
        "bad_header": inp(3, 42, 1 | 8, hdr=struct.pack("<IIIIi", 0x75637274, 2, 4096, 4392, 0) + bytes(12),
                          body=entry(42)),
        "other_pid": inp(3, 42, 4 | 8 | user, body=entry(42)),
        "entry_of_another_pid": inp(3, 42, 1 | 4, body=entry(42)),
        "slot_out_of_range": inp(5000, 42, good),
    }


def write(target, seeds):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    write("fuzz_frame", frame_seeds())
    write("fuzz_tcpopt", tcpopt_seeds())
    write("fuzz_credtable", credtable_seeds())
