"""What the Python benches share: running users-bench, percentiles, and the
Markdown report each writes to bench/results/."""
import datetime
import json
import os
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))


def users_bench(bench, target, method, connections, inflight, seconds, **extra):
    """One users-bench run (`bench` is its path); its JSON figures."""
    cmd = [bench, "--target", target, "--method", method, "--connections", str(connections),
           "--inflight", str(inflight), "--duration", str(seconds), "--warmup", "1", "--json"]
    for k, v in extra.items():
        cmd += [f"--{k.replace('_', '-')}", str(v)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds * 20 + 120)
    if r.returncode != 0:
        raise RuntimeError(f"{cmd}: {r.stderr}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def percentile(values, p):
    """The p-th percentile of `values`; NaN when there are none."""
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))] if values else float("nan")


def write_report(name, title, header, rows, quick):
    """Prints `rows` as a Markdown table under `header` (4 columns) and
    writes it to bench/results/<name>-<date>[-quick].md."""
    lines = ["| " + " | ".join(header) + " |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    report = "\n".join(lines)
    print(report)
    out = os.path.join(HERE, "results",
                       f"{name}-{datetime.date.today().isoformat()}{'-quick' if quick else ''}.md")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        f.write(f"# {title}, {datetime.datetime.now():%Y-%m-%d %H:%M}\n\n")
        f.write(report + "\n")
    print(f"written to {out}")
