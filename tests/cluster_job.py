"""Run the test job on a simulated two-node Ray cluster (ray.cluster_utils.Cluster).

Executed as a subprocess by test_cluster.py: a second Ray instance must not share the test session's
process. Runs each job file given, in order, on the one cluster; prints the node count and, per job, its
funnel or its one-line refusal, as JSON.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import ray
from ray.cluster_utils import Cluster

from mmcurate.jobs.cli import run_job
from mmcurate.jobs.load import load_job
from mmcurate.jobs.typed import ConfigError


def main(config_paths: list[str]) -> None:
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "object_store_memory": 150 * 1024**2,
                                                            "include_dashboard": False})
    cluster.add_node(num_cpus=1, object_store_memory=150 * 1024**2)
    cluster.wait_for_nodes()
    try:
        runs = []
        for path in config_paths:
            try:
                runs.append({"funnel": run_job(load_job(Path(path)), address=cluster.address, progress=False)})
            except ConfigError as exc:
                runs.append({"error": str(exc)})
        nodes = [n for n in ray.nodes() if n["Alive"]]
        print(json.dumps({"nodes": len(nodes), "runs": runs}, default=str))
    finally:
        ray.shutdown()
        cluster.shutdown()


if __name__ == "__main__":
    main(sys.argv[1:])
