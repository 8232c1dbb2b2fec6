"""Where a validator's CPU goes, per transaction: py-spy samples sorted into buckets.

`bench/loadgen.py --profile` runs `py-spy record --format raw` on one validator
while a rate is offered, then calls `breakdown` on the collapsed stacks it wrote.
Each sample (one stack of one busy thread) goes to the first bucket whose rule
matches any of its frames, in the order of BUCKETS: a state read inside a
contract counts as execution, not as decoding, and a signature check inside
block validation counts as a signature. Sample shares times the node's measured
CPU microseconds per committed transaction give microseconds per transaction
per bucket. A sample whose innermost frame is the event loop waiting in epoll,
or a pool thread waiting for work, is idle time py-spy could not tell apart
from work: it is left out (IDLE_LEAVES).

    python bench/cpu_breakdown.py profile.txt 296   # a raw py-spy file, CPU µs/tx

py-spy sees Python threads only, and counts a thread waiting (for the GIL, for
an fsync) as busy. The CPU each thread of the process really used, LevelDB's
own compaction thread included, is in /proc: `thread_cpu` reads it, and
`--threads PID SECONDS TX_PER_S` prints it per thread (named from a `py-spy
dump`) as µs per transaction at the given committed rate:

    python bench/cpu_breakdown.py --threads 12345 15 1500

py-spy sees Python frames, not what runs below them. Linux `perf` (Debian's
`linux-perf` package) samples every instruction the process runs, in C too:
`--perf` in bench/loadgen.py records one validator with `perf record`, and
`libraries` sorts `perf report --sort dso` into the interpreter, libsodium's
signature check, the kernel, the C library (memory and copies), LevelDB,
OpenSSL's sha256, msgpack and the rest, as µs per transaction:

    python bench/cpu_breakdown.py --perf perf.data 215
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

# (bucket, substrings of a py-spy frame "function (path:line)"), first match wins.
BUCKETS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("signature", ("(ledger/keys.py", "crypto_sign_open", "(nacl/")),
    ("storage", ("(node/storage.py", "commit_block (ledger/chainstore.py", "(plyvel")),
    ("state root", ("(ledger/state_tree.py", "(ledger/merkle.py")),
    ("execution", ("(ledger/execution.py", "(contracts/", "(ledger/state.py")),
    ("decode/encode", ("(ledger/codec.py", "(ledger/tx.py", "(ledger/block.py", "(msgpack")),
    ("mempool/admission", ("(node/mempool.py", "_admit (node/node.py")),
    ("consensus", ("(consensus/", "(node/driver.py", "(node/chain.py")),
    ("network (peers)", ("(node/peers.py", "websocket", "_websocket")),
    ("RPC (HTTP, JSON)", ("(node/rpc/", "(node/http.py", "web_protocol", "(json/", "pydantic")),
    ("event loop, other", ("",)),
)
IDLE = "idle"
IDLE_LEAVES = (
    "select (selectors.py",
    "_worker (concurrent/futures/thread.py",
    "wait (threading.py",
)


def classify(stack: str) -> str:
    frames = stack.split(";")
    if not frames or any(needle in frames[-1] for needle in IDLE_LEAVES) or not frames[-1]:
        return IDLE
    for bucket, needles in BUCKETS:
        for needle in needles:
            if any(needle in frame for frame in frames):
                return bucket
    return BUCKETS[-1][0]


def read_raw(path: Path) -> Counter[str]:
    """Samples per bucket from a py-spy raw (collapsed stacks) file."""
    counts: Counter[str] = Counter()
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            counts[classify(stack)] += int(count)
    return counts


def breakdown(counts: Counter[str], cpu_us_per_tx: float) -> list[tuple[str, float, float]]:
    """(bucket, share of busy samples, µs per transaction), in BUCKETS order."""
    total = sum(count for bucket, count in counts.items() if bucket != IDLE)
    if total == 0:
        return []
    rows = []
    for bucket, _ in BUCKETS:
        share = counts.get(bucket, 0) / total
        rows.append((bucket, share, share * cpu_us_per_tx))
    return rows


def render(rows: list[tuple[str, float, float]], samples: int) -> str:
    lines = [f"cpu breakdown ({samples:,} busy samples): bucket share us_per_tx"]
    for bucket, share, micros in rows:
        lines.append(f"  {bucket:<20} {share:6.1%} {micros:7.0f}")
    return "\n".join(lines)


# (library, substrings of a `perf report --sort dso` shared object), first match wins.
LIBRARIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Python interpreter", ("python3", "libpython")),
    ("libsodium (Ed25519)", ("_sodium", "libsodium")),
    ("kernel", ("[kernel",)),
    ("C library (malloc, copies)", ("libc.so", "libc-", "libstdc++")),
    ("LevelDB", ("libleveldb", "_plyvel")),
    ("OpenSSL (sha256)", ("libcrypto", "_hashlib")),
    ("msgpack", ("_cmsgpack",)),
    ("other", ("",)),
)
_PERF_ROW = re.compile(r"^\s*([0-9.]+)%\s+(\S.*?)\s*$")


def read_perf_dso(report: str) -> Counter[str]:
    """Percent of samples per library from `perf report --sort dso --stdio` output."""
    shares: Counter[str] = Counter()
    for line in report.splitlines():
        if line.startswith("#"):
            continue
        match = _PERF_ROW.match(line)
        if match is None:
            continue
        percent, dso = float(match.group(1)), match.group(2)
        for library, needles in LIBRARIES:
            if any(needle in dso for needle in needles):
                shares[library] += percent
                break
    return shares


def render_libraries(shares: Counter[str], cpu_us_per_tx: float) -> str:
    """Each library's share of the samples and µs per transaction, in LIBRARIES order."""
    total = sum(shares.values())
    lines = ["cpu by library (perf): library share us_per_tx"]
    for library, _ in LIBRARIES:
        share = shares.get(library, 0.0) / total if total else 0.0
        lines.append(f"  {library:<28} {share:6.1%} {share * cpu_us_per_tx:7.1f}")
    return "\n".join(lines)


