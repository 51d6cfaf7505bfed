"""``lvg serve``: a local web viewer over endless generated videos (see :mod:`lvg.serve.app`).

``sources`` wraps every lvg model as "uint8 frames [a, b) of a seed" (the one module importing the rest of
lvg), ``store`` is the shared byte-bounded chunk cache with its generation threads, ``app`` the aiohttp
server, ``cli`` the command line, ``static/`` the page (one HTML file and one script, no build step).
"""

from lvg.serve.cli import add_arguments, run_cli

__all__ = ["add_arguments", "run_cli"]
