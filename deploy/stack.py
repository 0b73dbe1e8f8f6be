"""The local stack in one command: ``python -m deploy.stack`` (the README's first command calls it).

Starts the embedded Temporal dev server (file-backed, UI on), the demo endpoints, the worker and
the API; builds component images that are missing; loads the example flows; sends one example
message so a run is there to look at; prints where everything is. Ctrl-C stops it all, by pid.
"""

import argparse
import json
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from deploy.processes import Service, port_open, start_service, wait_for_service
from deploy.temporal_server import start_dev_command
from flows.loader import FLOW_SUFFIXES, read_definition

REPO_ROOT = Path(__file__).resolve().parent.parent


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m deploy.stack", description=__doc__.splitlines()[0])
    parser.add_argument("--temporal-port", type=int, default=int(os.environ.get("CONFLUX_TEMPORAL_PORT", 7233)))
    parser.add_argument("--ui-port", type=int, default=int(os.environ.get("CONFLUX_UI_PORT", 8233)))
    parser.add_argument("--api-port", type=int, default=int(os.environ.get("CONFLUX_PORT", 8000)))
    parser.add_argument("--demo-port", type=int, default=int(os.environ.get("CONFLUX_DEMO_PORT", 8100)))
    parser.add_argument("--metrics-port", type=int, default=int(os.environ.get("CONFLUX_METRICS_PORT", 9464)),
                        help="the worker's metrics; the Temporal SDK's on the next port (docs/observability.md)")
    parser.add_argument("--flows", type=Path, default=REPO_ROOT / "examples" / "flows",
                        help="folder of flow files to load")
    parser.add_argument("--state-dir", type=Path, default=REPO_ROOT / "var", help="databases, blobs, logs, pid files")
    parser.add_argument("--runner", choices=["auto", "docker", "process"],
                        default=os.environ.get("CONFLUX_RUNNER", "auto"))
    parser.add_argument("--no-example-run", action="store_true", help="do not send the example message")
    parser.add_argument("--exit-after-start", action="store_true", help="start, report, stop (a smoke test)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    state = args.state_dir.resolve()
    run_dir = state / "run"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "PYTHONUNBUFFERED": "1",
           "CONFLUX_TEMPORAL_ADDRESS": f"127.0.0.1:{args.temporal_port}",
           "CONFLUX_TEMPORAL_UI_URL": f"http://127.0.0.1:{args.ui_port}",
           "CONFLUX_BLOB_DIR": str(state / "blobs"), "CONFLUX_DB_PATH": str(state / "conflux.db"),
           "CONFLUX_KEY_FILE": str(state / "keys"),
           "CONFLUX_PORT": str(args.api_port), "CONFLUX_RUNNER": args.runner,
           "DEMO_URL": f"http://127.0.0.1:{args.demo_port}",
           "CONFLUX_METRICS_ADDRESS": f"127.0.0.1:{args.metrics_port}",
           "CONFLUX_TEMPORAL_METRICS_ADDRESS": f"127.0.0.1:{args.metrics_port + 1}",
           "CONFLUX_CODEC_AUTH": "false",  # the dev server's UI sends no token; everything here is on loopback
           "CONFLUX_CODEC_CORS_ORIGINS": json.dumps([f"http://{host}:{args.ui_port}"
                                                     for host in ("127.0.0.1", "localhost")])}
    services: list[Service] = []
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        runner = choose_runner(args.runner)
        env["CONFLUX_RUNNER"] = runner
        services.append(start_temporal(args, state, run_dir, env))
        services.append(start_python("demo", ["uvicorn", "deploy.demo_server:create_demo_app", "--factory",
                                              "--host", "127.0.0.1", "--port", str(args.demo_port),
                                              "--log-level", "warning"], run_dir, env, args.demo_port))
        services.append(start_service("worker", [sys.executable, "-m", "worker"], run_dir, env))
        token = local_token(state)
        services.append(start_python("api", ["api"], run_dir, env, args.api_port))
        api = f"http://127.0.0.1:{args.api_port}"
        loaded = load_flows(api, args.flows, env, token)
        example = None if args.no_example_run or "orders" not in loaded else send_example(api)
        report(args, runner, loaded, example, run_dir, token)
        if args.exit_after_start:
            return 0
        while not stopping.is_set() and all(s.process.poll() is None for s in services):
            stopping.wait(1)
        dead = [s for s in services if s.process.poll() is not None]
        for service in dead:
            print(f"\n{service.name} stopped unexpectedly; its log ends:\n{service.tail()}", file=sys.stderr)
        return 1 if dead else 0
    except KeyboardInterrupt:
        return 0
    except (RuntimeError, OSError, ValueError) as failure:
        print(f"\nthe stack could not start: {failure}", file=sys.stderr)
        return 1
    finally:
        print("\nstopping: " + ", ".join(s.name for s in reversed(services)), flush=True)
        for service in reversed(services):
            service.stop()


