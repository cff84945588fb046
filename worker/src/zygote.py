# Deckle's kernel zygote: imports ipykernel once, then forks a fresh kernel per
# request. Started with the kernelspec's interpreter and interpreter flags. Each
# request is one JSON line on stdin:
#   {"argv": [kernel app args], "cwd": ... | null, "env": {...}, "log": ...}
# and the answer one JSON line on stdout: {"pid": N} or {"error": "..."}.
# Children start in their own process group with stdout/stderr appended to `log`,
# and poll JPY_PARENT_PID (this process), which exits when Deckle closes stdin.
# Deckle cannot wait for a child it did not start, so when one exits its status is
# written to `log + ".exit"` ("code N" or "signal N") for Deckle to read.
import json
import os
import signal
import sys

import ipykernel.ipkernel  # noqa: F401  (the expensive imports, paid once)
import ipykernel.kernelapp


# pid -> where its exit status goes; statuses of children reaped before their pid
# was registered (one that died at once) wait in `early`.
exit_files = {}
early = {}


def record_exit(path, status):
    code = os.waitstatus_to_exitcode(status)
    text = f"signal {-code}" if code < 0 else f"code {code}"
    try:
        with open(path + ".tmp", "w") as f:
            f.write(text)
        os.replace(path + ".tmp", path)
    except OSError:
        pass


def reap(signum, frame):
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        path = exit_files.pop(pid, None)
        if path is None:
            early[pid] = status
        else:
            record_exit(path, status)


def child(req):
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.setpgid(0, 0)
    log = os.open(req["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    sys.stdin = open(os.devnull)
    sys.stdout = os.fdopen(1, "w", buffering=1)
    sys.stderr = os.fdopen(2, "w", buffering=1)
    if req.get("cwd"):
        os.chdir(req["cwd"])
    os.environ.update(req.get("env") or {})
    # The kernel exits when this zygote does. ipykernel reads JPY_PARENT_PID when it
    # is imported — here, before the fork — so it is passed as config as well.
    parent = str(os.getppid())
    os.environ["JPY_PARENT_PID"] = parent
    # As `python -m ipykernel_launcher ARGV` would have them.
    argv = list(req["argv"])
    sys.argv = [ipykernel.kernelapp.__file__] + argv
    if sys.path and sys.path[0] == "":
        sys.path[0] = os.getcwd()
    ipykernel.kernelapp.launch_new_instance(argv=argv + ["--IPKernelApp.parent_handle=" + parent])


def main():
    signal.signal(signal.SIGCHLD, reap)
    print(json.dumps({"ready": os.getpid()}), flush=True)
    for line in sys.stdin:
        try:
            req = json.loads(line)
            pid = os.fork()
        except Exception as e:  # a bad request or no more processes
            print(json.dumps({"error": str(e)}), flush=True)
            continue
        if pid == 0:
            code = 0
            try:
                child(req)
            except BaseException:
                import traceback

                traceback.print_exc()
                code = 1
            finally:
                os._exit(code)
        exit_files[pid] = req["log"] + ".exit"
        if pid in early:
            record_exit(exit_files.pop(pid), early.pop(pid))
        print(json.dumps({"pid": pid}), flush=True)


main()