def perf_report(data: Path) -> str:
    """`perf report --sort dso` of a recording ("" when perf is missing or fails)."""
    perf = shutil.which("perf")
    if perf is None:
        return ""
    done = subprocess.run(
        [perf, "report", "-i", str(data), "--sort", "dso", "--stdio"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.stdout


def thread_cpu(pid: int) -> dict[int, tuple[float, float]]:
    """CPU seconds (user, system) used so far by each thread of process `pid`."""
    ticks = os.sysconf("SC_CLK_TCK")
    times = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
        except OSError:  # the thread ended meanwhile
            continue
        fields = stat.rpartition(")")[2].split()  # after the command name, which may hold spaces
        times[int(tid)] = (int(fields[11]) / ticks, int(fields[12]) / ticks)
    return times


def thread_names(pid: int) -> dict[int, str]:
    """Python thread names by thread id, from `py-spy dump` (empty without py-spy)."""
    spy = shutil.which("py-spy")
    if spy is None:
        return {}
    dump = subprocess.run(
        [spy, "dump", "--pid", str(pid)], capture_output=True, text=True, timeout=30
    ).stdout
    return {
        int(tid): name for tid, name in re.findall(r'^Thread (\d+) \(\w+\): "([^"]*)"', dump, re.M)
    }


def render_threads(
    before: dict[int, tuple[float, float]],
    after: dict[int, tuple[float, float]],
    names: dict[int, str],
    transactions: float,
) -> str:
    """Each thread's CPU between two `thread_cpu` readings, in µs per transaction."""
    rows = []
    for tid, (user, system) in after.items():
        user0, system0 = before.get(tid, (0.0, 0.0))
        rows.append((user - user0 + system - system0, system - system0, tid))
    rows.sort(reverse=True)
    total = sum(row[0] for row in rows)
    per_tx = total / transactions * 1e6
    lines = [f"thread cpu, us_per_tx (of it in the kernel): {per_tx:.0f} in all"]
    for used, system, tid in rows:
        if used > 0:
            name = names.get(tid) or f"thread {tid}" + (
                ", no Python frames (LevelDB)" if names else ""
            )
            share = used / transactions * 1e6
            lines.append(f"  {name:<40} {share:7.1f} ({system / transactions * 1e6:.1f})")
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--threads":
        pid, seconds, rate = int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
        names = thread_names(pid)
        before = thread_cpu(pid)
        time.sleep(seconds)
        print(render_threads(before, thread_cpu(pid), names, seconds * rate))
        return
    if len(sys.argv) == 4 and sys.argv[1] == "--perf":
        report = perf_report(Path(sys.argv[2]))
        if not report:
            sys.exit("perf report gave nothing: is perf installed (apt-get install linux-perf)?")
        print(render_libraries(read_perf_dso(report), float(sys.argv[3])))
        return
    if len(sys.argv) != 3:
        sys.exit(
            "usage: cpu_breakdown.py RAW_PYSPY_FILE CPU_US_PER_TX\n"
            "       cpu_breakdown.py --threads PID SECONDS COMMITTED_TX_PER_S\n"
            "       cpu_breakdown.py --perf PERF_DATA CPU_US_PER_TX"
        )
    counts = read_raw(Path(sys.argv[1]))
    busy = sum(count for bucket, count in counts.items() if bucket != IDLE)
    print(render(breakdown(counts, float(sys.argv[2])), busy))


if __name__ == "__main__":
    main()
