"""Install, start, stop and drive a local Asterisk for development, tests and small sites.

Two ways to get an Asterisk binary:
- system mode: `settings.asterisk_binary`, or an `asterisk` on PATH, is used as is;
- chroot mode (default on Debian 12, which has no Asterisk package): a Debian sid root
  built once per machine with mmdebstrap at `settings.pbx_root`, run with `chroot`.

Several instances (the dev one, the test one) share one install: each runs with
`asterisk -C <tree>/etc/asterisk.conf` whose [directories] point to its own tree of
etc/run/log/spool/lib/keys. In chroot mode that tree must live inside the root (Asterisk
cannot read outside it), at `ROOT/var/lib/callcenter/instances/<key>`; the host-side
`settings.pbx_dir` keeps the secrets, the pid file, Asterisk's stdout and a symlink to
the tree.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath

import psutil

from callcenter.config import Settings
from callcenter.pbx.render import DeskPhone, InstanceDirs, RenderError, render_config, write_config

log = logging.getLogger(__name__)

MMDEBSTRAP_COMMAND: tuple[str, ...] = (
    "mmdebstrap",
    "--variant=apt",
    # The registry's snapshot of sid carries an expired Release date.
    '--aptopt=Acquire::Check-Valid-Until "false"',
    "--include=asterisk,asterisk-core-sounds-en-wav",
    "sid",
)
INSTALL_TIMEOUT = 1800.0
CLI_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
INSTANCE_SUBDIRS = (
    "etc", "run", "log", "spool", "spool/recording", "lib/astdb", "keys/keys", "cache", "media",
    "sim",
)  # fmt: skip
# Stock files we do not template but whose absence makes a module decline to load
# (app_confbridge) or log an error on every boot. Copied from the install, unchanged.
PASSTHROUGH_CONFIGS = (
    "indications.conf",
    "codecs.conf",
    "confbridge.conf",
    "features.conf",
    "ccss.conf",
    "udptl.conf",
    "acl.conf",
    "pjproject.conf",
    "cdr.conf",
    "cel.conf",
    "res_parking.conf",
    "amd.conf",
    "queuerules.conf",
    "chan_websocket.conf",
    "websocket_client.conf",
    "cli_aliases.conf",
    "pjsip_notify.conf",
    "res_http_media_cache.conf",
)
MODDIR_CANDIDATES = (
    "/usr/lib/x86_64-linux-gnu/asterisk/modules",
    "/usr/lib/aarch64-linux-gnu/asterisk/modules",
    "/usr/lib/asterisk/modules",
    "/usr/lib64/asterisk/modules",
)
AUDIO_SUFFIXES = frozenset(
    {".wav", ".wav16", ".gsm", ".ulaw", ".alaw", ".sln", ".sln16", ".g722", ".ogg", ".mp3"}
)
DATADIR_CANDIDATES = ("/usr/share/asterisk", "/var/lib/asterisk")


class PbxError(Exception):
    """Something the user must fix; the message says what and how, in one line."""


@dataclass(frozen=True)
class PortCheck:
    """A port Asterisk will bind, and the setting that chooses it."""

    setting: str
    host: str
    port: int
    kind: int  # socket.SOCK_STREAM or socket.SOCK_DGRAM

    @property
    def label(self) -> str:
        proto = "tcp" if self.kind == socket.SOCK_STREAM else "udp"
        return f"{self.host}:{self.port}/{proto}"


@dataclass
class PbxStatus:
    """What `callcenter pbx status` shows."""

    running: bool
    mode: str
    pid: int | None = None
    version: str = ""
    instance_dir: str = ""
    ports: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class _Layout:
    """Where the binary, modules and this instance's tree are, host side and Asterisk side."""

    mode: str  # "chroot" or "system"
    command: tuple[str, ...]  # prefix that runs asterisk
    root: Path | None  # the chroot, None in system mode
    host_tree: Path  # the instance tree as this process sees it
    tree: PurePosixPath  # the same tree as Asterisk sees it
    moddir: str
    datadir: str
    run_user: str | None
    owner: tuple[int, int] | None  # uid/gid for files Asterisk must write


