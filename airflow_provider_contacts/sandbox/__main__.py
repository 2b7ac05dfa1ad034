"""``python -m airflow_provider_contacts.sandbox``: serve the vendor emulators until stopped."""

from __future__ import annotations

import argparse
import ipaddress
import sys

from airflow_provider_contacts.sandbox.app import SandboxConfig
from airflow_provider_contacts.sandbox.faults import FaultConfig


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m airflow_provider_contacts.sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="listen address (loopback by default)")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seed", type=int, default=42, help="seed of the generated data and faults")
    parser.add_argument(
        "--fault-rate",
        type=float,
        default=0.0,
        help="share of vendor requests answered with a fault (split evenly: 429, 503, dropped)",
    )
    parser.add_argument("--latency-ms", type=int, default=0, help="latency added to every vendor answer")
    parser.add_argument("--allow-remote", action="store_true", help="allow a non-loopback --host")
    parser.add_argument("--print-connections", action="store_true", help="print AIRFLOW_CONN_* exports")
    parser.add_argument(
        "--http",
        choices=("h11", "auto", "httptools"),
        default="h11",
        help="uvicorn HTTP protocol; h11 (the default) keeps header names as vendors write them "
        "(Mautic's Content-Type), httptools (auto's choice when installed) is faster and "
        "lowercases them",
    )
    args = parser.parse_args(argv)

    if not _is_loopback(args.host) and not args.allow_remote:
        parser.error(f"--host {args.host} is not a loopback address; add --allow-remote to really do that")
    if not 0.0 <= args.fault_rate <= 1.0:
        parser.error("--fault-rate must be between 0 and 1")
    share = args.fault_rate / 3
    faults = FaultConfig(rate_429=share, rate_5xx=share, rate_drop=share, latency_ms=args.latency_ms)

    from airflow_provider_contacts.sandbox.server import SandboxServer

    server = SandboxServer(
        SandboxConfig(seed=args.seed, faults=faults), host=args.host, port=args.port, http=args.http
    )
    print(f"contacts sandbox on {server.url}  (seed {args.seed}, fault rate {args.fault_rate})")
    for name, emulator in server.sandbox.emulators.items():
        print(f"  {name:<10} {emulator.base_url(server.url):<50} {emulator.credentials_text()}")
    print(f"  admin      {server.url}/_sandbox/  (faults, requests, reset, state/<vendor>, docs)")
    if args.print_connections:
        for key, value in server.connection_env().items():
            print(f"export {key}='{value}'")
    else:
        print("  connections: add --print-connections for AIRFLOW_CONN_* exports")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
