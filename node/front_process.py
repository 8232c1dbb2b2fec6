"""Starting, watching and stopping a node's RPC front process (node/rpc_front.py).

The node serves its RPC on a Unix socket in its home's `run/` directory and
starts the front, which listens on the configured `[rpc] host` and `port`. The
node is ready only once the front says it listens; a front that cannot listen
(the port is taken) stops the node's start with the front's own message. A
front that exits while the node runs is started again, after a pause that
grows to a few seconds if it keeps exiting; the node logs each exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

import node
from node.log import log

READY_TIMEOUT = 20.0  # a loaded machine takes a while to start an interpreter
STOP_TIMEOUT = 3.0
RESTART_PAUSES = (0.2, 0.5, 1.0, 2.0, 5.0)
# a front that ran this long before exiting was not failing at start
STEADY_SECONDS = 30.0


# a Unix socket's path holds at most 107 bytes
MAX_SOCKET_PATH = 100


# a file in the home naming the private temporary run directory in use, when the
# home's own `run/` is too deep for a socket
RUN_DIR_POINTER = "run-dir"
TEMP_RUN_PREFIX = "pasar-rpc-"


def front_run_dir(home: Path) -> Path:
    """Where the node's RPC socket and the shared admission state live: the home's
    `run/`, or a private temporary directory when that path is too long for a socket.

    The temporary directory is named in the home (`run-dir`), so the next start
    removes the one a killed node left behind before making its own."""
    run_dir = home.resolve() / "run"
    if len(str(run_dir / "rpc.sock")) <= MAX_SOCKET_PATH:
        run_dir.mkdir(mode=0o700, exist_ok=True)
        # whoever reaches the socket reaches the node past its front, and may name
        # any client address: only this user, whatever the umask made of it before
        run_dir.chmod(0o700)
        return run_dir
    pointer = home / RUN_DIR_POINTER
    remove_temporary_run_dir(pointer)
    made = Path(tempfile.mkdtemp(prefix=TEMP_RUN_PREFIX))
    pointer.write_text(str(made) + "\n")
    return made


def rpc_socket_path(home: Path) -> Path:
    """The node's RPC socket, past its front, as `front_run_dir` placed it (changes
    nothing)."""
    pointer = home / RUN_DIR_POINTER
    with contextlib.suppress(OSError):
        return Path(pointer.read_text().strip()) / "rpc.sock"
    return home.resolve() / "run" / "rpc.sock"


def remove_temporary_run_dir(pointer: Path) -> None:
    """Remove the temporary run directory `pointer` names, and the pointer; only a
    directory `front_run_dir` could have made (this user's, in the temporary
    directory, with its prefix), whatever the file says."""
    try:
        named = Path(pointer.read_text().strip())
    except OSError:
        return
    with contextlib.suppress(OSError):
        if (
            named.parent == Path(tempfile.gettempdir())
            and named.name.startswith(TEMP_RUN_PREFIX)
            and not named.is_symlink()
            and named.is_dir()
            and named.stat().st_uid == os.getuid()
        ):
            shutil.rmtree(named)
    pointer.unlink(missing_ok=True)


class FrontError(OSError):
    """The front could not start (its message says why, e.g. the port is taken)."""


def package_root() -> str:
    return str(Path(node.__file__).resolve().parent.parent)


class FrontProcess:
    """One node's front: its command line, the running process, and its supervisor."""

    def __init__(
        self,
        host: str,
        port: int,
        upstream: Path,
        state: Path,
        request_timeout: float,
        answer_timeout: float,
    ) -> None:
        self.argv = [
            sys.executable,
            "-m",
            "node.rpc_front",
            "--host",
            host,
            "--port",
            str(port),
            "--upstream",
            str(upstream),
            "--state",
            str(state),
            "--request-timeout",
            f"{request_timeout:g}",
            "--answer-timeout",
            f"{answer_timeout:g}",
        ]
        self.process: asyncio.subprocess.Process | None = None
        self._watch: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    async def start(self) -> None:
        """Start the front and wait until it listens; raise FrontError if it cannot."""
        self.process = await self._spawn()
        self._watch = asyncio.ensure_future(self._supervise())

    async def _spawn(self) -> asyncio.subprocess.Process:
        """Start a front and return it once it listens (FrontError if it cannot)."""
        env = dict(os.environ)
        path = env.get("PYTHONPATH")
        env["PYTHONPATH"] = package_root() + (os.pathsep + path if path else "")
        process = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.PIPE,  # its end of the node's life: EOF stops it
            stdout=asyncio.subprocess.PIPE,
            env=env,
        )
        assert process.stdout is not None
        try:
            line = await asyncio.wait_for(process.stdout.readline(), READY_TIMEOUT)
        except TimeoutError:
            line = b"error: did not start within %d s" % READY_TIMEOUT
        except BaseException:  # the node stops meanwhile: no front outlives it
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await asyncio.shield(process.wait())
            raise
        if line.strip() != b"ready":
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            message = line.decode(errors="replace").strip().removeprefix("error: ")
            raise FrontError(message or f"the RPC front exited with {process.returncode}")
        return process

    async def _supervise(self) -> None:
        """Start the front again whenever it exits, until the node stops."""
        failures = 0
        loop = asyncio.get_running_loop()
        while not self._stopping:
            process = self.process
            assert process is not None
            started = loop.time()
            code = await process.wait()
            if self._stopping:
                return
            failures = 0 if loop.time() - started >= STEADY_SECONDS else failures + 1
            pause = RESTART_PAUSES[min(failures, len(RESTART_PAUSES) - 1)]
            log("rpc_front_exited", level="warning", code=code, restart_in_s=pause)
            await asyncio.sleep(pause)
            while not self._stopping:
                try:
                    self.process = await self._spawn()
                    log("rpc_front_restarted", pid=self.process.pid)
                    break
                except (FrontError, OSError) as exc:
                    failures += 1
                    pause = RESTART_PAUSES[min(failures, len(RESTART_PAUSES) - 1)]
                    log("rpc_front_not_started", level="warning", error=str(exc))
                    await asyncio.sleep(pause)

    async def stop(self) -> None:
        """Close the front's standard input and wait for it to go (kill it after 3 s)."""
        self._stopping = True
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        process = self.process
        if process is None or process.returncode is not None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
