"""Scale-out benchmark: read throughput of 1 and 2 ``tmr serve`` replicas behind nginx.

All replicas share one PostgreSQL database (127.0.0.1:5432) and one SeaweedFS S3 server, as in
deploy/compose/compose.yaml. The load (wrk from Debian's package, else an httpx client) sends
GET /artifacts/dataset/{id} for random ids of a seeded registry through nginx; a single replica
without nginx is measured in the same run as the baseline of nginx's own cost. Each replica
first reads every id once (its read cache filled; that cold pass is printed apart), so the
measured rounds compare steady states rather than how many cache misses each side happened to
pay. Sides alternate
over ``--rounds`` rounds; every round is printed, then the medians.

On a 2-core machine the replicas, PostgreSQL, nginx and the load generator share the same two
cores, so a second replica can add at most what the first left idle: read the figures with that
in mind (the machine's load average is printed).

Run: .venv/bin/python scripts/bench_scaleout.py [--artifacts 2000] [--clients 64]
     [--seconds 10] [--rounds 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from benchstack import (  # noqa: E402
    Load,
    machine,
    pg_database,
    read_load,
    seaweedfs,
    token,
    warm_up,
)
from benchutil import seed  # noqa: E402

from tests.support.nginx import Balancer, find_nginx  # noqa: E402
from tests.support.replicas import start_replicas  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--artifacts", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    nginx = find_nginx()
    if nginx is None:
        print("nginx is not installed: apt-get install -y nginx", file=sys.stderr)
        return 1
    print(f"scale-out benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {machine()}")
    results: dict[str, list[Load]] = {}
    with (
        tempfile.TemporaryDirectory(prefix="tmr-scaleout-") as tmp,
        pg_database() as db_url,
        seaweedfs() as s3_env,
    ):
        ids = seed(db_url, args.artifacts)
        env = {
            **s3_env,
            "TMR_DATABASE_URL": db_url,
            "TMR_BLOB_URL": "s3://tmr-scaleout/bundles",
            "TMR_TOKEN_MAX_CALLS": "100000000",
            "LOG_LEVEL": "0",
        }
        for rnd in range(args.rounds):
            for n in (1, 2):
                root = Path(tmp) / f"r{rnd}-n{n}"
                replicas = start_replicas(n, env, root)
                balancer = Balancer(nginx, [r.netloc for r in replicas], root / "nginx")
                try:
                    balancer.start()
                    auth = token(balancer.url)
                    # every replica's read cache filled first: steady state is measured (a cold
                    # cache costs one database round trip per artifact, reported apart)
                    cold = warm_up([r.url for r in replicas], auth, ids)
                    print(f"round {rnd + 1}  {n} replica(s): first pass over every id (cold "
                          f"cache) {cold:.0f} req/s per replica", flush=True)
                    sides = [(f"{n} replica(s) behind nginx", balancer.url)]
                    if n == 1:
                        sides.insert(0, ("1 replica, direct (no nginx)", replicas[0].url))
                    pids = [r.proc.pid for r in replicas]
                    for label, url in sides:
                        load = read_load(url, auth, ids, args.clients, args.seconds,
                                         server_pids=pids)
                        results.setdefault(label, []).append(load)
                        print(f"round {rnd + 1}  {label:<30} {load}", flush=True)
                finally:
                    balancer.stop()
                    for r in replicas:
                        r.stop()
    print(f"\nmedians over {args.rounds} round(s): GET /artifacts/dataset/{{id}}, "
          f"{args.artifacts} artifacts, {args.clients} connections, PostgreSQL + SeaweedFS")
    for label, loads in results.items():
        print(f"  {label:<30} {statistics.median(x.rps for x in loads):7.0f} req/s  "
              f"p50 {statistics.median(x.p50_ms for x in loads):7.1f} ms  "
              f"p99 {statistics.median(x.p99_ms for x in loads):7.1f} ms  "
              f"replica CPU {statistics.median(x.cpu_ms_per_request or 0 for x in loads):5.2f}"
              f" ms/request  errors {sum(x.errors for x in loads)}")
    one = statistics.median(x.rps for x in results["1 replica(s) behind nginx"])
    two = statistics.median(x.rps for x in results["2 replica(s) behind nginx"])
    print(f"  2 replicas / 1 replica behind nginx: {two / one:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
