#!/usr/bin/env python3
"""lib/core/gtid agrees with the servers it models.

The library claims to parse GTID text as the servers do and to print exactly
what they print. Thousands of random cases from a fixed seed go through the
library (tests/lab/gtidtool, one process for all of them) and through a real
server (a handful of SQL round trips), and every answer must be the same.

MySQL 9.7 (a 1-node lab), GTID sets with several UUIDs and tags, intervals at
the edges (single transactions, adjacent and overlapping intervals, numbers
near 2^32 and near the largest transaction number 2^63 - 2), written in many
equivalent ways (any order, any case, split and repeated, whitespace around
separators). For each pair (a, b):
  normalize  GTID_SUBTRACT(a, '') is the server's canonical text: equal text,
             ",\n" between UUIDs and tags in the server's order included
  subtract   GTID_SUBTRACT(a, b) and GTID_SUBTRACT(b, a)
  subset     GTID_SUBSET(a, b) and GTID_SUBSET(b, a)
  union      the server's normalization of "a,b" (the server merges repeated
             UUIDs and overlapping intervals, so that is a ∪ b)
  intersect  GTID_SUBTRACT(a, GTID_SUBTRACT(a, b))
and the library reads every text the server printed back to the same text.
Malformed texts: whatever the server rejects the library rejects too; the
library is stricter than the server only where lib/core/gtid.h says so (empty
elements, a UUID or tag without numbers, reversed intervals, leading zeros),
plus UUIDs in forms no server prints (without dashes, in braces).

MariaDB 10.11 (a 1-node lab) has no function on GTID positions, but it offers
two things to compare with:
  - SET GLOBAL gtid_slave_pos = P, then SELECT @@gtid_slave_pos: the server's
    parsing and its formatting (one entry per domain, sorted by domain); the
    library's normalization must print the same text. (The node is a primary
    with no replication configured, and its binary log is reset first, so the
    server accepts any position.)
  - MASTER_GTID_WAIT(Q, 0) with gtid_slave_pos = P returns 0 at once when P
    has reached Q in every domain of Q, by sequence number alone, and -1
    otherwise: that is gtid_pos_covers(P, Q).
gtid_pos_max has no server counterpart; it is checked through the server's
covers: max(A, B) covers A and B, and each of its entries is covered by A or
by B (so it is no further than needed). Malformed positions: whatever the
server rejects the library rejects too, except whitespace after an entry
(before a comma or at the end), which the library accepts as lib/core/gtid.h says
and the server does not; then the library's text must be what the server
makes of the same position without that whitespace.

Any disagreement fails the test and prints the inputs (Python repr).
"""
import os
import random
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lab"))
import labkit  # noqa: E402

SEED = 20260504
MYSQL_PAIRS = 2500        # 8 comparisons each
MARIADB_POSITIONS = 300   # each paired with 4 others
MARIADB_PARTNERS = 4
SHOW_AT_MOST = 15         # disagreements printed in full

TXN_MAX = 2**63 - 2
SEQ_MAX = 2**64 - 1
U32_MAX = 2**32 - 1

UUIDS = [
    "00000000-0000-0000-0000-000000000000",
    "3e11fa47-71ca-11e1-9e33-c80aa9429562",
    "3e11fa47-71ca-11e1-9e33-c80aa9429563",   # next to the one above
    "8a94f357-aab4-11df-86ab-c80aa9429562",
    "a0b1c2d3-e4f5-4a6b-8c9d-0e1f2a3b4c5d",
    "ffffffff-ffff-ffff-ffff-ffffffffffff",
]
# "" (untagged) weighs most; "_x" sorts before "a" byte-wise; the longest tag.
TAGS = ["", "", "", "", "a", "b", "ab", "_", "_x", "tag_1", "z9", "t" * 32]