def _instance_key(settings: Settings) -> str:
    """Stable per (data dir, instance): two checkouts never share a tree."""
    ident = f"{settings.pbx_dir.resolve()}\0{settings.pbx_instance}"
    return f"{settings.pbx_instance}-{hashlib.sha256(ident.encode()).hexdigest()[:12]}"


def _passwd_entry(passwd: Path, user: str) -> tuple[int, int] | None:
    """uid/gid of `user` in a passwd file (the chroot's, not the host's: uids differ)."""
    if not passwd.exists():
        return None
    for line in passwd.read_text(encoding="utf-8").splitlines():
        parts = line.split(":")
        if len(parts) > 3 and parts[0] == user:
            return int(parts[2]), int(parts[3])
    return None


def _conf_directory(conf: Path, key: str) -> str | None:
    """Read one `astXXXdir => path` from an asterisk.conf (the install's own defaults)."""
    if not conf.exists():
        return None
    match = re.search(rf"^\s*{key}\s*=>?\s*(\S+)", conf.read_text(encoding="utf-8"), re.M)
    return match.group(1) if match else None


def _first_existing(base: Path, configured: str | None, candidates: Sequence[str]) -> str:
    options = [c for c in (configured, *candidates) if c]
    for option in options:
        if (base / option.lstrip("/")).is_dir():
            return option
    return options[0]


