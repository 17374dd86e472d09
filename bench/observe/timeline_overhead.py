"""What the scheduling timeline costs: W1 (skynet), W4 (ping-pong) and W5 (fan-in),
each run alternately with the timeline off (--timeline-events 0) and on (the
default), side by side in one session. Prints each run's figure, then the medians
and the cost (the time the runs took with the timeline against without: + is
slower).

usage: timeline_overhead.py BUILD_BIN_DIR [RUNS] [SCHEDULERS]"""
import json
import statistics
import subprocess
import sys

BIN = sys.argv[1]
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 9
SCHEDULERS = sys.argv[3] if len(sys.argv) > 3 else "2"
# (binary, figure, whether a larger figure is better)
WORKLOADS = [("skynet", "wall_ms", False), ("pingpong", "ns_per_round_trip", False),
             ("fanin", "msgs_per_sec", True)]


def run(workload, figure, events):
    out = subprocess.run([f"{BIN}/bench_{workload}", "--schedulers", SCHEDULERS,
                          "--timeline-events", str(events)],
                         capture_output=True, text=True, check=True).stdout
    line = next(l for l in out.splitlines() if l.startswith("RESULT "))
    result = json.loads(line[len("RESULT "):])
    if not result.get("checksum_ok", True):
        sys.exit(f"{workload}: wrong result: {line}")
    return float(result[figure])


def main():
    for workload, figure, larger_better in WORKLOADS:
        off, on = [], []
        for _ in range(RUNS):
            off.append(run(workload, figure, 0))
            on.append(run(workload, figure, 65536))
        m_off, m_on = statistics.median(off), statistics.median(on)
        cost = (m_off / m_on - 1) if larger_better else (m_on / m_off - 1)
        print(f"{workload} {figure}: off {' '.join(f'{v:.4g}' for v in off)}")
        print(f"{workload} {figure}: on  {' '.join(f'{v:.4g}' for v in on)}")
        print(f"{workload}: median off {m_off:.4g}, on {m_on:.4g}: cost {cost * 100:+.1f} %")


if __name__ == "__main__":
    main()