def choose_runner(requested: str) -> str:
    """Docker when it answers (building any image that is missing), else local processes."""
    from steps.docker_channel import docker_client

    if requested == "process" or (requested == "auto" and docker_client() is None):
        print("steps run as local processes (no Docker engine answers; deploy/ensure_docker.sh installs one)")
        return "process"
    from catalog.build import build_all

    print("component images:")
    build_all(report=lambda line: print("  " + line))
    return "docker"


def start_temporal(args: argparse.Namespace, state: Path, run_dir: Path, env: dict[str, str]) -> Service:
    if port_open(args.temporal_port):
        raise RuntimeError(f"port {args.temporal_port} is taken: is another Temporal server or stack running? "
                           "(stop it, or pass --temporal-port)")
    command = start_dev_command(args.temporal_port, ui_port=args.ui_port, db_file=state / "temporal.db",
                                codec_endpoint=f"http://127.0.0.1:{args.api_port}/codec")
    service = start_service("temporal", command, run_dir, env)
    wait_for_service(service, args.temporal_port, 60)
    wait_for_service(service, args.ui_port, 30)
    time.sleep(1.0)  # the frontend answers a moment before the namespace is ready
    return service


def start_python(name: str, module_args: list[str], run_dir: Path, env: dict[str, str], port: int) -> Service:
    if port_open(port):
        raise RuntimeError(f"port {port} for the {name} is taken (pass another with --{name}-port)")
    service = start_service(name, [sys.executable, "-m", *module_args], run_dir, env)
    wait_for_service(service, port, 60)
    return service


def local_token(state: Path) -> str:
    """The local stack's admin token (api/tokens.py), kept in the state folder (mode 0600) and used
    again while it is valid, so restarts do not pile tokens up."""
    from api.tokens import TokenStore

    store = TokenStore(state / "conflux.db")
    kept = state / "api-token"
    if kept.exists():
        token = kept.read_text().strip()
        found = store.find(token)
        if found is not None and found.revoked_at is None:
            return token
    _, token = store.create("local stack", ["admin"])
    kept.touch()
    kept.chmod(0o600)
    kept.write_text(token + "\n")
    return token


def load_flows(api: str, folder: Path, env: dict[str, str], token: str) -> list[str]:
    """Create (or update) each flow of the folder through the API and start the polling and
    real-time ones;
    a bad file stops the start."""
    loaded = []
    for path in sorted(folder.iterdir()):
        if path.suffix not in FLOW_SUFFIXES:
            continue
        definition = read_definition(path, env)
        status, answer = http_json("PUT", f"{api}/flows/{definition['id']}", definition, token)
        if status >= 400:
            raise RuntimeError(f"loading {path} failed ({status}): {json.dumps(answer, indent=2)}")
        loaded.append(definition["id"])
        if (definition.get("trigger") or {}).get("type") == "polling" or definition.get("type") == "realtime":
            status, answer = http_json("POST", f"{api}/flows/{definition['id']}/start", token=token)
            if status >= 400:
                raise RuntimeError(f"starting the flow {definition['id']} failed ({status}): {answer}")
    return loaded


def send_example(api: str) -> dict[str, Any]:
    status, answer = http_json("POST", f"{api}/hooks/orders", {"customer": "acme", "total": 120})
    if status != 202:
        raise RuntimeError(f"the example message was refused ({status}): {answer}")
    return answer


def http_json(method: str, url: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def report(args: argparse.Namespace, runner: str, flows: list[str], example: dict[str, Any] | None,
           run_dir: Path, token: str) -> None:
    ui = f"http://127.0.0.1:{args.ui_port}"
    api = f"http://127.0.0.1:{args.api_port}"
    lines = [
        "",
        "Conflux is running.",
        f"  API            {api}    (interactive docs: {api}/docs)",
        f"  Temporal UI    {ui}/namespaces/default/workflows",
        f"  demo endpoints http://127.0.0.1:{args.demo_port}    (what the example flows delivered: /sink)",
        f"  metrics        {api}/metrics, worker http://127.0.0.1:{args.metrics_port}/metrics, Temporal SDK "
        f"http://127.0.0.1:{args.metrics_port + 1}/metrics",
        f"  step runner    {runner}",
        f"  flows loaded   {', '.join(flows) or 'none'}  (from {args.flows})",
        f"  logs and pids  {run_dir}",
        "",
        "The API wants this token (admin scope; also in the state folder's api-token file):",
        f"  export CONFLUX_TOKEN={token}",
        f"  curl -H \"Authorization: Bearer $CONFLUX_TOKEN\" {api}/flows   # the conflux CLI reads it too",
        "",
        "Send the example flow a message:",
        f"  curl -X POST {api}/hooks/orders -H 'content-type: application/json' "
        "-d '{\"customer\": \"acme\", \"total\": 120}'",
        "See the runs of one flow in the UI: filter by  FlowId=\"orders\"  "
        f"({ui}/namespaces/default/workflows?query=FlowId%3D%22orders%22)",
    ]
    if example:
        execution = example.get("executionId")
        lines.append(f"An example run was started: {execution} -> {api}/executions/{execution} (with the token)")
    lines.append("Ctrl-C stops everything.")
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    sys.exit(main())
