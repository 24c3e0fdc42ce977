"""The real servers as `make run` starts them: the harness lives in bench/servers.py (the bench
stands alone and the tests share it)."""

from bench.servers import Nginx, Servers, ctrl_c, default_ctrl_c, post, start_script  # noqa: F401
