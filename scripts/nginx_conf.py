"""Write nginx's configuration from deploy/nginx.conf (scripts/run_scaled.sh, the tests, the bench).

    .venv/bin/python scripts/nginx_conf.py --dir var/scaled/nginx --https-port 8443 \
        --rasa-ports "5005 5006" --web-port 8000 --actions-port 5055 --actions-proxy-port 5054 \
        [--tls-cert cert.pem --tls-key key.pem | --self-signed localhost]

Every {{NAME}} of the template must be filled (an unknown or missing one stops with its name). The
reply nginx sends when no Rasa process answers a REST message is bot/content/messages.yml's
`system.not_delivered`, in Rasa's REST format. Without --tls-cert, a self-signed certificate for
the --self-signed name (and localhost, 127.0.0.1) is made once under <dir>/tls with openssl. As
root, nginx's workers run as www-data (or nobody), which then owns nginx's temp directories.
Prints the nginx command line to start it in the foreground.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.content import texts  # noqa: E402

TEMPLATE = ROOT / "deploy" / "nginx.conf"


def rasa_servers(ports: List[int]) -> str:
    # max_fails=1 fail_timeout=5s: a process that refused a connection is left out for 5 s.
    return "\n".join(f"        server 127.0.0.1:{port} max_fails=1 fail_timeout=5s;" for port in ports)


def nginx_string(value: str) -> str:
    """A value for a single-quoted nginx string."""
    return value.replace("\\", "\\\\").replace("'", "\\'")


def render(values: Dict[str, str], template: Optional[str] = None) -> str:
    text = template if template is not None else TEMPLATE.read_text(encoding="utf-8")
    wanted = set(re.findall(r"{{([A-Z_]+)}}", text))
    missing, unknown = wanted - set(values), set(values) - wanted
    if missing or unknown:
        raise SystemExit(f"nginx template: missing {sorted(missing)}, unknown {sorted(unknown)}")
    return re.sub(r"{{([A-Z_]+)}}", lambda m: values[m.group(1)], text)


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dir", required=True, type=Path, help="nginx's own directory (pid, logs, temp, the config)")
    p.add_argument("--listen", default="127.0.0.1", help="the address of the public port (default loopback)")
    p.add_argument("--https-port", required=True, type=int)
    p.add_argument("--rasa-ports", required=True, help='e.g. "5005 5006"')
    p.add_argument("--web-port", required=True, type=int)
    p.add_argument("--actions-port", required=True, type=int)
    p.add_argument("--actions-proxy-port", required=True, type=int)
    p.add_argument("--tls-cert", type=Path, help="a real certificate (PEM, full chain); with --tls-key")
    p.add_argument("--tls-key", type=Path, help="its private key (PEM)")
    p.add_argument("--self-signed", default="localhost", help="without --tls-cert: the name of the self-signed one")
    p.add_argument("--nginx", default=shutil.which("nginx") or "/usr/sbin/nginx", help="the nginx binary")
    p.add_argument("--socketio-hash", default="hash $socketio_key consistent;", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    ports = [int(port) for port in args.rasa_ports.split()]
    if not ports:
        raise SystemExit("--rasa-ports: at least one port")
    directory = args.dir.resolve()
    if bool(args.tls_cert) != bool(args.tls_key):
        raise SystemExit("--tls-cert and --tls-key go together")
    if args.tls_cert:
        cert, key = args.tls_cert, args.tls_key
        for path in (cert, key):
            if not os.access(path, os.R_OK):
                raise SystemExit(f"{path} cannot be read")
    else:
        cert, key = self_signed(directory / "tls", args.self_signed)
    user = worker_user()
    unavailable = json.dumps([{"text": texts.text("system.not_delivered")}], ensure_ascii=False)
    config = render(
        {
            "USER": f"user {user};" if user else "",
            "DIR": str(directory),
            "LISTEN": args.listen,
            "HTTPS_PORT": str(args.https_port),
            "RASA_SERVERS": rasa_servers(ports),
            "WEB_PORT": str(args.web_port),
            "ACTIONS_PORT": str(args.actions_port),
            "ACTIONS_PROXY_PORT": str(args.actions_proxy_port),
            "TLS_CERT": str(cert.resolve()),
            "TLS_KEY": str(key.resolve()),
            "UNAVAILABLE_JSON": nginx_string(unavailable),
        }
    )
    # Only for the test that shows why socket.io must be sticky (tests/scale/test_nginx.py).
    config = config.replace("hash $socketio_key consistent;", args.socketio_hash)
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (directory / "tmp" / sub).mkdir(parents=True, exist_ok=True)
        if user:
            shutil.chown(directory / "tmp" / sub, user)
    (directory / "nginx.conf").write_text(config, encoding="utf-8")
    command = [
        args.nginx,
        "-p",
        str(directory),
        "-e",
        str(directory / "error.log"),
        "-c",
        str(directory / "nginx.conf"),
    ]
    checked = subprocess.run(command + ["-t", "-q"], capture_output=True, text=True)
    if checked.returncode != 0:
        raise SystemExit(f"nginx refused {directory / 'nginx.conf'}: {checked.stderr.strip()}")
    print(shlex.join(command))
    return 0


def self_signed(directory: Path, name: str) -> Tuple[Path, Path]:
    """A self-signed certificate for `name`, localhost and 127.0.0.1, made once (825 days)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    if cert.exists() and key.exists():
        return cert, key
    if not shutil.which("openssl"):
        raise SystemExit("openssl is missing (Debian: apt-get install openssl), or give --tls-cert and --tls-key")
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    names = ",".join(dict.fromkeys([f"DNS:{name}", "DNS:localhost", "IP:127.0.0.1"]))
    made = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "825", "-subj", f"/CN={name}"]
        + ["-addext", f"subjectAltName={names}", "-keyout", str(key), "-out", str(cert)],
        capture_output=True,
        text=True,
    )
    if made.returncode != 0:
        raise SystemExit(f"openssl could not make the certificate: {made.stderr.strip()[-300:]}")
    os.chmod(key, 0o600)
    print(f"made a self-signed TLS certificate for {name}: {cert}", file=sys.stderr)
    return cert, key


def worker_user() -> str:
    """As root, nginx's workers drop to www-data (Debian's nginx user) or nobody; else no change."""
    if os.geteuid() != 0:
        return ""
    import pwd

    for name in ("www-data", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise SystemExit("as root, nginx's workers need the www-data or nobody user")


if __name__ == "__main__":
    sys.exit(main())
