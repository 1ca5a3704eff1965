#!/usr/bin/env python3
"""The real menu-bar app on a virtual X display: Xvfb as the screen, trayer as the tray host,
xdotool to click, ImageMagick's `import` for screenshots, xclip to read what the dashboard
window shows. Run by scripts/test-app inside `dbus-run-session` (so no helper outlives it).

Checks, in order:
1. the app serves on the port (its /health says it is Switchyard) and routes a request to the
   mock upstream through the gateway it runs in-process;
2. the tray icon appears: trayer grows an embedded icon window;
3. the dashboard window opens and shows data: its page text (selected and copied with the
   keyboard, read back with xclip) counts the requests just made and names the mock's model.
   The app runs under the C locale, where WebKitGTK's navigator.language is "C" (a dashboard
   that trips on it paints a blank window; see ui/src/locale.ts);
4. a click on the icon opens the menu (the screen changes where the menu appears);
5. the menu's last item, "Quit Switchyard", chosen with the keyboard, ends the app with exit code
   0, and the port is free again.

Screenshots go to src-tauri/test-artifacts/ (the dashboard window's as dashboard-window.png).
Usage: drive_app.py APP_BINARY MOCK_BINARY PORT
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ARTIFACTS = os.path.join(ROOT, "test-artifacts")


class Failure(Exception):
    pass


def log(message):
    print(f"[test-app] {message}", flush=True)


def wait_for(what, check, timeout=30.0, every=0.25):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except Failure:  # a definite no (e.g. the process died): no point waiting on
            raise
        except Exception as err:  # the thing is not there yet
            last = err
        time.sleep(every)
    raise Failure(f"timed out waiting for {what} (last error: {last})")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def http_json(url, body=None, timeout=10, token=None):
    data = None if body is None else json.dumps(body).encode()
    headers = {"content-type": "application/json"}
    if token:
        headers["x-switchyard-admin-token"] = token
    request = urllib.request.Request(url, data=data, headers=headers)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def run(args, env, **kwargs):
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=30, **kwargs)


def screenshot(env, name, window="root"):
    path = os.path.join(ARTIFACTS, name)
    run(["import", "-window", window, path], env)
    log(f"screenshot {path}")
    return path


def pixels_differ(env, a, b):
    out = run(["compare", "-metric", "AE", a, b, "null:"], env)
    # `compare` prints the count on stderr and exits 1 when the images differ.
    try:
        return int(float(out.stderr.split()[0]))
    except (ValueError, IndexError):
        return 0


def window_geometry(env, window):
    out = run(["xdotool", "getwindowgeometry", "--shell", window], env).stdout
    values = dict(line.split("=", 1) for line in out.split() if "=" in line)
    return {k: int(v) for k, v in values.items() if k in ("X", "Y", "WIDTH", "HEIGHT")}


def tray_descendants(env, window):
    """How many windows live inside trayer's (each embedded icon adds some)."""
    tree = run(["xwininfo", "-tree", "-id", window], env).stdout
    return sum(1 for line in tree.splitlines() if line.strip().startswith("0x"))


def page_text(env, window):
    """The text the window's page shows: focus it (X input focus, no window manager needed), select
    all and copy with real key events (XTEST; GTK ignores synthetic ones), read the clipboard."""
    run(["xdotool", "windowfocus", "--sync", window], env)
    run(["xdotool", "key", "--clearmodifiers", "ctrl+a", "ctrl+c"], env)
    time.sleep(0.3)
    return run(["xclip", "-o", "-selection", "clipboard"], env).stdout