class Failures:
    """Collects disagreements; prints the first few in full."""

    def __init__(self, what):
        self.what = what
        self.items = []

    def add(self, msg, **inputs):
        self.items.append((msg, inputs))

    def check(self):
        if not self.items:
            return
        for msg, inputs in self.items[:SHOW_AT_MOST]:
            print(f"DISAGREEMENT ({self.what}): {msg}")
            for k, v in inputs.items():
                print(f"    {k} = {v!r}")
        raise AssertionError(f"{self.what}: {len(self.items)} disagreements between the "
                             "library and the server (first ones above)")


# ------------------------------------------------------------------ tools

def escape(text):
    return (text.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")
            .replace("\r", "\\r"))


def unescape(text):
    table = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\"}
    return re.sub(r"\\(.)", lambda m: table.get(m.group(1), m.group(1)), text)


def library(commands):
    """Runs [(command, arg, ...)] through gtidtool in one process; returns
    [(ok, text)] in the same order."""
    data = "".join("\t".join([c[0]] + [escape(a) for a in c[1:]]) + "\n" for c in commands)
    p = subprocess.run([labkit.tool("gtidtool")], input=data, capture_output=True,
                       text=True, timeout=120)
    if p.returncode != 0:
        raise AssertionError(f"gtidtool failed (exit {p.returncode}): {p.stderr.strip()}")
    lines = p.stdout.split("\n")[:-1]
    if len(lines) != len(commands):
        raise AssertionError(f"gtidtool answered {len(lines)} of {len(commands)} commands")
    out = []
    for line in lines:
        status, _, text = line.partition("\t")
        out.append((status == "ok", unescape(text)))
    return out