class LocalPbx:
    """One local Asterisk instance described by `settings` (ports, dirs, credentials).

    The object is cheap to build; nothing touches disk until a method is called. A
    process started by this object is reaped by its `stop()`; one started by another
    process (an earlier `callcenter pbx start`) is found through the pid file.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._layout: _Layout | None = None
        self._process: subprocess.Popen[bytes] | None = None

    # ----------------------------------------------------------------- paths
    @property
    def pbx_dir(self) -> Path:
        return self.settings.pbx_dir

    @property
    def pid_file(self) -> Path:
        return self.pbx_dir / "asterisk.pid"

    @property
    def output_file(self) -> Path:
        return self.pbx_dir / "asterisk.out"

    @property
    def layout(self) -> _Layout:
        """Resolved on first use: raises PbxError when no Asterisk is installed."""
        if self._layout is None:
            self._layout = self._resolve_layout()
        return self._layout

    @property
    def instance_dir(self) -> Path:
        """The instance tree, host side (logs in log/, config in etc/)."""
        return self.layout.host_tree

    @property
    def asterisk_instance_dir(self) -> str:
        """The instance tree as Asterisk sees it (inside the chroot in chroot mode)."""
        return str(self.layout.tree)

    @property
    def messages_log(self) -> Path:
        return self.instance_dir / "log" / "messages.log"

    def system_binary(self) -> str | None:
        """The installed asterisk to use instead of the chroot, if any."""
        if self.settings.asterisk_binary:
            return self.settings.asterisk_binary
        return shutil.which("asterisk")

    def _resolve_layout(self) -> _Layout:
        key = _instance_key(self.settings)
        binary = self.system_binary()
        if binary:
            return self._system_layout(binary, key)
        root = self.settings.pbx_root
        if not (root / "usr/sbin/asterisk").exists():
            raise PbxError(f"Asterisk is not installed in {root}: run `callcenter pbx install`")
        tree = PurePosixPath("/var/lib/callcenter/instances") / key
        conf = root / "etc/asterisk/asterisk.conf"
        owner = _passwd_entry(root / "etc/passwd", "asterisk")
        return _Layout(
            mode="chroot",
            command=("chroot", str(root), "/usr/sbin/asterisk"),
            root=root,
            host_tree=root / str(tree).lstrip("/"),
            tree=tree,
            moddir=_first_existing(root, _conf_directory(conf, "astmoddir"), MODDIR_CANDIDATES),
            datadir=_first_existing(root, _conf_directory(conf, "astdatadir"), DATADIR_CANDIDATES),
            run_user="asterisk" if owner else None,
            owner=owner,
        )

    def _system_layout(self, binary: str, key: str) -> _Layout:
        # As root, keep the tree where an asterisk user can reach it; otherwise run as
        # ourselves with the tree in our own data dir.
        conf = Path("/etc/asterisk/asterisk.conf")
        if os.geteuid() == 0:
            host_tree = Path("/var/lib/callcenter/instances") / key
            try:
                entry = pwd.getpwnam("asterisk")
                owner: tuple[int, int] | None = (entry.pw_uid, entry.pw_gid)
            except KeyError:
                owner = None
        else:
            host_tree = self.pbx_dir.resolve() / "instance-tree"
            owner = None
        root = Path("/")
        return _Layout(
            mode="system",
            command=(binary,),
            root=None,
            host_tree=host_tree,
            tree=PurePosixPath(host_tree),
            moddir=_first_existing(root, _conf_directory(conf, "astmoddir"), MODDIR_CANDIDATES),
            datadir=_first_existing(root, _conf_directory(conf, "astdatadir"), DATADIR_CANDIDATES),
            run_user="asterisk" if owner else None,
            owner=owner,
        )

    # ----------------------------------------------------------- credentials
    @property
    def ari_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.ari_port}"

    @property
    def ari_credentials(self) -> tuple[str, str]:
        return self.settings.ari_username, self._secrets()["ari_password"]

    @property
    def ami_credentials(self) -> tuple[str, str]:
        return self.settings.ami_username, self._secrets()["ami_password"]

    def _secrets(self) -> dict[str, str]:
        """Generated once per instance and reused, so clients keep working across restarts."""
        path = self.pbx_dir / "secrets.json"
        stored: dict[str, str] = {}
        if path.exists():
            stored = json.loads(path.read_text(encoding="utf-8"))
        wanted = dict(stored)
        for name in ("ari_password", "ami_password"):
            wanted.setdefault(name, secrets.token_urlsafe(24))
        if wanted != stored:
            self._write_private(path, json.dumps(wanted, indent=2) + "\n")
        result = dict(wanted)
        if self.settings.ari_password is not None:
            result["ari_password"] = self.settings.ari_password.get_secret_value()
        if self.settings.ami_password is not None:
            result["ami_password"] = self.settings.ami_password.get_secret_value()
        return result

    def _write_private(self, path: Path, text: str) -> None:
        self.pbx_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(path, 0o600)

    # --------------------------------------------------------------- install
    def install(self) -> str:
        """Make an Asterisk available; returns what was done. Cached once per machine."""
        binary = self.system_binary()
        if binary:
            return f"using the installed Asterisk at {binary}"
        root = self.settings.pbx_root
        if (root / "usr/sbin/asterisk").exists():
            return f"Asterisk root already installed at {root}"
        if os.geteuid() != 0:
            raise PbxError(
                "building the Asterisk root needs root (mmdebstrap, chroot): run "
                "`sudo callcenter pbx install`, or set CALLCENTER_ASTERISK_BINARY"
            )
        if not shutil.which("mmdebstrap"):
            raise PbxError("mmdebstrap is missing: run `apt-get install mmdebstrap`")
        self._remove_stale_builds(root)
        tmp = root.with_name(f"{root.name}.tmp-{os.getpid()}")
        self._build_root(tmp)
        try:
            tmp.rename(root)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if (root / "usr/sbin/asterisk").exists():  # another process finished first
                return f"Asterisk root already installed at {root}"
            raise PbxError(f"could not move the new root to {root}: {exc}") from exc
        return f"Asterisk root installed at {root}"

    def _build_root(self, tmp: Path) -> None:
        """Run mmdebstrap with its output on our terminal (it takes a while)."""
        tmp.parent.mkdir(parents=True, exist_ok=True)
        command = [*MMDEBSTRAP_COMMAND, str(tmp)]
        log.info("building the Asterisk root: %s", " ".join(command))
        try:
            result = subprocess.run(command, timeout=INSTALL_TIMEOUT, check=False)
            failure = f"exit status {result.returncode}" if result.returncode else ""
        except subprocess.TimeoutExpired:
            failure = f"no result after {INSTALL_TIMEOUT:.0f} s"
        except KeyboardInterrupt:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        if failure:
            shutil.rmtree(tmp, ignore_errors=True)
            leftover = f"; delete {tmp} by hand" if tmp.exists() else ""
            raise PbxError(
                f"building the Asterisk root failed ({failure}): see mmdebstrap's output "
                f"above, check access to the Debian package registry, then retry{leftover}"
            )

    @staticmethod
    def _remove_stale_builds(root: Path) -> None:
        """Temp roots of builds whose process died (killed, rebooted) are garbage."""
        if not root.parent.exists():
            return
        for candidate in root.parent.glob(f"{root.name}.tmp-*"):
            pid = candidate.name.rsplit("-", 1)[-1]
            if pid.isdigit() and not psutil.pid_exists(int(pid)):
                log.info("removing the unfinished build %s", candidate)
                shutil.rmtree(candidate, ignore_errors=True)

    # ---------------------------------------------------------------- render
    def render(self, desk_phones: Sequence[DeskPhone] | None = None) -> list[str]:
        """Write this instance's config; None keeps the desk phones of the last render.

        Only the instance tree is written. Returns the names of the files written.
        """
        layout = self.layout
        phones = self._desk_phones(desk_phones)
        self._prepare_tree()
        ari = self._secrets()
        dirs = InstanceDirs(
            tree=str(layout.tree),
            moddir=layout.moddir,
            datadir=layout.datadir,
            run_user=layout.run_user,
        )
        try:
            files = render_config(
                self.settings,
                dirs,
                ari_password=ari["ari_password"],
                ami_password=ari["ami_password"],
                desk_phones=phones,
            )
        except RenderError as exc:
            raise PbxError(str(exc)) from exc
        files.update(self._passthrough_files(files))
        write_config(files, layout.host_tree / "etc", owner=layout.owner)
        self.sync_media()
        return sorted(files)

    def reload(self, desk_phones: Sequence[DeskPhone] | None = None) -> None:
        """Re-render and make the running Asterisk read it (new desk phones, trunk...)."""
        self.render(desk_phones)
        self.cli("core reload")

    def desk_phones(self) -> list[DeskPhone]:
        """The desk phones the last render configured (kept across restarts)."""
        return self._desk_phones(None)

    def _desk_phones(self, desk_phones: Sequence[DeskPhone] | None) -> list[DeskPhone]:
        path = self.pbx_dir / "desk_phones.json"
        if desk_phones is None:
            if not path.exists():
                return []
            return [DeskPhone(**item) for item in json.loads(path.read_text(encoding="utf-8"))]
        phones = list(desk_phones)
        self._write_private(path, json.dumps([asdict(p) for p in phones], indent=2) + "\n")
        return phones

    def _passthrough_files(self, rendered: dict[str, str]) -> dict[str, str]:
        """Stock files we do not template but Asterisk needs (tone zones for ringback)."""
        base = (self.layout.root or Path("/")) / "etc/asterisk"
        extra: dict[str, str] = {}
        for name in PASSTHROUGH_CONFIGS:
            source = base / name
            if name not in rendered and source.exists():
                extra[name] = source.read_text(encoding="utf-8", errors="replace")
        return extra

    def _prepare_tree(self) -> None:
        layout = self.layout
        for sub in INSTANCE_SUBDIRS:
            path = layout.host_tree / sub
            path.mkdir(parents=True, exist_ok=True)
            self._chown(path)
        self._chown(layout.host_tree / "lib")
        self._chown(layout.host_tree)
        self.pbx_dir.mkdir(parents=True, exist_ok=True)
        link = self.pbx_dir / "instance"
        if link.is_symlink() or link.exists():
            if link.is_symlink() and Path(os.readlink(link)) == layout.host_tree:
                return
            link.unlink()
        link.symlink_to(layout.host_tree)

    def _chown(self, path: Path) -> None:
        if self.layout.owner is not None:
            os.chown(path, *self.layout.owner)

    # ----------------------------------------------------------------- media
    def sync_media(self) -> int:
        """Mirror settings.media_dir into the instance tree (Asterisk reads only its root).

        Copies new or changed files (size or mtime), removes files gone from the source;
        returns how many files were copied.
        """
        source = self.settings.media_dir
        target = self.layout.host_tree / "media"
        target.mkdir(parents=True, exist_ok=True)
        copied = 0
        seen: set[Path] = set()
        if source.is_dir():
            for path in sorted(source.rglob("*")):
                if not path.is_file():
                    continue
                rel = path.relative_to(source)
                seen.add(rel)
                copied += self._copy_if_changed(path, target / rel)
        for path in sorted(target.rglob("*"), reverse=True):
            rel = path.relative_to(target)
            if path.is_file() and rel not in seen:
                path.unlink()
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()
        return copied

    def publish_media(self, relative: str) -> None:
        """Copy one file of media/ into the instance tree now (e.g. a prompt just rendered),
        rather than waiting for the next full sync at start."""
        rel = PurePosixPath(relative)
        if rel.is_absolute() or ".." in rel.parts:
            raise PbxError(f"media path {relative!r} must be relative to media/")
        self._copy_if_changed(self.settings.media_dir / rel, self.layout.host_tree / "media" / rel)

    def _copy_if_changed(self, source: Path, dest: Path) -> int:
        src_stat = source.stat()
        if dest.exists():
            dest_stat = dest.stat()
            if dest_stat.st_size == src_stat.st_size and dest_stat.st_mtime == src_stat.st_mtime:
                return 0
        dest.parent.mkdir(parents=True, exist_ok=True)
        self._chown(dest.parent)
        shutil.copy2(source, dest)
        self._chown(dest)
        return 1

    def asterisk_media_path(self, relative: str) -> str:
        """Path Asterisk plays for a file of media/ (`Playback(...)`, ARI `sound:<path>`).

        The extension is dropped: Asterisk picks the best format file itself.
        """
        rel = PurePosixPath(relative)
        if rel.is_absolute() or ".." in rel.parts:
            raise PbxError(f"media path {relative!r} must be relative to media/")
        if rel.suffix.lower() in AUDIO_SUFFIXES:
            rel = rel.with_suffix("")
        return str(self.layout.tree / "media" / rel)

    def instance_file(self, relative: str) -> tuple[Path, str]:
        """A file in the instance tree: (host path, path as Asterisk sees it)."""
        rel = PurePosixPath(relative)
        if rel.is_absolute() or ".." in rel.parts:
            raise PbxError(f"instance path {relative!r} must be relative")
        return self.layout.host_tree / rel, str(self.layout.tree / rel)

    def give_to_asterisk(self, path: Path) -> None:
        """Make a file we wrote into the tree readable and writable by Asterisk's user."""
        self._chown(path)

    # ------------------------------------------------------------ processes
    def _command(self, *args: str) -> list[str]:
        return [*self.layout.command, "-C", f"{self.layout.tree}/etc/asterisk.conf", *args]

    def pid(self) -> int | None:
        """The pid of this instance's Asterisk, if one is alive."""
        if self._process is not None and self._process.poll() is not None:
            self._process = None
        try:
            pid = int(self.pid_file.read_text(encoding="utf-8").strip())
        except (OSError, ValueError):
            return None
        try:
            proc = psutil.Process(pid)
            alive = proc.status() != psutil.STATUS_ZOMBIE
            ours = alive and any(self.asterisk_instance_dir in part for part in proc.cmdline())
        except psutil.Error:
            return None
        # A recycled pid belongs to some other program: not our Asterisk.
        return pid if ours else None

    def is_running(self) -> bool:
        return self.pid() is not None

    def start(self, desk_phones: Sequence[DeskPhone] | None = None) -> bool:
        """Start and wait until FullyBooted; False if it was already running."""
        if self.is_running():
            log.info("the PBX is already running (pid %s)", self.pid())
            return False
        self.check_ports()
        self.render(desk_phones)
        for stale in ("asterisk.ctl", "asterisk.pid"):
            with contextlib.suppress(FileNotFoundError):
                (self.instance_dir / "run" / stale).unlink()
        self._spawn()
        try:
            self._wait_fully_booted()
        except PbxError:
            self.stop()
            raise
        log.info(
            "the PBX is up: SIP %s:%s, ARI %s",
            self.settings.sip_bind,
            self.settings.sip_port,
            self.ari_url,
        )
        return True

    def _spawn(self) -> None:
        # Own session: Ctrl-C in the terminal that ran `pbx start` must not kill it, and
        # stop() can signal the whole group. -f keeps it in the foreground of that group.
        command = self._command("-f")
        self.pbx_dir.mkdir(parents=True, exist_ok=True)
        with self.output_file.open("ab") as out:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid_file.write_text(f"{self._process.pid}\n", encoding="utf-8")
        log.info("started Asterisk (pid %d): %s", self._process.pid, " ".join(command))

    def _wait_fully_booted(self) -> None:
        deadline = time.monotonic() + self.settings.pbx_boot_timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise PbxError(
                    f"Asterisk exited during start-up (status {self._process.returncode})"
                    + self._failure_details()
                )
            remaining = max(1.0, deadline - time.monotonic())
            try:
                result = subprocess.run(
                    self._command("-rx", "core waitfullybooted"),
                    capture_output=True,
                    text=True,
                    timeout=min(remaining, 10.0),
                    check=False,
                )
                if result.returncode == 0 and "fully booted" in result.stdout.lower():
                    return
            except subprocess.TimeoutExpired:
                pass
            time.sleep(0.1)
        raise PbxError(
            f"Asterisk did not finish booting within {self.settings.pbx_boot_timeout:.0f} s "
            "(CALLCENTER_PBX_BOOT_TIMEOUT)" + self._failure_details()
        )

    def _failure_details(self) -> str:
        parts = []
        for label, path in (("messages log", self.messages_log), ("output", self.output_file)):
            tail = _tail(path, 25)
            if tail:
                parts.append(f"\n--- {label} ({path}) ---\n{tail}")
        return "".join(parts)

    def stop(self) -> bool:
        """Stop gracefully, then by signal; False if it was not running. Idempotent."""
        pid = self.pid()
        if pid is None:
            self._reap()
            with contextlib.suppress(FileNotFoundError):
                self.pid_file.unlink()
            return False
        with contextlib.suppress(subprocess.TimeoutExpired, PbxError):
            subprocess.run(
                self._command("-rx", "core stop now"),
                capture_output=True,
                timeout=STOP_TIMEOUT,
                check=False,
            )
        if not self._wait_exit(pid, STOP_TIMEOUT):
            log.warning("Asterisk (pid %d) ignored `core stop now`; terminating it", pid)
            self._signal_group(pid, signal.SIGTERM)
            if not self._wait_exit(pid, 3.0):
                self._signal_group(pid, signal.SIGKILL)
                self._wait_exit(pid, 3.0)
        self._reap()
        with contextlib.suppress(FileNotFoundError):
            self.pid_file.unlink()
        log.info("stopped Asterisk (pid %d)", pid)
        return True

    def _wait_exit(self, pid: int, timeout: float) -> bool:
        if self._process is not None and self._process.pid == pid:
            try:
                self._process.wait(timeout=timeout)
                return True
            except subprocess.TimeoutExpired:
                return False
        try:
            psutil.Process(pid).wait(timeout=timeout)
        except psutil.TimeoutExpired:
            return False
        except psutil.NoSuchProcess:
            pass
        return True

    @staticmethod
    def _signal_group(pid: int, sig: signal.Signals) -> None:
        try:
            os.killpg(os.getpgid(pid), sig)
        except ProcessLookupError:
            pass
        except PermissionError:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    def _reap(self) -> None:
        if self._process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=1.0)
            self._process = None

    def remove(self) -> None:
        """Stop and delete this instance's tree and host dir (tests clean up with this)."""
        self.stop()
        shutil.rmtree(self.layout.host_tree, ignore_errors=True)
        shutil.rmtree(self.pbx_dir, ignore_errors=True)

    # -------------------------------------------------------- ports, cli, status
    def port_checks(self) -> list[PortCheck]:
        s = self.settings
        return [
            PortCheck("CALLCENTER_SIP_PORT", s.sip_bind, s.sip_port, socket.SOCK_DGRAM),
            PortCheck(
                "CALLCENTER_CARRIER_SIM_PORT", "127.0.0.1", s.carrier_sim_port, socket.SOCK_DGRAM
            ),
            PortCheck("CALLCENTER_ARI_PORT", "127.0.0.1", s.ari_port, socket.SOCK_STREAM),
            PortCheck("CALLCENTER_AMI_PORT", "127.0.0.1", s.ami_port, socket.SOCK_STREAM),
        ]

    def check_ports(self) -> None:
        """Fail before starting if a port is taken: Asterisk would only log it and run deaf."""
        for check in self.port_checks():
            if not _port_free(check):
                raise PbxError(
                    f"port {check.label} is already in use: stop what listens there or set "
                    f"{check.setting} to a free port"
                )

    def cli(self, command: str, timeout: float = CLI_TIMEOUT) -> str:
        """Run one Asterisk CLI command in this instance and return its output."""
        if not self.is_running():
            raise PbxError("the PBX is not running: run `callcenter pbx start`")
        try:
            result = subprocess.run(
                self._command("-rx", command),
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise PbxError(f"Asterisk did not answer `{command}` within {timeout:.0f} s") from exc
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip()
            raise PbxError(f"`{command}` failed: {detail or f'exit {result.returncode}'}")
        return result.stdout

    def status(self) -> PbxStatus:
        s = self.settings
        pid = self.pid()
        version = ""
        if pid is not None:
            with contextlib.suppress(PbxError):
                version = self.cli("core show version", timeout=5.0).strip()
        return PbxStatus(
            running=pid is not None,
            mode=self.layout.mode,
            pid=pid,
            version=version,
            instance_dir=str(self.instance_dir),
            ports={
                "sip": f"{s.sip_bind}:{s.sip_port}/udp",
                "carrier_sim": f"127.0.0.1:{s.carrier_sim_port}/udp",
                "ari": self.ari_url,
                "ami": f"127.0.0.1:{s.ami_port}/tcp",
                "rtp": f"{s.rtp_port_start}-{s.rtp_port_end}/udp",
            },
        )


def _port_free(check: PortCheck) -> bool:
    family = socket.AF_INET6 if ":" in check.host else socket.AF_INET
    with socket.socket(family, check.kind) as sock:
        if check.kind == socket.SOCK_STREAM:
            # Asterisk sets SO_REUSEADDR too: a port in TIME_WAIT is not "in use".
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((check.host, check.port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise PbxError(f"cannot bind {check.label} ({check.setting}): {exc}") from exc
    return True


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