def shows_requests(text, count, model):
    """Whether the Overview's text says `count` requests today and names `model` as the top one."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    after = lines.index("Requests today") + 1 if "Requests today" in lines else len(lines)
    return after < len(lines) and lines[after] == str(count) and model in text


def start_tray_host(env, start, attempts=3):
    """trayer, the tray host; started again if it exits before its window shows (it exits at
    once when the display refuses it), with its log in the failure if it never does."""
    args = ["trayer", "--edge", "top", "--align", "right", "--widthtype", "request", "--height", "28",
            "--transparent", "false", "--tint", "0xffffff", "--SetDockType", "true"]
    for attempt in range(1, attempts + 1):
        log_name = f"trayer-{attempt}.log"
        trayer = start(args, env, log_name)

        def window():
            if trayer.poll() is not None:
                raise Failure(f"trayer exited with {trayer.returncode}")
            return run(["xdotool", "search", "--onlyvisible", "--class", "trayer"], env).stdout.split()[0]

        try:
            return wait_for("trayer's window", window, timeout=20)
        except Failure as err:
            with open(os.path.join(ARTIFACTS, log_name)) as f:
                tail = f.read()[-400:].strip()
            log(f"trayer attempt {attempt}: {err}; its log: {tail or '(empty)'}")
            if trayer.poll() is None:
                trayer.kill()
    raise Failure(f"trayer's window never showed in {attempts} attempts (logs in test-artifacts/trayer-*.log)")


def main():
    app_binary, mock_binary, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    os.makedirs(ARTIFACTS, exist_ok=True)
    home = tempfile.mkdtemp(prefix="switchyard-app-test-")
    procs = []

    def start(args, env, log_name):
        out = open(os.path.join(ARTIFACTS, log_name), "w")
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
        procs.append(proc)
        return proc

    try:
        # The display: Xvfb picks a free number itself and writes it to a pipe (-displayfd), so
        # two runs on one machine never race for the same lock file. -noreset: by default an X
        # server resets when its last client leaves (here: the xdpyinfo probe), and a client that
        # connects during the reset (trayer, once) fails with "cannot open display".
        read_fd, write_fd = os.pipe()
        xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x800x24",
                                 "-nolisten", "tcp", "-noreset"],
                                stderr=subprocess.DEVNULL, pass_fds=(write_fd,))
        procs.append(xvfb)
        os.close(write_fd)
        with os.fdopen(read_fd) as pipe:
            number = pipe.readline().strip()
        if not number:
            raise Failure("Xvfb did not start (no display number on -displayfd)")
        display = f":{number}"
        wait_for("Xvfb", lambda: subprocess.run(["xdpyinfo", "-display", display], capture_output=True).returncode == 0)
        env = dict(os.environ, DISPLAY=display, HOME=home, XDG_CONFIG_HOME=os.path.join(home, ".config"),
                   XDG_DATA_HOME=os.path.join(home, ".local/share"), XDG_CACHE_HOME=os.path.join(home, ".cache"),
                   # Software rendering: Xvfb has no GPU.
                   WEBKIT_DISABLE_COMPOSITING_MODE="1", LIBGL_ALWAYS_SOFTWARE="1", NO_AT_BRIDGE="1",
                   # The C locale, as in containers and minimal installs: WebKitGTK then reports
                   # navigator.language "C", which Intl refuses (the blank-window bug's cause).
                   LC_ALL="C.UTF-8", LANGUAGE="",
                   SWITCHYARD_LOG="info")
        log(f"Xvfb on {display}")
        # Keep the root light grey so the tray and menu stand out in screenshots.
        run(["xsetroot", "-solid", "#d8d8d8"], env) if shutil.which("xsetroot") else None

        tray_window = start_tray_host(env, start)
        icons_before = tray_descendants(env, tray_window)

        mock_port = free_port()
        start([mock_binary, "--port", str(mock_port), "--models", "desk-test-model"], env, "mock.log")
        wait_for("the mock upstream", lambda: urllib.request.urlopen(f"http://127.0.0.1:{mock_port}/health", timeout=2))

        config = os.path.join(home, "switchyard.toml")
        with open(config, "w") as f:
            f.write(f"""[discovery]
from_env = false
probe_local = false

[usage]
path = "{home}/usage.sqlite3"

[routing]
state_file = "{home}/state.json"