def lit(text):
    """A SQL string literal on one line (the lab's servers run without
    NO_BACKSLASH_ESCAPES), so that a line of input is one statement."""
    for c, e in (("\\", "\\\\"), ("'", "\\'"), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t")):
        text = text.replace(c, e)
    return "'" + text + "'"


def run_sql(lab, statements, force=False, timeout=120):
    """Runs statements (one per line) on db1 over its socket; returns (rows,
    errors): rows as lists of values (unescaped, no header), errors as
    {input line number: message} (only with force, which goes on after an
    error)."""
    argv, env = lab.client_argv("db1")
    argv = argv + ["--batch", "--skip-column-names"] + (["--force"] if force else [])
    p = subprocess.run(argv, input=statements, capture_output=True, text=True,
                       timeout=timeout, env={**os.environ, **env})
    errors = {}
    for line in p.stderr.splitlines():
        m = re.match(r"ERROR \d+ \(\w+\) at line (\d+): (.*)", line)
        if m:
            errors[int(m.group(1))] = m.group(2)
    if p.returncode != 0 and not (force and errors):
        raise AssertionError(f"SQL failed (exit {p.returncode}): {p.stderr.strip()[-2000:]}")
    rows = [[unescape(v) for v in line.split("\t")] for line in p.stdout.split("\n")[:-1]]
    return rows, errors


# ------------------------------------------------------------------ MySQL sets

def txn(r):
    zone = r.random()
    if zone < 0.45:
        return r.randint(1, 30)
    if zone < 0.6:
        return r.randint(1, 2**20)
    if zone < 0.7:
        return 2**32 + r.randint(-3, 3)
    return TXN_MAX - r.randint(0, 30)


def interval(r):
    a = txn(r)
    kind = r.random()
    if kind < 0.35:
        b = a
    elif kind < 0.8:
        b = a + r.randint(1, 6)
    else:
        b = a + r.randint(7, 2**40)
    return a, min(b, TXN_MAX)


def random_set(r):
    """{(uuid, tag): [(first, last), ...]}: intervals in any order, possibly
    overlapping or touching; the library and the server both merge them."""
    s = {}
    for _ in range(r.choice([0, 1, 1, 2, 2, 3, 4, 6])):
        key = (r.choice(UUIDS), r.choice(TAGS))
        s.setdefault(key, []).extend(interval(r) for _ in range(r.randint(1, 5)))
    return s


def clamp(a, b):
    a, b = max(1, min(a, TXN_MAX)), max(1, min(b, TXN_MAX))
    return (a, b) if a <= b else (b, a)


def related_set(r, s):
    """A set made from s by a few small changes, so that subsets, adjacent
    and overlapping intervals and equal sets come up often."""
    out = {k: list(v) for k, v in s.items()}
    for _ in range(r.randint(0, 3)):
        op = r.choice(["drop_key", "drop", "nudge", "nudge", "hole", "add", "add_key"])
        keys = list(out)
        if op == "add_key" or not keys:
            out.setdefault((r.choice(UUIDS), r.choice(TAGS)), []).append(interval(r))
            continue
        k = r.choice(keys)
        ivs = out[k]
        i = r.randrange(len(ivs))
        a, b = ivs[i]
        if op == "drop_key":
            del out[k]
        elif op == "drop":
            del ivs[i]
            if not ivs:
                del out[k]
        elif op == "nudge":    # one end moves by one: touching or overlapping by one
            d = r.choice([-1, 1])
            ivs[i] = clamp(a + d, b) if r.random() < 0.5 else clamp(a, b + d)
        elif op == "hole" and b - a >= 2:
            m = r.randint(a + 1, b - 1)
            ivs[i:i + 1] = [(a, m - 1), (m + 1, b)]
        else:
            ivs.append((max(1, b - r.randint(0, 2)), min(TXN_MAX, b + r.randint(1, 3))))
    return out


WS = [" ", "\t", "\n", "\r\n", "\v", "\f", "  "]


def ws(r, p):
    return r.choice(WS) if r.random() < p else ""


def any_case(r, text):
    mode = r.random()
    if mode < 0.6:
        return text
    if mode < 0.8:
        return text.upper()
    return "".join(c.upper() if r.random() < 0.5 else c for c in text)


def render_set(r, s):
    """One of the many texts of set s: groups split into pieces and shuffled,
    pieces of one UUID joined into elements, any case, some whitespace."""
    p = r.choice([0, 0, 0.1, 0.3])    # how much whitespace
    pieces = []
    for (u, t), ivs in s.items():
        ivs = list(ivs)
        r.shuffle(ivs)
        while ivs:
            n = r.randint(1, len(ivs))
            pieces.append((u, t, ivs[:n]))
            ivs = ivs[n:]
    r.shuffle(pieces)
    elements = []   # [uuid, untagged intervals, [(tag, intervals)]]
    for u, t, ivs in pieces:
        same = [e for e in elements if e[0] == u]
        if same and r.random() < 0.6 and (t or not same[-1][2]):
            if t:
                same[-1][2].append((t, ivs))
            else:
                same[-1][1].extend(ivs)
            continue
        elements.append([u, [] if t else list(ivs), [(t, ivs)] if t else []])

    def sep(c):
        return ws(r, p) + c + ws(r, p)

    def iv_text(a, b):
        if a == b and r.random() > 0.1:
            return str(a)
        return f"{a}{sep('-')}{b}"

    texts = []
    for u, untagged, tagged in elements:
        t = any_case(r, u)
        for a, b in untagged:
            t += sep(":") + iv_text(a, b)
        for tag, ivs in tagged:
            t += sep(":") + any_case(r, tag)
            for a, b in ivs:
                t += sep(":") + iv_text(a, b)
        texts.append(t)
    if not texts:
        return ws(r, 0.3)
    return ws(r, p) + sep(",").join(texts) + ws(r, p)


def union_text(a, b):
    """Text the server reads as a ∪ b: both lists, one after the other."""
    if not a.strip():
        return b
    if not b.strip():
        return a
    return a + "," + b


# Malformed texts. "both": the server rejects them, so the library must.
# "stricter": the library rejects them although the server lets them pass
# (lib/core/gtid.h lists these, except the UUID forms no server prints).
U1, U2 = UUIDS[1], UUIDS[3]
MYSQL_MALFORMED = [
    ("both", f"{U1}:{TXN_MAX + 1}"),
    ("both", f"{U1}:1-{TXN_MAX + 1}"),
    ("both", f"{U1}:99999999999999999999999"),
    ("both", f"{U1}:0"),
    ("both", f"{U1}:0-5"),
    ("both", f"{U1}:+5"),
    ("both", f"{U1}:-5"),
    ("both", f"{U1}:1-"),
    ("both", f"{U1}::1"),
    ("both", f"{U1}:1:"),
    ("both", f"{U1}:1-2-3"),
    ("both", f"{U1}:1 2"),
    ("both", f"{U1}:9tag:1"),
    ("both", f"{U1}:a-b:1"),
    ("both", f"{U1}:{'t' * 33}:1"),
    ("both", f"{U1}:tag:1:"),
    ("both", f"{U1}:1-5:tag:"),
    ("both", f"{U1}:\u00d1:1"),
    ("both", U1[:-1] + "g:1"),
    ("both", U1[:-1] + ":1"),
    ("both", f"{U1}:1,{U2[:20]}"),
    ("both", "x"),
    ("stricter", f"{U1}:1-5,"),
    ("stricter", f"{U1}:1-5,,{U2}:3"),
    ("stricter", f",{U1}:1"),
    ("stricter", ","),
    ("stricter", " , "),
    ("stricter", U1),
    ("stricter", f"{U1},{U2}:1"),
    ("stricter", f"{U1}:tag"),
    ("stricter", f"{U1}:t1:t2:1"),
    ("stricter", f"{U1}:5-3"),
    ("stricter", f"{U1}:007"),
    ("stricter", f"{U1}:1-05"),
    ("stricter", U1.replace("-", "") + ":1"),
    ("stricter", "{" + U1 + "}:1"),
]


def mysql_crosscheck(lab, r):
    t0 = time.monotonic()
    fails = Failures("mysql")
    pairs = []
    for i in range(MYSQL_PAIRS):
        a = random_set(r)
        kind = r.random()
        if kind < 0.5:
            b = related_set(r, a)
        elif kind < 0.6:
            b = a      # the same set, written differently
        elif kind < 0.65:
            b = {}
        else:
            b = random_set(r)
        if r.random() < 0.5:
            a, b = b, a
        pairs.append((render_set(r, a), render_set(r, b)))

    # The server: one statement per batch of pairs over a derived table.
    exprs = ["GTID_SUBTRACT(a, '')", "GTID_SUBTRACT(b, '')", "GTID_SUBTRACT(a, b)",
             "GTID_SUBTRACT(b, a)", "GTID_SUBSET(a, b)", "GTID_SUBSET(b, a)",
             "GTID_SUBTRACT(u, '')", "GTID_SUBTRACT(a, GTID_SUBTRACT(a, b))"]
    names = ["normalize a", "normalize b", "subtract a b", "subtract b a", "subset a b",
             "subset b a", "union a b", "intersect a b"]
    statements = []
    batch = 250
    for start in range(0, len(pairs), batch):
        rows = " UNION ALL ".join(
            f"SELECT {i} AS i, {lit(a)} AS a, {lit(b)} AS b, {lit(union_text(a, b))} AS u"
            for i, (a, b) in enumerate(pairs[start:start + batch], start))
        statements.append(f"SELECT i, {', '.join(exprs)} FROM ({rows}) AS t ORDER BY i;")
    rows, _ = run_sql(lab, "\n".join(statements))
    server = {int(row[0]): row[1:] for row in rows}
    if len(server) != len(pairs):
        raise AssertionError(f"the server answered {len(server)} of {len(pairs)} pairs")
    t_server = time.monotonic() - t0

    commands = []
    for a, b in pairs:
        commands += [("normalize", a), ("normalize", b), ("subtract", a, b), ("subtract", b, a),
                     ("subset", a, b), ("subset", b, a), ("union", a, b), ("intersect", a, b)]
    answers = library(commands)
    subsets = 0
    for i, (a, b) in enumerate(pairs):
        for k, name in enumerate(names):
            ok, text = answers[i * len(names) + k]
            want = server[i][k]
            if not ok:
                fails.add(f"{name}: the library rejects what the server accepts: {text}",
                          a=a, b=b, server=want)
            elif text != want:
                fails.add(f"{name}: library and server differ", a=a, b=b, library=text,
                          server=want)
        subsets += server[i][4] == "1"

    # Every text the server printed reads back to itself.
    printed = sorted({v for row in server.values() for v in row[:4] + row[6:]})
    for text, (ok, back) in zip(printed, library([("normalize", t) for t in printed])):
        if not ok or back != text:
            fails.add("the library does not read the server's own text back unchanged",
                      server=text, library=back)

    # Malformed texts, one statement per line (the client goes on after errors).
    stmts = "\n".join(f"SELECT {i}, GTID_SUBTRACT({lit(t)}, '');"
                      for i, (_, t) in enumerate(MYSQL_MALFORMED))
    rows, errors = run_sql(lab, stmts, force=True)
    accepted = {int(row[0]): row[1] for row in rows}
    answers = library([("normalize", t) for _, t in MYSQL_MALFORMED])
    stricter = 0
    for i, ((kind, text), (ok, lib)) in enumerate(zip(MYSQL_MALFORMED, answers)):
        if i not in accepted and i + 1 not in errors:
            raise AssertionError(f"no answer from the server for {text!r}")
        server_ok = i in accepted
        if ok and not server_ok:
            fails.add("the library accepts what the server rejects", text=text, library=lib,
                      server=errors.get(i + 1))
        elif ok and lib != accepted[i]:
            fails.add("normalize: library and server differ", text=text, library=lib,
                      server=accepted[i])
        elif not ok and server_ok:
            stricter += 1
            if kind != "stricter":
                fails.add("the library rejects what the server accepts", text=text,
                          library=lib, server=accepted[i])
    fails.check()
    labkit.log(f"mysql: {len(pairs)} pairs, {len(pairs) * len(names)} comparisons "
               f"({subsets} subsets a ⊆ b), {len(printed)} server texts read back, "
               f"{len(MYSQL_MALFORMED)} malformed texts ({stricter} rejected by the library "
               f"alone, as documented); server {t_server:.1f} s, "
               f"total {time.monotonic() - t0:.1f} s")


# ------------------------------------------------------------------ MariaDB positions

DOMAINS = [0, 1, 2, 3, 7, 100, U32_MAX]
SERVERS = [0, 1, 2, 3, U32_MAX]


def seq(r):
    zone = r.random()
    if zone < 0.1:
        return 0
    if zone < 0.6:
        return r.randint(1, 12)
    if zone < 0.75:
        return r.randint(1, 2**40)
    if zone < 0.85:
        return 2**63 + r.randint(-2, 2)
    return SEQ_MAX - r.randint(0, 3)


def random_pos(r):
    """{domain: (server, seq)}"""
    return {d: (r.choice(SERVERS), seq(r)) for d in r.sample(DOMAINS, r.randint(0, 4))}


def related_pos(r, p):
    out = dict(p)
    for _ in range(r.randint(1, 3)):
        op = r.choice(["up", "down", "drop", "add", "server", "zero"])
        if op == "add" or not out:
            out[r.choice(DOMAINS)] = (r.choice(SERVERS), seq(r))
            continue
        d = r.choice(list(out))
        s, q = out[d]
        if op == "up":
            out[d] = (s, min(SEQ_MAX, q + r.choice([1, 1, 2, 1000])))
        elif op == "down":
            out[d] = (s, max(0, q - r.choice([1, 1, 2, 1000])))
        elif op == "drop":
            del out[d]
        elif op == "server":    # the server id does not order positions
            out[d] = (r.choice(SERVERS), q)
        else:
            out[d] = (s, 0)
    return out


def pos_text(p, r=None):
    """Canonical text, or with r one of the texts the server also accepts:
    entries in any order, whitespace before an entry."""
    entries = [f"{d}-{s}-{q}" for d, (s, q) in sorted(p.items())]
    if r is None:
        return ",".join(entries)
    r.shuffle(entries)
    return ",".join(r.choice(["", "", "", " ", "  ", "\t", "\n"]) + e for e in entries)


def parse_pos(text):
    return {int(d): (int(s), int(q)) for d, s, q in
            (e.strip().split("-") for e in text.split(",") if e.strip())}


MARIADB_MALFORMED = [
    # (kind, text): "both" the server rejects; "spaces" the library accepts
    # whitespace after an entry, the server does not (see the docstring).
    ("both", "1-2-7,1-3-8"),
    ("both", "1-2"),
    ("both", "1-2-"),
    ("both", "1--2-3"),
    ("both", "1-2-3-4"),
    ("both", "1-2-3,"),
    ("both", ",1-2-3"),
    ("both", "1-2-3,,2-2-3"),
    ("both", f"{U32_MAX + 1}-1-1"),
    ("both", f"1-{U32_MAX + 1}-1"),
    ("both", f"1-1-{SEQ_MAX + 1}"),
    ("both", "1-2-3a"),
    ("both", "a-2-3"),
    ("both", "1-2-3 1-2-4"),
    ("spaces", " "),
    ("spaces", "1-2-3 "),
    ("spaces", "1-2-3 ,2-2-3"),
    ("spaces", "1-2-3\t,\t2-2-3\n"),
]


def mariadb_crosscheck(lab, r):
    t0 = time.monotonic()
    fails = Failures("mariadb")
    # A primary's own binary log constrains gtid_slave_pos (domain 0 may not
    # go back); this lab is ours alone and replicates to no one.
    run_sql(lab, "RESET MASTER;")

    base = [random_pos(r) for _ in range(MARIADB_POSITIONS)]
    pairs = []
    for a in base:
        for _ in range(MARIADB_PARTNERS):
            b = related_pos(r, a) if r.random() < 0.7 else r.choice(base)
            pairs.append((a, b))
    maxes = library([("pos_max", pos_text(a), pos_text(b)) for a, b in pairs])
    for (a, b), (ok, m) in zip(pairs, maxes):
        if not ok:
            raise AssertionError(f"pos_max rejected {pos_text(a)!r}, {pos_text(b)!r}: {m}")

    # What to ask the server: with gtid_slave_pos = K, has it reached Q?
    queries = {}

    def ask(k, q):
        queries.setdefault(pos_text(k), {})[pos_text(q)] = None

    maxpos = []
    for (a, b), (_, m) in zip(pairs, maxes):
        mp = parse_pos(m)
        maxpos.append(mp)
        ask(a, b)
        ask(b, a)
        ask(mp, a)
        ask(mp, b)
        for d, e in mp.items():
            ask(a, {d: e})
            ask(b, {d: e})
    keys = sorted(queries)
    set_text = {k: pos_text(parse_pos(k), r) for k in keys}
    lines = []
    for i, k in enumerate(keys):
        waits = ", ".join(f"MASTER_GTID_WAIT({lit(q)}, 0)" for q in queries[k])
        lines.append(f"SET GLOBAL gtid_slave_pos = {lit(set_text[k])}; "
                     f"SELECT {i}, @@gtid_slave_pos, CONCAT_WS(',', {waits});")
    rows, _ = run_sql(lab, "\n".join(lines), timeout=300)
    if len(rows) != len(keys):
        raise AssertionError(f"the server answered {len(rows)} of {len(keys)} positions")
    t_server = time.monotonic() - t0

    server_covers = {}
    printed = {}
    for row in rows:
        k = keys[int(row[0])]
        printed[k] = row[1]
        results = row[2].split(",")
        if len(results) != len(queries[k]) or not set(results) <= {"0", "-1"}:
            raise AssertionError(f"unexpected MASTER_GTID_WAIT results for {k!r}: {row[2]!r}")
        for q, res in zip(queries[k], results):
            server_covers[(k, q)] = res == "0"

    # Formatting: the library prints what the server prints, and reads the
    # server's text back unchanged.
    cmds = [("pos_normalize", set_text[k]) for k in keys] + \
           [("pos_normalize", printed[k]) for k in keys]
    answers = library(cmds)
    for i, k in enumerate(keys):
        for what, text, (ok, lib) in ((f"set as {set_text[k]!r}", set_text[k], answers[i]),
                                      ("read back", printed[k], answers[len(keys) + i])):
            if not ok or lib != printed[k]:
                fails.add(f"pos_normalize ({what}): library and server differ", text=text,
                          library=lib, server=printed[k])

    # covers: every question asked, through the library.
    asked = [(k, q) for k in keys for q in queries[k]]
    answers = library([("pos_covers", k, q) for k, q in asked])
    covered = 0
    for (k, q), (ok, lib) in zip(asked, answers):
        if not ok or (lib == "1") != server_covers[(k, q)]:
            fails.add("pos_covers: library and server (MASTER_GTID_WAIT) differ", a=k, b=q,
                      library=lib, server=server_covers[(k, q)])
        covered += server_covers[(k, q)]

    # max, by the server's covers.
    for (a, b), mp in zip(pairs, maxpos):
        ta, tb, tm = pos_text(a), pos_text(b), pos_text(mp)
        if not (server_covers[(tm, ta)] and server_covers[(tm, tb)]):
            fails.add("pos_max: the server says the maximum does not cover both", a=ta, b=tb,
                      max=tm)
        for d, e in mp.items():
            te = pos_text({d: e})
            if not (server_covers[(ta, te)] or server_covers[(tb, te)]):
                fails.add("pos_max: an entry beyond both positions", a=ta, b=tb, max=tm,
                          entry=te)

    # Malformed positions, one line each (the client goes on after errors).
    lines = [f"SET GLOBAL gtid_slave_pos = {lit(t)}; SELECT {i}, @@gtid_slave_pos;"
             for i, (_, t) in enumerate(MARIADB_MALFORMED)]
    rows, errors = run_sql(lab, "SET GLOBAL gtid_slave_pos = '';\n" + "\n".join(lines),
                           force=True)
    answers = library([("pos_normalize", t) for _, t in MARIADB_MALFORMED])
    cleaned = [re.sub(r"\s+", "", t) for kind, t in MARIADB_MALFORMED if kind == "spaces"]
    clean_rows, _ = run_sql(lab, "\n".join(
        f"SET GLOBAL gtid_slave_pos = {lit(t)}; SELECT @@gtid_slave_pos;" for t in cleaned))
    clean_server = iter(row[0] for row in clean_rows)
    for i, ((kind, text), (ok, lib)) in enumerate(zip(MARIADB_MALFORMED, answers)):
        server_ok = (i + 2) not in errors    # line 1 empties the position
        if kind == "spaces":
            want = next(clean_server)
            if server_ok:
                fails.add("the server now accepts whitespace after an entry: the test and "
                          "lib/core/gtid.h need updating", text=text)
            if not ok or lib != want:
                fails.add("pos_normalize: the library's text is not the server's for the "
                          "same position without whitespace", text=text, library=lib,
                          server=want)
        elif server_ok:
            fails.add("the server accepts a text this test takes as malformed", text=text)
        elif ok:
            fails.add("the library accepts what the server rejects", text=text, library=lib,
                      server=errors.get(i + 2))
    fails.check()
    labkit.log(f"mariadb: {len(keys)} positions set and read back, {len(asked)} covers "
               f"({covered} covered), {len(pairs)} maxima, {len(MARIADB_MALFORMED)} malformed "
               f"texts; server {t_server:.1f} s, total {time.monotonic() - t0:.1f} s")


def main():
    labkit.install_signal_handlers()
    start = time.time()
    try:
        r = random.Random(SEED)
        with labkit.Lab.up("mysql", 1, name=labkit.unique_name("gtidx-mysql")) as lab:
            mysql_crosscheck(lab, r)
        with labkit.Lab.up("mariadb", 1, name=labkit.unique_name("gtidx-mariadb")) as lab:
            mariadb_crosscheck(lab, r)
    except Exception as e:  # noqa: BLE001 - any failure is the test's failure
        import traceback
        traceback.print_exc()
        print(f"FAILED after {time.time() - start:.1f} s: {e}")
        sys.exit(1)
    print(f"ok ({time.time() - start:.1f} s)")


if __name__ == "__main__":
    main()