[providers.deskmock]
kind = "openai-compatible"
base_url = "http://127.0.0.1:{mock_port}/v1"
keys = ["sk-test-desk-0001"]
local = false
""")
        app = start([app_binary, "--config", config, "--port", str(port), "--open-dashboard"], env, "app.log")

        # 1. The gateway serves, in the app's process.
        health = wait_for("the app's gateway", lambda: http_json(f"http://127.0.0.1:{port}/health"), timeout=60)
        if health.get("service") != "switchyard":
            raise Failure(f"/health does not say Switchyard: {health}")
        for _ in range(3):
            answer = http_json(f"http://127.0.0.1:{port}/v1/chat/completions",
                               {"model": "deskmock/desk-test-model", "messages": [{"role": "user", "content": "hi"}]})
            if "choices" not in answer:
                raise Failure(f"no answer through the gateway: {answer}")
        # The admin API needs the install's token: the app made it at first start, in the config
        # dir, readable by the user only.
        token_file = os.path.join(home, ".config", "switchyard", "admin-token")
        token = wait_for("the admin token file", lambda: os.path.exists(token_file) and open(token_file).read().strip())
        if os.stat(token_file).st_mode & 0o077:
            raise Failure(f"the admin token file is readable by others: {oct(os.stat(token_file).st_mode)}")
        try:
            http_json(f"http://127.0.0.1:{port}/api/usage/summary")
            raise Failure("the admin API answered without the token")
        except urllib.error.HTTPError as err:
            if err.code != 401:
                raise Failure(f"the admin API without the token answered {err.code}, not 401")
        summary = wait_for("the usage log", lambda: (s := http_json(f"http://127.0.0.1:{port}/api/usage/summary", token=token))["requests"] >= 3 and s)
        log(f"gateway on {port}: {summary['requests']} requests logged")

        # 2. The tray icon: trayer embeds the app's icon window (XEmbed).
        icons = wait_for("the tray icon in trayer",
                         lambda: (n := tray_descendants(env, tray_window)) > icons_before and n, timeout=30)
        log(f"tray icon embedded (trayer's windows: {icons_before} → {icons})")

        # 3. The dashboard window, showing the gateway's data.
        def dashboard_window():
            # The tray icon's window carries the app's name too; the dashboard is the big one.
            ids = run(["xdotool", "search", "--onlyvisible", "--name", "^Switchyard$"], env).stdout.split()
            return next((w for w in ids if window_geometry(env, w).get("WIDTH", 0) >= 700), None)
        dashboard = wait_for("the dashboard window", dashboard_window, timeout=60)
        geometry = window_geometry(env, dashboard)
        if geometry.get("WIDTH", 0) < 700 or geometry.get("HEIGHT", 0) < 400:
            raise Failure(f"the dashboard window is too small: {geometry}")
        # The page ran: it fetched /api/usage/summary and shows the count and the model.
        requests = summary["requests"]
        try:
            text = wait_for("the dashboard page showing the requests",
                            lambda: (t := page_text(env, dashboard)) and shows_requests(t, requests, "desk-test-model") and t,
                            timeout=30, every=1.0)
        except Failure:
            screenshot(env, "dashboard-window.png", dashboard)
            text = page_text(env, dashboard)
            raise Failure(f"the dashboard window does not show {requests} requests of desk-test-model; "
                          f"its text: {text[:400]!r}")
        # Clear ctrl+a's selection with a click on the empty right end of the page's header bar
        # (not the scrollbar, which would scroll), then move the pointer off the window so no
        # hover shows in the picture.
        run(["xdotool", "mousemove", "--window", dashboard, str(geometry["WIDTH"] - 60), "20", "click", "1"], env)
        run(["xdotool", "mousemove", "1275", "795"], env)
        time.sleep(1.0)
        screenshot(env, "dashboard-window.png", dashboard)
        top = next((line.strip() for line in text.splitlines() if "desk-test-model" in line), "")
        log("dashboard window (%dx%d) shows the gateway's data: Requests today %d, %s"
            % (geometry["WIDTH"], geometry["HEIGHT"], requests, top))

        # 4. The menu: a click on the tray icon.
        time.sleep(6)  # one refresh of the menu with the usage line
        before = screenshot(env, "tray.png")
        geometry = window_geometry(env, tray_window)
        x, y = geometry["X"] + geometry["WIDTH"] - 14, geometry["Y"] + geometry["HEIGHT"] // 2
        opened = None
        for button in ("1", "3"):
            run(["xdotool", "mousemove", str(x), str(y), "click", button], env)
            time.sleep(1.5)
            after = screenshot(env, "tray-menu.png")
            changed = pixels_differ(env, before, after)
            if changed > 2000:
                opened = button
                break
        if opened is None:
            raise Failure("clicking the tray icon opened no menu")
        log(f"menu opened with button {opened} ({changed} pixels changed)")

        # 5. Quit from the menu: Up wraps to the last item.
        run(["xdotool", "key", "Up"], env)
        time.sleep(0.3)
        screenshot(env, "tray-menu-quit.png")
        run(["xdotool", "key", "Return"], env)
        try:
            code = app.wait(timeout=30)
        except subprocess.TimeoutExpired:
            raise Failure("Quit did not end the app within 30 s")
        if code != 0:
            raise Failure(f"the app exited with {code}")
        if not port_is_free(port):
            raise Failure(f"port {port} is still held after Quit")
        log(f"Quit ended the app (exit 0) and freed port {port}")
        log("PASS")
        return 0
    except Failure as err:
        log(f"FAIL: {err}")
        try:
            screenshot(env, "failure.png")
        except Exception:
            pass
        return 1
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
